#include "tw_engine_socket.h"
#include "tw_sse.h"
#include "tw_thread.h"

#include <apr_thread_mutex.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define TW_SOCKET_EVENTS 256 /* epoll events taken per wait */
#define TW_SOCKET_IOV    64  /* frames per sendmsg */
#define TW_SOCKET_DISCARD_MAX                                                                      \
    (64 << 10) /* bytes a client may send on an open stream before it is cut */

/* One adopted stream. Owned by the engine thread once it has left the inbox. */
typedef struct tw_engine_socket_stream {
    int fd;
    uint64_t next;          /* ring position of the next frame to write */
    size_t off;             /* bytes of frame `next` already written */
    tw_id after;            /* newest post written (or the resume point) */
    apr_time_t idle_since;  /* last write of any bytes: keepalive, and progress when stuck */
    apr_time_t stuck_since; /* set when a write found the socket full: frames are pending and
                               only an EPOLLOUT edge resumes them; 0 when caught up to head */
    size_t rcvd;            /* bytes the client sent since the hand-over (discarded) */
    char *pend;             /* the replay, written before any frame; NULL once written */
    unsigned retry_ms, retry_jitter_ms; /* tw_outlet's: the "retry:" of a stream the engine ends */
    size_t pend_len, pend_off;
    void (*done)(void *ctx); /* tw_outlet.done */
    void *done_ctx;
    struct tw_engine_socket_stream *prev, *link;
} tw_engine_socket_stream;

typedef struct tw_engine_socket {
    tw_engine engine; /* first: the engine interface */
    tw_engine_socket_conf cf;
    apr_interval_time_t tick; /* between keepalive and stall checks */
    tw_thread thread;         /* its state is the engine's: run, stopping, exit */
    int ep;                   /* epoll set: the bell (data.ptr NULL) and every stream */
    const char *ping;         /* the keepalive comment */
    size_t ping_len;
    atomic_uint active;             /* streams adopted and not yet closed */
    atomic_llong warned;            /* last "too many streams" warning (apr_time_t) */
    uint64_t rng;                   /* tw_sse_jitter's state; the engine thread's */
    apr_thread_mutex_t *lock;       /* guards inbox */
    tw_engine_socket_stream *inbox; /* adopted, not yet watched */

    /* Owned by the engine thread. */
    tw_ring ring; /* its own references to the hub's newest frames */
    tw_engine_socket_stream *streams;
    uint64_t
        delivered; /* frames written since the metrics were last told (tw_engine_socket_report) */
} tw_engine_socket;

/* Add the frames written since the last call to the child's metrics: one atomic add per round
 * of the loop, not one per stream and frame. */
static void tw_engine_socket_report(tw_engine_socket *p)
{
    tw_metrics_delivered(p->cf.metrics, p->delivered);
    p->delivered = 0;
}

/* The hub's notify callback: a new frame. Without streams there is nobody to write to, and the
 * next adoption brings the ring up to date anyway, so no wake-up (no context switch per post on
 * a child that holds no stream). */
static void tw_engine_socket_notify(void *ctx)
{
    tw_engine_socket *p = ctx;
    if (atomic_load(&p->active))
        tw_thread_wake(&p->thread);
}

/* Close a stream that is not (or no longer) watched, tell its owner, and free its record. */
static void tw_engine_socket_discard(tw_engine_socket *p, tw_engine_socket_stream *c)
{
    close(c->fd);
    if (c->done)
        c->done(c->done_ctx);
    atomic_fetch_sub(&p->active, 1);
    tw_metrics_stream(p->cf.metrics, TW_METRICS_SOCKET, -1);
    free(c->pend);
    free(c);
}

/* Write what is left of the stream's replay, as far as the socket takes it. Returns 1 once it
 * is all written (freed), 0 if the socket is full (c->stuck_since set), -1 on a write error.
 * Cost: one send per call, and per partial write. */
static int tw_engine_socket_pending(tw_engine_socket_stream *c, apr_time_t now)
{
    while (c->pend) {
        ssize_t w = send(c->fd, c->pend + c->pend_off, c->pend_len - c->pend_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (!c->stuck_since)
                    c->stuck_since = now;
                return 0;
            }
            return -1;
        }
        c->idle_since = now;
        c->pend_off += (size_t)w;
        if (c->pend_off == c->pend_len) {
            free(c->pend);
            c->pend = NULL;
        }
    }
    return 1;
}

/* Before the engine ends a stream its client should come back from (stop, lag, stall): tell it
 * when, with jitter, if the socket takes the line at once and no frame is half written (the
 * line would land inside it). Best effort: a full socket gets nothing, and its browser uses
 * the retry it was told at the start. One send. */
