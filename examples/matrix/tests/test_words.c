/* Word size and alignment: the ABI's choices, per arch. */
#include <stdio.h>

#include "portable.h"

int main(void) {
    printf("long: %zu bits\n", word_bits());
    printf("alignment of double in a struct: %zu\n", align_of_double());
    printf("alignment of long long in a struct: %zu\n", align_of_long_long());
    printf("sizeof(long double): %zu\n", sizeof_long_double());
    return 0;
}
