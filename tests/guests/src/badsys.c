/* A system call no kernel has: must fail with ENOSYS, never crash. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

int badsys_main(int argc, char **argv) {
    (void)argc; (void)argv;
    long r = syscall(4000);
    printf("result=%ld errno=%s\n", r, strerror(errno));
    return 0;
}
