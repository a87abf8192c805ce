"""xemu's performance suite, side by side with qemu-user, the host and
Qiling, in one run:

    python -m benchmarks [--repeat N] [--arch ARCH ...] [--workload W ...]
                         [--json FILE] [--chart FILE.png] [--qiling-python PATH]

Every workload runs under every runner that can run it, alternating runners
within each repetition; the table shows medians. Times are the workload
alone: the median time of a run that does nothing (`noop`) is subtracted, and
shown as start-up. The syscall workload is shown per call. Qiling runs from
an interpreter where it is installed (it pins its own Unicorn), given with
--qiling-python, or this one if it can import qiling. Targets live here, never
in timed unit tests.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from xemu.archs import all_specs, by_name  # noqa: E402  (the checkout's xemu)
from xemu.machine.select import host_arch, kvm_can_run  # noqa: E402

ARCHS = tuple(spec.name for spec in all_specs())
# workload -> argument: about 0.2 s each on this project's machine, natively
WORKLOADS = {"compute": 100_000_000, "memory": 20_000_000, "float": 50_000_000,
             "branchy": 2_000_000, "syscalls": 200_000, "writes": 200_000, "clocks": 200_000,
             "mmaps": 20_000, "spawn": 100,
             "threads": 400_000_000}     # compute's work x 4, over 4 threads
# workload -> (column, unit, heading): a cost per call instead of seconds
PER_CALL = {"syscalls": ("syscall_us", 1e6, "us/getppid"), "writes": ("write_us", 1e6, "us/write"),
            "clocks": ("clock_us", 1e6, "us/clock"), "mmaps": ("mmap_us", 1e6, "us/mmap"),
            "spawn": ("spawn_ms", 1e3, "ms/spawn")}
QEMU = {arch: f"qemu-{arch}-static" for arch in ARCHS}
COLORS = {"xemu-tcg": "C0", "xemu-kvm": "C1", "qemu-user": "C2", "native": "C3",
          "qiling": "C4"}          # a runner keeps its colour across the charts
QILING_SCRIPT = ("import sys\nfrom qiling import Qiling\nfrom qiling.const import QL_VERBOSE\n"
                 "Qiling(sys.argv[2:], rootfs=sys.argv[1], verbose=QL_VERBOSE.DISABLED).run()\n")


def binary(arch: str) -> str:
    return str(HERE / "bin" / arch / "bench")


def native(arch: str) -> bool:
    """Does this host's CPU run the arch's code itself (KVM, natively)?"""
    return kvm_can_run(by_name(arch), host_arch())


def kvm_works(arch: str) -> bool:
    from xemu.machine.select import kvm_mode_works, kvm_state
    return kvm_state()[0] and kvm_mode_works(arch)[0]


def qiling_python(given: str | None) -> str | None:
    candidate = given or sys.executable
    found = subprocess.run([candidate, "-c", "import qiling"], capture_output=True)
    return candidate if found.returncode == 0 else None


def runners(arch: str, qiling: str | None, rootfs: Path) -> dict[str, list[str]]:
    """name -> command prefix; the image path follows."""
    xemu = [sys.executable, "-m", "xemu", "run", "--accel"]
    found = {"xemu-tcg": [*xemu, "tcg"]}
    if native(arch) and kvm_works(arch):
        found["xemu-kvm"] = [*xemu, "kvm"]
    if shutil.which(QEMU[arch]):
        found["qemu-user"] = [QEMU[arch]]
    if native(arch):
        found["native"] = []
    if qiling:
        found["qiling"] = [qiling, "-c", QILING_SCRIPT, str(rootfs)]
    return found


def image_for(name: str, arch: str, rootfs: Path) -> str:
    """Qiling insists that the program lies inside its rootfs."""
    if name != "qiling":
        return binary(arch)
    copy = rootfs / f"bench-{arch}"
    if not copy.exists():
        shutil.copy(binary(arch), copy)
    return str(copy)


def timed(command: list[str]) -> float | None:
    start = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start if done.returncode == 0 else None


def measure(arch: str, repeat: int, workloads: list[str], qiling: str | None,
            rootfs: Path) -> dict:
    """{runner: {workload: median seconds or None if it failed}}, noop included."""
    commands = runners(arch, qiling, rootfs)
    samples: dict = {name: {w: [] for w in ["noop", *workloads]} for name in commands}
    for _ in range(repeat):
        for workload in ["noop", *workloads]:
            argument = str(WORKLOADS.get(workload, 0))
            for name, prefix in commands.items():     # alternate the runners
                seconds = timed([*prefix, image_for(name, arch, rootfs), workload, argument])
                samples[name][workload].append(seconds)
    return {name: {w: (statistics.median(v) if None not in v else None) for w, v in per.items()}
            for name, per in samples.items()}


def derive(raw: dict) -> dict:
    """Workload time without start-up; syscalls in microseconds per call."""
    out = {}
    for name, per in raw.items():
        start = per["noop"]
        row = {"startup_s": start}
        for workload, seconds in per.items():
            if workload == "noop":
                continue
            if seconds is None or start is None:
                row[workload] = None
            elif workload in PER_CALL:
                column, unit, _ = PER_CALL[workload]
                row[column] = (seconds - start) / WORKLOADS[workload] * unit
            else:
                row[workload] = max(seconds - start, 1e-6)
        out[name] = row
    return out


def print_table(results: dict, workloads: list[str]) -> None:
    columns = [w for w in workloads if w not in PER_CALL]
    print(f"{'arch':<8} {'runner':<10}" + "".join(f"{w + ' s':>11}" for w in columns)
          + f"{'vs qemu':>9}{'vs native':>10}"
          + "".join(f"{heading:>11}" for _, _, heading in PER_CALL.values())
          + f"{'startup ms':>11}")
    for arch, rows in results.items():
        for name, row in rows.items():
            cells = "".join(f"{row[w]:>11.3f}" if row.get(w) is not None else f"{'failed':>11}"
                            for w in columns)
            ratios = [ratio(row, rows.get(reference), columns)
                      for reference in ("qemu-user", "native")]
            per_call = [row.get(column) for column, _, _ in PER_CALL.values()]
            startup = row.get("startup_s")
            print(f"{arch:<8} {name:<10}{cells}"
                  + "".join(f"{r:>9.2f}x" if r else f"{'-':>10}" for r in ratios)
                  + "".join(f"{v:>11.2f}" if v is not None else f"{'-':>11}" for v in per_call)
                  + (f"{startup * 1000:>11.0f}" if startup is not None else f"{'-':>11}"))


def ratio(row: dict, reference: dict | None, columns: list[str]) -> float | None:
    """Geometric mean of this runner's times over the reference's."""
    if not reference:
        return None
    pairs = [(row.get(w), reference.get(w)) for w in columns]
    pairs = [(a, b) for a, b in pairs if a and b]
    if not pairs:
        return None
    product = 1.0
    for a, b in pairs:
        product *= a / b
    return product ** (1 / len(pairs))


def chart(results: dict, workloads: list[str], path: str) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("--chart needs matplotlib: pip install 'xemu[bench]'")
    columns = [w for w in workloads if w not in PER_CALL]
    figure, axes = plt.subplots(1, len(results), figsize=(4 * len(results), 4), squeeze=False)
    for axis, (arch, rows) in zip(axes[0], results.items(), strict=True):
        width = 0.8 / max(len(rows), 1)
        for i, (name, row) in enumerate(rows.items()):
            axis.bar([c + i * width for c in range(len(columns))],
                     [row.get(w) or 0 for w in columns], width, label=name,
                     color=COLORS.get(name))
        axis.set_title(arch)
        axis.set_xticks([c + 0.4 - width / 2 for c in range(len(columns))], columns,
                        rotation=30)
        axis.set_ylabel("seconds (workload alone)")
        axis.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def conditions() -> dict:
    """What the numbers were measured with: the engine, the path TCG took
    (with or without its compiled part), the KVM flavour, the machine."""
    import platform
    import unicorn
    from xemu.machine.accel.tcgfast import describe
    from xemu.machine.select import kvm_flavour
    with open("/proc/cpuinfo") as f:
        model = next((line.split(":", 1)[1].strip() for line in f
                      if line.startswith("model name")), platform.processor())
    return {"unicorn": unicorn.__version__, "tcg path": describe(), "kvm": kvm_flavour(),
            "cpu": f"{model}, {os.cpu_count()} CPUs", "python": platform.python_version(),
            "kernel": platform.release()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--arch", action="append", choices=ARCHS)
    parser.add_argument("--workload", action="append", choices=list(WORKLOADS))
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--chart", metavar="FILE")
    parser.add_argument("--qiling-python", metavar="PATH")
    options = parser.parse_args(argv)
    workloads = options.workload or list(WORKLOADS)
    qiling = qiling_python(options.qiling_python)
    results = {}
    with tempfile.TemporaryDirectory(prefix="xemu-bench-rootfs-") as rootfs:
        for arch in options.arch or ARCHS:
            results[arch] = derive(measure(arch, options.repeat, workloads, qiling,
                                           Path(rootfs)))
    print_table(results, workloads)
    if not qiling:
        print("(Qiling: not installed here; give --qiling-python to include it)")
    setting = conditions()
    for name, value in setting.items():
        print(f"{name}: {value}")
    if options.json:
        Path(options.json).write_text(json.dumps({"conditions": setting, **results},
                                                 indent=2) + "\n")
    if options.chart:
        chart(results, workloads, options.chart)
    return 0


if __name__ == "__main__":
    sys.exit(main())
