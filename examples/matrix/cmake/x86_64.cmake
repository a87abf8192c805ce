# Toolchain file: build for x86_64, test through xemu.
set(XEMU_ARCH x86_64)
set(XEMU_TRIPLET x86_64-linux-gnu)
include(${CMAKE_CURRENT_LIST_DIR}/xemu-cross.cmake)
