"""`python -m fuzz.shim ARGS...` is `python -m xemu ARGS...`, except that a
system call handler's internal error, which xemu answers with EINVAL and one
warning line (linux/syscalls/__init__.py), prints its traceback too: the
warning is given inside the handler's `except` branch, so the exception is
still at hand. Nothing else changes; the fuzzers use it so each failure
comes with its last frame."""
import sys
import traceback

from xemu.linux import process


def main() -> None:
    warn = process.Process.warn

    def warn_with_traceback(self, message: str) -> None:
        if message.startswith("internal error") and message not in self.warned \
                and sys.exc_info()[0] is not None:
            traceback.print_exc()
        warn(self, message)

    process.Process.warn = warn_with_traceback
    from xemu.cli import main as xemu_main
    sys.argv[0] = "xemu"
    xemu_main(prog_name="xemu")


if __name__ == "__main__":
    main()
