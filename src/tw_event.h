/* tw_event: one event of a feed's log, in the one order of its ids: a post, the deletion of a
 * post (by its author or a moderator), or a post's new count of likes. Everything that carries
 * the feed carries events: the store's log and its announcements, the hub's ring, the engines,
 * the resume. httpd-free. */
#ifndef TW_EVENT_H
#define TW_EVENT_H

#include "tw_post.h"

typedef enum {
    TW_EVENT_POST,   /* a new post: `post` */
    TW_EVENT_DELETE, /* `target` was deleted: by its author, or by a moderator */
    TW_EVENT_COUNT,  /* `target` has `count` likes now */
} tw_event_kind;

typedef struct tw_event {
    tw_event_kind kind;
    tw_id id; /* its id in the log (a post's is the post's) */
    /* What the store vouches came before it, for a subscription's events (else 0): with
     * has_prev set, no entry lies between `prev` and this one (prev is the event delivered
     * before it, or the entry the log ended with when this one was added). */
    tw_id prev;
    int has_prev;
    tw_post post;     /* POST */
    tw_id target;     /* DELETE, COUNT: the post it is about */
    long count;       /* COUNT */
    int by_moderator; /* DELETE: 1 when a moderator removed it, 0 when its author deleted it */
} tw_event;

#endif
