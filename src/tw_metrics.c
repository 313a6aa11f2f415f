#include "tw_metrics.h"

#include <apr_strings.h>
#include <apr_time.h>
#include <string.h>

#define R memory_order_relaxed

static const int64_t tw_metrics_bounds[TW_METRICS_BUCKETS - 1] = {TW_METRICS_BOUNDS};

const char *tw_metrics_engine_name(tw_metrics_engine e)
{
    return e == TW_METRICS_SOCKET ? "socket" : "thread";
}

const char *tw_metrics_cut_name(tw_metrics_cause why)
{
    return why == TW_METRICS_LAGGED ? "lagged" : "stalled";
}

const char *tw_metrics_refusal_name(tw_metrics_refusal why)
{
    static const char *names[TW_METRICS_REFUSALS] = {"rate_limited", "replayed", "bad_input",
                                                     "forbidden", "store_failure"};
    return names[why];
}

size_t tw_metrics_size(int nslots)
{
    return sizeof(tw_metrics) + (size_t)nslots * sizeof(tw_metrics_child);
}

tw_metrics *tw_metrics_init(void *mem, int nslots)
{
    /* All-zero bytes are a valid state for every atomic member on the platforms APR runs on
     * (lock-free integers); the block is used by other processes only after this returns. */
    memset(mem, 0, tw_metrics_size(nslots));
    tw_metrics *st = mem;
    st->nslots = nslots;
    return st;
}

/* Start the gauges of a slot just taken over and take the counters' baseline. */
static void tw_metrics_reset(tw_metrics_child *c)
{
    for (int e = 0; e < TW_METRICS_ENGINES; e++)
        atomic_store_explicit(&c->streams[e], 0, R);
    atomic_store_explicit(&c->feeds, 0, R);
    atomic_store_explicit(&c->subscribed, 0, R);
    atomic_store_explicit(&c->sub_since, 0, R);
    atomic_store(&c->last_ms, 0);
    atomic_store(&c->last_seq, 0);
    atomic_store_explicit(&c->ring_head, 0, R);
    atomic_store_explicit(&c->redis_in_use, 0, R);
    atomic_store_explicit(&c->base_delivered, atomic_load_explicit(&c->delivered, R), R);
    for (int i = 0; i < TW_METRICS_CUTS; i++)
        atomic_store_explicit(&c->base_cut[i], atomic_load_explicit(&c->cut[i], R), R);
}

tw_metrics_child *tw_metrics_claim(tw_metrics *st, int pid, tw_metrics_alive_fn *alive)
{
    /* First a slot left behind by an earlier process with this very pid (so a pid never shows
     * twice), then a free one, then one whose owner is gone. */
    for (int pass = 0; pass < 3; pass++) {
        for (int i = 0; i < st->nslots; i++) {
            tw_metrics_child *c = &st->slot[i];
            int owner = atomic_load(&c->pid);
            int take = pass == 0 ? owner == pid : pass == 1 ? owner == 0 : !alive(owner);
            if (take && atomic_compare_exchange_strong(&c->pid, &owner, pid)) {
                tw_metrics_reset(c);
                return c;
            }
        }
    }
    return NULL;
}

void tw_metrics_release(tw_metrics_child *c)
{
    if (c)
        atomic_store(&c->pid, 0);
}

void tw_metrics_stream(tw_metrics_child *c, tw_metrics_engine e, int delta)
{
    if (c)
        atomic_fetch_add_explicit(&c->streams[e], delta, R);
}

void tw_metrics_delivered(tw_metrics_child *c, uint64_t frames)
{
    if (c && frames)
        atomic_fetch_add_explicit(&c->delivered, frames, R);
}

void tw_metrics_cut(tw_metrics_child *c, tw_metrics_cause why)
{
    if (c)
        atomic_fetch_add_explicit(&c->cut[why], 1, R);
}

void tw_metrics_redis(tw_metrics_child *c, int delta)
{
    if (c)
        atomic_fetch_add_explicit(&c->redis_in_use, delta, R);
}

