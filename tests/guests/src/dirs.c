/* Directories: mkdir, chdir, getcwd, getdents64 via readdir, symlinks, rmdir. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHECK(cond) do { if (!(cond)) { perror(#cond); return 1; } } while (0)

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int dirs_main(int argc, char **argv) {
    const char *top = argc > 1 ? argv[1] : "xemu-dirs.tmp";
    char start[4096], here[4096];
    CHECK(getcwd(start, sizeof start) != NULL);
    CHECK(mkdir(top, 0755) == 0);
    CHECK(mkdir(top, 0755) == -1);
    perror("mkdir again");
    CHECK(chdir(top) == 0);
    CHECK(getcwd(here, sizeof here) != NULL);
    printf("cwd ends with top: %d\n",
           strcmp(here + strlen(here) - strlen(top), top) == 0);

    const char *names[] = {"charlie", "alpha", "bravo"};
    for (int i = 0; i < 3; i++) {
        int fd = open(names[i], O_CREAT | O_WRONLY, 0600);
        CHECK(fd >= 0);
        close(fd);
    }
    CHECK(mkdir("sub", 0700) == 0);
    CHECK(symlink("alpha", "link") == 0);
    char target[64] = {0};
    CHECK(readlink("link", target, sizeof target) == 5);
    printf("link -> %s\n", target);
    struct stat st;
    CHECK(lstat("link", &st) == 0 && S_ISLNK(st.st_mode));
    CHECK(stat("sub", &st) == 0 && S_ISDIR(st.st_mode));

    DIR *d = opendir(".");
    CHECK(d != NULL);
    char *found[16];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 16)
        if (e->d_name[0] != '.')
            found[n++] = strdup(e->d_name);
    rewinddir(d);                          /* a second pass sees the same */
    int again = 0;
    while ((e = readdir(d)) != NULL)
        again += e->d_name[0] != '.';
    printf("rewind sees all %d: %d\n", n, again == n);
    closedir(d);
    qsort(found, n, sizeof found[0], by_name);
    for (int i = 0; i < n; i++)
        printf("entry %s\n", found[i]);

    int dfd = open(".", O_RDONLY | O_DIRECTORY);
    CHECK(dfd >= 0);
    CHECK(chdir(start) == 0);
    CHECK(fchdir(dfd) == 0);
    CHECK(unlinkat(dfd, "sub", AT_REMOVEDIR) == 0);
    close(dfd);
    for (int i = 0; i < 3; i++)
        CHECK(unlink(names[i]) == 0);
    CHECK(unlink("link") == 0);
    CHECK(chdir("..") == 0);
    CHECK(rmdir(top) == 0);
    CHECK(rmdir(top) == -1);
    perror("rmdir again");
    return 0;
}
