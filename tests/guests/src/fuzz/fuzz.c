/* xfuzz: a system call fuzzer run as a guest (python -m fuzz syscalls).
 *
 *   xfuzz SEED FIRST COUNT
 *
 * makes calls FIRST .. FIRST+COUNT-1 of the seed's sequence. Call i is
 * derived from (SEED, i) alone by splitmix64, so any call replays alone
 * (`xfuzz SEED i 1`). Before each call one line goes to MARK_FD, a dup of
 * stderr at a descriptor random arguments never name:
 *
 *   @xfuzz I NR CLASS:HEX CLASS:HEX CLASS:HEX CLASS:HEX CLASS:HEX CLASS:HEX
 *
 * so the driver knows which call xemu's warnings (written to the same
 * stderr) belong to, and where to restart when a call kills or blocks the
 * guest. After the last call: "@xfuzz done". Status 3: MARK_FD was lost (a
 * call closed it); the driver restarts from the next call.
 *
 * Arguments come from classes (C_ZERO... below): 0, -1, small
 * integers, flag-looking values, descriptors, a read-write scratch buffer
 * filled with more such words (so struct and iovec pointers lead
 * somewhere), a path string, a read-only page, a PROT_NONE page, an
 * unmapped page, kernel-half addresses, page-aligned free addresses, huge
 * sizes, random words. No address class points at the guest's own code,
 * stack or data (only a random word or huge size can, rarely: an munmap
 * that ends the run); what the calls break is the scratch area, mapped anew
 * after every call that can change mappings, and the signal handlers and
 * thread pointer, set anew after the calls that change them.
 *
 * A call that blocks is ended by an interval timer (SIGALRM, armed before
 * every call; the handler only returns, so the call fails with EINTR). A
 * call that makes the guest fault later (a torn-down TLS pointer, say)
 * comes back to the loop through siglongjmp, or kills the guest: both are
 * the guest's own doing, not xemu's. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <asm/prctl.h>
#elif defined(__i386__)
#include <asm/ldt.h>
#endif

#define MARK_FD 1000
#define PAGE 4096UL
#if __SIZEOF_LONG__ == 8
#define SCRATCH 0x300000000UL     /* free in every 64-bit layout xemu uses */
#define FREE_AREA 0x380000000UL   /* page-aligned addresses nothing maps */
#else
#define SCRATCH 0x30000000UL
#define FREE_AREA 0x38000000UL
#endif
/* the scratch area: two read-write pages of words, a path page, a read-only
 * page, a PROT_NONE page, then an unmapped one */
#define RW       (SCRATCH)
#define PATHPAGE (SCRATCH + 2 * PAGE)
#define RO       (SCRATCH + 3 * PAGE)
#define NONE     (SCRATCH + 4 * PAGE)
#define HOLE     (SCRATCH + 5 * PAGE)
#define NOT_A_PID 0x3ffffff0L     /* beyond any pid_max: ESRCH */
#define MAX_NR 460                /* a little past every arch's last call */

