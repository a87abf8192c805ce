/* CPU exceptions a program can raise, each ending it with a signal:
 *   trap     __builtin_trap(): ud2 on x86 and udf on ARM (SIGILL),
 *            brk on AArch64 and tw on PowerPC (SIGTRAP)
 *   divzero  integer division by zero: x86 raises #DE (SIGFPE); ARM's
 *            libgcc division helper raises SIGFPE itself; AArch64 and
 *            PowerPC give a value and carry on */
#include <stdio.h>
#include <string.h>

static volatile int zero = 0;

int trap_main(int argc, char **argv) {
    (void)argc; (void)argv;
    printf("about to trap\n");
    fflush(stdout);
    __builtin_trap();
}

int divzero_main(int argc, char **argv) {
    (void)argc; (void)argv;
    printf("about to divide by zero\n");
    fflush(stdout);
    int quotient = 42 / zero;
    printf("no trap on this arch\n");
    return quotient == 0 ? 0 : 1;   /* AArch64 gives 0; PowerPC's is undefined */
}

/*   jump0      call through a pointer to unmapped memory (SIGSEGV)
 *   rowrite    write to a read-only page, a string literal (SIGSEGV)
 *   unaligned  an atomic add on a misaligned address: SIGBUS where the
 *              arch's atomics require alignment (ARM, AArch64, PowerPC) */
int jump0_main(int argc, char **argv) {
    (void)argv;
    void (*nowhere)(void) = (void (*)(void))(long)(0x1000 * argc);
    printf("jumping to %p\n", (void *)nowhere);
    fflush(stdout);
    nowhere();
    return 0;
}

int rowrite_main(int argc, char **argv) {
    (void)argc; (void)argv;
    static const char text[] = "constant";
    volatile char *p = (volatile char *)text;
    printf("writing to read-only memory\n");
    fflush(stdout);
    p[0] = 'C';
    printf("still alive: %s\n", text);
    return 0;
}

int unaligned_main(int argc, char **argv) {
    (void)argc; (void)argv;
    static char buffer[16] __attribute__((aligned(16)));
    int *odd = (int *)(buffer + 1 + (zero & 1));
    printf("atomic add at an odd address\n");
    fflush(stdout);
    __atomic_fetch_add(odd, 1, __ATOMIC_SEQ_CST);
    printf("no fault on this arch\n");
    return 0;
}
