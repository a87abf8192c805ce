#!/bin/sh
# Rebuild the bare-metal examples (Debian's binutils for each arch:
# binutils, binutils-aarch64-linux-gnu, binutils-arm-linux-gnueabihf,
# binutils-powerpc-linux-gnu). The images are committed; run this only
# after changing a source.
set -e
cd "$(dirname "$0")"
build() {  # prefix source image load-address
    "$1as" -o "$2.o" "$2.S"
    "$1ld" -Ttext "$4" -o "$2.elf" "$2.o"
    "$1objcopy" -O binary "$2.elf" "$3"
    rm -f "$2.o" "$2.elf"
}
as --32 -o boot.o boot.S && ld -m elf_i386 -Ttext 0x7c00 --oformat binary -o boot.bin boot.o && rm boot.o
build aarch64-linux-gnu- aarch64 aarch64.bin 0x40000000
build arm-linux-gnueabihf- arm arm.bin 0x40000000
build powerpc-linux-gnu- ppc ppc.bin 0
ls -l *.bin
