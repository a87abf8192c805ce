/* Guests that try to exhaust their host. Each must end in an error the
 * guest can see, or in the guest's own SIGSEGV; never in an emulator crash.
 *   hog      malloc 1 MiB blocks until malloc fails (run with --memory)
 *   recurse  unbounded recursion: SIGSEGV at the stack limit
 *   bigio    a huge iovec count, a giant read size, a 3.5 GiB mmap
 *   spin     a loop that never makes a system call (run with --timeout) */
#pragma GCC diagnostic ignored "-Winfinite-recursion"   /* on purpose */
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

int hog_main(int argc, char **argv) {
    (void)argc; (void)argv;
    long blocks = 0;
    char *p;
    while ((p = malloc(1 << 20)) != NULL) {
        p[0] = 1;
        if (++blocks > 1 << 20) break;     /* a terabyte: the cap did not work */
    }
    printf("heap grew past 16 MiB: %d\n", blocks > 16);
    printf("then malloc failed: %d\n", p == NULL);
    return 0;
}

static int depth(int n) {
    volatile char frame[256];
    frame[0] = (char)n;
    return depth(n + 1) + frame[0];
}

int recurse_main(int argc, char **argv) {
    (void)argv;
    printf("recursing\n");
    fflush(stdout);
    return depth(argc);
}

int bigio_main(int argc, char **argv) {
    (void)argc; (void)argv;
    static struct iovec iov[2048];
    for (int i = 0; i < 2048; i++) { iov[i].iov_base = "x"; iov[i].iov_len = 1; }
    errno = 0;
    ssize_t n = writev(1, iov, 2048);
    printf("writev of 2048 iovecs: %zd %s\n", n, strerror(errno));
    int fds[2];
    if (pipe(fds) != 0) return 1;
    if (write(fds[1], "0123456789", 10) != 10) return 1;
    char small[16];
    static volatile size_t giant = (size_t)1 << 30;   /* far past `small` */
    n = read(fds[0], small, giant);
    printf("giant read size: %zd\n", n);
    errno = 0;
    void *big = mmap(NULL, (size_t)3584 << 20, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("3.5 GiB mmap refused: %d %s\n", big == MAP_FAILED, strerror(errno));
    return 0;
}

int spin_main(int argc, char **argv) {
    (void)argc; (void)argv;
    static volatile unsigned long turns;
    for (;;)
        turns++;
}
