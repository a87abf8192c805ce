/* Benchmark workloads, one static binary per arch: bench WORKLOAD N
 *   compute N   integer mixing loop (no system calls in the loop)
 *   memory N    sieve of Eratosthenes over N bytes, then memcpy of the sieve
 *   float N     floating point: a logistic map with square roots
 *   branchy N   qsort of N integers with a comparator (indirect calls)
 *   syscalls N  N getppid() calls: the cost of one trip into the emulator
 *   writes N    N one-byte writes to /dev/null: a call with a file and a buffer
 *   clocks N    N clock_gettime(CLOCK_MONOTONIC) calls made as system calls
 *   mmaps N     N one-page anonymous mmaps, all kept: the map grows as a
 *               program's many small mappings make it (a mapping storm)
 *   spawn N     N times fork, exec of this program (noop), wait: a new process
 *   threads N   compute N split over 4 threads (parallel where the CPUs are)
 *   noop N      nothing: the start-up of a static program */
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
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

#define THREADS 4

static void *compute_share(void *arg) {
    return (void *)compute(*(long *)arg);
}

static unsigned long threads(long n) {
    pthread_t thread[THREADS];
    long share = n / THREADS;
    unsigned long check = 0;
    for (int i = 0; i < THREADS; i++)
        if (pthread_create(&thread[i], NULL, compute_share, &share) != 0)
            return 0;
    for (int i = 0; i < THREADS; i++) {
        void *result;
        pthread_join(thread[i], &result);
        check ^= (unsigned long)result;
    }
    return check | 1;
}

static long syscalls(long n) {
    long sum = 0;
    for (long i = 0; i < n; i++)
        sum += syscall(SYS_getppid);
    return sum != 0;
}

static long writes(long n) {
    int fd = open("/dev/null", O_WRONLY);
    long written = 0;
    for (long i = 0; i < n; i++)
        written += write(fd, "x", 1);
    close(fd);
    return written;
}

static long clocks(long n) {
    struct timespec now;
    long sum = 0;
    for (long i = 0; i < n; i++) {
        syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &now);
        sum += now.tv_nsec & 1;
    }
    return sum >= 0;
}

static long mmaps(long n) {
    long touched = 0;
    for (long i = 0; i < n; i++) {
        char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                          -1, 0);
        if (page == MAP_FAILED)
            return -1;
        page[0] = 1;
        touched += page[0];
    }
    return touched;
}

static long spawn(long n) {
    char self[4096];
    ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
    if (length < 0) return -1;
    self[length] = 0;
    for (long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            execl(self, self, "noop", "0", (char *)NULL);
            _exit(127);
        }
        int status;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)
                || WEXITSTATUS(status) != 0)
            return -1;
    }
    return n;
}

static long memory(long n) {
    char *sieve = malloc(n), *copy = malloc(n);
    if (!sieve || !copy) return -1;
    memset(sieve, 1, n);
    for (long i = 2; i * i < n; i++)
        if (sieve[i])
            for (long j = i * i; j < n; j += i)
                sieve[j] = 0;
    long primes = 0;
    for (int round = 0; round < 4; round++) {
        memcpy(copy, sieve, n);
        primes = 0;
        for (long i = 2; i < n; i++)
            primes += copy[i];
    }
    free(sieve);
    free(copy);
    return primes;
}

static double floating(long n) {
    double x = 0.5, sum = 0;
    for (long i = 0; i < n; i++) {
        x = 3.9 * x * (1.0 - x);
        sum += sqrt(x + 1.0) / (1.0 + x * x);
    }
    return sum;
}

static int by_value(const void *a, const void *b) {
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return (x > y) - (x < y);
}

static unsigned long branchy(long n) {
    unsigned *values = malloc(n * sizeof *values);
    if (!values) return 0;
    unsigned seed = 12345;
    for (long i = 0; i < n; i++)
        values[i] = seed = seed * 1103515245u + 12345u;
    qsort(values, n, sizeof *values, by_value);
    unsigned long check = values[0] ^ values[n / 2] ^ values[n - 1];
    free(values);
    return check;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s compute|memory|float|branchy|syscalls|writes|clocks|mmaps|spawn|threads|"
                "noop N\n",
                argv[0]);
        return 2;
    }
    long n = atol(argv[2]);
    if (strcmp(argv[1], "compute") == 0)
        printf("%lx\n", compute(n));
    else if (strcmp(argv[1], "syscalls") == 0)
        printf("%ld\n", syscalls(n));
    else if (strcmp(argv[1], "writes") == 0)
        printf("%ld\n", writes(n));
    else if (strcmp(argv[1], "clocks") == 0)
        printf("%ld\n", clocks(n));
    else if (strcmp(argv[1], "mmaps") == 0)
        printf("%ld\n", mmaps(n));
    else if (strcmp(argv[1], "spawn") == 0)
        return spawn(n) == n ? 0 : 1;
    else if (strcmp(argv[1], "memory") == 0)
        printf("%ld\n", memory(n));
    else if (strcmp(argv[1], "float") == 0)
        printf("%.6f\n", floating(n));
    else if (strcmp(argv[1], "branchy") == 0)
        printf("%lx\n", branchy(n));
    else if (strcmp(argv[1], "threads") == 0)
        printf("%lx\n", threads(n));
    else if (strcmp(argv[1], "noop") == 0)
        return 0;
    else
        return 2;
    return 0;
}
