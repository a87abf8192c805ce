/* A deliberate write through a null pointer: killed by SIGSEGV (status 139). */
#include <stdio.h>

int segv_main(int argc, char **argv) {
    (void)argv;
    volatile int *p = (volatile int *)(long)(argc - argc);
    printf("about to fault\n");
    fflush(stdout);
    *p = 42;
    printf("still alive?\n");
    return 0;
}
