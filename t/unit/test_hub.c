/* Unit tests of src/tw_hub: the fan-out fed by a store listener (here the memory store):
 * join, take, lag, sync, generation, notify, the bell, readiness, rendering failures, and
 * joining at a resume point (what the ring provably covers). */
#include "fixture.h"
#include "tap.h"

#include <apr_general.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

static int notified;
static void count_notify(void *ctx)
{
    (void)ctx;
    notified++;
}

static void test_take(void)
{
    fx_feed f;
    ok(fx_feed_init(&f, 100, 1), "a hub on a memory store");
    uint64_t next = tw_hub_join(f.hub);
    is_int((long long)next, 0, "joined at the head");
    tw_id a = fx_post(&f, "ann", "one"), b = fx_post(&f, "bob", "two");
    tw_frame got[8];
    int n = tw_hub_take(f.hub, &next, got, 8);
    is_int(n, 2, "take returns the two new frames");
    is_str(got[0].bytes->data, fx_frame(f.pool, a, "ann", "one"), "rendered once, first post");
    is_str(got[1].bytes->data, fx_frame(f.pool, b, "bob", "two"), "second post");
    ok(tw_id_cmp(got[0].id, a) == 0 && !got[0].control, "frames carry the post id");
    is_int(atomic_load(&got[0].bytes->refs), 2, "take adds a reference (ring + taker)");
    for (int i = 0; i < n; i++)
        tw_blob_release(got[i].bytes);
    is_int((long long)next, 2, "the reader's position moved past them");
    is_int(tw_hub_take(f.hub, &next, got, 8), 0, "nothing more");
    uint64_t late = tw_hub_join(f.hub);
    fx_post(&f, "cy", "three");
    is_int(tw_hub_take(f.hub, &late, got, 1), 1, "a reader joining later sees only later frames");
    tw_blob_release(got[0].bytes);
    for (int i = 0; i < 3; i++)
        fx_post(&f, "dee", "batch");
    uint64_t from = late;
    is_int(tw_hub_take(f.hub, &from, got, 2), 2, "take honours max");
    tw_blob_release(got[0].bytes);
    tw_blob_release(got[1].bytes);
    is_int(tw_hub_take(f.hub, &from, got, 8), 1, "and the rest comes next");
    tw_blob_release(got[0].bytes);
    apr_pool_destroy(f.pool);
}

static void test_lag(void)
{
    fx_feed f;
    fx_feed_init(&f, 10, 1);
    uint64_t next = tw_hub_join(f.hub);
    for (int i = 0; i < TW_RING_SIZE; i++)
        fx_post(&f, "flood", "x");
    uint64_t at = next;
    tw_frame got[1];
    is_int(tw_hub_take(f.hub, &at, got, 1), 1, "exactly a ring behind: the oldest is still there");
    tw_blob_release(got[0].bytes);
    fx_post(&f, "flood", "one too many");
    at = next;
    is_int(tw_hub_take(f.hub, &at, got, 1), -1, "a ring and one behind: lagged");
    is_int((long long)at, (long long)next, "a lagged reader's position is left alone");
    apr_pool_destroy(f.pool);
}

static void test_generation(void)
{
    fx_feed f;
    fx_feed_init(&f, 10, 0);
    is_int((long long)tw_hub_generation(f.hub), 0, "0 before the first subscription");
    tw_store_subscribe(f.store, tw_hub_listener(f.hub));
    uint64_t g1 = tw_hub_generation(f.hub);
    ok(g1 != 0, "non-zero once subscribed");
    is_int((long long)tw_hub_generation(f.hub), (long long)g1, "stable while nothing happens");
    fx_post(&f, "ann", "moves it");
    uint64_t g2 = tw_hub_generation(f.hub);
    ok(g2 != 0 && g2 != g1, "a post moves it");
    const tw_store_listener *l = tw_hub_listener(f.hub);
    l->down(l->ctx);
    is_int((long long)tw_hub_generation(f.hub), 0, "0 while the subscription is down");
    l->up(l->ctx);
    uint64_t g3 = tw_hub_generation(f.hub);
    ok(g3 != 0 && g3 != g2, "a new value once up again");
    apr_pool_destroy(f.pool);
}

