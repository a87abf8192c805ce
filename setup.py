"""The package's compiled parts, both optional: where they cannot be built
(no C compiler, no static C library) the install goes on without them.

- The TCG accelerator's TLB-fill hook and system call entry
  (xemu/machine/accel/_tcgfast.c), a plain C library that xemu loads with
  ctypes; without it xemu runs its pure-Python path
  (xemu/machine/accel/tcgfast.py).
- The binfmt_misc launcher (xemu/binfmt_launcher.c), a static executable
  installed as xemu/xemu-binfmt-static; without it `xemu binfmt register`
  registers the Python launcher, which cannot run inside a foreign chroot.

Everything else is in pyproject.toml."""
import os

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

LAUNCHER_SOURCE = "xemu/binfmt_launcher.c"
LAUNCHER = "xemu-binfmt-static"


class BuildWithLauncher(build_ext):
    """build_ext, and then the static launcher beside the package's modules."""

    def run(self):
        super().run()
        target = "xemu" if self.inplace else os.path.join(self.build_lib, "xemu")
        try:
            objects = self.compiler.compile([LAUNCHER_SOURCE], output_dir=self.build_temp,
                                            extra_postargs=["-O2"])
            self.compiler.link_executable(objects, LAUNCHER, output_dir=target,
                                          extra_postargs=["-static", "-s"])
        except Exception as error:              # noqa: BLE001 (optional, as the extension)
            print(f"warning: the static binfmt launcher was not built: {error}")


setup(ext_modules=[Extension("xemu.machine.accel._tcgfast",
                             sources=["xemu/machine/accel/_tcgfast.c"],
                             extra_compile_args=["-O2"], optional=True)],
      cmdclass={"build_ext": BuildWithLauncher})
