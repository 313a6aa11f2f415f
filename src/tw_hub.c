#include "tw_hub.h"

#include <apr_thread_mutex.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct tw_hub {
    tw_hub_renderer render;
    const tw_log *log;
    tw_store_listener listener; /* what tw_hub_listener hands out: points back here */
    apr_thread_mutex_t *lock;
    int bell;            /* eventfd, written (never read) after each change while watched */
    atomic_int watchers; /* epoll sets watching the bell */

    /* Guarded by lock. */
    tw_ring ring;
    void (*notify)(void *ctx);
    void *notify_ctx;
    int ready;      /* the first subscription is up */
    int subscribed; /* the subscription is up now */
    int lost;       /* the store is lost (from `lost` to the next `up`): no stream joins */
    uint64_t gen;   /* see tw_hub_generation */
    /* What the ring provably covers (tw_hub_join_at): while `run` is set, every event newer than
     * cover_after is in the ring from cover_seq on (or still to come), and every frame from
     * cover_seq to the head is an event, in id order; last_event is the newest of them. */
    int run;
    tw_id cover_after;
    uint64_t cover_seq;
    tw_id last_event;

    tw_metrics_child *metrics; /* the child's metrics, or NULL (set before the subscription) */
};

/* After a change: wake every watcher (one write raises one edge in every epoll set). */
static void tw_hub_wake(tw_hub *h)
{
    if (atomic_load(&h->watchers) == 0)
        return;
    uint64_t one = 1;
    while (write(h->bell, &one, sizeof(one)) < 0 && errno == EINTR)
        ;
}

/* Before frame `f` goes in at the head (lock held): keep what the ring covers true. An event
 * extends the run when the store vouches that it follows the newest event of the run;
 * otherwise a run starts at it, after what the store says came before it (or, when it says
 * nothing, after the event itself). A control frame ends the run (the streams that would join
 * before it must not get it). The frame the push overwrites leaves the run: its id becomes
 * the bound. O(1). */
static void tw_hub_cover(tw_hub *h, const tw_frame *f, const tw_event *ev)
{
    if (h->run && h->cover_seq + TW_RING_SIZE == h->ring.head) {
        h->cover_after = tw_ring_at(&h->ring, h->cover_seq)->id;
        h->cover_seq++;
    }
    if (f->control) {
        h->run = 0;
        return;
    }
    if (!(h->run && ev->has_prev && tw_id_cmp(ev->prev, h->last_event) == 0)) {
        h->run = 1;
        h->cover_after = ev->has_prev ? ev->prev : ev->id;
        h->cover_seq = ev->has_prev ? h->ring.head : h->ring.head + 1;
    }
    h->last_event = ev->id;
}

/* A deletion: the frame of its post, if the ring holds it, is withdrawn, so that no stream that
 * has not yet been sent it gets it (a resume from before the post, a stream behind). Lock
 * held. O(TW_RING_SIZE). */
static void tw_hub_withdraw(tw_hub *h, tw_id post)
{
    uint64_t oldest = h->ring.head > TW_RING_SIZE ? h->ring.head - TW_RING_SIZE : 0;
    for (uint64_t seq = h->ring.head; seq > oldest; seq--) {
        const tw_frame *f = tw_ring_at(&h->ring, seq - 1);
        if (!f->control && !tw_id_cmp(f->id, post)) {
            tw_blob_withdraw(f->bytes);
            return;
        }
    }
}

/* Append a frame (taking over its reference; `ev` is the event it carries, NULL for a control
 * frame), tell the socket engine, wake the watchers; count it, and for a post observe its
 * delivery lag (once per post in this child). */
static void tw_hub_push(tw_hub *h, tw_blob *bytes, const tw_event *ev, int control)
{
    tw_id none = {0, 0};
    tw_frame f = {.bytes = bytes, .id = ev ? ev->id : none, .control = control};
    apr_thread_mutex_lock(h->lock);
    if (ev && ev->kind == TW_EVENT_DELETE)
        tw_hub_withdraw(h, ev->target);
    tw_hub_cover(h, &f, ev);
    tw_ring_push(&h->ring, f);
    h->gen++;
    if (h->notify)
        h->notify(h->notify_ctx);
    apr_thread_mutex_unlock(h->lock);
    tw_metrics_frame(h->metrics, ev && ev->kind == TW_EVENT_POST ? &f.id : NULL, apr_time_now());
    tw_hub_wake(h);
}

