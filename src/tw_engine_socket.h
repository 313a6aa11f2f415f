/* tw_engine_socket: the socket delivery engine (tw_engine). One thread per child process owns the
 * sockets of the streams it adopted (duplicates of the client sockets, non-blocking), watches
 * them with epoll for hang-ups and room to write, and writes each new frame of the hub to every
 * one of them itself, several frames per sendmsg. An open stream then holds no worker thread and
 * no Apache pool: a small record, the part of its replay not yet written (bounded by the
 * handler: TweetsseMaxResume posts), and its kernel socket buffers. Its backlog is bounded: a
 * stream more than a ring behind is closed (TW0601), and so is one whose socket has taken no byte
 * for a keepalive interval while its replay or frames wait (TW0602); a slow reader that still
 * takes bytes is kept. A stream it ends that way, or at a graceful stop, is first sent a
 * "retry:" with a random part (its outlet's retry_ms and retry_jitter_ms), when the socket takes it
 * between two frames, so that its clients do not all come back at once. An idle stream gets a ":
 * ping" comment after a keepalive interval of silence. Linux (epoll, eventfd); httpd-free. */
#ifndef TW_ENGINE_SOCKET_H
#define TW_ENGINE_SOCKET_H

#include "tw_engine.h"
#include "tw_hub.h"
#include "tw_log.h"

typedef struct tw_engine_socket_conf {
    tw_hub *hub;
    apr_interval_time_t keepalive; /* silence before a ping; no progress before a cut */
    unsigned max_streams;          /* capacity: tw_engine_ops.full beyond it */
    const tw_log *log;
    tw_metrics_child *metrics; /* open streams, frames written, cuts; NULL: none kept */
} tw_engine_socket_conf;

/* Start the engine and its thread, state in `p` (which must outlive the thread; a cleanup of
 * `p` releases what the thread left once it has stopped). follow() adopts a raw outlet (o->raw,
 * o->fd >= 0): it duplicates the descriptor, which the engine then owns and closes, and copies
 * o->pending, which it writes first; everything written before must already be on the socket,
 * and nothing may be written to the original afterwards. It declines anything else, when it cannot
 * duplicate (the descriptor limit), and once its thread has ended; while stopping (graceful stop)
 * it answers TW_ENGINE_STOPPING. */
apr_status_t tw_engine_socket_create(apr_pool_t *p, const tw_engine_socket_conf *cf,
                                     tw_engine **out);

#endif
