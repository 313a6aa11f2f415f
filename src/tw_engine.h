/* tw_engine: who writes an open stream's live events, as a table of functions. A stream's
 * handler sends the headers and the replay itself, then gives the stream to an engine; the two
 * engines are named as TweetsseDelivery names them:
 *  - socket (tw_engine_socket.c): one thread per child writes every stream it adopted straight
 *    to the socket, without blocking; the handler's worker thread is free at once.
 *  - thread (tw_engine_thread.c): the handler's worker thread stays with its stream and writes
 *    through the caller's writer (Apache's output filters); for what the socket engine cannot
 *    write (TLS, HTTP/2, content filters) and for TweetsseDelivery thread.
 * Both first send the outlet's pending bytes (the replay the handler read from the store), then
 * follow the hub's ring from the position the handler joined at, send each frame due after the
 * handler's last post (tw_frame_due), close a stream that fell a ring behind (tw_ring_lagged)
 * and send keepalive comments. httpd-free. */
#ifndef TW_ENGINE_H
#define TW_ENGINE_H

#include "tw_id.h"

#include <apr_time.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tw_engine tw_engine;

/* The caller's way to its client, for an engine that writes in the caller's thread. */
typedef struct tw_writer {
    /* Queue bytes for the client; no I/O yet. */
    void (*write)(void *ctx, const char *data, size_t len);
    /* Send what is queued; may block (up to the server's timeout). Returns 0, or -1 once the
     * client is gone. */
    int (*flush)(void *ctx);
    /* Is the server process stopping? (prefork says so only through its MPM state.) */
    int (*stopping)(void *ctx);
    void *ctx;
} tw_writer;

/* One open stream, as the handler hands it over. */
typedef struct tw_outlet {
    int fd;                  /* the client's socket, -1 if unknown */
    int raw;                 /* 1: bytes written to fd are the response as is (no TLS, no
                                HTTP/2, no filter, close-delimited) */
    const tw_writer *writer; /* writing through the caller */
    uint64_t next;           /* ring position to start at (tw_hub_join) */
    tw_id after;             /* the last post the client has (in the replay, or resumed) */
    const char *pending;     /* bytes to send before the first frame (the replay), or NULL; an
                                engine that adopts the stream copies them */
    size_t pending_len;
    unsigned retry_ms;        /* a stream the engine ends itself (stop, lag, stall) is told to */
    unsigned retry_jitter_ms; /* reconnect after retry_ms + [0, jitter) ms (tw_sse_jitter) */
    /* Called once, from the engine's thread, when an engine that adopted the stream
       (TW_ENGINE_ADOPTED) lets it go; NULL for none. A stream the engine did not adopt stays
       the caller's, and so does this release. */
    void (*done)(void *ctx);
    void *done_ctx;
} tw_outlet;

typedef enum {
    TW_ENGINE_ADOPTED,  /* the engine owns the stream now; the caller must not write to it */
    TW_ENGINE_DECLINED, /* this engine cannot take it (not raw; no descriptor): try another */
    TW_ENGINE_GONE,     /* the stream ended: the client left or a write failed */
    TW_ENGINE_LAGGED,   /* the stream ended: it fell a ring behind; the client resumes */
    TW_ENGINE_STOPPING, /* the stream ended, or was refused: the child is stopping */
    TW_ENGINE_LOST,     /* the stream ended: the hub let every stream go (its store is lost) */
} tw_engine_result;

typedef struct tw_engine_ops {
    const char *name;
    /* Is the engine at its capacity? Asked before a stream starts, so that it can be refused
     * with a 503 instead of failing later. A stream counts from its follow, so streams starting
     * at once may each pass: the bound is soft by at most the worker threads, which the child's
     * open-files reserve covers. O(1). */
    int (*full)(tw_engine *e);
    /* Take the stream: either adopt it and return at once, or follow it in the calling thread
     * until it ends. */
    tw_engine_result (*follow)(tw_engine *e, const tw_outlet *o);
    /* Graceful stop: let every stream go now (clients reconnect, with Last-Event-ID, to a
     * child that stays) and take no new one. Async-signal-safe. */
    void (*stopping)(tw_engine *e);
    /* As stopping, and end the engine's thread, if it has one. Async-signal-safe. */
    void (*stop)(tw_engine *e);
    /* Wait up to `timeout` until the engine's thread has ended; 1 once it has, or if there is
     * none. Async-signal-safe. */
    int (*stopped)(tw_engine *e, apr_interval_time_t timeout);
} tw_engine_ops;

/* Every implementation starts with this. */
struct tw_engine {
    const tw_engine_ops *ops;
};

static inline const char *tw_engine_name(const tw_engine *e)
{
    return e->ops->name;
}

static inline int tw_engine_full(tw_engine *e)
{
    return e->ops->full(e);
}

static inline tw_engine_result tw_engine_follow(tw_engine *e, const tw_outlet *o)
{
    return e->ops->follow(e, o);
}

static inline void tw_engine_stopping(tw_engine *e)
{
    e->ops->stopping(e);
}

static inline void tw_engine_stop(tw_engine *e)
{
    e->ops->stop(e);
}

static inline int tw_engine_stopped(tw_engine *e, apr_interval_time_t timeout)
{
    return e->ops->stopped(e, timeout);
}

#endif
