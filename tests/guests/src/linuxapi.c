/* The wider Linux interface (issue 15), one program per group. Output holds
 * no ids, times or sizes of the host, only what the kernel promises, so it
 * is the same natively, under qemu-user and under xemu, as root or not.
 *   identity   uids, gids, groups (32-bit and, on ARM and i386, the 16-bit
 *              calls), capget
 *   owners     chown, fchown, lchown, fchownat (AT_EMPTY_PATH)
 *   filetimes  utimensat (UTIME_NOW, UTIME_OMIT), futimens, utimes, utime
 *   fsinfo     statfs, fstatfs, posix_fadvise
 *   transfer   preadv/pwritev, sendfile, copy_file_range, splice, tee, vmsplice,
 *              fallocate, flock, linkat, memfd_create, xattrs
 *   resources  getrusage, times, priorities, sched_*, personality, prctl,
 *              mincore
 *   straddle   read and write buffers that cross mappings
 *   terminal   termios round trip on a pseudo-terminal, window size, FIONREAD,
 *              tcflush, FIONBIO, FIOCLEX, an unknown request
 *   sysvipc    System V shared memory, semaphores and message queues, between
 *              a parent and its child */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/fsuid.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <signal.h>
#include <termios.h>
#include <linux/capability.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#define CHECK(cond) do { if (!(cond)) { printf("FAILED: %s (%s)\n", #cond, strerror(errno)); \
                                        return 1; } } while (0)
#define SAY(what, cond) printf("%s: %s\n", what, (cond) ? "yes" : "no")

static const char *error_name(int e) {
    switch (e) {
    case 0: return "ok";
    case ENOENT: return "ENOENT";
    case EBADF: return "EBADF";
    case EINVAL: return "EINVAL";
    case EPERM: return "EPERM";
    case ESPIPE: return "ESPIPE";
    case EWOULDBLOCK: return "EWOULDBLOCK";
    case ERANGE: return "ERANGE";
    case ENOMEM: return "ENOMEM";
    case ENODATA: return "ENODATA";
    case EFAULT: return "EFAULT";
    case ENOTTY: return "ENOTTY";
    case ENOMSG: return "ENOMSG";
    case E2BIG: return "E2BIG";
    case EIDRM: return "EIDRM";
    case EINTR: return "EINTR";
    default: return strerror(e);
    }
}

static const char *outcome(long result) { return error_name(result < 0 ? errno : 0); }

int identity_main(int argc, char **argv) {
    (void)argc; (void)argv;
    uid_t r, e, s;
    gid_t rg, eg, sg;
    CHECK(getresuid(&r, &e, &s) == 0 && getresgid(&rg, &eg, &sg) == 0);
    SAY("getresuid agrees with getuid and geteuid", r == getuid() && e == geteuid());
    SAY("getresgid agrees with getgid and getegid", rg == getgid() && eg == getegid());
    int count = getgroups(0, NULL);
    CHECK(count >= 0);
    gid_t *groups = calloc(count + 1, sizeof *groups);
    SAY("getgroups fills what it counted", getgroups(count, groups) == count);
    long same = setgroups(count, groups);
    SAY("setgroups to the same list: done as root, EPERM otherwise",
        geteuid() == 0 ? same == 0 : same == -1 && errno == EPERM);
    printf("setuid to itself: %s\n", outcome(setuid(getuid())));
    printf("setresuid(-1, -1, -1): %s\n", outcome(setresuid(-1, -1, -1)));
    printf("setreuid to itself: %s\n", outcome(setreuid(getuid(), -1)));
    printf("setfsuid answers the old fsuid: %s\n",
           setfsuid(-1) == (int)geteuid() ? "yes" : "no");
#ifdef __NR_getuid32
    /* ARM and i386: the plain calls are the kernel's 16-bit ones */
    long low_uid = syscall(__NR_getuid), low_gid = syscall(__NR_getgid);
    SAY("16-bit getuid is the uid (or 65534)",
        low_uid == (getuid() > 0xffff ? 65534 : (long)getuid()));
    SAY("16-bit getgid is the gid (or 65534)",
        low_gid == (getgid() > 0xffff ? 65534 : (long)getgid()));
    unsigned short small[64];
    long got = syscall(__NR_getgroups, 64, small);
    SAY("16-bit getgroups counts the same groups", got == count);
    long none = syscall(__NR_setresuid, 0xffff, 0xffff, 0xffff);
    printf("16-bit setresuid(-1, -1, -1): %s\n", outcome(none));
#else
    puts("16-bit getuid is the uid (or 65534): yes");
    puts("16-bit getgid is the gid (or 65534): yes");
    puts("16-bit getgroups counts the same groups: yes");
    puts("16-bit setresuid(-1, -1, -1): ok");
#endif
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    CHECK(syscall(SYS_capget, &header, data) == 0);
    SAY("capget: root has CAP_CHOWN, others not",
        (geteuid() == 0) == !!(data[0].effective & (1 << CAP_CHOWN)));
    header.version = 0x12345678;
    long bad = syscall(SYS_capget, &header, NULL);
    printf("capget of an unknown version: %s, the kernel's is v3: %s\n", outcome(bad),
           header.version == _LINUX_CAPABILITY_VERSION_3 ? "yes" : "no");
    free(groups);
    return 0;
}

