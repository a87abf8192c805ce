/* Benchmark workloads, one static binary per arch: bench WORKLOAD N
 *   compute N   integer mixing loop (no system calls in the loop)
 *   syscalls N  N getppid() calls: the cost of one trip into the emulator */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static unsigned long compute(long n) {
    unsigned int a = 1, b = 2, c = 3;
    for (long i = 0; i < n; i++) {
        a = a * 1103515245u + 12345u;
        b ^= a >> 7;
        c += (b << 3) | (a & 15);
        if (c & 1) b += c; else a ^= c;
    }
    return a ^ b ^ c;
}

static long syscalls(long n) {
    long sum = 0;
    for (long i = 0; i < n; i++)
        sum += syscall(SYS_getppid);
    return sum != 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s compute|syscalls N\n", argv[0]);
        return 2;
    }
    long n = atol(argv[2]);
    if (strcmp(argv[1], "compute") == 0)
        printf("%lx\n", compute(n));
    else if (strcmp(argv[1], "syscalls") == 0)
        printf("%ld\n", syscalls(n));
    else
        return 2;
    return 0;
}
