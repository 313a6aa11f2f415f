#include "tw_redis_sub.h"
#include "tw_buf.h"
#include "tw_redis_wire.h"
#include "tw_thread.h"

#include <apr_strings.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TW_BACKOFF_MIN      100  /* ms, first reconnect delay */
#define TW_BACKOFF_MAX      5000 /* ms, longest reconnect delay */
#define TW_BACKOFF_SENTINEL 1000 /* ms, the longest with Sentinel: a failover takes seconds */
#define TW_FILL_PAGE        500  /* entries per XRANGE when catching up */
#define TW_WATCH_RETRY      5000 /* ms between attempts to watch the sentinels again */
#define TW_LOST_TIMEOUTS    3    /* down this many timeouts: the listener hears `lost` */
#define TW_SWITCH_CHANNEL   "+switch-master"

struct tw_redis_sub {
    tw_thread thread;
    tw_store *store;
    const tw_redis_conf *cf;
    tw_store_listener l;
    apr_pool_t *pool; /* the thread's own (unmanaged, made and destroyed by it), for scratch */

    /* Owned by the thread. */
    tw_id last;          /* newest post delivered, or the baseline */
    int has_baseline;    /* `last` is set: from now on nothing after it may be missed */
    uint64_t gen;        /* the store's target the subscription is on */
    uint64_t last_gen;   /* the target of the last subscription that came up (0: none) */
    redisContext *watch; /* with Sentinel: subscribed to +switch-master on one of them */
    apr_time_t watch_at; /* when to try to watch again, while not watching */
    long pid;            /* this process: canaries of others are not ours */

    /* For tw_redis_sub_health and tw_redis_sub_heard, from any thread. */
    apr_thread_mutex_t *lock;  /* guards error, since and heard */
    apr_thread_cond_t *canary; /* signalled when heard grows */
    atomic_int subscribed;
    atomic_uint drops;
    apr_time_t since;
    char error[256];
    unsigned long long heard; /* the newest canary of this process heard */
};

/* Record the subscription's state for tw_redis_sub_health: up (no error), or down and why. */
static void tw_sub_set_state(tw_redis_sub *s, int up, const char *error)
{
    apr_thread_mutex_lock(s->lock);
    s->since = apr_time_now();
    apr_cpystrn(s->error, error ? error : "", sizeof(s->error));
    apr_thread_mutex_unlock(s->lock);
    atomic_store(&s->subscribed, up);
}

/* Has the store been told to stop? */
static int tw_sub_exiting(tw_redis_sub *s)
{
    return tw_thread_state(&s->thread) == TW_EXIT;
}

/* Wait for `events` on the connection until `deadline`, or for the stop bell. Returns 1 when
 * ready, 0 on timeout, -1 if the store is stopping (or poll failed). */
