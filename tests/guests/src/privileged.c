/* Privileged instructions run as a Linux user program runs them: in the
 * CPU's user mode, where each either traps (the kernel's signal kills the
 * program) or does what Linux lets it do. `privileged NAME` prints NAME,
 * then runs the instruction; surviving it, it returns 0. An arch without
 * such an instruction runs nothing (status 0).
 *
 *   name            arm             aarch64          ppc          x86
 *   interrupts-off  cpsid i (nop)   msr daifset      mtmsr        cli
 *   halt            wfi (returns)   wfi (returns)    -            hlt
 *   sysreg-read     mrc SCTLR       mrs sctlr_el1    mfmsr        mov %cr0
 *   sysreg-write    mcr TPIDRPRW    msr tpidr_el1    mtspr SPRG0  mov %dr7
 *   saved-state     mrs spsr        mrs elr_el1      mfspr SRR0   mov %cr2
 *   io              -               -                -            inb
 *   fpu-control     vmrs fpexc      -                -            -
 *
 * `privileged user-level` runs what user code may run and exits 1 if one
 * answers as it would not in user mode: the mode in ARM's CPSR (and an msr
 * that tries to leave it), TPIDRURO, the AArch64 counters, cache type, DC
 * ZVA and TLS register, MIDR_EL1 (which Linux emulates), PowerPC's time
 * base, dcbz and mfpvr (emulated too), the x86 selectors' privilege level
 * and a reload of SS.
 *
 * `privileged again` catches the signal of four privileged instructions in
 * a row (the handler jumps back out), as a program that probes the CPU does:
 * each fault is one signal, not a double fault, and the program goes on. */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static int run(const char *name) {
#if defined(__arm__)
    unsigned long value = 0;
    if (!strcmp(name, "interrupts-off")) __asm__ volatile("cpsid i");
    else if (!strcmp(name, "halt")) __asm__ volatile("wfi");
    else if (!strcmp(name, "sysreg-read")) __asm__ volatile("mrc p15, 0, %0, c1, c0, 0" : "=r"(value));
    else if (!strcmp(name, "sysreg-write")) __asm__ volatile("mcr p15, 0, %0, c13, c0, 4" :: "r"(value));
    else if (!strcmp(name, "saved-state")) __asm__ volatile("mrs %0, spsr" : "=r"(value));
    else if (!strcmp(name, "fpu-control")) __asm__ volatile("vmrs %0, fpexc" : "=r"(value));
    else if (!strcmp(name, "io")) {}
    else return -1;
#elif defined(__aarch64__)
    unsigned long value = 0;
    if (!strcmp(name, "interrupts-off")) __asm__ volatile("msr daifset, #2");
    else if (!strcmp(name, "halt")) __asm__ volatile("wfi");
    else if (!strcmp(name, "sysreg-read")) __asm__ volatile("mrs %0, sctlr_el1" : "=r"(value));
    else if (!strcmp(name, "sysreg-write")) __asm__ volatile("msr tpidr_el1, %0" :: "r"(value));
    else if (!strcmp(name, "saved-state")) __asm__ volatile("mrs %0, elr_el1" : "=r"(value));
    else if (!strcmp(name, "io") || !strcmp(name, "fpu-control")) {}
    else return -1;
#elif defined(__powerpc__)
    unsigned long value = 0x6000;       /* MSR_PR | MSR_FP, if it ever ran */
    if (!strcmp(name, "interrupts-off")) __asm__ volatile("mtmsr %0" :: "r"(value));
    else if (!strcmp(name, "sysreg-read")) __asm__ volatile("mfmsr %0" : "=r"(value));
    else if (!strcmp(name, "sysreg-write")) __asm__ volatile("mtspr 272, %0" :: "r"(value));
    else if (!strcmp(name, "saved-state")) __asm__ volatile("mfspr %0, 26" : "=r"(value));
    else if (!strcmp(name, "halt") || !strcmp(name, "io") || !strcmp(name, "fpu-control")) {}
    else return -1;
#elif defined(__i386__) || defined(__x86_64__)
    unsigned long value = 0x400;        /* DR7's reserved bit, if it ever ran */
    unsigned char port;
    if (!strcmp(name, "interrupts-off")) __asm__ volatile("cli");
    else if (!strcmp(name, "halt")) __asm__ volatile("hlt");
    else if (!strcmp(name, "sysreg-read")) __asm__ volatile("mov %%cr0, %0" : "=r"(value));
    else if (!strcmp(name, "sysreg-write")) __asm__ volatile("mov %0, %%dr7" :: "r"(value));
    else if (!strcmp(name, "saved-state")) __asm__ volatile("mov %%cr2, %0" : "=r"(value));
    else if (!strcmp(name, "io")) __asm__ volatile("inb $0x80, %0" : "=a"(port));
    else if (!strcmp(name, "fpu-control")) {}
    else return -1;
    (void)port;
#endif
    (void)value;
    return 0;
}

