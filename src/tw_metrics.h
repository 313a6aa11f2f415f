/* tw_metrics: the metrics operators read (server-status, Prometheus), laid out for shared memory.
 *
 * One tw_metrics block holds an instance-wide part (posts accepted and refused, publish latency)
 * and one slot per child process that may run (the MPM's server limit). A child owns one slot
 * from child_init to its exit: it writes its gauges (open streams, subscriber state, ring head,
 * Redis connections in use) and counters (frames delivered, streams cut, delivery lag) there,
 * and whichever child serves a status request reads every slot. Plain C11 atomics, no lock and
 * no pointer inside the block: it works at any address, in any process that maps it.
 *
 * Counters belong to the slot, not to the child: a child that takes a slot over continues its
 * counters (and its delivery-lag histogram), so the instance-wide sums never go back while the
 * block lives, whichever children come and go. The per-child counts a status page shows are
 * the slot's counts since its child took it (a baseline taken at the claim). Gauges start over
 * at each claim. Every write is a relaxed atomic operation (a few ns); a report is a snapshot
 * taken slot by slot, not one instant across all of them. httpd-free. */
#ifndef TW_METRICS_H
#define TW_METRICS_H

#include "tw_buf.h"
#include "tw_id.h"

#include <apr_pools.h>
#include <apr_time.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Histogram bucket bounds, in microseconds (Prometheus le, in seconds: 0.0005 ... 10); the
 * last bucket, +Inf, has no bound. */
#define TW_METRICS_BOUNDS                                                                          \
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, \
        10000000
#define TW_METRICS_BUCKETS 15 /* the bounds and +Inf */

typedef struct tw_metrics_hist {
    atomic_uint_fast64_t bucket[TW_METRICS_BUCKETS]; /* observations per bucket (not cumulative) */
    atomic_uint_fast64_t sum_us;                     /* sum of the observations */
} tw_metrics_hist;

/* Delivery engines (tw_engine implementations) whose open streams are counted. */
typedef enum { TW_METRICS_SOCKET, TW_METRICS_THREAD, TW_METRICS_ENGINES } tw_metrics_engine;

/* Why an engine cut a stream (its client then resumes). */
typedef enum {
    TW_METRICS_LAGGED,  /* more than a ring behind (TW0601, TW0504) */
    TW_METRICS_STALLED, /* its socket took nothing for a keepalive interval (TW0602) */
    TW_METRICS_CUTS
} tw_metrics_cause;

/* Why a post was not stored. */
typedef enum {
    TW_METRICS_RATE_LIMITED, /* 429: a rate limit */
    TW_METRICS_REPLAYED,     /* an idempotent retry: answered with the first post, not stored */
    TW_METRICS_BAD_INPUT,    /* 400, 413, 415: the request itself */
    TW_METRICS_FORBIDDEN,    /* 403: cross-site, no or another's identity */
    TW_METRICS_STORE_FAILED, /* 503: the store failed or did not confirm */
    TW_METRICS_REFUSALS
} tw_metrics_refusal;

/* Who removed a post. */
typedef enum { TW_METRICS_BY_AUTHOR, TW_METRICS_BY_MODERATOR, TW_METRICS_REMOVERS } tw_metrics_by;

/* A change of a like. */
typedef enum { TW_METRICS_LIKE, TW_METRICS_UNLIKE, TW_METRICS_LIKE_CHANGES } tw_metrics_like;

/* One child's metrics. */
typedef struct tw_metrics_child {
    atomic_int pid; /* the owner; 0: free */
    /* Gauges, reset at each claim. */
    atomic_long streams[TW_METRICS_ENGINES]; /* open streams by engine */
    atomic_int feeds;                        /* hubs reporting here (one per distinct feed) */
    atomic_int subscribed;                   /* of them, those whose subscription is up */
    atomic_int_fast64_t sub_since;           /* apr_time_t of the last up or down; 0: none yet */
    atomic_uint id_ver;                      /* seqlock over last_ms, last_seq: odd while written */
    atomic_uint_fast64_t last_ms, last_seq;  /* the last post id a hub took */
    atomic_uint_fast64_t ring_head;          /* frames the hubs pushed since the claim */
    atomic_long redis_in_use;                /* pooled Redis connections lent out */
    /* Counters, kept across claims (see the top). */
    atomic_uint_fast64_t delivered;            /* frames written to streams */
    atomic_uint_fast64_t cut[TW_METRICS_CUTS]; /* streams cut, by reason */
    tw_metrics_hist lag;                       /* delivery lag, one observation per post */
    /* The counters when the owner claimed the slot. */
    atomic_uint_fast64_t base_delivered;
    atomic_uint_fast64_t base_cut[TW_METRICS_CUTS];
} tw_metrics_child;

typedef struct tw_metrics {
    atomic_uint_fast64_t accepted;                          /* posts stored */
    atomic_uint_fast64_t refused[TW_METRICS_REFUSALS];      /* posts not stored, by reason */
    tw_metrics_hist publish;                                /* store publish round trips */
    atomic_uint_fast64_t removed[TW_METRICS_REMOVERS];      /* posts deleted, by whom */
    atomic_uint_fast64_t likes[TW_METRICS_LIKE_CHANGES];    /* likes given and taken back */
    atomic_uint_fast64_t acts_refused[TW_METRICS_REFUSALS]; /* deletes and likes not done */
    int nslots;                                             /* set once, before any child runs */
    tw_metrics_child slot[];
} tw_metrics;