int owners_main(int argc, char **argv) {
    (void)argc; (void)argv;
    const char *path = "xemu-owners.tmp", *link_path = "xemu-owners.link";
    unlink(path);
    unlink(link_path);
    int fd = open(path, O_CREAT | O_RDWR, 0600);
    CHECK(fd >= 0);
    CHECK(symlink(path, link_path) == 0);
    printf("chown(-1, -1): %s\n", outcome(chown(path, -1, -1)));
    printf("fchown to its own owner: %s\n", outcome(fchown(fd, getuid(), getgid())));
    printf("lchown of a symlink: %s\n", outcome(lchown(link_path, getuid(), -1)));
    printf("fchownat AT_EMPTY_PATH: %s\n",
           outcome(fchownat(fd, "", -1, getgid(), AT_EMPTY_PATH)));
    printf("chown of a missing file: %s\n", outcome(chown("xemu-no-such-file", -1, -1)));
    printf("fchown of a bad fd: %s\n", outcome(fchown(999, -1, -1)));
    long other = chown(path, 1234, 5678);
    struct stat st;
    CHECK(stat(path, &st) == 0);
    if (geteuid() == 0)
        SAY("root gives the file to 1234:5678",
            other == 0 && st.st_uid == 1234 && st.st_gid == 5678);
    else
        SAY("root gives the file to 1234:5678", other < 0 && errno == EPERM);
#ifdef __NR_chown32
    /* ARM and i386: the plain chown is the 16-bit one; 0xffff leaves an id */
    long sixteen = syscall(__NR_chown, path, 0xffff, 0xffff);
    struct stat after;
    CHECK(stat(path, &after) == 0);
    SAY("16-bit chown(0xffff, 0xffff) changes nothing",
        sixteen == 0 && after.st_uid == st.st_uid && after.st_gid == st.st_gid);
#else
    puts("16-bit chown(0xffff, 0xffff) changes nothing: yes");
#endif
    close(fd);
    unlink(link_path);
    unlink(path);
    return 0;
}

