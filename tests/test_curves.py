"""The training curve's legend: one for both axes, under the plot, where no curve runs."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from docscan.train.curves import LEGEND_STRIP, curve_figure, plot_curve  # noqa: E402


def _history(n=40):
    rows = [{"step": s, "loss": 1.0 / (1 + s), "fused_loss": 0.1 / (1 + s), "region_loss": 0.5 / (1 + s)}
            for s in range(0, n * 10, 10)]
    rows += [{"step": s, "dev_f": 0.5 + s / 1000, "dev_region_iou": 0.8} for s in range(0, n * 10, 50)]
    return rows


def test_one_legend_under_both_axes():
    fig = curve_figure(_history())
    fig.tight_layout(rect=LEGEND_STRIP)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    assert [a.get_legend() for a in fig.axes] == [None, None]
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == [
        "total loss (fused + sides + region)", "fused loss", "region loss (BCE)",
        "edge F-score, real dev photos", "region IoU, real dev photos"]
    box = legend.get_window_extent(renderer)
    for ax in fig.axes:   # below every axis, its tick labels and x label included
        assert box.y1 <= ax.get_tightbbox(renderer).y0 + 1
    colours = [line.get_color() for ax in fig.axes for line in ax.get_lines()]
    assert len(set(colours)) == len(colours)   # no two curves share a colour
    plt.close(fig)


def test_plot_curve_writes_a_png(tmp_path):
    plot_curve(_history(), tmp_path / "c.png", "t")
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
