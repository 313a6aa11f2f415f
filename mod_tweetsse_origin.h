/* mod_tweetsse_origin: the request as the client made it (scheme and host, through the
 * proxies TweetsseTrustedProxy names), and the same-origin rule for POSTs (src/tw_origin). */
#ifndef MOD_TWEETSSE_ORIGIN_H
#define MOD_TWEETSSE_ORIGIN_H

#include "mod_tweetsse_config.h"

/* Did the client use https: this connection is TLS, or a trusted proxy says
 * X-Forwarded-Proto: https? */
int tw_origin_https(request_rec *r, const tw_srv_conf *c);

/* NULL if the POST may come from where it does, else the reason for a 403. Cost: a few header
 * lookups, and a match of the peer address against the trusted proxies. */
const char *tw_origin_refusal(request_rec *r, const tw_srv_conf *c);

#endif
