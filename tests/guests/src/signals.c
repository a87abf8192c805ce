/* Signals: handlers, masks, waiting, restarts, faults, deaths by signal.
 * Each program prints what it saw; the expected output comes from the
 * native CPU (x86) and qemu-user, so every arch must print the same. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <poll.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

static volatile sig_atomic_t hits, last_signal, last_code, depth, max_depth;
static volatile int from_self;
static volatile uintptr_t last_addr;

static void plain(int sig) { hits++; last_signal = sig; }

static void with_info(int sig, siginfo_t *info, void *uc) {
    (void)uc;
    hits++;
    last_signal = sig;
    last_code = info->si_code;
    from_self = info->si_pid == getpid();
}

static void on(int sig, void (*handler)(int), int flags) {
    struct sigaction sa = {0};
    sa.sa_handler = handler;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

static void on_info(int sig, void (*handler)(int, siginfo_t *, void *), int flags) {
    struct sigaction sa = {0};
    sa.sa_sigaction = handler;
    sa.sa_flags = flags | SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

static int is_blocked(int sig) {
    sigset_t now;
    sigprocmask(SIG_BLOCK, NULL, &now);
    return sigismember(&now, sig);
}

/* handlers with and without SA_SIGINFO, and what they see */
int sighandler_main(int argc, char **argv) {
    (void)argc; (void)argv;
    on(SIGUSR1, plain, 0);
    raise(SIGUSR1);
    printf("plain: hits=%d sig=%d\n", hits, last_signal);
    on_info(SIGUSR2, with_info, 0);
    kill(getpid(), SIGUSR2);
    printf("kill: hits=%d sig=%d code=%d self=%d\n", hits, last_signal, last_code, from_self);
    raise(SIGUSR2);
    printf("raise: hits=%d code=%d (SI_TKILL=%d)\n", hits, last_code, SI_TKILL);
    union sigval value = {.sival_int = 42};
    sigqueue(getpid(), SIGUSR2, value);
    printf("sigqueue: hits=%d code=%d (SI_QUEUE=%d)\n", hits, last_code, SI_QUEUE);
    signal(SIGUSR1, SIG_IGN);
    raise(SIGUSR1);
    printf("ignored: hits=%d\n", hits);
    signal(SIGUSR1, SIG_DFL);
    struct sigaction old;
    sigaction(SIGUSR2, NULL, &old);
    printf("readback: siginfo=%d handler=%d\n", !!(old.sa_flags & SA_SIGINFO),
           old.sa_sigaction == with_info);
    return 0;
}

static volatile int reraised;
static void in_handler_mask(int sig) {
    hits++;
    if (++depth > max_depth)
        max_depth = depth;
    printf("in handler: %d blocked=%d usr2 blocked=%d\n", sig, is_blocked(sig),
           is_blocked(SIGUSR2));
    if (!reraised) {
        reraised = 1;
        raise(sig);                 /* SA_NODEFER: nests; otherwise waits */
    }
    depth--;
}

/* the handler's mask is applied and put back; SA_NODEFER; SA_RESETHAND */
int sigmask_main(int argc, char **argv) {
    (void)argc; (void)argv;
    struct sigaction sa = {0};
    sa.sa_handler = in_handler_mask;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR2);
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    printf("after: hits=%d depth=%d usr1 blocked=%d usr2 blocked=%d\n", hits, max_depth,
           is_blocked(SIGUSR1), is_blocked(SIGUSR2));
    hits = max_depth = reraised = 0;
    sa.sa_flags = SA_NODEFER;
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    printf("nodefer: hits=%d depth=%d\n", hits, max_depth);
    hits = 0;
    on(SIGUSR2, plain, SA_RESETHAND);
    raise(SIGUSR2);
    struct sigaction now;
    sigaction(SIGUSR2, NULL, &now);
    printf("resethand: hits=%d now default=%d\n", hits, now.sa_handler == SIG_DFL);
    return 0;
}

