"""Imported by the speed benchmarks before numpy, OpenCV or TensorFlow: one host thread for
everything measured (the interpreter runs with num_threads=1; OpenCV and any BLAS numpy
calls would otherwise take every core) and no TensorFlow banner."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
