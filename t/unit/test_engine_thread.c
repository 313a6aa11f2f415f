/* Unit tests of src/tw_engine_thread, the worker-thread engine: a stream followed in its own thread
 * through a writer (here a buffer standing in for Apache's filters): delivery, the skip rule,
 * pings, a client hang-up, a failed write, a reader a ring behind, a replay handed over (written
 * first), and both ways of stopping (the engine's, and the server's as the writer reports it). */
#include "fixture.h"
#include "tap.h"
#include "tw_engine_thread.h"

#include <apr_general.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

typedef struct sink {
    pthread_mutex_t lock;
    char pending[65536], sent[65536];
    size_t npending, nsent;
    int flushed;           /* eventfd: written on each flush */
    atomic_int fail_flush; /* the client is gone */
    atomic_int stopping;   /* the server is stopping */
} sink;

static void sink_write(void *ctx, const char *data, size_t len)
{
    sink *s = ctx;
    pthread_mutex_lock(&s->lock);
    if (s->npending + len < sizeof(s->pending)) {
        memcpy(s->pending + s->npending, data, len);
        s->npending += len;
    }
    pthread_mutex_unlock(&s->lock);
}

static int sink_flush(void *ctx)
{
    sink *s = ctx;
    if (atomic_load(&s->fail_flush))
        return -1;
    pthread_mutex_lock(&s->lock);
    memcpy(s->sent + s->nsent, s->pending, s->npending);
    s->nsent += s->npending;
    s->npending = 0;
    s->sent[s->nsent] = '\0';
    pthread_mutex_unlock(&s->lock);
    uint64_t one = 1;
    write(s->flushed, &one, sizeof(one));
    return 0;
}

static int sink_stopping(void *ctx)
{
    return atomic_load(&((sink *)ctx)->stopping);
}

typedef struct rig {
    fx_feed f;
    tw_engine *engine;
    sink s;
    tw_writer w;
    tw_outlet o;
    pthread_t t;
    int done; /* eventfd: follow returned */
    tw_engine_result res;
} rig;

static void *follow_main(void *arg)
{
    rig *r = arg;
    r->res = tw_engine_follow(r->engine, &r->o);
    uint64_t one = 1;
    write(r->done, &one, sizeof(one));
    return NULL;
}

static void rig_init(rig *r, apr_interval_time_t keepalive)
{
    memset(&r->s, 0, sizeof(r->s));
    fx_feed_init(&r->f, 2000, 1);
    tw_engine_thread_conf cf = {.hub = r->f.hub, .keepalive = keepalive, .log = &r->f.log.log};
    tw_engine_thread_create(r->f.pool, &cf, &r->engine);
    pthread_mutex_init(&r->s.lock, NULL);
    r->s.flushed = eventfd(0, 0);
    r->done = eventfd(0, 0);
    r->w = (tw_writer){
        .write = sink_write, .flush = sink_flush, .stopping = sink_stopping, .ctx = &r->s};
    r->o = (tw_outlet){.fd = -1, .writer = &r->w, .next = tw_hub_join(r->f.hub)};
}

static void rig_start(rig *r)
{
    pthread_create(&r->t, NULL, follow_main, r);
}

/* Wait until follow() returned (up to `ms`); 1 if it did. */
static int rig_ended(rig *r, int ms)
{
    if (!(fx_wait_fd(r->done, POLLIN, ms) & POLLIN))
        return 0;
    pthread_join(r->t, NULL);
    return 1;
}

typedef struct sink_want {
    sink *s;
    size_t want;
} sink_want;

static int sink_sent_enough(void *arg)
{
    sink_want *w = arg;
    pthread_mutex_lock(&w->s->lock);
    int enough = w->s->nsent >= w->want;
    pthread_mutex_unlock(&w->s->lock);
    return enough;
}

/* Wait until the sink has sent at least `want` bytes. */
static int sink_has(sink *s, size_t want, int ms)
{
    sink_want w = {s, want};
    return fx_until_bell(s->flushed, sink_sent_enough, &w, ms);
}

static void rig_done(rig *r)
{
    close(r->s.flushed);
    close(r->done);
    pthread_mutex_destroy(&r->s.lock);
    apr_pool_destroy(r->f.pool);
}

static void test_delivery_and_stopping(void)
{
    rig r;
    rig_init(&r, apr_time_from_sec(30));
    fx_post(&r.f, "ann", "replayed");
    tw_id skipped = fx_post(&r.f, "ann", "also replayed");
    r.o.after = skipped; /* joined before both; the replay sent them */
    rig_start(&r);
    tw_id a = fx_post(&r.f, "bob", "live one"), b = fx_post(&r.f, "cy", "live two");
    const char *want = apr_pstrcat(r.f.pool, fx_frame(r.f.pool, a, "bob", "live one"),
                                   fx_frame(r.f.pool, b, "cy", "live two"), NULL);
    ok(sink_has(&r.s, strlen(want), 5000), "the new posts are written");
    pthread_mutex_lock(&r.s.lock);
    is_str(r.s.sent, want, "in order, once, without what the replay sent");
    pthread_mutex_unlock(&r.s.lock);
    tw_engine_stopping(r.engine);
    ok(rig_ended(&r, 5000), "a graceful stop ends the stream at once");
    is_int(r.res, TW_ENGINE_STOPPING, "as stopping");
    is_int(tw_engine_stopped(r.engine, 0), 1, "the engine has no thread to wait for");
    r.o.next = tw_hub_join(r.f.hub);
    is_int(tw_engine_follow(r.engine, &r.o), TW_ENGINE_STOPPING, "new streams end at once");
    rig_done(&r);
}

