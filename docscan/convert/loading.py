"""What `docscan convert` accepts: a .keras file, a SavedModel directory, or a zoo name."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

from docscan.errors import DocscanError


@dataclass
class Loaded:
    model: object          # keras.Model
    name: str
    kind: str              # keras | savedmodel | zoo
    source: str


def _register_custom_layers():
    # Models that went through our passes and were saved contain these layers.
    import docscan.convert.bn_fold  # noqa: F401
    import docscan.convert.transpose_conv  # noqa: F401


def load(source: str, weights: str | None = None, input_size: tuple[int, int] | None = None) -> Loaded:
    from docscan import zoo

    path = Path(source)
    if path.is_dir():
        if weights:
            raise DocscanError(f"{path}: --weights applies to zoo architectures only")
        return Loaded(_load_savedmodel(path), path.name, "savedmodel", str(path))
    if path.suffix in (".keras", ".h5") or path.exists():
        if weights:
            raise DocscanError(f"{path}: --weights applies to zoo architectures only")
        return Loaded(_load_keras(path), path.name.split(".")[0], "keras", str(path))
    if source in zoo.ARCHITECTURES:
        arch = zoo.ARCHITECTURES[source]
        shape = (*input_size, arch.input_shape[2]) if input_size else None
        model = zoo.build(source, input_shape=shape)
        if weights:
            _load_weights(model, Path(weights))
        return Loaded(model, source, "zoo", f"zoo:{source}" + (f" + {weights}" if weights else ""))
    known = ", ".join(sorted(zoo.ARCHITECTURES))
    raise DocscanError(f"{source}: no such file, directory or zoo architecture (architectures: {known})")


def _load_keras(path: Path):
    import keras

    if not path.exists():
        raise DocscanError(f"{path}: no such file")
    if path.suffix == ".keras" and not zipfile.is_zipfile(path):
        raise DocscanError(f"{path}: not a valid .keras file (not a zip archive: corrupt or truncated)")
    _register_custom_layers()
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as exc:  # noqa: BLE001 - Keras raises many types on bad archives
        raise DocscanError(f"{path}: cannot load Keras model ({_first_line(exc)})") from None
    if not isinstance(model, keras.Model):
        raise DocscanError(f"{path}: does not contain a Keras model")
    return model


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
        raise DocscanError(f"{path}: cannot load SavedModel ({_first_line(exc)})") from None
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
        raise DocscanError(f"{path}: cannot load weights into {model.name} ({_first_line(exc)})") from None


def _first_line(exc) -> str:
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()[:300]
    return type(exc).__name__
