/* tw_peers: how many streams each client address holds open in this process, to cap them
 * (TweetsseMaxStreamsPerAddress), and how many there are in all (the feed's readers in this
 * process). A table of counters keyed by the address as text, under one mutex; an address is
 * in it only while it holds a stream, so its size is bounded by the open streams; without a
 * cap only the total is kept (one atomic operation). Any thread may acquire and release.
 * httpd-free. */
#ifndef TW_PEERS_H
#define TW_PEERS_H

#include <apr_pools.h>

typedef struct tw_peers tw_peers;
typedef struct tw_peer tw_peer; /* one address's counter: what a stream releases */

/* An empty table in `p` (its mutex; the entries are malloc'd and freed with their last
 * stream). */
apr_status_t tw_peers_create(apr_pool_t *p, tw_peers **out);

/* Count one more stream for `addr`, unless it holds `max` already (0: no cap, count the
 * total only). Returns the counter to release when the stream ends, or NULL when the address
 * is at its cap (or out of memory: the caller refuses the stream either way). O(1): one lock,
 * one hash lookup; without a cap one atomic operation. */
tw_peer *tw_peers_acquire(tw_peers *t, const char *addr, unsigned max);

/* One stream of this counter's address has ended. O(1): one lock. */
void tw_peers_release(tw_peer *peer);

/* Streams held now, every address's. One atomic load. */
long tw_peers_total(tw_peers *t);

/* Streams `addr` holds now, with a cap (for tests and logs). One lock. */
unsigned tw_peers_count(tw_peers *t, const char *addr);

#endif