/* ---- the generator: splitmix64 ---- */
static uint64_t rng;
static uint64_t next64(void) {
    uint64_t z = (rng += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static unsigned below(unsigned n) { return (unsigned)(next64() % n); }
static void seed_call(uint64_t seed, uint64_t index) {
    rng = seed;
    uint64_t a = next64();
    rng = a ^ (index * 0xD1B54A32D192ED03ULL);
    next64();
}

/* ---- the deny list: calls that would end or wreck the harness itself ---- */
static const long denied[] = {
#ifdef SYS_exit
    SYS_exit,            /* ends the harness */
#endif
#ifdef SYS_exit_group
    SYS_exit_group,      /* ends the harness */
#endif
#ifdef SYS_execve
    SYS_execve,          /* replaces the harness (with a real program it finds) */
#endif
#ifdef SYS_execveat
    SYS_execveat,        /* as execve */
#endif
#ifdef SYS_fork
    SYS_fork,            /* a second fuzzer on the same stderr: calls unattributable */
#endif
#ifdef SYS_vfork
    SYS_vfork,           /* the child runs on our stack until it execs or exits */
#endif
#ifdef SYS_clone
    SYS_clone,           /* random flags and a random stack: a thread or child that runs wild */
#endif
#ifdef SYS_clone3
    SYS_clone3,          /* as clone */
#endif
#ifdef SYS_rt_sigreturn
    SYS_rt_sigreturn,    /* restores a random context: jumps anywhere */
#endif
#ifdef SYS_sigreturn
    SYS_sigreturn,       /* as rt_sigreturn */
#endif
#ifdef SYS_pause
    SYS_pause,           /* waits for a signal; only the timer ends it: a slow no-op */
#endif
#ifdef SYS_sigsuspend
    SYS_sigsuspend,      /* as pause, with a random mask that may block the timer */
#endif
#ifdef SYS_rt_sigsuspend
    SYS_rt_sigsuspend,   /* as sigsuspend */
#endif
#ifdef SYS_reboot
    SYS_reboot,          /* not the guest's business even in a namespace */
#endif
#ifdef SYS_vhangup
    SYS_vhangup,         /* hangs up the terminal the driver may share */
#endif
#ifdef SYS_setsid
    SYS_setsid,          /* leaves the sandbox's session: the driver's kill misses it */
#endif
#ifdef SYS_ptrace
    SYS_ptrace,          /* PTRACE_TRACEME and kin: the guest stops at the next signal */
#endif
};

static int is_denied(long nr) {
    for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++)
        if (denied[i] == nr)
            return 1;
    return 0;
}

/* calls after which the scratch area is mapped anew */
static const long maps[] = {
#ifdef SYS_mmap
    SYS_mmap,
#endif
#ifdef SYS_mmap2
    SYS_mmap2,
#endif
#ifdef SYS_munmap
    SYS_munmap,
#endif
#ifdef SYS_mremap
    SYS_mremap,
#endif
#ifdef SYS_mprotect
    SYS_mprotect,
#endif
#ifdef SYS_pkey_mprotect
    SYS_pkey_mprotect,
#endif
#ifdef SYS_madvise
    SYS_madvise,
#endif
#ifdef SYS_remap_file_pages
    SYS_remap_file_pages,
#endif
#ifdef SYS_shmat
    SYS_shmat,
#endif
#ifdef SYS_shmdt
    SYS_shmdt,
#endif
#ifdef SYS_ipc
    SYS_ipc,             /* i386, ppc: shmat and shmdt go through it */
#endif
#ifdef SYS_io_uring_setup
    SYS_io_uring_setup,
#endif
};

/* calls after which the signal handlers and mask are set anew */
static const long signal_calls[] = {
#ifdef SYS_rt_sigaction
    SYS_rt_sigaction,
#endif
#ifdef SYS_sigaction
    SYS_sigaction,
#endif
#ifdef SYS_signal
    SYS_signal,
#endif
#ifdef SYS_rt_sigprocmask
    SYS_rt_sigprocmask,
#endif
#ifdef SYS_sigprocmask
    SYS_sigprocmask,
#endif
#ifdef SYS_ssetmask
    SYS_ssetmask,
#endif
#ifdef SYS_sigaltstack
    SYS_sigaltstack,
#endif
#ifdef SYS_setitimer
    SYS_setitimer,
#endif
#ifdef SYS_alarm
    SYS_alarm,
#endif
};

static int member(const long *set, size_t n, long nr) {
    for (size_t i = 0; i < n; i++)
        if (set[i] == nr)
            return 1;
    return 0;
}

/* the calls whose first (and, for tgkill, second) argument is a pid to
 * signal: aimed at itself, its parent, pid 1, or pid <= 0 (its group, every
 * process), the signal would end the harness: such pids become NOT_A_PID */
static int pid_arguments(long nr) {
#ifdef SYS_tgkill
    if (nr == SYS_tgkill) return 2;
#endif
#ifdef SYS_rt_tgsigqueueinfo
    if (nr == SYS_rt_tgsigqueueinfo) return 2;
#endif
#ifdef SYS_kill
    if (nr == SYS_kill) return 1;
#endif
#ifdef SYS_tkill
    if (nr == SYS_tkill) return 1;
#endif
#ifdef SYS_rt_sigqueueinfo
    if (nr == SYS_rt_sigqueueinfo) return 1;
#endif
#ifdef SYS_pidfd_open
    if (nr == SYS_pidfd_open) return 1;     /* then pidfd_send_signal to it */
#endif
    return 0;
}

/* The thread pointer libc finds errno through: arm (ARM_set_tls), i386
 * (set_thread_area, the GDT entry %gs selects) and x86-64 (arch_prctl's
 * ARCH_SET_FS) let a call move it; it is put back after those calls and
 * after a fault. (aarch64 and ppc keep it in a register no call changes.) */
#if defined(__arm__)
static unsigned long saved_tls;
static void save_tls(void) { saved_tls = (unsigned long)__builtin_thread_pointer(); }
static void restore_tls(void) { syscall(0x0f0005, saved_tls); }
static int moves_tls(long nr) { return nr == 0x0f0005; }
#elif defined(__x86_64__)
static unsigned long saved_tls;
static void save_tls(void) { syscall(SYS_arch_prctl, ARCH_GET_FS, &saved_tls); }
static void restore_tls(void) { syscall(SYS_arch_prctl, ARCH_SET_FS, saved_tls); }
static int moves_tls(long nr) { return nr == SYS_arch_prctl; }
#elif defined(__i386__)
static struct user_desc saved_tls;
static unsigned short saved_gs;
static void save_tls(void) {
    __asm__ volatile("movw %%gs, %0" : "=r"(saved_gs));
    unsigned base;                               /* the TCB's first word points to itself */
    __asm__ volatile("movl %%gs:0, %0" : "=r"(base));
    saved_tls = (struct user_desc){.entry_number = saved_gs >> 3, .base_addr = base,
                                   .limit = 0xfffff, .seg_32bit = 1, .limit_in_pages = 1,
                                   .useable = 1};
}
static void restore_tls(void) {               /* int $0x80: syscall() calls through %gs */
    struct user_desc again = saved_tls;
    long result;
    __asm__ volatile("int $0x80" : "=a"(result) : "0"((long)SYS_set_thread_area), "b"(&again)
                     : "memory");
    __asm__ volatile("movw %0, %%gs" : : "r"(saved_gs));
}
static int moves_tls(long nr) { return nr == SYS_set_thread_area || nr == SYS_modify_ldt; }
#else
static void save_tls(void) {}
static void restore_tls(void) {}
static int moves_tls(long nr) { (void)nr; return 0; }
#endif

/* ---- the harness's own state ---- */
static long self_pid, parent_pid;
static int my_fds[10];
static int n_fds;
static sigjmp_buf back;
static volatile sig_atomic_t faults;

static void restore_tls(void);
/* (the thread pointer first: i386's siglongjmp demangles through %gs) */
static void on_fault(int sig) { restore_tls(); siglongjmp(back, sig); }
static void on_other(int sig) { (void)sig; }   /* SIGALRM, SIGPIPE, SIGXFSZ, timers' signals */

static void set_signals(void) {
    struct sigaction fault = {0}, other = {0};
    fault.sa_handler = on_fault;
    other.sa_handler = on_other;
    for (int sig = 1; sig < 65; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        int synchronous = sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE ||
                          sig == SIGTRAP || sig == SIGSYS;
        sigaction(sig, synchronous ? &fault : &other, NULL);   /* 32, 33: libc's, refused */
    }
    stack_t none = {.ss_flags = SS_DISABLE};
    sigaltstack(&none, NULL);
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
}

static void map_scratch(void) {
    mmap((void *)SCRATCH, 5 * PAGE, PROT_READ | PROT_WRITE,
         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    memset((void *)RO, 'A', PAGE);             /* a string with no end, into NONE */
    mprotect((void *)RO, PAGE, PROT_READ);
    mprotect((void *)NONE, PAGE, PROT_NONE);
    munmap((void *)HOLE, PAGE);
}

static void open_fds(void) {
    for (int i = 0; i < n_fds; i++)
        close(my_fds[i]);
    n_fds = 0;
    int p[2];
    my_fds[n_fds++] = open("f", O_RDWR | O_CREAT, 0644);
    my_fds[n_fds++] = open("/", O_RDONLY | O_DIRECTORY);
    my_fds[n_fds++] = open("/proc/self/maps", O_RDONLY);
    if (pipe(p) == 0) {
        my_fds[n_fds++] = p[0];
        my_fds[n_fds++] = p[1];
        (void)!write(p[1], "something to read\n", 18);
    }
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, p) == 0) {
        my_fds[n_fds++] = p[0];
        my_fds[n_fds++] = p[1];
    }
#ifdef SYS_eventfd2
    my_fds[n_fds++] = (int)syscall(SYS_eventfd2, 1, 0);
#endif
}