int filetimes_main(int argc, char **argv) {
    (void)argc; (void)argv;
    const char *path = "xemu-times.tmp";
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    CHECK(fd >= 0);
    struct timespec set[2] = {{1000000000, 123456789}, {1100000000, 987654321}};
    CHECK(utimensat(AT_FDCWD, path, set, 0) == 0);
    struct stat st;
    CHECK(stat(path, &st) == 0);
    printf("utimensat: atime %lld.%09ld mtime %lld.%09ld\n", (long long)st.st_atim.tv_sec,
           st.st_atim.tv_nsec, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    struct timespec omit_now[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
    CHECK(futimens(fd, omit_now) == 0);
    CHECK(fstat(fd, &st) == 0);
    SAY("futimens: UTIME_OMIT keeps atime", st.st_atim.tv_sec == 1000000000);
    SAY("futimens: UTIME_NOW sets mtime to now",
        llabs((long long)st.st_mtim.tv_sec - (long long)time(NULL)) < 60);
    struct timeval tv[2] = {{1200000000, 5}, {1300000000, 6}};
    CHECK(utimes(path, tv) == 0);
    CHECK(stat(path, &st) == 0);
    printf("utimes: atime %lld.%09ld mtime %lld.%09ld\n", (long long)st.st_atim.tv_sec,
           st.st_atim.tv_nsec, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    struct utimbuf times = {1400000000, 1500000000};
    CHECK(utime(path, &times) == 0);
    CHECK(stat(path, &st) == 0);
    printf("utime: atime %lld mtime %lld\n", (long long)st.st_atime, (long long)st.st_mtime);
    struct timespec bad[2] = {{0, 2000000000L}, {0, 0}};
    printf("utimensat with a bad tv_nsec: %s\n", outcome(utimensat(AT_FDCWD, path, bad, 0)));
    printf("utimensat of a missing file: %s\n",
           outcome(utimensat(AT_FDCWD, "xemu-no-such-file", NULL, 0)));
    close(fd);
    unlink(path);
    return 0;
}

int fsinfo_main(int argc, char **argv) {
    (void)argc; (void)argv;
    struct statfs fs;
    CHECK(statfs("/", &fs) == 0);
    SAY("statfs /: block size and name length set", fs.f_bsize > 0 && fs.f_namelen > 0);
    CHECK(statfs("/proc", &fs) == 0);
    SAY("statfs /proc: PROC_SUPER_MAGIC", fs.f_type == 0x9fa0);
    printf("statfs of a missing path: %s\n", outcome(statfs("/xemu-no-such-dir/x", &fs)));
    printf("fstatfs of a bad fd: %s\n", outcome(fstatfs(999, &fs)));
    int fd = open("/proc/self/exe", O_RDONLY);
    CHECK(fd >= 0);
    CHECK(fstatfs(fd, &fs) == 0);
    SAY("fstatfs of the program's file: block size set", fs.f_bsize > 0);
    printf("posix_fadvise SEQUENTIAL on a file: %s\n",
           error_name(posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)));
    int pipes[2];
    CHECK(pipe(pipes) == 0);
    printf("posix_fadvise on a pipe: %s\n", error_name(posix_fadvise(pipes[0], 0, 0, 0)));
    printf("posix_fadvise on a bad fd: %s\n", error_name(posix_fadvise(999, 0, 0, 0)));
    return 0;
}

int transfer_main(int argc, char **argv) {
    (void)argc; (void)argv;
    const char *a = "xemu-transfer-a.tmp", *b = "xemu-transfer-b.tmp";
    const char *c = "xemu-transfer-c.tmp";
    unlink(a); unlink(b); unlink(c);
    int fa = open(a, O_CREAT | O_RDWR, 0600), fb = open(b, O_CREAT | O_RDWR, 0600);
    CHECK(fa >= 0 && fb >= 0);
    struct iovec out[2] = {{"hello ", 6}, {"vectors", 7}};
    CHECK(pwritev(fa, out, 2, 100) == 13);
    char one[6] = {0}, two[8] = {0};
    struct iovec in[2] = {{one, 5}, {two, 7}};
    CHECK(preadv(fa, in, 2, 101) == 12);
    printf("preadv at 101: [%s][%s]\n", one, two);
    SAY("pwritev left the file offset alone", lseek(fa, 0, SEEK_CUR) == 0);
    off_t offset = 100;
    CHECK(sendfile(fb, fa, &offset, 13) == 13);
    printf("sendfile: offset now %lld\n", (long long)offset);
    loff_t from = 106, to = 0;
    CHECK(copy_file_range(fa, &from, fb, &to, 7, 0) == 7);
    char back[32] = {0};
    CHECK(pread(fb, back, 13, 0) == 13);
    printf("copy_file_range over the start: %s (from %lld, to %lld)\n", back, (long long)from,
           (long long)to);
    int p1[2], p2[2];
    CHECK(pipe(p1) == 0 && pipe(p2) == 0);
    loff_t at = 100;
    CHECK(splice(fa, &at, p1[1], NULL, 5, 0) == 5);
    CHECK(tee(p1[0], p2[1], 5, 0) == 5);
    char first[6] = {0}, copy[6] = {0};
    CHECK(read(p1[0], first, 5) == 5 && read(p2[0], copy, 5) == 5);
    printf("splice then tee: %s and %s, offset %lld\n", first, copy, (long long)at);
    struct iovec gift[2] = {{"from ", 5}, {"memory", 6}};
    CHECK(vmsplice(p1[1], gift, 2, 0) == 11);
    char spliced[12] = {0};
    struct iovec back_in = {spliced, 11};
    CHECK(vmsplice(p1[0], &back_in, 1, 0) == 11);
    printf("vmsplice in and out of a pipe: %s\n", spliced);
    CHECK(fallocate(fa, 0, 0, 65536) == 0);
    struct stat st;
    CHECK(fstat(fa, &st) == 0);
    printf("fallocate to 64 KiB: size %lld\n", (long long)st.st_size);
    CHECK(flock(fa, LOCK_EX) == 0);
    int again = open(a, O_RDONLY);
    CHECK(again >= 0);
    printf("second flock, non-blocking: %s\n", outcome(flock(again, LOCK_SH | LOCK_NB)));
    CHECK(flock(fa, LOCK_UN) == 0);
    printf("after unlock: %s\n", outcome(flock(again, LOCK_SH | LOCK_NB)));
    CHECK(linkat(AT_FDCWD, a, AT_FDCWD, c, 0) == 0);
    CHECK(stat(c, &st) == 0);
    printf("linkat: %lu links\n", (unsigned long)st.st_nlink);
    printf("linkat with a bad flag: %s\n", outcome(linkat(AT_FDCWD, a, AT_FDCWD, "x", 0x1)));
    int memory = memfd_create("xemu-memfd", MFD_CLOEXEC);
    CHECK(memory >= 0);
    CHECK(write(memory, "in memory", 9) == 9);
    char m[10] = {0};
    CHECK(pread(memory, m, 9, 0) == 9);
    printf("memfd_create: %s, close-on-exec %s\n", m,
           fcntl(memory, F_GETFD) & FD_CLOEXEC ? "yes" : "no");
    if (fsetxattr(fa, "user.xemu", "value", 5, 0) == 0) {
        char value[16] = {0};
        printf("getxattr size query: %zd\n", getxattr(a, "user.xemu", NULL, 0));
        printf("getxattr: %zd %s\n", getxattr(a, "user.xemu", value, sizeof value), value);
        printf("getxattr, buffer too small: %s\n", outcome(getxattr(a, "user.xemu", value, 2)));
        char names[64] = {0};
        ssize_t listed = flistxattr(fa, names, sizeof names);
        SAY("listxattr names user.xemu", listed > 0 && memmem(names, listed, "user.xemu", 10));
        CHECK(removexattr(a, "user.xemu") == 0);
        printf("getxattr after removexattr: %s\n", outcome(getxattr(a, "user.xemu", value, 16)));
    } else {
        /* a file system without user attributes: the same lines as one with */
        puts("getxattr size query: 5\ngetxattr: 5 value\ngetxattr, buffer too small: ERANGE\n"
             "listxattr names user.xemu: yes\ngetxattr after removexattr: ENODATA");
    }
    unlink(a); unlink(b); unlink(c);
    return 0;
}

int resources_main(int argc, char **argv) {
    (void)argc; (void)argv;
    struct rusage usage;
    printf("getrusage(SELF): %s\n", outcome(getrusage(RUSAGE_SELF, &usage)));
    printf("getrusage(THREAD): %s\n", outcome(getrusage(RUSAGE_THREAD, &usage)));
    printf("getrusage(CHILDREN): %s\n", outcome(getrusage(RUSAGE_CHILDREN, &usage)));
    printf("getrusage(42): %s\n", outcome(getrusage(42, &usage)));
    struct tms t;
    SAY("times counts ticks", times(&t) != (clock_t)-1);
    errno = 0;
    int nice_now = getpriority(PRIO_PROCESS, 0);
    SAY("getpriority is the nice value", errno == 0 && nice_now >= -20 && nice_now <= 19);
    printf("setpriority to the same: %s\n", outcome(setpriority(PRIO_PROCESS, 0, nice_now)));
    printf("sched_getscheduler: %d\n", sched_getscheduler(0));
    printf("SCHED_FIFO priorities: %d..%d\n", sched_get_priority_min(SCHED_FIFO),
           sched_get_priority_max(SCHED_FIFO));
    struct sched_param param = {.sched_priority = 5};
    long got = sched_getparam(0, &param);
    printf("sched_getparam: %s, priority %d\n", outcome(got), param.sched_priority);
    printf("sched_setscheduler(OTHER, 0): %s\n",
           outcome(sched_setscheduler(0, SCHED_OTHER, &param)));
    struct timespec slice;
    printf("sched_rr_get_interval: %s\n", outcome(sched_rr_get_interval(0, &slice)));
    printf("sched_getparam of pid -1: %s\n", outcome(sched_getparam(-1, &param)));
    int persona = personality(0xffffffff);
    printf("personality: %#x\n", persona);
    printf("personality(ADDR_NO_RANDOMIZE) answers the old: %#x\n",
           personality(ADDR_NO_RANDOMIZE));
    printf("personality now: %#x\n", personality(0xffffffff));
    char name[17] = {0};
    CHECK(prctl(PR_SET_NAME, "xemu-renamed-thread-name") == 0);
    CHECK(prctl(PR_GET_NAME, name) == 0);
    printf("prctl name round trip: %s\n", name);
    printf("prctl PR_GET_DUMPABLE: %d\n", prctl(PR_GET_DUMPABLE));
    printf("prctl of an unknown option: %s\n", outcome(prctl(0x7fff0000, 0, 0, 0, 0)));
    long page = sysconf(_SC_PAGESIZE);
    char *mapped = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                        -1, 0);
    CHECK(mapped != MAP_FAILED);
    mapped[0] = 1;
    unsigned char resident[2] = {0};
    long asked = mincore(mapped, page, resident);
    printf("mincore of a touched page: %s, resident %d\n", outcome(asked), resident[0] & 1);
    CHECK(munmap(mapped + page, page) == 0);
    printf("mincore over an unmapped page: %s\n", outcome(mincore(mapped, 2 * page, resident)));
    printf("mincore of an unaligned address: %s\n", outcome(mincore(mapped + 1, page, resident)));
    return 0;
}

/* sigfd: signals read from a signalfd (blocked first, as its users do),
 * seen by poll, with sigqueue's value and the sender's pid; a second
 * signalfd call changes the set. ptimers: POSIX timers, one-shot and
 * periodic, SIGEV_SIGNAL with a value, SIGEV_THREAD, overruns, ABSTIME. */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>

int sigfd_main(int argc, char **argv) {
    (void)argc; (void)argv;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGRTMIN + 1);
    CHECK(sigprocmask(SIG_BLOCK, &set, NULL) == 0);
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    CHECK(fd >= 0);
    struct signalfd_siginfo info;
    printf("read with nothing pending: %s\n", outcome(read(fd, &info, sizeof info)));
    struct pollfd watch = {fd, POLLIN, 0};
    printf("poll with nothing pending: %d\n", poll(&watch, 1, 0));
    CHECK(kill(getpid(), SIGUSR1) == 0);
    union sigval value = {.sival_int = 4242};
    CHECK(sigqueue(getpid(), SIGRTMIN + 1, value) == 0);
    int ready = poll(&watch, 1, 0);
    printf("poll with two pending: %d, POLLIN %s\n", ready, watch.revents & POLLIN ? "yes" : "no");
    struct signalfd_siginfo two[2];
    ssize_t got = read(fd, two, sizeof two);
    printf("read both: %zd bytes\n", got);
    printf("first: %s from us: %s, code SI_USER: %s\n",
           two[0].ssi_signo == SIGUSR1 ? "SIGUSR1" : "?",
           two[0].ssi_pid == (unsigned)getpid() ? "yes" : "no",
           two[0].ssi_code == SI_USER ? "yes" : "no");
    printf("second: SIGRTMIN+1: %s, SI_QUEUE: %s, value %d\n",
           two[1].ssi_signo == (unsigned)SIGRTMIN + 1 ? "yes" : "no",
           two[1].ssi_code == SI_QUEUE ? "yes" : "no", two[1].ssi_int);
    watch.revents = 0;
    printf("poll after reading: %d\n", poll(&watch, 1, 0));
    sigset_t only;
    sigemptyset(&only);
    sigaddset(&only, SIGRTMIN + 1);
    CHECK(signalfd(fd, &only, 0) == fd);
    CHECK(kill(getpid(), SIGUSR1) == 0);
    printf("SIGUSR1 no longer in the set: %s\n", outcome(read(fd, &info, sizeof info)));
    sigset_t pending;
    CHECK(sigpending(&pending) == 0);
    printf("SIGUSR1 still pending: %s\n", sigismember(&pending, SIGUSR1) ? "yes" : "no");
    printf("signalfd on a non-signalfd: %s\n", outcome(signalfd(0, &only, 0)));
    printf("read into a small buffer: %s\n", outcome(read(fd, &info, 8)));
    return 0;
}

