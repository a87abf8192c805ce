"""python -m fuzz syscalls|elf ...: see fuzz/__init__.py."""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # the checkout's xemu
from fuzz.failures import Failures  # noqa: E402
from fuzz.sandbox import MEMORY, measure_overhead, sandbox_skip_reason  # noqa: E402

# Peak RSS may exceed --memory plus hello's RSS by this much: Python's heap
# and Unicorn's translation cache grow with what a guest does, not with its
# memory (measured: see README's "Fuzzing")
SLACK = 32 << 20


def arches(text: str) -> list[str]:
    from xemu.archs import NAMES
    return list(NAMES) if text == "all" else text.split(",")


def accelerators(text: str, arch: str) -> list[str]:
    if text != "all":
        return text.split(",")
    from xemu.archs import by_name
    from xemu.machine.select import kvm_usable
    return ["tcg"] + (["kvm"] if kvm_usable(by_name(arch))[0] else [])


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def syscalls_main(options) -> int:
    from fuzz.syscalls import SyscallFuzzer
    failures = Failures()
    fuzzers = []
    for arch in arches(options.arch):
        for accel in accelerators(options.accel, arch):
            overhead = measure_overhead(arch, accel)
            log(f"{arch}/{accel}: overhead (peak RSS of hello) {overhead / 2**20:.1f} MiB; "
                f"limit {MEMORY} + overhead + {SLACK >> 20} MiB")
            fuzzers.append(SyscallFuzzer(arch, accel, options.seed, overhead, SLACK, failures,
                                         options.verbose, log))
    chunks = [(fuzzer, first, min(options.chunk, options.first + options.calls - first))
              for fuzzer in fuzzers
              for first in range(options.first, options.first + options.calls, options.chunk)]
    start = time.monotonic()
    done = threading.Event()

    def progress() -> None:
        while not done.wait(options.progress):
            log("  ".join(f"[{f.arch}/{f.accel} {f.stats.calls} calls, {f.stats.runs} runs]"
                          for f in fuzzers) + f"  {len(failures)} failures, "
                f"{time.monotonic() - start:.0f} s")

    threading.Thread(target=progress, daemon=True).start()
    with ThreadPoolExecutor(options.jobs) as pool:
        for future in [pool.submit(f.fuzz, first, count) for f, first, count in chunks]:
            future.result()
    done.set()
    wall = time.monotonic() - start
    print(f"seed {options.seed}, calls {options.first}..{options.first + options.calls - 1}, "
          f"-j {options.jobs}, {wall:.1f} s")
    for f in fuzzers:
        s = f.stats
        rate = s.calls / s.seconds if s.seconds else 0
        print(f"{f.arch:8} {f.accel}: {s.calls} calls in {s.seconds:.1f} s of runs "
              f"({rate:.0f} calls/s), {s.runs} runs, {s.guest_deaths} ended by the guest, "
              f"{len(s.blocked)} blocked, peak RSS {s.peak_rss / 2**20:.1f} MiB "
              f"(limit {f.limit / 2**20:.1f} MiB)")
        if s.deaths:
            print("   ended by: " + ", ".join(f"{k} x{v}" for k, v in s.deaths.most_common(8)))
        for blocked in s.blocked[:10]:
            print(f"   blocked: {blocked}")
    print(f"{len(failures)} failures in {len(failures.groups)} groups")
    if failures.groups:
        print(failures.report())
    if options.json:
        stats = [{"arch": f.arch, "accel": f.accel, "calls": f.stats.calls,
                  "seconds": f.stats.seconds, "runs": f.stats.runs,
                  "ended_by_guest": dict(f.stats.deaths), "blocked": f.stats.blocked,
                  "peak_rss": f.stats.peak_rss, "limit": f.limit} for f in fuzzers]
        Path(options.json).write_text(json.dumps({"seed": options.seed, "stats": stats,
                                                  "failures": failures.as_json()}, indent=1))
    return 1 if failures.groups else 0


def elf_main(options) -> int:
    from fuzz.elf import ElfFuzzer
    failures = Failures()
    fuzzer = ElfFuzzer(options.seed, failures, arches(options.arch), options.verbose, log)
    start = time.monotonic()
    fuzzer.fuzz(options.first, options.count, options.jobs, options.progress)
    wall = time.monotonic() - start
    print(f"seed {options.seed}, ELFs {options.first}..{options.first + options.count - 1}, "
          f"-j {options.jobs}: {wall:.1f} s ({options.count / wall:.1f} ELFs/s)")
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(fuzzer.outcomes.items())))
    print(f"peak RSS {fuzzer.peak_rss / 2**20:.1f} MiB")
    print(f"{len(failures)} failures in {len(failures.groups)} groups")
    if failures.groups:
        print(failures.report())
    if options.json:
        Path(options.json).write_text(json.dumps(
            {"seed": options.seed, "outcomes": dict(fuzzer.outcomes),
             "peak_rss": fuzzer.peak_rss, "limit": fuzzer.limit,
             "failures": failures.as_json()}, indent=1))
    return 1 if failures.groups else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    calls = commands.add_parser("syscalls", help="seeded random system calls in a guest")
    calls.add_argument("--arch", default="all", help="an arch, a comma list, or all")
    calls.add_argument("--accel", default="all", help="tcg, kvm, tcg,kvm, or all (KVM where "
                                                      "it can run the arch)")
    calls.add_argument("--calls", type=int, default=100_000)
    calls.add_argument("--first", type=int, default=0, help="the first call's index")
    calls.add_argument("--seed", type=int, default=1)
    calls.add_argument("--chunk", type=int, default=10_000,
                       help="calls per task (tasks of all configurations share -j)")
    calls.add_argument("-j", "--jobs", type=int, default=1)
    calls.add_argument("--progress", type=float, default=30, help="seconds between lines")
    calls.add_argument("-v", "--verbose", action="store_true", help="every failure as found")
    calls.add_argument("--json", metavar="FILE", help="also write the results here")
    elf = commands.add_parser("elf", help="mutated ELF images through the real CLI")
    elf.add_argument("--count", type=int, default=10_000)
    elf.add_argument("--first", type=int, default=0, help="the first mutation's index")
    elf.add_argument("--seed", type=int, default=1)
    elf.add_argument("--arch", default="all", help="whose xtest to mutate: a comma list or all")
    elf.add_argument("-j", "--jobs", type=int, default=2)
    elf.add_argument("--progress", type=float, default=30, help="seconds between lines")
    elf.add_argument("-v", "--verbose", action="store_true", help="every failure as found")
    elf.add_argument("--json", metavar="FILE", help="also write the results here")
    options = parser.parse_args(argv)
    why = sandbox_skip_reason()
    if why:
        log(f"fuzz: cannot sandbox runs: {why}")
        return 2
    return syscalls_main(options) if options.command == "syscalls" else elf_main(options)


if __name__ == "__main__":
    sys.exit(main())