static void test_gap(void)
{
    fx_feed f;
    fx_feed_init(&f, 10, 1);
    uint64_t next = tw_hub_join(f.hub);
    const tw_store_listener *l = tw_hub_listener(f.hub);
    l->gap(l->ctx);
    tw_frame got[2];
    is_int(tw_hub_take(f.hub, &next, got, 2), 1, "a gap becomes one frame");
    ok(got[0].control, "a control frame, due to every stream");
    is_str(got[0].bytes->data, "event: reload\ndata: \n\n", "the renderer's reload event");
    tw_blob_release(got[0].bytes);
    ok(fx_log_has(&f.log, "TW0104:"), "and the hub says why (TW0104)");
    apr_pool_destroy(f.pool);
}

/* The frames from `next` on: their count, and whether they are exactly the posts ids[from..to)
 * in order (each once). */
static int take_is(tw_hub *h, uint64_t next, const tw_id *ids, int from, int to)
{
    tw_frame got[64];
    int n = tw_hub_take(h, &next, got, 64), same = n == to - from;
    for (int i = 0; i < n; i++) {
        if (same && (got[i].control || tw_id_cmp(got[i].id, ids[from + i]) != 0))
            same = 0;
        tw_blob_release(got[i].bytes);
    }
    return same;
}

static void test_join_at(void)
{
    fx_feed f;
    fx_feed_init(&f, 100, 1);
    uint64_t next = 99, behind = 99;
    tw_id zero = {0, 0}, far = {UINT64_MAX, 0};
    ok(!tw_hub_join_at(f.hub, zero, &next, &behind), "an empty ring covers nothing");
    ok(!tw_hub_join_at(f.hub, far, &next, &behind), "not even the future");
    is_int((long long)next, 99, "and leaves the position alone");
    tw_id ids[5];
    ids[0] = fx_post(&f, "ann", "first the child hears");
    ok(!tw_hub_join_at(f.hub, zero, &next, &behind),
       "before the first post heard: unknown (the store said nothing came before it)");
    ok(tw_hub_join_at(f.hub, ids[0], &next, &behind), "at the first post heard: covered");
    ok(next == 1 && behind == 0, "joins after it, nothing to send");
    for (int i = 1; i < 5; i++)
        ids[i] = fx_post(&f, "bob", "more");
    ok(tw_hub_join_at(f.hub, ids[1], &next, &behind), "inside the ring");
    ok(next == 2 && behind == 3, "at the first post after the resume point");
    ok(take_is(f.hub, next, ids, 2, 5), "the posts after it, each once, in order");
    tw_id between = {ids[2].ms, ids[2].seq};
    between.seq++; /* after ids[2], before ids[3] unless the store made exactly that id */
    if (tw_id_cmp(between, ids[3]) < 0) {
        ok(tw_hub_join_at(f.hub, between, &next, &behind) && next == 3 && behind == 2,
           "a point between two posts joins before the next");
    } else {
        ok(1, "a point between two posts joins before the next (no such id here)");
    }
    ok(tw_hub_join_at(f.hub, ids[4], &next, &behind) && next == 5 && behind == 0,
       "at the newest: the head");
    ok(!tw_hub_join_at(f.hub, far, &next, &behind),
       "past the newest: not the ring's to answer (the store tells a post on its way from a "
       "point of no history)");
    apr_pool_destroy(f.pool);
}

/* A full ring: its oldest frame's predecessor is the bound. */
static void test_join_at_edge(void)
{
    fx_feed f;
    fx_feed_init(&f, 4 * TW_RING_SIZE, 1);
    enum { N = TW_RING_SIZE + 10 };
    static tw_id ids[N];
    for (int i = 0; i < N; i++)
        ids[i] = fx_post(&f, "flood", "x");
    uint64_t next = 0, behind = 0;
    int oldest = N - TW_RING_SIZE; /* the oldest post the ring holds */
    ok(tw_hub_join_at(f.hub, ids[oldest - 1], &next, &behind),
       "the oldest frame's predecessor: covered");
    ok(next == (uint64_t)oldest && behind == TW_RING_SIZE, "from the oldest frame on");
    tw_frame got[1];
    uint64_t at = next;
    is_int(tw_hub_take(f.hub, &at, got, 1), 1, "which a reader can still take");
    ok(tw_id_cmp(got[0].id, ids[oldest]) == 0, "the oldest post");
    tw_blob_release(got[0].bytes);
    ok(!tw_hub_join_at(f.hub, ids[oldest - 2], &next, &behind),
       "one further back: just outside the ring (the caller replays from the store)");
    ok(tw_hub_join_at(f.hub, ids[oldest], &next, &behind) && next == (uint64_t)oldest + 1,
       "at the oldest frame: after it");
    apr_pool_destroy(f.pool);
}

