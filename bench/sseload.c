/* sseload: load generator for Server-Sent Events feeds.
 *
 * Opens N subscribers on an SSE URL, waits until they are all connected, then publishes M
 * marked posts at R posts/s to a publish URL and measures, for every subscriber and post,
 * the delivery latency; reports loss (expected - delivered), dropped connections and
 * reconnects, connect times and failures, publish errors. One thread, one epoll loop,
 * non-blocking sockets.
 *
 *   sseload -s http://127.0.0.1:8080/home/sse -p http://127.0.0.1:8080/home \
 *           -F 'message=%s' -H 'Cookie: tw_name=...' -c 1000 -m 1000 -r 100
 *
 * Every post carries a marker "sl<run>q<seq>t<usec>e" (run: random per invocation, seq: post
 * number, usec: monotonic send time), substituted for %s in the body template: -F makes a
 * urlencoded form body, -B a raw text/plain body. Subscribers parse the HTTP response
 * (chunked or not) and the SSE lines; a marker of another run (replayed history) is ignored.
 *
 * -x LIKE,DEL makes a mix: of the -m requests, LIKE % are likes and DEL % deletions (spread
 * evenly), the rest posts. A like (JSON {"action":"like"} to <PUB_URL>/post/<id>) is of the
 * newest post of the run whose id is known (the X-Post-Id of its answer) and that no deletion
 * is aimed at, or of the post -o names, each from the next visitor of -I's file after the -a
 * authors; a deletion is of the oldest known post of the run that no like or deletion is aimed
 * at, by the visitor who posted it. Posts are by the -a authors in turn (else by -H's visitor).
 * The latency of a deletion runs from its request being written to the subscriber reading the
 * deletion event that names the post; of a like, to the first count event of that post that
 * shows at least the count the like's answer gave (the count events of a post are coalesced by
 * the server: a like may be announced together with later ones). Per kind and for all events
 * together: expected, delivered, lost, p50/p99; for counts also the events each stream heard
 * (in all and in its busiest second) and whether each stream's last count of a post equals
 * the post's likes. Not with -P.
 *
 * -P N forks N subscriber processes (each holds its share of -c, so that more subscribers
 * than one process' open-files limit fit); this process then only publishes and merges
 * their results, exactly (every latency sample). -K also stamps each read with the kernel's
 * receive time (SO_TIMESTAMPNS): the k_* latencies end when the bytes reached the socket,
 * whatever the load generator's own scheduling adds before it reads them.
 *
 * Output: the result as one JSON object on stdout (see print_json); the human summary, and
 * progress with -v, on stderr. Exit 0 when every post that was published reached every
 * connected subscriber, 1 on loss, 2 on bad usage or setup, 3 when no subscriber connected
 * at all.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define MAX_HEADER  16384     /* largest response header block accepted */
#define MAX_LINE    (1 << 20) /* longest SSE line kept; longer ones are skipped */
#define MAX_PUB     256       /* publish requests in flight at once */
#define PUB_TIMEOUT 10000000  /* usec before a publish request counts as failed */
#define TICK_MS     20        /* housekeeping interval (timeouts, reconnects) */
#define MAX_PROCS   64        /* -P: subscriber processes */
#define MAX_PAD     16384     /* -z: padding bytes */

/* ---- time and small helpers ------------------------------------------------------------ */

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void die(const char *msg)
{
    fprintf(stderr, "sseload: %s\n", msg);
    exit(2);
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        die("out of memory");
    return q;
}

/* Growable array of microsecond samples; percentiles by sorting once at the end. */
typedef struct {
    uint32_t *v;
    size_t n, cap;
} samples;

static void samples_add(samples *s, int64_t us)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4096;
        s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    s->v[s->n++] = us < 0 ? 0 : us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void samples_sort(samples *s)
{
    if (s->n)
        qsort(s->v, s->n, sizeof(*s->v), cmp_u32);
}

/* Percentile p (0..100) of sorted samples, in ms; 0 when empty. */
static double pct_ms(const samples *s, double p)
{
    if (!s->n)
        return 0;
    size_t i = (size_t)(p / 100.0 * (double)(s->n - 1) + 0.5);
    return s->v[i < s->n ? i : s->n - 1] / 1000.0;
}

/* ---- URLs ------------------------------------------------------------------------------ */

typedef struct {
    struct sockaddr_in addr;
    char host[300]; /* Host header: host[:port] as given */
    char path[1024];
} url_t;

/* Parse http://host[:port]/path (IPv4 or a name resolving to IPv4). */
static void parse_url(const char *s, url_t *u)
{
    if (strncmp(s, "http://", 7) != 0)
        die("URLs must start with http://");
    s += 7;
    const char *slash = strchr(s, '/');
    size_t hl = slash ? (size_t)(slash - s) : strlen(s);
    if (hl == 0 || hl >= sizeof(u->host))
        die("bad host in URL");
    memcpy(u->host, s, hl);
    u->host[hl] = '\0';
    snprintf(u->path, sizeof(u->path), "%s", slash ? slash : "/");
    char name[300];
    snprintf(name, sizeof(name), "%s", u->host);
    const char *port = "80";
    char *colon = strrchr(name, ':');
    if (colon) {
        *colon = '\0';
        port = colon + 1;
    }
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(name, port, &hints, &res) != 0 || !res)
        die("cannot resolve URL host");
    memcpy(&u->addr, res->ai_addr, sizeof(u->addr));
    freeaddrinfo(res);
}

/* ---- configuration --------------------------------------------------------------------- */

static struct {
    url_t sse, pub;
    int subs;            /* -c */
    int nsrc;            /* -n: source addresses 127.0.0.2 .. 127.0.0.(n+1); 0 = kernel's */
    int inflight;        /* -k: connects pending at once */
    double conn_timeout; /* -T seconds */
    int posts;           /* -m */
    double rate;         /* -r posts/s */
    const char *body;    /* -F / -B template with %s */
    int form;            /* body is urlencoded (-F) rather than raw (-B) */
    int pad;             /* -z bytes of padding after the marker */
    double settle;       /* -d seconds between "all connected" and the first post */
    double drain;        /* -w seconds to wait for deliveries after the last post */
    int reconnect_ms;    /* -R; < 0: never reconnect */
    const char *label;   /* -l */
    const char *go;      /* -g: publish only once this file exists (after -d) */
    const char *header;  /* -H: one more header line of every POST, e.g. "Cookie: ..." */
    int verbose;         /* -v */
    int procs;           /* -P: subscriber processes; 0 = subscribers in this process */
    int kstamp;          /* -K: kernel receive timestamps too */
} cfg = {.subs = 100,
         .inflight = 500,
         .conn_timeout = 15,
         .posts = 100,
         .rate = 10,
         .body = "%s",
         .settle = 1,
         .drain = 5,
         .reconnect_ms = 100,
         .label = "run"};

/* ---- subscribers ----------------------------------------------------------------------- */

enum { S_IDLE, S_CONNECTING, S_HEADERS, S_STREAM, S_FAILED };
enum { CH_SIZE, CH_DATA, CH_CRLF, CH_DONE };

typedef struct {
    int fd;
    int state;
    int ever;         /* got a 200 once: counts in the expected deliveries */
    int attempt;      /* 0: first connection, else reconnect number */
    int64_t t_start;  /* when this connection attempt began */
    int64_t retry_at; /* reconnect time (usec), 0 when none is due */
    char *buf;        /* header bytes, then the partial SSE line */
    size_t len, cap;
    int chunked, cstate;
    uint64_t cleft; /* bytes left in the current chunk */
    int cext;       /* inside the CR or extension of a chunk-size line */
    int skip_line;  /* current line exceeded MAX_LINE: drop until its end */
    char last_id[128];
    uint8_t *seen;       /* bitmap of the posts (and with -x the deletions) received */
    struct mix_cev *cev; /* -x: the count events heard, in order */
    size_t ncev, capcev;
} sub_t;

static sub_t *subs;

/* ---- publishers (one connection per post, Connection: close) -------------------------- */

typedef struct {
    int fd; /* -1: slot free */
    int seq;
    int64_t t_start; /* connect start */
    int64_t t_sent;  /* request written (= marker stamp) */
    int status;      /* parsed status, 0 until known */
    char head[2048]; /* start of the response: status line, headers, a small body */
    size_t hlen;
} pub_t;

static pub_t pubs[MAX_PUB];
static uint8_t *pub_done; /* per post: 0 pending, 1 ok, 2 failed */

/* ---- counters -------------------------------------------------------------------------- */

static struct {
    int connected, inflight, started;
    int fail_refused, fail_timeout, fail_status, fail_other, last_bad_status;
    int dropped, reconnects, reconnect_fail;
    int pub_ok, pub_err, pub_sent, pub_active;
    long dup, delivered_all, reads;
    long long bytes;
    long long post_bytes0; /* st.bytes when the posts began, -1 before */
    long long post_bytes;  /* bytes read from then on (at the end) */
    int64_t send_lag_max;
    samples lat, conn, publat, klat;
} st;

/* ---- subscriber processes (-P) -------------------------------------------------------- */

/* What one subscriber process tells the publishing one: flags it sets once (ready: every
 * subscriber connected or failed; done: its figures and samples are final), progress for -v,
 * and its figures. Its samples go to its own slices of the shared sample areas. */
