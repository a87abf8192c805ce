/* MAP_SHARED mappings of a file are the file: a store through the mapping
 * is read back with read(2), a pwrite is seen in the mapping, a forked
 * child's store is the parent's, mremap keeps it the same file, a
 * shared writable mapping of a read-only descriptor is refused, and a page
 * past the file's end raises SIGBUS (BUS_ADRERR) at its address, both for a
 * file short from the start and for one truncated under the mapping. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static sigjmp_buf bus_return;
static volatile int bus_code;
static volatile char *bus_address;

static void on_bus(int signo, siginfo_t *info, void *context) {
    (void)signo; (void)context;
    bus_code = info->si_code;
    bus_address = info->si_addr;
    siglongjmp(bus_return, 1);
}

static __attribute__((noinline)) int touch(volatile char *p) {
    return *p;
}

/* Touch p: "SIGBUS code=C at +OFFSET" from base, or the byte read. */
static void probe(const char *what, char *base, long offset) {
    bus_code = 0;
    if (sigsetjmp(bus_return, 1) == 0) {
        int value = touch(base + offset);
        printf("%s: read %d, no signal\n", what, value);
    } else {
        printf("%s: SIGBUS code=%d at +%ld\n", what, bus_code, (long)(bus_address - base));
    }
}

int sharedfile_main(int argc, char **argv) {
    (void)argc; (void)argv;
    long page = sysconf(_SC_PAGESIZE);
    char name[] = "/tmp/xemu-sharedfile-XXXXXX";
    int fd = mkstemp(name);
    if (fd < 0 || ftruncate(fd, 2 * page) < 0) {
        perror("file");
        return 1;
    }
    char *p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    char buf[64] = {0};
    strcpy(p, "through the mapping");
    pread(fd, buf, 19, 0);
    printf("read(2) sees: %s\n", buf);
    pwrite(fd, "by pwrite", 10, page);
    printf("the mapping sees: %s\n", p + page);

    pid_t child = fork();
    if (child == 0) {
        strcpy(p + 100, "from the child");
        _exit(0);
    }
    waitpid(child, NULL, 0);
    printf("after the child: %s\n", p + 100);

    if (ftruncate(fd, 3 * page) < 0)
        perror("ftruncate");
    char *q = mremap(p, 2 * page, 3 * page, MREMAP_MAYMOVE);
    if (q == MAP_FAILED) {
        perror("mremap");
        return 1;
    }
    pwrite(fd, "third page", 11, 2 * page);
    printf("grown: %s, %s, %s\n", q, q + page, q + 2 * page);
    printf("msync: %d\n", msync(q, 3 * page, MS_SYNC));

    int readonly = open(name, O_RDONLY);
    void *refused = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, readonly, 0);
    printf("shared writable from O_RDONLY: %s\n",
           refused == MAP_FAILED ? strerror(errno) : "mapped");

    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_bus;
    action.sa_flags = SA_SIGINFO;
    sigaction(SIGBUS, &action, NULL);
    if (ftruncate(fd, page) < 0)
        perror("ftruncate");
    probe("truncated under the mapping", q, 2 * page + 8);
    probe("within the file", q, 8);

    char *r = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    probe("past the end from the start", r, page + 16);
    unlink(name);
    return 0;
}

/* No handler: a store past the file's end ends the process with SIGBUS,
 * after what it printed before. */
int sharedbus_main(int argc, char **argv) {
    (void)argc; (void)argv;
    long page = sysconf(_SC_PAGESIZE);
    char name[] = "/tmp/xemu-sharedbus-XXXXXX";
    int fd = mkstemp(name);
    unlink(name);
    if (fd < 0 || ftruncate(fd, page) < 0) {
        perror("file");
        return 1;
    }
    volatile char *p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    p[0] = 1;
    printf("inside the file: stored\n");
    fflush(stdout);
    p[page] = 2;
    printf("past its end: stored\n");
    return 0;
}
