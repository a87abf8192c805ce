"""One run of a Linux program: load it, pick the accelerator, make the
process and its first thread, and run the OS loop to the guest's end. The
UserMachine here is how the Linux layer gets new CPUs (exec, fork) without
choosing accelerators itself."""
from __future__ import annotations

import os
import signal
import sys
import threading
import time

from ..archs.base import ArchSpec
from ..debug.stats import RunStats
from ..debug.strace import Tracer
from ..errors import EXIT_INTERNAL, GuestTimeout, ImageError, shown
from ..linux.exec import loader_image, program_image, start_program
from ..linux.loop import run_thread
from ..linux.process import Process
from ..linux.rootfs import RootFs, open_rootfs
from ..linux.signals import FORWARDED, HostSignals, ThreadKilled
from ..linux.sysroot import Sysroot, default_sysroot, open_sysroot
from ..linux.syscalls import Dispatcher
from ..linux.thread import Thread, ThreadExit
from ..linux.threads import end_process
from ..loader.image import OpenedImage
from ..machine.accel.tcgfast import FileGuard
from ..machine.accel.base import KICK_SIGNAL, Exit, Fault, Stop, Timeout
from ..machine.memory import Memory
from ..machine.select import choose
from ..proctitle import set_title
from .drive import Driver, end_by_signal, end_forked_child, report
from .request import RunRequest, RunResult


class UserMachine:
    """The Machine (linux/thread.py) of a user-mode run: accelerators chosen
    by the request's rule, each traced, counted and debugged as asked."""

    def __init__(self, request: RunRequest, driver: Driver, stats: RunStats | None):
        self.request, self.driver, self.stats = request, driver, stats
        self.accel_name = ""
        self.tracer: Tracer | None = None
        self.host_threads: list[threading.Thread] = []     # the guest's other threads
        self.thread_error: BaseException | None = None      # what ended one of them

    def new_cpu(self, spec: ArchSpec, memory: Memory, argv: list[bytes]):
        self.accel_name, reason = choose(spec, self.request.accel,
                                         needs_tcg=self.request.needs_tcg())
        if self.request.verbose:
            print(f"xemu: {spec.name} guest, accel={self.accel_name}: {reason}",
                  file=sys.stderr)
            if self.accel_name == "tcg":
                from ..machine.accel.tcgfast import describe
                print(f"xemu: tcg: {describe()}", file=sys.stderr)
        set_title(f"xemu -machine accel={self.accel_name} -cpu {spec.name} "
                  + " ".join(os.fsdecode(a) for a in argv))
        accel = make_accelerator(self.accel_name, spec, memory)
        self.request.exit_tracer(accel, self.accel_name)
        self.driver.attach(accel)
        return accel

    def bind(self, thread: Thread) -> None:
        if self.request.strace and self.tracer is None:
            self.tracer = Tracer(thread.process)
        dispatcher = Dispatcher(thread, self.tracer, self.stats.syscalls if self.stats else None)
        # vCPUs that run in parallel take the CPU lock for each call they make
        thread.accel.syscall_handler = dispatcher.locked() if thread.accel.parallel \
            else dispatcher
        thread.accel.serve_in_machine(dispatcher.in_machine)

    def cpu_for_thread(self, accel):
        twin = accel.twin()
        if self.stats is not None:
            self.stats.watch(twin)
        return twin

    def start_thread(self, thread: Thread, body) -> None:
        if self.tracer is not None:
            self.tracer.show_pid = True        # strace lines carry the tid from now on

        def host_thread() -> None:
            # Host signals xemu catches are the main thread's to take (Python
            # runs its handlers there: --timeout's SIGALRM); this thread gets
            # KICK_SIGNAL, which stops its vCPU. (An ignored signal stays
            # unblocked: blocked, the kernel would keep it pending, and a
            # vCPU that lets every signal in during KVM_RUN would return
            # EINTR for ever, as an EPIPE write's SIGPIPE did.)
            signal.pthread_sigmask(signal.SIG_BLOCK, set(FORWARDED) - {KICK_SIGNAL})
            pid = os.getpid()
            try:
                body()
            except BaseException as error:      # a bug of ours: the run ends with it
                if self.thread_error is None:
                    self.thread_error = error
                end_process(thread.process, Exit(EXIT_INTERNAL), by=thread)
            finally:
                if os.getpid() != pid:         # this thread forked: the child's end
                    self._end_forked_thread(thread)
                thread.close()
                thread.accel.close()
        runner = threading.Thread(target=host_thread, name="xemu-guest-thread", daemon=True)
        self.host_threads = [t for t in self.host_threads if t.is_alive()] + [runner]
        runner.start()

    def _end_forked_thread(self, thread: Thread) -> None:
        """A process forked by a thread other than the first ends here, as
        run_program's caller ends one the first thread forked."""
        process = thread.process
        stop = process.ending
        status = report(stop, thread.accel, thread.accel.memory, quiet_signals=True)
        if isinstance(stop, Fault):
            end_by_signal(stop.signal)
        end_forked_child(status)

    def join_threads(self, seconds: float = 2.0) -> None:
        """After the process ended: give its other threads time to leave."""
        deadline = time.monotonic() + seconds
        for runner in self.host_threads:
            runner.join(max(0.0, deadline - time.monotonic()))

    def cpu_in_child(self, accel, context):
        if accel.name != "kvm":
            return accel                 # Unicorn's engine came along with the fork
        fresh = make_accelerator("kvm", accel.spec, accel.memory)
        accel.close()                    # the parent's VM: this process's copy of its fds
        fresh.regs.restore(context)
        self.driver.attach(fresh)
        return fresh

    def forked(self, child: bool) -> None:
        if self.tracer is not None:
            self.tracer.show_pid = True
        if child:
            self.driver.in_forked_child()


