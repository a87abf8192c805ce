"""The command line: parse, call, exit. No emulation logic lives here."""
from __future__ import annotations

import math
import os
import sys

import click

from . import __version__
from .errors import EXIT_INTERNAL, XemuError, one_line


class XemuGroup(click.Group):
    """Runs a command and turns every failure into one line and a status."""

    def main(self, *args, **kwargs):
        """Click's own errors (bad options) as one line too, status 2."""
        try:
            status = super().main(*args, standalone_mode=False, **kwargs)
        except click.ClickException as e:
            click.echo(f"xemu: error: {one_line(e.format_message())}", err=True)
            sys.exit(e.exit_code)
        except click.Abort:
            click.echo("xemu: interrupted", err=True)
            sys.exit(130)
        sys.exit(status or 0)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except XemuError as e:
            click.echo(f"xemu: error: {one_line(str(e))}", err=True)
            sys.exit(e.exit_status)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            click.echo("xemu: interrupted", err=True)
            sys.exit(130)
        except Exception as e:  # a bug of ours: say so, briefly
            if ctx.meta.get("verbose"):
                import traceback
                traceback.print_exc()
            else:
                click.echo(f"xemu: internal error: {type(e).__name__}: {one_line(str(e))} "
                           "(run with -v for the traceback)", err=True)
            sys.exit(EXIT_INTERNAL)


@click.group(cls=XemuGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="xemu")
def main() -> None:
    """xemu runs programs built for one instruction set on a machine of another."""


def parse_env(settings: tuple[str, ...], unsets: tuple[str, ...]) -> dict[str, str]:
    env = dict(os.environ)
    for setting in settings:
        name, sep, value = setting.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"'{setting}' is not VAR=VALUE", param_hint="-E")
        env[name] = value
    for name in unsets:
        env.pop(name, None)
    return env


SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
MAX_MEMORY = 1 << 48          # the largest user address space of any arch here


def parse_size(text: str | None) -> int | None:
    """'256M' -> bytes (K, M, G are powers of 1024; a plain number is bytes)."""
    if text is None:
        return None
    number, unit = text.strip().upper().rstrip("IB") or "0", ""
    if number[-1:] in SIZE_UNITS and number[-1:]:
        number, unit = number[:-1], number[-1]
    try:
        value = float(number) * SIZE_UNITS[unit]
    except ValueError:
        value = math.nan
    if not math.isfinite(value):                  # nan, inf, 1e400M
        raise click.BadParameter(f"'{text}' is not a size such as 512M or 2G")
    size = int(value)
    if size < 1 << 20:
        raise click.BadParameter(f"'{text}' is less than the 1M a guest needs at least")
    if size > MAX_MEMORY:
        raise click.BadParameter(f"'{text}' is more than the {MAX_MEMORY >> 40}T "
                                 "xemu can give a guest")
    return size


MAX_TIMEOUT = 1e9             # seconds (31 years): what the host's interval timer takes


def parse_timeout(text: str | None) -> float | None:
    """'2.5' -> seconds: finite, above 0, at most MAX_TIMEOUT."""
    if text is None:
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise click.BadParameter(f"'{text}' is not a finite number of seconds above 0")
    if seconds > MAX_TIMEOUT:
        raise click.BadParameter(f"'{text}' is more than {MAX_TIMEOUT:g} seconds")
    return seconds


@main.command(context_settings={"ignore_unknown_options": True,
                                "allow_interspersed_args": False})
@click.option("--arch", metavar="ARCH",
              help="Guest arch (x86_64, i386, arm, aarch64, ppc, or an alias); "
                   "must agree with the image.")
@click.option("--accel", type=click.Choice(["auto", "tcg", "kvm"]), default="auto",
              show_default=True, help="KVM for guests of the host's arch, else TCG.")
@click.option("-E", "env_set", multiple=True, metavar="VAR=VALUE",
              help="Set a variable in the guest environment (repeatable).")
