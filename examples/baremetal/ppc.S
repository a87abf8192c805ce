/* 32-bit PowerPC on xemu's ppc virt board: prints through the 16550 UART
 * at 0x10000000 (byte registers, polling LSR), then writes
 * (3 << 16) | 0x3333 to the test device at 0x100000: exit status 3. */
        .global _start
_start:
        lis     4, 0x1000            /* UART */
        lis     5, message@ha
        addi    5, 5, message@l
1:      lbz     6, 0(5)
        cmpwi   6, 0
        beq     3f
2:      lbz     7, 5(4)              /* line status register */
        andi.   7, 7, 0x20
        beq     2b
        stb     6, 0(4)
        addi    5, 5, 1
        b       1b
3:      lis     4, 0x0010            /* test device */
        lis     6, 3
        ori     6, 6, 0x3333
        stw     6, 0(4)
        b       .
message:
        .asciz  "Hello from PowerPC on the virt board\n"
