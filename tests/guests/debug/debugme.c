/* The GDB stub's test guest: freestanding (no libc), so the binary with its
   debug info is a few KB. It adds 1, 2 and 3 to a global through a function
   and exits with the sum: a breakpoint, steps, a watchpoint and the exit
   status each have something to see. */
#include <asm/unistd.h>

volatile int counter;

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

int add(int amount)
{
    counter = counter + amount;
    return counter;
}

int main(void)
{
    for (int i = 1; i <= 3; i++)
        add(i);
    syscall3(__NR_write, 1, (long)"counted\n", 8);
    return counter;
}

void _start(void)
{
    syscall3(__NR_exit_group, main(), 0, 0);
}
