/* tw_hub: a child process's fan-out of the live feed. It listens to the store's subscription
 * (tw_hub_listener), renders each new event (a post, a deletion, a count of likes) once with the
 * injected renderer, and appends the frame to its ring of the newest TW_RING_SIZE frames; a
 * deletion also withdraws its post's frame from the ring, so that no stream that has not been
 * sent the post yet (a resume from before it) gets it. When the store is lost, it pushes a last
 * frame (TW_FRAME_LAST) that ends every stream, and admits no new one until the store is up. The
 * delivery engines follow the ring: the socket engine copies new frames into its own ring
 * (tw_hub_sync) when told of them (tw_hub_notify); worker threads take references to the frames
 * after their position (tw_hub_take) and wait for more on the hub's bell (tw_hub_watch). No Redis,
 * no HTML, no thread of its own: the store's thread drives it. httpd-free. */
#ifndef TW_HUB_H
#define TW_HUB_H

#include "tw_log.h"
#include "tw_ring.h"
#include "tw_metrics.h"
#include "tw_store.h"

#include <apr_pools.h>
#include <apr_time.h>
#include <stdint.h>

typedef struct tw_hub tw_hub;

/* How frames are made; the hub calls these from its listener calls (one at a time, by the
 * store's contract), outside its lock. */
typedef struct tw_hub_renderer {
    /* The SSE event of one event of the log: a new blob with one reference, or NULL (out of
     * memory). */
    tw_blob *(*event)(void *ctx, const tw_event *ev);
    /* The event that tells every open page to reload (posts were lost in an outage). */
    tw_blob *(*reload)(void *ctx);
    /* The last bytes of every stream when the store is lost (the streams then end). */
    tw_blob *(*closing)(void *ctx);
    void *ctx;
} tw_hub_renderer;

/* A hub in `p` (its lock; the ring's frames are released by a cleanup of `p`). */
apr_status_t tw_hub_create(apr_pool_t *p, const tw_hub_renderer *render, const tw_log *log,
                           tw_hub **out);

/* Report into the child's metrics `c` (tw_metrics): frames pushed, the last post, the delivery
 * lag of each post, the subscription's state. Before tw_store_subscribe; without it, none. */
void tw_hub_metrics(tw_hub *h, tw_metrics_child *c);

/* The listener to hand to tw_store_subscribe: events become frames, a gap becomes a reload frame,
 * up and down move the generation and readiness. */
const tw_store_listener *tw_hub_listener(tw_hub *h);

/* Wait up to `timeout` until the hub has had its first subscription (from then on it misses no
 * post: the store fills gaps, or a reload frame says where it could not). Returns early, with
 * 0, when `cancel_fd` (if >= 0; e.g. an engine's stop latch) becomes readable. Returns 1 when
 * ready. */
int tw_hub_wait_ready(tw_hub *h, apr_interval_time_t timeout, int cancel_fd);

/* The sequence number of the next frame: a reader that starts here sees only frames pushed
 * from now on. One lock. */
uint64_t tw_hub_join(tw_hub *h);

/* As tw_hub_join, unless the store is lost (from the listener's `lost` until the next `up`):
 * then returns 0 and the stream must not start (it would wait for posts that cannot come).
 * Returns 1 with *next set otherwise. One lock. */
int tw_hub_admit(tw_hub *h, uint64_t *next);

/* Join the ring at the resume point `after` instead of the head, when the ring provably holds
 * every post newer than `after`, and `after` is not newer than its newest post: since the newest
 * discontinuity (the child's start, a control
 * frame, a post the hub could not render, or a post the store did not vouch follows the one
 * before it: an entry another program added unannounced), at or after the oldest post it still
 * holds. Then returns 1 with *next the position of the first post newer than `after` (the
 * head if none) and *behind how many posts follow it: a stream that starts there gets each
 * post after `after` once, in order. Returns 0 otherwise (and while the store is lost): the caller
 * replays from the store. One lock, O(log TW_RING_SIZE). */
int tw_hub_join_at(tw_hub *h, tw_id after, uint64_t *next, uint64_t *behind);

/* Take references to the frames from *next on (at most `max`, oldest first) into `out` and
 * advance *next past them. Returns how many, or -1 if the reader is more than a ring behind
 * (tw_ring_lagged: it must close and let its client resume). One lock, one atomic increment
 * per frame; the caller releases each frame's bytes. */
int tw_hub_take(tw_hub *h, uint64_t *next, tw_frame *out, int max);

/* Bring `copy` (the socket engine's ring) up to the hub's ring; see tw_ring_sync. One lock. */
uint64_t tw_hub_sync(tw_hub *h, tw_ring *copy);

/* Call `fn(ctx)` after each new frame, from the store's thread with the hub locked: `fn` must be
 * quick (a wake-up) and must not call back into the hub. One callback; NULL removes it, and
 * once that returns no call is running. */
void tw_hub_notify(tw_hub *h, void (*fn)(void *ctx), void *ctx);

/* Add the hub's bell to the epoll set `epfd`, edge-triggered: every change of the hub (a frame,
 * readiness, generation) from now on raises one event in it, until tw_hub_unwatch. The bell is
 * never read, so any number of epoll sets can watch it. The bell is only written while someone
 * watches. Returns an APR status. */
apr_status_t tw_hub_watch(tw_hub *h, int epfd);
void tw_hub_unwatch(tw_hub *h, int epfd);

/* A number that changes whenever the hub's view of the feed may have changed: each frame, each
 * (re)subscription and loss. 0 while the subscription is down (the view cannot be trusted then).
 * Something read from the store after taking a non-zero generation G is current for as long as
 * the generation stays G, except for entries written to the store without an announcement.
 * One lock. */
uint64_t tw_hub_generation(tw_hub *h);

#endif
