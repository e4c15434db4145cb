"""A gate's verdict on disk: JSON (``VERDICT_SCHEMA``) with a PNG chart beside it."""

from __future__ import annotations

from pathlib import Path

from docscan.regress.gate import Verdict

VERDICT_SCHEMA = "docscan.regress-verdict/1"


def verdict_dict(v: Verdict, baseline: str | Path) -> dict:
    return {"schema": VERDICT_SCHEMA, "baseline": str(baseline), **v.to_dict()}


def write_verdict(v: Verdict, baseline: str | Path, json_path: str | Path, png: bool = True) -> list[Path]:
    """The verdict as JSON at ``json_path`` and (``png``) its chart beside it; the paths written."""
    from docscan.atomic import write_json

    out = Path(json_path)
    written = [write_json(out, verdict_dict(v, baseline))]
    if png:
        written.append(write_png(v, out.with_suffix(".png")))
    return written


def write_png(v: Verdict, path: str | Path) -> Path:
    """Left: each measurement's change against its threshold; right: the largest per-op changes."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from docscan.atomic import write_figure

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1, 2]})
    ratios = [100 * (a["ratio"] - 1) for a in v.attempts]
    thr = [100 * a["threshold"] for a in v.attempts]
    xs = range(1, len(ratios) + 1)
    a1.bar(xs, ratios, color=["tab:red" if r > t else "tab:green" for r, t in zip(ratios, thr)])
    a1.plot(xs, thr, "k_", ms=30, mew=2, label="threshold")
    a1.axhline(0, color="k", lw=0.7)
    a1.set_xticks(list(xs))
    a1.set_xlabel("measurement (2nd = confirmation)")
    a1.set_ylabel("change vs baseline (%)")
    a1.legend(fontsize=8)
    emu = " - EMULATED" if v.emulated else ""
    a1.set_title(f"{v.status}: {v.mode}{emu}", fontsize=9)
    rows = [r for r in v.op_diff if r["delta"]][:15]
    if rows:
        labels = [f"{r['op_type']} {str(r['name'])[:38]}" for r in rows][::-1]
        vals = [r["delta"] for r in rows][::-1]
        a2.barh(range(len(rows)), vals, color=["tab:red" if x > 0 else "tab:green" for x in vals])
        a2.set_yticks(range(len(rows)))
        a2.set_yticklabels(labels, fontsize=6)
        a2.axvline(0, color="k", lw=0.7)
        a2.set_xlabel("change (" + ("instructions / inference" if v.mode == "instructions" else "ms") + ")")
        a2.set_title("largest per-op / per-kernel changes", fontsize=9)
    else:
        a2.axis("off")
        a2.text(0.5, 0.5, "no per-op changes recorded", ha="center", va="center")
    fig.suptitle(f"{v.model} on {v.device}{emu}", fontsize=10)
    return write_figure(path, fig, dpi=110)
