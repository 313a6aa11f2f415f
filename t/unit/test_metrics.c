/* Unit tests of src/tw_metrics: the shared block's slots (claim, reclaim, release), the writers,
 * the histogram's buckets, the read view, and the Prometheus, ?auto and HTML renderings. */
#include "tap.h"
#include "tw_metrics.h"

#include <apr_general.h>
#include <apr_strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int dead_pid = -1; /* the pid the stub says is gone */

static int alive(int pid)
{
    return pid != dead_pid;
}

static tw_metrics *make(int nslots)
{
    void *mem = malloc(tw_metrics_size(nslots));
    return tw_metrics_init(mem, nslots);
}

static void test_slots(void)
{
    tw_metrics *st = make(2);
    is_int(st->nslots, 2, "a block of two slots");
    tw_metrics_child *a = tw_metrics_claim(st, 100, alive);
    tw_metrics_child *b = tw_metrics_claim(st, 200, alive);
    ok(a && b && a != b, "two children take two slots");
    ok(tw_metrics_claim(st, 300, alive) == NULL, "a third finds none while both live");
    tw_metrics_delivered(a, 7);
    tw_metrics_stream(a, TW_METRICS_SOCKET, 3);
    dead_pid = 100;
    tw_metrics_child *c = tw_metrics_claim(st, 300, alive);
    ok(c == a, "the slot of a dead child is taken over");
    is_int(atomic_load(&c->streams[TW_METRICS_SOCKET]), 0, "its gauges start over");
    is_int(atomic_load(&c->delivered), 7, "its counters go on");
    dead_pid = -1;
    tw_metrics_release(b);
    is_int(atomic_load(&b->pid), 0, "a released slot is free");
    ok(tw_metrics_claim(st, 400, alive) == b, "and taken by the next child");
    /* A slot left by an earlier process with the same pid is taken before any other. */
    tw_metrics_release(c);
    atomic_store(&c->pid, 400); /* as if pid 400 had been reused */
    tw_metrics_release(b);
    ok(tw_metrics_claim(st, 400, alive) == c, "a pid's stale slot is taken first");
    tw_metrics_stream(NULL, TW_METRICS_SOCKET, 1);
    tw_metrics_frame(NULL, NULL, 0);
    tw_metrics_accepted(NULL);
    ok(1, "the writers take NULL");
    free(st);
}

static void test_histogram(void)
{
    tw_metrics_hist h;
    memset(&h, 0, sizeof(h));
    tw_metrics_observe(&h, 500);      /* le 0.0005: bounds are inclusive */
    tw_metrics_observe(&h, 501);      /* le 0.001 */
    tw_metrics_observe(&h, -5);       /* clamped to 0 */
    tw_metrics_observe(&h, 10000000); /* le 10 */
    tw_metrics_observe(&h, 10000001); /* +Inf */
    is_int(atomic_load(&h.bucket[0]), 2, "0 and 500 us in the first bucket");
    is_int(atomic_load(&h.bucket[1]), 1, "501 us in the second");
    is_int(atomic_load(&h.bucket[TW_METRICS_BUCKETS - 2]), 1, "10 s in the last bounded one");
    is_int(atomic_load(&h.bucket[TW_METRICS_BUCKETS - 1]), 1, "beyond it in +Inf");
    is_int(atomic_load(&h.sum_us), 500 + 501 + 10000000 + 10000001, "the sum (negative as 0)");
}

/* The value of the series line that starts with `series ` in `text`, or -1. */
static double series(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, n) == 0 && p[n] == ' ')
            return atof(p + n + 1);
    }
    return -1;
}