/* blocked signals stay pending, show in sigpending, arrive when unblocked */
int sigpending_main(int argc, char **argv) {
    (void)argc; (void)argv;
    on(SIGUSR1, plain, 0);
    on(SIGTERM, plain, 0);
    sigset_t block, pending;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, NULL);
    raise(SIGUSR1);
    raise(SIGUSR1);                 /* a standard signal is pending once */
    kill(getpid(), SIGTERM);
    sigpending(&pending);
    printf("pending: usr1=%d term=%d usr2=%d hits=%d\n", sigismember(&pending, SIGUSR1),
           sigismember(&pending, SIGTERM), sigismember(&pending, SIGUSR2), hits);
    sigprocmask(SIG_UNBLOCK, &block, NULL);
    printf("unblocked: hits=%d last=%d\n", hits, last_signal);
    sigpending(&pending);
    printf("pending now: usr1=%d\n", sigismember(&pending, SIGUSR1));
    /* sigsuspend: wait with a mask that lets the signal in */
    sigprocmask(SIG_BLOCK, &block, NULL);
    hits = 0;
    raise(SIGUSR1);
    sigset_t during;
    sigemptyset(&during);
    int r = sigsuspend(&during);
    printf("sigsuspend: %d %s hits=%d usr1 blocked again=%d\n", r, strerror(errno), hits,
           is_blocked(SIGUSR1));
    /* sigtimedwait takes a blocked signal without its handler */
    sigset_t want;
    sigemptyset(&want);
    sigaddset(&want, SIGUSR1);
    raise(SIGUSR1);
    siginfo_t info;
    int got = sigtimedwait(&want, &info, NULL);
    printf("sigtimedwait: %d code=%d hits=%d\n", got, info.si_code, hits);
    struct timespec short_wait = {0, 20 * 1000 * 1000};
    got = sigtimedwait(&want, &info, &short_wait);
    printf("sigtimedwait timeout: %d %s\n", got, strerror(errno));
    return 0;
}

/* alarm then pause: with a handler pause returns EINTR */
int alarmpause_main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "handled") == 0) {
        on(SIGALRM, plain, 0);
        alarm(1);
        int r = pause();
        printf("pause: %d %s sig=%d\n", r, strerror(errno), last_signal);
        return 0;
    }
    alarm(1);
    pause();
    printf("not reached\n");
    return 0;
}

static int pipe_fds[2];
static void write_pipe(int sig) { (void)sig; hits++; write(pipe_fds[1], "x", 1); }

/* SA_RESTART restarts an interrupted read; without it, EINTR */
int restart_main(int argc, char **argv) {
    (void)argc; (void)argv;
    char c;
    struct itimerval t = {{0, 0}, {0, 100 * 1000}};
    pipe(pipe_fds);
    on(SIGALRM, write_pipe, SA_RESTART);
    setitimer(ITIMER_REAL, &t, NULL);
    ssize_t n = read(pipe_fds[0], &c, 1);
    printf("SA_RESTART: read=%zd char=%c hits=%d\n", n, n == 1 ? c : '-', hits);
    on(SIGALRM, plain, 0);
    setitimer(ITIMER_REAL, &t, NULL);
    n = read(pipe_fds[0], &c, 1);
    printf("no SA_RESTART: read=%zd %s\n", n, strerror(errno));
    setitimer(ITIMER_REAL, &t, NULL);
    struct pollfd p = {pipe_fds[0], POLLIN, 0};
    int r = poll(&p, 1, -1);
    printf("poll: %d %s\n", r, strerror(errno));
    struct timespec req = {5, 0}, rem = {0, 0};
    setitimer(ITIMER_REAL, &t, NULL);
    r = nanosleep(&req, &rem);
    printf("nanosleep: %d %s rem>3=%d\n", r, strerror(errno), rem.tv_sec > 3);
    write(pipe_fds[1], "y", 1);
    fd_set set;
    FD_ZERO(&set);
    FD_SET(pipe_fds[0], &set);
    struct timeval tv = {1, 0};
    r = select(pipe_fds[0] + 1, &set, NULL, NULL, &tv);
    printf("select: %d isset=%d\n", r, FD_ISSET(pipe_fds[0], &set));
    return 0;
}

/* SIGCHLD from each child that ends */
int sigchld_main(int argc, char **argv) {
    (void)argc; (void)argv;
    on_info(SIGCHLD, with_info, 0);
    sigset_t block, none;
    sigemptyset(&block);
    sigaddset(&block, SIGCHLD);
    sigemptyset(&none);
    sigprocmask(SIG_BLOCK, &block, NULL);
    for (int i = 0; i < 3; i++) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(i + 1);
        int before = hits;
        while (hits == before)
            sigsuspend(&none);
        int status;
        waitpid(pid, &status, 0);
        printf("child %d: sigchld code=%d (CLD_EXITED=%d) status=%d\n", i, last_code,
               CLD_EXITED, WEXITSTATUS(status));
    }
    printf("sigchld count=%d\n", hits);
    return 0;
}

