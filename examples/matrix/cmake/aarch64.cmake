# Toolchain file: build for aarch64, test through xemu.
set(XEMU_ARCH aarch64)
set(XEMU_TRIPLET aarch64-linux-gnu)
include(${CMAKE_CURRENT_LIST_DIR}/xemu-cross.cmake)
