/* mod_tweetsse_health: GET of the health check a load balancer asks (home/health). */
#ifndef MOD_TWEETSSE_HEALTH_H
#define MOD_TWEETSSE_HEALTH_H

#include "mod_tweetsse_config.h"

/* 200 "ok" once a canary sent through the store came back to this child's subscription (see
 * tw_store_probe), within TweetsseRedisTimeout (at most TW_HEALTH_MAX); else 503 with the
 * reason, one line of text. Blocks for that round trip. */
int tw_handle_health(request_rec *r, tw_srv_conf *c); /* GET or HEAD; the router checks */

#endif
