/* A load inside a Thumb-2 IT block that misses the TLB, on a fresh page
 * each time, and then, in the next translated block, code that is not in
 * any IT block: a compare and a conditional branch (which inside an IT
 * block would be UNDEFINED). Unicorn 2.1.x's TLB fill left the load's IT
 * state behind in CPSR, so that next block ran as if conditional (SIGILL,
 * or instructions skipped). Other arches run the same walk in C. */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGES 256
#define PAGE 4096

static int load_if_set(volatile int *p) {
    int value;
#if defined(__thumb2__)
    asm volatile("cmp %1, #0\n\t"
                 "ite ne\n\t"
                 "ldrne %0, [%1]\n\t"
                 "moveq %0, #0\n\t"
                 "b 1f\n"               /* ends the block */
                 "1:\n\t"
                 "cmp %0, #42\n\t"
                 "beq.w 2f\n\t"
                 "add %0, %0, #1000\n"
                 "2:\n"
                 : "=&r"(value) : "r"(p) : "cc", "memory");
#else
    value = p ? *p : 0;
    if (value != 42)
        value += 1000;
#endif
    return value;
}

int itblock_main(int argc, char **argv) {
    (void)argc; (void)argv;
    /* The pages' contents are written with pwrite, and each round maps
     * them afresh, so every load below is the first touch of its page. */
    int fd = memfd_create("itblock", 0);
    static int page[PAGE / sizeof(int)];
    for (int i = 0; i < PAGES; i++) {
        page[0] = i % 2 ? 42 : i;
        if (fd < 0 || pwrite(fd, page, PAGE, (off_t)i * PAGE) != PAGE) {
            perror("memfd");
            return 1;
        }
    }
    long sum = 0;
    int kept = 0;
    for (int round = 0; round < 4; round++) {
        char *pages = mmap(NULL, PAGES * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
        if (pages == MAP_FAILED) {
            perror("mmap");
            return 1;
        }
        for (int i = 0; i < PAGES; i++) {
            int value = load_if_set((volatile int *)(pages + i * PAGE));
            sum += value;
            kept += value == 42;
        }
        munmap(pages, PAGES * PAGE);
    }
    printf("loads: %d, unchanged: %d, sum: %ld, null: %d\n", 4 * PAGES, kept, sum,
           load_if_set(NULL));
    return 0;
}