/* Listener: an event. Rendered outside the lock: listener calls come one at a time. */
static void tw_hub_on_event(void *ctx, const tw_event *ev)
{
    tw_hub *h = ctx;
    tw_blob *b = h->render.event(h->render.ctx, ev);
    if (!b) {
        TW_LOG(h->log, TW_LOG_CRIT, APR_ENOMEM,
               "TW0101: out of memory for a frame; an event is missing from the live streams "
               "of this child");
        apr_thread_mutex_lock(h->lock);
        h->run = 0; /* the ring no longer holds every event after its newest */
        apr_thread_mutex_unlock(h->lock);
        return;
    }
    tw_hub_push(h, b, ev, 0);
}

/* Listener: posts were lost while the subscription was down. */
static void tw_hub_on_gap(void *ctx)
{
    tw_hub *h = ctx;
    TW_LOG(h->log, TW_LOG_WARNING, 0,
           "TW0104: posts were trimmed from the stream during a Redis outage; telling open "
           "pages to reload");
    tw_blob *b = h->render.reload(h->render.ctx);
    if (!b) {
        TW_LOG(h->log, TW_LOG_CRIT, APR_ENOMEM,
               "TW0102: out of memory for the reload event; the open pages of this child are "
               "not told to reload");
        return;
    }
    tw_hub_push(h, b, NULL, TW_FRAME_CONTROL);
}

/* Listener: the store is lost; every stream gets the closing frame and ends. */
static void tw_hub_on_lost(void *ctx)
{
    tw_hub *h = ctx;
    tw_blob *b = h->render.closing(h->render.ctx);
    if (!b) {
        /* Without the frame the open streams would stay: then let new ones in too. */
        TW_LOG(h->log, TW_LOG_CRIT, APR_ENOMEM,
               "TW0103: out of memory for the closing event; this child keeps its streams "
               "open and admits new ones");
        return;
    }
    apr_thread_mutex_lock(h->lock);
    h->lost = 1;
    apr_thread_mutex_unlock(h->lock);
    tw_hub_push(h, b, NULL, TW_FRAME_LAST);
}

/* Listener: the subscription went up or down. */
static void tw_hub_set_subscribed(tw_hub *h, int up)
{
    apr_thread_mutex_lock(h->lock);
    if (h->subscribed != up)
        tw_metrics_subscription(h->metrics, up, apr_time_now());
    h->subscribed = up;
    if (up)
        h->ready = 1, h->lost = 0;
    h->gen++;
    apr_thread_mutex_unlock(h->lock);
    tw_hub_wake(h);
}

static void tw_hub_on_up(void *ctx)
{
    tw_hub_set_subscribed(ctx, 1);
}

static void tw_hub_on_down(void *ctx)
{
    tw_hub_set_subscribed(ctx, 0);
}

/* Cleanup of the hub's pool: release the ring's frames. */
static apr_status_t tw_hub_cleanup(void *data)
{
    tw_hub *h = data;
    tw_ring_clear(&h->ring);
    close(h->bell);
    return APR_SUCCESS;
}

apr_status_t tw_hub_create(apr_pool_t *p, const tw_hub_renderer *render, const tw_log *log,
                           tw_hub **out)
{
    tw_hub *h = apr_pcalloc(p, sizeof(*h));
    h->render = *render;
    h->log = log;
    h->listener = (tw_store_listener){.up = tw_hub_on_up,
                                      .event = tw_hub_on_event,
                                      .down = tw_hub_on_down,
                                      .gap = tw_hub_on_gap,
                                      .lost = tw_hub_on_lost,
                                      .ctx = h};
    atomic_init(&h->watchers, 0);
    tw_ring_init(&h->ring);
    apr_status_t rv = apr_thread_mutex_create(&h->lock, APR_THREAD_MUTEX_DEFAULT, p);
    if (rv != APR_SUCCESS)
        return rv;
    h->bell = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (h->bell < 0)
        return APR_FROM_OS_ERROR(errno);
    apr_pool_cleanup_register(p, h, tw_hub_cleanup, apr_pool_cleanup_null);
    *out = h;
    return APR_SUCCESS;
}

void tw_hub_metrics(tw_hub *h, tw_metrics_child *c)
{
    h->metrics = c;
    tw_metrics_feed(c);
}

const tw_store_listener *tw_hub_listener(tw_hub *h)
{
    return &h->listener;
}