@click.option("-U", "env_unset", multiple=True, metavar="VAR",
              help="Remove a variable from the guest environment (repeatable).")
@click.option("--timeout", metavar="SECONDS", callback=lambda c, p, v: parse_timeout(v),
              help="Stop the guest after SECONDS of wall time (status 124).")
@click.option("--memory", "memory_size", metavar="SIZE", callback=lambda c, p, v: parse_size(v),
              help="Cap guest memory, e.g. 256M or 2G (default: half the host's RAM); "
                   "past it mmap and brk fail with ENOMEM.")
@click.option("--machine", type=click.Choice(["user", "virt", "pc"]),
              help="user: a Linux program (the default for ELF); virt or pc: a "
                   "bare-metal board (the default for raw images).")
@click.option("--load", type=lambda v: int(v, 0), metavar="ADDR",
              help="Where a raw image goes (default: the board's RAM base; 0x7c00 on pc).")
@click.option("--entry", type=lambda v: int(v, 0), metavar="ADDR",
              help="Where a raw image starts (default: the load address).")
@click.option("--rootfs", metavar="DIR",
              help="The guest's file system is DIR: every path, symlink and .. "
                   "resolves inside it, IMAGE's too (as chroot).")
@click.option("-0", "--argv0", metavar="ARGV0", envvar="XEMU_ARGV0",
              help="The guest's argv[0] (default: IMAGE as given; qemu-user's -0).")
@click.option("--exec-fd", type=int, hidden=True,
              help="The program is this open descriptor (binfmt_misc's flag O); IMAGE "
                   "only names it.")
@click.option("-L", "--sysroot", metavar="DIR", envvar="XEMU_LD_PREFIX",
              help="Where a dynamically linked program's loader and libraries are "
                   "(qemu-user's -L; env XEMU_LD_PREFIX): an absolute path names DIR/path "
                   "when that exists, the host's path otherwise. Default: Debian's "
                   "/usr/<triplet> when the loader is there.")
@click.option("--strace", is_flag=True,
              help="Print each system call, its arguments and result on stderr.")
@click.option("--trace", "trace", metavar="FILE",
              help="Write each executed block (or instruction) with its disassembly to "
                   "FILE ('-': stderr). Needs TCG.")
@click.option("--trace-mode", type=click.Choice(["block", "insn"]), default="block",
              show_default=True, help="A line per translation block, or per instruction.")
@click.option("--trace-exits", is_flag=True,
              help="Under KVM, a line on stderr for each VM exit: the system call, the "
                   "exception, the port (what the guest needed xemu for).")
@click.option("--stats", is_flag=True,
              help="At the end, a summary on stderr: wall time, blocks and instructions "
                   "(TCG), VM exits (KVM), system calls, peak memory. Counting blocks "
                   "slows a TCG run.")
@click.option("--stats-json", metavar="FILE", help="The same summary as JSON in FILE.")
@click.option("-g", "--gdb", "gdb_port", type=click.IntRange(0, 65535), metavar="PORT",
              help="Wait for gdb on localhost:PORT before the first instruction "
                   "(target remote :PORT).")
@click.option("-v", "--verbose", is_flag=True, help="Say what xemu chose and why; "
              "show tracebacks of internal errors.")
@click.option("-q", "--quiet", is_flag=True, envvar="XEMU_QUIET",
              help="No warnings (e.g. unsupported syscalls); env XEMU_QUIET=1, for test "
                   "runners that compare stderr.")
