/* stdin to stdout with read/write, counting lines and bytes on stderr. */
#include <stdio.h>
#include <unistd.h>

int cat_main(int argc, char **argv) {
    (void)argc; (void)argv;
    char buf[4096];
    long bytes = 0, lines = 0;
    ssize_t n;
    while ((n = read(0, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            lines += buf[i] == '\n';
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(1, buf + done, n - done);
            if (w <= 0) return 1;
            done += w;
        }
        bytes += n;
    }
    fprintf(stderr, "%ld lines, %ld bytes\n", lines, bytes);
    return n < 0;
}
