/* tw_redis_sub: the Redis store's subscription, one thread per store (so one Redis SUBSCRIBE
 * connection per child process). It connects without blocking, subscribes to the channel, and
 * waits in poll(2) on the connection and its stop bell, so a stop ends it at once (except while
 * it catches up with a few commands, each bounded by the timeout). On every (re)subscription it
 * catches up from the stream before reporting `up`: the first time it takes the newest post as
 * its baseline; later it delivers every post after the last one it delivered (XRANGE), or
 * reports a gap if those were trimmed. Each post reaches the listener once, in id order. After
 * a failure it backs off (0.1 s doubling to 5 s; to 1 s with Sentinel) and tries again; after
 * TweetsseRedisTimeout x 3 down, the listener hears `lost`. With Sentinel it subscribes on the
 * primary the store finds (checked with ROLE) and also watches one sentinel's +switch-master,
 * so a failover moves it at once; a lost watch is tried again every 5 s. Canaries of this
 * process on the channel (tw_redis_probe) are counted, not delivered. Part of tw_redis. */
#ifndef TW_REDIS_SUB_H
#define TW_REDIS_SUB_H

#include "tw_redis.h"

typedef struct tw_redis_sub tw_redis_sub;

/* Start the thread, with its state in `p`. `store` (the Redis store itself) serves the catch-up
 * commands. `p`, `cf` and `store` must outlive the thread (see tw_thread.h). */
apr_status_t tw_redis_sub_start(apr_pool_t *p, tw_store *store, const tw_redis_conf *cf,
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