/* Discontinuities: a gap, a resubscription, an entry the hub never heard, an announcement
 * that names no predecessor, a lost store. */
static void test_join_at_breaks(void)
{
    fx_feed f;
    fx_feed_init(&f, 100, 0);
    const tw_store_listener *l = tw_hub_listener(f.hub);
    l->up(l->ctx);
    tw_event p = {.kind = TW_EVENT_POST,
                  .post = {.user = "u", .user_len = 1, .msg = "m", .msg_len = 1}};
    tw_id ids[8];
    for (int i = 0; i < 8; i++)
        ids[i] = (tw_id){1000 + (uint64_t)i, 0};
    uint64_t next = 0, behind = 0;
    p.id = ids[1], p.prev = ids[0], p.has_prev = 1;
    p.post.id = p.id;
    l->event(l->ctx, &p);
    ok(tw_hub_join_at(f.hub, ids[0], &next, &behind) && next == 0 && behind == 1,
       "a first post whose predecessor the store names covers from that predecessor");
    l->down(l->ctx);
    l->up(l->ctx);
    p.id = ids[2], p.prev = ids[1]; /* caught up after the resubscription */
    p.post.id = p.id;
    l->event(l->ctx, &p);
    ok(tw_hub_join_at(f.hub, ids[0], &next, &behind) && next == 0 && behind == 2,
       "a resubscription that caught up keeps the run");
    p.id = ids[4], p.prev = ids[3]; /* ids[3]: added to the stream, never announced */
    p.post.id = p.id;
    l->event(l->ctx, &p);
    ok(!tw_hub_join_at(f.hub, ids[2], &next, &behind),
       "an entry the hub never heard between two posts: not covered before it");
    ok(tw_hub_join_at(f.hub, ids[3], &next, &behind) && next == 2 && behind == 1,
       "covered from that entry on");
    p.id = ids[5], p.has_prev = 0; /* an announcement that names no predecessor */
    p.post.id = p.id;
    l->event(l->ctx, &p);
    ok(!tw_hub_join_at(f.hub, ids[4], &next, &behind), "no predecessor named: not before it");
    ok(tw_hub_join_at(f.hub, ids[5], &next, &behind) && next == 4 && behind == 0,
       "covered from the post itself");
    l->gap(l->ctx);
    ok(!tw_hub_join_at(f.hub, ids[5], &next, &behind), "a gap (reload frame) ends the run");
    p.id = ids[6], p.prev = ids[5], p.has_prev = 1;
    p.post.id = p.id;
    l->event(l->ctx, &p);
    ok(tw_hub_join_at(f.hub, ids[5], &next, &behind) && next == 5 && behind == 1,
       "a post after it starts a new one, after the reload frame");
    tw_frame got[4];
    is_int(tw_hub_take(f.hub, &next, got, 4), 1, "a stream joining there gets no reload");
    ok(!got[0].control && tw_id_cmp(got[0].id, ids[6]) == 0, "only the post");
    tw_blob_release(got[0].bytes);
    l->down(l->ctx);
    l->lost(l->ctx);
    ok(!tw_hub_join_at(f.hub, ids[6], &next, &behind), "lost: nothing is covered");
    l->up(l->ctx);
    p.id = ids[7], p.prev = ids[6];
    p.post.id = p.id;
    l->event(l->ctx, &p);
    ok(tw_hub_join_at(f.hub, ids[6], &next, &behind) && behind == 1,
       "back up: covered again from the post after the last frame");
    apr_pool_destroy(f.pool);
}

static int always_alive(int pid)
{
    (void)pid;
    return 1;
}