apr_status_t tw_hub_watch(tw_hub *h, int epfd)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.ptr = h};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, h->bell, &ev) != 0)
        return APR_FROM_OS_ERROR(errno);
    atomic_fetch_add(&h->watchers, 1);
    return APR_SUCCESS;
}

void tw_hub_unwatch(tw_hub *h, int epfd)
{
    epoll_ctl(epfd, EPOLL_CTL_DEL, h->bell, NULL);
    atomic_fetch_sub(&h->watchers, 1);
}

int tw_hub_wait_ready(tw_hub *h, apr_interval_time_t timeout, int cancel_fd)
{
    apr_thread_mutex_lock(h->lock);
    int ready = h->ready;
    apr_thread_mutex_unlock(h->lock);
    if (ready || timeout <= 0)
        return ready;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        return 0;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (tw_hub_watch(h, ep) != APR_SUCCESS ||
        (cancel_fd >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, cancel_fd, &ev) != 0)) {
        close(ep);
        return 0;
    }
    apr_time_t deadline = apr_time_now() + timeout;
    for (;;) {
        apr_thread_mutex_lock(h->lock);
        ready = h->ready;
        apr_thread_mutex_unlock(h->lock);
        apr_time_t left = deadline - apr_time_now();
        if (ready || left <= 0)
            break;
        struct epoll_event got;
        int n = epoll_wait(ep, &got, 1, (int)((left + 999) / 1000));
        if (n > 0 && got.data.ptr == NULL)
            break; /* cancelled */
        if (n < 0 && errno != EINTR)
            break;
    }
    tw_hub_unwatch(h, ep);
    close(ep);
    return ready;
}

uint64_t tw_hub_join(tw_hub *h)
{
    apr_thread_mutex_lock(h->lock);
    uint64_t head = h->ring.head;
    apr_thread_mutex_unlock(h->lock);
    return head;
}

int tw_hub_admit(tw_hub *h, uint64_t *next)
{
    apr_thread_mutex_lock(h->lock);
    int lost = h->lost;
    *next = h->ring.head;
    apr_thread_mutex_unlock(h->lock);
    return !lost;
}

int tw_hub_join_at(tw_hub *h, tw_id after, uint64_t *next, uint64_t *behind)
{
    apr_thread_mutex_lock(h->lock);
    /* A point newer than the newest event is not the ring's to answer: the store says whether
     * it exists (an event on its way here) or is not of this history (reload). */
    int covered = h->run && !h->lost && tw_id_cmp(after, h->cover_after) >= 0 &&
                  tw_id_cmp(after, h->last_event) <= 0;
    if (covered) {
        /* The run's ids ascend: the first frame newer than `after`, by bisection. */
        uint64_t lo = h->cover_seq, hi = h->ring.head;
        while (lo < hi) {
            uint64_t mid = lo + (hi - lo) / 2;
            if (tw_id_cmp(tw_ring_at(&h->ring, mid)->id, after) > 0)
                hi = mid;
            else
                lo = mid + 1;
        }
        *next = lo;
        *behind = h->ring.head - lo;
    }
    apr_thread_mutex_unlock(h->lock);
    return covered;
}

int tw_hub_take(tw_hub *h, uint64_t *next, tw_frame *out, int max)
{
    int n = 0;
    apr_thread_mutex_lock(h->lock);
    if (tw_ring_lagged(&h->ring, *next)) {
        n = -1;
    } else {
        for (; *next < h->ring.head && n < max; (*next)++, n++) {
            out[n] = *tw_ring_at(&h->ring, *next);
            tw_blob_ref(out[n].bytes);
        }
    }
    apr_thread_mutex_unlock(h->lock);
    return n;
}

uint64_t tw_hub_sync(tw_hub *h, tw_ring *copy)
{
    apr_thread_mutex_lock(h->lock);
    uint64_t n = tw_ring_sync(copy, &h->ring);
    apr_thread_mutex_unlock(h->lock);
    return n;
}

void tw_hub_notify(tw_hub *h, void (*fn)(void *ctx), void *ctx)
{
    apr_thread_mutex_lock(h->lock);
    h->notify = fn;
    h->notify_ctx = ctx;
    apr_thread_mutex_unlock(h->lock);
}

uint64_t tw_hub_generation(tw_hub *h)
{
    apr_thread_mutex_lock(h->lock);
    uint64_t gen = h->subscribed ? h->gen : 0;
    apr_thread_mutex_unlock(h->lock);
    return gen;
}
