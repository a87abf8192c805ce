/* The guest's own /proc: every spelling of /proc/self shows the guest,
 * never the emulator (its maps, its memory, its exe, its descriptors).
 * Prints facts that are the same on Linux and under an emulator that
 * gets this right; argv[1..] are echoed through /proc/self/cmdline. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char buf[1 << 16];

static ssize_t slurp(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -errno;
    ssize_t total = 0, n;
    while ((n = read(fd, buf + total, sizeof buf - 1 - total)) > 0) total += n;
    close(fd);
    buf[total] = 0;
    return total;
}

/* maps that show only the guest: no python, no libpython, no unicorn, no
 * libc.so of the host (the guests are static) */
static void maps(const char *label, const char *path) {
    ssize_t n = slurp(path);
    int clean = n > 0 && !strstr(buf, "python") && !strstr(buf, "libc.so")
                && !strstr(buf, "unicorn") && !strstr(buf, ".so");
    int has_stack = n > 0 && strstr(buf, "[stack]") != NULL;
    printf("maps %s: read %d guest-only %d stack %d\n", label, n > 0, clean, has_stack);
}

static void exe(const char *label, const char *path, const char *want) {
    char got[4096] = {0};
    ssize_t n = readlink(path, got, sizeof got - 1);
    printf("readlink %s: %s\n", label, n < 0 ? strerror(errno)
           : strcmp(got, want) == 0 ? "the guest's exe" : "WRONG");
}

static const char *err(int fd) {
    if (fd >= 0) { close(fd); return "opened"; }
    return strerror(errno);
}

int procself_main(int argc, char **argv) {
    char self[4096] = {0}, path[256];
    if (readlink("/proc/self/exe", self, sizeof self - 1) <= 0) {
        printf("no /proc/self/exe\n");
        return 1;
    }
    pid_t pid = getpid();
    /* memory: never xemu's */
    snprintf(path, sizeof path, "/proc/%d/mem", pid);
    printf("mem by pid for write: %s\n", err(open(path, O_RDWR)));
    printf("self mem for write: %s\n", err(open("/proc/self/mem", O_WRONLY)));
    printf("thread-self mem: %s\n", err(open("/proc/thread-self/mem", O_RDWR)));
    snprintf(path, sizeof path, "/proc/%d/task/%d/mem", pid, pid);
    printf("task mem: %s\n", err(open(path, O_RDWR)));
    /* maps by every spelling */
    maps("/proc/self/maps", "/proc/self/maps");
    maps("/proc//self/maps", "/proc//self/maps");
    maps("/proc/./self/maps", "/proc/./self/maps");
    maps("/proc/self/../self/maps", "/proc/self/../self/maps");
    maps("/proc/thread-self/maps", "/proc/thread-self/maps");
    snprintf(path, sizeof path, "/proc/%d/maps", pid);
    maps("/proc/PID/maps", path);
    snprintf(path, sizeof path, "/proc/%d/task/%d/maps", pid, pid);
    maps("/proc/PID/task/TID/maps", path);
    /* relative to a directory: cwd at /proc, and a dirfd of /proc/self */
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) return 1;
    if (chdir("/proc") == 0) { maps("self/maps", "self/maps"); maps("./self//maps", "./self//maps"); }
    if (chdir(cwd) != 0) return 1;
    int dir = open("/proc/self", O_RDONLY | O_DIRECTORY);
    int fd = dir < 0 ? -1 : openat(dir, "maps", O_RDONLY);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    if (n > 0) buf[n] = 0;
    printf("openat(/proc/self, maps): guest-only %d\n", n > 0 && !strstr(buf, "python"));
    if (fd >= 0) close(fd);
    printf("openat(/proc/self, mem): %s\n", err(dir < 0 ? -1 : openat(dir, "mem", O_RDWR)));
    if (dir >= 0 && fchdir(dir) == 0) {
        maps("fchdir(/proc/self), maps", "maps");
        printf("fchdir(/proc/self), mem: %s\n", err(open("mem", O_RDWR)));
        if (chdir(cwd) != 0) return 1;
    }
    if (dir >= 0) close(dir);
    /* a symlink the guest makes to /proc/self */
    char link[128];
    snprintf(link, sizeof link, "/tmp/xemu-procself-%d", pid);
    unlink(link);
    if (symlink("/proc/self", link) == 0) {
        snprintf(path, sizeof path, "%s/maps", link);
        maps("symlink/maps", path);
        snprintf(path, sizeof path, "%s/exe", link);
        exe("symlink/exe", path, self);
        snprintf(path, sizeof path, "%s/mem", link);
        printf("symlink mem: %s\n", err(open(path, O_RDWR)));
        unlink(link);
    }
    /* exe by several spellings */
    exe("/proc/self/exe", "/proc/self/exe", self);
    exe("/proc//self/exe", "/proc//self/exe", self);
    exe("/proc/./self/./exe", "/proc/./self/./exe", self);
    exe("/proc/thread-self/exe", "/proc/thread-self/exe", self);
    snprintf(path, sizeof path, "/proc/%d/exe", pid);
    exe("/proc/PID/exe", path, self);
    snprintf(path, sizeof path, "/proc/%d/task/%d/exe", pid, pid);
    exe("/proc/PID/task/TID/exe", path, self);
    struct stat a, b;
    printf("stat exe is the guest's: %d\n", stat("/proc/self/exe", &a) == 0 &&
           stat(self, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev);
    /* cmdline: the guest's argv */
    n = slurp("/proc/self/cmdline");
    int ok = n > 0;
    char *p = buf + strlen(buf) + 1;       /* argv[0]; then the program's argv */
    for (int i = 0; ok && i < argc; i++) {
        ok = strcmp(p, argv[i]) == 0;
        p += strlen(p) + 1;
    }
    printf("cmdline is argv: %d\n", ok && p == buf + n);
    printf("environ has XEMU_PROCSELF: %d\n", slurp("/proc/self/environ") > 0 &&
           memmem(buf, sizeof buf, "XEMU_PROCSELF=yes", 17) != NULL);
    n = slurp("/proc/self/comm");
    printf("comm: %s", n > 0 ? buf : "none\n");
    n = slurp("/proc/self/status");
    printf("status names pid: %d\n", n > 0 && strstr(buf, "\nPid:\t") != NULL
           && !strstr(buf, "python"));
    n = slurp("/proc/self/stat");
    printf("stat starts with pid: %d\n", n > 0 && atoi(buf) == pid);
    printf("unknown entry: %s\n", err(open("/proc/self/environ2", O_RDONLY)));
    printf("smaps: %s\n", err(open("/proc/self/smaps", O_RDONLY)));
    printf("cwd link: %d\n", readlink("/proc/self/cwd", path, sizeof path) > 0);
    /* the descriptor table is the guest's */
    int mine = open("/proc/self/cmdline", O_RDONLY);
    DIR *d = opendir("/proc/self/fd");
    int count = 0, seen_mine = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        count++;
        if (atoi(e->d_name) == mine) seen_mine = 1;
    }
    if (d) closedir(d);
    printf("fd listing: some %d, mine %d\n", count >= 3, seen_mine);
    close(mine);
    printf("fd 99: %s\n", err(open("/proc/self/fd/99", O_RDONLY)));
    d = opendir("/proc/self/task");
    count = 0;
    int tid_ok = 0;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        count++;
        tid_ok = atoi(e->d_name) == pid;
    }
    if (d) closedir(d);
    printf("task: %d entry, the tid %d\n", count, tid_ok);
    printf("access mem W: %s\n", access("/proc/self/mem", W_OK) == 0 ? "ok" : strerror(errno));
    return 0;
}
