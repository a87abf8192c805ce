/* String routines that glibc picks per CPU (memset may use dcbz on ppc). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int strings_main(int argc, char **argv) {
    (void)argc; (void)argv;
    static char big[70000];
    memset(big, 'x', sizeof big);
    memset(big + 100, 0, 4096);
    size_t zeros = 0;
    for (size_t i = 0; i < sizeof big; i++)
        zeros += big[i] == 0;
    printf("memset zeros=%zu strlen=%zu\n", zeros, strlen(big));
    memmove(big + 1, big, 50);
    memcpy(big + 20000, "needle in a haystack", 21);
    printf("strstr=%s\n", strstr(big + 20000, "hay"));
    printf("strchr=%s strrchr=%s\n", strchr("a/b/c", '/'), strrchr("a/b/c", '/'));
    printf("strcmp=%d %d %d\n", strcmp("abc", "abd") < 0, strcmp("b", "a") > 0,
           strcmp("same", "same"));
    printf("memcmp=%d strncmp=%d\n", memcmp("abcdef", "abcdeg", 6) < 0,
           strncmp("abcdef", "abcxyz", 3));
    char buf[64];
    snprintf(buf, sizeof buf, "%5d|%-5s|%x|%c|%%", 42, "ab", 255, 'z');
    printf("snprintf=%s\n", buf);
    char *dup = strdup("Hello");
    for (char *p = dup; *p; p++)
        *p ^= 0x20;
    printf("toggle=%s len=%zu\n", dup, strlen(dup));
    free(dup);
    int nums[] = {5, -3, 99, 0, 42, 7, -100, 8};
    qsort(nums, 8, sizeof nums[0], cmp_int);
    for (int i = 0; i < 8; i++)
        printf("%d%c", nums[i], i == 7 ? '\n' : ' ');
    printf("strtol=%ld atoi=%d\n", strtol("-0x1f", NULL, 16), atoi("  123abc"));
    char tok[] = "one,two,,three";
    for (char *t = strtok(tok, ","); t; t = strtok(NULL, ","))
        printf("token=%s\n", t);
    return 0;
}
