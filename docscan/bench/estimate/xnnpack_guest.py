"""Runs inside the emulated ARM rootfs (Debian's python3 and numpy, no docscan): XNNPACK's
MobileNet v1 / v2 built operator by operator through Debian's ``libXNNPACK.so.0`` (ctypes),
as XNNPACK's own end2end benchmark builds them, and run one operator at a time between
marker system calls, so the block plugin gives each operator its own segment.

    python3 xnnpack_guest.py SPEC.json

SPEC: {"lib": folder holding libXNNPACK.so.0, "models": ["mobilenet_v1", ...], "precision":
"fp32" | "int8", "mark_fd": ..., "runs": N, "size": input side (224; tests use less)}. Prints one JSON line between the markers
DOCSCAN-XNN-BEGIN / -END: per model, per operator: its name, kind and the bytes it streams
(input, weights, output) and the segment id holding its ``runs`` executions.

The weights are constant (timing does not depend on them in these kernels); int8 is QC8
(per-channel int8 weights, int8 activations: TFLite's int8 scheme).
"""

import ctypes
import json
import os
import sys

import numpy as np

BEGIN, END = "DOCSCAN-XNN-BEGIN", "DOCSCAN-XNN-END"    # around the JSON report on stdout
XNN_FLAG_TENSORFLOW_SAME_PADDING = 0x4
XNN_FLAG_DEPTHWISE_CONVOLUTION = 0x1
U32, SZ, F32, I8 = ctypes.c_uint32, ctypes.c_size_t, ctypes.c_float, ctypes.c_int8
P = ctypes.c_void_p

# (kind, kernel, stride, out channels): the network tables of XNNPACK's end2end models
# (Howard et al. 2017; Sandler et al. 2018), 224x224x3 in, ReLU6 everywhere but the
# projections and the classifier.
MOBILENET_V1 = [("conv", 3, 2, 32)] + [
    row for s, c in ((1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512), (1, 512), (1, 512),
                     (1, 512), (1, 512), (1, 512), (2, 1024), (1, 1024))
    for row in (("dw", 3, s, None), ("pw", 1, 1, c))]
# (expansion t, out channels c, repeats n, first stride s)
MOBILENET_V2_BLOCKS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                       (6, 160, 3, 2), (6, 320, 1, 1))


def main():
    spec = json.load(open(sys.argv[1]))
    lib = ctypes.CDLL(os.path.join(spec["lib"], "libXNNPACK.so.0"))
    if lib.xnn_initialize(None) != 0:
        raise SystemExit("xnn_initialize failed (no NEON / unsupported CPU?)")
    mark_fd = spec["mark_fd"]

    def mark(i):
        try:
            os.lseek(mark_fd, i, 0)
        except OSError:
            pass

    report = {}
    for m, name in enumerate(spec["models"]):
        net = Net(lib, spec["precision"])
        (build_v1 if name == "mobilenet_v1" else build_v2)(net, spec.get("size", 224))
        net.run_all()                                   # warm-up: lazy set-up, caches
        ops = []
        for i, op in enumerate(net.ops):
            seg = 2 * (m * 1000 + i) + 2
            mark(seg - 1)
            for _ in range(spec["runs"]):
                if lib.xnn_run_operator(op["ptr"], None) != 0:
                    raise SystemExit(f"{name}: operator {i} ({op['name']}) failed to run")
            mark(seg)
            ops.append({"name": op["name"], "kind": op["kind"], "bytes": op["bytes"], "segment": seg})
        report[name] = ops
    print(BEGIN + json.dumps(report) + END, flush=True)