static volatile sig_atomic_t ticks, last_value, overruns_seen;
static timer_t ticking;

static void on_tick(int signum, siginfo_t *info, void *context) {
    (void)signum; (void)context;
    ticks++;
    last_value = info->si_value.sival_int;
    overruns_seen = timer_getoverrun(ticking);
}

static pthread_mutex_t thread_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t thread_done = PTHREAD_COND_INITIALIZER;
static int thread_calls;

static void in_a_thread(union sigval value) {
    pthread_mutex_lock(&thread_lock);
    thread_calls += value.sival_int;
    pthread_cond_signal(&thread_done);
    pthread_mutex_unlock(&thread_lock);
}

int ptimers_main(int argc, char **argv) {
    (void)argc; (void)argv;
    struct sigaction action = {.sa_sigaction = on_tick, .sa_flags = SA_SIGINFO | SA_RESTART};
    sigemptyset(&action.sa_mask);
    CHECK(sigaction(SIGRTMIN + 2, &action, NULL) == 0);
    struct sigevent event = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGRTMIN + 2,
                             .sigev_value.sival_int = 77};
    timer_t timer;
    CHECK(timer_create(CLOCK_MONOTONIC, &event, &timer) == 0);
    ticking = timer;
    struct itimerspec once = {.it_value = {0, 20000000}};
    CHECK(timer_settime(timer, 0, &once, NULL) == 0);
    struct itimerspec now;
    CHECK(timer_gettime(timer, &now) == 0);
    printf("armed: %s\n", now.it_value.tv_sec == 0 && now.it_value.tv_nsec > 0 ? "yes" : "no");
    while (!ticks) pause();
    printf("one-shot fired: %d time(s), value %d\n", (int)ticks, (int)last_value);
    CHECK(timer_gettime(timer, &now) == 0);
    printf("disarmed after: %s\n",
           now.it_value.tv_sec == 0 && now.it_value.tv_nsec == 0 ? "yes" : "no");
    ticks = 0;
    struct itimerspec periodic = {.it_interval = {0, 10000000}, .it_value = {0, 10000000}};
    CHECK(timer_settime(timer, 0, &periodic, NULL) == 0);
    while (ticks < 3) pause();
    struct itimerspec off = {{0, 0}, {0, 0}}, previous;
    CHECK(timer_settime(timer, 0, &off, &previous) == 0);
    printf("periodic: at least 3 ticks, interval %ld ns\n", previous.it_interval.tv_nsec);
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGRTMIN + 2);
    CHECK(sigprocmask(SIG_BLOCK, &block, NULL) == 0);
    ticks = 0;
    CHECK(timer_settime(timer, 0, &periodic, NULL) == 0);
    struct timespec wait = {0, 80000000};
    nanosleep(&wait, NULL);
    CHECK(sigprocmask(SIG_UNBLOCK, &block, NULL) == 0);
    int after_unblock = ticks;
    CHECK(timer_settime(timer, 0, &off, NULL) == 0);
    printf("blocked for 8 periods: one signal came at unblocking: %s, overruns in it: %s\n",
           after_unblock == 1 ? "yes" : "no", overruns_seen >= 3 ? "yes" : "no");
    struct timespec start;
    CHECK(clock_gettime(CLOCK_REALTIME, &start) == 0);
    timer_t absolute;
    CHECK(timer_create(CLOCK_REALTIME, &event, &absolute) == 0);
    struct itimerspec at = {.it_value = {start.tv_sec, start.tv_nsec}};
    at.it_value.tv_nsec += 30000000;
    if (at.it_value.tv_nsec >= 1000000000) {
        at.it_value.tv_sec++;
        at.it_value.tv_nsec -= 1000000000;
    }
    ticks = 0;
    CHECK(timer_settime(absolute, TIMER_ABSTIME, &at, NULL) == 0);
    while (!ticks) pause();
    printf("TIMER_ABSTIME fired: yes\n");
    struct sigevent threaded = {.sigev_notify = SIGEV_THREAD,
                                .sigev_notify_function = in_a_thread,
                                .sigev_value.sival_int = 5};
    timer_t helper;
    CHECK(timer_create(CLOCK_MONOTONIC, &threaded, &helper) == 0);
    CHECK(timer_settime(helper, 0, &once, NULL) == 0);
    pthread_mutex_lock(&thread_lock);
    while (!thread_calls) pthread_cond_wait(&thread_done, &thread_lock);
    pthread_mutex_unlock(&thread_lock);
    printf("SIGEV_THREAD ran its function with value %d\n", thread_calls);
    CHECK(timer_delete(timer) == 0 && timer_delete(absolute) == 0 && timer_delete(helper) == 0);
    printf("timer_delete twice: %s\n", outcome(timer_delete(timer)));
    struct sigevent bad = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = 1000};
    printf("timer_create with a bad signal: %s\n",
           outcome(timer_create(CLOCK_MONOTONIC, &bad, &timer)));
    return 0;
}

