/* tw_ring: the newest TW_RING_SIZE frames of a child's live feed, by sequence number. Each slot
 * holds one reference to its frame's bytes. The hub keeps one ring under its lock; the socket
 * engine keeps its own copy, owned by its thread, so it can write to thousands of sockets
 * without holding the hub's lock. The rule for a reader that fell behind lives here only
 * (tw_ring_lagged). Not thread-safe by itself; httpd-free. */
#ifndef TW_RING_H
#define TW_RING_H

#include "tw_blob.h"
#include "tw_id.h"

#include <stdint.h>

#define TW_RING_SIZE 1024 /* frames kept per child: a reader this far behind has lost frames */

/* One frame of the live feed: an SSE event, rendered once. */
typedef struct tw_frame {
    tw_blob *bytes; /* the event as sent on the wire */
    tw_id id;       /* event id: a stream skips frames not newer than what it was sent */
    int control;    /* TW_FRAME_POST, or a control frame for every stream whatever its position */
} tw_frame;

enum {
    TW_FRAME_POST = 0, /* a post */
    TW_FRAME_CONTROL,  /* an event for every stream (reload) */
    TW_FRAME_LAST,     /* the same, and the stream ends once it is written (the store is lost) */
};

typedef struct tw_ring {
    tw_frame slot[TW_RING_SIZE]; /* frame `seq` is in slot[seq % TW_RING_SIZE] */
    uint64_t head;               /* sequence number of the next frame pushed */
} tw_ring;

/* Is frame `f` due to a stream that was last sent event `after` (or resumed after it)? The one
 * rule that keeps an event from reaching a stream twice (replay and ring overlap), and a deleted
 * post's frame from reaching one that has not got it yet (withdrawn). */
static inline int tw_frame_due(const tw_frame *f, tw_id after)
{
    return f->control || (tw_id_cmp(f->id, after) > 0 && !tw_blob_withdrawn(f->bytes));
}

/* An empty ring whose first frame will have sequence number 0. */
void tw_ring_init(tw_ring *r);

/* Append `f`: the ring takes over its reference and releases the frame it overwrites. O(1). */
void tw_ring_push(tw_ring *r, tw_frame f);

/* Is a reader whose next frame is `seq` more than a ring behind, that is, have frames it has
 * not read been overwritten? O(1). */
static inline int tw_ring_lagged(const tw_ring *r, uint64_t seq)
{
    return r->head - seq > TW_RING_SIZE;
}

/* The frame with sequence number `seq`, which must be in [head - TW_RING_SIZE, head) and at
 * least 0. No reference is taken. */
static inline const tw_frame *tw_ring_at(const tw_ring *r, uint64_t seq)
{
    return &r->slot[seq % TW_RING_SIZE];
}

/* Bring `copy` up to `src`: take a reference to each frame `src` got since copy->head (at most
 * the last TW_RING_SIZE of them), releasing what they overwrite in `copy`. Returns the number of
 * new frames. Cost: one atomic increment per frame copied. */
uint64_t tw_ring_sync(tw_ring *copy, const tw_ring *src);

/* Release every frame. */
void tw_ring_clear(tw_ring *r);

#endif
