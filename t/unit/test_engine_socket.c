/* Unit tests of src/tw_engine_socket, the socket engine, against socketpairs: delivery in order,
 * the skip rule, partial writes into tiny send buffers, a stalled reader cut, a slow reader that
 * keeps up kept, a reader a ring behind cut, a replay handed over with the stream (written first,
 * in pieces, cut when stalled, the owner told once), keepalive pings, hang-ups, capacity, and
 * stopping. */
#include "fixture.h"
#include "tap.h"
#include "tw_engine_socket.h"

#include <apr_general.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>

typedef struct rig {
    fx_feed f;
    tw_engine *socket;
    unsigned jitter; /* the retry jitter of its streams */
} rig;

static unsigned rig_jitter; /* retry jitter of the next rig's streams */

static int rig_init(rig *r, apr_interval_time_t keepalive, unsigned max)
{
    if (!fx_feed_init(&r->f, 3000, 1))
        return 0;
    tw_engine_socket_conf cf = {
        .hub = r->f.hub, .keepalive = keepalive, .max_streams = max, .log = &r->f.log.log};
    r->jitter = rig_jitter;
    return tw_engine_socket_create(r->f.pool, &cf, &r->socket) == APR_SUCCESS;
}

static void rig_done(rig *r)
{
    tw_engine_stop(r->socket);
    ok(tw_engine_stopped(r->socket, apr_time_from_sec(5)), "the engine's thread ends on stop");
    apr_pool_destroy(r->f.pool);
}

/* A connected pair; the engine gets a duplicate of the server end, as from Apache, and the
 * original is closed right away, as Apache does. Returns the client end. `buf` > 0 shrinks
 * the buffers. */
static int adopt(rig *r, tw_id after, uint64_t next, int buf, tw_engine_result *res)
{
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    if (buf) {
        setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
        setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
    }
    tw_outlet o = {.fd = sv[0],
                   .raw = 1,
                   .next = next,
                   .after = after,
                   .retry_ms = 2000,
                   .retry_jitter_ms = r->jitter};
    *res = tw_engine_follow(r->socket, &o);
    close(sv[0]);
    return sv[1];
}

static void test_delivery(void)
{
    rig r;
    ok(rig_init(&r, apr_time_from_sec(10), 100), "an engine on a hub");
    tw_engine_result res;
    int cli = adopt(&r, (tw_id){0, 0}, tw_hub_join(r.f.hub), 0, &res);
    is_int(res, TW_ENGINE_ADOPTED, "a raw outlet is adopted");
    tw_id a = fx_post(&r.f, "ann", "one"), b = fx_post(&r.f, "bob", "two");
    const char *want = apr_pstrcat(r.f.pool, fx_frame(r.f.pool, a, "ann", "one"),
                                   fx_frame(r.f.pool, b, "bob", "two"), NULL);
    char buf[4096];
    int eof;
    size_t n = fx_read_until(cli, buf, sizeof(buf), strlen(want), 5000, &eof);
    buf[n] = '\0';
    is_str(buf, want, "both frames, in order, as rendered");

    tw_outlet cooked = {.fd = cli, .raw = 0};
    is_int(tw_engine_follow(r.socket, &cooked), TW_ENGINE_DECLINED, "a filtered outlet: declined");
    tw_outlet nofd = {.fd = -1, .raw = 1};
    is_int(tw_engine_follow(r.socket, &nofd), TW_ENGINE_DECLINED, "no descriptor: declined");
    close(cli);
    rig_done(&r);
}

static void test_skip(void)
{
    rig r;
    rig_init(&r, apr_time_from_sec(10), 100);
    uint64_t joined = tw_hub_join(r.f.hub);
    fx_post(&r.f, "ann", "replayed 1");
    tw_id p2 = fx_post(&r.f, "ann", "replayed 2");
    tw_id p3 = fx_post(&r.f, "ann", "new 3");
    tw_engine_result res;
    /* Joined before the three, and the replay sent up to p2. */
    int cli = adopt(&r, p2, joined, 0, &res);
    tw_id p4 = fx_post(&r.f, "ann", "live 4");
    const char *want = apr_pstrcat(r.f.pool, fx_frame(r.f.pool, p3, "ann", "new 3"),
                                   fx_frame(r.f.pool, p4, "ann", "live 4"), NULL);
    char buf[4096];
    int eof;
    size_t n = fx_read_until(cli, buf, sizeof(buf), strlen(want), 5000, &eof);
    buf[n] = '\0';
    is_str(buf, want, "frames the replay sent are skipped, the rest arrive once");
    close(cli);
    rig_done(&r);
}

