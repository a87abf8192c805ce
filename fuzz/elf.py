"""The ELF mutation fuzzer: real binaries (tests/guests/bin/ARCH/xtest)
with their headers, program headers and sizes mutated, each run through the
real CLI (`python -m xemu run`) in a sandbox of its own with a fresh
--rootfs, --memory 64M and --timeout.

Acceptable outcomes: a clean run, the guest's own exit or fault, xemu's
--timeout (status 124: the mutated code spins), or exactly one line
`xemu: error: ...` with status 2. Never status 70, a traceback or "internal
error", a hang past the driver's bound, a change outside the root, or a
peak RSS past --memory plus xemu's overhead.

Mutation i of a seed comes from random.Random("SEED:i") alone, so a
failure replays alone: `python -m fuzz elf --seed S --first I --count 1 -v`.
"""
from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from .failures import Failure, Failures, is_bad, message_key, traceback_key
from .sandbox import (GUESTS, MEMORY, MEMORY_BYTES, Workspace, measure_overhead, run,
                      xemu_command)

TIMEOUT = 5             # xemu's --timeout for one image
BOUND = 60              # the driver's: past it, a hang
SLACK = 32 << 20        # as for the syscall fuzzer (fuzz/__main__.py)

# (name, offset in ELF32, offset in ELF64, size in ELF32, size in ELF64)
HEADER = [("e_ident[EI_CLASS]", 4, 4, 1, 1), ("e_ident[EI_DATA]", 5, 5, 1, 1),
          ("e_ident[EI_VERSION]", 6, 6, 1, 1), ("e_ident[EI_OSABI]", 7, 7, 1, 1),
          ("e_type", 16, 16, 2, 2), ("e_machine", 18, 18, 2, 2), ("e_version", 20, 20, 4, 4),
          ("e_entry", 24, 24, 4, 8), ("e_phoff", 28, 32, 4, 8), ("e_shoff", 32, 40, 4, 8),
          ("e_flags", 36, 48, 4, 4), ("e_ehsize", 40, 52, 2, 2), ("e_phentsize", 42, 54, 2, 2),
          ("e_phnum", 44, 56, 2, 2), ("e_shentsize", 46, 58, 2, 2), ("e_shnum", 48, 60, 2, 2),
          ("e_shstrndx", 50, 62, 2, 2)]
# program header fields: name -> (offset, size) in ELF32 and ELF64
PHDR32 = {"p_type": (0, 4), "p_offset": (4, 4), "p_vaddr": (8, 4), "p_paddr": (12, 4),
          "p_filesz": (16, 4), "p_memsz": (20, 4), "p_flags": (24, 4), "p_align": (28, 4)}
PHDR64 = {"p_type": (0, 4), "p_flags": (4, 4), "p_offset": (8, 8), "p_vaddr": (16, 8),
          "p_paddr": (24, 8), "p_filesz": (32, 8), "p_memsz": (40, 8), "p_align": (48, 8)}
P_TYPES = [0, 1, 2, 3, 4, 6, 7, 0x6474E550, 0x6474E551, 0x6474E552, 0x70000000, 0xFFFFFFFF]


class Image:
    """A binary as mutable bytes, with its class and byte order."""

    def __init__(self, data: bytes) -> None:
        self.data = bytearray(data)
        self.wide = data[4] == 2
        self.order = ">" if data[5] == 2 else "<"
        self.size_on_disk: int | None = None        # a sparse extension, if any

    def get(self, offset: int, size: int) -> int:
        return int.from_bytes(self.data[offset:offset + size],
                              "big" if self.order == ">" else "little")

    def put(self, offset: int, size: int, value: int) -> None:
        if offset < 0 or offset + size > len(self.data):
            return
        value &= (1 << 8 * size) - 1
        self.data[offset:offset + size] = value.to_bytes(size, "big" if self.order == ">"
                                                          else "little")

    def header(self, name: str) -> tuple[int, int]:
        for field_name, off32, off64, size32, size64 in HEADER:
            if field_name == name:
                return (off64, size64) if self.wide else (off32, size32)
        raise KeyError(name)

    def phdrs(self) -> list[int]:
        phoff = self.get(*self.header("e_phoff"))
        phnum = self.get(*self.header("e_phnum"))
        size = 56 if self.wide else 32
        return [phoff + i * size for i in range(min(phnum, 64))
                if phoff + (i + 1) * size <= len(self.data)]


