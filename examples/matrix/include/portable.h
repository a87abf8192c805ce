/* A small library whose answers depend on the machine: byte order, word
 * size, alignment and floating point. Its tests show where arches differ. */
#ifndef PORTABLE_H
#define PORTABLE_H

#include <stddef.h>
#include <stdint.h>

/* "little" or "big": how the machine stores a multi-byte integer */
const char *byte_order(void);
/* a 32-bit value read back from bytes in memory order */
uint32_t load_u32(const unsigned char bytes[4]);
/* the same value as a little-endian file format stores it, on any machine */
uint32_t load_le32(const unsigned char bytes[4]);
/* sizes and alignments the ABI chose */
size_t word_bits(void);
size_t align_of_double(void);
size_t align_of_long_long(void);
size_t sizeof_long_double(void);
/* what converting an out-of-range double to int32 gives (undefined in C,
 * defined by each ISA's conversion instruction) */
int32_t saturating_guess(double value);
/* a sum whose rounding must not depend on the machine (IEEE 754 doubles) */
double harmonic(int terms);

#endif
