/* Processes: fork and wait statuses, pipes between processes, exec of
 * itself and of a #! script, vfork, posix_spawn (and its failed exec),
 * process groups and sessions, a chain of forks. Output holds no pids.
 *   forkwait  children that exit 0, 3, 255 and one killed by SIGKILL
 *   pipes     a child upper-cases what its parent sends it through a pipe
 *   execself  exec /proc/self/exe with new arguments
 *   script    exec a #! script whose interpreter is this program
 *   noexec    execve errors: missing file, not executable, not a program
 *   vfork     vfork + _exit, vfork + exec, posix_spawn ok and failing
 *   groups    setpgid, getpgid, setsid, getsid in children
 *   chain     ten generations, each waits for the next
 *   waitid    waitid and WNOHANG
 *   runprog   fork, exec the program named in the arguments, wait
 *   pidfds    close_range, pidfd_open, pidfd_send_signal, waitid(P_PIDFD) */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void describe(const char *what, int status) {
    if (WIFEXITED(status))
        printf("%s: exited %d\n", what, WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        printf("%s: killed by signal %d\n", what, WTERMSIG(status));
    else
        printf("%s: status %#x\n", what, status);
}

static int self_path(char *path, size_t size) {
    ssize_t n = readlink("/proc/self/exe", path, size - 1);
    if (n < 0) return -1;
    path[n] = 0;
    return 0;
}

int forkwait_main(int argc, char **argv) {
    (void)argc; (void)argv;
    static const int codes[] = {0, 3, 255};
    pid_t parent = getpid();
    for (int i = 0; i < 3; i++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            if (getppid() != parent) _exit(100);
            _exit(codes[i]);
        }
        int status;
        pid_t got = waitpid(pid, &status, 0);
        char what[32];
        snprintf(what, sizeof what, "child %d", i);
        printf("waited for the right child: %d\n", got == pid);
        describe(what, status);
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        kill(getpid(), SIGKILL);
        _exit(99);
    }
    int status;
    waitpid(pid, &status, 0);
    describe("killed child", status);
    errno = 0;
    pid_t none = wait(&status);
    printf("no more children: %d %s\n", none, strerror(errno));
    return 0;
}

int pipes_main(int argc, char **argv) {
    (void)argc; (void)argv;
    int down[2], up[2];
    if (pipe(down) || pipe(up)) return 1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(down[1]);
        close(up[0]);
        char buffer[64];
        ssize_t n;
        while ((n = read(down[0], buffer, sizeof buffer)) > 0) {
            for (ssize_t i = 0; i < n; i++)
                if (buffer[i] >= 'a' && buffer[i] <= 'z') buffer[i] -= 32;
            if (write(up[1], buffer, n) != n) _exit(2);
        }
        _exit(0);
    }
    close(down[0]);
    close(up[1]);
    const char *message = "hello from the parent\n";
    if (write(down[1], message, strlen(message)) < 0) return 1;
    close(down[1]);
    char reply[64] = {0};
    ssize_t total = 0, n;
    while ((n = read(up[0], reply + total, sizeof reply - 1 - total)) > 0) total += n;
    printf("the child says: %s", reply);
    int status;
    waitpid(pid, &status, 0);
    describe("upper-caser", status);
    return 0;
}

int execself_main(int argc, char **argv) {
    (void)argc; (void)argv;
    char self[4096];
    if (self_path(self, sizeof self)) return 1;
    printf("about to exec\n");
    fflush(stdout);
    char *args[] = {"renamed", "hello", "from", "exec", NULL};
    char *env[] = {"GREETING=exec'd", NULL};
    execve(self, args, env);
    perror("execve");
    return 1;
}

int script_main(int argc, char **argv) {
    (void)argc; (void)argv;
    char self[4096], script[] = "procs-script";
    if (self_path(self, sizeof self)) return 1;
    int fd = open(script, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) return 1;
    dprintf(fd, "#!%s hello\nthis line is for the interpreter, which ignores it\n", self);
    fchmod(fd, 0755);
    close(fd);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        char *args[] = {script, "one", "two", NULL};
        execv(script, args);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    describe("script", status);
    unlink(script);
    return 0;
}