@click.argument("image", type=click.Path(dir_okay=False, readable=False))
@click.argument("guest_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def run(ctx: click.Context, arch, accel, env_set, env_unset, timeout, memory_size, machine,
        load, entry, rootfs, argv0, exec_fd, sysroot, strace, trace, trace_mode, trace_exits,
        stats, stats_json, gdb_port, verbose, quiet, image, guest_args) -> None:
    """Run IMAGE; everything after IMAGE is passed to the guest untouched."""
    from .machine.accel.base import Fault
    from .run import RunRequest, run as run_image
    from .run.drive import end_by_signal, end_forked_child
    ctx.find_root().meta["verbose"] = verbose
    result = run_image(RunRequest(image=image, args=list(guest_args), arch=arch,
                                  accel=accel, env=parse_env(env_set, env_unset),
                                  quiet=quiet, verbose=verbose, timeout=timeout,
                                  memory=memory_size, rootfs=rootfs, sysroot=sysroot, argv0=argv0,
                                  exec_fd=exec_fd, machine=machine,
                                  load=load, entry=entry, strace=strace,
                                  gdb=gdb_port, trace=trace, trace_mode=trace_mode,
                                  trace_exits=trace_exits,
                                  stats=stats, stats_json=stats_json))
    if result.forked_child:
        end_forked_child(result.status)
    if isinstance(result.stop, Fault) and result.process is not None:
        # Killed by a signal: end by the same one, as the guest would have,
        # so the parent's wait sees WIFSIGNALED (no core dump of xemu).
        end_by_signal(result.stop.signal)
    sys.exit(result.status)


class DefaultRun(click.Group):
    """`xemu matrix ARGS` is `xemu matrix run ARGS` unless ARGS names another
    subcommand (merge)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("-h", "--help")):
            args = ["run", *args]
        return super().parse_args(ctx, args)


def parse_shard(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    index, sep, count = text.partition("/")
    if not sep or not index.isdigit() or not count.isdigit() or \
            not 1 <= int(index) <= int(count):
        raise click.BadParameter(f"'{text}' is not K/N with 1 <= K <= N", param_hint="--shard")
    return int(index), int(count)


REPORT_OPTIONS = [
    click.option("--json", "json_path", metavar="FILE", help="Write every result as JSON."),
    click.option("--junit", "junit_path", metavar="FILE",
                 help="Write JUnit XML (GitLab, Jenkins and GitHub test reports read it)."),
]


def report_options(command):
    for option in reversed(REPORT_OPTIONS):
        command = option(command)
    return command


@main.group(cls=DefaultRun)
def matrix() -> None:
    """Run a project's tests built for every arch, and compare (run, merge)."""


@matrix.command("run")
@click.argument("inputs", nargs=-1, required=True)
@click.option("--arch", "arches", multiple=True, metavar="ARCH",
              help="Only this arch (repeatable; default: all five).")
@click.option("--accel", type=click.Choice(["all", "tcg", "kvm"]), default="all",
              show_default=True,
              help="all: every usable accelerator (x86 under KVM and under TCG).")
@click.option("-j", "--jobs", type=click.IntRange(1, 256), default=os.cpu_count() or 1,
              show_default="the number of CPUs", help="Runs at once.")
@click.option("--timeout", metavar="SECONDS", callback=lambda c, p, v: parse_timeout(v),
              help="Each run's wall-time limit (default: the manifest's, else 60).")
@click.option("--memory", metavar="SIZE",
              callback=lambda c, p, v: v if v is None else (parse_size(v), v)[1],
              help="Each run's guest memory cap (default: the manifest's, else 1G).")
@click.option("--reference", metavar="ARCH",
              help="Compare every run with this arch's (the host's own arch runs natively).")
@click.option("--stderr", "with_stderr", is_flag=True, help="Compare stderr too.")
@click.option("-a", "--arg", "args", multiple=True, metavar="ARG",
              help="An argument for every program of a pattern or file list (repeatable).")
@click.option("--shard", metavar="K/N", callback=lambda c, p, v: parse_shard(v),
              help="Run only the K-th of N deterministic parts (for a CI matrix).")
