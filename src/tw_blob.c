#include "tw_blob.h"

#include <stdlib.h>
#include <string.h>

tw_blob *tw_blob_make(const void *data, size_t len)
{
    tw_blob *b = malloc(sizeof(*b) + len + 1);
    if (!b)
        return NULL;
    atomic_init(&b->refs, 1);
    atomic_init(&b->withdrawn, 0);
    b->len = len;
    if (len)
        memcpy(b->data, data, len);
    b->data[len] = '\0';
    return b;
}

tw_blob *tw_blob_ref(tw_blob *b)
{
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

void tw_blob_release(tw_blob *b)
{
    /* acq_rel: the last owner must see every write the others made before letting go. */
    if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
        free(b);
}
