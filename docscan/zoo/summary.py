"""The zoo as data: every architecture built at its default input shape and counted.

``summarize`` is what `docscan models` shows; nothing is cached, so the numbers are always
what the code builds.
"""

from __future__ import annotations

from docscan.errors import DocscanError
from docscan.progress import Progress, silent


def summarize(names=None, progress: Progress = silent) -> list[dict]:
    """One dict per architecture (all, or ``names`` in that order): family, input shape,
    knobs, parameters (trainable / not), MACs, float32 size, output shapes, provenance
    and ``layers`` (a ``docscan.macs.LayerCount`` per layer)."""
    import keras

    from docscan.macs import count
    from docscan.zoo import ARCHITECTURES, build

    names = list(names) if names else list(ARCHITECTURES)
    unknown = [n for n in names if n not in ARCHITECTURES]
    if unknown:
        raise DocscanError(f"unknown architecture '{unknown[0]}' (known: {', '.join(sorted(ARCHITECTURES))})")
    rows = []
    for i, name in enumerate(names):
        progress(f"counting {name}", done=i, total=len(names))
        arch = ARCHITECTURES[name]
        model = build(name)
        c = count(model)
        rows.append({
            "name": name,
            "family": arch.family,
            "input_shape": list(arch.input_shape),
            "knobs": dict(arch.knobs),
            "params": c.params,
            "trainable_params": c.trainable_params,
            "non_trainable_params": c.non_trainable_params,
            "macs": c.macs,
            "float32_bytes": c.float32_bytes,
            "float32_mb": round(c.float32_bytes / 1e6, 3),
            "outputs": [list(t.shape[1:]) for t in model.outputs],
            "source": arch.source,
            "reference": arch.reference,
            "layers": c.layers,
        })
        del model
        keras.backend.clear_session()   # keep layer names and memory from piling up
    progress("counted", done=len(names), total=len(names))
    return rows
