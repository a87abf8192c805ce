# Toolchain file: build for i386, test through xemu.
set(XEMU_ARCH i386)
set(XEMU_TRIPLET i686-linux-gnu)
include(${CMAKE_CURRENT_LIST_DIR}/xemu-cross.cmake)
