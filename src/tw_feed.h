/* tw_feed: what makes a feed, as one struct with one list of fields. A child runs one runtime
 * (store, hub, engines) per feed; virtual hosts whose feed settings are equal share it. Every
 * setting that shapes a runtime is a field here, so the configuration's merge, its defaults
 * and the key that decides the sharing cannot disagree about which settings count; settings
 * that shape one response (the page size, the retry: a stream is told, the streams an address
 * may hold) stay in the virtual host's configuration and are read per request. httpd-free. */
#ifndef TW_FEED_H
#define TW_FEED_H

#include "tw_confval.h"

#include <apr_pools.h>

/* TweetsseDelivery: who writes the events of an open stream. */
typedef enum {
    TW_DELIVERY_UNSET = -1,
    TW_DELIVERY_THREAD, /* its own worker thread, through the output filters (tw_engine_thread) */
    TW_DELIVERY_SOCKET, /* the child's socket engine thread, to the socket (tw_engine_socket) */
} tw_delivery;

typedef struct tw_feed_conf {
    const char *redis_spec; /* TweetsseRedis as written (the key and messages use it) */
    tw_redis_addr redis;    /* parsed from redis_spec; unset while redis_spec is NULL */
    const char *password;   /* TweetsseRedisPassword, or NULL */
    const char *stream_key; /* TweetsseStreamKey: the Redis stream that holds the posts */
    const char *channel;    /* TweetsseChannel: the pub/sub channel that announces them */
    long history;           /* TweetsseHistory: posts kept (XADD MAXLEN ~) */
    long timeout_ms;        /* TweetsseRedisTimeout: connect and command timeout */
    long keepalive_ms;      /* TweetsseKeepalive: silence before a ping comment */
    long min_replicas;      /* TweetsseRedisMinReplicas: replicas that must have a post */
    tw_rate rate_user;      /* TweetsseRateLimit: per author; count -1 unset */
    tw_rate rate_addr;      /* TweetsseAddressRateLimit: per client address */
    tw_delivery delivery;   /* TweetsseDelivery */
} tw_feed_conf;

/* Every field unset (NULL, -1), as a server's configuration starts. */
void tw_feed_unset(tw_feed_conf *f);

/* `add` over `base`: each field of `add` that is set, else `base`'s. `out` may be `add`. */
void tw_feed_merge(const tw_feed_conf *base, const tw_feed_conf *add, tw_feed_conf *out);

/* Fill in the default of every field still unset. */
void tw_feed_defaults(tw_feed_conf *f);

/* A string that is equal for two feeds exactly when every field is (from `p`): the runtime a
 * virtual host shares with another. O(fields). */
const char *tw_feed_key(apr_pool_t *p, const tw_feed_conf *f);

#endif
