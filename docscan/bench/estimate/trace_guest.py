"""Runs inside the emulated ARM rootfs (Debian's python3 3.11, numpy 1.24, tflite-runtime; no
docscan, but ``device_runner.py`` beside it, so its inputs are the ones every other device is
timed with): each model loaded in turn, a warm-up inference, then a marker, ``invokes``
inferences and a marker, so the block plugin gives each model's timed inferences a segment.

    python3 trace_guest.py SPEC.json

SPEC: {"models": [paths], "threads": N, "invokes": N, "seed": input seed, "delegate":
"xnnpack" | "default" | "none", "mark_fd": ...}. Prints ``DOCSCAN-XNNPACK: <what ran>`` and,
at the end, ``DOCSCAN-TRACE-DONE``.
"""

import ctypes
import glob
import json
import os
import sys

import numpy as np
from device_runner import load_interpreter_class, make_input

Interpreter = load_interpreter_class()[0]
spec = json.load(open(sys.argv[1]))


def mark(i):
    try:
        os.lseek(spec["mark_fd"], i, 0)
    except OSError:
        pass


def xnnpack_all():
    # The XNNPACK delegate with its quantized (QS8/QU8) paths on, as LiteRT applies it by
    # default; tflite-runtime 2.14's default delegate leaves int8 ops to the built-in kernels.
    import tflite_runtime
    try:
        lib = ctypes.CDLL(glob.glob(os.path.join(os.path.dirname(tflite_runtime.__file__),
                                                 "_pywrap_tensorflow_interpreter_wrapper*.so"))[0])
        create, default = lib.TfLiteXNNPackDelegateCreate, lib.TfLiteXNNPackDelegateOptionsDefault
    except (OSError, IndexError, AttributeError):
        return None
    class Opts(ctypes.Structure):
        _fields_ = [("num_threads", ctypes.c_int32), ("flags", ctypes.c_uint32), ("weights_cache", ctypes.c_void_p),
                    ("handle_variable_ops", ctypes.c_bool), ("spare", ctypes.c_uint8 * 64)]
    default.restype = Opts
    create.restype, create.argtypes = ctypes.c_void_p, [ctypes.POINTER(Opts)]
    opts = default()
    opts.flags |= 3                      # TFLITE_XNNPACK_DELEGATE_FLAG_QS8 | _QU8
    opts.num_threads = spec["threads"] if spec["threads"] > 1 else 0
    ptr = create(ctypes.byref(opts))
    if not ptr:
        return None
    class Delegate:
        def _get_native_delegate_pointer(self):
            return ptr
    return Delegate()


def interpreter_args():
    import tflite_runtime.interpreter as tfl
    bare = {"experimental_op_resolver_type": tfl.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}
    if spec["delegate"] == "none":
        return bare
    delegate = xnnpack_all() if spec["delegate"] == "xnnpack" else None
    return {"experimental_delegates": [delegate], **bare} if delegate is not None else {}


args = interpreter_args()
print("DOCSCAN-XNNPACK: " + ("none (built-in kernels only)" if spec["delegate"] == "none" else
                            "fp32 and int8 (QS8/QU8 on)" if args else "the runtime's default"))
for k, path in enumerate(spec["models"]):
    it = Interpreter(model_path=path, num_threads=spec["threads"], **interpreter_args())
    it.allocate_tensors()
    rng = np.random.RandomState(spec["seed"])
    for d in it.get_input_details():
        it.set_tensor(d["index"], make_input(d, rng))
    it.invoke()
    mark(2 * k + 1)
    for _ in range(spec["invokes"]):
        it.invoke()
    mark(2 * k + 2)
    del it
print("DOCSCAN-TRACE-DONE")