/* Bytes a block of `nslots` slots takes. */
size_t tw_metrics_size(int nslots);

/* Zero a block of `size` bytes at `mem` (tw_metrics_size(nslots)) for `nslots` slots. Before any
 * other process uses it. */
tw_metrics *tw_metrics_init(void *mem, int nslots);

/* Is process `pid` alive? (The glue passes one built on kill(pid, 0).) */
typedef int tw_metrics_alive_fn(int pid);

/* Take a slot for process `pid`: a free one, or one whose owner is dead (`alive`);
 * its gauges start over, its counters go on. Returns NULL if every slot has a live owner.
 * O(slots), one compare-and-swap per slot tried. */
tw_metrics_child *tw_metrics_claim(tw_metrics *st, int pid, tw_metrics_alive_fn *alive);

/* Give the slot back (the child exits). Async-signal-safe. */
void tw_metrics_release(tw_metrics_child *c);

/* The writers. Each takes NULL (no metrics kept, as in the unit tests of other components) and
 * costs one or two relaxed atomic operations; any thread, async-signal-safe. */
void tw_metrics_stream(tw_metrics_child *c, tw_metrics_engine e, int delta);
void tw_metrics_delivered(tw_metrics_child *c, uint64_t frames);
void tw_metrics_cut(tw_metrics_child *c, tw_metrics_cause why);
void tw_metrics_redis(tw_metrics_child *c, int delta);
/* A hub joins the slot (its subscription not up yet). */
void tw_metrics_feed(tw_metrics_child *c);
/* A hub's subscription went up (up = 1) or down (0); only on a change of its state. */
void tw_metrics_subscription(tw_metrics_child *c, int up, apr_time_t now);
/* A hub pushed a frame; for a post, its id and the delivery lag (now less the id's time, never
 * below 0) is observed once, for every stream of the child. */
void tw_metrics_frame(tw_metrics_child *c, const tw_id *post, apr_time_t now);
void tw_metrics_accepted(tw_metrics *st);
void tw_metrics_refused(tw_metrics *st, tw_metrics_refusal why);
void tw_metrics_publish_time(tw_metrics *st, apr_interval_time_t took);
void tw_metrics_removed(tw_metrics *st, tw_metrics_by by);
void tw_metrics_liked(tw_metrics *st, tw_metrics_like change);
/* A delete or like refused (replayed: a deletion done before, answered as the first). */
void tw_metrics_act_refused(tw_metrics *st, tw_metrics_refusal why);

/* Add one observation of `us` microseconds (negative counts as 0) to `h`. */
void tw_metrics_observe(tw_metrics_hist *h, int64_t us);

/* A histogram as read: cumulative counts per bucket (count[TW_METRICS_BUCKETS - 1] is the total).
 */
typedef struct tw_metrics_hist_view {
    uint64_t count[TW_METRICS_BUCKETS];
    uint64_t sum_us;
} tw_metrics_hist_view;

/* One live child as read. */
typedef struct tw_metrics_child_view {
    int pid;
    long streams[TW_METRICS_ENGINES];
    int feeds, subscribed;
    apr_time_t sub_since;
    tw_id last;
    uint64_t ring_head;
    long redis_in_use;
    uint64_t delivered;            /* since the claim */
    uint64_t cut[TW_METRICS_CUTS]; /* since the claim */
} tw_metrics_child_view;

/* Everything a report shows, read once. */
typedef struct tw_metrics_view {
    int nchildren;
    tw_metrics_child_view *child; /* live children, by slot */
    long streams[TW_METRICS_ENGINES];
    int subscribed_children; /* children whose every subscription is up */
    uint64_t delivered;      /* over every slot, whoever owned it */
    uint64_t cut[TW_METRICS_CUTS];
    uint64_t accepted;
    uint64_t refused[TW_METRICS_REFUSALS];
    uint64_t removed[TW_METRICS_REMOVERS];
    uint64_t likes[TW_METRICS_LIKE_CHANGES];
    uint64_t acts_refused[TW_METRICS_REFUSALS];
    tw_metrics_hist_view publish, lag;
} tw_metrics_view;

/* Read the block into `out` (children in `p`): slots whose owner is alive, sums over all.
 * O(slots). */
void tw_metrics_read(const tw_metrics *st, apr_pool_t *p, tw_metrics_alive_fn *alive,
                     tw_metrics_view *out);

/* Is a child's every subscription up? */
int tw_metrics_child_subscribed(const tw_metrics_child_view *c);

/* The renderers (tw_metrics_render.c), one table of metrics feeding all three. */

/* The Prometheus text exposition (format 0.0.4) of `v`, appended to `b`. O(children). */
void tw_metrics_prometheus(tw_buf *b, const tw_metrics_view *v);

/* mod_status's machine-readable form (?auto): "Key: value" lines, then one "TweetsseChild:"
 * line per child. */
void tw_metrics_status_auto(tw_buf *b, const tw_metrics_view *v);

/* mod_status's HTML section: a heading, the instance's metrics and a table of the children;
 * everything escaped. */
void tw_metrics_status_html(tw_buf *b, const tw_metrics_view *v);

#endif
