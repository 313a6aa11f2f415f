/* mod_tweetsse_stream: GET of the live stream (Server-Sent Events): headers, the resume point,
 * the replay of what the client missed, then the hand-over to a delivery engine (src/tw_engine). */
#ifndef MOD_TWEETSSE_STREAM_H
#define MOD_TWEETSSE_STREAM_H

#include "mod_tweetsse_config.h"

/* GET or HEAD of the live stream (the method is the router's to check). */
int tw_handle_stream(request_rec *r, tw_srv_conf *c);

#endif