typedef struct {
    atomic_int ready, done;
    atomic_int live_connected;
    atomic_long live_delivered;
    int connected, inflight_left;
    int fail_refused, fail_timeout, fail_status, fail_other, last_bad_status;
    int dropped, reconnects, reconnect_fail;
    long dup, delivered, reads;
    long long bytes, post_bytes;
    size_t nlat, nklat, nconn;
} worker_res;

/* Shared between the publishing process and its subscriber processes (MAP_SHARED before
 * fork). The publisher sets go when publishing starts and over (with pub_ok and
 * t_last_post) once every publish request has finished; pub_done is shared as well. */
typedef struct {
    atomic_int go, over;
    int pub_ok;
    int64_t t_last_post;
    worker_res w[MAX_PROCS];
} shared_t;

static shared_t *shm;
static int worker = -1; /* index of this subscriber process; -1: the publishing one */
static int total_subs;  /* -c: the subscribers of every process */
static int sub_base;    /* global index of subs[0] (source address spread) */
static pid_t wpid[MAX_PROCS];
static uint32_t *shm_lat, *shm_klat, *shm_conn; /* sample areas, slices by subscriber range */
static int64_t rt_minus_mono; /* CLOCK_REALTIME - CLOCK_MONOTONIC at start, usec (-K) */
static int64_t cur_krx;       /* kernel receive time of the read being parsed (-K), or 0 */

/* Zero-filled memory shared with the processes forked after it. */
static void *shared_alloc(size_t n)
{
    void *p = mmap(NULL, n ? n : 1, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        die("mmap");
    return p;
}

/* ---- the mix (-x): likes and deletions among the posts -------------------------------- */

enum { A_POST, A_LIKE, A_DEL };

/* A post the run knows by its id: one it made (the X-Post-Id of the answer), or -o's. */
typedef struct {
    char id[48];
    int author;  /* the cookie it was posted with (-I), -1: -H's */
    int del_seq; /* the deletion aimed at it, -1: none */
    int likes;   /* likes aimed at it */
    int top;     /* the highest count a like's answer gave: its likers, as no one unlikes */
} mix_post;

/* A count event a subscriber heard. */
struct mix_cev {
    int post; /* mix_post index */
    int n;
    int64_t t, krx; /* read (monotonic), the kernel's receive time or 0 */
};

static struct {
    int like_pct, del_pct; /* -x */
    char **cookies;        /* -I: "Cookie: ..." lines */
    int ncookies, authors; /* -a: the first `authors` post, the others like */
    const char *target;    /* -o: every like is of this post */
    uint8_t *kind;         /* per request: A_POST, A_LIKE or A_DEL */
    int *post;             /* per request: the mix_post a like or deletion is aimed at */
    int *who;              /* per request: the cookie it was made with, -1: -H's */
    int *n;                /* per like: the count its answer gave, 0 until known */
    int64_t *t_sent;       /* per request: when it was written */
    mix_post *posts;       /* in the order their ids became known */
    int nposts, del_cursor, next_liker;
    int *slot; /* open addressing: id -> posts index + 1; 0 empty */
    size_t cap;
    int like_ok, like_err, del_ok, del_err;
    long del_delivered, del_dup;
    samples del_lat, del_klat, cnt_lat, cnt_klat;
    int64_t last_cev; /* when a count event was last read */
} mx;

static uint64_t mix_hash(const char *id, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t k = 0; k < n; k++)
        h = (h ^ (unsigned char)id[k]) * 1099511628211ull;
    return h;
}

/* The known post of id (n bytes): its index, or -1. With add, known from now on (posted with
 * cookie `author`) when it was not. */
static int mix_post_of(const char *id, size_t n, int add, int author)
{
    if (!mx.cap || !n || n >= sizeof(mx.posts[0].id))
        return -1;
    for (size_t h = mix_hash(id, n) & (mx.cap - 1);; h = (h + 1) & (mx.cap - 1)) {
        int i = mx.slot[h] - 1;
        if (i < 0) {
            if (!add || (size_t)mx.nposts + 1 >= mx.cap / 2)
                return -1;
            mix_post *p = &mx.posts[mx.nposts];
            memcpy(p->id, id, n);
            p->id[n] = '\0';
            p->author = author;
            p->del_seq = -1;
            mx.slot[h] = ++mx.nposts;
            return mx.nposts - 1;
        }
        if (strlen(mx.posts[i].id) == n && memcmp(mx.posts[i].id, id, n) == 0)
            return i;
    }
}

/* What request seq is: LIKE % and DEL % of the requests, each spread evenly (a deletion half
 * a period after a like). */
static int mix_kind(int seq)
{
    if ((long)(seq + 1) * mx.like_pct / 100 != (long)seq * mx.like_pct / 100)
        return A_LIKE;
    if (((long)(seq + 1) * mx.del_pct + 50) / 100 != ((long)seq * mx.del_pct + 50) / 100)
        return A_DEL;
    return A_POST;
}

/* The post an action of `kind` is aimed at, or -1 when none is known yet. A like: -o's post,
 * else the newest known post that no deletion is aimed at; a deletion: the oldest known post
 * that no like or deletion is aimed at. */
static int mix_aim(int kind)
{
    if (kind == A_LIKE) {
        if (mx.target)
            return 0;
        for (int i = mx.nposts - 1; i >= 0 && i >= mx.nposts - 64; i--)
            if (mx.posts[i].del_seq < 0)
                return i;
        return -1;
    }
    for (; mx.del_cursor < mx.nposts; mx.del_cursor++) {
        mix_post *p = &mx.posts[mx.del_cursor];
        if (p->del_seq < 0 && !p->likes && !(mx.target && mx.del_cursor == 0))
            return mx.del_cursor;
    }
    return -1;
}

/* Decide request seq: its kind, what it is aimed at and whose cookie it carries. */
static void mix_plan(int seq)
{
    int kind = mix_kind(seq), aim = -1;
    if (kind != A_POST && (aim = mix_aim(kind)) < 0)
        kind = A_POST; /* nothing to aim at yet */
    mx.kind[seq] = (uint8_t)kind;
    mx.post[seq] = aim;
    if (kind == A_POST) {
        mx.who[seq] = mx.authors ? seq % mx.authors : -1;
    } else if (kind == A_LIKE) {
        mx.posts[aim].likes++;
        mx.who[seq] = mx.authors + mx.next_liker++ % (mx.ncookies - mx.authors);
    } else {
        mx.posts[aim].del_seq = seq;
        mx.who[seq] = mx.posts[aim].author;
    }
}

/* The header line that makes request seq's visitor (NULL: none). */
static const char *mix_visitor(int seq)
{
    return mx.who && mx.who[seq] >= 0 ? mx.cookies[mx.who[seq]] : cfg.header;
}

/* A finished answer of request seq (`head`: its first bytes): a post's id, a like's count. */
static void mix_answer(int seq, const char *head)
{
    if (mx.kind[seq] == A_POST) {
        const char *h = strcasestr(head, "\nX-Post-Id:");
        if (!h)
            return;
        h += 12;
        while (*h == ' ')
            h++;
        mix_post_of(h, strcspn(h, "\r\n "), 1, mx.who[seq]);
    } else if (mx.kind[seq] == A_LIKE) {
        const char *b = strstr(head, "\"likes\":");
        if (b) {
            mx.n[seq] = atoi(b + 8);
            mix_post *p = &mx.posts[mx.post[seq]];
            if (mx.n[seq] > p->top)
                p->top = mx.n[seq];
        }
    }
}

/* A data line of subscriber i that is a deletion or a count event; 1 when it was one. */
static int mix_line(int i, const char *l, size_t n, int64_t now)
{
    static const char del[] = "data: <article id=\"post-";
    static const char cnt[] = "data: <span class=\"tw-likes\" id=\"likes-";
    const char *end = l + n, *id, *q;
    if (n > sizeof(del) && memcmp(l, del, sizeof(del) - 1) == 0 &&
        memmem(l, n, "hx-swap-oob=\"delete\"", 20)) {
        id = l + sizeof(del) - 1;
        if (!(q = memchr(id, '"', (size_t)(end - id))))
            return 1;
        int k = mix_post_of(id, (size_t)(q - id), 0, 0);
        int d = k < 0 ? -1 : mx.posts[k].del_seq;
        if (d < 0)
            return 1;
        uint8_t bit = (uint8_t)(1u << (d & 7));
        if (subs[i].seen[d >> 3] & bit) {
            mx.del_dup++;
            return 1;
        }
        subs[i].seen[d >> 3] |= bit;
        mx.del_delivered++;
        samples_add(&mx.del_lat, now - mx.t_sent[d]);
        if (cur_krx)
            samples_add(&mx.del_klat, cur_krx - mx.t_sent[d]);
        return 1;
    }
    if (n > sizeof(cnt) && memcmp(l, cnt, sizeof(cnt) - 1) == 0) {
        id = l + sizeof(cnt) - 1;
        if (!(q = memchr(id, '"', (size_t)(end - id))))
            return 1;
        int k = mix_post_of(id, (size_t)(q - id), 0, 0);
        const char *v = memchr(q, '>', (size_t)(end - q));
        if (k < 0 || !v)
            return 1;
        sub_t *s = &subs[i];
        if (s->ncev == s->capcev) {
            s->capcev = s->capcev ? s->capcev * 2 : 64;
            s->cev = xrealloc(s->cev, s->capcev * sizeof(*s->cev));
        }
        s->cev[s->ncev++] = (struct mix_cev){.post = k, .n = atoi(v + 1), .t = now, .krx = cur_krx};
        mx.last_cev = now;
        return 1;
    }
    return 0;
}

