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
    found = {"xemu": [sys.executable, "-m", "xemu", "run", "--accel", "tcg"]}
    qemu = shutil.which(QEMU[arch])
    if qemu:
        found["qemu-user"] = [qemu]
    if arch in ("x86_64", "i386"):
        found["native"] = []
    return found


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
    print(f"{'arch':<8} {'runner':<10} {'compute s':>10} {'vs qemu':>8} "
          f"{'us/syscall':>11} {'startup s':>10}")
    for arch in options.arch or ARCHS:
        compute = median_times(arch, ["compute", str(COMPUTE_N)], options.repeat)
        empty = median_times(arch, ["syscalls", "0"], options.repeat)
        calls = median_times(arch, ["syscalls", str(SYSCALLS_N)], options.repeat)
        for name in compute:
            ratio = compute[name] / compute["qemu-user"] if "qemu-user" in compute else None
            per_call = (calls[name] - empty[name]) / SYSCALLS_N * 1e6
            print(f"{arch:<8} {name:<10} {compute[name]:>10.2f} "
                  f"{(f'{ratio:.2f}x' if ratio else '-'):>8} {per_call:>11.2f} "
                  f"{empty[name]:>10.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
