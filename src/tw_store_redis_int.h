/* tw_store_redis_int.h: what the files of the Redis store (tw_store_redis.c, the commands and
 * the connection pool; tw_store_redis_sub.c, the subscription) share, and nothing else uses
 * but their unit tests. httpd-free. */
#ifndef TW_STORE_REDIS_INT_H
#define TW_STORE_REDIS_INT_H

#include "tw_store_redis.h"
#include "tw_store_redis_wire.h"

#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <stdatomic.h>

#include <hiredis/hiredis.h>

/* ---- The connections (tw_store_redis_conn.c) ----
 *
 * Where Redis is and the pool of blocking connections to it. Redis is one server, or the
 * primary that Redis Sentinels name: then the pool asks the sentinels for it (SENTINEL
 * GET-MASTER-ADDR-BY-NAME, in turn), checks each new connection with ROLE, and forgets the
 * primary on READONLY, MASTERDOWN or a broken connection, and when the subscriber hears
 * +switch-master: every pooled connection to it is dropped on its next use and the next
 * command asks the sentinels again. */

typedef struct tw_redis_conns tw_redis_conns;
typedef struct tw_redis_slot tw_redis_slot;

/* The pool of `cf` (which must outlive it): at most cf->max_conns connections, opened lazily;
 * a thread waits up to the timeout for a free one. */
apr_status_t tw_redis_conns_create(apr_pool_t *p, const tw_store_redis_conf *cf,
                                   tw_redis_conns **out);

/* Run one command (argv with `lens`, or NULL for C strings) on a pooled connection: *out is its
 * reply (an error reply too), for the caller to free; or NULL with *err (from `p`). One round
 * trip, plus a connect when the slot has none. */
apr_status_t tw_redis_run(tw_redis_conns *c, apr_pool_t *p, int argc, const char **argv,
                          const size_t *lens, redisReply **out, const char **err);

/* For several commands on one connection (a WAIT must follow the write it waits for): take a
 * slot with a live connection to the current target, or NULL with *err. A connection the
 * server closed since its last use, or to a primary since forgotten, is replaced here, so a
 * Redis restart or a failover costs no failed request. Blocks up to the timeout for a free
 * slot, and up to the timeout to connect (with Sentinel and no primary known, a search). */
tw_redis_slot *tw_redis_acquire(tw_redis_conns *c, apr_pool_t *p, const char **err);
redisContext *tw_redis_slot_ctx(tw_redis_slot *slot);
/* The target the slot's connection is to (a `gen` of tw_redis_target_get). */
uint64_t tw_redis_slot_gen(const tw_redis_slot *slot);

/* Give a slot back after a command whose reply (or NULL) was `rep`. A connection that saw an
 * I/O or protocol error is closed; one whose server says it is no primary (READONLY,
 * MASTERDOWN) is closed too, and with Sentinel so are the others to it, on their next use: the
 * primary moved. A broken connection (not a timeout) also makes the pool ask the sentinels
 * again: the primary may be gone. */
void tw_redis_release(tw_redis_conns *c, tw_redis_slot *slot, const redisReply *rep);

/* Turn a missing (`ctx` says why) or error reply to `what` into a message in *err (from `p`).
 * Returns APR_EGENERAL. */
apr_status_t tw_redis_reply_error(apr_pool_t *p, redisContext *ctx, redisReply *rep,
                                  const char *what, const char **err);

/* The server to connect to: the configured one, or the primary the sentinels name now. `gen`
 * names this answer, for tw_redis_invalidate. */
typedef struct tw_redis_target {
    tw_redis_node node; /* host NULL for a unix socket */
    const char *path;
    uint64_t gen;
} tw_redis_target;

/* The current target (strings in `p`). With Sentinel and no primary known, asks the sentinels
 * (a connect and a round trip to each in turn, and a ROLE on the primary named), unless another
 * thread is asking already (then APR_EAGAIN). */
apr_status_t tw_redis_target_get(tw_redis_conns *c, apr_pool_t *p, tw_redis_target *out,
                                 const char **err);

/* The `gen` that tw_redis_target_get would give now: 1 without Sentinel; with it, 0 while no
 * primary is known, so a subscription on an older one must move. One lock. */
uint64_t tw_redis_target_gen(tw_redis_conns *c);

/* Is the primary of answer `gen` still the current one, at `n`? 0 without Sentinel. One lock. */
int tw_redis_target_is(tw_redis_conns *c, uint64_t gen, const tw_redis_node *n);

/* Forget the primary of answer `gen`, if it is still the current one: the next command asks
 * the sentinels. `why` is logged. No effect without Sentinel. */
void tw_redis_invalidate(tw_redis_conns *c, uint64_t gen, const char *why);

