/* tw_store: the Redis side of posts. A per-child pool of blocking hiredis connections
 * (apr_reslist; one connection is used by one thread at a time) and the commands the
 * handlers need. No httpd headers: errors come back as messages for the caller to log. */
#ifndef TW_STORE_H
#define TW_STORE_H

#include "tw_confval.h"
#include "tw_post.h"

#include <apr_pools.h>
#include <hiredis/hiredis.h>

typedef struct tw_store_conf {
    tw_redis_addr addr;
    const char *password; /* or NULL */
    const char *key;      /* stream key */
    const char *channel;  /* pub/sub channel */
    long history;         /* MAXLEN ~ */
    long timeout_ms;      /* connect and command timeout */
} tw_store_conf;

typedef struct tw_store tw_store;

/* Create the pool of at most `max_conns` connections, opened lazily by the thread that needs
 * one. The store lives as long as `p`; a pre-cleanup of `p` closes every connection. */
apr_status_t tw_store_create(apr_pool_t *p, const tw_store_conf *cf, int max_conns, tw_store **out);

const tw_store_conf *tw_store_config(const tw_store *s);

/* Open a new connection (with AUTH when a password is set) outside the pool, e.g. for a
 * subscriber. Returns NULL and writes the reason into `err` on failure. Blocks up to the
 * timeout. */
redisContext *tw_store_connect(const tw_store_conf *cf, char *err, size_t errlen);

/* Append a post to the stream and announce it on the channel, atomically (one Lua script:
 * XADD MAXLEN ~ history, then PUBLISH "<id> <user>\n<msg>"). Sets *id. One round trip. */
apr_status_t tw_store_publish(tw_store *s, apr_pool_t *p, const char *user, size_t ulen,
                              const char *msg, size_t mlen, tw_id *id, const char **err);

/* The newest `count` posts, newest first (XREVRANGE). Strings live in `p`. */
apr_status_t tw_store_latest(tw_store *s, apr_pool_t *p, long count, tw_post **posts, int *n,
                             const char **err);

/* Called for each post of tw_store_each_after, oldest first; a non-zero return stops. */
typedef int tw_store_each_fn(void *ctx, const tw_post *post);

/* Visit every post after `after`, oldest first, in pages of `page` entries (so no reply is
 * larger than a page). Sets *gap when `after` is no longer in the stream, i.e. posts after it
 * may have been trimmed away: the caller cannot resume without loss. The zero id means "from
 * the start" and never gaps. Each page is fetched into a subpool of `p` that is destroyed
 * before the next; `fn` must copy what it keeps. */
apr_status_t tw_store_each_after(tw_store *s, apr_pool_t *p, tw_id after, long page,
                                 tw_store_each_fn *fn, void *ctx, int *gap, const char **err);

#endif
