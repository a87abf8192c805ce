/* Byte order: what memory order gives differs, a portable loader does not. */
#include <stdio.h>

#include "portable.h"

int main(void) {
    const unsigned char bytes[4] = {0x78, 0x56, 0x34, 0x12};
    printf("byte order: %s\n", byte_order());
    printf("bytes 78 56 34 12 in memory order: 0x%08x\n", (unsigned)load_u32(bytes));
    unsigned le = load_le32(bytes);
    printf("as a little-endian file field: 0x%08x\n", le);
    return le == 0x12345678 ? 0 : 1;
}
