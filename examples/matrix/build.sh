#!/usr/bin/env bash
# Build the example for every arch (or those named) with CMake or Meson:
#   ./build.sh cmake [ARCH...]   -> build/cmake-ARCH
#   ./build.sh meson [ARCH...]   -> build/meson-ARCH
# XEMU names the xemu the tests run through (default: the one on PATH).
set -euo pipefail
cd "$(dirname "$0")"
tool=${1:?usage: build.sh cmake|meson [ARCH...]}
shift
arches=("$@")
[ ${#arches[@]} -gt 0 ] || arches=(x86_64 i386 arm aarch64 ppc)
XEMU=${XEMU:-$(command -v xemu || true)}
if [ -z "$XEMU" ]; then
    echo "build.sh: no xemu on PATH (install it, or set XEMU=/path/to/xemu)" >&2
    exit 2
fi
export XEMU PATH="$(dirname "$XEMU"):$PATH"     # Meson's exe_wrapper is `xemu` on PATH
for arch in "${arches[@]}"; do
    dir=build/$tool-$arch
    rm -rf "$dir"
    case $tool in
        cmake) cmake -S . -B "$dir" -G Ninja -DCMAKE_TOOLCHAIN_FILE="cmake/$arch.cmake" >/dev/null
               cmake --build "$dir" >/dev/null ;;
        meson) meson setup "$dir" --cross-file "meson/$arch.ini" >/dev/null
               meson compile -C "$dir" >/dev/null ;;
        *) echo "build.sh: unknown tool $tool (cmake or meson)" >&2; exit 2 ;;
    esac
    echo "built $dir"
done
