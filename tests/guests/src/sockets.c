/* Sockets (issue 15), on loopback only; no ports, pids or addresses of the
 * host in the output.
 *   tcpecho  a TCP echo between two processes on 127.0.0.1: bind to port 0,
 *            getsockname, listen, accept, connect, send/recv, getpeername,
 *            options (SO_TYPE, SO_REUSEADDR, TCP_NODELAY, SO_RCVTIMEO)
 *   udpecho  UDP sendto/recvfrom, recvmsg with the sender's name,
 *            sendmmsg/recvmmsg
 *   unixfd   AF_UNIX: a descriptor passed with SCM_RIGHTS, SCM_CREDENTIALS,
 *            an abstract datagram name, a named stream socket */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <stddef.h>
#include <unistd.h>

#define CHECK(cond) do { if (!(cond)) { printf("FAILED: %s (%s)\n", #cond, strerror(errno)); \
                                        fflush(stdout); return 1; } } while (0)

static int loopback_listener(struct sockaddr_in *bound) {
    int server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (server < 0) return -1;
    int on = 1;
    if (setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0) return -1;
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = 0,
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(server, (struct sockaddr *)&address, sizeof address) < 0) return -1;
    socklen_t size = sizeof *bound;
    if (getsockname(server, (struct sockaddr *)bound, &size) < 0) return -1;
    if (listen(server, 4) < 0) return -1;
    return server;
}

int tcpecho_main(int argc, char **argv) {
    (void)argc; (void)argv;
    struct sockaddr_in bound;
    int server = loopback_listener(&bound);
    CHECK(server >= 0);
    printf("bound to 127.0.0.1: %s, a port chosen: %s\n",
           bound.sin_addr.s_addr == htonl(INADDR_LOOPBACK) ? "yes" : "no",
           ntohs(bound.sin_port) > 0 ? "yes" : "no");
    int type = 0, reuse = 0;
    socklen_t size = sizeof type;
    CHECK(getsockopt(server, SOL_SOCKET, SO_TYPE, &type, &size) == 0);
    size = sizeof reuse;
    CHECK(getsockopt(server, SOL_SOCKET, SO_REUSEADDR, &reuse, &size) == 0);
    printf("SO_TYPE stream: %s, SO_REUSEADDR: %d\n", type == SOCK_STREAM ? "yes" : "no", reuse);
    fflush(stdout);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        int client = socket(AF_INET, SOCK_STREAM, 0);
        if (client < 0 || connect(client, (struct sockaddr *)&bound, sizeof bound) < 0) _exit(3);
        int on = 1;
        setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
        if (send(client, "ping over tcp", 13, 0) != 13) _exit(4);
        char reply[32] = {0};
        ssize_t got = recv(client, reply, 13, MSG_WAITALL);
        printf("client got back: %.*s\n", (int)got, reply);
        fflush(stdout);
        _exit(0);
    }
    struct sockaddr_in peer;
    socklen_t peer_size = sizeof peer;
    int connection = accept(server, (struct sockaddr *)&peer, &peer_size);
    CHECK(connection >= 0);
    printf("accepted from 127.0.0.1: %s (address size %u)\n",
           peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK) ? "yes" : "no", (unsigned)peer_size);
    char message[32] = {0};
    ssize_t got = recv(connection, message, 13, MSG_WAITALL);
    printf("server got: %.*s\n", (int)got, message);
    CHECK(send(connection, message, got, 0) == got);
    int status;
    CHECK(waitpid(child, &status, 0) == child);
    printf("client exited %d\n", WEXITSTATUS(status));
    struct sockaddr_in other;
    socklen_t other_size = sizeof other;
    CHECK(getpeername(connection, (struct sockaddr *)&other, &other_size) == 0);
    printf("getpeername is the client: %s\n", other.sin_port == peer.sin_port ? "yes" : "no");
    struct timeval timeout = {0, 200000}, back = {0, 0};
    CHECK(setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) == 0);
    size = sizeof back;
    CHECK(getsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &back, &size) == 0);
    printf("SO_RCVTIMEO round trip: %ld.%06ld, the size of a timeval: %s\n", (long)back.tv_sec,
           (long)back.tv_usec, size == sizeof back ? "yes" : "no");
    got = recv(connection, message, sizeof message, 0);
    printf("recv after the client closed: %zd\n", got);
    int pipe_like[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, pipe_like) == 0);
    CHECK(setsockopt(pipe_like[0], SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) == 0);
    errno = 0;
    got = recv(pipe_like[0], message, sizeof message, 0);
    printf("recv with nothing to read and a timeout: %zd %s\n", got,
           errno == EAGAIN ? "EAGAIN" : strerror(errno));
    int error = -1;
    size = sizeof error;
    CHECK(getsockopt(connection, SOL_SOCKET, SO_ERROR, &error, &size) == 0);
    printf("SO_ERROR: %d\n", error);
    CHECK(shutdown(connection, SHUT_RDWR) == 0);
    struct sockaddr_in refused = bound;
    close(server);
    int late = socket(AF_INET, SOCK_STREAM, 0);
    errno = 0;
    int result = connect(late, (struct sockaddr *)&refused, sizeof refused);
    printf("connect to a closed port: %d %s\n", result,
           errno == ECONNREFUSED ? "ECONNREFUSED" : strerror(errno));
    return 0;
}