/* SIGPIPE: ignored, write fails with EPIPE; by default, the writer dies */
int sigpipe_main(int argc, char **argv) {
    (void)argc; (void)argv;
    int fds[2];
    pipe(fds);
    close(fds[0]);
    signal(SIGPIPE, SIG_IGN);
    ssize_t n = write(fds[1], "x", 1);
    printf("ignored: write=%zd %s\n", n, strerror(errno));
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL);
        write(fds[1], "x", 1);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("default: signaled=%d sig=%d\n", WIFSIGNALED(status), WTERMSIG(status));
    return 0;
}

static int order[16], order_values[16], ordered;
static void record(int sig, siginfo_t *info, void *uc) {
    (void)uc;
    order[ordered] = sig - SIGRTMIN;
    order_values[ordered++] = info->si_value.sival_int;
}

/* real-time signals queue, and arrive lowest number first, in order */
int rtqueue_main(int argc, char **argv) {
    (void)argc; (void)argv;
    sigset_t block;
    sigemptyset(&block);
    for (int i = 1; i <= 3; i++) {
        on_info(SIGRTMIN + i, record, 0);
        sigaddset(&block, SIGRTMIN + i);
    }
    sigprocmask(SIG_BLOCK, &block, NULL);
    int sends[][2] = {{3, 30}, {1, 10}, {3, 31}, {2, 20}, {1, 11}, {3, 32}};
    for (int i = 0; i < 6; i++)
        sigqueue(getpid(), SIGRTMIN + sends[i][0], (union sigval){.sival_int = sends[i][1]});
    sigprocmask(SIG_UNBLOCK, &block, NULL);
    for (int i = 0; i < ordered; i++)
        printf("SIGRTMIN+%d value %d\n", order[i], order_values[i]);
    printf("SIGRTMAX=%d\n", SIGRTMAX);
    return 0;
}

static sigjmp_buf escape;
static void on_segv(int sig, siginfo_t *info, void *uc) {
    (void)uc;
    last_signal = sig;
    last_code = info->si_code;
    last_addr = (uintptr_t)info->si_addr;
    siglongjmp(escape, 1);
}

/* a SIGSEGV handler with si_addr and si_code, leaving by siglongjmp; and
 * the same on an alternate stack after the stack overflowed */
static int recurse(int n) {
    volatile char pad[1024];
    pad[0] = (char)n;
    return n < 0 ? 0 : recurse(n + 1) + pad[0];
}

int segvjmp_main(int argc, char **argv) {
    (void)argv;
    on_info(SIGSEGV, on_segv, 0);
    for (volatile int i = 0; i < 2; i++) {
        if (sigsetjmp(escape, 1) == 0) {
            volatile int *bad = (int *)(uintptr_t)(0x10 + i * 0x100);
            *bad = 1;
            printf("not reached\n");
        } else {
            printf("caught %d: code=%d (MAPERR=%d) addr=%#lx segv blocked=%d\n", last_signal,
                   last_code, SEGV_MAPERR, (unsigned long)last_addr, is_blocked(SIGSEGV));
        }
    }
    static char altstack[64 * 1024];
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
    sigaltstack(&ss, NULL);
    on_info(SIGSEGV, on_segv, SA_ONSTACK);
    if (sigsetjmp(escape, 1) == 0)
        recurse(argc);
    else
        printf("overflow caught on the alternate stack: %d\n", last_signal);
    return 0;
}

static volatile uintptr_t handler_sp;
static volatile int handler_onstack;
static void where(int sig) {
    (void)sig;
    volatile char local;
    stack_t now;
    handler_sp = (uintptr_t)&local;
    sigaltstack(NULL, &now);
    handler_onstack = now.ss_flags & SS_ONSTACK;
}

/* SA_ONSTACK runs the handler on the alternate stack */
int altstack_main(int argc, char **argv) {
    (void)argc; (void)argv;
    static char stack[32 * 1024];
    stack_t ss = {.ss_sp = stack, .ss_size = sizeof stack, .ss_flags = 0}, old;
    sigaltstack(&ss, &old);
    printf("old: disabled=%d\n", !!(old.ss_flags & SS_DISABLE));
    on(SIGUSR1, where, SA_ONSTACK);
    raise(SIGUSR1);
    printf("on altstack: %d flag=%d\n", handler_sp > (uintptr_t)stack &&
           handler_sp < (uintptr_t)stack + sizeof stack, !!handler_onstack);
    on(SIGUSR1, where, 0);
    raise(SIGUSR1);
    printf("without SA_ONSTACK: %d flag=%d\n", handler_sp > (uintptr_t)stack &&
           handler_sp < (uintptr_t)stack + sizeof stack, !!handler_onstack);
    return 0;
}

