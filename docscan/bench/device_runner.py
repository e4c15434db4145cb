"""Times .tflite models inside a device: python3 + numpy + a TFLite interpreter, nothing else.

This file is copied into emulated ARM root filesystems and run there, so it must not
import docscan, and must run on Debian 12's python3 (3.11) and numpy (1.24). The host
backend imports ``time_models`` from it too, so every device is timed by the same loop.

    python3 device_runner.py SPEC.json   ->   one JSON line on stdout between markers

SPEC: {"models": [{"path", "label", "runs", "warmup", "profile": false}], "threads": 1,
       "xnnpack": true, "seed": 0, "return_outputs": false,
       "litert": {"lib": "PATH/libLiteRt.so", "runtime": "ai-edge-litert 2.3.0 ..."}}
A model with "profile": true is run by LiteRT's own profiler instead (``litert_profiler.py``,
copied beside this file on emulated devices): its result adds "ops" ([runtime name,
delegated, median us] per operator) and "invoke_ms" to "latency_ms" (unprofiled whole runs
of the same compiled model), and says its "runtime". "litert": true times a model through
that same CompiledModel loop, unprofiled (one-op cuts compared with the profiler alike).
Progress goes to stderr as "PROGRESS done total label" lines; in-process callers pass
``progress(label, done, total)`` (docscan's progress convention).

Every interpreter-timed model says which kernels ran: "xnnpack" is "applied (N delegate
partitions)" when the interpreter's node list has DELEGATE nodes after allocate_tensors
(the only delegate this runner uses is the runtime's default XNNPACK one), else
"not applied (why)". The result's "machine" also says what CPU the process sees
("cpu": the first processor's /proc/cpuinfo identity, and how many processors).
"""

import json
import platform
import sys
import time

import numpy as np

BEGIN = "@@DOCSCAN-RESULT-BEGIN@@"
END = "@@DOCSCAN-RESULT-END@@"


def load_interpreter_class():
    """(Interpreter class, op resolver enum or None, runtime label)."""
    try:
        import tflite_runtime
        from tflite_runtime import interpreter as mod
        label = "tflite-runtime " + getattr(tflite_runtime, "__version__", "?")
    except ImportError:
        from ai_edge_litert import interpreter as mod
        label = "ai-edge-litert " + _dist_version("ai-edge-litert")
    return mod.Interpreter, getattr(mod, "OpResolverType", None), label


def _dist_version(name):
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:  # noqa: BLE001 - only a label
        return "?"


def make_input(detail, rng):
    """Deterministic input for one tensor: the same numbers on every device."""
    shape = [int(d) for d in detail["shape"]]
    dtype = np.dtype(detail["dtype"])
    if dtype.kind == "f":
        return rng.rand(*shape).astype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = max(info.min, -128), min(info.max, 127)
        return rng.randint(lo, hi + 1, size=shape).astype(dtype)
    if dtype.kind == "b":
        return rng.randint(0, 2, size=shape).astype(bool)
    raise ValueError("unsupported input dtype %s" % dtype)


def time_one(interpreter_cls, resolver, path, runs, warmup, threads, xnnpack, seed, return_outputs):
    kwargs = {"model_path": path, "num_threads": threads}
    if not xnnpack and resolver is not None:
        kwargs["experimental_op_resolver_type"] = resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interp = interpreter_cls(**kwargs)
    interp.allocate_tensors()
    status = xnnpack_status(interp, xnnpack)
    rng = np.random.RandomState(seed)
    for detail in interp.get_input_details():
        interp.set_tensor(detail["index"], make_input(detail, rng))
    for _ in range(warmup):
        interp.invoke()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        interp.invoke()
        times.append((time.perf_counter() - t0) * 1000.0)
    result = {"latency_ms": times, "xnnpack": status}
    if return_outputs:
        result["outputs"] = [interp.get_tensor(d["index"]).tolist() for d in interp.get_output_details()]
    return result


def xnnpack_status(interp, requested=True):
    """'applied (N delegate partitions)' or 'not applied (why)', for an allocated interpreter."""
    try:
        names = [op.get("op_name", "") for op in interp._get_ops_details()]
    except Exception as exc:  # noqa: BLE001 - a private API; say so rather than guess
        return "unknown (%s)" % type(exc).__name__
    parts = names.count("DELEGATE")
    if parts:
        return "applied (%d delegate partition%s)" % (parts, "" if parts == 1 else "s")
    if not requested:
        return "not applied (XNNPACK off: built-in kernels)"
    if not has_xnnpack(interp):
        return "not applied (this runtime build has no XNNPACK: built-in kernels)"
    try:
        import numpy as np
        fp32 = any(t["dtype"] == np.float32 for t in interp.get_tensor_details())
    except Exception:  # noqa: BLE001
        fp32 = True
    if not fp32:
        return ("not applied (no fp32 tensors: the runtime applies its default XNNPACK delegate "
                "to float models only; built-in kernels, ruy)")
    missing = [n for n in ("possible", "present") if not _readable("/sys/devices/system/cpu/" + n)]
    if missing:
        return ("not applied (cpuinfo cannot read /sys/devices/system/cpu/%s: XNNPACK did not start; "
                "built-in kernels)" % "|".join(missing))
    return "not applied (no DELEGATE node after allocate_tensors; built-in kernels)"


