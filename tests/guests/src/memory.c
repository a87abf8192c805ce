/* Heap and mappings: brk-sized and mmap-sized mallocs, realloc, anonymous
 * and file-backed mmap, munmap of part of a mapping, mprotect, mremap. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define CHECK(cond) do { if (!(cond)) { perror(#cond); return 1; } } while (0)

int memory_main(int argc, char **argv) {
    (void)argc; (void)argv;
    long sum = 0;
    char *small[100];
    for (int i = 0; i < 100; i++) {
        small[i] = malloc(1000 + i);
        CHECK(small[i] != NULL);
        memset(small[i], i, 1000 + i);
    }
    for (int i = 0; i < 100; i++) {
        sum += small[i][999];
        free(small[i]);
    }
    printf("small sum=%ld\n", sum);

    size_t n = 8 << 20;  /* above the mmap threshold */
    unsigned char *big = malloc(n);
    CHECK(big != NULL);
    for (size_t i = 0; i < n; i += 4096)
        big[i] = (unsigned char)(i >> 12);
    big = realloc(big, 2 * n);
    CHECK(big != NULL);
    sum = 0;
    for (size_t i = 0; i < n; i += 4096)
        sum += big[i];
    printf("big sum=%ld\n", sum);
    free(big);

    long page = sysconf(_SC_PAGESIZE);
    printf("page=%ld\n", page);
    char *anon = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(anon != MAP_FAILED);
    printf("anon zero=%d\n", anon[0] == 0 && anon[4 * page - 1] == 0);
    strcpy(anon + 2 * page, "third page");
    CHECK(munmap(anon, page) == 0);
    CHECK(mprotect(anon + page, page, PROT_READ) == 0);
    printf("after munmap=%s\n", anon + 2 * page);
    char *grown = mremap(anon + 2 * page, 2 * page, 8 * page, MREMAP_MAYMOVE);
    CHECK(grown != MAP_FAILED);
    printf("after mremap=%s\n", grown);
    CHECK(munmap(grown, 8 * page) == 0);
    CHECK(munmap(anon + page, page) == 0);

    const char *path = "xemu-memory.tmp";
    int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0600);
    CHECK(fd >= 0);
    CHECK(write(fd, "mapped file contents\n", 21) == 21);
    char *file = mmap(NULL, 21, PROT_READ, MAP_PRIVATE, fd, 0);
    CHECK(file != MAP_FAILED);
    fwrite(file, 1, 21, stdout);
    CHECK(munmap(file, 21) == 0);
    close(fd);
    unlink(path);

    void *fixed_hint = (void *)0x20000000;
    char *fixed = mmap(fixed_hint, page, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    CHECK(fixed == fixed_hint);
    fixed[0] = 'F';
    printf("fixed=%c\n", fixed[0]);
    return 0;
}