int udpecho_main(int argc, char **argv) {
    (void)argc; (void)argv;
    int a = socket(AF_INET, SOCK_DGRAM, 0), b = socket(AF_INET, SOCK_DGRAM, 0);
    CHECK(a >= 0 && b >= 0);
    struct sockaddr_in any = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(bind(a, (struct sockaddr *)&any, sizeof any) == 0);
    CHECK(bind(b, (struct sockaddr *)&any, sizeof any) == 0);
    struct sockaddr_in at_a, at_b;
    socklen_t size = sizeof at_a;
    CHECK(getsockname(a, (struct sockaddr *)&at_a, &size) == 0);
    size = sizeof at_b;
    CHECK(getsockname(b, (struct sockaddr *)&at_b, &size) == 0);
    CHECK(sendto(a, "datagram one", 12, 0, (struct sockaddr *)&at_b, sizeof at_b) == 12);
    char buffer[64] = {0};
    struct sockaddr_in from;
    socklen_t from_size = sizeof from;
    ssize_t got = recvfrom(b, buffer, sizeof buffer, 0, (struct sockaddr *)&from, &from_size);
    printf("recvfrom: %.*s, from a: %s\n", (int)got, buffer,
           from.sin_port == at_a.sin_port ? "yes" : "no");
    CHECK(sendto(b, "reply", 5, 0, (struct sockaddr *)&from, from_size) == 5);
    struct iovec iov = {buffer, sizeof buffer};
    struct sockaddr_in name;
    struct msghdr message = {.msg_name = &name, .msg_namelen = sizeof name, .msg_iov = &iov,
                             .msg_iovlen = 1};
    got = recvmsg(a, &message, 0);
    printf("recvmsg: %.*s, name from b: %s, namelen %u\n", (int)got, buffer,
           name.sin_port == at_b.sin_port ? "yes" : "no", (unsigned)message.msg_namelen);
    CHECK(connect(a, (struct sockaddr *)&at_b, sizeof at_b) == 0);
    struct iovec parts[2] = {{"first", 5}, {"second!", 7}};
    struct mmsghdr out[2] = {{.msg_hdr = {.msg_iov = &parts[0], .msg_iovlen = 1}},
                             {.msg_hdr = {.msg_iov = &parts[1], .msg_iovlen = 1}}};
    printf("sendmmsg: %d\n", sendmmsg(a, out, 2, 0));
    printf("lengths sent: %u %u\n", out[0].msg_len, out[1].msg_len);
    /* room for three where two wait: the batch ends with what there is */
    char one[16] = {0}, two[16] = {0}, three[16] = {0};
    struct iovec into[3] = {{one, sizeof one}, {two, sizeof two}, {three, sizeof three}};
    struct mmsghdr in[3] = {{.msg_hdr = {.msg_iov = &into[0], .msg_iovlen = 1}},
                            {.msg_hdr = {.msg_iov = &into[1], .msg_iovlen = 1}},
                            {.msg_hdr = {.msg_iov = &into[2], .msg_iovlen = 1}}};
    int count = recvmmsg(b, in, 3, MSG_WAITFORONE, NULL);
    printf("recvmmsg: %d: %s (%u) %s (%u)\n", count, one, in[0].msg_len, two, in[1].msg_len);
    errno = 0;
    got = recv(b, buffer, sizeof buffer, MSG_DONTWAIT);
    printf("recv with MSG_DONTWAIT on nothing: %zd %s\n", got,
           errno == EAGAIN ? "EAGAIN" : strerror(errno));
    return 0;
}

static int send_fd(int over, int fd) {
    char byte = 'F';
    struct iovec iov = {&byte, 1};
    union { char buffer[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } control;
    memset(&control, 0, sizeof control);
    struct msghdr message = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buffer,
                             .msg_controllen = sizeof control.buffer};
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(header), &fd, sizeof fd);
    return sendmsg(over, &message, 0);
}

