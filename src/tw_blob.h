/* tw_blob: an immutable byte string shared by reference count. One type for everything a child
 * renders once and hands to many readers: the SSE frame of a post (held by the hub's ring, the
 * socket engine's ring and streams being written) and the rendering of the feed page (held by
 * the page cache and responses being written). httpd-free. */
#ifndef TW_BLOB_H
#define TW_BLOB_H

#include <stdatomic.h>
#include <stddef.h>

typedef struct tw_blob {
    atomic_uint refs;
    atomic_int withdrawn; /* 1: readers that have not sent it yet must not (see tw_blob_withdraw) */
    size_t len;
    char data[]; /* `len` bytes, then a NUL */
} tw_blob;

/* A new blob holding a copy of `len` bytes, with one reference (the caller's); NULL when out of
 * memory. One malloc. */
tw_blob *tw_blob_make(const void *data, size_t len);

/* Take one more reference; returns `b`. One atomic increment. */
tw_blob *tw_blob_ref(tw_blob *b);

/* Withdraw the blob: whoever has not sent it yet leaves it out (the frame of a deleted post).
 * One atomic store; any thread. */
static inline void tw_blob_withdraw(tw_blob *b)
{
    atomic_store_explicit(&b->withdrawn, 1, memory_order_relaxed);
}

static inline int tw_blob_withdrawn(const tw_blob *b)
{
    return atomic_load_explicit(&((tw_blob *)b)->withdrawn, memory_order_relaxed);
}

/* Drop one reference (NULL is ignored); the last one frees the blob. Any thread. */
void tw_blob_release(tw_blob *b);

#endif