/* inotify: a watched directory's events read through the descriptor. */
#include <sys/inotify.h>

static void print_events(const char *buffer, ssize_t length) {
    for (ssize_t at = 0; at < length;) {
        const struct inotify_event *event = (const void *)(buffer + at);
        printf("event:%s%s%s%s%s name=%s\n", event->mask & IN_CREATE ? " CREATE" : "",
               event->mask & IN_MODIFY ? " MODIFY" : "",
               event->mask & IN_CLOSE_WRITE ? " CLOSE_WRITE" : "",
               event->mask & IN_DELETE ? " DELETE" : "",
               event->mask & IN_IGNORED ? " IGNORED" : "", event->len ? event->name : "-");
        at += sizeof *event + event->len;
    }
}

int inotify_main(int argc, char **argv) {
    (void)argc; (void)argv;
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    CHECK(fd >= 0);
    int watch = inotify_add_watch(fd, ".", IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_DELETE);
    CHECK(watch >= 0);
    char buffer[4096] __attribute__((aligned(8)));
    printf("read with no events: %s\n", outcome(read(fd, buffer, sizeof buffer)));
    int file = open("xemu-watched.tmp", O_CREAT | O_WRONLY, 0600);
    CHECK(file >= 0);
    CHECK(write(file, "x", 1) == 1);
    close(file);
    unlink("xemu-watched.tmp");
    ssize_t got = read(fd, buffer, sizeof buffer);
    CHECK(got > 0);
    print_events(buffer, got);
    CHECK(inotify_rm_watch(fd, watch) == 0);
    got = read(fd, buffer, sizeof buffer);
    CHECK(got > 0);
    print_events(buffer, got);
    printf("watch a missing path: %s\n",
           outcome(inotify_add_watch(fd, "xemu-no-such-dir", IN_CREATE)));
    printf("watch through a non-inotify fd: %s\n", outcome(inotify_add_watch(0, ".", IN_CREATE)));
    printf("remove a watch twice: %s\n", outcome(inotify_rm_watch(fd, watch)));
    return 0;
}