/* The figures a hub reports into its child's slot (tw_metrics). */
static void test_stats(void)
{
    fx_feed f;
    fx_feed_init(&f, 10, 0);
    tw_metrics *st = tw_metrics_init(apr_pcalloc(f.pool, tw_metrics_size(1)), 1);
    tw_metrics_child *c = tw_metrics_claim(st, 1, always_alive);
    tw_hub_metrics(f.hub, c);
    tw_metrics_view v;
    tw_metrics_read(st, f.pool, always_alive, &v);
    ok(v.child[0].feeds == 1 && !tw_metrics_child_subscribed(&v.child[0]),
       "a hub joins its child's figures, not subscribed yet");
    tw_store_subscribe(f.store, tw_hub_listener(f.hub));
    tw_id a = fx_post(&f, "ann", "one");
    tw_id b = fx_post(&f, "bob", "two");
    const tw_store_listener *l = tw_hub_listener(f.hub);
    l->gap(l->ctx);
    tw_metrics_read(st, f.pool, always_alive, &v);
    ok(tw_metrics_child_subscribed(&v.child[0]), "subscribed once up");
    ok(v.child[0].sub_since > 0, "since a time");
    is_int((long long)v.child[0].ring_head, 3, "two posts and a reload pushed");
    ok(tw_id_cmp(v.child[0].last, b) == 0 && tw_id_cmp(a, b) < 0, "the last post's id");
    is_int((long long)v.lag.count[TW_METRICS_BUCKETS - 1], 2, "one lag observation per post");
    l->down(l->ctx);
    l->down(l->ctx); /* only a change counts */
    tw_metrics_read(st, f.pool, always_alive, &v);
    ok(!tw_metrics_child_subscribed(&v.child[0]), "reconnecting once down");
    l->up(l->ctx);
    tw_metrics_read(st, f.pool, always_alive, &v);
    ok(tw_metrics_child_subscribed(&v.child[0]) && v.child[0].subscribed == 1, "and back up, once");
    apr_pool_destroy(f.pool);
}

static tw_blob *render_nothing(void *ctx, const tw_event *ev)
{
    (void)ctx, (void)ev;
    return NULL;
}

static void test_render_failure(void)
{
    apr_pool_t *p;
    apr_pool_create(&p, NULL);
    fx_log log;
    fx_log_init(&log, p);
    tw_hub_renderer r = {.event = render_nothing, .reload = fx_render_reload};
    tw_store *store;
    tw_hub *hub;
    tw_store_mem_create(p, 10, &store);
    tw_hub_create(p, &r, &log.log, &hub);
    tw_store_subscribe(store, tw_hub_listener(hub));
    tw_publish in = {.post = {.user = "u", .user_len = 1, .msg = "m", .msg_len = 1}};
    tw_publish_result res;
    const char *err;
    uint64_t head = tw_hub_join(hub);
    tw_store_publish(store, p, &in, &res, &err);
    is_int((long long)tw_hub_join(hub), (long long)head,
           "a frame that cannot be made is not pushed");
    ok(fx_log_has(&log, "TW0101:"), "and the loss is logged (TW0101)");
    uint64_t next = 0, behind = 0;
    ok(!tw_hub_join_at(hub, res.id, &next, &behind), "a post missing: nothing is covered");
    apr_pool_destroy(p);
}

static void test_notify_and_sync(void)
{
    fx_feed f;
    fx_feed_init(&f, 10, 1);
    notified = 0;
    tw_hub_notify(f.hub, count_notify, NULL);
    fx_post(&f, "ann", "a");
    fx_post(&f, "ann", "b");
    is_int(notified, 2, "the notify callback runs once per frame");
    static tw_ring copy;
    tw_ring_init(&copy);
    is_int((long long)tw_hub_sync(f.hub, &copy), 2, "sync copies the hub's new frames");
    is_int((long long)copy.head, (long long)tw_hub_join(f.hub), "up to the hub's head");
    tw_hub_notify(f.hub, NULL, NULL);
    fx_post(&f, "ann", "c");
    is_int(notified, 2, "no call once removed");
    tw_ring_clear(&copy);
    apr_pool_destroy(f.pool);
}