/* With Sentinel and TweetsseRedisMinReplicas n: how many replicas a write must reach before it
 * is acknowledged (WAIT). At least n, and every replica the current primary has had online
 * within the grace: 10 x Sentinel's down-after-milliseconds (as a sentinel said when it named
 * the primary) + 2 s, the time Sentinel may still promote a replica that lost its link. A write
 * is then on whichever replica Sentinel promotes, including in a forced failover, where the old
 * primary keeps taking writes (with its other replicas) until the new one is known: the replica
 * promoted is gone from it, so the census still counts it and WAIT falls short. Without Sentinel
 * or with n = 0, n. One lock. */
long tw_redis_replicas_need(tw_redis_conns *c);

/* Count the current primary's online replicas (ROLE) for tw_redis_replicas_need; nothing
 * without Sentinel or TweetsseRedisMinReplicas. The subscriber's thread calls it once a second,
 * four times a second while the census is short. One round trip (and a connect, or a search,
 * when the pool has no connection). */
void tw_redis_census(tw_redis_conns *c, apr_pool_t *p);

/* Did the last count find fewer replicas online than the census counts (a replica left within
 * the grace)? One lock. */
int tw_redis_census_short(tw_redis_conns *c);

/* While the census is short the primary may have been deposed: in a forced failover the replica
 * promoted leaves it, and the sentinel that leads the failover names the new primary a second
 * or two before +switch-master. Ask every sentinel: if one names another primary that ROLE
 * confirms, forget the current one (TW0111) and start the next search from that sentinel.
 * Returns 1 if so. Blocks for up to a connect and a round trip per sentinel, and a connect and
 * a ROLE for a primary named. */
int tw_redis_follow(tw_redis_conns *c, apr_pool_t *p);

/* ---- The store (tw_store_redis.c) ---- */

typedef struct tw_redis_sub tw_redis_sub;

/* A post whose count of likes is to be announced at `due` (the end of its window). */
typedef struct tw_redis_flush {
    tw_id post;
    apr_time_t due;
} tw_redis_flush;

#define TW_REDIS_FLUSH_MAX 256 /* counts waiting in one child at most */

/* Presence: each process reports its readers this often, and a report counts this long (a
 * process killed outright leaves the sum within a period after that). */
#define TW_REDIS_PRESENCE_PERIOD apr_time_from_sec(5)
#define TW_REDIS_PRESENCE_STALE  apr_time_from_sec(15)

/* The store: its configuration (the feed's strings copied into its pool), its connections and
 * subscription, the names of the keys beside the log, the health probe's shared answer, and
 * the counts of likes waiting for their window's end. */
typedef struct tw_redis {
    tw_store store; /* first: the store interface */
    tw_store_redis_conf cf;
    tw_redis_conns *conns;
    char script_sha[41];      /* SHA1 of tw_store_redis.lua, hex */
    const char *settings_key; /* <log>:settings */
    const char *counts_key;   /* <log>:counts */
    const char *gone_key;     /* <log>:gone */
    const char *floor_key;    /* <log>:floor */
    const char *presence_key; /* <log>:presence */
    const char *likes_prefix; /* <log>:likes: */
    apr_pool_t *pool;
    tw_redis_sub *sub;              /* NULL until subscribed */
    atomic_ullong canaries;         /* health probes sent by this process */
    apr_thread_mutex_t *probe_lock; /* guards the probe's fields */
    apr_thread_cond_t *probe_done;  /* signalled when a probe's answer is in */
    int probing;                    /* a canary is out */
    apr_time_t probed_at;           /* when the last answer came (0: never) */
    apr_status_t probe_rv;          /* and what it was */
    const char *probe_why;          /* (a string constant) */
    apr_thread_mutex_t *flush_lock; /* guards flush and nflush */
    tw_redis_flush flush[TW_REDIS_FLUSH_MAX];
    int nflush;
} tw_redis;

/* The connections of the Redis store `s`. */
tw_redis_conns *tw_redis_conns_of(tw_store *s);

/* The Redis stream's state (XINFO STREAM); a stream that does not exist yet has length 0, no
 * entries added and the zero id. One round trip. */
apr_status_t tw_redis_log_state(tw_store *s, apr_pool_t *p, tw_redis_log *out, const char **err);

/* Record the feed's shared settings in Redis if no instance has yet (the hash <key>:settings:
 * history and channel; <channel>:stream names the stream a channel announces), and log an
 * error for each that this instance sets differently. A few round trips. */
apr_status_t tw_redis_settings_check(tw_store *s, apr_pool_t *p, const char **err);

/* ---- The writes (tw_store_redis_write.c): tw_store_ops' publish, remove and like ---- */

apr_status_t tw_redis_publish(tw_store *s, apr_pool_t *p, const tw_publish *in,
                              tw_publish_result *out, const char **err);
