/* mod_tweetsse_child: each child process's runtime. For every distinct feed (src/tw_feed: Redis
 * target, keys and the settings that shape a runtime) the child runs one store (the Redis
 * store: connection pool and subscriber thread), one hub (the ring of rendered frames) and the
 * delivery engines (socket, with its thread; thread, in the streams' worker threads); virtual
 * hosts with the same feed share them. Started in child_init, let go of streams in
 * child_stopping, stopped in a pchild cleanup. */
#ifndef MOD_TWEETSSE_CHILD_H
#define MOD_TWEETSSE_CHILD_H

#include "mod_tweetsse_config.h"
#include "src/tw_engine.h"
#include "src/tw_hub.h"
#include "src/tw_peers.h"
#include "src/tw_store.h"

typedef struct tw_runtime {
    tw_store *store;
    tw_hub *hub;
    tw_engine *socket; /* NULL with TweetsseDelivery thread, or if it could not start */
    tw_engine *thread; /* always there: TLS, HTTP/2 and filtered streams need it */
    tw_log log;
    struct tw_runtime *next;
    tw_peers *peers; /* open streams per client address (TweetsseMaxStreamsPerAddress) */
} tw_runtime;

/* child_init: the runtimes and page caches of every virtual host. */
void tw_child_init(apr_pool_t *pchild, server_rec *s);

/* A descriptor that becomes readable when the child starts to stop (and stays so), for waits
 * that must end then; -1 if there is none. */
int tw_child_stop_fd(void);

/* child_stopping: let every open stream go, so browsers resume on a child that stays.
 * Async-signal-safe (prefork runs it in its SIGTERM handler). */
void tw_child_stopping(apr_pool_t *pchild, int graceful);

#endif
