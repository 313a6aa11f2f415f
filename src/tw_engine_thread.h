/* tw_engine_thread: the worker-thread delivery engine (tw_engine). The thread that served the
 * stream's request stays with it: it waits in epoll on the hub's bell, its client's socket (a
 * hang-up ends the stream at once; see below for HTTP/2) and the engine's stop latch, takes
 * references to the new frames, and writes them through the caller's writer (Apache's output
 * filters: TLS, HTTP/2 and content filters see every byte). A keepalive comment goes out after a
 * keepalive interval of silence. An HTTP/2 stream has no socket of its own to watch (the session's
 * is shared): its end is seen at the next write, a keepalive at the latest. Each open stream holds
 * a worker thread and one epoll descriptor. httpd-free. */
#ifndef TW_ENGINE_THREAD_H
#define TW_ENGINE_THREAD_H

#include "tw_engine.h"
#include "tw_hub.h"
#include "tw_log.h"

typedef struct tw_engine_thread_conf {
    tw_hub *hub;
    apr_interval_time_t keepalive;
    const tw_log *log;
    tw_metrics_child *metrics; /* open streams, frames written, cuts; NULL: none kept */
} tw_engine_thread_conf;

/* The engine, state in `p`. It has no thread of its own; follow() returns when its stream ends
 * (TW_ENGINE_GONE, _LAGGED or _STOPPING). */
apr_status_t tw_engine_thread_create(apr_pool_t *p, const tw_engine_thread_conf *cf,
                                     tw_engine **out);

#endif
