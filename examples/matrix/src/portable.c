#include "portable.h"

#include <stdalign.h>
#include <string.h>

const char *byte_order(void) {
    const uint32_t probe = 0x01020304;
    unsigned char first;
    memcpy(&first, &probe, 1);
    return first == 0x04 ? "little" : "big";
}

uint32_t load_u32(const unsigned char bytes[4]) {
    uint32_t value;
    memcpy(&value, bytes, 4);
    return value;
}

uint32_t load_le32(const unsigned char bytes[4]) {
    return (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8 | (uint32_t)bytes[2] << 16 |
           (uint32_t)bytes[3] << 24;
}

size_t word_bits(void) { return sizeof(long) * 8; }
size_t align_of_double(void) { struct { char c; double d; } s; return offsetof(__typeof__(s), d); }
size_t align_of_long_long(void) {
    struct { char c; long long l; } s;
    return offsetof(__typeof__(s), l);
}
size_t sizeof_long_double(void) { return sizeof(long double); }

int32_t saturating_guess(double value) {
    volatile double v = value;      /* keep the conversion at run time */
    return (int32_t)v;
}

double harmonic(int terms) {
    double sum = 0;
    for (int i = 1; i <= terms; i++)
        sum += 1.0 / i;
    return sum;
}
