/* tw_hub.c: the per-child subscriber thread and the ring of rendered frames. */
#include "tw_hub.h"
#include "tw_html.h"
#include "tw_private.h"
#include "tw_redis_wire.h"
#include "tw_sse.h"

#include <apr_atomic.h>
#include <apr_strings.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define TW_RING_SIZE   TW_HUB_RING
#define TW_BACKOFF_MIN 100  /* ms, first reconnect delay */
#define TW_BACKOFF_MAX 5000 /* ms, longest reconnect delay */
#define TW_FILL_PAGE   500  /* entries per XRANGE when filling a gap */

struct tw_hub {
    server_rec *s;
    tw_store *store;
    apr_thread_mutex_t *lock;
    apr_thread_cond_t *wake;  /* readers: new frames, ready, or stopping */
    apr_thread_cond_t *sleep; /* the hub thread's backoff, cut short by stop */
    apr_thread_t *thread;

    /* Guarded by lock. */
    tw_frame *ring[TW_RING_SIZE]; /* one reference each, NULL until first written */
    void (*notify)(void *ctx);
    void *notify_ctx;
    apr_uint64_t head; /* sequence number of the next frame written */
    int ready;         /* baseline taken: the ring misses nothing after `last` */
    int stopping;      /* graceful stop: readers leave */
    int stop;          /* the thread must exit */
    int sub_fd;        /* socket of the subscriber connection, -1 if none */
    apr_uint64_t gen;  /* changes whenever the hub's view of the feed may have changed */

    /* Owned by the hub thread. */
    tw_id last; /* newest post id put into the ring (or the baseline) */
};

void tw_frame_release(tw_frame *f)
{
    if (f && apr_atomic_dec32(&f->refs) == 0)
        free(f);
}

/* Append a frame to the ring, releasing the one it replaces, and wake the readers and the
 * delivery engine. */
static void tw_hub_push(tw_hub *h, tw_id id, int control, const char *data, size_t len)
{
    tw_frame *f = malloc(sizeof(*f) + len);
    if (!f) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, APR_ENOMEM, h->s, "TW0101: out of memory for a frame");
        return;
    }
    f->refs = 1;
    f->id = id;
    f->control = control;
    f->len = len;
    memcpy(f->data, data, len);
    apr_thread_mutex_lock(h->lock);
    tw_frame *old = h->ring[h->head % TW_RING_SIZE];
    h->ring[h->head % TW_RING_SIZE] = f;
    h->head++;
    h->gen++;
    if (h->notify)
        h->notify(h->notify_ctx);
    apr_thread_cond_broadcast(h->wake);
    apr_thread_mutex_unlock(h->lock);
    tw_frame_release(old);
}

/* Render one post into a frame and push it, unless it is not newer than the last one. */
static void tw_hub_post(tw_hub *h, apr_pool_t *scratch, const tw_post *post)
{
    if (tw_id_cmp(post->id, h->last) <= 0)
        return;
    tw_buf frame;
    tw_buf_init(&frame, scratch, 2048);
    tw_html_post_event(&frame, post);
    tw_hub_push(h, post->id, 0, frame.data, frame.len);
    h->last = post->id;
    apr_pool_clear(scratch);
}

typedef struct tw_fill {
    tw_hub *h;
    apr_pool_t *scratch;
} tw_fill;

/* tw_store_each_after callback of the gap fill. */
static int tw_hub_fill_one(void *ctx, const tw_post *post)
{
    tw_fill *f = ctx;
    tw_hub_post(f->h, f->scratch, post);
    return 0;
}

/* Set h->last to the newest post in the stream (the zero id if it is empty). */
static int tw_hub_take_newest(tw_hub *h, apr_pool_t *p, const char **err)
{
    tw_post *newest = NULL;
    int n = 0;
    if (tw_store_latest(h->store, p, 1, &newest, &n, err) != APR_SUCCESS)
        return 0;
    if (n == 1)
        h->last = newest[0].id;
    return 1;
}

/* After (re)subscribing: take the baseline the first time, else push what the stream got
 * while we were away. Returns NULL, or why Redis failed (the caller reconnects). */
