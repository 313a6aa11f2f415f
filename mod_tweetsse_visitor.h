/* mod_tweetsse_visitor: who the visitor is. With TweetsseIdentity cookie, a stable fake name
 * kept in the tw_name cookie, signed so that nobody can claim another's name (names and
 * signatures are made and checked by the core, src/tw_name and src/tw_sign); with
 * TweetsseIdentity remote-user, the user an Apache authentication module established. */
#ifndef MOD_TWEETSSE_VISITOR_H
#define MOD_TWEETSSE_VISITOR_H

#include "mod_tweetsse_config.h"

/* The name for the page. Cookie: the name of the first tw_name cookie that verifies, or a
 * new one; a new or re-signed (it verified only under the previous secret) cookie goes into
 * r->headers_out, scoped to `mount`, HttpOnly, SameSite=Lax, and Secure when the client uses
 * https; headers_out, so that no error response carries it. Remote user: r->user, or NULL
 * when there is none (or it is not a valid name). O(length of the Cookie header). */
const char *tw_visitor_name(request_rec *r, const tw_srv_conf *c, const char *mount);

/* The verified author of a POST, or NULL with *why (for a 403) set. Never sets a cookie. */
const char *tw_visitor_author(request_rec *r, const tw_srv_conf *c, const char **why);

#endif