static int tw_sub_wait(tw_redis_sub *s, int fd, short events, apr_time_t deadline)
{
    for (;;) {
        struct pollfd pfd[2] = {{.fd = fd, .events = events},
                                {.fd = tw_thread_bell_fd(&s->thread), .events = POLLIN}};
        int ms = -1;
        if (deadline) {
            apr_time_t left = deadline - apr_time_now();
            if (left <= 0)
                return 0;
            ms = (int)((left + 999) / 1000);
        }
        int n = poll(pfd, 2, ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (pfd[1].revents) {
            tw_thread_quiet(&s->thread);
            if (tw_sub_exiting(s))
                return -1;
        }
        if (pfd[0].revents)
            return 1;
        if (n == 0)
            return 0;
    }
}

/* Send one command on the non-blocking connection and wait for its reply (by `deadline`).
 * Returns NULL with *out set, or why not (a stop gives "stopping"). */
static const char *tw_sub_command(tw_redis_sub *s, redisContext *ctx, apr_time_t deadline,
                                  redisReply **out, int argc, const char **argv)
{
    if (redisAppendCommandArgv(ctx, argc, argv, NULL) != REDIS_OK)
        return "out of memory";
    for (int done = 0; !done;) {
        if (redisBufferWrite(ctx, &done) != REDIS_OK)
            return ctx->errstr;
        if (done)
            break;
        int w = tw_sub_wait(s, ctx->fd, POLLOUT, deadline);
        if (w <= 0)
            return w < 0 ? "stopping" : "timed out sending a command";
    }
    for (;;) {
        void *rep = NULL;
        if (redisGetReplyFromReader(ctx, &rep) != REDIS_OK)
            return ctx->errstr;
        if (rep) {
            *out = rep;
            return NULL;
        }
        int w = tw_sub_wait(s, ctx->fd, POLLIN, deadline);
        if (w <= 0)
            return w < 0 ? "stopping" : "timed out waiting for a reply";
        if (redisBufferRead(ctx) != REDIS_OK)
            return ctx->errstr[0] ? ctx->errstr : "connection closed";
    }
}

/* Connect without blocking to `t` and wait for the connect (by `deadline`). Returns NULL with
 * *out set, or why not (in the scratch pool). */
static const char *tw_sub_dial(tw_redis_sub *s, const tw_redis_target *t, apr_time_t deadline,
                               redisContext **out)
{
    redisContext *ctx = t->path ? redisConnectUnixNonBlock(t->path)
                                : redisConnectNonBlock(t->node.host, t->node.port);
    if (!ctx)
        return "out of memory";
    const char *err = NULL;
    const char *where =
        t->path ? t->path : apr_psprintf(s->pool, "%s:%d", t->node.host, t->node.port);
    if (ctx->err) {
        err = apr_psprintf(s->pool, "connect to %s: %s", where, ctx->errstr);
    } else {
        int w = tw_sub_wait(s, ctx->fd, POLLOUT, deadline);
        int soerr = 0;
        socklen_t len = sizeof(soerr);
        if (w < 0)
            err = "stopping";
        else if (w == 0)
            err = apr_psprintf(s->pool, "connect to %s: timed out", where);
        else if (getsockopt(ctx->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr)
            err =
                apr_psprintf(s->pool, "connect to %s: %s", where, strerror(soerr ? soerr : errno));
    }
    if (!err && fcntl(ctx->fd, F_SETFD, FD_CLOEXEC) != 0)
        err = "cannot set the descriptor close-on-exec";
    if (!err && !t->path && redisEnableKeepAlive(ctx) != REDIS_OK)
        err = "cannot enable TCP keepalive";
    if (err) {
        err = apr_pstrdup(s->pool, err); /* it may point into ctx */
        redisFree(ctx);
        return err;
    }
    *out = ctx;
    return NULL;
}

/* Connect to the store's target, AUTH if configured, check with ROLE that a primary named by
 * the sentinels still is one, SUBSCRIBE. Returns NULL with *out set, or why not (in the scratch
 * pool). */
static const char *tw_sub_connect(tw_redis_sub *s, redisContext **out)
{
    const tw_redis_conf *cf = s->cf;
    apr_time_t deadline = apr_time_now() + apr_time_from_msec(cf->timeout_ms);
    tw_redis_target t;
    const char *err = NULL;
    if (tw_redis_target_get(s->store, s->pool, &t, &err) != APR_SUCCESS)
        return apr_pstrdup(s->pool, err);
    redisContext *ctx = NULL;
    if ((err = tw_sub_dial(s, &t, deadline, &ctx))) {
        tw_redis_invalidate(s->store, t.gen, err);
        return err;
    }
    s->gen = t.gen;
    redisReply *rep = NULL;
    if (!err && cf->password) {
        const char *argv[] = {"AUTH", cf->password};
        err = tw_sub_command(s, ctx, deadline, &rep, 2, argv);
        if (!err && rep->type == REDIS_REPLY_ERROR)
            err = apr_pstrcat(s->pool, "AUTH: ", rep->str, NULL);
        if (rep)
            freeReplyObject(rep);
        rep = NULL;
    }
    if (!err && cf->addr.master) {
        const char *argv[] = {"ROLE"};
        err = tw_sub_command(s, ctx, deadline, &rep, 1, argv);
        if (!err && !tw_redis_wire_role_master(rep)) {
            err = apr_psprintf(s->pool, "%s:%d is no longer the primary", t.node.host, t.node.port);
            tw_redis_invalidate(s->store, t.gen, err);
        }
        if (rep)
            freeReplyObject(rep);
        rep = NULL;
    }
    if (!err) {
        const char *argv[] = {"SUBSCRIBE", cf->channel};
        err = tw_sub_command(s, ctx, deadline, &rep, 2, argv);
        if (!err && rep->type != REDIS_REPLY_ARRAY)
            err = apr_pstrcat(s->pool, "SUBSCRIBE: ",
                              rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply", NULL);
        if (rep)
            freeReplyObject(rep);
    }
    if (err) {
        err = apr_pstrdup(s->pool, err); /* it may point into ctx */
        redisFree(ctx);
        return err;
    }
    *out = ctx;
    return NULL;
}

/* Hand a post to the listener unless it is not newer than the last one. */
static void tw_sub_deliver(tw_redis_sub *s, const tw_post *post)
{
    if (tw_id_cmp(post->id, s->last) <= 0)
        return;
    s->l.post(s->l.ctx, post);
    s->last = post->id;
}

/* tw_store_each_after callback of the catch-up: stops once the store is told to stop. */
static int tw_sub_fill_one(void *ctx, const tw_post *post)
{
    tw_redis_sub *s = ctx;
    tw_sub_deliver(s, post);
    return tw_sub_exiting(s);
}

/* After (re)subscribing: take the baseline the first time, else deliver what the stream got
 * while we were away, or report that it lost some. The baseline is the id of the newest entry
 * ever added, whoever wrote it (a post of ours or not, trimmed or not), so nothing before it is
 * delivered again. A catch-up from the last post delivered finds a gap when that post has been
 * trimmed; from the zero id (the stream did not exist at the baseline, and nothing reached us
 * since), when any entry was removed since it was created. On a new primary whose stream ends
 * before the last post delivered, that post was announced by the old one but never reached a
 * replica (so it was never acknowledged: WAIT failed): there is nothing after it to miss, and
 * the new primary's posts are delivered from its own newest id. Returns NULL, or why Redis
 * failed. */
static const char *tw_sub_catch_up(tw_redis_sub *s)
{
    tw_redis_stream st;
    const char *err = NULL;
    if (tw_redis_stream_state(s->store, s->pool, &st, &err) != APR_SUCCESS)
        return apr_pstrcat(s->pool, "reading the stream's state: ", err, NULL);
    if (!s->has_baseline) {
        if (tw_redis_settings_check(s->store, s->pool, &err) != APR_SUCCESS)
            return apr_pstrcat(s->pool, "checking the feed's settings: ", err, NULL);
        s->last = st.last_generated;
        s->has_baseline = 1;
        return NULL;
    }
    if (s->last_gen && s->gen != s->last_gen && tw_id_cmp(st.last_generated, s->last) < 0) {
        char was[TW_ID_MAX], now[TW_ID_MAX];
        tw_id_format(s->last, was);
        tw_id_format(st.last_generated, now);
        TW_LOG(s->cf->log, TW_LOG_INFO, 0,
               "TW0120: the new primary's stream ends at %s, before %s (announced by the old "
               "primary, never replicated): going on from there",
               now, was);
        s->last = st.last_generated;
        return NULL;
    }
    const tw_id zero = {0, 0};
    int from_zero = tw_id_cmp(s->last, zero) == 0;
    /* From zero, each_after never finds a gap: the stream's own count says if one opened. */
    int gap = from_zero && st.entries_added > st.length;
    if (!gap && (!from_zero || st.length > 0) &&
        tw_store_each_after(s->store, s->pool, s->last, TW_FILL_PAGE, tw_sub_fill_one, s, &gap,
                            &err) != APR_SUCCESS)
        return apr_pstrcat(s->pool, "catching up: ", err, NULL);
    if (gap && !tw_sub_exiting(s)) {
        /* The posts after the last one delivered are gone: start over from the newest. */
        s->last = st.last_generated;
        s->l.gap(s->l.ctx);
    }
    return NULL;
}

/* A canary "?<pid>:<n>" (tw_redis_probe): if it is this process's, record that it came back. */
static void tw_sub_canary(tw_redis_sub *s, const char *payload, size_t len)
{
    char buf[64];
    if (len >= sizeof(buf))
        return;
    memcpy(buf, payload, len);
    buf[len] = '\0';
    char *end = NULL;
    long pid = strtol(buf + 1, &end, 10);
    if (pid != s->pid || *end != ':')
        return;
    unsigned long long n = strtoull(end + 1, NULL, 10);
    apr_thread_mutex_lock(s->lock);
    if (n > s->heard)
        s->heard = n;
    apr_thread_cond_broadcast(s->canary);
    apr_thread_mutex_unlock(s->lock);
}

/* Watch the sentinels' +switch-master announcements, from the first sentinel that takes the
 * subscription: NULL, or why none did (then retried TW_WATCH_RETRY later). */
static const char *tw_sub_watch(tw_redis_sub *s)
{
    const tw_redis_addr *a = &s->cf->addr;
    const char *err = "no sentinel";
    s->watch_at = apr_time_now() + apr_time_from_msec(TW_WATCH_RETRY);
    for (int i = 0; i < a->nsentinels && !s->watch; i++) {
        tw_redis_target t = {.node = a->sentinels[i]};
        apr_time_t deadline = apr_time_now() + apr_time_from_msec(s->cf->timeout_ms);
        redisContext *ctx = NULL;
        if ((err = tw_sub_dial(s, &t, deadline, &ctx)))
            continue;
        redisReply *rep = NULL;
        const char *argv[] = {"SUBSCRIBE", TW_SWITCH_CHANNEL};
        err = tw_sub_command(s, ctx, deadline, &rep, 2, argv);
        if (!err && rep->type != REDIS_REPLY_ARRAY)
            err = "SUBSCRIBE " TW_SWITCH_CHANNEL ": refused";
        if (rep)
            freeReplyObject(rep);
        if (err) {
            err = apr_psprintf(s->pool, "sentinel %s:%d: %s", t.node.host, t.node.port, err);
            redisFree(ctx);
            continue;
        }
        s->watch = ctx;
        TW_LOG(s->cf->log, TW_LOG_DEBUG, 0, "TW0117: watching sentinel %s:%d for failovers",
               t.node.host, t.node.port);
    }
    return s->watch ? NULL : err;
}

static void tw_sub_unwatch(tw_redis_sub *s)
{
    if (s->watch)
        redisFree(s->watch);
    s->watch = NULL;
}

/* Read what the watched sentinel sent. Returns 1 if it announced a new primary of our master,
 * 0 otherwise; a failed watch is dropped (and retried later). */
static int tw_sub_read_watch(tw_redis_sub *s)
{
    if (redisBufferRead(s->watch) != REDIS_OK) {
        TW_LOG(s->cf->log, TW_LOG_WARNING, 0,
               "TW0118: lost the watch on the sentinels (%s); trying again in %d s",
               s->watch->errstr[0] ? s->watch->errstr : "connection closed", TW_WATCH_RETRY / 1000);
        tw_sub_unwatch(s);
        return 0;
    }
    int moved = 0;
    for (;;) {
        void *r = NULL;
        if (redisGetReplyFromReader(s->watch, &r) != REDIS_OK) {
            tw_sub_unwatch(s);
            return moved;
        }
        if (!r)
            return moved;
        const char *payload;
        size_t len;
        tw_redis_node to;
        if (tw_redis_wire_message(r, TW_SWITCH_CHANNEL, &payload, &len) &&
            tw_redis_wire_switch_master(s->pool, payload, len, s->cf->addr.master, &to)) {
            TW_LOG(s->cf->log, TW_LOG_NOTICE, 0,
                   "TW0116: the sentinels made %s:%d the primary of %s; following", to.host,
                   to.port, s->cf->addr.master);
            moved = 1;
        }
        freeReplyObject(r);
    }
}

/* Read announcements until the connection fails or the sentinels announce a new primary
 * (returns why), or the store stops (NULL). With Sentinel, also keeps the watch on them. */
static const char *tw_sub_listen(tw_redis_sub *s, redisContext *ctx)
{
    for (;;) {
        void *r = NULL;
        if (redisGetReplyFromReader(ctx, &r) != REDIS_OK)
            return ctx->errstr;
        if (!r) {
            if (s->cf->addr.master && !s->watch && apr_time_now() >= s->watch_at)
                tw_sub_watch(s);
            struct pollfd pfd[3] = {{.fd = ctx->fd, .events = POLLIN},
                                    {.fd = tw_thread_bell_fd(&s->thread), .events = POLLIN},
                                    {.fd = s->watch ? s->watch->fd : -1, .events = POLLIN}};
            int ms = -1;
            if (s->cf->addr.master && !s->watch) {
                apr_time_t left = s->watch_at - apr_time_now();
                ms = left > 0 ? (int)((left + 999) / 1000) : 0;
            }
            int n = poll(pfd, 3, ms);
            if (n < 0 && errno != EINTR)
                return "poll failed";
            if (n <= 0)
                continue;
            if (pfd[1].revents) {
                tw_thread_quiet(&s->thread);
                if (tw_sub_exiting(s))
                    return NULL;
            }
            if (pfd[2].revents && tw_sub_read_watch(s)) {
                tw_redis_invalidate(s->store, s->gen, "the sentinels announced a new primary");
                return "the sentinels announced a new primary";
            }
            if (pfd[0].revents && redisBufferRead(ctx) != REDIS_OK)
                return ctx->errstr[0] ? ctx->errstr : "connection closed";
            continue;
        }
        redisReply *rep = r;
        const char *payload;
        size_t len;
        tw_post post;
        if (tw_redis_wire_message(rep, s->cf->channel, &payload, &len)) {
            if (len > 0 && payload[0] == '?')
                tw_sub_canary(s, payload, len);
            else if (tw_redis_parse_broadcast(payload, len, &post))
                tw_sub_deliver(s, &post);
            else
                TW_LOG(s->cf->log, TW_LOG_WARNING, 0,
                       "TW0105: ignoring a malformed announcement on the channel");
        }
        freeReplyObject(rep);
    }
}

/* The thread: connect, subscribe, catch up, listen; on failure back off and repeat. */
static void tw_sub_main(void *data)
{
    tw_redis_sub *s = data;
    const tw_log *log = s->cf->log;
    long backoff = TW_BACKOFF_MIN;
    long backoff_max = s->cf->addr.master ? TW_BACKOFF_SENTINEL : TW_BACKOFF_MAX;
    int logged_down = 0, lost = 0;
    apr_time_t down_since = 0;
    apr_interval_time_t lost_after = apr_time_from_msec(TW_LOST_TIMEOUTS * s->cf->timeout_ms);
    if (apr_pool_create_unmanaged_ex(&s->pool, tw_buf_oom, NULL) != APR_SUCCESS) {
        TW_LOG(log, TW_LOG_CRIT, APR_ENOMEM, "TW0109: out of memory: no live updates");
        return;
    }
    while (!tw_sub_exiting(s)) {
        char why[256];
        redisContext *ctx = NULL;
        int was_up = 0;
        const char *err = tw_sub_connect(s, &ctx);
        if (!err && !(err = tw_sub_catch_up(s)) && !tw_sub_exiting(s)) {
            s->last_gen = s->gen;
            tw_sub_set_state(s, 1, NULL); /* before the listener hears it, as for down */
            s->l.up(s->l.ctx);
            TW_LOG(log, logged_down ? TW_LOG_NOTICE : TW_LOG_DEBUG, 0, "TW0106: subscribed to %s",
                   s->cf->channel);
            was_up = 1;
            backoff = TW_BACKOFF_MIN;
            logged_down = lost = 0;
            err = tw_sub_listen(s, ctx);
        }
        apr_cpystrn(why, err ? err : "connection closed", sizeof(why)); /* err may be in ctx */
        if (ctx && ctx->err && !tw_sub_exiting(s))
            tw_redis_invalidate(s->store, s->gen, why); /* the primary may be gone */
        if (ctx)
            redisFree(ctx);
        apr_pool_clear(s->pool);
        if (tw_sub_exiting(s))
            break; /* told to stop: not an outage */
        /* The state first: a listener that hears "down" and asks for health sees why. */
        tw_sub_set_state(s, 0, why);
        if (was_up) {
            atomic_fetch_add(&s->drops, 1);
            s->l.down(s->l.ctx);
            down_since = apr_time_now();
        }
        if (down_since && !lost && apr_time_now() - down_since >= lost_after) {
            TW_LOG(log, TW_LOG_ERR, 0,
                   "TW0119: no Redis subscription for %d timeouts (%s); letting the open "
                   "streams go, so their clients resume elsewhere",
                   TW_LOST_TIMEOUTS, why);
            lost = 1;
            s->l.lost(s->l.ctx);
        }
        if (!logged_down) {
            TW_LOG(log, TW_LOG_WARNING, 0,
                   "TW0107: Redis subscription lost (%s); reconnecting with backoff", why);
            logged_down = 1;
        }
        TW_LOG(log, TW_LOG_DEBUG, 0, "TW0108: next subscription attempt in %ld ms", backoff);
        if (tw_thread_pause(&s->thread, apr_time_from_msec(backoff)) == TW_EXIT)
            break;
        backoff = backoff * 2 > backoff_max ? backoff_max : backoff * 2;
    }
    tw_sub_unwatch(s);
    atomic_store(&s->subscribed, 0);
    apr_pool_destroy(s->pool);
}

apr_status_t tw_redis_sub_start(apr_pool_t *p, tw_store *store, const tw_redis_conf *cf,
                                const tw_store_listener *l, tw_redis_sub **out)
{
    tw_redis_sub *s = apr_pcalloc(p, sizeof(*s));
    s->store = store;
    s->cf = cf;
    s->l = *l;
    s->pid = (long)getpid();
    atomic_init(&s->subscribed, 0);
    atomic_init(&s->drops, 0);
    apr_status_t rv = apr_thread_mutex_create(&s->lock, APR_THREAD_MUTEX_DEFAULT, p);
    if (rv != APR_SUCCESS || (rv = apr_thread_cond_create(&s->canary, p)) != APR_SUCCESS ||
        (rv = tw_thread_init(&s->thread)) != APR_SUCCESS)
        return rv;
    if ((rv = tw_thread_start(&s->thread, "tw-redis-sub", tw_sub_main, s)) != APR_SUCCESS) {
        tw_thread_destroy(&s->thread);
        return rv;
    }
    *out = s;
    return APR_SUCCESS;
}

void tw_redis_sub_health(tw_redis_sub *s, tw_store_health *out)
{
    out->subscribed = atomic_load(&s->subscribed);
    out->drops = atomic_load(&s->drops);
    apr_thread_mutex_lock(s->lock);
    out->since = s->since;
    apr_cpystrn(out->error, s->error, sizeof(out->error));
    apr_thread_mutex_unlock(s->lock);
}

int tw_redis_sub_heard(tw_redis_sub *s, unsigned long long n, apr_time_t deadline)
{
    apr_thread_mutex_lock(s->lock);
    while (s->heard < n) {
        apr_interval_time_t left = deadline - apr_time_now();
        if (left <= 0)
            break;
        apr_thread_cond_timedwait(s->canary, s->lock, left);
    }
    int heard = s->heard >= n;
    apr_thread_mutex_unlock(s->lock);
    return heard;
}

void tw_redis_sub_stop(tw_redis_sub *s)
{
    tw_thread_advance(&s->thread, TW_EXIT);
}

int tw_redis_sub_stopped(tw_redis_sub *s, apr_interval_time_t timeout)
{
    return tw_thread_wait(&s->thread, timeout);
}
