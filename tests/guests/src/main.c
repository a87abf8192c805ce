#include <stdio.h>
#include <string.h>
#include "progs.h"

struct program { const char *name; int (*main)(int, char **); };
#define ENTRY(name) { #name, name##_main },
static const struct program programs[] = { PROGRAMS(ENTRY) };

static char *real_argv0;
int argv0_main(int argc, char **argv) {
    (void)argc; (void)argv;
    printf("argv[0]=%s\n", real_argv0);
    return 0;
}

int main(int argc, char **argv) {
    real_argv0 = argv[0];
    if (argc < 2) {
        fprintf(stderr, "usage: %s PROGRAM [ARGS...]\n", argv[0]);
        return 2;
    }
    for (size_t i = 0; i < sizeof programs / sizeof programs[0]; i++)
        if (strcmp(programs[i].name, argv[1]) == 0)
            return programs[i].main(argc - 1, argv + 1);
    fprintf(stderr, "%s: no program named %s\n", argv[0], argv[1]);
    return 127;
}
