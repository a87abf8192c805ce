"""The example project's whole matrix, wall time: `xemu matrix -j N` against
the same runs one after another through qemu-user, in one run.

    python -m benchmarks.matrix [--jobs 2] [--repeat 3] [--json FILE]

Builds examples/matrix with CMake first (./build.sh cmake) if its build
directories are missing. Medians of --repeat runs.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE.parent / "examples" / "matrix"
sys.path.insert(0, str(HERE.parent))
from xemu.archs import all_specs, by_name  # noqa: E402  (the checkout's xemu)
from xemu.matrix.plan import accelerators, from_manifest  # noqa: E402

ARCHS = tuple(spec.name for spec in all_specs())


def qemu_runs() -> list[tuple[list[str], bytes]]:
    """Every test on every arch of the example's manifest (read as xemu
    matrix reads it) as qemu-user commands (-L: the arch's libc from
    Debian's cross packages), with its stdin."""
    tests, _ = from_manifest(str(EXAMPLE / "xemu-matrix.toml"), list(ARCHS))
    runs = []
    for test in tests:
        for arch, program in test.programs.items():
            sysroot = Path("/usr") / by_name(arch).elf.triplet
            prefix = ["-L", str(sysroot)] if sysroot.is_dir() else []
            runs.append(([f"qemu-{arch}-static", *prefix, program, *test.args], test.stdin))
    return runs


def timed(action) -> float:
    start = time.monotonic()
    action()
    return time.monotonic() - start


def one_by_one(runs) -> None:
    for command, stdin in runs:
        subprocess.run(command, input=stdin, capture_output=True, check=False)


def xemu_matrix(jobs: int, accel: str) -> None:
    subprocess.run([sys.executable, "-m", "xemu", "matrix", "xemu-matrix.toml", "-j", str(jobs),
                    "--accel", accel], cwd=EXAMPLE, capture_output=True, check=False,
                   env={"PYTHONPATH": str(HERE.parent), "PATH": "/usr/bin:/bin"})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", metavar="FILE")
    options = parser.parse_args()
    missing = [f"qemu-{arch}-static" for arch in ARCHS if not shutil.which(f"qemu-{arch}-static")]
    if missing:
        print(f"needs {', '.join(missing)}", file=sys.stderr)
        return 2
    if not all((EXAMPLE / "build" / f"cmake-{arch}").is_dir() for arch in ARCHS):
        xemu = Path(sys.executable).parent / "xemu"      # the venv's, beside this Python
        subprocess.run(["./build.sh", "cmake"], cwd=EXAMPLE, check=True,
                       env={**os.environ, "XEMU": str(xemu)} if xemu.exists() else None)
    runs = qemu_runs()
    times: dict[str, list[float]] = {"qemu-user, one by one": [],
                                     f"xemu matrix -j {options.jobs} (TCG only)": [],
                                     f"xemu matrix -j {options.jobs} (KVM and TCG)": []}
    for _ in range(options.repeat):        # alternate, so drift hits all alike
        times["qemu-user, one by one"].append(timed(lambda: one_by_one(runs)))
        times[f"xemu matrix -j {options.jobs} (TCG only)"].append(
            timed(lambda: xemu_matrix(options.jobs, "tcg")))
        times[f"xemu matrix -j {options.jobs} (KVM and TCG)"].append(
            timed(lambda: xemu_matrix(options.jobs, "all")))
    tests = len(runs) // len(ARCHS)
    columns = sum(len(accelerators(arch, "all")) for arch in ARCHS)
    counts = {"qemu-user, one by one": len(runs),
              f"xemu matrix -j {options.jobs} (TCG only)": len(runs),
              f"xemu matrix -j {options.jobs} (KVM and TCG)": tests * columns}
    print(f"{'runner':38} {'runs':>5} {'wall (median)':>14}")
    for name, samples in times.items():
        print(f"{name:38} {counts[name]:5} {statistics.median(samples):13.2f}s")
    if options.json:
        Path(options.json).write_text(json.dumps(
            {name: {"runs": counts[name], "seconds": samples} for name, samples in times.items()},
            indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