static void test_render(apr_pool_t *pool)
{
    tw_metrics *st = make(2); /* full: a new child must take a dead one's slot */
    tw_metrics_child *a = tw_metrics_claim(st, 11, alive);
    tw_metrics_child *b = tw_metrics_claim(st, 22, alive);
    tw_metrics_feed(a);
    tw_metrics_feed(b);
    tw_metrics_subscription(a, 1, apr_time_from_sec(1700000000));
    tw_metrics_stream(a, TW_METRICS_SOCKET, 5);
    tw_metrics_stream(b, TW_METRICS_THREAD, 2);
    tw_metrics_delivered(a, 10);
    tw_metrics_delivered(b, 4);
    tw_metrics_cut(b, TW_METRICS_STALLED);
    tw_metrics_redis(a, 2);
    tw_metrics_redis(a, -1);
    tw_id id = {1700000000123, 4};
    tw_metrics_frame(a, &id, apr_time_from_msec(1700000000123) + 3000); /* lag 3 ms */
    tw_metrics_frame(a, NULL, 0);                                       /* a control frame */
    tw_metrics_accepted(st);
    tw_metrics_accepted(st);
    tw_metrics_refused(st, TW_METRICS_FORBIDDEN);
    tw_metrics_publish_time(st, 700);
    tw_metrics_publish_time(st, 2000000);

    tw_metrics_view v;
    tw_metrics_read(st, pool, alive, &v);
    is_int(v.nchildren, 2, "two live children read");
    is_int(v.streams[TW_METRICS_SOCKET] + v.streams[TW_METRICS_THREAD], 7, "streams summed");
    is_int(v.subscribed_children, 1, "one child subscribed");
    is_int(v.child[0].last.ms, 1700000000123, "the last post id's time");
    is_int(v.child[0].last.seq, 4, "and its sequence");
    is_int(v.child[0].ring_head, 2, "two frames pushed");
    is_int(v.child[0].redis_in_use, 1, "one Redis connection in use");
    is_int(v.delivered, 14, "frames delivered over all slots");
    is_int(v.publish.count[TW_METRICS_BUCKETS - 1], 2, "two publish round trips");

    tw_buf b1;
    tw_buf_init(&b1, pool, 64);
    tw_metrics_prometheus(&b1, &v);
    const char *t = b1.data;
    has_str(t, "# HELP tweetsse_streams ", "HELP of the streams gauge");
    has_str(t, "# TYPE tweetsse_streams gauge\n", "its TYPE");
    ok(series(t, "tweetsse_streams{child=\"11\",engine=\"socket\"}") == 5,
       "child 11's socket streams");
    ok(series(t, "tweetsse_streams{child=\"22\",engine=\"thread\"}") == 2,
       "child 22's thread streams");
    ok(series(t, "tweetsse_subscribed{child=\"11\"}") == 1, "11 subscribed");
    ok(series(t, "tweetsse_subscribed{child=\"22\"}") == 0, "22 not (yet)");
    ok(series(t, "tweetsse_subscription_changed_timestamp_seconds{child=\"11\"}") == 1700000000,
       "when 11 subscribed");
    ok(series(t, "tweetsse_last_post_timestamp_seconds{child=\"11\"}") == 1700000000.123,
       "the last post's time in seconds");
    ok(series(t, "tweetsse_frames_delivered_total") == 14, "frames delivered, a counter");
    has_str(t, "# TYPE tweetsse_frames_delivered_total counter\n", "typed counter");
    ok(series(t, "tweetsse_streams_cut_total{reason=\"stalled\"}") == 1, "one stalled cut");
    ok(series(t, "tweetsse_streams_cut_total{reason=\"lagged\"}") == 0, "no lagged cut");
    ok(series(t, "tweetsse_posts_accepted_total") == 2, "two accepted");
    ok(series(t, "tweetsse_posts_refused_total{reason=\"forbidden\"}") == 1, "one forbidden");
    ok(series(t, "tweetsse_posts_refused_total{reason=\"store_failure\"}") == 0, "no failure");
    has_str(t, "# TYPE tweetsse_publish_latency_seconds histogram\n", "a histogram");
    ok(series(t, "tweetsse_publish_latency_seconds_bucket{le=\"0.0005\"}") == 0, "700 us > 0.5 ms");
    ok(series(t, "tweetsse_publish_latency_seconds_bucket{le=\"0.001\"}") == 1, "cumulative: 1");
    ok(series(t, "tweetsse_publish_latency_seconds_bucket{le=\"1\"}") == 1, "still 1 at 1 s");
    ok(series(t, "tweetsse_publish_latency_seconds_bucket{le=\"2.5\"}") == 2, "2 at 2.5 s");
    ok(series(t, "tweetsse_publish_latency_seconds_bucket{le=\"+Inf\"}") == 2, "+Inf is all");
    ok(series(t, "tweetsse_publish_latency_seconds_count") == 2, "count");
    ok(series(t, "tweetsse_publish_latency_seconds_sum") == 2.0007, "sum in seconds");
    ok(series(t, "tweetsse_delivery_lag_seconds_bucket{le=\"0.005\"}") == 1, "lag 3 ms");
    ok(series(t, "tweetsse_delivery_lag_seconds_bucket{le=\"0.0025\"}") == 0, "not under 2.5 ms");
    ok(t[b1.len - 1] == '\n', "ends with a newline");
    /* Every line is a comment or "name{labels} value"; every family has HELP then TYPE. */
    int bad = 0, fam = 0;
    char *save = NULL;
    for (char *l = strtok_r(apr_pstrdup(pool, t), "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        if (strncmp(l, "# HELP ", 7) == 0)
            fam++;
        else if (strncmp(l, "# TYPE ", 7) != 0 && strncmp(l, "tweetsse_", 9) != 0)
            bad++;
    }
    is_int(bad, 0, "no stray line");
    is_int(fam, 16, "sixteen families");

    tw_buf b2;
    tw_buf_init(&b2, pool, 64);
    tw_metrics_status_auto(&b2, &v);
    has_str(b2.data, "TweetsseStreams: 7\n", "?auto: streams");
    has_str(b2.data, "TweetsseChildren: 2\n", "?auto: children");
    has_str(b2.data, "TweetsseReconnecting: 1\n", "?auto: one reconnecting");
    has_str(b2.data, "TweetssePostsRefusedForbidden: 1\n", "?auto: refusals");
    has_str(b2.data,
            "TweetsseChild: pid=11 streams=5 socket=5 thread=0 subscriber=subscribed "
            "since=1700000000 last_post=1700000000123-4 ring_head=2",
            "?auto: a line per child");
    has_str(b2.data, "TweetsseChild: pid=22 streams=2 socket=0 thread=2 subscriber=reconnecting",
            "?auto: the other child");

    tw_buf b3;
    tw_buf_init(&b3, pool, 64);
    tw_metrics_status_html(&b3, &v);
    has_str(b3.data, "<h2>mod_tweetsse</h2>", "HTML: the heading");
    has_str(b3.data, "<td>11</td><td>5</td><td>0</td><td>subscribed since ", "HTML: a row");
    has_str(b3.data, "<td>1700000000123-4</td>", "HTML: the last post");
    has_str(b3.data, "Posts refused, cross-origin or identity</th><td>1</td>", "HTML: refusals");

    /* A dead child's gauges vanish from the report; its counters stay in the sums. */
    dead_pid = 22;
    tw_metrics_read(st, pool, alive, &v);
    is_int(v.nchildren, 1, "a dead child is not reported");
    is_int(v.delivered, 14, "its frames still count");
    is_int(v.cut[TW_METRICS_STALLED], 1, "and its cuts");
    /* A new child in its slot: the sums go on, its own counts start at 0. */
    tw_metrics_child *c = tw_metrics_claim(st, 33, alive);
    ok(c == b, "the new child takes the dead one's slot");
    dead_pid = -1;
    tw_metrics_delivered(c, 1);
    tw_metrics_read(st, pool, alive, &v);
    is_int(v.delivered, 15, "the sum never goes back");
    is_int(v.child[1].pid, 33, "the new child is reported");
    is_int(v.child[1].delivered, 1, "with its own count since it started");
    is_int(v.child[1].cut[TW_METRICS_STALLED], 0, "and no cut of its own");
    free(st);
}

int main(void)
{
    apr_initialize();
    apr_pool_t *pool;
    apr_pool_create(&pool, NULL);
    test_slots();
    test_histogram();
    test_render(pool);
    apr_pool_destroy(pool);
    apr_terminate();
    return done_testing();
}