static void try_exec(const char *what, const char *path) {
    char *args[] = {(char *)path, NULL};
    errno = 0;
    execv(path, args);
    printf("%s: %s\n", what, strerror(errno));
}

int noexec_main(int argc, char **argv) {
    (void)argc; (void)argv;
    char plain[] = "plain-XXXXXX", text[] = "text-XXXXXX";
    int fd = mkstemp(plain);
    if (fd < 0 || write(fd, "data", 4) != 4) return 1;
    close(fd);
    fd = mkstemp(text);
    if (fd < 0 || write(fd, "echo no #! line\n", 16) != 16) return 1;
    fchmod(fd, 0755);
    close(fd);
    try_exec("missing", "/no/such/program");
    try_exec("not executable", plain);
    try_exec("directory", "/");
    try_exec("not a program", text);
    unlink(plain);
    unlink(text);
    return 0;
}

int vfork_main(int argc, char **argv) {
    (void)argc; (void)argv;
    char self[4096];
    if (self_path(self, sizeof self)) return 1;
    static volatile int shared;
    fflush(stdout);
    pid_t pid = vfork();
    if (pid == 0) {
        shared = 42;                 /* the parent's memory, until _exit */
        _exit(5);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("the vfork child wrote into its parent: %d\n", shared);
    describe("vfork child", status);
    fflush(stdout);

    pid = vfork();
    if (pid == 0) {
        char *args[] = {"vforked", "argv0", NULL};
        execv(self, args);
        _exit(127);
    }
    waitpid(pid, &status, 0);
    describe("vfork+exec", status);
    fflush(stdout);

    char *args[] = {"spawned", "hello", "spawn", NULL};
    pid_t spawned;
    int error = posix_spawn(&spawned, self, NULL, NULL, args, environ);
    printf("posix_spawn: %s\n", error ? strerror(error) : "ok");
    if (!error) {
        waitpid(spawned, &status, 0);
        describe("spawned", status);
    }
    char *missing[] = {"missing", NULL};
    error = posix_spawn(&spawned, "/no/such/program", NULL, NULL, missing, environ);
    printf("posix_spawn of a missing program: %s\n", strerror(error));
    if (!error) waitpid(spawned, &status, 0);
    return 0;
}

int groups_main(int argc, char **argv) {
    (void)argc; (void)argv;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (setpgid(0, 0) != 0) _exit(1);
        if (getpgid(0) != getpid() || getpgrp() != getpid()) _exit(2);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    describe("own group", status);
    pid = fork();
    if (pid == 0) {
        pid_t session = setsid();
        if (session != getpid() || getsid(0) != getpid()) _exit(1);
        errno = 0;
        if (setsid() != -1 || errno != EPERM) _exit(2);
        _exit(0);
    }
    waitpid(pid, &status, 0);
    describe("own session", status);
    /* a group of two children killed together */
    pid_t leader = fork();
    if (leader == 0) { setpgid(0, 0); for (;;) sleep(10); }
    setpgid(leader, leader);
    pid_t member = fork();
    if (member == 0) { setpgid(0, leader); for (;;) sleep(10); }
    setpgid(member, leader);
    kill(-leader, SIGTERM);
    waitpid(leader, &status, 0);
    describe("group leader", status);
    waitpid(member, &status, 0);
    describe("group member", status);
    return 0;
}

int chain_main(int argc, char **argv) {
    (void)argc; (void)argv;
    int depth = 0;
    while (depth < 10) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) return 1;
        if (pid > 0) {
            int status;
            waitpid(pid, &status, 0);
            if (depth == 0) describe("chain of 10", status);
            fflush(stdout);
            _exit(WIFEXITED(status) ? WEXITSTATUS(status) + 1 : 100);
        }
        depth++;
    }
    _exit(0);
}

