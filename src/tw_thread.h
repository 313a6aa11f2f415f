/* tw_thread: a component's own thread, and the one stop model every component follows.
 *
 * A component that runs a thread (the socket engine, the Redis subscriber) has one atomic
 * state, which only moves forward: TW_RUN -> TW_STOPPING (graceful stop: let every client go,
 * take no new one) -> TW_EXIT (the thread must return). Moving it and waking the thread is an
 * atomic store and a write(2) to an eventfd, both async-signal-safe: prefork runs
 * child_stopping and the pchild cleanups inside its SIGTERM handler, on top of whatever the
 * interrupted thread was doing (possibly holding one of our locks).
 *
 * Waiting for the thread to end polls an eventfd the thread writes as its very last act, with
 * a deadline: also async-signal-safe, and bounded, so a stop never hangs on a thread that is
 * stuck (in a connect to an unreachable Redis, say). What the thread touches must therefore
 * never be freed while it may still run: the child runtime keeps such memory until the process
 * exits (see mod_tweetsse_child.c), tests free it only once tw_thread_wait returned 1.
 *
 * The thread starts with every signal blocked, so process signals (prefork's SIGTERM,
 * SIGUSR1) always reach the MPM's own thread, never ours. httpd-free. */
#ifndef TW_THREAD_H
#define TW_THREAD_H

#include <apr_errno.h>
#include <apr_time.h>
#include <stdatomic.h>

typedef enum { TW_RUN = 0, TW_STOPPING = 1, TW_EXIT = 2 } tw_state;

typedef struct tw_thread {
    atomic_int state; /* tw_state */
    int bell;         /* eventfd the thread waits on among its descriptors (tw_thread_bell_fd) */
    int done;         /* eventfd the thread writes when its function has returned */
    int started;
} tw_thread;

/* Make the eventfds; the state is TW_RUN. Returns an APR status. */
apr_status_t tw_thread_init(tw_thread *t);

/* Start `fn(arg)` on a new, detached thread with all signals blocked, named `name` (at most 15
 * characters; what top -H and ps -L show). */
apr_status_t tw_thread_start(tw_thread *t, const char *name, void (*fn)(void *arg), void *arg);

/* The current state (any thread). */
tw_state tw_thread_state(tw_thread *t);

/* Move the state forward to `to` (never back) and wake the thread. Async-signal-safe. */
void tw_thread_advance(tw_thread *t, tw_state to);

/* Wake the thread without changing the state (new work for it). Async-signal-safe. */
void tw_thread_wake(tw_thread *t);

/* For the thread: the descriptor to wait on (readable after a wake-up), and the call that reads
 * it back to quiet once woken. */
int tw_thread_bell_fd(const tw_thread *t);
void tw_thread_quiet(tw_thread *t);

/* For the thread: wait up to `timeout` for a wake-up (or a stop); returns at once unless the state
 * is TW_RUN. Returns the state. */
tw_state tw_thread_pause(tw_thread *t, apr_interval_time_t timeout);

/* Wait until the thread has returned or `timeout` passed. Returns 1 if it has (or was never
 * started). Async-signal-safe: poll, read and clock_gettime only. */
int tw_thread_wait(tw_thread *t, apr_interval_time_t timeout);

/* Monotonic microseconds, for deadlines on stop paths. Async-signal-safe (clock_gettime). */
apr_interval_time_t tw_thread_clock(void);

/* Close the eventfds. Only once tw_thread_wait returned 1. */
void tw_thread_destroy(tw_thread *t);

#endif
