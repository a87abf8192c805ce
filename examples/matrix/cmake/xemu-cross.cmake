# Shared by the toolchain files: cross-compile for XEMU_ARCH with Debian's
# XEMU_TRIPLET-gcc and run what is built through xemu, its shared libraries
# from Debian's cross packages in /usr/XEMU_TRIPLET (xemu's -L).
# XEMU (environment) names the xemu to use; otherwise it is found on PATH.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ${XEMU_ARCH})
set(CMAKE_C_COMPILER ${XEMU_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${XEMU_TRIPLET}-g++)
set(CMAKE_FIND_ROOT_PATH /usr/${XEMU_TRIPLET})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
if(DEFINED ENV{XEMU})
  set(XEMU_PROGRAM $ENV{XEMU})
else()
  find_program(XEMU_PROGRAM xemu REQUIRED)
endif()
# A list: ctest runs `xemu run --arch ARCH -L SYSROOT -q TEST ARGS...` (the
# host's own arch has its libraries where the host keeps them: no -L)
set(XEMU_SYSROOT_ARGS)
if(EXISTS /usr/${XEMU_TRIPLET})
  set(XEMU_SYSROOT_ARGS -L;/usr/${XEMU_TRIPLET})
endif()
set(CMAKE_CROSSCOMPILING_EMULATOR ${XEMU_PROGRAM};run;--arch;${XEMU_ARCH};${XEMU_SYSROOT_ARGS};-q)