def run_program(request: RunRequest, opened: OpenedImage,
                stats: RunStats | None = None) -> RunResult:
    image = program_image(opened)
    spec = image.arch
    rootfs, sysroot = open_rootfs(request.rootfs), open_sysroot(request.sysroot)
    if image.interpreter and rootfs is None and sysroot is None:
        sysroot = default_sysroot(spec, image.interpreter)
        if sysroot is not None and request.verbose:
            print(f"xemu: {spec.name} libraries from {sysroot.directory} (its "
                  f"{image.interpreter}); -L DIR chooses others", file=sys.stderr)
    loader = loader_image(image, loader_opener(image, rootfs, sysroot))
    memory = Memory(limit=request.memory or default_memory_limit())
    memory.file_guard = FileGuard.get()       # shared file mappings are the file's own
    first = request.image if request.argv0 is None else request.argv0
    argv = [os.fsencode(first), *(os.fsencode(a) for a in request.args)]
    envp = guest_environment(request.env)
    start = start_program(memory, image, argv, envp, request.image.encode(), loader)
    with Driver(request, stats) as driver:
        machine = UserMachine(request, driver, stats)
        accel = machine.new_cpu(spec, memory, argv)
        accel.regs.write(spec.sp, start.sp)
        accel.regs.write(spec.pc, start.entry)
        process = Process(spec, memory, exe=opened.path.resolve(),
                          brk_start=start.brk_start, quiet=request.quiet,
                          rootfs=rootfs, sysroot=sysroot, auxv=start.auxv,
                          machine=machine, argv=argv, envp=envp)
        thread = Thread(process, tid=os.getpid(), accel=accel)
        process.threads[thread.tid] = thread
        machine.bind(thread)
        # SIGALRM stays xemu's own while --timeout uses it
        forwarding = HostSignals(process, skip=(signal.SIGALRM,) if request.timeout else ())
        try:
            with forwarding:
                try:
                    stop = run_thread(thread, lambda: driver.resume(thread.accel))
                    if isinstance(stop, (ThreadExit, ThreadKilled)):   # the others go on
                        stop = wait_for_end(process)
                except GuestTimeout:          # --timeout between two runs of the guest
                    stop = Timeout(request.timeout)
                end_process(process, stop, by=thread)
                machine.join_threads()
            if machine.thread_error is not None:
                raise machine.thread_error
            driver.end(stop)
        finally:
            process.fds.close_all()
    accel = thread.accel
    status = report(stop, accel, accel.memory, quiet_signals=driver.forked_child)
    if driver.forked_child and isinstance(stop, Fault):
        end_by_signal(stop.signal)        # the guest parent's wait sees the signal
    return RunResult(status, stop, machine.accel_name, process, accel.spec.name,
                     accel.memory, forked_child=driver.forked_child)


def loader_opener(image, rootfs: RootFs | None, sysroot: Sysroot | None):
    """open(guest path) -> host fd for the loader, before the process exists;
    a missing loader is an error that names it and the option that helps."""
    def open_file(path: bytes) -> int:
        try:
            if rootfs is not None:
                return rootfs.open(path, os.O_RDONLY)
            host = sysroot.host_path(path) if sysroot is not None else path
            return os.open(host, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as e:
            where = f"inside --rootfs {shown(rootfs.host_root)}" if rootfs is not None else \
                f"in -L {shown(sysroot.directory)} or on the host" if sysroot is not None \
                else "on the host"
            hint = "" if rootfs is not None else \
                "; give -L DIR, the directory that holds it (as qemu-user's -L), or --rootfs DIR"
            raise ImageError(f"{shown(image.path)} is dynamically linked and its loader "
                             f"{shown(os.fsdecode(path))} cannot be opened {where} "
                             f"({e.strerror}){hint}") from None
    return open_file


def wait_for_end(process) -> Stop:
    """The first thread has exited and others run on: the process's end,
    whichever thread makes it. (Waits in slices, so --timeout's SIGALRM
    handler runs.)"""
    while not process.ended.wait(0.1):
        pass
    return process.ending


def guest_environment(env: dict[str, str] | None) -> list[bytes]:
    source = os.environ if env is None else env
    return [f"{k}={v}".encode() for k, v in source.items()]


def default_memory_limit() -> int:
    """Half the host's RAM: a guest asking for more gets ENOMEM, not the host
    swapping or dying."""
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2


def make_accelerator(name: str, spec, memory: Memory):
    if name == "kvm":
        from ..machine.accel.kvm import KvmAccelerator
        return KvmAccelerator(spec, memory)
    from ..machine.accel.tcg import TcgAccelerator
    return TcgAccelerator(spec, memory)