def interesting(r: random.Random, size: int, original: int, wide: bool) -> int:
    bits = 8 * size
    top = (1 << bits) - 1
    page = 0x1000
    kernel = (0xFFFF800000000000 if wide else 0xC0000000) & top
    choices = [0, 1, 2, top, top >> 1, 1 << (bits - 1), page, page - 1, original + 1,
               original - 1, original * 2, original + page, original ^ (1 << r.randrange(bits)),
               r.getrandbits(bits), kernel, top - page + 1, r.randrange(0, 1 << 12) * page,
               0xFFFF0000 & top, 0x7FFFFFFF & top, 0x80000000 & top]
    return r.choice(choices) & top


def mutate(image: Image, r: random.Random) -> list[str]:
    """One to three mutations; what each did."""
    done = []
    for _ in range(r.choice([1, 1, 1, 2, 2, 3])):
        kind = r.choice(["header", "header", "phdr", "phdr", "phdr", "ptype", "truncate",
                         "sparse", "sizes", "bytes"])
        if kind == "header":
            name, *_ = r.choice(HEADER)
            offset, size = image.header(name)
            value = interesting(r, size, image.get(offset, size), image.wide)
            image.put(offset, size, value)
            done.append(f"{name}={value:#x}")
        elif kind in ("phdr", "ptype", "sizes"):
            phdrs = image.phdrs()
            if not phdrs:
                continue
            index = r.randrange(len(phdrs))
            fields = PHDR64 if image.wide else PHDR32
            if kind == "ptype":
                value = r.choice(P_TYPES)
                image.put(phdrs[index], 4, value)
                done.append(f"phdr[{index}].p_type={value:#x}")
                continue
            names = ["p_filesz", "p_memsz", "p_offset"] if kind == "sizes" else list(fields)
            name = r.choice(names)
            offset, size = fields[name]
            value = interesting(r, size, image.get(phdrs[index] + offset, size), image.wide)
            image.put(phdrs[index] + offset, size, value)
            done.append(f"phdr[{index}].{name}={value:#x}")
        elif kind == "truncate":
            length = r.randrange(0, 4096) if r.random() < 0.6 else r.randrange(len(image.data))
            del image.data[length:]
            done.append(f"truncate {length}")
        elif kind == "sparse":          # a hole after the data, up to 4 GiB on disk
            image.size_on_disk = len(image.data) + r.choice([1, 4096, 1 << 20, 1 << 30,
                                                             (1 << 32) - 1])
            done.append(f"sparse to {image.size_on_disk}")
        else:
            count = r.randrange(1, 9)
            limit = min(len(image.data), r.choice([64, 512, 4096, len(image.data)]))
            for _ in range(count if limit else 0):
                image.data[r.randrange(limit)] = r.randrange(256)
            done.append(f"{count} random bytes in the first {limit}")
    return done