/* Post `n` posts with messages of `len` bytes; returns the bytes of all their frames. */
static const char *post_many(rig *r, int n, size_t len)
{
    char *msg = malloc(len + 1);
    memset(msg, 'm', len);
    msg[len] = '\0';
    tw_buf all;
    tw_buf_init(&all, r->f.pool, (size_t)n * (len + 64));
    for (int i = 0; i < n; i++) {
        msg[0] = (char)('a' + i % 26);
        tw_id id = fx_post(&r->f, "bulk", msg);
        tw_buf_adds(&all, fx_frame(r->f.pool, id, "bulk", msg));
    }
    free(msg);
    return all.data;
}

static void test_partial_writes_slow_reader(void)
{
    rig r;
    rig_init(&r, apr_time_from_sec(1), 100);
    tw_engine_result res;
    int cli = adopt(&r, (tw_id){0, 0}, tw_hub_join(r.f.hub), 2048, &res);
    const char *want = post_many(&r, 300, 400); /* ~130 KB through 2 KB buffers */
    size_t total = strlen(want), got = 0;
    char *buf = malloc(total + 1);
    int eof = 0;
    /* A slow reader: at most 2 KB every 5 ms, far slower than the engine writes, but never
     * idle for anything near the keepalive (1 s). */
    long long end = fx_now_ms() + 30000;
    while (got < total && !eof && fx_now_ms() < end) {
        if (!(fx_wait_fd(cli, POLLIN, 5000) & (POLLIN | POLLHUP)))
            break;
        ssize_t k = read(cli, buf + got, total - got < 2048 ? total - got : 2048);
        if (k <= 0)
            eof = 1;
        else
            got += (size_t)k;
        poll(NULL, 0, 5);
    }
    buf[got] = '\0';
    is_int((long long)got, (long long)total,
           "a slow reader that keeps taking bytes gets everything");
    ok(strcmp(buf, want) == 0, "byte for byte, across partial writes");
    ok(!fx_log_has(&r.f.log, "TW0602"), "and is never cut as stalled");
    free(buf);
    close(cli);
    rig_done(&r);
}

static int log_has_0602(void *arg)
{
    return fx_log_has(arg, "TW0602:");
}

static int log_has_0601(void *arg)
{
    return fx_log_has(arg, "TW0601:");
}

static void test_stalled_reader_cut(void)
{
    rig r;
    rig_init(&r, apr_time_from_msec(200), 100);
    tw_engine_result res;
    int stalled = adopt(&r, (tw_id){0, 0}, tw_hub_join(r.f.hub), 2048, &res);
    int live = adopt(&r, (tw_id){0, 0}, tw_hub_join(r.f.hub), 0, &res);
    long long t0 = fx_now_ms();
    const char *want = post_many(&r, 100, 400);
    /* The live reader gets everything while the stalled one takes nothing. */
    size_t total = strlen(want);
    char *buf = malloc(total + 1);
    int eof;
    size_t n = fx_read_until(live, buf, total, total, 10000, &eof);
    ok(n == total && memcmp(buf, want, total) == 0, "a reader that keeps up is not held back");
    ok(fx_until(log_has_0602, &r.f.log, 5000), "the stalled stream is cut (TW0602)");
    ok(fx_now_ms() - t0 >= 150, "after about a keepalive interval without progress");
    n = fx_read_until(stalled, buf, total, total, 5000, &eof);
    ok(eof && n < total, "the stalled reader, reading again, finds its stream ended (%zu bytes)",
       n);
    free(buf);
    close(stalled);
    close(live);
    rig_done(&r);
}

