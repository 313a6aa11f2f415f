/* tw_pump: the socket delivery engine. One thread per child process owns the sockets of the
 * open streams handed to it, watches them with epoll for hang-ups and writability, and
 * writes each new hub frame to every one of them itself, without blocking. An open stream
 * then holds no worker thread and no Apache pool: only a small record and its kernel socket
 * buffers. A subscriber more than a ring of frames behind, or whose socket has taken no byte
 * for a keepalive interval while frames wait, is closed; its client resumes with
 * Last-Event-ID. Linux (epoll). */
#ifndef TW_PUMP_H
#define TW_PUMP_H

#include "tw_hub.h"

#include <apr_pools.h>
#include <apr_time.h>
#include <httpd.h>

typedef struct tw_pump tw_pump;

/* Start the pump thread of this child, following `hub`; a keepalive comment goes to each
 * stream that has had no write for `keepalive`; at most `max_streams` streams (see
 * tw_pump_full). The thread is stopped and every stream closed by a cleanup of `pchild`. */
apr_status_t tw_pump_start(apr_pool_t *pchild, server_rec *s, tw_hub *hub,
                           apr_interval_time_t keepalive, unsigned max_streams, tw_pump **out);

/* Does this child hold its maximum of streams? Checked before a stream starts, so that it
 * can be refused with a 503 instead of failing on a descriptor later. Logs a warning at most
 * once a minute. O(1). */
int tw_pump_full(tw_pump *p);

/* Hand over the stream on socket `fd`: a duplicate the pump will own and close. Everything
 * written before must already be on the socket (flushed), and nothing may be written to the
 * original descriptor afterwards. Delivery starts at ring position `next` (from tw_hub_join) and
 * skips posts not newer than `after`. Returns APR_SUCCESS, or APR_EOF if the pump is
 * stopping, in which case `fd` is left to the caller. O(1); the pump thread does the rest. */
apr_status_t tw_pump_adopt(tw_pump *p, int fd, apr_uint64_t next, tw_id after);

/* Graceful stop: close every stream now (clients reconnect elsewhere) and refuse new ones.
 * Async-signal-safe (prefork calls it from a signal handler). */
void tw_pump_stopping(tw_pump *p);

#endif
