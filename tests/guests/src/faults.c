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