/* Replayed events as a handler renders them: `n` posts of ~400 bytes, ids 1-0 up. */
static void fake_replay(tw_buf *b, apr_pool_t *p, int n)
{
    tw_buf_init(b, p, 64 << 10);
    for (int i = 0; i < n; i++)
        tw_buf_addf(b, "id: 1-%d\nevent: post\ndata: %0390d\n\n", i, i);
}

static void count_done(void *ctx)
{
    atomic_fetch_add((atomic_int *)ctx, 1);
}

static int done_once(void *ctx)
{
    return atomic_load((atomic_int *)ctx) == 1;
}

/* A stream handed over with its replay: the replay (~60 KB, far more than the 2 KB buffers)
 * arrives first, whole, then the live frames, the ones the replay covers skipped; the owner is
 * told once when the stream ends. */
static void test_replay_handed_over(void)
{
    rig r;
    rig_init(&r, apr_time_from_sec(10), 100);
    uint64_t joined = tw_hub_join(r.f.hub);
    tw_id covered = fx_post(&r.f, "ann", "in the replay too");
    tw_buf replay;
    fake_replay(&replay, r.f.pool, 150);
    tw_buf_adds(&replay, fx_frame(r.f.pool, covered, "ann", "in the replay too"));
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    int small = 2048;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    atomic_int done = 0;
    tw_outlet o = {.fd = sv[0],
                   .raw = 1,
                   .next = joined,
                   .after = covered,
                   .pending = replay.data,
                   .pending_len = replay.len,
                   .done = count_done,
                   .done_ctx = &done};
    is_int(tw_engine_follow(r.socket, &o), TW_ENGINE_ADOPTED, "adopted with its replay");
    close(sv[0]);
    memset(replay.data, 'x', replay.len); /* the engine has its own copy */
    tw_id live = fx_post(&r.f, "bob", "live");
    tw_buf w;
    fake_replay(&w, r.f.pool, 150);
    tw_buf_adds(&w, fx_frame(r.f.pool, covered, "ann", "in the replay too"));
    tw_buf_adds(&w, fx_frame(r.f.pool, live, "bob", "live"));
    char *buf = malloc(w.len + 1);
    int eof;
    size_t n = fx_read_until(sv[1], buf, w.len + 1, w.len + 1, 3000, &eof);
    buf[n] = '\0';
    is_int((long long)n, (long long)w.len, "the replay, then only the frame it does not cover");
    ok(n == w.len && memcmp(buf, w.data, n) == 0, "byte for byte, across partial writes");
    is_int(atomic_load(&done), 0, "the owner is not told while the stream is open");
    close(sv[1]);
    ok(fx_until(done_once, &done, 5000), "told once the client hung up");
    free(buf);
    rig_done(&r);
    is_int(atomic_load(&done), 1, "and only once");
}

/* A reader that takes no byte of its replay is cut after a keepalive interval, like one that
 * takes no frame; its owner is told. */
static void test_stalled_replay_cut(void)
{
    rig r;
    rig_init(&r, apr_time_from_msec(200), 100);
    tw_buf replay;
    fake_replay(&replay, r.f.pool, 150);
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    int small = 2048;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    atomic_int done = 0;
    tw_outlet o = {.fd = sv[0],
                   .raw = 1,
                   .next = tw_hub_join(r.f.hub),
                   .pending = replay.data,
                   .pending_len = replay.len,
                   .done = count_done,
                   .done_ctx = &done};
    long long t0 = fx_now_ms();
    is_int(tw_engine_follow(r.socket, &o), TW_ENGINE_ADOPTED, "a replay for a reader that stalls");
    close(sv[0]);
    ok(fx_until(log_has_0602, &r.f.log, 5000), "the stalled replay is cut (TW0602)");
    ok(fx_now_ms() - t0 >= 150, "after about a keepalive interval without progress");
    ok(fx_until(done_once, &done, 1000), "its owner is told");
    char *buf = malloc(replay.len);
    int eof;
    size_t n = fx_read_until(sv[1], buf, replay.len, replay.len, 5000, &eof);
    ok(eof && n < replay.len, "reading again, the client finds its stream ended (%zu bytes)", n);
    free(buf);
    close(sv[1]);
    rig_done(&r);
}