void tw_metrics_feed(tw_metrics_child *c)
{
    if (c)
        atomic_fetch_add_explicit(&c->feeds, 1, R);
}

void tw_metrics_subscription(tw_metrics_child *c, int up, apr_time_t now)
{
    if (!c)
        return;
    atomic_fetch_add_explicit(&c->subscribed, up ? 1 : -1, R);
    atomic_store_explicit(&c->sub_since, now, R);
}

void tw_metrics_observe(tw_metrics_hist *h, int64_t us)
{
    if (us < 0)
        us = 0;
    int i = 0;
    while (i < TW_METRICS_BUCKETS - 1 && us > tw_metrics_bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->bucket[i], 1, R);
    atomic_fetch_add_explicit(&h->sum_us, (uint64_t)us, R);
}

void tw_metrics_frame(tw_metrics_child *c, const tw_id *post, apr_time_t now)
{
    if (!c)
        return;
    atomic_fetch_add_explicit(&c->ring_head, 1, R);
    if (!post)
        return;
    /* Seqlock writer; several hubs of one child may write, so the odd mark is taken by CAS. */
    unsigned v = atomic_load(&c->id_ver);
    while ((v & 1) || !atomic_compare_exchange_weak(&c->id_ver, &v, v + 1))
        v = atomic_load(&c->id_ver);
    atomic_store(&c->last_ms, post->ms);
    atomic_store(&c->last_seq, post->seq);
    atomic_store(&c->id_ver, v + 2);
    tw_metrics_observe(&c->lag, (int64_t)now - (int64_t)post->ms * 1000);
}

void tw_metrics_accepted(tw_metrics *st)
{
    if (st)
        atomic_fetch_add_explicit(&st->accepted, 1, R);
}

void tw_metrics_refused(tw_metrics *st, tw_metrics_refusal why)
{
    if (st)
        atomic_fetch_add_explicit(&st->refused[why], 1, R);
}

void tw_metrics_publish_time(tw_metrics *st, apr_interval_time_t took)
{
    if (st)
        tw_metrics_observe(&st->publish, took);
}

/* Add histogram `h` into the cumulative view `out`. */
static void tw_metrics_hist_add(tw_metrics_hist_view *out, const tw_metrics_hist *h)
{
    uint64_t run = 0;
    for (int i = 0; i < TW_METRICS_BUCKETS; i++) {
        run += atomic_load_explicit(&((tw_metrics_hist *)h)->bucket[i], R);
        out->count[i] += run;
    }
    out->sum_us += atomic_load_explicit(&((tw_metrics_hist *)h)->sum_us, R);
}

/* The last post id of a slot, consistent (seqlock reader; a writer that died half-way leaves
 * it odd: then the id is read as it is after a bounded number of tries). */
static tw_id tw_metrics_last(tw_metrics_child *c)
{
    tw_id id = {0, 0};
    for (int tries = 0; tries < 1000; tries++) {
        unsigned v1 = atomic_load(&c->id_ver);
        id.ms = atomic_load(&c->last_ms);
        id.seq = atomic_load(&c->last_seq);
        if (!(v1 & 1) && atomic_load(&c->id_ver) == v1)
            break;
    }
    return id;
}

int tw_metrics_child_subscribed(const tw_metrics_child_view *c)
{
    return c->feeds > 0 && c->subscribed >= c->feeds;
}

