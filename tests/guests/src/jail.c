/* Tries to read files by the paths it is given, to test --rootfs:
 *   jail OP:PATH[:PATH2]...   OP is
 *     cat      open PATH and print its first line
 *     cd       chdir(PATH), then print getcwd()
 *     at       open directory PATH, then openat(it, PATH2) and print a line
 *     stat     print whether stat(PATH) works and the size
 *     link     print readlink(PATH)
 *     auxv     print AT_PAGESZ as /proc/self/auxv gives it
 * Each result is one line: the answer, or the error. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void first_line(const char *what, int fd) {
    char line[128] = {0};
    ssize_t n = fd < 0 ? -1 : read(fd, line, sizeof line - 1);
    if (n < 0) {
        printf("%s: %s\n", what, strerror(errno));
        return;
    }
    line[strcspn(line, "\n")] = 0;
    printf("%s: %s\n", what, line);
    close(fd);
}

int jail_main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        char op[16] = {0}, path[256] = {0}, path2[256] = {0};
        sscanf(argv[i], "%15[^:]:%255[^:]:%255s", op, path, path2);
        errno = 0;
        if (strcmp(op, "cat") == 0) {
            first_line(argv[i], open(path, O_RDONLY));
        } else if (strcmp(op, "cd") == 0) {
            char cwd[256] = "?";
            int r = chdir(path);
            printf("%s: %s %s\n", argv[i], r == 0 ? "ok" : strerror(errno),
                   getcwd(cwd, sizeof cwd) ? cwd : "?");
        } else if (strcmp(op, "at") == 0) {
            int dir = open(path, O_RDONLY | O_DIRECTORY);
            first_line(argv[i], dir < 0 ? -1 : openat(dir, path2, O_RDONLY));
        } else if (strcmp(op, "stat") == 0) {
            struct stat st;
            if (stat(path, &st) == 0)
                printf("%s: size %lld\n", argv[i], (long long)st.st_size);
            else
                printf("%s: %s\n", argv[i], strerror(errno));
        } else if (strcmp(op, "auxv") == 0) {
            unsigned long pair[2] = {0, 0}, pagesz = 0;
            int fd = open("/proc/self/auxv", O_RDONLY);
            while (fd >= 0 && read(fd, pair, sizeof pair) == sizeof pair && pair[0])
                if (pair[0] == 6)           /* AT_PAGESZ */
                    pagesz = pair[1];
            printf("%s: AT_PAGESZ %lu\n", argv[i], pagesz);
        } else if (strcmp(op, "link") == 0) {
            char target[256] = {0};
            ssize_t n = readlink(path, target, sizeof target - 1);
            printf("%s: %s\n", argv[i], n < 0 ? strerror(errno) : target);
        }
    }
    return 0;
}