@report_options
def matrix_run(inputs, arches, accel, jobs, timeout, memory, reference, with_stderr, args,
               shard, json_path, junit_path) -> None:
    """Run INPUTS on every arch and accelerator: a manifest (.toml), a pattern
    such as 'build-{arch}/tests/*', or program files (their ELF headers say
    the arch). Exit status 0 only if every run passed."""
    from .archs import NAMES, by_name
    from .matrix import Options, run as run_matrix
    from .matrix.report import console
    chosen = [by_name(name).name for name in arches] or list(NAMES)
    if reference:
        reference = by_name(reference).name
    options = Options(list(inputs), chosen, accel, jobs, timeout, memory, reference,
                      with_stderr, json_path, junit_path, shard, tuple(args))
    sys.exit(run_matrix(options, console()))


@matrix.command("merge")
@click.argument("reports", nargs=-1, required=True, type=click.Path(dir_okay=False))
@report_options
def matrix_merge(reports, json_path, junit_path) -> None:
    """Join the JSON reports of shards into one table (and JSON, JUnit)."""
    from .matrix import merge
    from .matrix.report import console
    sys.exit(merge(list(reports), json_path, junit_path, console()))


@main.group(invoke_without_command=True)
@click.pass_context
def lab(ctx: click.Context) -> None:
    """Teaching labs: what TCG, KVM and accel= mean, shown live (lab run NAME)."""
    if ctx.invoked_subcommand is None:
        from .labs import LABS
        for name, lab_module in LABS.items():
            titles = lab_module.TITLE
            click.echo(f"{name:12} {titles['en']}\n{'':12} {titles['vi']}")
        click.echo("\nxemu lab run NAME [--lang vi]   or   xemu lab run --all")


