#include "tw_engine_thread.h"
#include "tw_sse.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define TW_THREAD_ENGINE_BATCH 64 /* frames taken from the hub per round */
#define TW_THREAD_ENGINE_SLICE                                                                     \
    1000 /* ms; how often a quiet stream asks the writer whether the server                        \
            stops (prefork says so only through its MPM state) */

typedef struct tw_engine_thread {
    tw_engine engine; /* first: the engine interface */
    tw_engine_thread_conf cf;
    atomic_int state; /* TW_THREAD_ENGINE_RUN, then TW_THREAD_ENGINE_STOPPING for good */
    int latch;        /* eventfd written at the stop and never read: readable from then on */
    const char *ping;
    size_t ping_len;
} tw_engine_thread;

enum { TW_THREAD_ENGINE_RUN, TW_THREAD_ENGINE_STOPPING };

/* What woke a waiting stream (epoll data). */
enum { TW_WAKE_HUB = 1, TW_WAKE_CLIENT, TW_WAKE_STOP };

/* Write the due frames among `f[0..n)` through the writer, advancing *after, up to and
 * including a last frame (then *last is set); release them all. Returns how many were
 * queued. */
static int tw_engine_thread_queue(const tw_writer *w, tw_frame *f, int n, tw_id *after, int *last)
{
    int queued = 0;
    for (int i = 0; i < n; i++) {
        if (!*last && tw_frame_due(&f[i], *after)) {
            w->write(w->ctx, f[i].bytes->data, f[i].bytes->len);
            if (!f[i].control)
                *after = f[i].id;
            *last = f[i].control == TW_FRAME_LAST;
            queued++;
        }
        tw_blob_release(f[i].bytes);
    }
    return queued;
}

/* Watch the hub, the client's socket (for a hang-up only: its input belongs to Apache) and the
 * stop latch. Returns the epoll descriptor, or -1. */
static int tw_engine_thread_watch(tw_engine_thread *r, const tw_outlet *o)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        return -1;
    struct epoll_event stop = {.events = EPOLLIN, .data.u32 = TW_WAKE_STOP};
    struct epoll_event client = {.events = EPOLLRDHUP, .data.u32 = TW_WAKE_CLIENT};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, r->latch, &stop) != 0 ||
        (o->fd >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, o->fd, &client) != 0) ||
        tw_hub_watch(r->cf.hub, ep) != APR_SUCCESS) {
        close(ep);
        return -1;
    }
    return ep;
}

/* One stream followed in its worker thread. */
typedef struct tw_follower {
    tw_engine_thread *r;
    const tw_writer *w;
    int ep;               /* the watch (tw_engine_thread_watch) */
    uint64_t next;        /* the ring position of the next frame */
    tw_id after;          /* the last post written */
    apr_time_t next_ping; /* when silence gets a keepalive comment */
} tw_follower;

enum { TW_ROUND_WAIT, TW_ROUND_MORE, TW_ROUND_END };

/* One round: write the frames the hub has for the stream (at most a batch), or a keepalive
 * comment when it is due, and flush. Returns TW_ROUND_MORE when more may be waiting,
 * TW_ROUND_WAIT when there is nothing to write until the hub or the clock moves, TW_ROUND_END
 * with *end set when the stream ends (the client gone, a ring behind, a last frame). */
static int tw_engine_thread_round(tw_follower *f, tw_engine_result *end)
{
    tw_engine_thread *r = f->r;
    tw_frame frames[TW_THREAD_ENGINE_BATCH];
    int n = tw_hub_take(r->cf.hub, &f->next, frames, TW_THREAD_ENGINE_BATCH);
    if (n < 0) {
        TW_LOG(r->cf.log, TW_LOG_INFO, 0,
               "TW0504: client fell too far behind; closing so it resumes");
        tw_metrics_cut(r->cf.metrics, TW_METRICS_LAGGED);
        *end = TW_ENGINE_LAGGED;
        return TW_ROUND_END;
    }
    int last = 0;
    int queued = tw_engine_thread_queue(f->w, frames, n, &f->after, &last);
    int ping = !queued && apr_time_now() >= f->next_ping;
    if (ping)
        f->w->write(f->w->ctx, r->ping, r->ping_len);
    if (!queued && !ping)
        return n == TW_THREAD_ENGINE_BATCH ? TW_ROUND_MORE : TW_ROUND_WAIT;
    int flushed = f->w->flush(f->w->ctx) == 0;
    if (flushed)
        tw_metrics_delivered(r->cf.metrics, (uint64_t)queued);
    *end = last ? TW_ENGINE_LOST : TW_ENGINE_GONE;
    if (last || !flushed)
        return TW_ROUND_END;
    f->next_ping = apr_time_now() + r->cf.keepalive;
    return TW_ROUND_MORE;
}

/* Wait for a change of the hub, the client's hang-up or the stop latch, or until a keepalive is
 * due (at most TW_THREAD_ENGINE_SLICE: the writer is asked again whether the server stops).
 * Returns 1 when the client hung up. */
