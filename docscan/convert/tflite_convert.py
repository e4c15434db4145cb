"""Keras model -> .tflite bytes for one variant, with static shapes.

The model is traced as a ``tf.function`` with a fixed (1, H, W, C) input and its
variables frozen to constants before conversion. Two things follow from that:

* no SHAPE / STRIDED_SLICE / PACK ops: Keras 3's Conv2DTranspose computes its output
  shape from ``tf.shape(x)``, which a dynamic batch keeps in the graph (``from_keras_model``
  emits those three ops for every transposed conv); with a static input they fold away;
* no VAR_HANDLE / READ_VARIABLE ops and BN statistics as constants, so the converter can
  fold arithmetic on weights (converting an unfrozen concrete function keeps BN as
  SUB/RSQRT/MUL/ADD on variables).

Variants: fp32, fp16 (float16 weights, float compute), dynamic-int8 (int8 weights, float
activations), int8 (full integer with a calibration set; int8 or uint8 input/output).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import numpy as np

from docscan.errors import DocscanError
from docscan.keras_file import first_line

VARIANTS = ("fp32", "fp16", "dynamic-int8", "int8")
IO_DTYPES = ("int8", "uint8")


def input_spec(model) -> tuple[int | None, int | None, int]:
    if getattr(model, "inputs", None) is None:     # subclassed: shape known only from --input-size
        return None, None, 3
    if len(model.inputs) != 1:
        raise DocscanError(f"{model.name}: expected one image input, the model has {len(model.inputs)}")
    shape = tuple(model.inputs[0].shape)
    if len(shape) != 4:
        raise DocscanError(f"{model.name}: expected an image input (batch, H, W, C), got shape {shape}")
    return shape[1], shape[2], shape[3]


def resolve_size(model, input_size: tuple[int, int] | None) -> tuple[int, int, int]:
    """(H, W, C) to convert at: ``input_size`` where given, else the model's own fixed size."""
    h, w, c = input_spec(model)
    if input_size is not None:
        return int(input_size[0]), int(input_size[1]), int(c)
    if h is None or w is None:
        raise DocscanError(f"{model.name}: input size is not fixed in the model; give one (H, W) to convert at")
    return int(h), int(w), int(c)


def with_input_size(model, size: tuple[int, int, int]):
    """The same model on a fixed (H, W, C) input, same layers and weights; a no-op when already so.

    The graph is re-run layer by layer on the new input (not wrapped as a nested model), so
    the passes still see every layer.
    """
    import keras

    h, w, c = input_spec(model)
    if (h, w, c) == tuple(size):
        return model
    new_input = keras.Input(shape=tuple(size), name=model.inputs[0].name)
    try:
        return keras.models.clone_model(model, input_tensors=new_input, clone_function=lambda layer: layer)
    except Exception as exc:  # noqa: BLE001 - Keras raises many types for shape mismatches
        raise DocscanError(f"{model.name}: cannot run at input {size[0]}x{size[1]} ({first_line(exc)})") from None


def frozen_function(model, size: tuple[int, int, int]):
    """The model as a frozen concrete function on a (1, H, W, C) float32 input; outputs in model order."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    spec = tf.TensorSpec((1, *size), tf.float32, name="image")

    @tf.function(input_signature=[spec], autograph=False)   # straight-line graph; no AutoGraph noise
    def serve(x):
        out = model(x, training=False)
        return list(out) if isinstance(out, (list, tuple)) else [out]

    try:
        return convert_variables_to_constants_v2(serve.get_concrete_function())
    except Exception as exc:  # noqa: BLE001
        raise DocscanError(f"{model.name}: cannot trace the model at {size} ({first_line(exc)})") from None


def output_names(model, count: int | None = None) -> list[str]:
    outputs = getattr(model, "outputs", None)
    if outputs is None:
        return [f"output_{i}" for i in range(count or 1)]
    names = getattr(model, "output_names", None)
    if names and len(names) == len(outputs):
        return list(names)
    return [t._keras_history.operation.name for t in outputs]


def convert(model, variant: str, size: tuple[int, int, int], *,
            calibration: Callable[[], Iterable[np.ndarray]] | None = None,
            io_dtype: str = "int8") -> bytes:
    """Convert ``model`` at input ``size`` (H, W, C) to one .tflite variant.

    ``calibration`` returns an iterable of float32 (H, W, C) images for full int8.
    """
    import tensorflow as tf

    if variant not in VARIANTS:
        raise DocscanError(f"unknown variant '{variant}' (choose from {', '.join(VARIANTS)}, all)")
    if io_dtype not in IO_DTYPES:
        raise DocscanError(f"unknown input/output type '{io_dtype}' (choose int8 or uint8)")
    fn = frozen_function(model, size)
    conv = tf.lite.TFLiteConverter.from_concrete_functions([fn])
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if variant == "fp16":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_types = [tf.float16]
    elif variant == "dynamic-int8":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    elif variant == "int8":
        if calibration is None:
            raise DocscanError("int8 needs a calibration set")
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8 if io_dtype == "int8" else tf.uint8
        conv.inference_output_type = conv.inference_input_type

        def representative():
            for img in calibration():
                yield [np.asarray(img, np.float32)[None]]

        conv.representative_dataset = representative
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")       # "Statistics for quantized inputs ..." noise
            return bytes(conv.convert())
    except DocscanError:
        raise
    except Exception as exc:  # noqa: BLE001 - the converter raises ConverterError, RuntimeError, ...
        raise DocscanError(f"{model.name}: the TFLite converter cannot handle this model: {_converter_reason(exc)}") from None


def _converter_reason(exc) -> str:
    text = str(exc)
    ops = sorted(set(re.findall(r"'tf\.(\w+)' op is neither a custom op nor a flex op", text)))
    if ops:
        return f"TensorFlow op(s) {', '.join(ops)} have no TFLite builtin kernel"
    ops = sorted(set(re.findall(r"'tf\.(\w+)' op", text)))
    if ops:
        return f"unsupported TensorFlow op(s) {', '.join(ops)}"
    return first_line(exc)
