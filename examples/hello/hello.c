/* A program that tells what machine it believes it runs on.
 * Built for PowerPC, it runs on an x86-64 host through xemu:
 *     xemu run examples/hello/hello-ppc */
#include <stdio.h>
#include <sys/utsname.h>

int main(int argc, char **argv) {
    struct utsname u;
    unsigned int probe = 1;
    uname(&u);
    printf("Hello from a %s program!\n", u.machine);
    printf("This CPU is %s-endian; a long is %zu bits; a pointer is %zu bits.\n",
           *(unsigned char *)&probe ? "little" : "big", 8 * sizeof(long),
           8 * sizeof(void *));
    for (int i = 1; i < argc; i++)
        printf("argument %d: %s\n", i, argv[i]);
    return 0;
}
