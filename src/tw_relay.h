/* tw_relay: the worker-thread delivery engine (tw_engine). The thread that served the stream's
 * request stays with it: it waits in epoll on the hub's bell, its client's socket (a hang-up
 * ends the stream at once) and the engine's stop latch, takes references to the new frames, and
 * writes them through the caller's writer (Apache's output filters: TLS, HTTP/2 and content
 * filters see every byte). A keepalive comment goes out after a keepalive interval of silence.
 * Each open stream holds a worker thread and one epoll descriptor. httpd-free. */
#ifndef TW_RELAY_H
#define TW_RELAY_H

#include "tw_engine.h"
#include "tw_hub.h"
#include "tw_log.h"

typedef struct tw_relay_conf {
    tw_hub *hub;
    apr_interval_time_t keepalive;
    const tw_log *log;
} tw_relay_conf;

/* The engine, state in `p`. It has no thread of its own; follow() returns when its stream ends
 * (TW_ENGINE_GONE, _LAGGED or _STOPPING). */
apr_status_t tw_relay_create(apr_pool_t *p, const tw_relay_conf *cf, tw_engine **out);

/* The engine's stop latch: readable from its first stop on, for waits that must end then
 * (tw_hub_wait_ready). */
int tw_relay_stop_fd(tw_engine *e);

#endif