void tw_metrics_read(const tw_metrics *cst, apr_pool_t *p, tw_metrics_alive_fn *alive,
                     tw_metrics_view *out)
{
    tw_metrics *st = (tw_metrics *)cst; /* atomic loads take non-const pointers */
    memset(out, 0, sizeof(*out));
    out->child = apr_pcalloc(p, sizeof(*out->child) * (size_t)(st->nslots ? st->nslots : 1));
    for (int i = 0; i < st->nslots; i++) {
        tw_metrics_child *c = &st->slot[i];
        uint64_t delivered = atomic_load_explicit(&c->delivered, R);
        out->delivered += delivered;
        uint64_t cut[TW_METRICS_CUTS];
        for (int k = 0; k < TW_METRICS_CUTS; k++)
            out->cut[k] += cut[k] = atomic_load_explicit(&c->cut[k], R);
        tw_metrics_hist_add(&out->lag, &c->lag);
        int pid = atomic_load(&c->pid);
        int dup = 0;
        for (int k = 0; k < out->nchildren; k++)
            dup |= out->child[k].pid == pid;
        if (!pid || dup || !alive(pid))
            continue;
        tw_metrics_child_view *v = &out->child[out->nchildren++];
        v->pid = pid;
        for (int e = 0; e < TW_METRICS_ENGINES; e++) {
            v->streams[e] = atomic_load_explicit(&c->streams[e], R);
            if (v->streams[e] < 0)
                v->streams[e] = 0; /* a decrement seen before its increment */
            out->streams[e] += v->streams[e];
        }
        v->feeds = atomic_load_explicit(&c->feeds, R);
        v->subscribed = atomic_load_explicit(&c->subscribed, R);
        v->sub_since = atomic_load_explicit(&c->sub_since, R);
        v->last = tw_metrics_last(c);
        v->ring_head = atomic_load_explicit(&c->ring_head, R);
        v->redis_in_use = atomic_load_explicit(&c->redis_in_use, R);
        if (v->redis_in_use < 0)
            v->redis_in_use = 0;
        uint64_t base = atomic_load_explicit(&c->base_delivered, R);
        v->delivered = delivered > base ? delivered - base : 0;
        for (int k = 0; k < TW_METRICS_CUTS; k++) {
            base = atomic_load_explicit(&c->base_cut[k], R);
            v->cut[k] = cut[k] > base ? cut[k] - base : 0;
        }
        out->subscribed_children += tw_metrics_child_subscribed(v);
    }
    out->accepted = atomic_load_explicit(&st->accepted, R);
    for (int k = 0; k < TW_METRICS_REFUSALS; k++)
        out->refused[k] = atomic_load_explicit(&st->refused[k], R);
    tw_metrics_hist_add(&out->publish, &st->publish);
}

/* ---- Prometheus text format 0.0.4 ---- */

static void tw_prom_family(tw_buf *b, const char *name, const char *type, const char *help)
{
    tw_buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void tw_prom_hist(tw_buf *b, const char *name, const char *help,
                         const tw_metrics_hist_view *h)
{
    tw_prom_family(b, name, "histogram", help);
    for (int i = 0; i < TW_METRICS_BUCKETS - 1; i++)
        tw_buf_addf(b, "%s_bucket{le=\"%g\"} %llu\n", name, (double)tw_metrics_bounds[i] / 1e6,
                    (unsigned long long)h->count[i]);
    unsigned long long n = h->count[TW_METRICS_BUCKETS - 1];
    tw_buf_addf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name, n);
    tw_buf_addf(b, "%s_sum %.6f\n", name, (double)h->sum_us / 1e6);
    tw_buf_addf(b, "%s_count %llu\n", name, n);
}

