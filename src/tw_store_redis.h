/* tw_store_redis: the Redis implementation of tw_store. Posts are entries of one Redis stream
 * (XADD with MAXLEN ~ history); each is announced on one pub/sub channel by the same Lua script
 * (tw_store_redis_publish.lua, embedded at build time), so every child of every instance hears
 * of it. Commands run on a per-process pool of blocking hiredis connections (apr_reslist; a
 * connection serves one thread at a time); the subscription runs in the store's own thread
 * (tw_store_redis_sub.c). The files of this store share tw_store_redis_int.h; nothing else
 * includes it.
 *
 * Redis is one server, or the primary that Redis Sentinels name (tw_redis_addr.master): then
 * the store asks the sentinels for it (SENTINEL GET-MASTER-ADDR-BY-NAME, in turn), checks each
 * new connection with ROLE, and forgets the primary on READONLY, MASTERDOWN or a broken
 * connection, and when the subscriber hears +switch-master: every pooled connection to it is
 * dropped on its next use and the next command asks the sentinels again. With min_replicas, a
 * post counts as stored only once that many replicas have it (WAIT), so a failover to one of
 * them keeps it. httpd-free. */
#ifndef TW_STORE_REDIS_H
#define TW_STORE_REDIS_H

#include "tw_feed.h"
#include "tw_log.h"
#include "tw_metrics.h"
#include "tw_store.h"

typedef struct tw_store_redis_conf {
    /* Where Redis is (redis), AUTH (password, or NULL), the stream and channel, the history
     * (MAXLEN ~), the connect and command timeout, the replicas that must have a post before
     * publish succeeds (min_replicas, 0: none), the rate limits (count 0: none). */
    tw_feed_conf feed;
    int max_conns; /* pooled connections at most (one per thread that may need one) */
    const tw_log *log;
    tw_metrics_child *metrics; /* pooled connections lent out; NULL: not counted */
} tw_store_redis_conf;

/* A Redis store in `p` (which must outlive every thread that uses it). Connections open lazily.
 * The subscription starts with tw_store_subscribe. */
apr_status_t tw_store_redis_create(apr_pool_t *p, const tw_store_redis_conf *cf, tw_store **out);

#endif
