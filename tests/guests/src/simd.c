/* Vector registers: AltiVec on ppc, NEON on arm, Advanced SIMD on aarch64,
 * SSE on x86. The kernel advertises them in AT_HWCAP; this checks that the
 * emulated CPU really has them switched on. */
/* Built with the arch's SIMD flags (Makefile SIMD_<arch>), alone. */
#include <stdio.h>
#include <sys/auxv.h>

typedef int v4si __attribute__((vector_size(16)));
typedef float v4sf __attribute__((vector_size(16)));

static volatile int seed = 3;

int simd_main(int argc, char **argv) {
    (void)argc; (void)argv;
    v4si a = {seed, seed + 1, seed + 2, seed + 3};
    v4si b = {10, 20, 30, 40};
    v4si c = a * b + a;
    v4sf x = {1.5f, 2.5f, (float)seed, -4.0f};
    v4sf y = x * x - x;
    printf("ints: %d %d %d %d\n", c[0], c[1], c[2], c[3]);
    printf("floats: %g %g %g %g\n", y[0], y[1], y[2], y[3]);
    printf("hwcap nonzero: %d\n", getauxval(AT_HWCAP) != 0);
    return 0;
}