void tw_metrics_prometheus(tw_buf *b, const tw_metrics_view *v)
{
    tw_prom_family(b, "tweetsse_children", "gauge",
                   "Child processes reporting figures (those with a slot and alive).");
    tw_buf_addf(b, "tweetsse_children %d\n", v->nchildren);

    tw_prom_family(b, "tweetsse_streams", "gauge",
                   "Open event streams of a child, by delivery engine (socket: the child's "
                   "delivery thread; thread: a worker thread per stream).");
    for (int i = 0; i < v->nchildren; i++)
        for (int e = 0; e < TW_METRICS_ENGINES; e++)
            tw_buf_addf(b, "tweetsse_streams{child=\"%d\",engine=\"%s\"} %ld\n", v->child[i].pid,
                        tw_metrics_engine_name(e), v->child[i].streams[e]);

    tw_prom_family(b, "tweetsse_subscribed", "gauge",
                   "1 while every Redis subscription of a child is up, 0 while one is "
                   "(re)connecting.");
    for (int i = 0; i < v->nchildren; i++)
        tw_buf_addf(b, "tweetsse_subscribed{child=\"%d\"} %d\n", v->child[i].pid,
                    tw_metrics_child_subscribed(&v->child[i]));

    tw_prom_family(b, "tweetsse_subscription_changed_timestamp_seconds", "gauge",
                   "When a child's Redis subscription last went up or down (Unix time; 0: not "
                   "yet).");
    for (int i = 0; i < v->nchildren; i++)
        tw_buf_addf(b, "tweetsse_subscription_changed_timestamp_seconds{child=\"%d\"} %.3f\n",
                    v->child[i].pid, (double)v->child[i].sub_since / 1e6);

    tw_prom_family(b, "tweetsse_last_post_timestamp_seconds", "gauge",
                   "Time part of the id of the last post a child's hub took (Unix time; 0: "
                   "none yet).");
    for (int i = 0; i < v->nchildren; i++)
        tw_buf_addf(b, "tweetsse_last_post_timestamp_seconds{child=\"%d\"} %.3f\n", v->child[i].pid,
                    (double)v->child[i].last.ms / 1e3);

    tw_prom_family(b, "tweetsse_ring_head", "gauge",
                   "Sequence number of a child's next ring frame: frames its hub pushed since the "
                   "child started.");
    for (int i = 0; i < v->nchildren; i++)
        tw_buf_addf(b, "tweetsse_ring_head{child=\"%d\"} %llu\n", v->child[i].pid,
                    (unsigned long long)v->child[i].ring_head);

    tw_prom_family(b, "tweetsse_redis_connections_in_use", "gauge",
                   "Connections of a child's Redis pool lent to a request now.");
    for (int i = 0; i < v->nchildren; i++)
        tw_buf_addf(b, "tweetsse_redis_connections_in_use{child=\"%d\"} %ld\n", v->child[i].pid,
                    v->child[i].redis_in_use);

    tw_prom_family(b, "tweetsse_frames_delivered_total", "counter",
                   "Frames (events) written to open streams, summed over every stream and child.");
    tw_buf_addf(b, "tweetsse_frames_delivered_total %llu\n", (unsigned long long)v->delivered);

    tw_prom_family(b, "tweetsse_streams_cut_total", "counter",
                   "Streams the server closed so that their clients resume: lagged (more than a "
                   "ring of frames behind), stalled (the socket took nothing for a keepalive "
                   "interval).");
    for (int k = 0; k < TW_METRICS_CUTS; k++)
        tw_buf_addf(b, "tweetsse_streams_cut_total{reason=\"%s\"} %llu\n", tw_metrics_cut_name(k),
                    (unsigned long long)v->cut[k]);

    tw_prom_family(b, "tweetsse_posts_accepted_total", "counter",
                   "Posts stored through this instance.");
    tw_buf_addf(b, "tweetsse_posts_accepted_total %llu\n", (unsigned long long)v->accepted);

    tw_prom_family(b, "tweetsse_posts_refused_total", "counter",
                   "Posts this instance did not store, by reason: rate_limited (429), replayed (an "
                   "idempotent retry, answered with the first post), bad_input (400, 413, 415), "
                   "forbidden (403: cross-site or identity), store_failure (503).");
    for (int k = 0; k < TW_METRICS_REFUSALS; k++)
        tw_buf_addf(b, "tweetsse_posts_refused_total{reason=\"%s\"} %llu\n",
                    tw_metrics_refusal_name(k), (unsigned long long)v->refused[k]);

    tw_prom_hist(b, "tweetsse_publish_latency_seconds",
                 "Round trip of the store's publish (the Redis script, and WAIT with replicas), "
                 "measured in the publish handler, for every post that reached the store.",
                 &v->publish);
    tw_prom_hist(b, "tweetsse_delivery_lag_seconds",
                 "Time from a post's id (the time Redis stored it) to its frame entering a "
                 "child's ring for that child's streams: one observation per post per child, not "
                 "per stream.",
                 &v->lag);
}

