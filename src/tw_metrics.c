#include "tw_metrics.h"

#include <apr_strings.h>
#include <apr_time.h>
#include <string.h>

#define TW_RELAXED memory_order_relaxed

static const int64_t tw_metrics_bounds[TW_METRICS_BUCKETS - 1] = {TW_METRICS_BOUNDS};

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
        atomic_store_explicit(&c->streams[e], 0, TW_RELAXED);
    atomic_store_explicit(&c->feeds, 0, TW_RELAXED);
    atomic_store_explicit(&c->subscribed, 0, TW_RELAXED);
    atomic_store_explicit(&c->sub_since, 0, TW_RELAXED);
    atomic_store(&c->last_ms, 0);
    atomic_store(&c->last_seq, 0);
    atomic_store_explicit(&c->ring_head, 0, TW_RELAXED);
    atomic_store_explicit(&c->redis_in_use, 0, TW_RELAXED);
    atomic_store_explicit(&c->base_delivered, atomic_load_explicit(&c->delivered, TW_RELAXED),
                          TW_RELAXED);
    for (int i = 0; i < TW_METRICS_CUTS; i++)
        atomic_store_explicit(&c->base_cut[i], atomic_load_explicit(&c->cut[i], TW_RELAXED),
                              TW_RELAXED);
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
        atomic_fetch_add_explicit(&c->streams[e], delta, TW_RELAXED);
}

void tw_metrics_delivered(tw_metrics_child *c, uint64_t frames)
{
    if (c && frames)
        atomic_fetch_add_explicit(&c->delivered, frames, TW_RELAXED);
}

void tw_metrics_cut(tw_metrics_child *c, tw_metrics_cause why)
{
    if (c)
        atomic_fetch_add_explicit(&c->cut[why], 1, TW_RELAXED);
}

void tw_metrics_redis(tw_metrics_child *c, int delta)
{
    if (c)
        atomic_fetch_add_explicit(&c->redis_in_use, delta, TW_RELAXED);
}

void tw_metrics_feed(tw_metrics_child *c)
{
    if (c)
        atomic_fetch_add_explicit(&c->feeds, 1, TW_RELAXED);
}

void tw_metrics_subscription(tw_metrics_child *c, int up, apr_time_t now)
{
    if (!c)
        return;
    atomic_fetch_add_explicit(&c->subscribed, up ? 1 : -1, TW_RELAXED);
    atomic_store_explicit(&c->sub_since, now, TW_RELAXED);
}

void tw_metrics_observe(tw_metrics_hist *h, int64_t us)
{
    if (us < 0)
        us = 0;
    int i = 0;
    while (i < TW_METRICS_BUCKETS - 1 && us > tw_metrics_bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->bucket[i], 1, TW_RELAXED);
    atomic_fetch_add_explicit(&h->sum_us, (uint64_t)us, TW_RELAXED);
}

void tw_metrics_frame(tw_metrics_child *c, const tw_id *post, apr_time_t now)
{
    if (!c)
        return;
    atomic_fetch_add_explicit(&c->ring_head, 1, TW_RELAXED);
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
        atomic_fetch_add_explicit(&st->accepted, 1, TW_RELAXED);
}

void tw_metrics_refused(tw_metrics *st, tw_metrics_refusal why)
{
    if (st)
        atomic_fetch_add_explicit(&st->refused[why], 1, TW_RELAXED);
}

void tw_metrics_removed(tw_metrics *st, tw_metrics_by by)
{
    if (st)
        atomic_fetch_add_explicit(&st->removed[by], 1, TW_RELAXED);
}

void tw_metrics_liked(tw_metrics *st, tw_metrics_like change)
{
    if (st)
        atomic_fetch_add_explicit(&st->likes[change], 1, TW_RELAXED);
}

void tw_metrics_act_refused(tw_metrics *st, tw_metrics_refusal why)
{
    if (st)
        atomic_fetch_add_explicit(&st->acts_refused[why], 1, TW_RELAXED);
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
        run += atomic_load_explicit(&((tw_metrics_hist *)h)->bucket[i], TW_RELAXED);
        out->count[i] += run;
    }
    out->sum_us += atomic_load_explicit(&((tw_metrics_hist *)h)->sum_us, TW_RELAXED);
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
        uint64_t delivered = atomic_load_explicit(&c->delivered, TW_RELAXED);
        out->delivered += delivered;
        uint64_t cut[TW_METRICS_CUTS];
        for (int k = 0; k < TW_METRICS_CUTS; k++)
            out->cut[k] += cut[k] = atomic_load_explicit(&c->cut[k], TW_RELAXED);
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
            v->streams[e] = atomic_load_explicit(&c->streams[e], TW_RELAXED);
            if (v->streams[e] < 0)
                v->streams[e] = 0; /* a decrement seen before its increment */
            out->streams[e] += v->streams[e];
        }
        v->feeds = atomic_load_explicit(&c->feeds, TW_RELAXED);
        v->subscribed = atomic_load_explicit(&c->subscribed, TW_RELAXED);
        v->sub_since = atomic_load_explicit(&c->sub_since, TW_RELAXED);
        v->last = tw_metrics_last(c);
        v->ring_head = atomic_load_explicit(&c->ring_head, TW_RELAXED);
        v->redis_in_use = atomic_load_explicit(&c->redis_in_use, TW_RELAXED);
        if (v->redis_in_use < 0)
            v->redis_in_use = 0;
        uint64_t base = atomic_load_explicit(&c->base_delivered, TW_RELAXED);
        v->delivered = delivered > base ? delivered - base : 0;
        for (int k = 0; k < TW_METRICS_CUTS; k++) {
            base = atomic_load_explicit(&c->base_cut[k], TW_RELAXED);
            v->cut[k] = cut[k] > base ? cut[k] - base : 0;
        }
        out->subscribed_children += tw_metrics_child_subscribed(v);
    }
    out->accepted = atomic_load_explicit(&st->accepted, TW_RELAXED);
    for (int k = 0; k < TW_METRICS_REFUSALS; k++)
        out->refused[k] = atomic_load_explicit(&st->refused[k], TW_RELAXED);
    for (int k = 0; k < TW_METRICS_REFUSALS; k++)
        out->acts_refused[k] = atomic_load_explicit(&st->acts_refused[k], TW_RELAXED);
    for (int k = 0; k < TW_METRICS_REMOVERS; k++)
        out->removed[k] = atomic_load_explicit(&st->removed[k], TW_RELAXED);
    for (int k = 0; k < TW_METRICS_LIKE_CHANGES; k++)
        out->likes[k] = atomic_load_explicit(&st->likes[k], TW_RELAXED);
    tw_metrics_hist_add(&out->publish, &st->publish);
}