static int user_level(void) {
    int bad = 0;
#if defined(__arm__)
    unsigned long cpsr, tls, fpscr, want = 0x13;
    __asm__ volatile("mrs %0, cpsr" : "=r"(cpsr));
    bad |= (cpsr & 0x1f) != 0x10;                           /* USR */
    __asm__ volatile("msr cpsr_c, %0" :: "r"(want));         /* to SVC: ignored */
    __asm__ volatile("mrs %0, cpsr" : "=r"(cpsr));
    bad |= ((cpsr & 0x1f) != 0x10) << 1;
    __asm__ volatile("mrc p15, 0, %0, c13, c0, 3" : "=r"(tls));
    bad |= (tls != (unsigned long)__builtin_thread_pointer()) << 2;
    __asm__ volatile("vmrs %0, fpscr" : "=r"(fpscr));
    __asm__ volatile("sev; wfe");                             /* the event is set: returns */
#elif defined(__aarch64__)
    static unsigned char line[4096] __attribute__((aligned(4096)));
    unsigned long count, later, frequency, ctr, dczid, tls, fpcr, midr;
    memset(line, 0xff, sizeof line);
    __asm__ volatile("mrs %0, cntvct_el0" : "=r"(count));
    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(frequency));
    __asm__ volatile("mrs %0, ctr_el0" : "=r"(ctr));
    __asm__ volatile("mrs %0, dczid_el0" : "=r"(dczid));
    __asm__ volatile("mrs %0, tpidr_el0" : "=r"(tls));
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    __asm__ volatile("mrs %0, midr_el1" : "=r"(midr));
    bad |= (dczid & 0x10) != 0;                              /* DC ZVA allowed */
    if (!(dczid & 0x10)) {
        __asm__ volatile("dc zva, %0" :: "r"(line) : "memory");
        bad |= (line[0] != 0) << 1;
    }
    bad |= (tls != (unsigned long)__builtin_thread_pointer()) << 2;
    bad |= (ctr == 0) << 3;
    __asm__ volatile("sevl; wfe; yield");
    __asm__ volatile("mrs %0, cntvct_el0" : "=r"(later));
    bad |= (later < count) << 4;
    (void)frequency; (void)fpcr; (void)midr;
#elif defined(__powerpc__)
    static unsigned char line[64] __attribute__((aligned(32)));
    unsigned long tb, lr, pvr;
    memset(line, 0xff, sizeof line);
    __asm__ volatile("mftb %0" : "=r"(tb));
    __asm__ volatile("mflr %0" : "=r"(lr));
    __asm__ volatile("dcbz 0, %0" :: "r"(line) : "memory");
    bad |= line[0] != 0 || line[31] != 0;
    __asm__ volatile("mfpvr %0" : "=r"(pvr));
    bad |= (pvr == 0) << 1;
    (void)tb; (void)lr;
#elif defined(__i386__) || defined(__x86_64__)
    unsigned short cs, ss;
    unsigned long flags;
    unsigned int lo, hi, a = 0, b, c = 0, d;
    __asm__ volatile("mov %%cs, %0; mov %%ss, %1" : "=r"(cs), "=r"(ss));
    bad |= (cs & 3) != 3 || (ss & 3) != 3;                   /* CPL 3 */
    __asm__ volatile("mov %0, %%ss" :: "r"(ss));             /* a reload at CPL 3 */
    __asm__ volatile("pushf; pop %0" : "=r"(flags));
    bad |= ((flags >> 12 & 3) != 0) << 1;                    /* IOPL 0 */
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    (void)lo; (void)hi;
#endif
    return bad;
}

static sigjmp_buf back;

static void jump_back(int sig) {
    siglongjmp(back, sig);
}

static int again(void) {
#if defined(__i386__) || defined(__x86_64__)
    static const char *names[] = {"io", "sysreg-read", "halt", "interrupts-off"};
    const int expected = SIGSEGV;
#else
    static const char *names[] = {"sysreg-read", "saved-state", "sysreg-write", "sysreg-read"};
    const int expected = SIGILL;
#endif
    struct sigaction action = {.sa_handler = jump_back};
    sigaction(SIGSEGV, &action, NULL);
    sigaction(SIGILL, &action, NULL);
    volatile int caught = 0;
    for (volatile int i = 0; i < 4; i++) {
        int sig = sigsetjmp(back, 1);
        if (sig == 0)
            run(names[i]);
        else if (sig == expected)
            caught++;
    }
    printf("caught %d\n", caught);
    return 0;
}

int privileged_main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: privileged NAME\n");
        return 2;
    }
    printf("%s\n", argv[1]);
    fflush(stdout);
    if (!strcmp(argv[1], "again"))
        return again();
    if (!strcmp(argv[1], "user-level")) {
        int bad = user_level();
        if (bad)
            printf("not as in user mode: %#x\n", bad);
        return bad ? 1 : 0;
    }
    if (run(argv[1]) < 0) {
        fprintf(stderr, "privileged: no instruction named %s\n", argv[1]);
        return 2;
    }
    return 0;
}