/* A buffer that runs across two mappings, or into a hole: the kernel reads
 * and writes it whole across adjacent mappings, whatever their rights.
 * (One that runs into a hole is left out: what part of it a write takes
 * differs between file kinds and kernels.) */
int straddle_main(int argc, char **argv) {
    (void)argc; (void)argv;
    long page = sysconf(_SC_PAGESIZE);
    char *two = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(two != MAP_FAILED);
    CHECK(munmap(two + 2 * page, page) == 0);
    const char text[] = "a line that runs across a mapping boundary\n";
    size_t length = sizeof text - 1;
    char *start = two + page - 20;
    memcpy(start, text, length);
    CHECK(mprotect(two + page, page, PROT_READ) == 0);
    int pipes[2];
    CHECK(pipe(pipes) == 0);
    printf("write across read-write and read-only pages: %zd of %zu\n",
           write(pipes[1], start, length), length);
    char back[64] = {0};
    CHECK(read(pipes[0], back, sizeof back) == (ssize_t)length);
    printf("read back: %s", back);
    CHECK(mprotect(two + page, page, PROT_READ | PROT_WRITE) == 0);
    CHECK(write(pipes[1], text, length) == (ssize_t)length);
    memset(two, 0, 2 * page);
    printf("read across two pages of different mappings: %zd\n",
           read(pipes[0], start, length));
    printf("what it read: %s", start);
    struct iovec pieces[2] = {{start, length}, {"and more\n", 9}};
    printf("writev whose first piece crosses: %zd\n", writev(pipes[1], pieces, 2));
    memset(back, 0, sizeof back);
    printf("what went: %zd\n", read(pipes[0], back, sizeof back));
    printf("write starting in a hole: %s\n", outcome(write(pipes[1], two + 2 * page, 4)));
    return 0;
}

static void show_termios(const char *when, const struct termios *t) {
    printf("%s: ICANON %d ECHO %d ISIG %d IEXTEN %d ICRNL %d IXON %d OPOST %d ONLCR %d "
           "CS8 %d CREAD %d PARENB %d CSTOPB %d VMIN %d VTIME %d VINTR %d VEOF %d "
           "ospeed115200 %d ispeed9600 %d\n", when,
           !!(t->c_lflag & ICANON), !!(t->c_lflag & ECHO), !!(t->c_lflag & ISIG),
           !!(t->c_lflag & IEXTEN), !!(t->c_iflag & ICRNL), !!(t->c_iflag & IXON),
           !!(t->c_oflag & OPOST), !!(t->c_oflag & ONLCR), (t->c_cflag & CSIZE) == CS8,
           !!(t->c_cflag & CREAD), !!(t->c_cflag & PARENB), !!(t->c_cflag & CSTOPB),
           t->c_cc[VMIN], t->c_cc[VTIME], t->c_cc[VINTR], t->c_cc[VEOF],
           cfgetospeed(t) == B115200, cfgetispeed(t) == B9600);
}

static ssize_t read_some(int fd, char *buffer, size_t size) {
    ssize_t got = 0;
    for (int tries = 0; tries < 100 && got == 0; tries++) {
        ssize_t n = read(fd, buffer, size);
        if (n > 0) got = n;
        else usleep(10000);
    }
    return got;
}