static int fds_lost(void) {
    for (int i = 0; i < n_fds; i++)
        if (my_fds[i] < 0 || fcntl(my_fds[i], F_GETFD) < 0)
            return 1;
    return 0;
}

/* ---- arguments ---- */
enum { C_ZERO, C_MINUS1, C_SMALL, C_FLAGS, C_FD, C_RW, C_PATH, C_RO, C_NONE, C_UNMAPPED,
       C_KERNEL, C_PAGE, C_HUGE, C_RANDOM, N_CLASSES };
static const char *const class_names[] = {
    "zero", "minus1", "small", "flags", "fd", "rw", "path", "ro", "none", "unmapped",
    "kernel", "page", "huge", "random"};

static const char *const paths[] = {
    "/proc/self/mem", "/proc/self/maps", ".", "/", "f", "../..", "/proc/self/fd/0",
    "/proc/self/exe", "/proc/self/auxv", "/proc/self/", "/proc/1/mem", "..", "f/x",
    "/xfuzz", "/dev/null", "", "d", "../../../../etc/passwd", "/proc/self/cwd/..",
    "/proc/self/root"};

static unsigned long value(int cls, int depth) {
    switch (cls) {
    case C_ZERO: return 0;
    case C_MINUS1: return ~0UL;
    case C_SMALL: return below(17);
    case C_FLAGS: {
        unsigned long v = 0;
        int bits = 1 + below(3);
        for (int i = 0; i < bits; i++)
            v |= 1UL << below(8 * sizeof(long));
        if (below(4) == 0)
            v |= below(8);                         /* O_ACCMODE-like low bits */
        return v;
    }
    case C_FD:
        if (n_fds && below(2))
            return (unsigned long)my_fds[below(n_fds)];
        return below(11);
    case C_RW:
        if (depth == 0 || below(2))
            return RW + (below(4) == 0 ? below(2 * PAGE) : 0);
        return RW + 8 * below(2 * PAGE / 8);
    case C_PATH: return PATHPAGE;
    case C_RO: return RO + (below(4) == 0 ? below(PAGE) : 0);
    case C_NONE: return NONE;
    case C_UNMAPPED: return below(2) ? HOLE : HOLE + PAGE - 1;
    case C_KERNEL: {
#if __SIZEOF_LONG__ == 8
        static const unsigned long k[] = {0xffff800000000000UL, 0x800000000000UL,
                                          0xffffffffff600000UL, 0xfffffffffffff000UL,
                                          0x00007ffffffff000UL};
#else
        static const unsigned long k[] = {0xc0000000UL, 0xbf000000UL, 0xffff0000UL,
                                          0xfffff000UL, 0xffffffffUL - 3};
#endif
        return k[below(5)];
    }
    case C_PAGE: {
        static const unsigned long p[] = {0, PAGE, FREE_AREA, FREE_AREA + 16 * PAGE, SCRATCH, HOLE};
        return p[below(6)];
    }
    case C_HUGE: {
        static const unsigned long h[] = {0x7fffffffUL, 0x80000000UL, 0xfffffff0UL,
                                          ~0UL >> 1, ~0UL - PAGE + 1, 1UL << 30, 0x100000UL,
#if __SIZEOF_LONG__ == 8
                                          1UL << 40, 1UL << 47, 0x100000000UL,
#endif
        };
        return h[below(sizeof h / sizeof h[0])];
    }
    default: return (unsigned long)next64();
    }
}

