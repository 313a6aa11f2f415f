#include "tw_ring.h"

#include <string.h>

void tw_ring_init(tw_ring *r)
{
    memset(r, 0, sizeof(*r));
}

void tw_ring_push(tw_ring *r, tw_frame f)
{
    tw_frame *slot = &r->slot[r->head % TW_RING_SIZE];
    tw_blob_release(slot->bytes);
    *slot = f;
    r->head++;
}

uint64_t tw_ring_sync(tw_ring *copy, const tw_ring *src)
{
    uint64_t from = copy->head;
    if (src->head - from > TW_RING_SIZE)
        from = src->head - TW_RING_SIZE;
    for (uint64_t seq = from; seq < src->head; seq++) {
        tw_frame f = *tw_ring_at(src, seq);
        tw_blob_ref(f.bytes);
        tw_frame *slot = &copy->slot[seq % TW_RING_SIZE];
        tw_blob_release(slot->bytes);
        *slot = f;
    }
    uint64_t n = src->head - copy->head;
    copy->head = src->head;
    return n;
}

void tw_ring_clear(tw_ring *r)
{
    for (size_t i = 0; i < TW_RING_SIZE; i++) {
        tw_blob_release(r->slot[i].bytes);
        r->slot[i].bytes = NULL;
    }
}