static void test_lagged_reader_cut(void)
{
    rig r;
    rig_init(&r, apr_time_from_sec(30), 100);
    tw_engine_result res;
    int cli = adopt(&r, (tw_id){0, 0}, tw_hub_join(r.f.hub), 2048, &res);
    /* Two rings of posts: whatever the socket took before it filled up (a few KB, at most a
     * couple of hundred frames), the stream is left more than a ring behind. */
    post_many(&r, 2 * TW_RING_SIZE + 100, 10);
    /* Reading makes room: the engine resumes the stream, finds it a ring behind, closes it. */
    char buf[8192];
    int eof = 0;
    long long end = fx_now_ms() + 10000;
    while (!eof && fx_now_ms() < end) {
        size_t n = fx_read_until(cli, buf, sizeof(buf), sizeof(buf), 1000, &eof);
        (void)n;
    }
    ok(eof, "the stream ends");
    ok(fx_until(log_has_0601, &r.f.log, 1000), "because it fell a ring behind (TW0601)");
    close(cli);
    rig_done(&r);
}

static void test_lost(void)
{
    rig r;
    rig_init(&r, apr_time_from_sec(30), 100);
    tw_engine_result res;
    int cli = adopt(&r, (tw_id){0, 0}, tw_hub_join(r.f.hub), 0, &res);
    tw_id a = fx_post(&r.f, "ann", "one");
    const tw_store_listener *l = tw_hub_listener(r.f.hub);
    l->down(l->ctx);
    l->lost(l->ctx);
    const char *want =
        apr_pstrcat(r.f.pool, fx_frame(r.f.pool, a, "ann", "one"), ": closing\n\n", NULL);
    char buf[4096];
    int eof = 0;
    size_t n = fx_read_until(cli, buf, sizeof(buf), sizeof(buf) - 1, 5000, &eof);
    buf[n] = '\0';
    is_str(buf, want, "lost: the post, then the closing bytes");
    ok(eof, "lost: then the stream ends");
    close(cli);
    rig_done(&r);
}

static void test_ping(void)
{
    rig r;
    rig_init(&r, apr_time_from_msec(100), 100);
    tw_engine_result res;
    long long t0 = fx_now_ms();
    int cli = adopt(&r, (tw_id){0, 0}, tw_hub_join(r.f.hub), 0, &res);
    char buf[64];
    int eof;
    size_t n = fx_read_until(cli, buf, sizeof(buf) - 1, 8, 3000, &eof);
    buf[n] = '\0';
    is_str(buf, ": ping\n\n", "an idle stream gets a keepalive comment");
    ok(fx_now_ms() - t0 >= 90, "after the keepalive interval, not before");
    close(cli);
    rig_done(&r);
}

static int not_full(void *arg)
{
    tw_engine *e = arg;
    return !e->ops->full(e);
}

static void test_hangup_and_capacity(void)
{
    rig r;
    rig_init(&r, apr_time_from_sec(30), 1);
    ok(!tw_engine_full(r.socket), "room for one stream");
    tw_engine_result res;
    int cli = adopt(&r, (tw_id){0, 0}, tw_hub_join(r.f.hub), 0, &res);
    ok(tw_engine_full(r.socket), "full with one");
    ok(tw_engine_full(r.socket), "still full");
    is_int(fx_log_count(&r.f.log, "TW0606:"), 1, "the limit is logged once, not per refusal");
    close(cli);
    ok(fx_until(not_full, r.socket, 5000), "a client that hangs up frees its place at once");
    rig_done(&r);
}