def outcome(result, stderr: str) -> tuple[str, str | None]:
    """(what happened, why it is a failure or None)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    others = [line for line in lines if not line.startswith("xemu: warning:")]
    if result.killed:
        return "hang", f"still running after {BOUND} s (--timeout {TIMEOUT})"
    if result.status == 70 or is_bad(stderr):
        return "internal", "status 70 or an internal error"
    if result.status == 2 and any(line.startswith("xemu: error:") for line in others):
        if len(others) != 1:
            return "error", f"an error in {len(others)} lines, not one"
        return "error", None
    if result.status == 0:
        return "clean", None
    if result.status == 124:
        return "timeout", None
    if any("guest killed by" in line for line in lines) or result.signal:
        return "fault", None
    return "exit", None


class ElfFuzzer:
    def __init__(self, seed: int, failures: Failures, arches: list[str], verbose: bool = False,
                 log=print) -> None:
        self.seed = seed
        self.failures = failures
        self.arches = arches
        self.originals = {arch: (GUESTS / arch / "xtest").read_bytes() for arch in arches}
        self.verbose = verbose
        self.log = log
        self.outcomes: Counter = Counter()
        self.peak_rss = 0
        self.lock = threading.Lock()
        self.limit = 0

    def build(self, index: int) -> tuple[str, Image, list[str], bool]:
        r = random.Random(f"{self.seed}:{index}")
        arch = r.choice(self.arches)
        image = Image(self.originals[arch])
        mutations = mutate(image, r)
        return arch, image, mutations, r.random() < 0.25     # give --arch

    def fuzz(self, first: int, count: int, jobs: int, progress: float) -> None:
        overheads = [measure_overhead(arch, "auto") for arch in self.arches]
        self.limit = MEMORY_BYTES + max(overheads) + SLACK
        self.log(f"overhead (peak RSS of hello) {max(overheads) / 2**20:.1f} MiB; limit "
                 f"{self.limit / 2**20:.1f} MiB")
        done = threading.Event()
        start = time.monotonic()

        def report() -> None:
            while not done.wait(progress):
                with self.lock:
                    total = sum(self.outcomes.values())
                self.log(f"[elf {total}/{count}, {len(self.failures)} failures, "
                         f"{time.monotonic() - start:.0f} s]")

        threading.Thread(target=report, daemon=True).start()
        with ThreadPoolExecutor(jobs) as pool:
            for future in [pool.submit(self.one, i) for i in range(first, first + count)]:
                future.result()
        done.set()

    def one(self, index: int) -> None:
        arch, image, mutations, give_arch = self.build(index)
        workspace = Workspace()
        try:
            path = workspace.root / "prog"
            path.write_bytes(image.data)
            if image.size_on_disk:
                os.truncate(path, image.size_on_disk)
            path.chmod(0o755)
            options = ["--arch", arch] if give_arch else []
            arguments = ["run", *options, "--rootfs", str(workspace.root), "--memory", MEMORY,
                         "--timeout", str(TIMEOUT), "/prog", "hello"]
            result = run(xemu_command(*arguments), workspace, deadline=BOUND)
            stderr = result.stderr.decode(errors="replace")
            what, why = outcome(result, stderr)
            where = (f"seed={self.seed} index={index} arch={arch}"
                     f"{' --arch' if give_arch else ''} [{'; '.join(mutations)}]: "
                     f"status {result.status}")
            replay = f"  [replay: python -m fuzz elf --seed {self.seed} --first {index} --count 1 -v]"
            failures = []
            if why:
                details = stderr.splitlines()
                if what == "internal":           # again with -v, for the traceback
                    workspace.fresh_root()
                    path = workspace.root / "prog"
                    path.write_bytes(image.data)
                    if image.size_on_disk:
                        os.truncate(path, image.size_on_disk)
                    path.chmod(0o755)
                    again = run(xemu_command(arguments[0], "-v", *arguments[1:]),
                                workspace, deadline=BOUND)
                    details = again.stderr.decode(errors="replace").splitlines()
                key = traceback_key(details) or message_key(
                    next((line for line in details if is_bad(line) or "error" in line), why))
                failures.append(Failure(what, key, where + replay, details[-40:]))
            escaped = workspace.escapes()
            if escaped:
                failures.append(Failure("escape", "changed outside the root", where + replay,
                                        escaped))
            if result.maxrss > self.limit:
                failures.append(Failure("rss", "peak RSS past --memory + overhead",
                                        where + f" peak {result.maxrss >> 20} MiB" + replay, []))
            with self.lock:
                self.outcomes[what] += 1
                self.peak_rss = max(self.peak_rss, result.maxrss)
                news = [f for f in failures if self.failures.add(f)]
            for failure in (failures if self.verbose else news):
                self.log(f"FAIL {failure.kind}: {failure.key}\n     {failure.reproducer}")
        finally:
            workspace.remove()