static int tw_engine_thread_wait(tw_follower *f)
{
    apr_interval_time_t wait = f->next_ping - apr_time_now();
    if (wait > apr_time_from_msec(TW_THREAD_ENGINE_SLICE))
        wait = apr_time_from_msec(TW_THREAD_ENGINE_SLICE);
    if (wait < 0)
        wait = 0;
    struct epoll_event ev[3];
    int k = epoll_wait(f->ep, ev, 3, (int)((wait + 999) / 1000));
    for (int i = 0; i < k; i++)
        if (ev[i].data.u32 == TW_WAKE_CLIENT)
            return 1;
    return 0;
}

/* Follow the stream until it ends: its replay first, then round after round. */
static tw_engine_result tw_engine_thread_run(tw_follower *f, const tw_outlet *o)
{
    tw_engine_result end = TW_ENGINE_GONE;
    if (o->pending_len) { /* the replay: the client's worker thread writes it, as what follows */
        f->w->write(f->w->ctx, o->pending, o->pending_len);
        if (f->w->flush(f->w->ctx) != 0)
            return TW_ENGINE_GONE;
    }
    for (;;) {
        /* Checked on every round, not only when idle: a busy feed may never let the wait time
         * out, and prefork signals a graceful stop only through the MPM state. */
        if (atomic_load(&f->r->state) != TW_THREAD_ENGINE_RUN || f->w->stopping(f->w->ctx))
            return TW_ENGINE_STOPPING;
        int round = tw_engine_thread_round(f, &end);
        if (round == TW_ROUND_END)
            return end;
        if (round == TW_ROUND_WAIT && tw_engine_thread_wait(f))
            return TW_ENGINE_GONE; /* the client hung up: no need to wait for a failed write */
    }
}

static tw_engine_result tw_engine_thread_follow(tw_engine *e, const tw_outlet *o)
{
    tw_engine_thread *r = (tw_engine_thread *)e;
    if (!o->writer)
        return TW_ENGINE_DECLINED;
    tw_follower f = {.r = r,
                     .w = o->writer,
                     .ep = tw_engine_thread_watch(r, o),
                     .next = o->next,
                     .after = o->after,
                     .next_ping = apr_time_now() + r->cf.keepalive};
    if (f.ep < 0) {
        TW_LOG(r->cf.log, TW_LOG_ERR, APR_FROM_OS_ERROR(errno),
               "TW0508: cannot watch a stream (epoll); closing it");
        return TW_ENGINE_GONE;
    }
    tw_metrics_stream(r->cf.metrics, TW_METRICS_THREAD, 1);
    tw_engine_result end = tw_engine_thread_run(&f, o);
    tw_metrics_stream(r->cf.metrics, TW_METRICS_THREAD, -1);
    tw_hub_unwatch(r->cf.hub, f.ep);
    close(f.ep);
    return end;
}

static int tw_engine_thread_full(tw_engine *e)
{
    (void)e;
    return 0; /* bounded by the MPM's worker threads, which Apache counts itself */
}

static void tw_engine_thread_stopping(tw_engine *e)
{
    tw_engine_thread *r = (tw_engine_thread *)e;
    atomic_store(&r->state, TW_THREAD_ENGINE_STOPPING);
    uint64_t one = 1;
    while (write(r->latch, &one, sizeof(one)) < 0 && errno == EINTR)
        ;
}

static int tw_engine_thread_stopped(tw_engine *e, apr_interval_time_t timeout)
{
    (void)e, (void)timeout;
    return 1; /* no thread of its own; its streams' threads belong to the MPM */
}

static const tw_engine_ops tw_engine_thread_ops = {
    .name = "thread",
    .full = tw_engine_thread_full,
    .follow = tw_engine_thread_follow,
    .stopping = tw_engine_thread_stopping,
    .stop = tw_engine_thread_stopping,
    .stopped = tw_engine_thread_stopped,
};

static apr_status_t tw_engine_thread_cleanup(void *data)
{
    close(((tw_engine_thread *)data)->latch);
    return APR_SUCCESS;
}

apr_status_t tw_engine_thread_create(apr_pool_t *p, const tw_engine_thread_conf *cf,
                                     tw_engine **out)
{
    tw_engine_thread *r = apr_pcalloc(p, sizeof(*r));
    r->engine.ops = &tw_engine_thread_ops;
    r->cf = *cf;
    atomic_init(&r->state, TW_THREAD_ENGINE_RUN);
    r->latch = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (r->latch < 0)
        return APR_FROM_OS_ERROR(errno);
    tw_buf ping;
    tw_buf_init(&ping, p, 16);
    tw_sse_comment(&ping, "ping");
    r->ping = ping.data;
    r->ping_len = ping.len;
    apr_pool_cleanup_register(p, r, tw_engine_thread_cleanup, apr_pool_cleanup_null);
    *out = &r->engine;
    return APR_SUCCESS;
}