static const char *tw_hub_catch_up(tw_hub *h, apr_pool_t *p)
{
    const char *err = NULL;
    if (!h->ready) {
        if (!tw_hub_take_newest(h, p, &err))
            return apr_pstrcat(p, "reading the newest post: ", err, NULL);
        apr_thread_mutex_lock(h->lock);
        h->ready = 1;
        apr_thread_cond_broadcast(h->wake);
        apr_thread_mutex_unlock(h->lock);
        return NULL;
    }
    int gap = 0;
    tw_fill fill = {h, NULL};
    if (apr_pool_create(&fill.scratch, p) != APR_SUCCESS)
        return "out of memory";
    if (tw_store_each_after(h->store, p, h->last, TW_FILL_PAGE, tw_hub_fill_one, &fill, &gap,
                            &err) != APR_SUCCESS)
        return apr_pstrcat(p, "filling the gap: ", err, NULL);
    if (gap) {
        /* Posts were trimmed while we were away: open pages must reload to be complete. */
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, h->s,
                     "TW0104: posts were trimmed from the stream during a Redis outage; "
                     "telling open pages to reload");
        if (!tw_hub_take_newest(h, p, &err))
            return apr_pstrcat(p, "reading the newest post: ", err, NULL);
        tw_buf b;
        tw_buf_init(&b, p, 64);
        tw_sse_event(&b, NULL, "reload", "", 0);
        tw_hub_push(h, h->last, 1, b.data, b.len);
    }
    return NULL;
}

/* Sleep `ms` unless the hub is told to stop. Returns 1 if it must stop. */
static int tw_hub_backoff(tw_hub *h, long ms)
{
    apr_thread_mutex_lock(h->lock);
    if (!h->stop)
        apr_thread_cond_timedwait(h->sleep, h->lock, apr_time_from_msec(ms));
    int stop = h->stop;
    apr_thread_mutex_unlock(h->lock);
    return stop;
}

/* Remember (or forget, with NULL) the subscriber socket so a stop can shut it down. Returns
 * 1 if the hub must stop. */
static int tw_hub_set_conn(tw_hub *h, redisContext *ctx)
{
    apr_thread_mutex_lock(h->lock);
    h->sub_fd = ctx ? ctx->fd : -1;
    h->gen++;
    int stop = h->stop;
    apr_thread_mutex_unlock(h->lock);
    return stop;
}

/* Read announcements until the connection fails or the hub stops. */
static void tw_hub_listen(tw_hub *h, redisContext *ctx, apr_pool_t *p)
{
    apr_pool_t *scratch;
    if (apr_pool_create(&scratch, p) != APR_SUCCESS)
        return;
    for (;;) {
        redisReply *rep = NULL;
        if (redisGetReply(ctx, (void **)&rep) != REDIS_OK || !rep)
            break;
        if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 &&
            rep->element[0]->type == REDIS_REPLY_STRING &&
            strcmp(rep->element[0]->str, "message") == 0 &&
            rep->element[2]->type == REDIS_REPLY_STRING) {
            tw_post post;
            if (tw_redis_parse_broadcast(rep->element[2]->str, rep->element[2]->len, &post))
                tw_hub_post(h, scratch, &post);
            else
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, h->s,
                             "TW0105: ignoring a malformed announcement on the channel");
        }
        freeReplyObject(rep);
    }
    apr_pool_destroy(scratch);
}

