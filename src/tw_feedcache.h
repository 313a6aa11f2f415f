/* tw_feedcache: a child's last rendering of the feed part of the page (everything below the
 * compose form, the same for every visitor), served until it may be stale: until the hub's
 * generation moves (a post announced, a (re)subscription), the instance's post counter moves (a
 * post stored through any child, before the hubs hear of it), or it is `ttl` old (which bounds
 * how long entries written to the store without an announcement stay off the page). Thread-safe;
 * httpd-free. */
#ifndef TW_FEEDCACHE_H
#define TW_FEEDCACHE_H

#include "tw_blob.h"

#include <apr_pools.h>
#include <apr_time.h>
#include <stdint.h>

typedef struct tw_feedcache tw_feedcache;

/* A cache in `p`; its rendering is released by a cleanup of `p`. */
apr_status_t tw_feedcache_create(apr_pool_t *p, apr_interval_time_t ttl, tw_feedcache **out);

/* A reference to the rendering if it was made for generation `gen` (non-zero) and post counter
 * `posted` and is younger than the ttl at `now`; else NULL. One lock. */
tw_blob *tw_feedcache_get(tw_feedcache *fc, uint64_t gen, uint32_t posted, apr_time_t now);

/* Keep `html` (the cache takes its own reference), rendered from posts read after taking `gen`
 * and `posted` at `made`, unless the cache holds a newer rendering already. One lock. */
void tw_feedcache_put(tw_feedcache *fc, tw_blob *html, uint64_t gen, uint32_t posted,
                      apr_time_t made);

#endif