static void test_replay_first(void)
{
    rig r;
    rig_init(&r, apr_time_from_sec(30));
    tw_id covered = fx_post(&r.f, "ann", "replayed");
    const char *replay = fx_frame(r.f.pool, covered, "ann", "replayed");
    r.o.after = covered;
    r.o.pending = replay;
    r.o.pending_len = strlen(replay);
    rig_start(&r);
    tw_id live = fx_post(&r.f, "bob", "live");
    const char *want = apr_pstrcat(r.f.pool, replay, fx_frame(r.f.pool, live, "bob", "live"), NULL);
    ok(sink_has(&r.s, strlen(want), 5000), "the replay and the new post are written");
    pthread_mutex_lock(&r.s.lock);
    is_str(r.s.sent, want, "the replay first, and the frame it covers not again");
    pthread_mutex_unlock(&r.s.lock);
    tw_engine_stopping(r.engine);
    ok(rig_ended(&r, 5000), "the stream ends on stop");

    rig q;
    rig_init(&q, apr_time_from_sec(30));
    atomic_store(&q.s.fail_flush, 1);
    q.o.pending = replay;
    q.o.pending_len = strlen(replay);
    is_int(tw_engine_follow(q.engine, &q.o), TW_ENGINE_GONE,
           "a client gone during its replay ends the stream");
    rig_done(&q);
    rig_done(&r);
}

static void test_ping(void)
{
    rig r;
    rig_init(&r, apr_time_from_msec(100));
    long long t0 = fx_now_ms();
    rig_start(&r);
    ok(sink_has(&r.s, 8, 3000), "an idle stream writes something");
    pthread_mutex_lock(&r.s.lock);
    ok(strncmp(r.s.sent, ": ping\n\n", 8) == 0, "a keepalive comment");
    pthread_mutex_unlock(&r.s.lock);
    ok(fx_now_ms() - t0 >= 90, "after the keepalive interval");
    atomic_store(&r.s.fail_flush, 1); /* the next ping finds the client gone */
    ok(rig_ended(&r, 3000), "a failed write ends the stream");
    is_int(r.res, TW_ENGINE_GONE, "as gone");
    rig_done(&r);
}

static void test_hangup(void)
{
    rig r;
    rig_init(&r, apr_time_from_sec(30));
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    r.o.fd = sv[0];
    rig_start(&r);
    long long t0 = fx_now_ms();
    close(sv[1]);
    ok(rig_ended(&r, 5000), "the client hanging up ends the stream");
    ok(fx_now_ms() - t0 < 4000, "at once, not at the next keepalive (30 s)");
    is_int(r.res, TW_ENGINE_GONE, "as gone");
    close(sv[0]);
    rig_done(&r);
}

static void test_server_stopping(void)
{
    rig r;
    rig_init(&r, apr_time_from_sec(30));
    rig_start(&r);
    fx_post(&r.f, "ann", "the stream is waiting after this one");
    sink_has(&r.s, 1, 5000);
    atomic_store(&r.s.stopping, 1); /* prefork's graceful stop: only the MPM state says so */
    ok(rig_ended(&r, 5000), "a stopping server (as the writer reports it) ends a waiting stream");
    is_int(r.res, TW_ENGINE_STOPPING, "as stopping");
    rig_done(&r);
}

static void test_lost(void)
{
    rig r;
    rig_init(&r, apr_time_from_sec(30));
    r.o.next = tw_hub_join(r.f.hub);
    fx_post(&r.f, "ann", "one");
    const tw_store_listener *l = tw_hub_listener(r.f.hub);
    l->down(l->ctx);
    l->lost(l->ctx);
    fx_post(&r.f, "bob", "after");
    is_int(tw_engine_follow(r.engine, &r.o), TW_ENGINE_LOST, "lost: the stream ends");
    has_str(r.s.sent, ": closing\n\n", "lost: after the closing bytes");
    lacks_str(r.s.sent, "after", "lost: and nothing after them");
    rig_done(&r);
}

static void test_lagged(void)
{
    rig r;
    rig_init(&r, apr_time_from_sec(30));
    r.o.next = tw_hub_join(r.f.hub);
    for (int i = 0; i < TW_RING_SIZE + 1; i++)
        fx_post(&r.f, "flood", "x");
    is_int(tw_engine_follow(r.engine, &r.o), TW_ENGINE_LAGGED,
           "a stream more than a ring behind ends so that its client resumes");
    ok(fx_log_has(&r.f.log, "TW0504:"), "and says so (TW0504)");
    tw_outlet none = {.fd = -1};
    is_int(tw_engine_follow(r.engine, &none), TW_ENGINE_DECLINED, "no writer: declined");
    is_int(tw_engine_full(r.engine), 0, "never full: the MPM bounds its threads");
    rig_done(&r);
}

int main(void)
{
    apr_initialize();
    test_delivery_and_stopping();
    test_replay_first();
    test_ping();
    test_hangup();
    test_server_stopping();
    test_lagged();
    test_lost();
    apr_terminate();
    return done_testing();
}
