/* The labs' guest: freestanding (no libc), a few KB per arch, so it ships
 * inside the xemu package. It reads one line from stdin, "MODE N", and:
 *   compute N    N rounds of arithmetic and memory, then prints a checksum
 *   syscalls N   N getppid system calls
 *   spin         computes until it is killed (for ps)
 * and exits 0. Built by the Makefile beside it with Debian's cross compilers. */
#include <asm/unistd.h>

static long syscall3(long number, long a, long b, long c)
{
#if defined(__x86_64__)
    long result;
    __asm__ volatile("syscall" : "=a"(result) : "a"(number), "D"(a), "S"(b), "d"(c)
                     : "rcx", "r11", "memory");
    return result;
#elif defined(__i386__)
    long result;
    __asm__ volatile("int $0x80" : "=a"(result) : "a"(number), "b"(a), "c"(b), "d"(c)
                     : "memory");
    return result;
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = number, x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b, x2 __asm__("x2") = c;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
    return x0;
#elif defined(__arm__)
    register long r7 __asm__("r7") = number, r0 __asm__("r0") = a;
    register long r1 __asm__("r1") = b, r2 __asm__("r2") = c;
    __asm__ volatile("svc 0" : "+r"(r0) : "r"(r7), "r"(r1), "r"(r2) : "memory");
    return r0;
#elif defined(__powerpc__)
    register long r0 __asm__("r0") = number, r3 __asm__("r3") = a;
    register long r4 __asm__("r4") = b, r5 __asm__("r5") = c;
    __asm__ volatile("sc" : "+r"(r3), "+r"(r0), "+r"(r4), "+r"(r5)
                     : : "memory", "cr0", "ctr", "xer", "r6", "r7", "r8", "r9", "r10",
                         "r11", "r12");
    return r3;
#else
#error "no syscall sequence for this arch"
#endif
}

static void say(const char *text, long length) { syscall3(__NR_write, 1, (long)text, length); }

static void say_number(unsigned long value)
{
    char digits[24];
    int at = sizeof digits;
    digits[--at] = '\n';
    do {
        digits[--at] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    say(digits + at, sizeof digits - at);
}

/* Arithmetic with a load and a store each round, as real programs mix
 * them: memory is where translation pays most (every access goes through
 * the emulated MMU). */
static unsigned long table[4096];

static unsigned long compute(unsigned long rounds)
{
    unsigned long x = 12345, sum = 0;
    for (unsigned long i = 0; i < rounds; i++) {
        x = x * 1103515245u + 12345u;
        unsigned long slot = (x >> 9) & 4095;
        sum += table[slot] ^ (x >> 7);
        table[(slot * 7) & 4095] = sum;
    }
    return sum;
}

static int same(const char *a, const char *b)
{
    while (*b && *a == *b) a++, b++;
    return *b == 0 && (*a == ' ' || *a == 0 || *a == '\n');
}

int main(void)
{
    char line[64];
    long got = syscall3(__NR_read, 0, (long)line, sizeof line - 1);
    if (got <= 0) {
        say("labguest: give a line: compute N, syscalls N or spin\n", 53);
        return 2;
    }
    line[got] = 0;
    unsigned long n = 0;
    const char *p = line;
    while (*p && *p != ' ') p++;
    while (*p == ' ') p++;
    while (*p >= '0' && *p <= '9') n = n * 10 + (unsigned long)(*p++ - '0');
    if (same(line, "compute")) {
        say("checksum ", 9);
        say_number(compute(n));
    } else if (same(line, "syscalls")) {
        for (unsigned long i = 0; i < n; i++)
            syscall3(__NR_getppid, 0, 0, 0);
        say("done\n", 5);
    } else if (same(line, "spin")) {
        for (volatile unsigned long sink = 0;; sink += compute(1000000))
            ;
    } else {
        say("labguest: unknown mode\n", 23);
        return 2;
    }
    return 0;
}

void _start(void)
{
    syscall3(__NR_exit_group, main(), 0, 0);
}
