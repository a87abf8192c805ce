/* Vector registers: AltiVec on ppc, NEON on arm, Advanced SIMD on aarch64,
 * SSE on x86. The kernel advertises them in AT_HWCAP; this checks that the
 * emulated CPU really has them switched on. */
/* Built with the arch's SIMD flags (Makefile SIMD_<arch>), alone. */
#include <stdio.h>
#include <sys/auxv.h>

typedef int v4si __attribute__((vector_size(16)));
typedef float v4sf __attribute__((vector_size(16)));

static volatile int seed = 3;

int simd_main(int argc, char **argv) {
    (void)argc; (void)argv;
    v4si a = {seed, seed + 1, seed + 2, seed + 3};
    v4si b = {10, 20, 30, 40};
    v4si c = a * b + a;
    v4sf x = {1.5f, 2.5f, (float)seed, -4.0f};
    v4sf y = x * x - x;
    printf("ints: %d %d %d %d\n", c[0], c[1], c[2], c[3]);
    printf("floats: %g %g %g %g\n", y[0], y[1], y[2], y[3]);
    printf("hwcap nonzero: %d\n", getauxval(AT_HWCAP) != 0);
    return 0;
}

/* Vector registers the interrupted code holds come back after a handler
 * that clobbers them (the signal frame's vector state, or a kept context):
 * two registers the ABI lets any function change are set, the process
 * signals itself with a raw system call, whose return delivers the signal,
 * and the registers are read back, all in one asm block. */
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

static void vec_clobber(int sig) {
    (void)sig;
#if defined(__ALTIVEC__)
    asm volatile("vspltisw 10,-1\n\tvspltisw 11,-1" ::: "v10", "v11");
#elif defined(__aarch64__)
    asm volatile("movi v16.16b, #0xff\n\tmovi v17.16b, #0xff" ::: "v16", "v17");
#elif defined(__ARM_NEON)
    asm volatile("vmov.i8 q8, #0xff\n\tvmov.i8 q9, #0xff" ::: "q8", "q9");
#elif defined(__SSE2__)
    asm volatile("pcmpeqd %%xmm6, %%xmm6\n\tpcmpeqd %%xmm7, %%xmm7" ::: "xmm6", "xmm7");
#endif
}

int vecsignal_main(int argc, char **argv) {
    (void)argc; (void)argv;
    signal(SIGUSR1, vec_clobber);
    unsigned int out[8] __attribute__((aligned(16)));
    long pid = getpid();
    memset(out, 0, sizeof out);
#if defined(__ALTIVEC__)
    register long r0 asm("r0") = SYS_kill;
    register long r3 asm("r3") = pid;
    register long r4 asm("r4") = SIGUSR1;
    asm volatile("vspltisw 10,5\n\tvspltisw 11,3\n\tsc\n\t"
                 "stvx 10,0,%3\n\tstvx 11,0,%4"
                 : "+r"(r0), "+r"(r3), "+r"(r4) : "b"(out), "b"(out + 4)
                 : "v10", "v11", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "cr0",
                   "ctr", "memory");
#elif defined(__aarch64__)
    register long x8 asm("x8") = SYS_kill;
    register long x0 asm("x0") = pid;
    register long x1 asm("x1") = SIGUSR1;
    asm volatile("movi v16.4s, #5\n\tmovi v17.4s, #3\n\tsvc #0\n\t"
                 "st1 {v16.4s}, [%3]\n\tst1 {v17.4s}, [%4]"
                 : "+r"(x0), "+r"(x1), "+r"(x8) : "r"(out), "r"(out + 4)
                 : "v16", "v17", "memory");
#elif defined(__ARM_NEON)
    register long r7 asm("r7") = SYS_kill;
    register long r0 asm("r0") = pid;
    register long r1 asm("r1") = SIGUSR1;
    asm volatile("vmov.i32 q8, #5\n\tvmov.i32 q9, #3\n\tsvc #0\n\t"
                 "vst1.32 {q8}, [%3]\n\tvst1.32 {q9}, [%4]"
                 : "+r"(r0), "+r"(r1), "+r"(r7) : "r"(out), "r"(out + 4)
                 : "q8", "q9", "memory");
#elif defined(__x86_64__)
    long rax = SYS_kill;
    asm volatile("movl $5, %%ecx\n\tmovd %%ecx, %%xmm6\n\tpshufd $0, %%xmm6, %%xmm6\n\t"
                 "movl $3, %%ecx\n\tmovd %%ecx, %%xmm7\n\tpshufd $0, %%xmm7, %%xmm7\n\t"
                 "syscall\n\tmovdqu %%xmm6, (%3)\n\tmovdqu %%xmm7, 16(%3)"
                 : "+a"(rax) : "D"(pid), "S"((long)SIGUSR1), "r"(out)
                 : "rcx", "r11", "xmm6", "xmm7", "memory");
#elif defined(__i386__)
    long eax = SYS_kill;
    asm volatile("pushl %%ebx\n\tmovl %2, %%ebx\n\t"
                 "movl $5, %%edx\n\tmovd %%edx, %%xmm6\n\tpshufd $0, %%xmm6, %%xmm6\n\t"
                 "movl $3, %%edx\n\tmovd %%edx, %%xmm7\n\tpshufd $0, %%xmm7, %%xmm7\n\t"
                 "int $0x80\n\tpopl %%ebx\n\tmovdqu %%xmm6, (%3)\n\tmovdqu %%xmm7, 16(%3)"
                 : "+a"(eax) : "c"((long)SIGUSR1), "r"(pid), "S"(out)
                 : "edx", "xmm6", "xmm7", "memory");
#endif
    printf("first: %u %u %u %u\n", out[0], out[1], out[2], out[3]);
    printf("second: %u %u %u %u\n", out[4], out[5], out[6], out[7]);
    return 0;
}