/* The hub thread: connect, subscribe, catch up, listen; on failure back off and repeat. */
static void *APR_THREAD_FUNC tw_hub_main(apr_thread_t *thread, void *data)
{
    tw_hub *h = data;
    const tw_store_conf *cf = tw_store_config(h->store);
    long backoff = TW_BACKOFF_MIN;
    int logged_down = 0;
    apr_pool_t *p;
    if (apr_pool_create(&p, NULL) != APR_SUCCESS) {
        apr_thread_exit(thread, APR_ENOMEM);
        return NULL;
    }
    for (;;) {
        char err[256];
        redisContext *ctx = tw_store_connect(cf, err, sizeof(err));
        if (ctx) {
            redisReply *rep = NULL;
            struct timeval none = {0, 0};
            /* Reads wait for the next post, however long; a stop shuts the socket down. */
            if (redisSetTimeout(ctx, none) != REDIS_OK ||
                (!cf->addr.path && redisEnableKeepAlive(ctx) != REDIS_OK) ||
                !(rep = redisCommand(ctx, "SUBSCRIBE %s", cf->channel)) ||
                rep->type != REDIS_REPLY_ARRAY) {
                apr_snprintf(err, sizeof(err), "SUBSCRIBE: %s",
                             rep && rep->type == REDIS_REPLY_ERROR ? rep->str : ctx->errstr);
                redisFree(ctx);
                ctx = NULL;
            }
            if (rep)
                freeReplyObject(rep);
        }
        if (ctx) {
            if (tw_hub_set_conn(h, ctx)) {
                redisFree(ctx);
                break;
            }
            const char *why = tw_hub_catch_up(h, p);
            if (!why) {
                apr_thread_mutex_lock(h->lock);
                h->gen++; /* caught up: what was read during the catch-up may be stale */
                apr_thread_mutex_unlock(h->lock);
                ap_log_error(APLOG_MARK, logged_down ? APLOG_NOTICE : APLOG_DEBUG, 0, h->s,
                             "TW0106: subscribed to %s", cf->channel);
                backoff = TW_BACKOFF_MIN;
                logged_down = 0;
                tw_hub_listen(h, ctx, p);
            }
            apr_cpystrn(err,
                        why              ? why
                        : ctx->errstr[0] ? ctx->errstr
                                         : "connection closed",
                        sizeof(err));
            int stop = tw_hub_set_conn(h, NULL);
            redisFree(ctx);
            if (stop)
                break; /* the stop shut the socket down: not an outage */
        }
        apr_pool_clear(p);
        if (!logged_down) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, h->s,
                         "TW0107: Redis subscription lost (%s); reconnecting with backoff", err);
            logged_down = 1;
        }
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, h->s,
                     "TW0108: next subscription attempt in %ld ms", backoff);
        if (tw_hub_backoff(h, backoff))
            break;
        backoff = backoff * 2 > TW_BACKOFF_MAX ? TW_BACKOFF_MAX : backoff * 2;
    }
    apr_pool_destroy(p);
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

/* Runs first when pchild is destroyed (a pre-cleanup, before the subpools of the thread and
 * of the store go): stop the thread, shutting its socket down to end a blocking read, join
 * it, and free the ring. Under prefork a hard stop destroys pchild from a signal handler that
 * may have interrupted a stream handler inside the hub's lock; the lock is therefore only
 * tried for a while, and without it the thread is left to die with the process. */
static apr_status_t tw_hub_cleanup(void *data)
{
    tw_hub *h = data;
    apr_status_t trv;
    if (!tw_lock_within(h->lock, 1000))
        return APR_SUCCESS;
    h->stop = h->stopping = 1;
    if (h->sub_fd >= 0)
        shutdown(h->sub_fd, SHUT_RDWR);
    apr_thread_cond_broadcast(h->sleep);
    apr_thread_cond_broadcast(h->wake);
    apr_thread_mutex_unlock(h->lock);
    apr_thread_join(&trv, h->thread);
    for (int i = 0; i < TW_RING_SIZE; i++) {
        tw_frame_release(h->ring[i]);
        h->ring[i] = NULL;
    }
    return APR_SUCCESS;
}

apr_status_t tw_hub_start(apr_pool_t *pchild, server_rec *s, tw_store *store, tw_hub **out)
{
    tw_hub *h = apr_pcalloc(pchild, sizeof(*h));
    apr_pool_t *sync;
    apr_status_t rv;
    h->s = s;
    h->store = store;
    h->sub_fd = -1;
    /* The lock and condition variables live in a pool that is never destroyed: under prefork
     * pchild is destroyed from a signal handler, possibly while the interrupted thread waits
     * on `wake`, and pthread_cond_destroy would then wait for it forever. They go with the
     * process. */
    if ((rv = apr_pool_create_unmanaged_ex(&sync, NULL, NULL)) != APR_SUCCESS)
        return rv;
    if ((rv = apr_thread_mutex_create(&h->lock, APR_THREAD_MUTEX_DEFAULT, sync)) ||
        (rv = apr_thread_cond_create(&h->wake, sync)) ||
        (rv = apr_thread_cond_create(&h->sleep, sync)))
        return rv;
    if ((rv = apr_thread_create(&h->thread, NULL, tw_hub_main, h, pchild)) != APR_SUCCESS)
        return rv;
    apr_pool_pre_cleanup_register(pchild, h, tw_hub_cleanup);
    *out = h;
    return APR_SUCCESS;
}