apr_status_t tw_redis_remove(tw_store *s, apr_pool_t *p, const tw_action *a, tw_action_result *out,
                             const char **err);
apr_status_t tw_redis_like(tw_store *s, apr_pool_t *p, const tw_action *a, tw_action_result *out,
                           const char **err);

/* The SHA1 of the script, in hex, into `out` (41 bytes). */
void tw_redis_script_sha(char *out);

/* Announce the count of likes of `post` at `due` (the end of its window), unless one is
 * planned already; wakes the subscriber's thread, which does it (tw_redis_flush_due). */
void tw_redis_flush_later(tw_redis *r, tw_id post, apr_time_t due);

/* When the next count is due (0: none). One lock. */
apr_time_t tw_redis_flush_next(tw_store *s);

/* Announce the counts that are due now, one script call each (a child that announces one
 * another child already has finds it announced). For the subscriber's thread. */
void tw_redis_flush_due(tw_store *s, apr_pool_t *p);

/* Report `readers` for process `member` and read the sum over every process that reported in
 * the last TW_REDIS_PRESENCE_STALE into *total (the script forgets older reports). One round
 * trip; the subscriber's thread calls it once a period. */
apr_status_t tw_redis_presence(tw_store *s, apr_pool_t *p, const char *member, long readers,
                               long *total, const char **err);

/* Take process `member` out of the presence (HDEL). One round trip. */
apr_status_t tw_redis_presence_leave(tw_store *s, apr_pool_t *p, const char *member,
                                     const char **err);

/* ---- The reads (tw_store_redis_read.c): tw_store_ops' latest, before, get, liked and
 * each_after ---- */

apr_status_t tw_redis_latest(tw_store *s, apr_pool_t *p, long count, tw_post **posts, int *n,
                             const char **err);
apr_status_t tw_redis_before(tw_store *s, apr_pool_t *p, tw_id id, long count, tw_post **posts,
                             int *n, int *more, const char **err);
apr_status_t tw_redis_get(tw_store *s, apr_pool_t *p, tw_id id, tw_post *post, int *found,
                          const char **err);
apr_status_t tw_redis_liked(tw_store *s, apr_pool_t *p, const char *who, const tw_post *posts,
                            int n, int *liked, const char **err);
apr_status_t tw_redis_each_after(tw_store *s, apr_pool_t *p, tw_id after, long page,
                                 tw_store_each_fn *fn, void *ctx, int *gap, const char **err);

/* ---- The subscription (tw_store_redis_sub.c) ----
 *
 * One thread per store (so one Redis SUBSCRIBE connection per child process). It connects
 * without blocking, subscribes to the channel, and waits in poll(2) on the connection and its
 * stop bell, so a stop ends it at once (except while it catches up with a few commands, each
 * bounded by the timeout). On every (re)subscription it catches up from the Redis stream before
 * reporting `up`: the first time it takes the newest post as its baseline; later it delivers
 * every post after the last one it delivered (XRANGE), or reports a gap if those were trimmed.
 * Each post reaches the listener once, in id order. After a failure it backs off (0.1 s doubling
 * to 5 s; to 0.25 s with Sentinel) and tries again; after TweetsseRedisTimeout x 3 down, the
 * listener hears `lost`. With Sentinel it subscribes on the primary the store finds (checked
 * with ROLE) and also watches one sentinel's +switch-master, so a failover moves it at once; a
 * lost watch is tried again every 5 s. Canaries of this process on the channel (the store's
 * probe) are counted, not delivered. */

/* Start the thread, with its state in `p`. `store` (the Redis store itself) serves the catch-up
 * commands. `p`, `cf` and `store` must outlive the thread (see tw_thread.h). */
apr_status_t tw_redis_sub_start(apr_pool_t *p, tw_store *store, const tw_store_redis_conf *cf,
                                const tw_store_listener *l, tw_redis_sub **out);

void tw_redis_sub_health(tw_redis_sub *s, tw_store_health *out);

/* The random token of this process's canaries ("?<token>:<n>" on the channel). */
const char *tw_redis_sub_token(const tw_redis_sub *s);

/* Wait until `deadline` for the subscription to have heard canary `n` of this process (see
 * tw_redis_probe). Returns 1 once it has. */
int tw_redis_sub_heard(tw_redis_sub *s, unsigned long long n, apr_time_t deadline);

/* Wake the thread (NULL: none yet), to look at the counts due (tw_redis_flush_next). */
void tw_redis_sub_wake(tw_redis_sub *s);

/* See tw_store_ops.stop and .stopped. Async-signal-safe. */
void tw_redis_sub_stop(tw_redis_sub *s);
int tw_redis_sub_stopped(tw_redis_sub *s, apr_interval_time_t timeout);

#endif
