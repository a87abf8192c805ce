/* Process facts: ids, uname (the guest's machine), limits, affinity,
 * random bytes, /proc/self/exe, signals recorded, umask. */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

static void on_usr1(int sig) { (void)sig; }

int proc_main(int argc, char **argv) {
    (void)argc; (void)argv;
    struct utsname u;
    uname(&u);
    printf("machine=%s sysname=%s\n", u.machine, u.sysname);
    printf("pid positive: %d, tid is pid: %d, ppid positive: %d\n",
           getpid() > 0, gettid() == getpid(), getppid() > 0);
    printf("uid matches euid: %d\n", getuid() == geteuid() && getgid() == getegid());
    struct rlimit rl;
    printf("stack limit known: %d\n", getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur > 0);
    cpu_set_t set;
    CPU_ZERO(&set);
    printf("affinity: %d\n", sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) >= 1);
    printf("yield: %d\n", sched_yield() == 0);
    unsigned char rnd[32];
    printf("getrandom: %d\n", getrandom(rnd, sizeof rnd, 0) == (ssize_t)sizeof rnd);
    char exe[4096] = {0};
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    const char *base = strrchr(exe, '/');
    printf("exe=%s absolute=%d\n", base ? base + 1 : exe, n > 0 && exe[0] == '/');
    struct sigaction sa = {0}, old;
    sa.sa_handler = on_usr1;
    printf("sigaction: %d\n", sigaction(SIGUSR1, &sa, NULL) == 0
           && sigaction(SIGUSR1, NULL, &old) == 0 && old.sa_handler == on_usr1);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR2);
    printf("sigprocmask: %d\n", sigprocmask(SIG_BLOCK, &mask, NULL) == 0);
    umask(022);
    printf("umask: %03o\n", umask(077));
    printf("hostname set: %d\n", u.nodename[0] != 0);
    return 0;
}