@lab.command("run")
@click.argument("names", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Run every lab, in order.")
@click.option("--lang", type=click.Choice(["en", "vi"]), default="en", show_default=True,
              help="The language the lab speaks (its sheet: docs/labs/LANG/NAME.md).")
@click.option("--json", "json_path", metavar="FILE",
              help="Write what each lab observed (numbers included) as JSON.")
@click.option("--chart", "chart_path", metavar="FILE.png",
              help="The together lab's times as a bar chart (needs pip install 'xemu[bench]').")
def lab_run(names, every, lang, json_path, chart_path) -> None:
    """Run the labs named (see `xemu lab`), or --all."""
    import json

    from .labs import NAMES, run as run_lab
    if every:
        names = NAMES
    if not names:
        raise click.UsageError("name a lab (see `xemu lab`) or give --all")
    unknown = [name for name in names if name not in NAMES]
    if unknown:
        raise click.BadParameter(f"no lab named {unknown[0]!r} (choose from "
                                 f"{', '.join(NAMES)})", param_hint="NAME")
    if chart_path and "together" not in names:
        raise click.UsageError("--chart draws the together lab: run it too")
    if chart_path:
        try:
            import matplotlib  # noqa: F401  (before minutes of runs, not after)
        except ImportError:
            raise XemuError("--chart needs matplotlib: pip install 'xemu[bench]'") from None
    observed = {name: run_lab(name, lang) for name in names}
    if chart_path:
        from .labs.together import chart
        chart(observed["together"], chart_path, lang)
    if json_path:
        with open(json_path, "w") as f:
            json.dump(observed, f, indent=1)


@lab.command("guest")
@click.argument("arch")
def lab_guest(arch) -> None:
    """Print where the labs' guest for ARCH is (to run it by hand)."""
    from .archs import by_name
    from .labs.common import guest
    click.echo(guest(by_name(arch).name))


@main.group()
def binfmt() -> None:
    """Run foreign programs by their own name, through the kernel's binfmt_misc."""


ARCH_CHOICE = click.option("--arch", "arches", multiple=True, metavar="ARCH",
                           help="Only this arch (repeatable; default: every arch this "
                                "host's kernel cannot run itself).")


def _chosen(arches: tuple[str, ...]):
    from .archs import by_name
    from .binfmt import foreign_specs
    foreign = foreign_specs()
    if not arches:
        return foreign
    chosen = [by_name(name) for name in arches]
    for spec in chosen:
        if spec not in foreign:
            raise XemuError(f"{spec.name} programs run on this host's own kernel; "
                            "binfmt_misc is for foreign ones")
    return chosen


@binfmt.command("register")
@ARCH_CHOICE
@click.option("--persistent", is_flag=True,
              help="Open the launcher now (flag F): it keeps working in containers, "
                   "mount namespaces and chroots (with `xemu binfmt serve`) where its "
                   "path is not visible.")
@click.option("--export", "export_dir", metavar="DIR",
              help="Write DIR/xemu-ARCH.conf for systemd-binfmt instead of registering.")
def binfmt_register(arches, persistent, export_dir) -> None:
    """Register xemu for foreign ELF programs (needs root or a user namespace)."""
    from . import binfmt as binfmt_misc
    specs = _chosen(arches)
    if export_dir:
        for path in binfmt_misc.export(specs, export_dir, persistent):
            click.echo(f"wrote {path}")
        return
    for entry in binfmt_misc.register(specs, persistent):
        click.echo(f"registered {entry.name}: {entry.interpreter} (flags {entry.flags})")


@binfmt.command("unregister")
@ARCH_CHOICE
def binfmt_unregister(arches) -> None:
    """Remove xemu's binfmt_misc entries."""
    from . import binfmt as binfmt_misc
    removed = binfmt_misc.unregister(_chosen(arches))
    click.echo("\n".join(f"removed {name}" for name in removed) or "nothing to remove")


@binfmt.command("status")
def binfmt_status() -> None:
    """Which foreign arches the kernel sends to xemu."""
    from . import binfmt as binfmt_misc
    for arch, state in binfmt_misc.status():
        click.echo(f"{arch:<8} {state}")


@binfmt.command("serve")
def binfmt_serve() -> None:
    """Let programs in a foreign chroot run through binfmt_misc (run it
    outside the chroot, and register with --persistent)."""
    from . import binfmt as binfmt_misc
    binfmt_misc.serve(lambda name: click.echo(f"serving the root on @{name}; "
                                              "Ctrl-C ends it", err=True))


@main.command()
def info() -> None:
    """This host: its arch, KVM's state, and which accelerator each guest gets."""
    from .archs import all_specs
    from .machine.select import (choose, cpu_virtualization, host_arch,
                                 kvm_device_report)
    click.echo(f"host arch:          {host_arch()}")
    click.echo(f"CPU virtualization: {cpu_virtualization()}")
    for what, state in kvm_device_report():
        click.echo(f"{what + ':':<20}{state}")
    from .machine.accel.tcgfast import describe
    click.echo(f"{'TCG:':<20}{describe()}")
    click.echo("")
    click.echo(f"{'guest':<8} {'auto':<5} {'can use':<9} why")
    for spec in all_specs():
        accel, reason = choose(spec, "auto")
        usable = "kvm, tcg" if accel == "kvm" else "tcg"
        click.echo(f"{spec.name:<8} {accel:<5} {usable:<9} {reason}")


if __name__ == "__main__":
    main()


def binfmt_launch() -> None:
    """The xemu-binfmt launcher, which binfmt_misc runs for a foreign
    program: `xemu run` with the program's own argv[0] (xemu/binfmt.py)."""
    from .binfmt import EXECFD_VARIABLE, LAUNCHER, ROOTFS_VARIABLE, run_arguments
    arguments = run_arguments(sys.argv, os.environ.pop(ROOTFS_VARIABLE, None),
                              os.environ.pop(EXECFD_VARIABLE, None))
    if arguments is None:
        sys.stderr.write(f"{LAUNCHER}: the kernel's binfmt_misc runs this (flag P), as "
                         f"{LAUNCHER} PROGRAM ARGV0 [ARGS...]\n")
        sys.exit(2)
    main(arguments, prog_name="xemu")
