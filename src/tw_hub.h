/* tw_hub: the per-child fan-out. One thread per child process holds the child's only Redis
 * SUBSCRIBE connection, renders each announced post once into an SSE frame, and appends it
 * to an in-memory ring of recent frames. Stream handlers follow the ring at their own pace.
 * A handler that falls a whole ring behind is told so and closes; its client resumes with
 * Last-Event-ID. When the subscription drops, the thread reconnects with backoff and fills
 * the gap from the stream, so the ring never misses a post. */
#ifndef TW_HUB_H
#define TW_HUB_H

#include "tw_id.h"
#include "tw_store.h"

#include <apr_time.h>
#include <httpd.h>

typedef struct tw_hub tw_hub;

#define TW_HUB_RING 1024 /* frames kept per child; a reader this far behind is dropped */

/* One rendered SSE frame, immutable once published and shared by reference: the ring holds
 * one reference, and a delivery engine may take more (tw_hub_collect). */
typedef struct tw_frame {
    apr_uint32_t refs;
    int control; /* 1: delivered to every reader regardless of id (reload) */
    tw_id id;
    size_t len;
    char data[];
} tw_frame;

/* Drop one reference; the last one frees the frame. Thread-safe. */
void tw_frame_release(tw_frame *f);

/* A reader's position in the ring; lives in the request pool. */
typedef struct tw_sub {
    tw_hub *hub;
    apr_uint64_t next; /* sequence number of the next frame to read */
} tw_sub;

typedef enum {
    TW_HUB_EVENTS,   /* frames were handed to the sink */
    TW_HUB_TIMEOUT,  /* nothing new within the timeout */
    TW_HUB_LAGGED,   /* the reader fell more than a ring behind: close and let it resume */
    TW_HUB_STOPPING, /* the child is stopping: close so the client reconnects elsewhere */
} tw_hub_status;

/* Receives one frame; called with the hub locked, so it must only copy. */
typedef void tw_hub_sink(void *ctx, const char *frame, size_t len);

/* Start the hub thread of this child. The hub is stopped and its thread joined by a
 * cleanup of `pchild`. */
apr_status_t tw_hub_start(apr_pool_t *pchild, server_rec *s, tw_store *store, tw_hub **out);

/* Make every current and future wait return TW_HUB_STOPPING (graceful stop). Never blocks
 * for long: if the lock stays taken (prefork calls this from a signal handler), only the
 * flag is set, and waiters see it at the end of their wait. */
void tw_hub_stopping(tw_hub *h);

/* Begin reading at the ring's head: only frames published from now on are seen. O(1). */
void tw_hub_join(tw_hub *h, tw_sub *sub);

/* Wait up to `timeout` for the hub's first subscription (its baseline, from which on it
 * misses nothing). Returns 1 when ready. */
int tw_hub_wait_ready(tw_hub *h, apr_interval_time_t timeout);

/* Wait up to `timeout` for frames after sub->next, then hand each frame whose post id is
 * greater than *after to `sink`, advancing *after. Control frames (reload) always pass.
 * Cost: one lock, plus a copy of each new frame. */
tw_hub_status tw_hub_next(tw_sub *sub, apr_interval_time_t timeout, tw_id *after, tw_hub_sink *sink,
                          void *ctx);

/* A number that changes whenever the hub's view of the feed may have changed: each post
 * announced, each (re)subscription. 0 while the hub is not subscribed (its view cannot be
 * trusted). Something read from the stream after taking a non-zero generation G is current
 * for as long as the generation stays G, except for entries written without an announcement.
 * Cost: one lock. */
apr_uint64_t tw_hub_generation(tw_hub *h);

/* Copy references to the frames with sequence numbers in [from, head) into `out` (room for
 * TW_HUB_RING), oldest first, and return head. Frames already overwritten are skipped: the
 * first one copied has sequence number max(from, head - TW_HUB_RING). Cost: one lock and
 * one atomic increment per frame. */
apr_uint64_t tw_hub_collect(tw_hub *h, apr_uint64_t from, tw_frame **out);

/* Call `fn(ctx)` after each new frame, from the hub thread with the hub's lock held, so
 * once tw_hub_notify(h, NULL, NULL) returns no call is running or will run. `fn` must be
 * quick (a wake-up) and must not call back into the hub. */
void tw_hub_notify(tw_hub *h, void (*fn)(void *ctx), void *ctx);

#endif