static void test_stopping(void)
{
    rig r;
    rig_init(&r, apr_time_from_sec(30), 100);
    tw_engine_result res;
    int a = adopt(&r, (tw_id){0, 0}, tw_hub_join(r.f.hub), 0, &res);
    int b = adopt(&r, (tw_id){0, 0}, tw_hub_join(r.f.hub), 0, &res);
    tw_engine_stopping(r.socket);
    char buf[64];
    int eof_a, eof_b;
    fx_read_until(a, buf, sizeof(buf), sizeof(buf), 5000, &eof_a);
    fx_read_until(b, buf, sizeof(buf), sizeof(buf), 5000, &eof_b);
    ok(eof_a && eof_b, "a graceful stop closes every stream");
    int c = adopt(&r, (tw_id){0, 0}, tw_hub_join(r.f.hub), 0, &res);
    is_int(res, TW_ENGINE_STOPPING, "and refuses new ones");
    is_int(tw_engine_stopped(r.socket, 0), 0, "the thread runs on until told to exit");
    tw_engine_stop(r.socket);
    ok(tw_engine_stopped(r.socket, apr_time_from_sec(5)), "told to exit, it ends");
    int d = adopt(&r, (tw_id){0, 0}, tw_hub_join(r.f.hub), 0, &res);
    is_int(res, TW_ENGINE_DECLINED,
           "an engine whose thread has ended declines: another may take it");
    close(a);
    close(b);
    close(c);
    close(d);
    rig_done(&r);
}

/* A graceful stop tells each stream when to come back: retry + [0, jitter), each its own. */
static void test_stopping_retry(void)
{
    rig r;
    rig_jitter = 5000;
    rig_init(&r, apr_time_from_sec(30), 100);
    rig_jitter = 0;
    enum { K = 8 };
    int cli[K];
    tw_engine_result res;
    for (int i = 0; i < K; i++)
        cli[i] = adopt(&r, (tw_id){0, 0}, tw_hub_join(r.f.hub), 0, &res);
    tw_engine_stopping(r.socket);
    unsigned first = 0;
    int in_range = 1, differ = 0, ended = 1;
    for (int i = 0; i < K; i++) {
        char buf[64];
        int eof = 0;
        size_t n = fx_read_until(cli[i], buf, sizeof(buf) - 1, sizeof(buf) - 1, 5000, &eof);
        buf[n] = '\0';
        unsigned v = 0;
        char nl[3] = "";
        in_range &= sscanf(buf, "retry: %u%2[\n]", &v, nl) == 2 && !strcmp(nl, "\n\n") &&
                    v >= 2000 && v < 7000;
        differ |= i > 0 && v != first;
        first = i == 0 ? v : first;
        ended &= eof;
        close(cli[i]);
    }
    ok(ended, "stopping: every stream ends");
    ok(in_range, "each got one retry line within [retry, retry + jitter) before the end");
    ok(differ, "not all the same value");
    rig_done(&r);
}

/* A stream that joins the ring at a resume point (tw_hub_join_at) gets the posts after it,
 * once, then the live ones: the replay is the ring. */
static void test_resume_from_ring(void)
{
    rig r;
    rig_init(&r, apr_time_from_sec(30), 100);
    tw_id ids[6];
    for (int i = 0; i < 5; i++)
        ids[i] = fx_post(&r.f, "ann", "missed");
    uint64_t at = 0, behind = 0;
    ok(tw_hub_join_at(r.f.hub, ids[1], &at, &behind) && behind == 3, "the ring covers it");
    tw_engine_result res;
    int cli = adopt(&r, ids[1], at, 0, &res);
    ids[5] = fx_post(&r.f, "bob", "live");
    const char *want = "";
    for (int i = 2; i < 6; i++)
        want = apr_pstrcat(
            r.f.pool, want,
            fx_frame(r.f.pool, ids[i], i == 5 ? "bob" : "ann", i == 5 ? "live" : "missed"), NULL);
    char buf[8192];
    int eof;
    size_t n = fx_read_until(cli, buf, sizeof(buf) - 1, strlen(want) + 1, 1000, &eof);
    buf[n] = '\0';
    is_str(buf, want, "the three missed posts, then the live one; nothing twice");
    close(cli);
    rig_done(&r);
}

int main(void)
{
    apr_initialize();
    test_delivery();
    test_skip();
    test_partial_writes_slow_reader();
    test_stalled_reader_cut();
    test_lagged_reader_cut();
    test_replay_handed_over();
    test_stalled_replay_cut();
    test_ping();
    test_lost();
    test_hangup_and_capacity();
    test_stopping();
    test_stopping_retry();
    test_resume_from_ring();
    apr_terminate();
    return done_testing();
}
