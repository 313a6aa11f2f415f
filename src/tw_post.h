/* tw_post: one stored post, as read from the Redis stream or a broadcast. httpd-free. */
#ifndef TW_POST_H
#define TW_POST_H

#include "tw_id.h"

#include <stddef.h>

typedef struct tw_post {
    tw_id id;         /* stream id; id.ms is the time Redis stored the post */
    const char *user; /* the author's display name */
    size_t user_len;
    const char *msg;
    size_t msg_len;
    /* The author's identity ("c:<identity>" from the cookie, "u:<user>" from Apache), and the
     * tag shown beside the name (src/tw_identity); both empty (len 0) for a post stored before
     * posts had identities, and the tag for an Apache user. */
    const char *author;
    size_t author_len;
    const char *tag;
    size_t tag_len;
    /* What the store vouches came before it, for a subscription's posts (else 0): with has_prev
     * set, no post lies between `prev` and this one (prev is the post delivered before it, or
     * the entry the stream ended with when this one was added). */
    tw_id prev;
    int has_prev;
} tw_post;

#endif
