"""Time xemu against qemu-user-static (and the host CPU for x86 guests).

    python -m benchmarks [--repeat N] [--arch ARCH ...]

Each measurement alternates the runners and reports the median wall time.
The syscall cost is (time for N calls - time for 0 calls) / N, so start-up
cancels out. Performance targets live here, never in timed unit tests.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ARCHS = ("ppc", "arm", "aarch64", "i386", "x86_64")
QEMU = {"ppc": "qemu-ppc-static", "arm": "qemu-arm-static",
        "aarch64": "qemu-aarch64-static", "i386": "qemu-i386-static",
        "x86_64": "qemu-x86_64-static"}
COMPUTE_N = 100_000_000
SYSCALLS_N = 200_000


def runners(arch: str) -> dict[str, list[str]]:
    xemu = [sys.executable, "-m", "xemu", "run", "--accel"]
    found = {"xemu-tcg": [*xemu, "tcg"]}
    if arch in ("x86_64", "i386") and kvm_works(arch):
        found["xemu-kvm"] = [*xemu, "kvm"]
    qemu = shutil.which(QEMU[arch])
    if qemu:
        found["qemu-user"] = [qemu]
    if arch in ("x86_64", "i386"):
        found["native"] = []
    return found


def kvm_works(arch: str) -> bool:
    sys.path.insert(0, str(HERE.parent))
    from xemu.machine.select import kvm_mode_works, kvm_state
    return kvm_state()[0] and kvm_mode_works(arch)[0]


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def median_times(arch: str, args: list[str], repeat: int) -> dict[str, float]:
    binary = str(HERE / "bin" / arch / "bench")
    samples: dict[str, list[float]] = {name: [] for name in runners(arch)}
    for _ in range(repeat):
        for name, prefix in runners(arch).items():        # alternate runners
            samples[name].append(timed([*prefix, binary, *args]))
    return {name: statistics.median(values) for name, values in samples.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--arch", action="append", choices=ARCHS)
    options = parser.parse_args(argv)
    print("compute: the loop alone (the time of a run that does nothing subtracted)")
    print(f"{'arch':<8} {'runner':<10} {'compute s':>10} {'vs qemu':>8} {'vs native':>9} "
          f"{'us/syscall':>11} {'startup s':>10}")
    for arch in options.arch or ARCHS:
        compute = median_times(arch, ["compute", str(COMPUTE_N)], options.repeat)
        empty = median_times(arch, ["syscalls", "0"], options.repeat)
        calls = median_times(arch, ["syscalls", str(SYSCALLS_N)], options.repeat)
        compute = {name: max(compute[name] - empty[name], 1e-6) for name in compute}
        for name in compute:
            versus = [f"{compute[name] / compute[ref]:.2f}x" if ref in compute else "-"
                      for ref in ("qemu-user", "native")]
            per_call = (calls[name] - empty[name]) / SYSCALLS_N * 1e6
            print(f"{arch:<8} {name:<10} {compute[name]:>10.2f} {versus[0]:>8} "
                  f"{versus[1]:>9} {per_call:>11.2f} {empty[name]:>10.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
