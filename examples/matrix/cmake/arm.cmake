# Toolchain file: build for arm, test through xemu.
set(XEMU_ARCH arm)
set(XEMU_TRIPLET arm-linux-gnueabihf)
include(${CMAKE_CURRENT_LIST_DIR}/xemu-cross.cmake)
