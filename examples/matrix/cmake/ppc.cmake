# Toolchain file: build for ppc, test through xemu.
set(XEMU_ARCH ppc)
set(XEMU_TRIPLET powerpc-linux-gnu)
include(${CMAKE_CURRENT_LIST_DIR}/xemu-cross.cmake)
