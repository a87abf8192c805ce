/* Exit status and stdin reach the test runner unchanged. */
#include <stdio.h>

int main(void) {
    int count = 0, c;
    while ((c = getchar()) != EOF)
        count += c == '\n';
    printf("%d lines on stdin\n", count);
    return count == 0 ? 0 : 3;
}
