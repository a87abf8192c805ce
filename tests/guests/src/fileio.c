/* File I/O through open/read/write/lseek/pread/pwrite/fstat/rename/unlink. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define CHECK(cond) do { if (!(cond)) { perror(#cond); return 1; } } while (0)

int fileio_main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "xemu-fileio.tmp";
    char moved[256];
    snprintf(moved, sizeof moved, "%s.moved", path);
    unlink(path);

    int fd = open(path, O_CREAT | O_EXCL | O_RDWR, 0640);
    CHECK(fd >= 0);
    CHECK(write(fd, "0123456789", 10) == 10);
    struct iovec iov[2] = {{"abc", 3}, {"defg", 4}};
    CHECK(writev(fd, iov, 2) == 7);
    CHECK(lseek(fd, 0, SEEK_CUR) == 17);
    CHECK(pwrite(fd, "XY", 2, 4) == 2);

    struct stat st;
    CHECK(fstat(fd, &st) == 0);
    printf("size=%lld mode=%o regular=%d\n", (long long)st.st_size,
           (unsigned)(st.st_mode & 0777), S_ISREG(st.st_mode));

    char buf[32] = {0};
    CHECK(pread(fd, buf, 6, 2) == 6);
    printf("pread=%s\n", buf);
    CHECK(lseek(fd, -5, SEEK_END) == 12);
    memset(buf, 0, sizeof buf);
    CHECK(read(fd, buf, sizeof buf) == 5);
    printf("tail=%s\n", buf);
    CHECK(read(fd, buf, sizeof buf) == 0);

    int copy = dup(fd);
    CHECK(copy > fd);
    CHECK(lseek(copy, 0, SEEK_SET) == 0);
    CHECK(lseek(fd, 0, SEEK_CUR) == 0);
    CHECK(fcntl(copy, F_GETFD) == 0);
    CHECK(fcntl(copy, F_SETFD, FD_CLOEXEC) == 0);
    CHECK(fcntl(copy, F_GETFD) == FD_CLOEXEC);
    CHECK(close(copy) == 0);
    CHECK(ftruncate(fd, 8) == 0);
    CHECK(close(fd) == 0);
    CHECK(close(fd) == -1);
    perror("close again");

    CHECK(rename(path, moved) == 0);
    CHECK(access(path, F_OK) == -1);
    CHECK(stat(moved, &st) == 0);
    printf("moved size=%lld\n", (long long)st.st_size);

    FILE *f = fopen(moved, "r");
    CHECK(f != NULL);
    CHECK(fgets(buf, sizeof buf, f) != NULL);
    printf("stdio=%s\n", buf);
    fclose(f);

    CHECK(unlink(moved) == 0);
    CHECK(open(moved, O_RDONLY) == -1);
    perror("open after unlink");
    return 0;
}