static void tw_engine_socket_bye(tw_engine_socket *p, tw_engine_socket_stream *c)
{
    if (c->off || (c->pend && c->pend_off))
        return;
    char line[40];
    int n = snprintf(line, sizeof(line), "retry: %u\n\n",
                     tw_sse_jitter(c->retry_ms, c->retry_jitter_ms, &p->rng));
    (void)send(c->fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Stop watching a stream, unlink it, close it and free its record. */
static void tw_engine_socket_close(tw_engine_socket *p, tw_engine_socket_stream *c)
{
    epoll_ctl(p->ep, EPOLL_CTL_DEL, c->fd, NULL);
    if (c->prev)
        c->prev->link = c->link;
    else
        p->streams = c->link;
    if (c->link)
        c->link->prev = c->prev;
    tw_engine_socket_discard(p, c);
}

/* The frames due to the stream from c->next on (at most TW_SOCKET_IOV, the first from its
 * offset), up to and including a last frame, into `iov` and their positions into `seqs`;
 * frames not due (sent by the replay) before the first are skipped for good. Returns how
 * many. */
static size_t tw_engine_socket_gather(tw_engine_socket *p, tw_engine_socket_stream *c,
                                      struct iovec *iov, uint64_t *seqs)
{
    size_t n = 0;
    for (uint64_t seq = c->next; seq < p->ring.head && n < TW_SOCKET_IOV; seq++) {
        const tw_frame *f = tw_ring_at(&p->ring, seq);
        size_t skip = seq == c->next ? c->off : 0;
        if (!skip && !tw_frame_due(f, c->after)) {
            if (n == 0)
                c->next = seq + 1; /* already sent by the replay */
            continue;
        }
        iov[n].iov_base = f->bytes->data + skip;
        iov[n].iov_len = f->bytes->len - skip;
        seqs[n++] = seq;
        if (f->control == TW_FRAME_LAST)
            break; /* nothing after it */
    }
    return n;
}

/* Move the stream past the `w` bytes a sendmsg of iov[0..n) wrote: whole frames are done, a
 * partial one leaves c->off. Returns -1 once a last frame is written (the stream ends), else
 * 0. */
static int tw_engine_socket_advance(tw_engine_socket *p, tw_engine_socket_stream *c,
                                    const struct iovec *iov, const uint64_t *seqs, size_t n,
                                    size_t w)
{
    for (size_t i = 0; i < n; i++) {
        const tw_frame *f = tw_ring_at(&p->ring, seqs[i]);
        if (w < iov[i].iov_len) {
            c->next = seqs[i];
            c->off = (f->bytes->len - iov[i].iov_len) + w;
            return 0;
        }
        w -= iov[i].iov_len;
        c->next = seqs[i] + 1;
        c->off = 0;
        p->delivered++;
        if (f->control == TW_FRAME_LAST)
            return -1; /* written: the stream ends here */
        if (!f->control)
            c->after = f->id;
    }
    return 0;
}

/* Write the stream's replay, if any is left, then every frame from c->next up to the ring's
 * head that is due to the client, as far as the socket takes them. Returns 0 (done, or the
 * socket is full and c->stuck_since is set), or -1 if the stream must be closed (write error, a
 * ring behind, or a last frame written). Cost: one sendmsg per TW_SOCKET_IOV frames. */
static int tw_engine_socket_flush(tw_engine_socket *p, tw_engine_socket_stream *c, apr_time_t now)
{
    int rc = tw_engine_socket_pending(c, now);
    if (rc <= 0)
        return rc;
    while (c->next < p->ring.head) {
        if (tw_ring_lagged(&p->ring, c->next)) {
            TW_LOG(p->cf.log, TW_LOG_INFO, 0,
                   "TW0601: a client fell a ring of posts behind; closing its stream so it "
                   "resumes");
            tw_metrics_cut(p->cf.metrics, TW_METRICS_LAGGED);
            tw_engine_socket_bye(p, c);
            return -1;
        }
        struct iovec iov[TW_SOCKET_IOV];
        uint64_t seqs[TW_SOCKET_IOV];
        size_t n = tw_engine_socket_gather(p, c, iov, seqs);
        if (n == 0)
            break;
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = n};
        ssize_t w = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c->stuck_since)
                c->stuck_since = now; /* idle_since tells whether it still progresses */
            return 0;
        }
        if (w < 0)
            return -1;
        c->idle_since = now;
        if (tw_engine_socket_advance(p, c, iov, seqs, n, (size_t)w) != 0)
            return -1;
    }
    c->stuck_since = 0;
    return 0;
}