int waitid_main(int argc, char **argv) {
    (void)argc; (void)argv;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) { usleep(100000); _exit(7); }
    siginfo_t info;
    memset(&info, 0xff, sizeof info);
    int r = waitid(P_PID, pid, &info, WEXITED | WNOHANG);
    printf("WNOHANG too early: %d, si_pid %d\n", r, info.si_pid);
    r = waitid(P_PID, pid, &info, WEXITED);
    printf("waitid: %d, right pid %d, signo %d, code %d, status %d\n", r,
           info.si_pid == pid, info.si_signo, info.si_code, info.si_status);
    int status;
    pid = fork();
    if (pid == 0) _exit(9);
    while (waitpid(pid, &status, WNOHANG) == 0)
        usleep(1000);
    describe("polled child", status);
    return 0;
}

int runprog_main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: runprog PROGRAM [ARGS...]\n");
        return 2;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        execv(argv[1], argv + 1);
        perror("execv");
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid) return 1;
    describe("program", status);
    return 0;
}

/* vforkfork: busybox timeout's pattern. A vfork child notes getppid(),
 * forks and exits; the fork's child outlives it. The parent must resume
 * once, in its own process (the grandchild once resumed it a second time),
 * and be the child's parent (xemu once answered the grandparent, which
 * busybox timeout then killed). */
int vforkfork_main(int argc, char **argv) {
    (void)argc; (void)argv;
    fflush(stdout);
    pid_t me = getpid();
    volatile int parent_seen = 0;
    pid_t pid = vfork();
    if (pid == 0) {
        parent_seen = getppid() == me;      /* the vfork child shares our memory */
        if (fork() == 0) {
            usleep(100000);
            _exit(0);
        }
        _exit(0);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid)
        return 1;
    printf("vfork child exited %d, its getppid was us: %s\n", WEXITSTATUS(status),
           parent_seen ? "yes" : "no");
    usleep(300000);
    printf("parent resumed once\n");
    return 0;
}

/* Descriptors for processes, and closing ranges of descriptors. */
int pidfds_main(int argc, char **argv) {
    (void)argc; (void)argv;
    int keep[4];
    for (int i = 0; i < 4; i++)
        keep[i] = dup(1);
    printf("close_range over two: %d\n", close_range(keep[2], keep[3], 0));
    printf("the first two still open: %d, the last two closed: %d\n",
           fcntl(keep[0], F_GETFD) >= 0 && fcntl(keep[1], F_GETFD) >= 0,
           fcntl(keep[2], F_GETFD) < 0 && fcntl(keep[3], F_GETFD) < 0);
    int marking = close_range(keep[0], keep[1], CLOSE_RANGE_CLOEXEC);
    printf("CLOSE_RANGE_CLOEXEC: %d, marked: %d\n", marking,
           (fcntl(keep[0], F_GETFD) & FD_CLOEXEC) && (fcntl(keep[1], F_GETFD) & FD_CLOEXEC));
    printf("a reversed range: %s\n", close_range(9, 3, 0) < 0 && errno == EINVAL ? "EINVAL" : "?");
    pid_t child = fork();
    if (child == 0) {
        pause();
        _exit(0);
    }
    int pidfd = syscall(SYS_pidfd_open, child, 0);
    printf("pidfd_open: %s, close-on-exec %d\n", pidfd >= 0 ? "ok" : strerror(errno),
           pidfd >= 0 && (fcntl(pidfd, F_GETFD) & FD_CLOEXEC));
    struct pollfd ready = {pidfd, POLLIN, 0};
    printf("readable while the child lives: %d\n", poll(&ready, 1, 50));
    printf("pidfd_send_signal SIGTERM: %ld\n", syscall(SYS_pidfd_send_signal, pidfd, SIGTERM,
                                                       NULL, 0));
    printf("readable once it ended: %d\n", poll(&ready, 1, 5000));
    siginfo_t info;
    memset(&info, 0, sizeof info);
    int waited = waitid(P_PIDFD, pidfd, &info, WEXITED);
    printf("waitid(P_PIDFD): %d, killed by SIGTERM %d, that child %d\n", waited,
           info.si_code == CLD_KILLED && info.si_status == SIGTERM, info.si_pid == child);
    return 0;
}
