/* ssebench: open N SSE subscribers, publish M marked messages, measure delivery.
 *
 * ssebench -c CONNS -s HOST:PORT -S /sub/path -P /pub/path [-m MSGS] [-r RATE]
 *          [-f FIELD] [-u USER] [-w WAIT_S] [-k CONN_PER_BURST] [-j]
 * Each published message body carries the marker "bm<seq>x<t_us>y" (in field FIELD of a
 * urlencoded form when -f is given, else the raw body). Subscribers scan every byte they
 * read for the marker; the latency is now - t_us. A subscriber counts each seq once; markers stamped before this run (replayed history) are ignored.
 * Prints connected, delivered/expected, lost, latency p50/p90/p99/max in ms, publish
 * errors, and the publisher's POST latency. Exit 0 when all delivered.
 * -F WORKERS splits the subscribers over that many processes (each process's open-files limit
 * bounds its share); the parent only publishes and merges. -C COOKIE adds a Cookie header to
 * every POST (servers that verify the poster's identity). -z PAD appends a space and PAD - 1
 * x's to the marker (up to 16,384 bytes), so that a raw message is as large as a rendered one.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int fd;
    int state; /* 0 connecting, 1 sent, 2 got headers, -1 dead */
    char tail[64];
    int taillen;
    unsigned char *seen; /* bitmap of seq */
    long bytes;
} sub_t;

static long long now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static struct sockaddr_in srv;
static int nsrc = 1;
#define MAX_PAD 16384

static int connect_nb(int idx) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (nsrc > 1) { /* spread source addresses over 127.0.0.x to escape the port range */
        struct sockaddr_in src = {0};
        src.sin_family = AF_INET;
        src.sin_addr.s_addr = htonl(0x7f000002 + (idx % nsrc));
        bind(fd, (struct sockaddr *)&src, sizeof src);
    }
    if (connect(fd, (struct sockaddr *)&srv, sizeof srv) < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

static int cmp_ll(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

/* blocking POST; returns status code or -1 */
static int post(const char *host, const char *path, const char *ctype, const char *body, const char *extra) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&srv, sizeof srv) < 0) { close(fd); return -1; }
    char req[8192];
    int n = snprintf(req, sizeof req,
                     "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n%s",
                     path, host, ctype, strlen(body), extra, body);
    if (write(fd, req, n) != n) { close(fd); return -1; }
    char buf[4096];
    int got = 0, r;
    while ((r = read(fd, buf + got, sizeof buf - 1 - got)) > 0) {
        got += r;
        if (got >= (int)sizeof buf - 1) break;
    }
    close(fd);
    buf[got] = 0;
    int code = -1;
    if (got > 12) sscanf(buf, "HTTP/1.%*d %d", &code);
    return code;
}

typedef struct {
    int conns, msgs, rate, wait_s, burst, first;
    const char *hostport, *subp;
} sub_cfg;

/* One subscriber process: connect cfg->conns subscribers (global indexes from cfg->first), report
 * "connected" on rep, read the publish start time from go, count markers until the deadline, then
 * write "delivered expected dropped bytes nlat" and the latencies (binary) to rep. */