/* SS_AUTODISARM: the stack is disarmed while the handler runs on it, and
 * rt_sigreturn arms it again from the frame's uc_stack; a handler that
 * edits uc_stack changes the thread's alternate stack on its return. */
#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif
static char disarm_stack[32 * 1024];
static volatile int disarmed_inside, edit_uc_stack;

static int on_disarm_stack(uintptr_t sp) {
    return sp > (uintptr_t)disarm_stack && sp < (uintptr_t)disarm_stack + sizeof disarm_stack;
}

static void where_disarmed(int sig, siginfo_t *info, void *context) {
    (void)sig; (void)info;
    volatile char local;
    stack_t now;
    handler_sp = (uintptr_t)&local;
    sigaltstack(NULL, &now);
    disarmed_inside = !!(now.ss_flags & SS_DISABLE);
    if (edit_uc_stack)
        ((ucontext_t *)context)->uc_stack.ss_flags = SS_DISABLE;
}

int autodisarm_main(int argc, char **argv) {
    (void)argc; (void)argv;
    stack_t ss = {.ss_sp = disarm_stack, .ss_size = sizeof disarm_stack,
                  .ss_flags = SS_AUTODISARM}, now;
    if (sigaltstack(&ss, NULL) != 0) {
        perror("sigaltstack");
        return 1;
    }
    on_info(SIGUSR1, where_disarmed, SA_ONSTACK);
    for (int round = 0; round < 2; round++) {
        raise(SIGUSR1);
        printf("round %d: on the alternate stack %d, disarmed inside %d\n", round,
               on_disarm_stack(handler_sp), disarmed_inside);
    }
    sigaltstack(NULL, &now);
    printf("after: disabled %d, autodisarm %d, same stack %d\n", !!(now.ss_flags & SS_DISABLE),
           !!(now.ss_flags & SS_AUTODISARM), now.ss_sp == disarm_stack);
    edit_uc_stack = 1;
    raise(SIGUSR1);
    sigaltstack(NULL, &now);
    printf("the handler set SS_DISABLE in uc_stack: disabled %d\n", !!(now.ss_flags & SS_DISABLE));
    raise(SIGUSR1);
    printf("next signal on the alternate stack: %d\n", on_disarm_stack(handler_sp));
    return 0;
}

/* a busy guest gets its signal within milliseconds; FP state survives */
static volatile double handler_sum;
static void fp_work(int sig) {
    (void)sig;
    double a = 1.5, b = 2.25, c = 3.125, d = 0.5;
    for (int i = 0; i < 50; i++) {
        a = a * 1.0001 + b; b = b * 0.9999 - c; c = c + d * 0.5; d = d * 1.01 - a * 0.001;
    }
    handler_sum += a + b + c + d;
    hits++;
}