int unixfd_main(int argc, char **argv) {
    (void)argc; (void)argv;
    int pair[2], pipes[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0);
    CHECK(pipe(pipes) == 0);
    CHECK(write(pipes[1], "through a passed fd", 19) == 19);
    CHECK(send_fd(pair[0], pipes[0]) == 1);
    close(pipes[0]);
    char byte;
    struct iovec iov = {&byte, 1};
    union { char buffer[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } control;
    struct msghdr message = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buffer,
                             .msg_controllen = sizeof control.buffer};
    CHECK(recvmsg(pair[1], &message, MSG_CMSG_CLOEXEC) == 1);
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    CHECK(header && header->cmsg_type == SCM_RIGHTS);
    int received;
    memcpy(&received, CMSG_DATA(header), sizeof received);
    char text[32] = {0};
    CHECK(read(received, text, 19) == 19);
    printf("SCM_RIGHTS: the passed descriptor reads: %s\n", text);
    int on = 1;
    CHECK(setsockopt(pair[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == 0);
    CHECK(send(pair[0], "c", 1, 0) == 1);
    union { char buffer[CMSG_SPACE(sizeof(struct ucred))]; struct cmsghdr align; } creds;
    message.msg_control = creds.buffer;
    message.msg_controllen = sizeof creds.buffer;
    CHECK(recvmsg(pair[1], &message, 0) == 1);
    header = CMSG_FIRSTHDR(&message);
    CHECK(header != NULL);
    struct ucred who;
    memcpy(&who, creds.buffer + CMSG_LEN(0), sizeof who);
    printf("SCM_CREDENTIALS: type %s, pid is ours: %s, uid is ours: %s\n",
           header->cmsg_type == SCM_CREDENTIALS ? "yes" : "no",
           who.pid == getpid() ? "yes" : "no", who.uid == getuid() ? "yes" : "no");
    struct ucred peer;
    socklen_t size = sizeof peer;
    CHECK(getsockopt(pair[0], SOL_SOCKET, SO_PEERCRED, &peer, &size) == 0);
    printf("SO_PEERCRED: pid is ours: %s\n", peer.pid == getpid() ? "yes" : "no");

    int server = socket(AF_UNIX, SOCK_DGRAM, 0), client = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un abstract = {.sun_family = AF_UNIX};
    memcpy(abstract.sun_path, "\0xemu-abstract-test", 20);
    socklen_t length = offsetof(struct sockaddr_un, sun_path) + 20;
    CHECK(bind(server, (struct sockaddr *)&abstract, length) == 0);
    CHECK(sendto(client, "to an abstract name", 19, 0, (struct sockaddr *)&abstract,
                 length) == 19);
    memset(text, 0, sizeof text);
    CHECK(recv(server, text, sizeof text, 0) == 19);
    printf("abstract datagram: %s\n", text);

    unlink("xemu-test.sock");
    int named = socket(AF_UNIX, SOCK_STREAM, 0), caller = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un path = {.sun_family = AF_UNIX, .sun_path = "xemu-test.sock"};
    CHECK(bind(named, (struct sockaddr *)&path, sizeof path) == 0);
    CHECK(listen(named, 1) == 0);
    CHECK(connect(caller, (struct sockaddr *)&path, sizeof path) == 0);
    int served = accept(named, NULL, NULL);
    CHECK(served >= 0);
    CHECK(write(caller, "named", 5) == 5);
    memset(text, 0, sizeof text);
    CHECK(read(served, text, 5) == 5);
    struct sockaddr_un name;
    size = sizeof name;
    CHECK(getsockname(named, (struct sockaddr *)&name, &size) == 0);
    printf("named stream socket: %s, getsockname: %s\n", text, name.sun_path);
    unlink("xemu-test.sock");
    return 0;
}

/* tcpthreads: one thread blocks in accept and recv before another, in the
 * same process, connects and sends: a blocking socket call must let the
 * other guest threads run (under TCG one runs at a time). */
#include <pthread.h>

static struct sockaddr_in threads_bound;

static void *late_client(void *unused) {
    (void)unused;
    usleep(100000);
    int client = socket(AF_INET, SOCK_STREAM, 0);
    if (client < 0 || connect(client, (struct sockaddr *)&threads_bound,
                              sizeof threads_bound) < 0)
        return (void *)1;
    send(client, "from a thread", 13, 0);
    close(client);
    return NULL;
}

int tcpthreads_main(int argc, char **argv) {
    (void)argc; (void)argv;
    int server = loopback_listener(&threads_bound);
    CHECK(server >= 0);
    pthread_t client;
    CHECK(pthread_create(&client, NULL, late_client, NULL) == 0);
    int connection = accept(server, NULL, NULL);
    CHECK(connection >= 0);
    char text[32] = {0};
    ssize_t got = recv(connection, text, 13, MSG_WAITALL);
    void *result;
    CHECK(pthread_join(client, &result) == 0);
    printf("accepted while the client thread ran: %.*s, client %s\n", (int)got, text,
           result == NULL ? "ok" : "failed");
    return 0;
}

/* getifaddrs asks rtnetlink for every link and address: the loopback
 * device's entries are the same on every machine. */
int ifaddrs_main(int argc, char **argv) {
    (void)argc; (void)argv;
    struct ifaddrs *all;
    if (getifaddrs(&all) != 0) {
        perror("getifaddrs");
        return 1;
    }
    for (struct ifaddrs *entry = all; entry; entry = entry->ifa_next) {
        /* (IPv6 is left out: some containers have no ::1) */
        if (strcmp(entry->ifa_name, "lo") != 0 || !entry->ifa_addr ||
            entry->ifa_addr->sa_family == AF_INET6)
            continue;
        int family = entry->ifa_addr->sa_family;
        char text[96] = "", mask[96] = "";
        if (family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)entry->ifa_addr)->sin_addr, text,
                      sizeof text);
            inet_ntop(AF_INET, &((struct sockaddr_in *)entry->ifa_netmask)->sin_addr, mask,
                      sizeof mask);
        } else if (family == AF_INET6) {
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)entry->ifa_addr)->sin6_addr, text,
                      sizeof text);
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)entry->ifa_netmask)->sin6_addr, mask,
                      sizeof mask);
        } else if (family == AF_PACKET) {
            struct sockaddr_ll *link = (struct sockaddr_ll *)entry->ifa_addr;
            snprintf(text, sizeof text, "index %d, hardware type %d, %d address bytes",
                     link->sll_ifindex == (int)if_nametoindex("lo") ? 1 : -1,
                     link->sll_hatype, link->sll_halen);
            struct rtnl_link_stats *stats = entry->ifa_data;
            snprintf(mask, sizeof mask, "stats %s", stats ? "present" : "absent");
        }
        printf("lo %s: %s %s, up %d, loopback %d, running %d\n",
               family == AF_INET ? "inet" : family == AF_INET6 ? "inet6" :
               family == AF_PACKET ? "packet" : "other", text, mask,
               !!(entry->ifa_flags & IFF_UP), !!(entry->ifa_flags & IFF_LOOPBACK),
               !!(entry->ifa_flags & IFF_RUNNING));
    }
    freeifaddrs(all);
    printf("if_nametoindex(lo) is if_nametoindex of its own name: %d\n",
           if_nametoindex("lo") > 0);
    char name[IF_NAMESIZE] = "";
    printf("if_indextoname: %s\n", if_indextoname(if_nametoindex("lo"), name) ? name : "?");
    int sock = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq request;
    memset(&request, 0, sizeof request);
    strcpy(request.ifr_name, "lo");
    if (ioctl(sock, SIOCGIFFLAGS, &request) == 0)
        printf("SIOCGIFFLAGS: up %d, loopback %d\n", !!(request.ifr_flags & IFF_UP),
               !!(request.ifr_flags & IFF_LOOPBACK));
    if (ioctl(sock, SIOCGIFMTU, &request) == 0)
        printf("SIOCGIFMTU: above 1000 %d\n", request.ifr_mtu > 1000);
    if (ioctl(sock, SIOCGIFADDR, &request) == 0)
        printf("SIOCGIFADDR: family %d, %s\n", request.ifr_addr.sa_family,
               inet_ntoa(((struct sockaddr_in *)&request.ifr_addr)->sin_addr));
    if (ioctl(sock, SIOCGIFHWADDR, &request) == 0)
        printf("SIOCGIFHWADDR: type %d\n", request.ifr_hwaddr.sa_family);
    struct ifreq records[16];
    struct ifconf conf = {.ifc_len = sizeof records, .ifc_req = records};
    if (ioctl(sock, SIOCGIFCONF, &conf) == 0) {
        for (int i = 0; i < conf.ifc_len / (int)sizeof *records; i++)
            if (strcmp(records[i].ifr_name, "lo") == 0)
                printf("SIOCGIFCONF: lo %s\n",
                       inet_ntoa(((struct sockaddr_in *)&records[i].ifr_addr)->sin_addr));
    }
    close(sock);
    return 0;
}