/* Read and discard what the client sent. Returns -1 once it has hung up, failed, or sent more
 * (since the hand-over) than a stream client has any reason to. */
static int tw_engine_socket_discard_input(tw_engine_socket_stream *c)
{
    char buf[4096];
    while (c->rcvd < TW_SOCKET_DISCARD_MAX) {
        ssize_t r = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (r > 0) {
            c->rcvd += (size_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
    }
    return -1;
}

/* Keepalive and stall checks, once a tick: a stream with frames pending whose socket has taken
 * no byte for a keepalive interval is closed (a slow reader that still takes bytes is not); an
 * idle one gets a ping. O(streams). */
static void tw_engine_socket_tick(tw_engine_socket *p, apr_time_t now)
{
    for (tw_engine_socket_stream *c = p->streams, *link; c; c = link) {
        link = c->link;
        if (c->stuck_since) {
            apr_time_t since = c->idle_since > c->stuck_since ? c->idle_since : c->stuck_since;
            if (now - since >= p->cf.keepalive) {
                TW_LOG(p->cf.log, TW_LOG_INFO, 0,
                       "TW0602: a client has taken nothing for %" APR_TIME_T_FMT
                       " ms; closing its stream so it resumes",
                       apr_time_as_msec(now - since));
                tw_metrics_cut(p->cf.metrics, TW_METRICS_STALLED);
                tw_engine_socket_bye(p, c);
                tw_engine_socket_close(p, c);
            }
            continue;
        }
        if (now - c->idle_since < p->cf.keepalive || c->next != p->ring.head || c->off || c->pend)
            continue;
        ssize_t w = send(c->fd, p->ping, p->ping_len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w == (ssize_t)p->ping_len)
            c->idle_since = now;
        else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            c->stuck_since = now;
        else
            tw_engine_socket_close(p, c); /* failed, or a partial ping on a socket that is full */
    }
}

/* Watch the streams adopted since the last round; they go to the front of the list. Returns
 * how many. */
static unsigned tw_engine_socket_take_inbox(tw_engine_socket *p, apr_time_t now)
{
    apr_thread_mutex_lock(p->lock);
    tw_engine_socket_stream *in = p->inbox;
    p->inbox = NULL;
    apr_thread_mutex_unlock(p->lock);
    unsigned n = 0;
    for (tw_engine_socket_stream *c = in, *link; c; c = link) {
        link = c->link;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                 .data.ptr = c};
        if (epoll_ctl(p->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
            TW_LOG(p->cf.log, TW_LOG_ERR, APR_FROM_OS_ERROR(errno),
                   "TW0603: cannot watch a stream socket; closing it");
            tw_engine_socket_discard(p, c);
            continue;
        }
        c->idle_since = now;
        c->prev = NULL;
        c->link = p->streams;
        if (p->streams)
            p->streams->prev = c;
        p->streams = c;
        n++;
    }
    return n;
}

/* Close every stream, watched or still in the inbox (graceful stop or exit). */
static void tw_engine_socket_close_all(tw_engine_socket *p, apr_time_t now)
{
    tw_engine_socket_take_inbox(p, now);
    unsigned n = atomic_load(&p->active);
    if (n)
        TW_LOG(p->cf.log, TW_LOG_DEBUG, 0,
               "TW0604: closing %u streams so their clients resume elsewhere", n);
    while (p->streams) {
        tw_engine_socket_bye(p, p->streams);
        tw_engine_socket_close(p, p->streams);
    }
}

/* Handle the events of one wait: read and discard what each stream sent (closing one that hung up
 * or sent too much), resume each stuck one its socket now takes. Returns 1 if the bell rang. */
static int tw_engine_socket_events(tw_engine_socket *p, struct epoll_event *evs, int n,
                                   apr_time_t now)
{
    int woken = 0;
    for (int i = 0; i < n; i++) {
        tw_engine_socket_stream *c = evs[i].data.ptr;
        if (!c) {
            tw_thread_quiet(&p->thread);
            woken = 1;
            continue;
        }
        if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
            /* Each descriptor appears once per wait, so no later event names `c`. */
            if (tw_engine_socket_discard_input(c) != 0 || (evs[i].events & (EPOLLHUP | EPOLLERR))) {
                tw_engine_socket_close(p, c);
                continue;
            }
        }
        if ((evs[i].events & EPOLLOUT) && c->stuck_since && tw_engine_socket_flush(p, c, now) != 0)
            tw_engine_socket_close(p, c);
    }
    return woken;
}

/* After the bell: adopt the streams in the inbox and bring the ring up to the hub's. New
 * frames go to every stream; otherwise only the new streams (at the front) have anything to
 * catch up on, so a reconnect storm costs O(new), not O(all), per round. */
static void tw_engine_socket_catch_up(tw_engine_socket *p, apr_time_t now)
{
    unsigned fresh = tw_engine_socket_take_inbox(p, now);
    /* After the inbox: every adopted position is <= the head synced here. */
    int moved = tw_hub_sync(p->cf.hub, &p->ring) != 0;
    unsigned todo = moved ? (unsigned)-1 : fresh;
    for (tw_engine_socket_stream *c = p->streams, *link; c && todo; c = link, todo--) {
        link = c->link;
        if (!c->stuck_since && tw_engine_socket_flush(p, c, now) != 0)
            tw_engine_socket_close(p, c);
    }
}

/* The thread. Edge-triggered: a stream's input is discarded on every read event, and a stream
 * with frames pending (stuck_since set) is resumed only by its EPOLLOUT edge; all others are
 * brought up to the head on every wake-up (a new frame, an adoption). */
static void tw_engine_socket_main(void *data)
{
    tw_engine_socket *p = data;
    struct epoll_event evs[TW_SOCKET_EVENTS];
    apr_time_t next_tick = apr_time_now() + p->tick;
    for (;;) {
        apr_time_t now = apr_time_now();
        int wait_ms = next_tick > now ? (int)apr_time_as_msec(next_tick - now) + 1 : 0;
        int n = epoll_wait(p->ep, evs, TW_SOCKET_EVENTS, wait_ms);
        if (n < 0 && errno != EINTR) {
            TW_LOG(p->cf.log, TW_LOG_CRIT, APR_FROM_OS_ERROR(errno),
                   "TW0605: epoll_wait failed; closing this child's streams, new ones keep "
                   "their worker threads");
            tw_thread_advance(&p->thread, TW_EXIT); /* follow() declines from now on */
            tw_engine_socket_close_all(p, now);
            tw_engine_socket_report(p);
            break;
        }
        now = apr_time_now();
        if (tw_engine_socket_events(p, evs, n, now)) {
            tw_state st = tw_thread_state(&p->thread);
            if (st != TW_RUN) {
                tw_engine_socket_close_all(p, now);
                tw_engine_socket_report(p);
                if (st == TW_EXIT)
                    break;
                continue;
            }
            tw_engine_socket_catch_up(p, now);
        }
        if (now >= next_tick) {
            tw_engine_socket_tick(p, now);
            next_tick = now + p->tick;
        }
        tw_engine_socket_report(p);
    }
}

static int tw_engine_socket_full(tw_engine *e)
{
    tw_engine_socket *p = (tw_engine_socket *)e;
    if (atomic_load(&p->active) < p->cf.max_streams)
        return 0;
    apr_time_t now = apr_time_now();
    long long last = atomic_load(&p->warned);
    /* At most one warning a minute: whoever swaps the timestamp logs. */
    if (now - last > apr_time_from_sec(60) &&
        atomic_compare_exchange_strong(&p->warned, &last, now))
        TW_LOG(p->cf.log, TW_LOG_WARNING, 0,
               "TW0606: this child holds %u streams, its limit (open files); refusing new ones "
               "with 503 (raise the open-files limit or add children)",
               p->cf.max_streams);
    return 1;
}

/* What a stream gets from an engine that no longer takes any: while stopping (a graceful
 * stop) it ends, so its client reconnects to a child that stays; once the thread is gone (an
 * epoll failure, or the child's exit) another engine may take it. */
static tw_engine_result tw_engine_socket_refusal(tw_engine_socket *p)
{
    return tw_thread_state(&p->thread) == TW_STOPPING ? TW_ENGINE_STOPPING : TW_ENGINE_DECLINED;
}

static tw_engine_result tw_engine_socket_follow(tw_engine *e, const tw_outlet *o)
{
    tw_engine_socket *p = (tw_engine_socket *)e;
    if (!o->raw || o->fd < 0)
        return TW_ENGINE_DECLINED;
    if (tw_thread_state(&p->thread) != TW_RUN)
        return tw_engine_socket_refusal(p);
    int fd = fcntl(o->fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0 || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
        TW_LOG(p->cf.log, TW_LOG_WARNING, APR_FROM_OS_ERROR(errno),
               "TW0505: cannot duplicate the stream socket (raise the open-files limit); keeping "
               "the stream in its worker thread");
        if (fd >= 0)
            close(fd);
        return TW_ENGINE_DECLINED;
    }
    tw_engine_socket_stream *c = calloc(1, sizeof(*c));
    char *pend = o->pending_len ? malloc(o->pending_len) : NULL;
    if (!c || (o->pending_len && !pend)) {
        free(c);
        free(pend);
        close(fd);
        return TW_ENGINE_DECLINED;
    }
    c->fd = fd;
    c->next = o->next;
    c->after = o->after;
    if (pend) {
        memcpy(pend, o->pending, o->pending_len);
        c->pend = pend;
        c->pend_len = o->pending_len;
    }
    c->done = o->done;
    c->done_ctx = o->done_ctx;
    c->retry_ms = o->retry_ms;
    c->retry_jitter_ms = o->retry_jitter_ms;
    atomic_fetch_add(&p->active, 1); /* before queueing: posts from now on wake the thread */
    tw_metrics_stream(p->cf.metrics, TW_METRICS_SOCKET, 1);
    apr_thread_mutex_lock(p->lock);
    int running = tw_thread_state(&p->thread) == TW_RUN;
    if (running) {
        c->link = p->inbox;
        p->inbox = c;
    }
    apr_thread_mutex_unlock(p->lock);
    if (!running) {
        c->done = NULL; /* not adopted: the caller keeps its release */
        tw_engine_socket_discard(p, c);
        return tw_engine_socket_refusal(p);
    }
    tw_thread_wake(&p->thread);
    return TW_ENGINE_ADOPTED;
}

static void tw_engine_socket_stopping(tw_engine *e)
{
    tw_thread_advance(&((tw_engine_socket *)e)->thread, TW_STOPPING);
}

static void tw_engine_socket_stop(tw_engine *e)
{
    tw_thread_advance(&((tw_engine_socket *)e)->thread, TW_EXIT);
}

static int tw_engine_socket_stopped(tw_engine *e, apr_interval_time_t timeout)
{
    return tw_thread_wait(&((tw_engine_socket *)e)->thread, timeout);
}

static const tw_engine_ops tw_engine_socket_ops = {
    .name = "socket",
    .full = tw_engine_socket_full,
    .follow = tw_engine_socket_follow,
    .stopping = tw_engine_socket_stopping,
    .stop = tw_engine_socket_stop,
    .stopped = tw_engine_socket_stopped,
};

/* Cleanup of the engine's pool, which outlives the thread: detach from the hub, release the
 * ring's references and the descriptors. Only reached once the thread has ended (tests; a
 * child keeps its engines until it exits). */
static apr_status_t tw_engine_socket_cleanup(void *data)
{
    tw_engine_socket *p = data;
    tw_hub_notify(p->cf.hub, NULL, NULL);
    tw_ring_clear(&p->ring);
    close(p->ep);
    tw_thread_destroy(&p->thread);
    return APR_SUCCESS;
}

apr_status_t tw_engine_socket_create(apr_pool_t *pool, const tw_engine_socket_conf *cf,
                                     tw_engine **out)
{
    tw_engine_socket *p = apr_pcalloc(pool, sizeof(*p));
    p->engine.ops = &tw_engine_socket_ops;
    p->cf = *cf;
    p->tick = cf->keepalive / 2 < apr_time_from_sec(1) ? cf->keepalive / 2 : apr_time_from_sec(1);
    if (p->tick < apr_time_from_msec(1))
        p->tick = apr_time_from_msec(1);
    atomic_init(&p->active, 0);
    atomic_init(&p->warned, 0);
    p->rng = (uint64_t)apr_time_now() ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)p;
    tw_ring_init(&p->ring);
    tw_buf ping;
    tw_buf_init(&ping, pool, 16);
    tw_sse_comment(&ping, "ping");
    p->ping = ping.data;
    p->ping_len = ping.len;
    apr_status_t rv = apr_thread_mutex_create(&p->lock, APR_THREAD_MUTEX_DEFAULT, pool);
    if (rv != APR_SUCCESS || (rv = tw_thread_init(&p->thread)) != APR_SUCCESS)
        return rv;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if ((p->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
        epoll_ctl(p->ep, EPOLL_CTL_ADD, tw_thread_bell_fd(&p->thread), &ev) != 0)
        rv = APR_FROM_OS_ERROR(errno);
    else
        rv = tw_thread_start(&p->thread, "tw-socket", tw_engine_socket_main, p);
    if (rv != APR_SUCCESS) {
        if (p->ep >= 0)
            close(p->ep);
        tw_thread_destroy(&p->thread);
        return rv;
    }
    tw_hub_notify(cf->hub, tw_engine_socket_notify, p);
    apr_pool_cleanup_register(pool, p, tw_engine_socket_cleanup, apr_pool_cleanup_null);
    *out = &p->engine;
    return APR_SUCCESS;
}