def has_xnnpack(interp):
    """Whether the loaded runtime's wrapper library exports the XNNPACK delegate at all."""
    import ctypes
    mod = sys.modules.get(type(interp).__module__)
    wrapper = getattr(mod, "_interpreter_wrapper", None)
    path = getattr(wrapper, "__file__", None)
    if not path:
        return True     # cannot tell: assume it has
    try:
        return hasattr(ctypes.CDLL(path), "TfLiteXNNPackDelegateCreate")
    except OSError:
        return True


def _readable(path):
    try:
        with open(path) as fh:
            return bool(fh.read().strip())
    except OSError:
        return False


def cpu_seen():
    """What /proc/cpuinfo shows this process: 'ARM 0x41 part 0xd0b r4p1 x1', or the x86 model name."""
    try:
        with open("/proc/cpuinfo") as fh:
            text = fh.read()
    except OSError:
        return "no /proc/cpuinfo"
    fields, count = {}, 0
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "processor":
            count += 1
        if count <= 1 and key and key not in fields:
            fields[key] = value.strip()
    if "CPU part" in fields:
        return "ARM %s part %s r%sp%s x%d" % (fields.get("CPU implementer", "?"), fields["CPU part"],
                                              int(fields.get("CPU variant", "0"), 16), fields.get("CPU revision", "?"),
                                              max(count, 1))
    return "%s x%d (not ARM)" % (fields.get("model name", fields.get("vendor_id", "?")), max(count, 1))


def _litert_profiler():
    try:
        import litert_profiler  # beside this file (emulated devices)
    except ImportError:
        from docscan.bench import litert_profiler
    return litert_profiler


def profile_one(path, runs, warmup, litert, profiled=True):
    """One model through LiteRT's profiler (whole runs alternate with profiled ones), or
    (``profiled`` False) through the same CompiledModel loop unprofiled."""
    lp = _litert_profiler()
    lib = litert.get("lib")
    if profiled:
        result = lp.measure(path, runs, warmup, lib_path=lib)
    else:
        result = {"latency_ms": lp.time_whole(path, runs, warmup, lib_path=lib)}
    result["runtime"] = litert.get("runtime") or lp.runtime_label(lib)
    return result


def time_models(spec, progress=None):
    models = spec["models"]
    loaded = None       # the interpreter is loaded only when a model is timed by it
    runtime = None
    results = []
    for i, m in enumerate(models):
        entry = {"label": m.get("label", m["path"])}
        try:
            if m.get("profile") or m.get("litert"):
                entry.update(profile_one(m["path"], int(m.get("runs", 10)), int(m.get("warmup", 1)),
                                         spec.get("litert") or {}, bool(m.get("profile"))))
                runtime = runtime or entry["runtime"]
            else:
                if loaded is None:
                    loaded = load_interpreter_class()
                    runtime = loaded[2]
                interpreter_cls, resolver, _ = loaded
                entry.update(time_one(interpreter_cls, resolver, m["path"], int(m.get("runs", 10)),
                                      int(m.get("warmup", 1)), int(spec.get("threads", 1)),
                                      bool(spec.get("xnnpack", True)), int(spec.get("seed", 0)),
                                      bool(spec.get("return_outputs", False))))
        except Exception as exc:  # noqa: BLE001 - reported per model; the caller decides
            entry["error"] = ("%s: %s" % (type(exc).__name__, exc)).splitlines()[0][:300]
        results.append(entry)
        if progress:
            progress(entry["label"], i + 1, len(models))
    if runtime is None:
        runtime = load_interpreter_class()[2]
    return {"runtime": runtime, "machine": machine(), "results": results}


def machine():
    return {"machine": platform.machine(), "python": platform.python_version(),
            "numpy": np.__version__, "system": platform.platform(), "cpu": cpu_seen()}


def _stderr_progress(label, done, total):
    sys.stderr.write("PROGRESS %d %d %s\n" % (done, total, label))
    sys.stderr.flush()


def main(argv):
    with open(argv[1]) as fh:
        spec = json.load(fh)
    out = time_models(spec, _stderr_progress)
    sys.stdout.write(BEGIN + json.dumps(out) + END + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
