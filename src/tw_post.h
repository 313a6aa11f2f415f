/* tw_post: one post, as read from the log (a Redis stream entry) or heard in an announcement.
 * httpd-free. */
#ifndef TW_POST_H
#define TW_POST_H

#include "tw_id.h"

#include <stddef.h>

typedef struct tw_post {
    tw_id id;         /* its id in the log; id.ms is the time Redis stored it */
    const char *user; /* the author's display name */
    size_t user_len;
    const char *msg;
    size_t msg_len;
    /* The author's identity ("c:<identity>" from the cookie, "u:<user>" from Apache); empty
     * (len 0) for a post stored before posts had identities. The tag and the author marker the
     * page shows are derived from it (src/tw_identity). */
    const char *author;
    size_t author_len;
    long likes; /* its count of likes, where the reader asked for it (pages); else 0 */
} tw_post;

#endif