int terminal_main(int argc, char **argv) {
    (void)argc; (void)argv;
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    CHECK(master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0);
    CHECK(strncmp(ptsname(master), "/dev/pts/", 9) == 0);
    int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
    CHECK(slave >= 0);
    int pipes[2];
    CHECK(pipe(pipes) == 0);
    int slave_tty = isatty(slave), master_tty = isatty(master), pipe_tty = isatty(pipes[0]);
    printf("isatty: slave %d, master %d, pipe %d (%s)\n", slave_tty, master_tty, pipe_tty,
           error_name(errno));
    struct termios t;
    CHECK(tcgetattr(slave, &t) == 0);
    show_termios("default", &t);
    t.c_lflag &= ~(ECHO | ICANON);
    t.c_cflag |= PARENB | CSTOPB;
    t.c_cc[VMIN] = 3;
    t.c_cc[VTIME] = 7;
    t.c_cc[VINTR] = 5;
    cfsetospeed(&t, B115200);
    cfsetispeed(&t, B9600);
    CHECK(tcsetattr(slave, TCSANOW, &t) == 0);
    memset(&t, 0, sizeof t);
    CHECK(tcgetattr(slave, &t) == 0);
    show_termios("changed", &t);
    cfmakeraw(&t);
    CHECK(tcsetattr(slave, TCSAFLUSH, &t) == 0);
    CHECK(tcgetattr(slave, &t) == 0);
    show_termios("raw", &t);
    CHECK(tcgetattr(slave, &t) == 0);
    t.c_lflag |= ICANON | ECHO;
    t.c_oflag |= OPOST | ONLCR;
    t.c_iflag |= ICRNL;
    CHECK(tcsetattr(slave, TCSADRAIN, &t) == 0);
    /* the host's line discipline obeys the translated flags: a line typed on
     * the master is echoed with ONLCR's \r\n, and read whole on the slave */
    CHECK(write(master, "typed\r", 6) == 6);
    char echo[32] = {0}, line[32] = {0};
    ssize_t echoed = read_some(master, echo, sizeof echo);
    printf("echo on the master: %zd bytes, ends in CR LF %d\n", echoed,
           echoed >= 2 && echo[echoed - 2] == '\r' && echo[echoed - 1] == '\n');
    int pending = -1;
    CHECK(ioctl(slave, FIONREAD, &pending) == 0);
    printf("FIONREAD on the slave: %d\n", pending);
    ssize_t got = read(slave, line, sizeof line);
    printf("the slave reads: %zd [%.*s]\n", got, (int)strcspn(line, "\n"), line);
    CHECK(write(master, "more\r", 5) == 5);
    usleep(50000);
    CHECK(tcflush(slave, TCIFLUSH) == 0);
    CHECK(ioctl(slave, FIONREAD, &pending) == 0);
    printf("after tcflush: %d\n", pending);
    struct winsize size = {24, 80, 640, 480}, back = {0, 0, 0, 0};
    CHECK(ioctl(slave, TIOCSWINSZ, &size) == 0 && ioctl(master, TIOCGWINSZ, &back) == 0);
    printf("window size: %d rows, %d columns, %dx%d pixels\n", back.ws_row, back.ws_col,
           back.ws_xpixel, back.ws_ypixel);
    int on = 1;
    CHECK(ioctl(pipes[0], FIONBIO, &on) == 0);
    char byte;
    printf("read from an empty pipe after FIONBIO: %s\n", outcome(read(pipes[0], &byte, 1)));
    printf("O_NONBLOCK now: %d\n", !!(fcntl(pipes[0], F_GETFL) & O_NONBLOCK));
    CHECK(write(pipes[1], "four", 4) == 4);
    CHECK(ioctl(pipes[0], FIONREAD, &pending) == 0);
    printf("FIONREAD on a pipe: %d\n", pending);
    CHECK(ioctl(pipes[0], FIOCLEX) == 0);
    printf("FIOCLEX: close-on-exec %d\n", !!(fcntl(pipes[0], F_GETFD) & FD_CLOEXEC));
    CHECK(ioctl(pipes[0], FIONCLEX) == 0);
    printf("FIONCLEX: close-on-exec %d\n", !!(fcntl(pipes[0], F_GETFD) & FD_CLOEXEC));
    printf("tcgetattr on a pipe: %s\n", outcome(tcgetattr(pipes[0], &t)));
    printf("an unknown request on the terminal: %s\n", outcome(ioctl(slave, 0x7A7A, 0)));
    return 0;
}

static const char *child_end(pid_t child) {
    int status;
    if (waitpid(child, &status, 0) != child) return "lost";
    if (WIFSIGNALED(status)) return WTERMSIG(status) == SIGSEGV ? "SIGSEGV" : "another signal";
    return WEXITSTATUS(status) == 0 ? "exit 0" : "exit non-zero";
}

static void on_alarm(int signum) { (void)signum; }

struct message { long mtype; char mtext[32]; };

