/* A boot sector for the pc board (and qemu-system-x86_64 -nographic):
 * prints through the 16550 UART at port 0x3f8, polling its line status
 * register, then stops through isa-debug-exit at port 0x501.
 * Exit status: (value << 1) | 1, so writing 0 gives 1... we write 0x10: 33. */
        .code16
        .global _start
_start:
        cli
        xor     %ax, %ax
        mov     %ax, %ds
        mov     $message, %si
next:   lodsb
        test    %al, %al
        jz      done
        mov     %al, %bl
        mov     $0x3fd, %dx          /* line status register */
wait:   in      %dx, %al
        test    $0x20, %al           /* transmitter holding register empty? */
        jz      wait
        mov     $0x3f8, %dx
        mov     %bl, %al
        out     %al, %dx
        jmp     next
done:   mov     $0x501, %dx
        mov     $0x10, %al
        out     %al, %dx             /* isa-debug-exit: status 0x21 = 33 */
        hlt                          /* only reached without the exit device */
message:
        .asciz  "Hello from a boot sector on the pc board\n"
        .org    510
        .word   0xaa55
