/* tw_redis_sub: the Redis store's subscription, one thread per store (so one Redis SUBSCRIBE
 * connection per child process). It connects without blocking, subscribes to the channel, and
 * waits in poll(2) on the connection and its stop bell, so a stop ends it at once (except while
 * it catches up with a few commands, each bounded by the timeout). On every (re)subscription it
 * catches up from the stream before reporting `up`: the first time it takes the newest post as
 * its baseline; later it delivers every post after the last one it delivered (XRANGE), or
 * reports a gap if those were trimmed. Each post reaches the listener once, in id order. After
 * a failure it backs off (0.1 s doubling to 5 s) and tries again. Part of tw_redis. */
#ifndef TW_REDIS_SUB_H
#define TW_REDIS_SUB_H

#include "tw_redis.h"

typedef struct tw_redis_sub tw_redis_sub;

/* Start the thread, with its state in `p`. `store` (the Redis store itself) serves the catch-up
 * commands. `p`, `cf` and `store` must outlive the thread (see tw_thread.h). */
apr_status_t tw_redis_sub_start(apr_pool_t *p, tw_store *store, const tw_redis_conf *cf,
                                const tw_store_listener *l, tw_redis_sub **out);

void tw_redis_sub_health(tw_redis_sub *s, tw_store_health *out);

/* See tw_store_ops.stop and .stopped. Async-signal-safe. */
void tw_redis_sub_stop(tw_redis_sub *s);
int tw_redis_sub_stopped(tw_redis_sub *s, apr_interval_time_t timeout);

#endif