int sysvipc_main(int argc, char **argv) {
    (void)argc; (void)argv;
    /* shared memory: a child's writes reach its parent */
    int shm = shmget(IPC_PRIVATE, 10000, IPC_CREAT | 0600);
    CHECK(shm >= 0);
    char *shared = shmat(shm, NULL, 0);
    CHECK(shared != (void *)-1);
    pid_t child = fork();
    if (child == 0) {
        strcpy(shared, "written by the child");
        _exit(0);
    }
    printf("child: %s; parent reads: %s\n", child_end(child), shared);
    char *again = shmat(shm, NULL, SHM_RDONLY);
    CHECK(again != (void *)-1);
    printf("a second attachment sees: %s, at another address %d\n", again, again != shared);
    struct shmid_ds ds;
    CHECK(shmctl(shm, IPC_STAT, &ds) == 0);
    printf("shm IPC_STAT: size %zu, attached %lu, mode %o, creator is me %d\n",
           (size_t)ds.shm_segsz, (unsigned long)ds.shm_nattch, ds.shm_perm.mode & 0777,
           ds.shm_cpid == getpid());
    ds.shm_perm.mode = 0640;
    CHECK(shmctl(shm, IPC_SET, &ds) == 0 && shmctl(shm, IPC_STAT, &ds) == 0);
    printf("after IPC_SET: mode %o\n", ds.shm_perm.mode & 0777);
    child = fork();
    if (child == 0) {
        again[0] = 'X';             /* a read-only attachment */
        _exit(0);
    }
    printf("writing a read-only attachment: %s\n", child_end(child));
    CHECK(shmdt(again) == 0);
    printf("shmdt twice: %s\n", outcome(shmdt(again)));
    CHECK(shmdt(shared) == 0 && shmctl(shm, IPC_RMID, NULL) == 0);
    printf("shmat after IPC_RMID: %s\n", outcome((long)shmat(shm, NULL, 0)));

    /* semaphores: a child waits for its parent */
    int sem = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
    CHECK(sem >= 0);
    /* the fourth argument is a union semun, passed as one (PowerPC's ABI
     * passes a union by reference, a bare pointer would not do) */
    union semun { int val; struct semid_ds *buf; unsigned short *array; } arg;
    unsigned short start[2] = {3, 0}, now[2] = {0, 0};
    arg.array = start;
    CHECK(semctl(sem, 0, SETALL, arg) == 0);
    struct sembuf down = {0, -2, 0};
    CHECK(semop(sem, &down, 1) == 0);
    arg.array = now;
    CHECK(semctl(sem, 0, GETALL, arg) == 0);
    printf("SETALL 3 0, then -2: %d %d; GETVAL 0: %d\n", now[0], now[1], semctl(sem, 0, GETVAL));
    struct sembuf wait_one = {1, -1, 0}, post_one = {1, 1, 0};
    child = fork();
    if (child == 0) {
        _exit(semop(sem, &wait_one, 1) == 0 ? 0 : 1);
    }
    usleep(50000);
    CHECK(semop(sem, &post_one, 1) == 0);
    printf("a child waiting on a semaphore: %s\n", child_end(child));
    struct timespec brief = {0, 30000000};
    printf("semtimedop on zero: %s\n", outcome(semtimedop(sem, &wait_one, 1, &brief)));
    struct sembuf try_one = {1, -1, IPC_NOWAIT};
    printf("IPC_NOWAIT on zero: %s\n", outcome(semop(sem, &try_one, 1)));
    signal(SIGALRM, on_alarm);
    ualarm(30000, 0);
    printf("a signal during semop: %s\n", outcome(semop(sem, &wait_one, 1)));
    arg.val = 7;
    CHECK(semctl(sem, 1, SETVAL, arg) == 0);
    printf("SETVAL 7: %d\n", semctl(sem, 1, GETVAL));
    struct semid_ds sds;
    arg.buf = &sds;
    CHECK(semctl(sem, 0, IPC_STAT, arg) == 0);
    printf("sem IPC_STAT: %lu semaphores, mode %o\n", (unsigned long)sds.sem_nsems,
           sds.sem_perm.mode & 0777);
    CHECK(semctl(sem, 0, IPC_RMID) == 0);
    printf("semop after IPC_RMID: %s\n", outcome(semop(sem, &down, 1)));

    /* message queues */
    int queue = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    CHECK(queue >= 0);
    struct message out = {2, "type two"}, in;
    CHECK(msgsnd(queue, &out, strlen(out.mtext) + 1, 0) == 0);
    out.mtype = 1;
    strcpy(out.mtext, "type one");
    CHECK(msgsnd(queue, &out, strlen(out.mtext) + 1, 0) == 0);
    struct msqid_ds qds;
    CHECK(msgctl(queue, IPC_STAT, &qds) == 0);
    printf("msg IPC_STAT: %lu messages, %lu bytes\n", (unsigned long)qds.msg_qnum,
           (unsigned long)qds.__msg_cbytes);
    memset(&in, 0, sizeof in);
    printf("msgrcv type 1: %zd", msgrcv(queue, &in, sizeof in.mtext, 1, 0));
    printf(" [%ld %s]\n", in.mtype, in.mtext);
    printf("msgrcv into 4 bytes: %s\n", outcome(msgrcv(queue, &in, 4, 0, 0)));
    memset(&in, 0, sizeof in);
    printf("with MSG_NOERROR: %zd", msgrcv(queue, &in, 4, 0, MSG_NOERROR));
    printf(" [%ld %.4s]\n", in.mtype, in.mtext);
    printf("msgrcv of an empty queue, IPC_NOWAIT: %s\n",
           outcome(msgrcv(queue, &in, sizeof in.mtext, 0, IPC_NOWAIT)));
    child = fork();
    if (child == 0) {
        struct message got;
        ssize_t n = msgrcv(queue, &got, sizeof got.mtext, -5, 0);
        _exit(n == 6 && got.mtype == 3 && strcmp(got.mtext, "later") == 0 ? 0 : 1);
    }
    usleep(50000);
    out.mtype = 3;
    strcpy(out.mtext, "later");
    CHECK(msgsnd(queue, &out, 6, 0) == 0);
    printf("a child waiting for a message: %s\n", child_end(child));
    CHECK(msgctl(queue, IPC_RMID, NULL) == 0);
    printf("msgsnd after IPC_RMID: %s\n", outcome(msgsnd(queue, &out, 6, 0)));
    return 0;
}