/* ---- mod_status ---- */

void tw_metrics_status_auto(tw_buf *b, const tw_metrics_view *v)
{
    long all = v->streams[TW_METRICS_SOCKET] + v->streams[TW_METRICS_THREAD];
    tw_buf_addf(b, "TweetsseChildren: %d\n", v->nchildren);
    tw_buf_addf(b, "TweetsseStreams: %ld\n", all);
    tw_buf_addf(b, "TweetsseStreamsSocket: %ld\n", v->streams[TW_METRICS_SOCKET]);
    tw_buf_addf(b, "TweetsseStreamsThread: %ld\n", v->streams[TW_METRICS_THREAD]);
    tw_buf_addf(b, "TweetsseSubscribed: %d\n", v->subscribed_children);
    tw_buf_addf(b, "TweetsseReconnecting: %d\n", v->nchildren - v->subscribed_children);
    tw_buf_addf(b, "TweetsseFramesDelivered: %llu\n", (unsigned long long)v->delivered);
    tw_buf_addf(b, "TweetsseStreamsCutLagged: %llu\n",
                (unsigned long long)v->cut[TW_METRICS_LAGGED]);
    tw_buf_addf(b, "TweetsseStreamsCutStalled: %llu\n",
                (unsigned long long)v->cut[TW_METRICS_STALLED]);
    tw_buf_addf(b, "TweetssePostsAccepted: %llu\n", (unsigned long long)v->accepted);
    static const char *keys[TW_METRICS_REFUSALS] = {"RateLimited", "Replayed", "BadInput",
                                                    "Forbidden", "StoreFailure"};
    for (int k = 0; k < TW_METRICS_REFUSALS; k++)
        tw_buf_addf(b, "TweetssePostsRefused%s: %llu\n", keys[k],
                    (unsigned long long)v->refused[k]);
    tw_buf_addf(b, "TweetssePublishCount: %llu\n",
                (unsigned long long)v->publish.count[TW_METRICS_BUCKETS - 1]);
    tw_buf_addf(b, "TweetssePublishSeconds: %.6f\n", (double)v->publish.sum_us / 1e6);
    tw_buf_addf(b, "TweetsseDeliveryLagCount: %llu\n",
                (unsigned long long)v->lag.count[TW_METRICS_BUCKETS - 1]);
    tw_buf_addf(b, "TweetsseDeliveryLagSeconds: %.6f\n", (double)v->lag.sum_us / 1e6);
    for (int i = 0; i < v->nchildren; i++) {
        const tw_metrics_child_view *c = &v->child[i];
        char id[TW_ID_MAX];
        tw_id_format(c->last, id);
        tw_buf_addf(b,
                    "TweetsseChild: pid=%d streams=%ld socket=%ld thread=%ld subscriber=%s "
                    "since=%lld last_post=%s ring_head=%llu frames_delivered=%llu "
                    "cut_lagged=%llu cut_stalled=%llu redis_in_use=%ld\n",
                    c->pid, c->streams[0] + c->streams[1], c->streams[TW_METRICS_SOCKET],
                    c->streams[TW_METRICS_THREAD],
                    tw_metrics_child_subscribed(c) ? "subscribed" : "reconnecting",
                    (long long)apr_time_sec(c->sub_since), id, (unsigned long long)c->ring_head,
                    (unsigned long long)c->delivered, (unsigned long long)c->cut[TW_METRICS_LAGGED],
                    (unsigned long long)c->cut[TW_METRICS_STALLED], c->redis_in_use);
    }
}

/* Append text escaped for HTML. */
static void tw_html_text(tw_buf *b, const char *s)
{
    tw_buf_add_escaped(b, s, strlen(s));
}

/* One row of the instance table: a label and a number. */
static void tw_html_row(tw_buf *b, const char *label, unsigned long long n)
{
    tw_buf_adds(b, "<tr><th>");
    tw_html_text(b, label);
    tw_buf_addf(b, "</th><td>%llu</td></tr>\n", n);
}