static void test_bell(void)
{
    fx_feed f;
    fx_feed_init(&f, 10, 1);
    int ep = epoll_create1(0);
    struct epoll_event ev[4];
    fx_post(&f, "ann", "before watching");
    ok(tw_hub_watch(f.hub, ep) == APR_SUCCESS, "watch the bell");
    is_int(epoll_wait(ep, ev, 4, 0), 0, "no event for what happened before");
    fx_post(&f, "ann", "one");
    is_int(epoll_wait(ep, ev, 4, 1000), 1, "one event after a frame");
    is_int(epoll_wait(ep, ev, 4, 0), 0, "edge-triggered: reported once");
    int ep2 = epoll_create1(0);
    tw_hub_watch(f.hub, ep2);
    fx_post(&f, "ann", "two");
    ok(epoll_wait(ep, ev, 4, 1000) == 1 && epoll_wait(ep2, ev, 4, 1000) == 1,
       "one frame raises an event in every watching set");
    const tw_store_listener *l = tw_hub_listener(f.hub);
    l->down(l->ctx);
    is_int(epoll_wait(ep, ev, 4, 1000), 1, "a change of the subscription rings it too");
    tw_hub_unwatch(f.hub, ep);
    tw_hub_unwatch(f.hub, ep2);
    fx_post(&f, "ann", "three");
    is_int(epoll_wait(ep, ev, 4, 0), 0, "nothing once unwatched");
    close(ep);
    close(ep2);
    apr_pool_destroy(f.pool);
}

static void *subscribe_later(void *arg)
{
    fx_feed *f = arg;
    tw_store_subscribe(f->store, tw_hub_listener(f->hub));
    return NULL;
}

static void test_ready(void)
{
    fx_feed f;
    fx_feed_init(&f, 10, 0);
    long long t0 = fx_now_ms();
    is_int(tw_hub_wait_ready(f.hub, apr_time_from_msec(50), -1), 0,
           "not ready before the first subscription");
    ok(fx_now_ms() - t0 >= 40, "it waited for the timeout");
    int cancel = eventfd(1, 0); /* already readable */
    t0 = fx_now_ms();
    is_int(tw_hub_wait_ready(f.hub, apr_time_from_sec(10), cancel), 0, "a readable cancel fd...");
    ok(fx_now_ms() - t0 < 5000, "...ends the wait at once");
    pthread_t t;
    pthread_create(&t, NULL, subscribe_later, &f);
    t0 = fx_now_ms();
    is_int(tw_hub_wait_ready(f.hub, apr_time_from_sec(10), -1), 1,
           "a subscription from another thread makes it ready");
    ok(fx_now_ms() - t0 < 9000, "without waiting for the timeout");
    pthread_join(t, NULL);
    const tw_store_listener *l = tw_hub_listener(f.hub);
    l->down(l->ctx);
    is_int(tw_hub_wait_ready(f.hub, 0, -1), 1,
           "still ready while down: the store fills the gap when it is back");
    close(cancel);
    apr_pool_destroy(f.pool);
}

static void test_lost(void)
{
    fx_feed f;
    fx_feed_init(&f, 10, 1);
    uint64_t next = 0;
    ok(tw_hub_admit(f.hub, &next), "admitted while the store is up");
    const tw_store_listener *l = tw_hub_listener(f.hub);
    l->down(l->ctx);
    uint64_t other = 0;
    ok(tw_hub_admit(f.hub, &other), "down is not lost: still admitted");
    l->lost(l->ctx);
    uint64_t refused = 99;
    ok(!tw_hub_admit(f.hub, &refused), "lost: no stream admitted");
    tw_frame got[2];
    is_int(tw_hub_take(f.hub, &next, got, 2), 1, "one frame for the open streams");
    is_int(got[0].control, TW_FRAME_LAST, "the last one");
    is_str(got[0].bytes->data, ": closing\n\n", "the renderer's closing bytes");
    tw_blob_release(got[0].bytes);
    l->up(l->ctx);
    ok(tw_hub_admit(f.hub, &next), "up again: admitted");
    apr_pool_destroy(f.pool);
}

int main(void)
{
    apr_initialize();
    test_take();
    test_lag();
    test_generation();
    test_gap();
    test_render_failure();
    test_notify_and_sync();
    test_bell();
    test_ready();
    test_lost();
    test_stats();
    test_join_at();
    test_join_at_edge();
    test_join_at_breaks();
    apr_terminate();
    return done_testing();
}
