/* mod_tweetsse_publish: POST of a new post (form or JSON). */
#ifndef MOD_TWEETSSE_PUBLISH_H
#define MOD_TWEETSSE_PUBLISH_H

#include "mod_tweetsse_config.h"

/* Validate and store the post; answer 201/204/303, or refuse with a reason in the request's own
 * format. Nothing is stored unless every check passes. `mount` is where the page lives. */
int tw_handle_publish(request_rec *r, tw_srv_conf *c, const char *mount);

#endif