static void sub_worker(const sub_cfg *cf, int rep, int go) {
    int conns = cf->conns, msgs = cf->msgs;
    int ep = epoll_create1(0);
    sub_t *subs = calloc(conns ? conns : 1, sizeof *subs);
    char req[1024];
    int reqlen = snprintf(req, sizeof req,
                          "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n",
                          cf->subp, cf->hostport);
    int bitmap = (msgs + 7) / 8 + 1;
    long long *lat = malloc(sizeof(long long) * (size_t)conns * msgs + 8);
    long nlat = 0;
    struct epoll_event evs[1024];
    int connected = 0, opened = 0, failed = 0;
    long long t0 = now_us();
    while (connected + failed < conns && now_us() - t0 < 120000000LL) {
        while (opened < conns && opened - connected - failed < cf->burst) {
            sub_t *s = &subs[opened];
            s->seen = calloc(bitmap, 1);
            s->fd = connect_nb(cf->first + opened);
            if (s->fd < 0) { s->state = -1; failed++; opened++; continue; }
            struct epoll_event e = {.events = EPOLLOUT | EPOLLIN, .data.u32 = opened};
            epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &e);
            opened++;
        }
        int n = epoll_wait(ep, evs, 1024, 100);
        for (int i = 0; i < n; i++) {
            sub_t *s = &subs[evs[i].data.u32];
            if (s->state == 0 && (evs[i].events & EPOLLOUT)) {
                if (write(s->fd, req, reqlen) != reqlen) { s->state = -1; failed++; close(s->fd); continue; }
                s->state = 1;
                struct epoll_event e = {.events = EPOLLIN, .data.u32 = evs[i].data.u32};
                epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &e);
            } else if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                char buf[16384];
                ssize_t r = read(s->fd, buf, sizeof buf);
                if (r <= 0) { if (s->state >= 0) { if (s->state == 2) connected--; s->state = -1; failed++; close(s->fd);} continue; }
                s->bytes += r;
                if (s->state == 1 && memmem(buf, r, "\r\n\r\n", 4)) {
                    if (!memmem(buf, r < 40 ? r : 40, " 200", 4)) {
                        buf[r < 200 ? r : 200] = 0;
                        if (failed < 3) fprintf(stderr, "non-200: %s\n", buf);
                        s->state = -1; failed++; close(s->fd); continue;
                    }
                    s->state = 2;
                    connected++;
                }
            }
        }
    }
    long long settle = now_us() + 300000;
    while (now_us() < settle) {
        int n = epoll_wait(ep, evs, 1024, 50);
        for (int i = 0; i < n; i++) {
            char buf[16384];
            sub_t *s = &subs[evs[i].data.u32];
            ssize_t r = read(s->fd, buf, sizeof buf);
            if (r <= 0 && s->state == 2) { s->state = -1; connected--; close(s->fd); }
        }
    }
    char line[64];
    int ln = snprintf(line, sizeof line, "%d %d\n", connected, failed);
    if (write(rep, line, ln) != ln) _exit(3);
    long long pub_start = 0;
    if (read(go, &pub_start, sizeof pub_start) != (ssize_t)sizeof pub_start) _exit(3);
    long long deadline = pub_start + (long long)msgs * 1000000LL / (cf->rate > 0 ? cf->rate : 1) + cf->wait_s * 1000000LL;
    long expected = (long)connected * msgs, delivered = 0;
    int dropped_conns = 0;
    while (now_us() < deadline && delivered < expected) {
        int n = epoll_wait(ep, evs, 1024, 50);
        long long tn = now_us();
        for (int i = 0; i < n; i++) {
            sub_t *s = &subs[evs[i].data.u32];
            if (s->state != 2) continue;
            char buf[65536 + 64];
            memcpy(buf, s->tail, s->taillen);
            ssize_t r = read(s->fd, buf + s->taillen, 65536);
            if (r <= 0) { s->state = -1; dropped_conns++; close(s->fd); continue; }
            s->bytes += r;
            size_t len = s->taillen + r;
            char *p = buf, *end = buf + len;
            while ((p = memmem(p, end - p, "bm", 2)) != NULL) {
                char *q = p + 2;
                long seq = 0; long long t = 0;
                while (q < end && *q >= '0' && *q <= '9') seq = seq * 10 + (*q++ - '0');
                if (q >= end) break;
                if (*q != 'x') { p += 2; continue; }
                q++;
                while (q < end && *q >= '0' && *q <= '9') t = t * 10 + (*q++ - '0');
                if (q >= end) break;
                if (*q != 'y') { p += 2; continue; }
                if (seq < msgs && t >= pub_start - 1000000LL && !(s->seen[seq / 8] & (1 << (seq % 8)))) {
                    s->seen[seq / 8] |= 1 << (seq % 8);
                    lat[nlat++] = tn - t;
                    delivered++;
                }
                p = q + 1;
            }
            size_t keep = len < 48 ? len : 48;
            memcpy(s->tail, end - keep, keep);
            s->taillen = keep;
        }
    }
    long totbytes = 0;
    for (int i = 0; i < conns; i++) totbytes += subs[i].bytes;
    long long hdr[5] = {delivered, expected, dropped_conns, totbytes, nlat};
    if (write(rep, hdr, sizeof hdr) != (ssize_t)sizeof hdr) _exit(3);
    for (long off = 0; off < nlat;) {
        ssize_t w = write(rep, lat + off, (size_t)(nlat - off) * sizeof *lat);
        if (w <= 0) _exit(3);
        off += w / (ssize_t)sizeof *lat;
    }
    _exit(0);
}