void tw_hub_stopping(tw_hub *h)
{
    /* Under prefork this runs in a signal handler that may have interrupted the thread inside
     * the lock: then only the flag is set, and a waiting stream sees the MPM's state within
     * its wait slice instead of being woken. */
    if (!tw_lock_within(h->lock, 50)) {
        h->stopping = 1;
        return;
    }
    h->stopping = 1;
    apr_thread_cond_broadcast(h->wake);
    apr_thread_mutex_unlock(h->lock);
}

void tw_hub_join(tw_hub *h, tw_sub *sub)
{
    sub->hub = h;
    apr_thread_mutex_lock(h->lock);
    sub->next = h->head;
    apr_thread_mutex_unlock(h->lock);
}

int tw_hub_wait_ready(tw_hub *h, apr_interval_time_t timeout)
{
    apr_time_t deadline = apr_time_now() + timeout;
    apr_thread_mutex_lock(h->lock);
    while (!h->ready && !h->stopping) {
        apr_time_t now = apr_time_now();
        if (now >= deadline)
            break;
        apr_thread_cond_timedwait(h->wake, h->lock, deadline - now);
    }
    int ready = h->ready && !h->stopping;
    apr_thread_mutex_unlock(h->lock);
    return ready;
}

tw_hub_status tw_hub_next(tw_sub *sub, apr_interval_time_t timeout, tw_id *after, tw_hub_sink *sink,
                          void *ctx)
{
    tw_hub *h = sub->hub;
    tw_hub_status st = TW_HUB_EVENTS;
    apr_thread_mutex_lock(h->lock);
    if (sub->next == h->head && !h->stopping)
        apr_thread_cond_timedwait(h->wake, h->lock, timeout);
    if (h->stopping) {
        st = TW_HUB_STOPPING;
    } else if (sub->next == h->head) {
        st = TW_HUB_TIMEOUT;
    } else if (h->head - sub->next > TW_RING_SIZE) {
        st = TW_HUB_LAGGED;
    } else {
        for (; sub->next < h->head; sub->next++) {
            const tw_frame *f = h->ring[sub->next % TW_RING_SIZE];
            if (f->control) {
                sink(ctx, f->data, f->len);
            } else if (tw_id_cmp(f->id, *after) > 0) {
                sink(ctx, f->data, f->len);
                *after = f->id;
            }
        }
    }
    apr_thread_mutex_unlock(h->lock);
    return st;
}

apr_uint64_t tw_hub_collect(tw_hub *h, apr_uint64_t from, tw_frame **out)
{
    apr_thread_mutex_lock(h->lock);
    apr_uint64_t head = h->head;
    if (head - from > TW_RING_SIZE)
        from = head - TW_RING_SIZE;
    for (size_t n = 0; from < head; from++, n++) {
        out[n] = h->ring[from % TW_RING_SIZE];
        apr_atomic_inc32(&out[n]->refs);
    }
    apr_thread_mutex_unlock(h->lock);
    return head;
}

void tw_hub_notify(tw_hub *h, void (*fn)(void *ctx), void *ctx)
{
    apr_thread_mutex_lock(h->lock);
    h->notify = fn;
    h->notify_ctx = ctx;
    apr_thread_mutex_unlock(h->lock);
}

apr_uint64_t tw_hub_generation(tw_hub *h)
{
    apr_thread_mutex_lock(h->lock);
    apr_uint64_t gen = h->ready && h->sub_fd >= 0 && !h->stopping ? h->gen : 0;
    apr_thread_mutex_unlock(h->lock);
    return gen;
}
