#!/usr/bin/env bash
# Installs the Debian packages docscan uses beyond Python: qemu-user-static and mmdebstrap
# build and run the emulated ARM devices, adb talks to phones, valgrind counts instructions,
# llvm-16 (llvm-mc, llvm-mca) estimates cycles on named ARM cores, the ARM cross compilers
# build docscan's C code for the emulated devices.
set -euo pipefail
need=()
command -v qemu-arm-static >/dev/null || need+=(qemu-user-static)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
command -v arch-test >/dev/null || need+=(arch-test)   # mmdebstrap needs it for foreign arches
command -v adb >/dev/null || need+=(adb)
command -v valgrind >/dev/null || need+=(valgrind)
# docscan.regress: qemu's instruction-counting plugin needs the dynamic qemu-user and a compiler.
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
command -v gcc >/dev/null || need+=(gcc)
command -v pkg-config >/dev/null || need+=(pkg-config)
pkg-config --exists glib-2.0 2>/dev/null || need+=(libglib2.0-dev)
# docscan.bench.pipeline_stages: the quad finder's C code built for the emulated devices
# (the C library headers are only recommended by the compilers, and recommends stay out).
{ command -v arm-linux-gnueabihf-gcc >/dev/null && [ -f /usr/arm-linux-gnueabihf/include/stdint.h ]; } \
    || need+=(gcc-arm-linux-gnueabihf libc6-dev-armhf-cross)
{ command -v aarch64-linux-gnu-gcc >/dev/null && [ -f /usr/aarch64-linux-gnu/include/stdint.h ]; } \
    || need+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
# docscan.bench.estimate (modelled cores, core:CORE/ISA): LLVM 16's llvm-mc and llvm-mca.
command -v llvm-mca-16 >/dev/null || need+=(llvm-16)
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "installing Debian packages: ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
