"""Estimated cycles of a TFLite inference on a named ARM core, without the core.

    trace.py    the real inference (tflite-runtime 2.14, XNNPACK) runs in the emulated
                armv7/aarch64 rootfs under qemu-user with docscan's block plugin
                (``blocks.c``): each translated block's bytes and execution count, per
                marked segment (the whole model, then each one-op cut)
    decode.py   block bytes -> assembly text with llvm-mc (ARM, Thumb-2 or A64 per block)
    mca.py      assembly -> cycles per block with llvm-mca's scheduling model of a core,
                cached by (block bytes, mode, core)
    memory.py   what the caches and DRAM add, per op (a roofline on the op's bytes)
    cores.py    the named cores: llvm-mca CPU, ISAs with a model, clock, memory figures
    estimate.py all of it: cycles and ms per op and for the whole model
    xnnpack_models.py
                the same method on XNNPACK's own MobileNets (Debian's libxnnpack0 for armhf
                and arm64, built op by op in the guest by ``xnnpack_guest.py``): the kernels
                XNNPACK's published Raspberry Pi table ran, in both ISAs

Everything it returns is an *estimate*: the core, the clock and the method travel with it.
"""
