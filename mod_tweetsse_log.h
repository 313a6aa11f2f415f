/* mod_tweetsse_log: the bridge from the core's injected log (src/tw_log) to the error log of a
 * server, under the module's own LogLevel. */
#ifndef MOD_TWEETSSE_LOG_H
#define MOD_TWEETSSE_LOG_H

#include "mod_tweetsse.h"
#include "src/tw_log.h"

/* A tw_log that writes to `s`'s error log as this module. */
tw_log tw_log_for_server(server_rec *s);

#endif
