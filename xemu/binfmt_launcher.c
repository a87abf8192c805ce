/*
 * xemu-binfmt-static: the interpreter binfmt_misc runs for a foreign
 * program, as a static executable (xemu/binfmt.py says where it fits).
 *
 * Why it exists: the kernel needs a real ELF interpreter, and inside a
 * chroot of a foreign root file system the Python launcher cannot be run
 * at all (its Python is outside the root; a dynamically linked interpreter
 * would not even find its loader). With the F flag the kernel opened this
 * file at registration, so it starts in any root. It then:
 *
 *   1. runs the Python launcher (SCRIPT, written into this copy at
 *      registration) with the arguments the kernel gave, as they are;
 *   2. where that path is not there (a chroot), asks `xemu binfmt serve`,
 *      outside the root, for a descriptor of the real root over an
 *      abstract Unix socket, leaves the chroot through it, and runs the
 *      launcher with XEMU_BINFMT_ROOTFS naming the root it came from, so
 *      that the program still sees that root (xemu run --rootfs).
 *
 * The server answers only a process of its own user and user namespace
 * that holds CAP_SYS_CHROOT: one that could leave its chroot anyway.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* The Python launcher's absolute path; `xemu binfmt register` writes it
 * over the marker in its copy of this program (NUL-terminated, in place).
 * The marker is spelled nowhere else in the program, so it is found once. */
static volatile char script[4096] = "@XEMU-BINFMT-SCRIPT@";

static int fail(const char *what, const char *detail)
{
    fprintf(stderr, "xemu-binfmt: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    return 127;
}

/* The real root's descriptor from the server, or -1 (errno set). */
static int root_from_server(void)
{
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    int length = snprintf(address.sun_path + 1, sizeof address.sun_path - 1,
                          "xemu-binfmt-root-%u", (unsigned)getuid());
    int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        return -1;
    if (connect(sock, (struct sockaddr *)&address,
                (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + length)) < 0) {
        int saved = errno;
        close(sock);
        errno = saved;
        return -1;
    }
    char byte;
    char control[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {&byte, 1};
    struct msghdr message = {.msg_iov = &iov, .msg_iovlen = 1,
                             .msg_control = control, .msg_controllen = sizeof control};
    ssize_t got = recvmsg(sock, &message, MSG_CMSG_CLOEXEC);
    close(sock);
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    if (got != 1 || !header || header->cmsg_type != SCM_RIGHTS) {
        errno = EPERM;          /* the server refused this process */
        return -1;
    }
    int fd;
    memcpy(&fd, CMSG_DATA(header), sizeof fd);
    return fd;
}

int main(int argc, char **argv)
{
    const char *launcher = (const char *)script;
    if (launcher[0] != '/')
        return fail("this copy names no Python launcher (`xemu binfmt register` writes one)",
                    NULL);
    if (argc < 3)
        return fail("binfmt_misc runs this for a foreign program (flag P); "
                    "it is not meant to be run by hand", NULL);
    /* Flag O: the kernel opened the program (it may be unreadable to us). */
    errno = 0;
    unsigned long exec_fd = getauxval(AT_EXECFD);
    if (errno == 0) {
        char number[24];
        snprintf(number, sizeof number, "%lu", exec_fd);
        if (setenv("XEMU_BINFMT_EXECFD", number, 1) < 0)
            return fail("setenv", strerror(errno));
    }
    char *args[argc + 1];
    args[0] = (char *)launcher;
    for (int i = 1; i < argc; i++)
        args[i] = argv[i];
    args[argc] = NULL;
    execv(launcher, args);
    if (errno != ENOENT && errno != ENOTDIR && errno != EACCES)
        return fail(launcher, strerror(errno));

    /* Not there: a root of its own. Leave it through the server's root. */
    int old_root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    int old_cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    int real_root = root_from_server();
    if (real_root < 0)
        return fail("the xemu launcher is outside this root (a chroot?) and "
                    "`xemu binfmt serve` does not answer from outside it", strerror(errno));
    if (old_root < 0 || old_cwd < 0 || fchdir(real_root) < 0 || chroot(".") < 0)
        return fail("cannot leave this root for the xemu launcher", strerror(errno));
    char link[64], root_path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", old_root);
    ssize_t n = readlink(link, root_path, sizeof root_path - 1);
    if (n <= 0 || fchdir(old_cwd) < 0)
        return fail("cannot name the root this program came from", strerror(errno));
    root_path[n] = '\0';
    if (setenv("XEMU_BINFMT_ROOTFS", root_path, 1) < 0)
        return fail("setenv", strerror(errno));
    execv(launcher, args);
    return fail(launcher, strerror(errno));
}
