/* Floating point: IEEE arithmetic agrees everywhere; an out-of-range
 * conversion does not (x86 gives INT_MIN, Arm and PowerPC saturate). */
#include <stdio.h>

#include "portable.h"

int main(void) {
    double h = harmonic(1000);
    printf("harmonic(1000) = %.17g\n", h);
    printf("(int32_t)1e10 = %d\n", (int)saturating_guess(1e10));
    printf("(int32_t)-1e10 = %d\n", (int)saturating_guess(-1e10));
    return h > 7.485 && h < 7.486 ? 0 : 1;
}
