/* AArch64 on the virt board (and qemu-system-aarch64 -M virt -semihosting):
 * prints through the PL011 UART at 0x09000000, then a line through
 * semihosting SYS_WRITE0, then exits with status 5 through SYS_EXIT. */
        .global _start
_start:
        ldr     x1, =0x09000000      /* PL011 */
        adr     x2, uart_message
1:      ldrb    w3, [x2], #1
        cbz     w3, 2f
        strb    w3, [x1]             /* DR */
        b       1b
2:      mov     x0, #0x04            /* SYS_WRITE0 */
        adr     x1, semihosting_message
        hlt     #0xf000
        mov     x0, #0x18            /* SYS_EXIT */
        adr     x1, exit_block
        hlt     #0xf000
        b       .
        .align  3
exit_block:
        .quad   0x20026              /* ADP_Stopped_ApplicationExit */
        .quad   5                    /* exit status */
uart_message:
        .asciz  "Hello from AArch64 on the virt board (PL011)\n"
semihosting_message:
        .asciz  "and through semihosting\n"