/* Read -I's file: one cookie a line ("tw_name=..." or "Cookie: ..."). */
static void mix_cookies(const char *file)
{
    FILE *f = fopen(file, "r");
    if (!f)
        die("cannot read the -I file");
    char line[2048];
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0])
            continue;
        mx.cookies = xrealloc(mx.cookies, (size_t)(mx.ncookies + 1) * sizeof(char *));
        size_t n = strlen(line) + 16;
        mx.cookies[mx.ncookies] = xrealloc(NULL, n);
        snprintf(mx.cookies[mx.ncookies++], n, "%s%s",
                 strncasecmp(line, "Cookie:", 7) ? "Cookie: " : "", line);
    }
    fclose(f);
}

static int ep;
static char run_id[16];
static size_t run_id_len;
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* epoll tags: low bit 0 = subscriber index, 1 = publisher slot. */
static uint64_t tag(int kind, int idx)
{
    return ((uint64_t)idx << 1) | (uint64_t)kind;
}

/* Non-blocking TCP socket connecting to `to`, from 127.0.0.(2 + idx % nsrc) when spreading
 * source addresses. Returns the fd, or -1 with errno set. */
static int open_conn(const struct sockaddr_in *to, int idx)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (cfg.nsrc > 0) {
        /* The port is chosen at connect time, per source address: ~28k each. */
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        struct sockaddr_in src = {.sin_family = AF_INET};
        src.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)(idx % cfg.nsrc));
        if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
    }
    if (connect(fd, (const struct sockaddr *)to, sizeof(*to)) < 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static void ep_add(int fd, uint32_t events, uint64_t t)
{
    struct epoll_event ev = {.events = events, .data.u64 = t};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
        die("epoll_ctl ADD");
}

static void ep_mod(int fd, uint32_t events, uint64_t t)
{
    struct epoll_event ev = {.events = events, .data.u64 = t};
    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

/* Start (or restart) subscriber i's connection. */
static void sub_start(int i, int64_t now)
{
    sub_t *s = &subs[i];
    s->t_start = now;
    s->retry_at = 0;
    s->len = 0;
    s->chunked = 0;
    s->cstate = CH_SIZE;
    s->cleft = 0;
    s->cext = 0;
    s->skip_line = 0;
    s->fd = open_conn(&cfg.sse.addr, sub_base + i);
    if (s->fd >= 0 && cfg.kstamp) {
        int one = 1;
        setsockopt(s->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
    }
    if (s->fd < 0) {
        s->state = S_FAILED;
        if (s->attempt) {
            st.reconnect_fail++;
            s->retry_at = now + (int64_t)(cfg.reconnect_ms > 0 ? cfg.reconnect_ms : 100) * 1000;
        } else {
            errno == ECONNREFUSED ? st.fail_refused++ : st.fail_other++;
        }
        return;
    }
    s->state = S_CONNECTING;
    if (!s->attempt)
        st.inflight++;
    ep_add(s->fd, EPOLLOUT | EPOLLIN, tag(0, i));
}

/* Subscriber i's connection ended: `why` 0 normal end/error after being live, else a failure
 * of the attempt itself (1 refused, 2 timeout, 3 bad status, 4 other). */
static void sub_end(int i, int why, int64_t now)
{
    sub_t *s = &subs[i];
    if (s->fd >= 0) {
        close(s->fd); /* also removes it from the epoll set */
        s->fd = -1;
    }
    int was_live = s->state == S_STREAM;
    s->state = S_FAILED;
    if (!s->attempt && !s->ever) {
        /* The first connection never got going. */
        st.inflight--;
        switch (why) {
        case 1:
            st.fail_refused++;
            break;
        case 2:
            st.fail_timeout++;
            break;
        case 3:
            st.fail_status++;
            break;
        default:
            st.fail_other++;
            break;
        }
        return;
    }
    if (was_live)
        st.dropped++;
    else
        st.reconnect_fail++;
    if (cfg.reconnect_ms >= 0) {
        s->attempt++;
        s->retry_at = now + (int64_t)cfg.reconnect_ms * 1000 + 1;
    }
}

/* Send the GET once the connection is up. */
static void sub_send(int i, int64_t now)
{
    sub_t *s = &subs[i];
    int err = 0;
    socklen_t el = sizeof(err);
    getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err) {
        sub_end(i, err == ECONNREFUSED ? 1 : 4, now);
        return;
    }
    char req[2048];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n"
                     "Cache-Control: no-cache\r\nUser-Agent: sseload\r\n",
                     cfg.sse.path, cfg.sse.host);
    if (s->last_id[0])
        n += snprintf(req + n, sizeof(req) - (size_t)n, "Last-Event-ID: %s\r\n", s->last_id);
    n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\n");
    if (write(s->fd, req, (size_t)n) != n) {
        sub_end(i, 4, now);
        return;
    }
    s->state = S_HEADERS;
    ep_mod(s->fd, EPOLLIN, tag(0, i));
}

/* Decimal number at *p (bounded by end); advances *p. Returns -1 when there is none. */
static long long parse_num(const char **p, const char *end)
{
    long long v = -1;
    for (; *p < end && **p >= '0' && **p <= '9'; (*p)++)
        v = (v < 0 ? 0 : v * 10) + (**p - '0');
    return v;
}

/* A marker "sl<run>q<seq>t<usec>e" found in a data line; p is just after the 'q'. */
static void on_marker(int i, const char *p, const char *end, int64_t now)
{
    long long seq = parse_num(&p, end);
    if (seq < 0 || seq >= cfg.posts || p >= end || *p++ != 't')
        return;
    long long t = parse_num(&p, end);
    if (t < 0 || p >= end || *p != 'e')
        return;
    sub_t *s = &subs[i];
    uint8_t bit = (uint8_t)(1u << (seq & 7));
    if (s->seen[seq >> 3] & bit) {
        st.dup++;
        return;
    }
    s->seen[seq >> 3] |= bit;
    st.delivered_all++;
    samples_add(&st.lat, now - (int64_t)t);
    if (cur_krx)
        samples_add(&st.klat, cur_krx - (int64_t)t);
}

/* One complete SSE line (without its end of line). */
static void sse_line(int i, const char *l, size_t n, int64_t now)
{
    sub_t *s = &subs[i];
    if (n >= 3 && memcmp(l, "id:", 3) == 0) {
        size_t o = n > 3 && l[3] == ' ' ? 4 : 3;
        size_t k = n - o < sizeof(s->last_id) - 1 ? n - o : sizeof(s->last_id) - 1;
        memcpy(s->last_id, l + o, k);
        s->last_id[k] = '\0';
        return;
    }
    if (n < 5 || memcmp(l, "data:", 5) != 0)
        return;
    if (mx.kind && mix_line(i, l, n, now))
        return;
    const char *p = l, *end = l + n;
    while ((p = memmem(p, (size_t)(end - p), "sl", 2)) != NULL) {
        p += 2;
        if ((size_t)(end - p) > run_id_len + 1 && memcmp(p, run_id, run_id_len) == 0 &&
            p[run_id_len] == 'q') {
            on_marker(i, p + run_id_len + 1, end, now);
        }
    }
}

/* Body bytes of the event stream: split into lines (LF, CRLF or CR ends a line). */
static void sse_bytes(int i, const char *d, size_t n, int64_t now)
{
    sub_t *s = &subs[i];
    while (n) {
        const char *nl = memchr(d, '\n', n);
        size_t take = nl ? (size_t)(nl - d) : n;
        if (!s->skip_line) {
            if (s->len + take > MAX_LINE) {
                s->skip_line = 1;
                s->len = 0;
            } else if (nl && s->len == 0) {
                /* Whole line in the read buffer: no copy. */
                size_t k = take && d[take - 1] == '\r' ? take - 1 : take;
                sse_line(i, d, k, now);
            } else {
                if (s->len + take > s->cap) {
                    s->cap = (s->len + take) * 2;
                    s->buf = xrealloc(s->buf, s->cap);
                }
                memcpy(s->buf + s->len, d, take);
                s->len += take;
                if (nl) {
                    size_t k = s->len && s->buf[s->len - 1] == '\r' ? s->len - 1 : s->len;
                    sse_line(i, s->buf, k, now);
                    s->len = 0;
                }
            }
        }
        if (!nl)
            break;
        s->skip_line = 0;
        d = nl + 1;
        n -= take + 1;
    }
}

/* Body bytes of the HTTP response: undo chunked framing if any. Returns 0, or -1 when the
 * response ended (last chunk). */
static int body_bytes(int i, const char *d, size_t n, int64_t now)
{
    sub_t *s = &subs[i];
    if (!s->chunked) {
        sse_bytes(i, d, n, now);
        return 0;
    }
    while (n) {
        switch (s->cstate) {
        case CH_SIZE: {
            char c = *d++;
            n--;
            if (c == '\n') {
                s->cext = 0;
                if (!s->cleft) {
                    s->cstate = CH_DONE;
                    return -1; /* last chunk: the server ended the stream */
                }
                s->cstate = CH_DATA;
            } else if (!s->cext) {
                int v = c >= '0' && c <= '9'   ? c - '0'
                        : c >= 'a' && c <= 'f' ? c - 'a' + 10
                        : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                               : -1;
                if (v >= 0)
                    s->cleft = s->cleft * 16 + (uint64_t)v;
                else
                    s->cext = 1; /* CR or a chunk extension: ignored up to the LF */
            }
            break;
        }
        case CH_DATA: {
            size_t k = n < s->cleft ? n : (size_t)s->cleft;
            sse_bytes(i, d, k, now);
            d += k;
            n -= k;
            s->cleft -= k;
            if (!s->cleft)
                s->cstate = CH_CRLF;
            break;
        }
        case CH_CRLF:
            if (*d == '\n')
                s->cstate = CH_SIZE;
            d++;
            n--;
            break;
        default:
            return -1;
        }
    }
    return 0;
}

/* Response headers complete in s->buf[0..hend): check the status, find the framing. */
static int parse_headers(sub_t *s, size_t hend)
{
    s->buf[hend - 1] = '\0';
    int status = 0;
    if (sscanf(s->buf, "HTTP/%*d.%*d %d", &status) != 1)
        return -1;
    if (status != 200) {
        st.last_bad_status = status;
        return -1;
    }
    for (char *p = s->buf; (p = strchr(p, '\n')) != NULL;) {
        p++;
        if (strncasecmp(p, "transfer-encoding:", 18) == 0) {
            char *e = strchr(p, '\n');
            size_t k = e ? (size_t)(e - p) : strlen(p);
            if (memmem(p, k, "chunked", 7))
                s->chunked = 1;
        }
    }
    return 0;
}

static char rbuf[1 << 16];

/* Readable subscriber socket. */
static void sub_read(int i, int64_t now)
{
    sub_t *s = &subs[i];
    ssize_t r;
    cur_krx = 0;
    if (cfg.kstamp) {
        /* The kernel's receive time of the last segment this read takes (CLOCK_REALTIME). */
        struct iovec iov = {.iov_base = rbuf, .iov_len = sizeof(rbuf)};
        union {
            char buf[CMSG_SPACE(sizeof(struct timespec))];
            struct cmsghdr align;
        } ctl;
        struct msghdr mh = {.msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = ctl.buf,
                            .msg_controllen = sizeof(ctl)};
        r = recvmsg(s->fd, &mh, 0);
        for (struct cmsghdr *c = r > 0 ? CMSG_FIRSTHDR(&mh) : NULL; c; c = CMSG_NXTHDR(&mh, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
                struct timespec ts;
                memcpy(&ts, CMSG_DATA(c), sizeof(ts));
                cur_krx = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - rt_minus_mono;
            }
    } else {
        r = read(s->fd, rbuf, sizeof(rbuf));
    }
    st.reads++;
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (r > 0)
        st.bytes += r;
    if (r <= 0) {
        sub_end(i, s->state == S_STREAM ? 0 : (r < 0 && errno == ECONNREFUSED ? 1 : 4), now);
        return;
    }
    const char *d = rbuf;
    size_t n = (size_t)r;
    if (s->state == S_HEADERS) {
        size_t keep = s->len;
        if (s->len + n > MAX_HEADER) {
            sub_end(i, 3, now);
            return;
        }
        if (s->len + n > s->cap) {
            size_t need = s->len + n;
            s->cap = need < 1024 ? 1024 : need * 2 > MAX_HEADER ? MAX_HEADER : need * 2;
            s->buf = xrealloc(s->buf, s->cap + 1);
        }
        memcpy(s->buf + s->len, d, n);
        s->len += n;
        s->buf[s->len] = '\0';
        char *he = strstr(s->buf, "\r\n\r\n");
        if (!he)
            return;
        size_t hend = (size_t)(he - s->buf) + 4;
        if (parse_headers(s, hend) < 0) {
            sub_end(i, 3, now);
            return;
        }
        /* Body bytes that came with the headers. */
        size_t body_off = hend - keep;
        d += body_off;
        n -= body_off;
        s->len = 0;
        s->state = S_STREAM;
        if (!s->attempt) {
            s->ever = 1;
            st.inflight--;
            st.connected++;
            samples_add(&st.conn, now - s->t_start);
        } else {
            st.reconnects++;
        }
        if (!n)
            return;
    }
    if (body_bytes(i, d, n, now) < 0)
        sub_end(i, 0, now);
}

/* ---- publishing ------------------------------------------------------------------------ */

/* Append src to dst (capacity cap) with %s replaced by `marker`. Returns the length. */
static size_t fill_template(char *dst, size_t cap, const char *tpl, const char *marker)
{
    size_t n = 0, ml = strlen(marker);
    for (const char *p = tpl; *p && n + 1 < cap; p++) {
        if (p[0] == '%' && p[1] == 's') {
            if (n + ml >= cap)
                break;
            memcpy(dst + n, marker, ml);
            n += ml;
            p++;
        } else {
            dst[n++] = *p;
        }
    }
    dst[n] = '\0';
    return n;
}

static void pub_count(int seq, int ok);

static int pub_start(int seq, int64_t now)
{
    for (int k = 0; k < MAX_PUB; k++) {
        pub_t *p = &pubs[k];
        if (p->fd >= 0)
            continue;
        if (mx.kind)
            mix_plan(seq);
        p->fd = open_conn(&cfg.pub.addr, seq);
        p->seq = seq;
        p->t_start = now;
        p->t_sent = 0;
        p->status = 0;
        p->hlen = 0;
        st.pub_sent++;
        if (p->fd < 0) {
            p->fd = -1;
            pub_done[seq] = 2;
            pub_count(seq, 0);
            return 0;
        }
        st.pub_active++;
        ep_add(p->fd, EPOLLOUT | EPOLLIN, tag(1, k));
        return 0;
    }
    return -1; /* no free slot */
}

/* Count request seq's outcome: a post's in pub_ok/pub_err, a like's or deletion's (-x) apart. */
static void pub_count(int seq, int ok)
{
    int kind = mx.kind ? mx.kind[seq] : A_POST;
    if (kind == A_POST)
        ok ? st.pub_ok++ : st.pub_err++;
    else if (kind == A_LIKE)
        ok ? mx.like_ok++ : mx.like_err++;
    else
        ok ? mx.del_ok++ : mx.del_err++;
}

static void pub_finish(int k, int ok)
{
    pub_t *p = &pubs[k];
    close(p->fd);
    p->fd = -1;
    st.pub_active--;
    pub_done[p->seq] = ok ? 1 : 2;
    if (ok && mx.kind)
        mix_answer(p->seq, p->head);
    pub_count(p->seq, ok);
}

/* Connected: stamp and write the request. */
static void pub_send(int k, int64_t now)
{
    pub_t *p = &pubs[k];
    int err = 0;
    socklen_t el = sizeof(err);
    getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err) {
        pub_finish(k, 0);
        return;
    }
    char marker[128 + MAX_PAD], body[8192 + MAX_PAD], req[10240 + MAX_PAD];
    const char *who = mix_visitor(p->seq);
    if (mx.kind && mx.kind[p->seq] != A_POST) {
        const char *act = mx.kind[p->seq] == A_LIKE ? "like" : "delete";
        int n = snprintf(req, sizeof(req),
                         "POST %s/post/%s HTTP/1.1\r\nHost: %s\r\nContent-Type: "
                         "application/json\r\n%s%sContent-Length: %zu\r\nUser-Agent: "
                         "sseload\r\nConnection: close\r\n\r\n{\"action\":\"%s\"}",
                         cfg.pub.path, mx.posts[mx.post[p->seq]].id, cfg.pub.host, who ? who : "",
                         who ? "\r\n" : "", strlen(act) + 13, act);
        mx.t_sent[p->seq] = now;
        if (n <= 0 || n >= (int)sizeof(req) || write(p->fd, req, (size_t)n) != n) {
            pub_finish(k, 0);
            return;
        }
        p->t_sent = now;
        ep_mod(p->fd, EPOLLIN, tag(1, k));
        return;
    }
    int ml = snprintf(marker, sizeof(marker), "sl%sq%dt%" PRId64 "e", run_id, p->seq, now);
    for (int j = 0; j < cfg.pad && ml + 1 < (int)sizeof(marker); j++)
        marker[ml++] = j == 0 ? (cfg.form ? '+' : ' ') : 'x';
    marker[ml] = '\0';
    size_t bl = fill_template(body, sizeof(body), cfg.body, marker);
    int n = snprintf(req, sizeof(req),
                     "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\n%s%s"
                     "Content-Length: %zu\r\nUser-Agent: sseload\r\nConnection: close\r\n\r\n%s",
                     cfg.pub.path, cfg.pub.host,
                     cfg.form ? "application/x-www-form-urlencoded" : "text/plain", who ? who : "",
                     who ? "\r\n" : "", bl, body);
    if (n <= 0 || n >= (int)sizeof(req) || write(p->fd, req, (size_t)n) != n) {
        pub_finish(k, 0);
        return;
    }
    p->t_sent = now;
    ep_mod(p->fd, EPOLLIN, tag(1, k));
}

/* Response bytes: keep the status line; the response ends when the server closes. */
static void pub_read(int k, int64_t now)
{
    pub_t *p = &pubs[k];
    ssize_t r = read(p->fd, rbuf, sizeof(rbuf));
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (r > 0) {
        size_t room = sizeof(p->head) - 1 - p->hlen, take = (size_t)r < room ? (size_t)r : room;
        memcpy(p->head + p->hlen, rbuf, take);
        p->hlen += take;
        p->head[p->hlen] = '\0';
        if (!p->status) {
            int status;
            if (strchr(p->head, '\n') && sscanf(p->head, "HTTP/%*d.%*d %d", &status) == 1) {
                p->status = status;
                samples_add(&st.publat, now - p->t_sent);
            }
        }
        return;
    }
    pub_finish(k, p->status >= 200 && p->status < 400);
}

/* ---- output ---------------------------------------------------------------------------- */

/* s as a JSON string (quotes, backslashes and control characters escaped). */
static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* ---- subscriber processes -------------------------------------------------------------- */

/* Deliveries of this process' subscribers that count: posts the server accepted (pub_done,
 * shared), to subscribers that were connected. Cost: subscribers x posts. */
static long count_delivered(void)
{
    long delivered = 0;
    for (int i = 0; i < cfg.subs; i++) {
        if (!subs[i].ever)
            continue;
        for (int q = 0; q < cfg.posts; q++)
            if (pub_done[q] == 1 && (!mx.kind || mx.kind[q] == A_POST) &&
                (subs[i].seen[q >> 3] & (1u << (q & 7))))
                delivered++;
    }
    return delivered;
}

static void on_child_exit(int sig)
{
    (void)sig; /* only interrupts epoll_wait; the results come through shared memory */
}

/* Fork cfg.procs subscriber processes, each with its share of the subscribers (global
 * indexes [sub_base, sub_base + cfg.subs)); in the caller cfg.subs becomes 0. The sample
 * areas hold every possible sample of each share (subscribers x posts latencies). */
static void fork_workers(void)
{
    int total = total_subs;
    size_t cells = (size_t)total * (size_t)(cfg.posts ? cfg.posts : 1);
    shm = shared_alloc(sizeof(*shm));
    shm_lat = shared_alloc(cells * sizeof(uint32_t));
    shm_klat = cfg.kstamp ? shared_alloc(cells * sizeof(uint32_t)) : NULL;
    shm_conn = shared_alloc((size_t)total * sizeof(uint32_t));
    signal(SIGCHLD, on_child_exit);
    pid_t parent = getpid();
    for (int k = 0; k < cfg.procs; k++) {
        int base = (int)((long)total * k / cfg.procs);
        int end = (int)((long)total * (k + 1) / cfg.procs);
        pid_t pid = fork();
        if (pid < 0)
            die("fork");
        if (pid == 0) {
            /* Gone with the publishing process, whatever ends it. */
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (getppid() != parent)
                _exit(2);
            worker = k;
            sub_base = base;
            cfg.subs = end - base;
            cfg.verbose = 0;
            return;
        }
        wpid[k] = pid;
    }
    cfg.subs = 0;
}

/* Every subscriber process has set its ready flag (which = 0) or done flag (which = 1); a
 * process that exited without it counts as having done so. True without -P. */
static int workers_all(int which)
{
    for (int k = 0; shm && k < cfg.procs; k++) {
        worker_res *w = &shm->w[k];
        if (!atomic_load(which ? &w->done : &w->ready) && waitpid(wpid[k], NULL, WNOHANG) == 0)
            return 0;
    }
    return 1;
}

/* A subscriber process: every subscriber connected or failed; its first-connection figures
 * (final from here on) for the publishing one. */
static void worker_ready(void)
{
    worker_res *w = &shm->w[worker];
    w->connected = st.connected;
    w->fail_refused = st.fail_refused;
    w->fail_timeout = st.fail_timeout;
    w->fail_status = st.fail_status;
    w->fail_other = st.fail_other;
    w->last_bad_status = st.last_bad_status;
    atomic_store(&w->ready, 1);
}

/* Copy n samples to a shared slice of capacity cap. Returns how many were copied. */
static size_t put_samples(uint32_t *dst, size_t cap, const samples *s)
{
    size_t n = s->n < cap ? s->n : cap;
    if (n)
        memcpy(dst, s->v, n * sizeof(uint32_t));
    return n;
}

/* A subscriber process at its end: its figures and samples into shared memory, then exit. */
static void worker_finish(void)
{
    worker_res *w = &shm->w[worker];
    size_t per = (size_t)(cfg.posts ? cfg.posts : 1);
    w->delivered = count_delivered();
    w->dropped = st.dropped;
    w->reconnects = st.reconnects;
    w->reconnect_fail = st.reconnect_fail;
    w->dup = st.dup;
    w->reads = st.reads;
    w->bytes = st.bytes;
    w->post_bytes = st.post_bytes0 >= 0 ? st.bytes - st.post_bytes0 : 0;
    if (st.last_bad_status)
        w->last_bad_status = st.last_bad_status;
    w->nlat = put_samples(shm_lat + (size_t)sub_base * per, (size_t)cfg.subs * per, &st.lat);
    if (shm_klat)
        w->nklat = put_samples(shm_klat + (size_t)sub_base * per, (size_t)cfg.subs * per, &st.klat);
    w->nconn = put_samples(shm_conn + sub_base, (size_t)cfg.subs, &st.conn);
    atomic_store(&w->done, 1);
    _exit(0);
}

/* The publishing process, once every subscriber process is ready: their connections and
 * first-connection failures into st. */
static void merge_connected(void)
{
    for (int k = 0; k < cfg.procs; k++) {
        worker_res *w = &shm->w[k];
        if (!atomic_load(&w->ready))
            continue;
        st.connected += w->connected;
        st.fail_refused += w->fail_refused;
        st.fail_timeout += w->fail_timeout;
        st.fail_status += w->fail_status;
        st.fail_other += w->fail_other;
        if (w->last_bad_status)
            st.last_bad_status = w->last_bad_status;
    }
}

/* The publishing process at the end: stop and wait for the subscriber processes, merge their
 * figures and every sample into st. Returns the deliveries that count. */
static long merge_workers(void)
{
    long delivered = 0;
    for (int k = 0; k < cfg.procs; k++)
        if (!atomic_load(&shm->w[k].done))
            kill(wpid[k], SIGTERM);
    for (int k = 0; k < cfg.procs; k++)
        while (waitpid(wpid[k], NULL, 0) < 0 && errno == EINTR)
            ;
    if (!st.connected && !st.fail_refused && !st.fail_timeout && !st.fail_status && !st.fail_other)
        merge_connected(); /* interrupted before everyone was ready */
    size_t per = (size_t)(cfg.posts ? cfg.posts : 1);
    for (int k = 0; k < cfg.procs; k++) {
        worker_res *w = &shm->w[k];
        if (!atomic_load(&w->done))
            continue;
        int b = (int)((long)total_subs * k / cfg.procs); /* its first subscriber */
        delivered += w->delivered;
        st.dropped += w->dropped;
        st.reconnects += w->reconnects;
        st.reconnect_fail += w->reconnect_fail;
        st.dup += w->dup;
        st.reads += w->reads;
        st.bytes += w->bytes;
        st.post_bytes += w->post_bytes;
        for (size_t j = 0; j < w->nlat; j++)
            samples_add(&st.lat, shm_lat[(size_t)b * per + j]);
        for (size_t j = 0; shm_klat && j < w->nklat; j++)
            samples_add(&st.klat, shm_klat[(size_t)b * per + j]);
        for (size_t j = 0; j < w->nconn; j++)
            samples_add(&st.conn, shm_conn[b + j]);
    }
    return delivered;
}

/* ---- the mix's results ----------------------------------------------------------------- */

/* Percentiles of s (sorted here) as JSON fields p50_ms, p99_ms (and max_ms). */
static void mix_pcts(const char *prefix, samples *s)
{
    samples_sort(s);
    printf(",\"%sp50_ms\":%.2f,\"%sp99_ms\":%.2f,\"%smax_ms\":%.2f", prefix, pct_ms(s, 50), prefix,
           pct_ms(s, 99), prefix, s->n ? s->v[s->n - 1] / 1000.0 : 0);
}

/* The like figures: every like the server accepted (its answer gave a count) against every
 * subscriber that was connected: the first count event of its post showing at least that
 * count (a sample), else lost. Cost: likes x subscribers x count events a subscriber heard. */
static long mix_likes(long *expected)
{
    long delivered = 0;
    *expected = 0;
    for (int q = 0; q < cfg.posts; q++) {
        if (mx.kind[q] != A_LIKE || pub_done[q] != 1 || mx.n[q] <= 0)
            continue;
        for (int i = 0; i < cfg.subs; i++) {
            sub_t *s = &subs[i];
            if (!s->ever)
                continue;
            (*expected)++;
            for (size_t e = 0; e < s->ncev; e++) {
                if (s->cev[e].post != mx.post[q] || s->cev[e].n < mx.n[q])
                    continue;
                delivered++;
                samples_add(&mx.cnt_lat, s->cev[e].t - mx.t_sent[q]);
                if (s->cev[e].krx)
                    samples_add(&mx.cnt_klat, s->cev[e].krx - mx.t_sent[q]);
                break;
            }
        }
    }
    return delivered;
}

/* The count events each subscriber heard: in all (min, mean, max over the subscribers), per
 * second of the publishing phase (`secs`), and in its busiest second since t0 (mean, max); and
 * for every post that was liked, whether each subscriber's last count of it is its likes. */
static void mix_counts(int64_t t0, double secs)
{
    long total = 0, min = -1, max = 0, peak_sum = 0, peak_max = 0, exact = 0, wrong = 0, nsub = 0;
    int fmin = -1, fmax = 0, expect = 0;
    int *last = calloc((size_t)mx.nposts + 1, sizeof(int));
    if (!last)
        die("out of memory");
    for (int i = 0; i < cfg.subs; i++) {
        sub_t *s = &subs[i];
        if (!s->ever)
            continue;
        nsub++;
        long n = (long)s->ncev, run = 0, peak = 0, bucket = -1;
        total += n;
        min = min < 0 || n < min ? n : min;
        max = n > max ? n : max;
        memset(last, 0, ((size_t)mx.nposts + 1) * sizeof(int));
        for (size_t e = 0; e < s->ncev; e++) {
            long b = (long)((s->cev[e].t - t0) / 1000000);
            run = b == bucket ? run + 1 : 1;
            bucket = b;
            peak = run > peak ? run : peak;
            last[s->cev[e].post] = s->cev[e].n;
        }
        peak_sum += peak;
        peak_max = peak > peak_max ? peak : peak_max;
        for (int k = 0; k < mx.nposts; k++) {
            if (!mx.posts[k].likes)
                continue;
            last[k] == mx.posts[k].top ? exact++ : wrong++;
            fmin = fmin < 0 || last[k] < fmin ? last[k] : fmin;
            fmax = last[k] > fmax ? last[k] : fmax;
            expect = mx.posts[k].top > expect ? mx.posts[k].top : expect;
        }
    }
    free(last);
    double mean = nsub ? (double)total / (double)nsub : 0;
    printf(",\"events_min\":%ld,\"events_mean\":%.2f,\"events_max\":%ld,\"per_s_mean\":%.2f,"
           "\"per_s_max\":%.2f,\"peak_1s_mean\":%.2f,\"peak_1s_max\":%ld,\"secs\":%.2f,"
           "\"final_top\":%d,\"final_exact\":%ld,\"final_wrong\":%ld,\"final_min\":%d,"
           "\"final_max\":%d",
           min < 0 ? 0 : min, mean, max, secs > 0 ? mean / secs : 0, secs > 0 ? max / secs : 0,
           nsub ? (double)peak_sum / (double)nsub : 0, peak_max, secs, expect, exact, wrong,
           fmin < 0 ? 0 : fmin, fmax);
}

/* The mix's part of the JSON result (",\"mix\":{...}") and its summary on stderr; posts: the
 * posts' expected and delivered, `lat`/`klat` their samples (sorted). */
static void mix_results(long posts_expected, long posts_delivered, const samples *lat,
                        const samples *klat, int64_t t0, double secs)
{
    long del_expected = (long)st.connected * mx.del_ok, like_expected;
    long like_delivered = mix_likes(&like_expected);
    samples all = {0}, kall = {0};
    for (size_t j = 0; j < lat->n; j++)
        samples_add(&all, lat->v[j]);
    for (size_t j = 0; j < klat->n; j++)
        samples_add(&kall, klat->v[j]);
    for (size_t j = 0; j < mx.del_lat.n; j++)
        samples_add(&all, mx.del_lat.v[j]);
    for (size_t j = 0; j < mx.del_klat.n; j++)
        samples_add(&kall, mx.del_klat.v[j]);
    for (size_t j = 0; j < mx.cnt_lat.n; j++)
        samples_add(&all, mx.cnt_lat.v[j]);
    for (size_t j = 0; j < mx.cnt_klat.n; j++)
        samples_add(&kall, mx.cnt_klat.v[j]);
    printf(",\"mix\":{\"like_pct\":%d,\"del_pct\":%d,\"likes_ok\":%d,\"likes_err\":%d,"
           "\"dels_ok\":%d,\"dels_err\":%d,\"likers\":%d",
           mx.like_pct, mx.del_pct, mx.like_ok, mx.like_err, mx.del_ok, mx.del_err,
           mx.ncookies - mx.authors);
    printf(",\"del\":{\"expected\":%ld,\"delivered\":%ld,\"lost\":%ld,\"dup\":%ld", del_expected,
           mx.del_delivered, del_expected - mx.del_delivered, mx.del_dup);
    mix_pcts("", &mx.del_lat);
    mix_pcts("k_", &mx.del_klat);
    printf("},\"count\":{\"expected\":%ld,\"delivered\":%ld,\"lost\":%ld", like_expected,
           like_delivered, like_expected - like_delivered);
    mix_pcts("", &mx.cnt_lat);
    mix_pcts("k_", &mx.cnt_klat);
    mix_counts(t0, secs);
    long all_expected = posts_expected + del_expected + like_expected;
    long all_delivered = posts_delivered + mx.del_delivered + like_delivered;
    printf("},\"all\":{\"expected\":%ld,\"delivered\":%ld,\"lost\":%ld", all_expected,
           all_delivered, all_expected - all_delivered);
    mix_pcts("", &all);
    mix_pcts("k_", &kall);
    printf("}}");
    fprintf(stderr,
            "%s: mix: %d likes (%d failed), %d deletions (%d failed); deletions delivered %ld of "
            "%ld (p50 %.1f ms, p99 %.1f ms); like counts delivered %ld of %ld (p50 %.1f ms, p99 "
            "%.1f ms); all events %ld of %ld (p50 %.1f ms, p99 %.1f ms)\n",
            cfg.label, mx.like_ok, mx.like_err, mx.del_ok, mx.del_err, mx.del_delivered,
            del_expected, pct_ms(&mx.del_lat, 50), pct_ms(&mx.del_lat, 99), like_delivered,
            like_expected, pct_ms(&mx.cnt_lat, 50), pct_ms(&mx.cnt_lat, 99), all_delivered,
            all_expected, pct_ms(&all, 50), pct_ms(&all, 99));
    free(all.v);
    free(kall.v);
}

/* Set up the mix (-x, -I, -a, -o) once the options are read. */
static void mix_setup(const char *spec, const char *cookie_file)
{
    if (sscanf(spec, "%d,%d", &mx.like_pct, &mx.del_pct) != 2 || mx.like_pct < 0 ||
        mx.del_pct < 0 || mx.like_pct + mx.del_pct > 100)
        die("-x wants LIKE,DEL: two percentages that add up to at most 100");
    if (cfg.procs)
        die("-x does not work with -P");
    if (cookie_file)
        mix_cookies(cookie_file);
    if (mx.authors > mx.ncookies || (mx.like_pct && mx.ncookies <= mx.authors))
        die("-x with likes needs -I with more visitors than the -a authors");
    size_t n = (size_t)cfg.posts + 2;
    mx.kind = calloc(n, 1);
    mx.post = calloc(n, sizeof(int));
    mx.who = calloc(n, sizeof(int));
    mx.n = calloc(n, sizeof(int));
    mx.t_sent = calloc(n, sizeof(int64_t));
    mx.posts = calloc(n, sizeof(mix_post));
    for (mx.cap = 64; mx.cap < 2 * n + 2; mx.cap *= 2)
        ;
    mx.slot = calloc(mx.cap, sizeof(int));
    if (!mx.kind || !mx.post || !mx.who || !mx.n || !mx.t_sent || !mx.posts || !mx.slot)
        die("out of memory");
    if (mx.target)
        mix_post_of(mx.target, strlen(mx.target), 1, -1);
}

/* With -x: are the deletions in, and has no count event come for a second (the last coalesced
 * count of a post comes a window after its last like)? True without -x. */
static int mix_drained(int64_t now)
{
    return !mx.kind ||
           (mx.del_delivered >= (long)st.connected * mx.del_ok && now - mx.last_cev >= 1000000);
}

/* ---- main loop ------------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
            "usage: sseload -s SSE_URL [-p PUB_URL] [options]\n"
            "  -s URL   event stream to subscribe to (http://host:port/path)\n"
            "  -p URL   where to POST the posts\n"
            "  -c N     subscribers (100)\n"
            "  -n K     spread subscribers over source addresses 127.0.0.2..127.0.0.(K+1)\n"
            "  -k N     connects pending at once (500)\n"
            "  -T S     connect timeout in seconds, up to the response headers (15)\n"
            "  -m N     posts (100); 0 holds the idle subscribers for -d seconds, then reports\n"
            "  -r R     posts per second (10)\n"
            "  -F TPL   urlencoded form body, %%s = marker, e.g. 'message=%%s'\n"
            "  -H LINE  one more header of every POST, e.g. 'Cookie: tw_name=...' (at most 1 KB)\n"
            "  -B TPL   raw text/plain body, %%s = marker (default '%%s')\n"
            "  -z N     N bytes of padding after the marker (a space, then x's; at most 16384)\n"
            "  -d S     seconds between 'all connected' and the first post (1)\n"
            "  -g FILE  also wait until FILE exists before the first post\n"
            "  -w S     seconds to wait for deliveries after the last post (5)\n"
            "  -R MS    reconnect a dropped subscriber after MS ms with Last-Event-ID (100);\n"
            "           -1: never\n"
            "  -l NAME  label of the output lines\n"
            "  -v       progress on stderr every second\n"
            "  -P N     fork N subscriber processes sharing -c (each connects -k at once);\n"
            "           this one publishes and merges their results\n"
            "  -K       also measure latency to the kernel's receive time (SO_TIMESTAMPNS):\n"
            "           k_p50_ms.. in the result\n"
            "  -x L,D   a mix: L %% of the -m requests are likes, D %% deletions (not with -P)\n"
            "  -I FILE  visitors for -x: one cookie a line (tw_name=...)\n"
            "  -a N     the first N visitors of -I post (in turn) and delete their posts; the\n"
            "           others like, each like from the next one (0: posts by -H's visitor)\n"
            "  -o ID    every like is of post ID (else of the newest post of the run)\n"
            "The result is one JSON object on stdout; the summary goes to stderr, which also\n"
            "gets \"ready connected=N failed=M\" once every subscriber is connected or has\n"
            "failed. Exit: 0 all delivered, 1 loss, 2 usage or setup error, 3 nobody connected.\n");
    exit(2);
}

static double num(const char *s)
{
    char *e;
    double v = strtod(s, &e);
    if (*e || e == s)
        usage();
    return v;
}

static const char *phase_name[] = {"connect", "settle", "publish", "drain", "done"};
enum { P_CONNECT, P_SETTLE, P_PUBLISH, P_DRAIN, P_DONE };

int main(int argc, char **argv)
{
    int opt, have_sse = 0, have_pub = 0;
    const char *mix_spec = NULL, *cookie_file = NULL;
    while ((opt = getopt(argc, argv, "s:p:c:n:k:T:m:r:F:B:H:z:d:w:R:l:g:vP:Kx:I:a:o:")) != -1) {
        switch (opt) {
        case 's':
            parse_url(optarg, &cfg.sse);
            have_sse = 1;
            break;
        case 'p':
            parse_url(optarg, &cfg.pub);
            have_pub = 1;
            break;
        case 'c':
            cfg.subs = (int)num(optarg);
            break;
        case 'n':
            cfg.nsrc = (int)num(optarg);
            break;
        case 'k':
            cfg.inflight = (int)num(optarg);
            break;
        case 'T':
            cfg.conn_timeout = num(optarg);
            break;
        case 'm':
            cfg.posts = (int)num(optarg);
            break;
        case 'r':
            cfg.rate = num(optarg);
            break;
        case 'F':
            cfg.body = optarg;
            cfg.form = 1;
            break;
        case 'B':
            cfg.body = optarg;
            cfg.form = 0;
            break;
        case 'H':
            if (strlen(optarg) > 1024 || strpbrk(optarg, "\r\n"))
                usage();
            cfg.header = optarg;
            break;
        case 'z':
            cfg.pad = (int)num(optarg);
            if (cfg.pad < 0 || cfg.pad > MAX_PAD)
                usage();
            break;
        case 'd':
            cfg.settle = num(optarg);
            break;
        case 'w':
            cfg.drain = num(optarg);
            break;
        case 'R':
            cfg.reconnect_ms = (int)num(optarg);
            break;
        case 'l':
            cfg.label = optarg;
            break;
        case 'g':
            cfg.go = optarg;
            break;
        case 'v':
            cfg.verbose = 1;
            break;
        case 'P':
            cfg.procs = (int)num(optarg);
            break;
        case 'K':
            cfg.kstamp = 1;
            break;
        case 'x':
            mix_spec = optarg;
            break;
        case 'I':
            cookie_file = optarg;
            break;
        case 'a':
            mx.authors = (int)num(optarg);
            break;
        case 'o':
            mx.target = optarg;
            break;
        default:
            usage();
        }
    }
    if (!have_sse || (cfg.posts > 0 && !have_pub) || cfg.subs < 0 || cfg.posts < 0 ||
        cfg.rate <= 0 || cfg.inflight < 1 || cfg.nsrc < 0 || cfg.nsrc > 250 || cfg.procs < 0 ||
        cfg.procs > MAX_PROCS || !strstr(cfg.body, "%s"))
        usage();

    /* Room for every subscriber, the publishers and a margin. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        int per = cfg.procs > 0 ? (cfg.subs + cfg.procs - 1) / cfg.procs : cfg.subs;
        if ((rlim_t)per + MAX_PUB + 16 > rl.rlim_cur)
            fprintf(stderr,
                    "sseload: warning: open-files limit %llu is below %d subscribers per "
                    "process (-P)\n",
                    (unsigned long long)rl.rlim_cur, per);
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    /* Run id: markers of earlier runs (replayed history) never match. */
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    snprintf(run_id, sizeof(run_id), "%x",
             (unsigned)((rt.tv_nsec ^ (rt.tv_sec << 12) ^ (getpid() << 3)) & 0x7fffffff));
    for (char *c = run_id; *c; c++) /* a digit-free id keeps the parser unambiguous */
        if (*c >= '0' && *c <= '9')
            *c = (char)('g' + (*c - '0'));
    run_id_len = strlen(run_id);
    struct timespec mt;
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_MONOTONIC, &mt);
    rt_minus_mono = ((int64_t)rt.tv_sec - mt.tv_sec) * 1000000 + (rt.tv_nsec - mt.tv_nsec) / 1000;

    pub_done = shared_alloc((size_t)cfg.posts + 1);
    if (mix_spec)
        mix_setup(mix_spec, cookie_file);
    total_subs = cfg.subs;
    st.post_bytes0 = -1;
    if (cfg.procs > 0)
        fork_workers();

    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1");
    subs = calloc((size_t)cfg.subs + 1, sizeof(*subs));
    size_t bm = ((size_t)cfg.posts + 7) / 8;
    uint8_t *bits = calloc((size_t)cfg.subs + 1, bm ? bm : 1);
    if (!subs || !bits || !pub_done)
        die("out of memory");
    for (int i = 0; i < cfg.subs; i++) {
        subs[i].fd = -1;
        subs[i].seen = bits + (size_t)i * (bm ? bm : 1);
    }
    for (int k = 0; k < MAX_PUB; k++)
        pubs[k].fd = -1;

    int64_t t0 = now_us(), phase_at = t0, next_tick = t0, t_last_post = 0, t_pub0 = 0;
    int phase = P_CONNECT, next_post = 0, established_at_publish = 0;
    struct epoll_event evs[1024];

    while (phase != P_DONE && !interrupted) {
        int64_t now = now_us();

        /* Phase transitions and timers. */
        if (phase == P_CONNECT) {
            while (st.started < cfg.subs && st.inflight < cfg.inflight)
                sub_start(st.started++, now);
            if (st.started == cfg.subs && st.inflight == 0 && worker >= 0) {
                worker_ready();
                phase = P_SETTLE;
            } else if (st.started == cfg.subs && st.inflight == 0 && workers_all(0)) {
                if (shm)
                    merge_connected();
                int failed = st.fail_refused + st.fail_timeout + st.fail_status + st.fail_other;
                fprintf(stderr, "sseload: ready connected=%d failed=%d connect_s=%.2f\n",
                        st.connected, failed, (now - t0) / 1e6);
                phase = P_SETTLE;
                phase_at = now;
            }
        }
        if (phase == P_SETTLE && worker >= 0) {
            /* A subscriber process: the publishing one says when the posts begin. */
            if (atomic_load(&shm->go)) {
                phase = P_PUBLISH;
                st.post_bytes0 = st.bytes;
            }
        } else if (phase == P_SETTLE && now - phase_at >= (int64_t)(cfg.settle * 1e6) &&
                   (!cfg.go || access(cfg.go, F_OK) == 0)) {
            established_at_publish = st.connected;
            /* Nobody to deliver to (every connection failed): nothing to measure. */
            phase = cfg.posts && (st.connected || !total_subs) ? P_PUBLISH : P_DONE;
            phase_at = t_pub0 = now;
            st.post_bytes0 = st.bytes;
            if (shm) {
                atomic_store(&shm->go, 1);
                if (phase == P_DONE)
                    atomic_store(&shm->over, 1); /* no posts: the subscribers report now */
            }
        }
        if (phase == P_PUBLISH && worker >= 0) {
            if (atomic_load(&shm->over)) {
                st.pub_ok = shm->pub_ok;
                t_last_post = shm->t_last_post;
                phase = P_DRAIN;
            }
        } else if (phase == P_PUBLISH) {
            while (next_post < cfg.posts) {
                int64_t due = t_pub0 + (int64_t)(next_post * 1e6 / cfg.rate);
                if (due > now || pub_start(next_post, now) < 0)
                    break;
                if (now - due > st.send_lag_max)
                    st.send_lag_max = now - due;
                next_post++;
            }
            if (next_post == cfg.posts) {
                phase = P_DRAIN;
                phase_at = t_last_post = now;
            }
        }
        if (phase == P_DRAIN && shm && worker < 0) {
            /* Publishing with subscriber processes: tell them the accepted posts once every
             * request has finished (or at the drain deadline), then wait for their reports. */
            int late = now - t_last_post >= (int64_t)(cfg.drain * 1e6);
            if ((st.pub_active == 0 || late) && !atomic_load(&shm->over)) {
                shm->pub_ok = st.pub_ok;
                shm->t_last_post = t_last_post;
                atomic_store(&shm->over, 1);
            }
            if (workers_all(1) || now - t_last_post >= (int64_t)((cfg.drain + 5) * 1e6))
                phase = P_DONE;
        } else if (phase == P_DRAIN) {
            int pubs_over = st.pub_active == 0;
            long want = (long)st.connected * st.pub_ok;
            int posts_in =
                (st.delivered_all >= want && (want > 0 || !st.connected)) || st.pub_ok == 0;
            if ((pubs_over && posts_in && mix_drained(now)) ||
                now - t_last_post >= (int64_t)(cfg.drain * 1e6))
                phase = P_DONE;
        }
        if (now >= next_tick) {
            next_tick = now + TICK_MS * 1000;
            for (int i = 0; i < st.started; i++) {
                sub_t *s = &subs[i];
                if ((s->state == S_CONNECTING || s->state == S_HEADERS) &&
                    now - s->t_start > (int64_t)(cfg.conn_timeout * 1e6))
                    sub_end(i, 2, now);
                else if (s->state == S_FAILED && s->retry_at && now >= s->retry_at &&
                         phase != P_DONE)
                    sub_start(i, now);
            }
            for (int k = 0; k < MAX_PUB; k++)
                if (pubs[k].fd >= 0 && now - pubs[k].t_start > PUB_TIMEOUT)
                    pub_finish(k, 0);
            if (worker >= 0) {
                atomic_store(&shm->w[worker].live_connected, st.connected);
                atomic_store(&shm->w[worker].live_delivered, st.delivered_all);
            } else if (cfg.verbose) {
                static int64_t last_report;
                if (now - last_report > 1000000) {
                    last_report = now;
                    int connected = st.connected;
                    long delivered = st.delivered_all;
                    for (int k = 0; shm && k < cfg.procs; k++) {
                        connected +=
                            phase == P_CONNECT ? atomic_load(&shm->w[k].live_connected) : 0;
                        delivered += atomic_load(&shm->w[k].live_delivered);
                    }
                    fprintf(stderr,
                            "sseload: %s connected=%d inflight=%d posts=%d/%d delivered=%ld "
                            "dropped=%d\n",
                            phase_name[phase], connected, st.inflight, next_post, cfg.posts,
                            delivered, st.dropped);
                }
            }
        }
        if (phase == P_DONE)
            break;

        /* Sleep until the next post is due or the next tick, whichever comes first. */
        int64_t wake = next_tick;
        if (phase == P_PUBLISH && worker < 0) {
            int64_t due = t_pub0 + (int64_t)(next_post * 1e6 / cfg.rate);
            if (due < wake)
                wake = due;
        }
        int64_t wait_us = wake - now_us();
        int timeout = wait_us <= 0 ? 0 : (int)((wait_us + 999) / 1000);
        int n = epoll_wait(ep, evs, (int)(sizeof(evs) / sizeof(evs[0])), timeout);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        for (int e = 0; e < n; e++) {
            uint64_t t = evs[e].data.u64;
            int idx = (int)(t >> 1);
            int64_t tnow = now_us();
            if (t & 1) {
                pub_t *p = &pubs[idx];
                if (p->fd < 0)
                    continue;
                if (!p->t_sent && (evs[e].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
                    pub_send(idx, tnow);
                else if (evs[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                    pub_read(idx, tnow);
            } else {
                sub_t *s = &subs[idx];
                if (s->fd < 0)
                    continue;
                if (s->state == S_CONNECTING)
                    sub_send(idx, tnow);
                else if (evs[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                    sub_read(idx, tnow);
            }
        }
    }
    int64_t t_end = now_us();
    if (worker >= 0)
        worker_finish(); /* does not return */
    if (st.post_bytes0 >= 0)
        st.post_bytes = st.bytes - st.post_bytes0;

    /* Deliveries that count: posts the server accepted, to subscribers that were connected. */
    long expected = (long)st.connected * st.pub_ok, delivered = count_delivered();
    if (shm)
        delivered += merge_workers();
    long lost = expected - delivered;
    samples_sort(&st.lat);
    samples_sort(&st.conn);
    samples_sort(&st.publat);
    samples_sort(&st.klat);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu =
        ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    getrusage(RUSAGE_CHILDREN, &ru); /* the subscriber processes (-P), waited for */
    cpu +=
        ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    int failed = st.fail_refused + st.fail_timeout + st.fail_status + st.fail_other;
    double conn_max = st.conn.n ? st.conn.v[st.conn.n - 1] / 1000.0 : 0;
    double lat_max = st.lat.n ? st.lat.v[st.lat.n - 1] / 1000.0 : 0;

    char bad[32] = "";
    if (st.last_bad_status)
        snprintf(bad, sizeof(bad), ", last %d", st.last_bad_status);
    fprintf(stderr,
            "%s: %d/%d subscribers connected (%d failed: %d refused, %d timed out, %d bad "
            "status%s, %d other), connect p50 %.1f ms, max %.1f ms\n",
            cfg.label, st.connected, total_subs, failed, st.fail_refused, st.fail_timeout,
            st.fail_status, bad, st.fail_other, pct_ms(&st.conn, 50), conn_max);
    if (cfg.posts) {
        fprintf(stderr,
                "%s: %d %s at %.0f/s: %d %saccepted, %d failed (POST p50 %.1f ms, p99 %.1f "
                "ms); sender late by at most %.1f ms\n",
                cfg.label, cfg.posts, mx.kind ? "requests" : "posts", cfg.rate, st.pub_ok,
                mx.kind ? "posts " : "", st.pub_err, pct_ms(&st.publat, 50), pct_ms(&st.publat, 99),
                st.send_lag_max / 1000.0);
        fprintf(stderr,
                "%s: delivered %ld of %ld (lost %ld, duplicates %ld), latency p50 %.1f ms, "
                "p90 %.1f ms, p99 %.1f ms, max %.1f ms\n",
                cfg.label, delivered, expected, lost, st.dup, pct_ms(&st.lat, 50),
                pct_ms(&st.lat, 90), pct_ms(&st.lat, 99), lat_max);
        if (cfg.kstamp)
            fprintf(stderr,
                    "%s: latency to the kernel's receive time p50 %.1f ms, p90 %.1f ms, p99 %.1f "
                    "ms, max %.1f ms\n",
                    cfg.label, pct_ms(&st.klat, 50), pct_ms(&st.klat, 90), pct_ms(&st.klat, 99),
                    st.klat.n ? st.klat.v[st.klat.n - 1] / 1000.0 : 0);
    }
    fprintf(stderr,
            "%s: %d connections dropped, %d reconnects, %d failed reconnects; connected at "
            "first post %d; %.1f s, load generator CPU %.1f s%s\n",
            cfg.label, st.dropped, st.reconnects, st.reconnect_fail, established_at_publish,
            (t_end - t0) / 1e6, cpu, interrupted ? " (interrupted)" : "");

    /* The result for programs: one JSON object, one line. Times in ms (latency: from the
     * POST being written to the marker reaching the subscriber), cpu_s and wall_s in s. */
    printf("{\"label\":");
    json_string(stdout, cfg.label);
    printf(",\"subs\":%d,\"connected\":%d,\"connect_fail\":%d,\"connect_p50_ms\":%.2f,"
           "\"connect_p99_ms\":%.2f,\"connect_max_ms\":%.2f,\"posts\":%d,\"rate\":%.1f,"
           "\"pub_ok\":%d,\"pub_err\":%d,\"pub_p50_ms\":%.2f,\"pub_p99_ms\":%.2f,"
           "\"expected\":%ld,\"delivered\":%ld,\"lost\":%ld,\"dup\":%ld,\"p50_ms\":%.2f,"
           "\"p90_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f,\"dropped\":%d,"
           "\"reconnects\":%d,\"reconnect_fail\":%d,\"send_lag_max_ms\":%.2f,"
           "\"sub_reads\":%ld,\"sub_bytes\":%lld,\"cpu_s\":%.2f,\"wall_s\":%.2f,"
           "\"procs\":%d,\"post_bytes\":%lld,\"kstamp\":%s,\"k_p50_ms\":%.2f,"
           "\"k_p90_ms\":%.2f,\"k_p99_ms\":%.2f,\"k_max_ms\":%.2f,\"interrupted\":%s",
           total_subs, st.connected, failed, pct_ms(&st.conn, 50), pct_ms(&st.conn, 99), conn_max,
           cfg.posts, cfg.rate, st.pub_ok, st.pub_err, pct_ms(&st.publat, 50),
           pct_ms(&st.publat, 99), expected, delivered, lost, st.dup, pct_ms(&st.lat, 50),
           pct_ms(&st.lat, 90), pct_ms(&st.lat, 99), lat_max, st.dropped, st.reconnects,
           st.reconnect_fail, st.send_lag_max / 1000.0, st.reads, st.bytes, cpu, (t_end - t0) / 1e6,
           cfg.procs, st.post_bytes, cfg.kstamp ? "true" : "false", pct_ms(&st.klat, 50),
           pct_ms(&st.klat, 90), pct_ms(&st.klat, 99),
           st.klat.n ? st.klat.v[st.klat.n - 1] / 1000.0 : 0, interrupted ? "true" : "false");
    if (mx.kind)
        mix_results(expected, delivered, &st.lat, &st.klat, t_pub0, (t_last_post - t_pub0) / 1e6);
    printf("}\n");
    fflush(stdout);
    if (total_subs > 0 && st.connected == 0)
        return 3;
    return lost > 0 ? 1 : 0;
}
