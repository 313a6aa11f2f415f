/* mod_tweetsse_visitor: who the visitor is: a stable fake name kept in the tw_name cookie
 * (names and cookie values are made and read by the core, src/tw_name). */
#ifndef MOD_TWEETSSE_VISITOR_H
#define MOD_TWEETSSE_VISITOR_H

#include "mod_tweetsse.h"

/* The visitor's name from the tw_name cookie, or a new one, sent back in a Set-Cookie scoped to
 * `mount`. */
const char *tw_visitor_name(request_rec *r, const char *mount);

#endif