/* "subscribed since <date>" or "reconnecting since <date>" ("" when never). */
static void tw_html_state(tw_buf *b, const tw_metrics_child_view *c)
{
    tw_html_text(b, tw_metrics_child_subscribed(c) ? "subscribed" : "reconnecting");
    if (c->sub_since) {
        char date[APR_RFC822_DATE_LEN];
        if (apr_rfc822_date(date, c->sub_since) == APR_SUCCESS) {
            tw_html_text(b, " since ");
            tw_html_text(b, date);
        }
    }
}

void tw_metrics_status_html(tw_buf *b, const tw_metrics_view *v)
{
    tw_buf_adds(b, "<hr>\n<h2>mod_tweetsse</h2>\n<table>\n");
    tw_html_row(b, "Children reporting", (unsigned long long)v->nchildren);
    tw_html_row(b, "Open streams", (unsigned long long)(v->streams[0] + v->streams[1]));
    tw_html_row(b, "Children subscribed to Redis", (unsigned long long)v->subscribed_children);
    tw_html_row(b, "Frames delivered", (unsigned long long)v->delivered);
    tw_html_row(b, "Streams cut, lagged", (unsigned long long)v->cut[TW_METRICS_LAGGED]);
    tw_html_row(b, "Streams cut, stalled", (unsigned long long)v->cut[TW_METRICS_STALLED]);
    tw_html_row(b, "Posts accepted", (unsigned long long)v->accepted);
    static const char *labels[TW_METRICS_REFUSALS] = {
        "Posts refused, rate limited", "Posts refused, replayed (idempotent)",
        "Posts refused, bad input", "Posts refused, cross-origin or identity",
        "Posts refused, store failure"};
    for (int k = 0; k < TW_METRICS_REFUSALS; k++)
        tw_html_row(b, labels[k], (unsigned long long)v->refused[k]);
    uint64_t n = v->publish.count[TW_METRICS_BUCKETS - 1];
    tw_buf_addf(b, "<tr><th>Publish round trip, mean</th><td>%.3f ms over %llu</td></tr>\n",
                n ? (double)v->publish.sum_us / 1e3 / (double)n : 0.0, (unsigned long long)n);
    n = v->lag.count[TW_METRICS_BUCKETS - 1];
    tw_buf_addf(b, "<tr><th>Delivery lag, mean</th><td>%.3f ms over %llu</td></tr>\n",
                n ? (double)v->lag.sum_us / 1e3 / (double)n : 0.0, (unsigned long long)n);
    tw_buf_adds(b, "</table>\n<table border=\"1\">\n<tr><th>PID</th><th>Streams (socket)</th>"
                   "<th>Streams (thread)</th><th>Subscriber</th><th>Last post</th>"
                   "<th>Ring head</th><th>Frames delivered</th><th>Cut (lagged)</th>"
                   "<th>Cut (stalled)</th><th>Redis in use</th></tr>\n");
    for (int i = 0; i < v->nchildren; i++) {
        const tw_metrics_child_view *c = &v->child[i];
        char id[TW_ID_MAX];
        tw_id_format(c->last, id);
        tw_buf_addf(b, "<tr><td>%d</td><td>%ld</td><td>%ld</td><td>", c->pid,
                    c->streams[TW_METRICS_SOCKET], c->streams[TW_METRICS_THREAD]);
        tw_html_state(b, c);
        tw_buf_adds(b, "</td><td>");
        tw_html_text(b, id);
        tw_buf_addf(b,
                    "</td><td>%llu</td><td>%llu</td><td>%llu</td><td>%llu</td><td>%ld</td></tr>\n",
                    (unsigned long long)c->ring_head, (unsigned long long)c->delivered,
                    (unsigned long long)c->cut[TW_METRICS_LAGGED],
                    (unsigned long long)c->cut[TW_METRICS_STALLED], c->redis_in_use);
    }
    tw_buf_adds(b, "</table>\n");
}
