/* tw_redis: the Redis implementation of tw_store. Posts are entries of one stream (XADD with
 * MAXLEN ~ history); each is announced on one pub/sub channel by the same Lua script
 * (tw_redis_publish.lua, embedded at build time), so every child of every instance hears of
 * it. Commands run on a per-process pool of blocking hiredis connections (apr_reslist; a
 * connection serves one thread at a time); the subscription runs in the store's own thread
 * (tw_redis_sub).
 *
 * Redis is one server, or the primary that Redis Sentinels name (tw_redis_addr.master): then
 * the store asks the sentinels for it (SENTINEL GET-MASTER-ADDR-BY-NAME, in turn), checks each
 * new connection with ROLE, and forgets the primary on READONLY, MASTERDOWN or a broken
 * connection, and when the subscriber hears +switch-master: every pooled connection to it is
 * dropped on its next use and the next command asks the sentinels again. With min_replicas, a
 * post counts as stored only once that many replicas have it (WAIT), so a failover to one of
 * them keeps it. httpd-free. */
#ifndef TW_REDIS_H
#define TW_REDIS_H

#include "tw_confval.h"
#include "tw_log.h"
#include "tw_stats.h"
#include "tw_store.h"

typedef struct tw_redis_conf {
    tw_redis_addr addr;
    const char *password; /* AUTH after each connect, or NULL */
    const char *key;      /* stream key */
    const char *channel;  /* pub/sub channel */
    long history;         /* MAXLEN ~ */
    long timeout_ms;      /* connect and command timeout */
    int min_replicas;     /* replicas that must have a post before publish succeeds (0: none) */
    tw_rate rate_user;    /* posts per user (count 0: no limit) */
    tw_rate rate_addr;    /* posts per client address (count 0: no limit) */
    int max_conns;        /* pooled connections at most (one per thread that may need one) */
    const tw_log *log;
    tw_stats_child *stats; /* pooled connections lent out; NULL: not counted */
} tw_redis_conf;

/* A Redis store in `p` (which must outlive every thread that uses it). Connections open lazily.
 * The subscription starts with tw_store_subscribe. */
apr_status_t tw_redis_create(apr_pool_t *p, const tw_redis_conf *cf, tw_store **out);

/* For the store's subscriber (tw_redis_sub), which is part of it: */

/* The stream's state (XINFO STREAM); a stream that does not exist yet has length 0, no entries
 * added and the zero id. One round trip. */
struct tw_redis_stream;
apr_status_t tw_redis_stream_state(tw_store *s, apr_pool_t *p, struct tw_redis_stream *out,
                                   const char **err);

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
apr_status_t tw_redis_target_get(tw_store *s, apr_pool_t *p, tw_redis_target *out,
                                 const char **err);

/* The `gen` that tw_redis_target_get would give now (0 with Sentinel while no primary is
 * known, so a subscription on an older one must move). One lock. */
uint64_t tw_redis_target_gen(tw_store *s);

/* Forget the primary of answer `gen`, if it is still the current one: the next command asks
 * the sentinels. `why` is logged. No effect without Sentinel. */
void tw_redis_invalidate(tw_store *s, uint64_t gen, const char *why);

/* Record the feed's shared settings in Redis if no instance has yet (the hash <key>:settings:
 * history and channel; <channel>:stream names the stream a channel announces), and log an
 * error for each that this instance sets differently. A few round trips. */
apr_status_t tw_redis_settings_check(tw_store *s, apr_pool_t *p, const char **err);

#endif
