/* The calls xemu's TCG answers in machine code (getpid, the ids,
 * clock_gettime, gettimeofday, time, write to a file or device), at the
 * edges where it must leave them to Python: a pointer that is read-only,
 * missing or straddles a hole, an unknown clock, a time zone, a closed or
 * duplicated-over descriptor, a full device. Raw system calls, so libc's
 * own checks and vDSO do not answer first. (A write from a buffer that
 * runs into a hole writes the bytes before it, as Linux does; qemu-user
 * refuses it whole with EFAULT.) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static void said(const char *what, long result) {
    if (result < 0)
        printf("%s: -1 %s\n", what, strerror(errno));
    else
        printf("%s: %ld\n", what, result);
}

int fastcalls_main(int argc, char **argv) {
    (void)argc; (void)argv;
    long page = sysconf(_SC_PAGESIZE);
    /* a writable page, a read-only one, then a hole (PROT_NONE) */
    char *area = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED)
        return 1;
    char *readonly = area + page, *hole = area + 2 * page;
    mprotect(readonly, page, PROT_READ);
    mprotect(hole, page, PROT_NONE);

    printf("getpid agrees: %d\n", syscall(SYS_getpid) == getpid());
    printf("getppid > 0: %d\n", syscall(SYS_getppid) > 0);
    printf("ids agree: %d\n", syscall(SYS_getuid) == (long)getuid()
           && syscall(SYS_geteuid) == (long)geteuid() && syscall(SYS_getgid) == (long)getgid()
           && syscall(SYS_getegid) == (long)getegid());

    struct timespec *ts = (struct timespec *)area;
    said("clock_gettime monotonic", syscall(SYS_clock_gettime, CLOCK_MONOTONIC, ts));
    printf("nsec in range: %d\n", ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000);
    said("clock_gettime to read-only", syscall(SYS_clock_gettime, CLOCK_MONOTONIC, readonly));
    said("clock_gettime to NULL", syscall(SYS_clock_gettime, CLOCK_REALTIME, NULL));
    said("clock_gettime to a hole", syscall(SYS_clock_gettime, CLOCK_REALTIME, hole));
    said("clock_gettime unknown clock", syscall(SYS_clock_gettime, 12345, ts));
    said("clock_gettime across into read-only",
         syscall(SYS_clock_gettime, CLOCK_MONOTONIC, readonly - 4));

    struct timeval *tv = (struct timeval *)(area + 64);
    struct timezone *tz = (struct timezone *)(area + 128);
    memset(tz, 0x55, sizeof *tz);
    said("gettimeofday", syscall(SYS_gettimeofday, tv, NULL));
    said("gettimeofday with a zone", syscall(SYS_gettimeofday, tv, tz));
    printf("usec in range: %d\n", tv->tv_usec >= 0 && tv->tv_usec < 1000000);
    said("gettimeofday nothing", syscall(SYS_gettimeofday, NULL, NULL));
    said("gettimeofday to read-only", syscall(SYS_gettimeofday, readonly, NULL));
#ifdef SYS_time
    time_t *stored = (time_t *)(area + 256);
    long now = syscall(SYS_time, NULL);
    long again = syscall(SYS_time, stored);
    printf("time agrees: %d\n", again - now <= 1 && *stored == again);
#else
    printf("time agrees: 1\n");           /* no time(2) here (AArch64) */
#endif

    int null = open("/dev/null", O_WRONLY);
    said("write to /dev/null", write(null, "x", 1));
    said("write of nothing", write(null, area, 0));
    said("write from read-only", write(null, readonly, page));
    int full = open("/dev/full", O_WRONLY);
    said("write to /dev/full", write(full, "x", 1));
    said("write to a read-only descriptor", write(open("/dev/null", O_RDONLY), "x", 1));

    char name[] = "/tmp/xemu-fastcalls-XXXXXX";
    int file = mkstemp(name);
    unlink(name);
    said("write to a file", write(file, "abcd", 4));
    said("write from a hole", write(file, hole, 1));
    memcpy(readonly - 4, "efgh", 4);
    mprotect(readonly, page, PROT_NONE);
    said("write running into a hole", write(file, readonly - 4, 8));
    mprotect(readonly, page, PROT_READ);
    int copy = dup(file);
    dup2(null, file);                     /* the file's number now means /dev/null */
    said("write after dup2", write(file, "ijkl", 4));
    struct stat st;
    fstat(copy, &st);
    printf("file size: %ld\n", (long)st.st_size);
    close(file);
    said("write after close", write(file, "x", 1));
    said("write to -1", write(-1, "x", 1));
    said("write to 1000000", write(1000000, "x", 1));
    return 0;
}