static int pick_class(int depth) {
    /* weights: small values and buffers most often */
    static const unsigned char w[N_CLASSES] = {10, 6, 12, 8, 12, 12, 6, 4, 3, 3, 3, 3, 5, 4};
    unsigned total = 0, r;
    for (int i = 0; i < N_CLASSES; i++)
        total += w[i];
    r = below(total);
    for (int i = 0; i < N_CLASSES; i++) {
        if (r < w[i])
            return (depth && i == C_PATH && below(2)) ? C_RW : i;
        r -= w[i];
    }
    return C_ZERO;
}

static void fill_scratch(void) {
    unsigned long *words = (unsigned long *)RW;
    size_t filled = 16 + below(112);                  /* structs, iovecs, fd sets... */
    memset(words, 0, 2 * PAGE);
    for (size_t i = 0; i < filled; i++)
        words[i] = value(pick_class(1), 1);
    char *path = (char *)PATHPAGE;
    unsigned kind = below(8);
    if (kind == 0) {                                   /* long: past PATH_MAX, or unending */
        size_t len = below(2) ? 300 + below(700) : PAGE;
        for (size_t i = 0; i < len; i++)
            path[i] = (i % 8 == 7) ? '/' : "abc.xyz"[i % 7];
        if (len < PAGE)
            path[len] = 0;                             /* else: runs into RO, then NONE */
    } else {
        strcpy(path, paths[below(sizeof paths / sizeof paths[0])]);
    }
}

