/* stall: clients that open resuming SSE streams and then never read them.
 *
 *   stall HOST PORT PATH COUNT RCVBUF [LAST_EVENT_ID]
 *
 * Opens COUNT connections to HOST:PORT, each with a receive buffer of RCVBUF bytes (set before
 * connecting, so the TCP window stays that small), sends "GET PATH" with the Last-Event-ID
 * header (if given), and reads once, up to 512 bytes, until the status line has arrived. From
 * then on it reads nothing: what the server sends fills the small window and the server's
 * send buffer, and then waits. Prints "ready OK OTHER FAILED" (streams answered 200, answered
 * otherwise, failed to connect or answer within 10 s) on stdout once every connection is
 * settled, then holds the connections until its standard input closes (or SIGTERM), and
 * exits 0. Exit 2 on bad usage. Loopback only by intent: it is a test and benchmark tool.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Connect one client with a small receive buffer and send the request. Returns the socket or
 * -1. */
static int open_one(const struct sockaddr_in *sa, int rcvbuf, const char *req, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) != 0 ||
        connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) != 0 ||
        send(fd, req, len, MSG_NOSIGNAL) != (ssize_t)len) {
        close(fd);
        return -1;
    }
    return fd;
}

int main(int argc, char **argv)
{
    if (argc < 6 || argc > 7) {
        fprintf(stderr, "usage: stall HOST PORT PATH COUNT RCVBUF [LAST_EVENT_ID]\n");
        return 2;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    int count = atoi(argv[4]), rcvbuf = atoi(argv[5]);
    if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1 || count < 1 || rcvbuf < 1) {
        fprintf(stderr, "stall: bad address, count or buffer size\n");
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)count + 64) {
        rl.rlim_cur = rl.rlim_max < (rlim_t)count + 64 ? rl.rlim_max : (rlim_t)count + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    char req[1024];
    int len = snprintf(req, sizeof(req),
                       "GET %s HTTP/1.1\r\nHost: %s:%s\r\nAccept: text/event-stream\r\n%s%s%s"
                       "\r\n",
                       argv[3], argv[1], argv[2], argc == 7 ? "Last-Event-ID: " : "",
                       argc == 7 ? argv[6] : "", argc == 7 ? "\r\n" : "");
    if (len < 0 || (size_t)len >= sizeof(req)) {
        fprintf(stderr, "stall: request too long\n");
        return 2;
    }
    struct pollfd *p = calloc((size_t)count + 1, sizeof(*p));
    if (!p)
        return 2;
    int ok = 0, other = 0, failed = 0, waiting = 0;
    for (int i = 0; i < count; i++) {
        p[i].fd = open_one(&sa, rcvbuf, req, (size_t)len);
        p[i].events = POLLIN;
        if (p[i].fd < 0)
            failed++;
        else
            waiting++;
    }
    /* Each connection's first bytes: the status line. */
    long long end = now_ms() + 10000;
    while (waiting && now_ms() < end) {
        int n = poll(p, (nfds_t)count, (int)(end - now_ms()));
        if (n < 0 && errno != EINTR)
            break;
        for (int i = 0; i < count && n > 0; i++) {
            if (p[i].fd < 0 || !p[i].revents)
                continue;
            char buf[512];
            ssize_t k = recv(p[i].fd, buf, sizeof(buf) - 1, 0);
            if (k >= 12 && memcmp(buf, "HTTP/1.1 200", 12) == 0)
                ok++;
            else if (k > 0)
                other++;
            else
                failed++;
            p[i].events = 0; /* never read again */
            p[i].fd = ~p[i].fd;
            waiting--;
        }
    }
    failed += waiting;
    printf("ready %d %d %d\n", ok, other, failed);
    fflush(stdout);
    /* Hold every connection, unread, until stdin closes. */
    for (;;) {
        char c;
        ssize_t r = read(0, &c, 1);
        if (r == 0 || (r < 0 && errno != EINTR))
            break;
    }
    for (int i = 0; i < count; i++)
        if (p[i].fd != -1)
            close(p[i].fd < 0 ? ~p[i].fd : p[i].fd);
    free(p);
    return 0;
}
