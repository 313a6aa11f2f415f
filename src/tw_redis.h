/* tw_redis: the Redis implementation of tw_store. Posts are entries of one stream (XADD with
 * MAXLEN ~ history); each is announced on one pub/sub channel by the same Lua script
 * (tw_redis_publish.lua, embedded at build time), so every child of every instance hears of
 * it. Commands run on a per-process pool of blocking hiredis connections (apr_reslist; a
 * connection serves one thread at a time); the subscription runs in the store's own thread
 * (tw_redis_sub). httpd-free. */
#ifndef TW_REDIS_H
#define TW_REDIS_H

#include "tw_confval.h"
#include "tw_log.h"
#include "tw_store.h"

typedef struct tw_redis_conf {
    tw_redis_addr addr;
    const char *password; /* AUTH after each connect, or NULL */
    const char *key;      /* stream key */
    const char *channel;  /* pub/sub channel */
    long history;         /* MAXLEN ~ */
    long timeout_ms;      /* connect and command timeout */
    int max_conns;        /* pooled connections at most (one per thread that may need one) */
    const tw_log *log;
} tw_redis_conf;

/* A Redis store in `p` (which must outlive every thread that uses it). Connections open lazily.
 * The subscription starts with tw_store_subscribe. */
apr_status_t tw_redis_create(apr_pool_t *p, const tw_redis_conf *cf, tw_store **out);

/* The stream's state (XINFO STREAM); a stream that does not exist yet has length 0, no entries
 * added and the zero id. For the store's subscriber. One round trip. */
struct tw_redis_stream;
apr_status_t tw_redis_stream_state(tw_store *s, apr_pool_t *p, struct tw_redis_stream *out,
                                   const char **err);

#endif
