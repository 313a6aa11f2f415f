/* tw_store_redis_int.h: what the files of the Redis store (tw_store_redis.c, the commands and
 * the connection pool; tw_store_redis_sub.c, the subscription) share, and nothing else uses
 * but their unit tests. httpd-free. */
#ifndef TW_STORE_REDIS_INT_H
#define TW_STORE_REDIS_INT_H

#include "tw_store_redis.h"
#include "tw_store_redis_wire.h"

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

/* Forget the primary of answer `gen`, if it is still the current one: the next command asks
 * the sentinels. `why` is logged. No effect without Sentinel. */
void tw_redis_invalidate(tw_redis_conns *c, uint64_t gen, const char *why);

/* ---- The store (tw_store_redis.c), for its subscription ---- */

/* The connections of the Redis store `s`. */
tw_redis_conns *tw_redis_conns_of(tw_store *s);

/* The Redis stream's state (XINFO STREAM); a stream that does not exist yet has length 0, no
 * entries added and the zero id. One round trip. */
apr_status_t tw_redis_log_state(tw_store *s, apr_pool_t *p, tw_redis_log *out, const char **err);

/* Record the feed's shared settings in Redis if no instance has yet (the hash <key>:settings:
 * history and channel; <channel>:stream names the stream a channel announces), and log an
 * error for each that this instance sets differently. A few round trips. */
apr_status_t tw_redis_settings_check(tw_store *s, apr_pool_t *p, const char **err);

/* ---- The subscription (tw_store_redis_sub.c) ----
 *
 * One thread per store (so one Redis SUBSCRIBE connection per child process). It connects
 * without blocking, subscribes to the channel, and waits in poll(2) on the connection and its
 * stop bell, so a stop ends it at once (except while it catches up with a few commands, each
 * bounded by the timeout). On every (re)subscription it catches up from the Redis stream before
 * reporting `up`: the first time it takes the newest post as its baseline; later it delivers
 * every post after the last one it delivered (XRANGE), or reports a gap if those were trimmed.
 * Each post reaches the listener once, in id order. After a failure it backs off (0.1 s doubling
 * to 5 s; to 1 s with Sentinel) and tries again; after TweetsseRedisTimeout x 3 down, the
 * listener hears `lost`. With Sentinel it subscribes on the primary the store finds (checked
 * with ROLE) and also watches one sentinel's +switch-master, so a failover moves it at once; a
 * lost watch is tried again every 5 s. Canaries of this process on the channel (the store's
 * probe) are counted, not delivered. */

typedef struct tw_redis_sub tw_redis_sub;

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

/* See tw_store_ops.stop and .stopped. Async-signal-safe. */
void tw_redis_sub_stop(tw_redis_sub *s);
int tw_redis_sub_stopped(tw_redis_sub *s, apr_interval_time_t timeout);

#endif