int fpsignal_main(int argc, char **argv) {
    (void)argc; (void)argv;
    on(SIGALRM, fp_work, SA_RESTART);
    struct itimerval t = {{0, 2000}, {0, 2000}};
    setitimer(ITIMER_REAL, &t, NULL);
    double x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    long rounds = 0;
    while (hits < 20) {
        for (int i = 0; i < 8; i++)
            x[i] = x[i] * 1.0000001 + 0.25 * (i + 1);
        for (int i = 0; i < 8; i++)
            x[i] -= 0.25 * (i + 1);
        rounds++;
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    /* the same arithmetic again, with no signals: it must agree exactly */
    double y[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    for (long r = 0; r < rounds; r++) {
        for (int i = 0; i < 8; i++)
            y[i] = y[i] * 1.0000001 + 0.25 * (i + 1);
        for (int i = 0; i < 8; i++)
            y[i] -= 0.25 * (i + 1);
    }
    printf("handlers ran: %d, state intact: %d\n", hits >= 20, memcmp(x, y, sizeof x) == 0);
    return 0;
}

/* the parent sees its children die by signals */
int deaths_main(int argc, char **argv) {
    (void)argc; (void)argv;
    int sigs[] = {SIGTERM, SIGSEGV, SIGKILL, SIGUSR1, SIGRTMIN + 2};
    for (int i = 0; i < 5; i++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            if (sigs[i] == SIGSEGV)
                *(volatile int *)0 = 0;
            raise(sigs[i]);
            _exit(99);
        }
        int status;
        waitpid(pid, &status, 0);
        printf("signal %d: signaled=%d termsig=%d\n", sigs[i], WIFSIGNALED(status),
               WTERMSIG(status));
    }
    return 0;
}

/* signals from outside: print each as it arrives; "spin" waits busy */
static volatile sig_atomic_t outside[65];
static void count_outside(int sig) { outside[sig]++; hits++; }

int waitsig_main(int argc, char **argv) {
    int spin = argc > 1 && strcmp(argv[1], "spin") == 0;
    int wanted[] = {SIGINT, SIGTERM, SIGHUP, SIGWINCH, SIGUSR1, SIGQUIT, SIGRTMIN + 3};
    sigset_t block, none;
    sigemptyset(&block);
    sigemptyset(&none);
    for (unsigned i = 0; i < sizeof wanted / sizeof wanted[0]; i++) {
        on(wanted[i], count_outside, 0);
        sigaddset(&block, wanted[i]);
    }
    if (!spin)      /* no signal between testing hits and waiting: sigsuspend */
        sigprocmask(SIG_BLOCK, &block, NULL);
    printf("ready\n");
    fflush(stdout);
    int seen = 0;
    while (seen < 3) {
        if (spin)
            while (hits == seen) { }
        else
            while (hits == seen)
                sigsuspend(&none);
        seen = hits;
        for (int s = 1; s < 65; s++)
            if (outside[s]) {
                printf("got %d\n", s);
                outside[s] = 0;
            }
        fflush(stdout);
    }
    return 0;
}

/* Signals from another process carry their siginfo: sigqueue's value and
 * SI_QUEUE, kill's SI_USER, the sender's pid and uid. One at a time (each
 * handler tells the parent through a pipe before the next is sent). */
static int fromparent_pipe = -1;
static void fromparent_handler(int sig, siginfo_t *si, void *context) {
    (void)context;
    char line[160];
    int n = snprintf(line, sizeof line, "%s: code=%s value=%d from parent=%d uid=%d\n",
                     sig == SIGUSR2 ? "SIGUSR2" : sig == SIGRTMIN + 1 ? "SIGRTMIN+1" : "other",
                     si->si_code == SI_QUEUE ? "SI_QUEUE" : si->si_code == SI_USER ? "SI_USER"
                     : "other", si->si_code == SI_QUEUE ? si->si_value.sival_int : -1,
                     si->si_pid == getppid(), si->si_uid == getuid());
    write(1, line, n);
    write(fromparent_pipe, "h", 1);
}

int fromparent_main(int argc, char **argv) {
    (void)argc; (void)argv;
    int ready[2], handled[2];
    if (pipe(ready) || pipe(handled))
        return 1;
    sigset_t both, old;
    sigemptyset(&both);
    sigaddset(&both, SIGUSR2);
    sigaddset(&both, SIGRTMIN + 1);
    sigprocmask(SIG_BLOCK, &both, &old);
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        fromparent_pipe = handled[1];
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_sigaction = fromparent_handler;
        action.sa_flags = SA_SIGINFO;
        action.sa_mask = both;
        sigaction(SIGUSR2, &action, NULL);
        sigaction(SIGRTMIN + 1, &action, NULL);
        write(ready[1], "r", 1);
        for (int got = 0; got < 2; got++)
            sigsuspend(&old);
        return 0;
    }
    char c;
    read(ready[0], &c, 1);
    union sigval value = {.sival_int = 1234};
    int queued = sigqueue(child, SIGRTMIN + 1, value);
    read(handled[0], &c, 1);
    printf("sigqueue: %d\n", queued);
    fflush(stdout);
    int killed = kill(child, SIGUSR2);
    read(handled[0], &c, 1);
    printf("kill: %d\n", killed);
    int status;
    waitpid(child, &status, 0);
    printf("child: %s %d\n", WIFEXITED(status) ? "exit" : "signal",
           WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    union sigval none = {.sival_int = 0};
    int lost = sigqueue(999999, SIGUSR2, none);
    printf("sigqueue to nobody: %d %s\n", lost, strerror(errno));
    return 0;
}