static int read_full(int fd, void *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r <= 0) return -1;
        got += (size_t)r;
    }
    return 0;
}

int main(int argc, char **argv) {
    int conns = 100, msgs = 50, rate = 50, wait_s = 5, burst = 200, json = 0, workers = 1, pad = 0;
    const char *hostport = "127.0.0.1:8080", *subp = "/home/sse", *pubp = "/home", *field = NULL, *user = "bench";
    const char *extra = "";
    static char cookie_hdr[4096];
    int opt;
    while ((opt = getopt(argc, argv, "c:s:S:P:m:r:f:u:w:k:jn:H:F:C:z:")) != -1) {
        switch (opt) {
        case 'c': conns = atoi(optarg); break;
        case 's': hostport = optarg; break;
        case 'S': subp = optarg; break;
        case 'P': pubp = optarg; break;
        case 'm': msgs = atoi(optarg); break;
        case 'r': rate = atoi(optarg); break;
        case 'f': field = optarg; break;
        case 'u': user = optarg; break;
        case 'w': wait_s = atoi(optarg); break;
        case 'k': burst = atoi(optarg); break;
        case 'j': json = 1; break;
        case 'n': nsrc = atoi(optarg); break;
        case 'H': extra = optarg; break;
        case 'F': workers = atoi(optarg); break;
        case 'C': snprintf(cookie_hdr, sizeof cookie_hdr, "Cookie: %s\r\n", optarg); extra = cookie_hdr; break;
        case 'z': pad = atoi(optarg); break;
        default: fprintf(stderr, "bad args\n"); return 2;
        }
    }
    if (workers < 1) workers = 1;
    if (pad < 0 || pad > MAX_PAD) { fprintf(stderr, "-z: 0 to %d bytes\n", MAX_PAD); return 2; }
    static char padding[MAX_PAD + 1];
    if (pad > 0) { padding[0] = ' '; memset(padding + 1, 'x', (size_t)pad - 1); }
    char host[256];
    snprintf(host, sizeof host, "%s", hostport);
    char *colon = strrchr(host, ':');
    int port = 80;
    if (colon) { *colon = 0; port = atoi(colon + 1); }
    srv.sin_family = AF_INET;
    srv.sin_port = htons(port);
    inet_pton(AF_INET, host, &srv.sin_addr);

    int (*rep)[2] = calloc(workers, sizeof *rep), (*go)[2] = calloc(workers, sizeof *go);
    pid_t *pids = calloc(workers, sizeof *pids);
    long long t0 = now_us();
    for (int k = 0; k < workers; k++) {
        if (pipe(rep[k]) || pipe(go[k])) return 1;
        sub_cfg cf = {conns / workers + (k < conns % workers), msgs, rate, wait_s, burst, 0, hostport, subp};
        for (int j = 0; j < k; j++) cf.first += conns / workers + (j < conns % workers);
        pids[k] = fork();
        if (pids[k] == 0) { close(rep[k][0]); close(go[k][1]); sub_worker(&cf, rep[k][1], go[k][0]); }
        close(rep[k][1]); close(go[k][0]);
    }
    int connected = 0, failed = 0;
    for (int k = 0; k < workers; k++) {
        char line[64] = "";
        int n = 0;
        while (n < (int)sizeof line - 1 && read(rep[k][0], line + n, 1) == 1 && line[n] != '\n') n++;
        int c = 0, f = 0;
        sscanf(line, "%d %d", &c, &f);
        connected += c; failed += f;
    }
    fprintf(stderr, "connected %d/%d in %.2fs (failed %d)\n", connected, conns, (now_us() - t0) / 1e6, failed);
    long long pub_start = now_us() + 100000;
    for (int k = 0; k < workers; k++)
        if (write(go[k][1], &pub_start, sizeof pub_start) != (ssize_t)sizeof pub_start) return 1;

    int errs = 0;
    long long maxpost = 0, sumpost = 0;
    for (int i = 0; i < msgs; i++) {
        long long due = pub_start + (long long)i * 1000000LL / (rate > 0 ? rate : 1);
        long long d = due - now_us();
        if (d > 0) usleep(d);
        char body[512 + MAX_PAD];
        long long t = now_us();
        if (json)
            snprintf(body, sizeof body, "{\"username\":\"%s\",\"message\":\"bm%dx%lldy%s\"}", user, i, t, padding);
        else if (field)
            snprintf(body, sizeof body, "username=%s&%s=bm%dx%lldy%s", user, field, i, t, padding);
        else
            snprintf(body, sizeof body, "bm%dx%lldy%s", i, t, padding);
        int code = post(host, pubp, json ? "application/json" : (field ? "application/x-www-form-urlencoded" : "text/plain"), body, extra);
        long long pt = now_us() - t;
        sumpost += pt;
        if (pt > maxpost) maxpost = pt;
        if (code < 200 || code >= 400) { errs++; /* 303 is the no-JS form reply */ if (errs < 3) fprintf(stderr, "publish status %d\n", code); }
    }

    long long *lat = malloc(sizeof(long long) * ((size_t)conns * msgs + 8));
    long nlat = 0, delivered = 0, expected = 0, totbytes = 0;
    int dropped_conns = 0;
    for (int k = 0; k < workers; k++) {
        long long hdr[5];
        if (read_full(rep[k][0], hdr, sizeof hdr)) { fprintf(stderr, "worker %d gave no result\n", k); continue; }
        delivered += hdr[0]; expected += hdr[1]; dropped_conns += (int)hdr[2]; totbytes += hdr[3];
        if (read_full(rep[k][0], lat + nlat, (size_t)hdr[4] * sizeof *lat)) { fprintf(stderr, "worker %d short\n", k); continue; }
        nlat += hdr[4];
        waitpid(pids[k], NULL, 0);
    }
    qsort(lat, nlat, sizeof lat[0], cmp_ll);
    double p50 = nlat ? lat[nlat / 2] / 1000.0 : -1, p90 = nlat ? lat[nlat * 9 / 10] / 1000.0 : -1,
           p99 = nlat ? lat[nlat * 99 / 100] / 1000.0 : -1, mx = nlat ? lat[nlat - 1] / 1000.0 : -1;
    long long pavg = sumpost / (msgs ? msgs : 1);
    printf("subs=%d connected=%d msgs=%d rate=%d delivered=%ld expected=%ld lost=%ld dropped_conns=%d "
           "p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f pub_errors=%d post_avg_ms=%.2f post_max_ms=%.2f bytes=%ld\n",
           conns, connected, msgs, rate, delivered, expected, expected - delivered, dropped_conns, p50, p90, p99, mx, errs,
           pavg / 1000.0, maxpost / 1000.0, totbytes);
    return (delivered == expected && connected == conns && errs == 0) ? 0 : 1;
}
