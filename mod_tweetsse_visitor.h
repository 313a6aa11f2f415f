/* mod_tweetsse_visitor: who the visitor is. With TweetsseIdentity cookie, an identity of 128
 * random bits and a display name, in the tw_name cookie signed so that nobody can claim
 * another's (identities, names and signatures are made and checked by the core: src/tw_identity,
 * src/tw_name, src/tw_sign); with TweetsseIdentity remote-user, the user an Apache
 * authentication module established. */
#ifndef MOD_TWEETSSE_VISITOR_H
#define MOD_TWEETSSE_VISITOR_H

#include "mod_tweetsse_config.h"

typedef struct tw_visitor {
    const char *name; /* shown as the author */
    const char *id;   /* who posts: "c:<identity>" (cookie) or "u:<user>" (remote user) */
    const char *tag;  /* shown beside the name: the identity's tag; "" for a remote user */
} tw_visitor;

/* The visitor for the page. Cookie: the first tw_name cookie that verifies, or a new identity
 * with the name derived from it; a new or re-signed cookie (it verified only under the previous
 * secret, or carried a name without an identity: that visitor keeps the name and gets an
 * identity) goes into r->headers_out, scoped to `mount`, HttpOnly, SameSite=Lax, and Secure
 * when the client uses https; headers_out, so that no error response carries it. Remote user:
 * r->user. Returns 0 when there is nobody (no user, or one that cannot be a name). O(length of
 * the Cookie header); a new identity costs 16 random bytes and a SHA-256. */
int tw_visitor_get(request_rec *r, const tw_srv_conf *c, const char *mount, tw_visitor *out);

/* The verified author of a POST into `out`, or 0 with *why (for a 403). A cookie without an
 * identity (signed before identities existed) is given one here, as by tw_visitor_get; any
 * other cookie is left as it is. */
int tw_visitor_author(request_rec *r, const tw_srv_conf *c, const char *mount, tw_visitor *out,
                      const char **why);

#endif
