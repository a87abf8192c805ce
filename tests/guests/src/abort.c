/* abort() raises SIGABRT at itself through tgkill: status 134. */
#include <stdio.h>
#include <stdlib.h>

int abort_main(int argc, char **argv) {
    (void)argc; (void)argv;
    printf("aborting\n");
    fflush(stdout);
    abort();
}
