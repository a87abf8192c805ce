/* Arguments, environment and exit status: `hello a b --exit=7`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hello_main(int argc, char **argv) {
    int status = 0;
    printf("hello, world\n");
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++) {
        printf("argv[%d]=%s\n", i, argv[i]);
        if (strncmp(argv[i], "--exit=", 7) == 0)
            status = atoi(argv[i] + 7);
    }
    const char *greeting = getenv("GREETING");
    printf("GREETING=%s\n", greeting ? greeting : "(unset)");
    return status;
}
