/* Permission bits a guest asks for (issue 20, finding 5): set-user-ID and
 * set-group-ID never reach a host file, sticky stays on directories only.
 * Run in an empty directory; stdout may be a host file it fchmods. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static void show(const char *what, const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) printf("%s: %s\n", what, strerror(errno));
    else printf("%s: %04o\n", what, st.st_mode & 07777);
}

int modes_main(int argc, char **argv) {
    (void)argc; (void)argv;
    umask(022);
    int fd = open("f", O_CREAT | O_WRONLY, 06755);
    show("open O_CREAT 06755", "f");
    fchmod(fd, 06777);
    show("fchmod 06777", "f");
    close(fd);
    chmod("f", 04755);
    show("chmod 04755", "f");
    fchmodat(AT_FDCWD, "f", 07755, 0);
    show("fchmodat 07755", "f");
    close(creat("g", 02755));
    show("creat 02755", "g");
    mkdir("d", 07777);
    show("mkdir 07777", "d");
    chmod("d", 07777);
    show("chmod dir 07777", "d");
    printf("mknod file: %d\n", mknod("n", S_IFREG | 04755, 0));
    show("mknod 04755", "n");
    printf("mknod fifo: %d\n", mknod("p", S_IFIFO | 02644, 0));
    show("fifo 02644", "p");
    errno = 0;
    int made = mknod("c", S_IFCHR | 0600, makedev(1, 3));
    printf("mknod char device: %d %s\n", made, strerror(errno));
    fflush(stdout);
    printf("fchmod stdout 06755: %d\n", fchmod(1, 06755));
    unlink("f"); unlink("g"); unlink("n"); unlink("p"); rmdir("d");
    return 0;
}
