/* 32-bit Arm on the virt board (and qemu-system-arm -M virt -semihosting):
 * prints through the PL011 UART at 0x09000000, then stops through
 * semihosting SYS_EXIT (svc 0x123456) with ADP_Stopped_ApplicationExit. */
        .arm
        .global _start
_start:
        ldr     r1, =0x09000000      @ PL011
        adr     r2, message
1:      ldrb    r3, [r2], #1
        cmp     r3, #0
        beq     2f
        strb    r3, [r1]             @ DR
        b       1b
2:      mov     r0, #0x18            @ SYS_EXIT
        ldr     r1, =0x20026         @ ADP_Stopped_ApplicationExit: status 0
        svc     0x123456
        b       .
message:
        .asciz  "Hello from Arm on the virt board (PL011)\n"
        .align  2
