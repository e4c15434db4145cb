"""What `docscan convert` accepts: a .keras file, a SavedModel directory, or a zoo name.

A zoo name without a weights file is built with seeded initial weights (``ZOO_SEED``), so
converting it gives the same model, files and numbers in every run; such weights are
marked untrained (``Loaded.trained``), which parity uses to decide what it can gate on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from docscan.errors import DocscanError
from docscan.keras_file import first_line, load_keras_model

ZOO_SEED = 0


@dataclass
class Loaded:
    model: object          # keras.Model
    name: str
    kind: str              # keras | savedmodel | zoo
    source: str
    trained: bool = True   # False: a zoo build's seeded initial weights (no weights file)


def load(source: str, weights: str | None = None, input_size: tuple[int, int] | None = None) -> Loaded:
    from docscan import zoo

    path = Path(source)
    if path.is_dir():
        if weights:
            raise DocscanError(f"{path}: weights apply to zoo architectures only")
        return Loaded(_load_savedmodel(path), path.name, "savedmodel", str(path))
    if path.suffix in (".keras", ".h5") or path.exists():
        if weights:
            raise DocscanError(f"{path}: weights apply to zoo architectures only")
        return Loaded(load_keras_model(path), path.name.split(".")[0], "keras", str(path))
    if source in zoo.ARCHITECTURES:
        arch = zoo.ARCHITECTURES[source]
        shape = (*input_size, arch.input_shape[2]) if input_size else None
        model = zoo.build(source, input_shape=shape, seed=ZOO_SEED)
        if weights:
            _load_weights(model, Path(weights))
        return Loaded(model, source, "zoo", f"zoo:{source}" + (f" + {weights}" if weights else ""),
                      trained=bool(weights))
    known = ", ".join(sorted(zoo.ARCHITECTURES))
    raise DocscanError(f"{source}: no such file, directory or zoo architecture (architectures: {known})")


def _load_savedmodel(path: Path):
    import keras

    if not (path / "saved_model.pb").exists():
        raise DocscanError(f"{path}: not a SavedModel directory (no saved_model.pb)")
    try:
        import tensorflow as tf

        loaded = tf.saved_model.load(str(path))
        sig = loaded.signatures["serving_default"]
        (spec,) = sig.structured_input_signature[1].values()
        layer = keras.layers.TFSMLayer(str(path), call_endpoint="serving_default")
    except Exception as exc:  # noqa: BLE001
        raise DocscanError(f"{path}: cannot load SavedModel ({first_line(exc)})") from None
    inp = keras.Input(shape=tuple(spec.shape[1:]), name="image")
    out = layer(inp)
    outs = [out[k] for k in sorted(out)] if isinstance(out, dict) else out
    return keras.Model(inp, outs, name=path.name)


def _load_weights(model, path: Path):
    if not path.is_file():
        raise DocscanError(f"{path}: weights file does not exist")
    try:
        model.load_weights(path)
    except Exception as exc:  # noqa: BLE001
        raise DocscanError(f"{path}: cannot load weights into {model.name} ({first_line(exc)})") from None
