/* Floating point: arithmetic, libm, printf and strtod round trips. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static volatile double three = 3.0;  /* volatile: computed at run time */

int floats_main(int argc, char **argv) {
    (void)argc; (void)argv;
    double x = 1.0 / three;
    printf("1/3=%.17g\n", x);
    printf("sqrt(2)=%.15f\n", sqrt(2.0 * three / three));
    printf("sin(1)=%.12f cos(1)=%.12f\n", sin(three / 3), cos(three / 3));
    printf("exp(1)=%.12f log(10)=%.12f\n", exp(three / 3), log(10 * three / 3));
    printf("pow(2,0.5)=%.12f atan2=%.12f\n", pow(2, 0.5), atan2(1, three));
    float f = (float)three / 7.0f;
    printf("float=%.9g\n", f);
    printf("strtod=%.17g\n", strtod("2.718281828459045", NULL));
    double sum = 0;
    for (int i = 1; i <= 1000; i++)
        sum += 1.0 / ((double)i * i);
    printf("basel=%.15f\n", sum);
    printf("inf=%f nan=%f floor=%.1f round=%.1f\n", 1 / (three - 3),
           sqrt(-three), floor(-2.5), round(2.5));
    long long big = (long long)(three * 1e15);
    printf("cast=%lld\n", big);
    return 0;
}