class Net:
    """Operators in order, with the NHWC buffers they read and write (kept alive here)."""

    def __init__(self, lib, precision):
        self.lib, self.int8 = lib, precision == "int8"
        self.dtype = np.int8 if self.int8 else np.float32
        self.ops, self.keep = [], []

    def tensor(self, h, w, c):
        t = np.ones((1, h, w, c), self.dtype)
        self.keep.append(t)
        return t

    def _op(self, ptr, name, kind, nbytes):
        self.ops.append({"ptr": ptr, "name": name, "kind": kind, "bytes": int(nbytes)})

    def conv(self, x, k, stride, cout, depthwise=False, relu6=True, name=""):
        # int8 ReLU6: output zero point -128, scale 0.05: [0, 6] is [-128, -8]
        _, h, w, cin = x.shape
        ho, wo = -(-h // stride), -(-w // stride)
        groups, gin, gout = (cin, 1, 1) if depthwise else (1, cin, cout)
        cout = cin if depthwise else cout
        y = self.tensor(ho, wo, cout)
        nw = k * k * cin * (1 if depthwise else cout)
        op = P()
        flags = XNN_FLAG_TENSORFLOW_SAME_PADDING | (XNN_FLAG_DEPTHWISE_CONVOLUTION if depthwise else 0)
        geometry = [U32(0)] * 4 + [U32(k), U32(k), U32(stride), U32(stride), U32(1), U32(1), U32(groups),
                                   SZ(gin), SZ(gout), SZ(cin), SZ(cout)]
        if self.int8:
            kernel = np.ones(nw, np.int8)
            bias = np.zeros(cout, np.int32)
            scales = np.full(cout, 0.01, np.float32)
            self.keep += [kernel, bias, scales]
            status = self.lib.xnn_create_convolution2d_nhwc_qc8(
                *geometry, I8(0), F32(0.05), scales.ctypes.data_as(P), kernel.ctypes.data_as(P),
                bias.ctypes.data_as(P), I8(-128), F32(0.05), I8(-128), I8(-8 if relu6 else 127),
                U32(flags), ctypes.byref(op))
            setup = self.lib.xnn_setup_convolution2d_nhwc_qc8
        else:
            kernel = np.full(nw, 0.01, np.float32)
            bias = np.zeros(cout, np.float32)
            self.keep += [kernel, bias]
            lo, hi = (0.0, 6.0) if relu6 else (-np.inf, np.inf)
            status = self.lib.xnn_create_convolution2d_nhwc_f32(
                *geometry, kernel.ctypes.data_as(P), bias.ctypes.data_as(P), F32(lo), F32(hi), U32(flags),
                ctypes.byref(op))
            setup = self.lib.xnn_setup_convolution2d_nhwc_f32
        if status != 0:
            raise SystemExit(f"{name}: xnn_create_convolution2d failed ({status})")
        if setup(op, SZ(1), SZ(h), SZ(w), x.ctypes.data_as(P), y.ctypes.data_as(P), None) != 0:
            raise SystemExit(f"{name}: xnn_setup_convolution2d failed")
        item = x.itemsize
        self._op(op, name, "DEPTHWISE_CONV_2D" if depthwise else "CONV_2D",
                 (x.size + y.size) * item + nw * item + cout * 4)
        return y

    def add(self, a, b, name=""):
        y = self.tensor(*a.shape[1:])
        op = P()
        shape = (SZ * 4)(*a.shape)
        if self.int8:
            status = self.lib.xnn_create_add_nd_qs8(I8(0), F32(0.05), I8(0), F32(0.05), I8(0), F32(0.1),
                                                    I8(-128), I8(127), U32(0), ctypes.byref(op))
            setup = self.lib.xnn_setup_add_nd_qs8
        else:
            status = self.lib.xnn_create_add_nd_f32(F32(-np.inf), F32(np.inf), U32(0), ctypes.byref(op))
            setup = self.lib.xnn_setup_add_nd_f32
        if status != 0 or setup(op, SZ(4), shape, SZ(4), shape, a.ctypes.data_as(P), b.ctypes.data_as(P),
                                y.ctypes.data_as(P), None) != 0:
            raise SystemExit(f"{name}: xnn add failed")
        self.keep.append(shape)
        self._op(op, name, "ADD", 3 * a.size * a.itemsize)
        return y

    def global_pool(self, x, name=""):
        _, h, w, c = x.shape
        y = self.tensor(1, 1, c)
        op = P()
        if self.int8:
            status = self.lib.xnn_create_global_average_pooling_nwc_qs8(
                SZ(c), SZ(c), SZ(c), I8(0), F32(0.05), I8(0), F32(0.05), I8(-128), I8(127), U32(0), ctypes.byref(op))
            setup = self.lib.xnn_setup_global_average_pooling_nwc_qs8
        else:
            status = self.lib.xnn_create_global_average_pooling_nwc_f32(
                SZ(c), SZ(c), SZ(c), F32(-np.inf), F32(np.inf), U32(0), ctypes.byref(op))
            setup = self.lib.xnn_setup_global_average_pooling_nwc_f32
        if status != 0 or setup(op, SZ(1), SZ(h * w), x.ctypes.data_as(P), y.ctypes.data_as(P), None) != 0:
            raise SystemExit(f"{name}: xnn global average pooling failed")
        self._op(op, name, "MEAN", (x.size + y.size) * x.itemsize)
        return y

    def run_all(self):
        for op in self.ops:
            if self.lib.xnn_run_operator(op["ptr"], None) != 0:
                raise SystemExit(f"operator {op['name']} failed to run")


def build_v1(net, size):
    x = net.tensor(size, size, 3)
    for i, (kind, k, s, c) in enumerate(MOBILENET_V1):
        x = net.conv(x, k, s, c, depthwise=kind == "dw", name=f"{i}:{kind}{k}x{k}/{s}")
    x = net.global_pool(x, name="pool")
    net.conv(x, 1, 1, 1001, relu6=False, name="classifier")


def build_v2(net, size):
    x = net.conv(net.tensor(size, size, 3), 3, 2, 32, name="stem")
    cin = 32
    for b, (t, c, n, s) in enumerate(MOBILENET_V2_BLOCKS):
        for r in range(n):
            stride = s if r == 0 else 1
            y = net.conv(x, 1, 1, cin * t, name=f"b{b}.{r}:expand") if t != 1 else x
            y = net.conv(y, 3, stride, None, depthwise=True, name=f"b{b}.{r}:dw/{stride}")
            y = net.conv(y, 1, 1, c, relu6=False, name=f"b{b}.{r}:project")
            x = net.add(x, y, name=f"b{b}.{r}:add") if stride == 1 and cin == c else y
            cin = c
    x = net.conv(x, 1, 1, 1280, name="head")
    x = net.global_pool(x, name="pool")
    net.conv(x, 1, 1, 1001, relu6=False, name="classifier")


if __name__ == "__main__":
    main()
