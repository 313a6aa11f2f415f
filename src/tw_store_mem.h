/* tw_store_mem: a tw_store in one process's memory, behind the same table as the Redis store. Ids
 * are made as Redis makes stream ids (milliseconds, then a sequence number within the same
 * millisecond); the history is trimmed to exactly `history` posts. A subscriber hears of each
 * post synchronously, in the publishing thread, under the store's lock (so in id order). Used
 * by the unit tests of the hub and the delivery engines, which need a store but no server.
 * An idempotency key holds while its post is retained; there are no rate limits (O(history)
 * per publish with a key). Linked into the tests only. httpd-free. */
#ifndef TW_STORE_MEM_H
#define TW_STORE_MEM_H

#include "tw_store.h"

/* A store in `p`; its posts are freed by a cleanup of `p`. */
apr_status_t tw_store_mem_create(apr_pool_t *p, long history, tw_store **out);

#endif
