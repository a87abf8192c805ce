# Shared by the toolchain files: cross-compile for XEMU_ARCH with Debian's
# XEMU_TRIPLET-gcc, link statically, and run what is built through xemu.
# XEMU (environment) names the xemu to use; otherwise it is found on PATH.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ${XEMU_ARCH})
set(CMAKE_C_COMPILER ${XEMU_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${XEMU_TRIPLET}-g++)
set(CMAKE_EXE_LINKER_FLAGS_INIT -static)
set(CMAKE_FIND_ROOT_PATH /usr/${XEMU_TRIPLET})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
if(DEFINED ENV{XEMU})
  set(XEMU_PROGRAM $ENV{XEMU})
else()
  find_program(XEMU_PROGRAM xemu REQUIRED)
endif()
# A list: ctest runs `xemu run --arch ARCH -q TEST ARGS...`
set(CMAKE_CROSSCOMPILING_EMULATOR ${XEMU_PROGRAM};run;--arch;${XEMU_ARCH};-q)