static long draw_number(void) {
    unsigned r = below(64);
    if (r == 0)
        return (long)value(C_RANDOM, 0);               /* a number no kernel has */
#ifdef __arm__
    if (r == 1 || r == 2)
        return 0x0f0000 + below(8);                    /* ARM's private calls */
#endif
    return below(MAX_NR);
}

/* ---- output ---- */
static char line[512];
static size_t put_hex(size_t at, unsigned long v) {
    char digits[20];
    int n = 0;
    do {
        digits[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    while (n && at < sizeof line - 1)
        line[at++] = digits[--n];
    return at;
}
static size_t put_str(size_t at, const char *s) {
    while (*s && at < sizeof line - 1)
        line[at++] = *s++;
    return at;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s SEED FIRST COUNT\n", argv[0]);
        return 2;
    }
    uint64_t seed = strtoull(argv[1], NULL, 0);
    unsigned long first = strtoul(argv[2], NULL, 0), count = strtoul(argv[3], NULL, 0);
    if (dup2(2, MARK_FD) != MARK_FD)
        return 3;
    save_tls();
    self_pid = getpid();
    parent_pid = getppid();
    map_scratch();
    open_fds();
    set_signals();

    struct itimerval alarm = {.it_value = {.tv_sec = 0, .tv_usec = 50000}};
    static volatile unsigned long i;                   /* kept across siglongjmp */
    static volatile long nr;
    i = first;
    if (sigsetjmp(back, 1)) {                          /* a fault after call i: go on */
        faults++;
        map_scratch();
        set_signals();
        i++;
    }
    for (; i < first + count; i++) {
        seed_call(seed, i);
        nr = draw_number();
        if (is_denied(nr))
            continue;
        long a[6];
        int cls[6];
        for (int k = 0; k < 6; k++) {
            cls[k] = pick_class(0);
            a[k] = (long)value(cls[k], 0);
        }
        for (int k = 0; k < pid_arguments(nr); k++) {
            int pid = (int)a[k];                       /* what the kernel reads */
            if (pid <= 1 || pid == self_pid || pid == parent_pid)
                a[k] = NOT_A_PID;
        }
        fill_scratch();

        size_t at = put_str(0, "@xfuzz ");
        at = put_hex(at, i);
        at = put_str(at, " ");
        at = put_hex(at, (unsigned long)nr);
        for (int k = 0; k < 6; k++) {
            at = put_str(at, " ");
            at = put_str(at, class_names[cls[k]]);
            at = put_str(at, ":");
            at = put_hex(at, (unsigned long)a[k]);
        }
        line[at++] = '\n';
        if (write(MARK_FD, line, at) != (ssize_t)at)
            syscall(SYS_exit_group, 3);

        setitimer(ITIMER_REAL, &alarm, NULL);
        syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
        if (moves_tls(nr))
            restore_tls();

        if (member(maps, sizeof maps / sizeof maps[0], nr))
            map_scratch();
        if (member(signal_calls, sizeof signal_calls / sizeof signal_calls[0], nr))
            set_signals();
        if (i % 64 == 63 && fds_lost())
            open_fds();
    }
    static const char done[] = "@xfuzz done\n";
    if (write(MARK_FD, done, sizeof done - 1) < 0)
        return 3;
    syscall(SYS_exit_group, 0);
    return 0;
}
