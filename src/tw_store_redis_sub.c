#include "tw_store_redis_int.h"
#include "tw_buf.h"
#include "tw_store_redis_wire.h"
#include "tw_thread.h"

#include <apr_network_io.h>
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

#define TW_BACKOFF_MIN         100  /* ms, first reconnect delay */
#define TW_BACKOFF_MAX         5000 /* ms, longest reconnect delay */
#define TW_BACKOFF_SENTINEL    250  /* ms, the longest with Sentinel: back soon after a failover */
#define TW_FILL_PAGE           500  /* entries per XRANGE when catching up */
#define TW_WATCH_RETRY         5000 /* ms between attempts to watch the sentinels again */
#define TW_LOST_TIMEOUTS       3    /* down this many timeouts: the listener hears `lost` */
#define TW_SWITCH_CHANNEL      "+switch-master"
#define TW_RECENT              256 /* ids of the newest posts delivered, kept for a failover */
#define TW_CENSUS_PERIOD       apr_time_from_sec(1) /* between counts of the primary's replicas */
#define TW_CENSUS_SHORT_PERIOD apr_time_from_msec(250) /* the same while one is missing */

struct tw_redis_sub {
    tw_thread thread;
    tw_store *store;       /* the Redis store: the catch-up's reads */
    tw_redis_conns *conns; /* its connections: where the primary is */
    const tw_store_redis_conf *cf;
    tw_store_listener l;
    apr_pool_t *pool; /* the thread's own (unmanaged, made and destroyed by it), for scratch;
                         cleared after each subscription */
    apr_pool_t *tick; /* another (not a subpool of it, which that clear would destroy), cleared
                         after each periodic job (counts, presence, census) */

    /* Owned by the thread. */
    tw_id last;              /* newest post delivered, or the baseline */
    int has_baseline;        /* `last` is set: from now on nothing after it may be missed */
    uint64_t gen;            /* the store's target the subscription is on */
    uint64_t last_gen;       /* the target of the last subscription that came up (0: none) */
    tw_id recent[TW_RECENT]; /* the ids of the newest posts delivered, a ring */
    unsigned nrecent;        /* posts delivered (the next slot is nrecent % TW_RECENT) */
    redisContext *watch;     /* with Sentinel: +switch-master on one (tw_redis_sub_watch_*) */
    int watch_up;            /* the watch is subscribed (else it is connecting) */
    apr_time_t watch_at;     /* no watch: when to try next; connecting: the connect's deadline */
    unsigned watch_next;     /* the sentinel to try next (round robin) */
    int watch_tries;         /* attempts that failed in a row */
    char token[33];          /* this process's canaries carry it (random: no other has it) */
    char member[320];        /* "<host>:<pid>:<token>": this process in the feed's presence */
    apr_time_t presence_at;  /* when to report the readers next */
    apr_time_t census_at;    /* when to count the primary's replicas next (tw_redis_census) */
    long presence;           /* the sum the listener heard last; -1: none yet */
    long backoff;            /* ms before the next attempt */
    int logged_down;         /* the outage has been logged */
    int lost;                /* the listener has heard `lost` in this outage */
    apr_time_t down_since;   /* when the subscription last went down, or the thread started */

    /* For tw_redis_sub_health and tw_redis_sub_heard, from any thread. */
    apr_thread_mutex_t *lock;  /* guards error, since and heard */
    apr_thread_cond_t *canary; /* signalled when heard grows */
    atomic_int subscribed;
    atomic_uint drops;
    apr_time_t since;
    char error[256];
    unsigned long long heard; /* the newest canary of this process heard */
};

/* On the way out: take this process's readers out of the presence at once, instead of a
 * period later (a graceful restart would count its streams twice meanwhile). Best effort, one
 * round trip bounded by the timeout; nothing when it never reported. */
static void tw_redis_sub_absent(tw_redis_sub *s)
{
    if (s->presence < 0)
        return;
    const char *err = NULL;
    if (tw_redis_presence_leave(s->store, s->tick, s->member, &err) != APR_SUCCESS)
        TW_LOG(s->cf->log, TW_LOG_DEBUG, 0, "TW0126: cannot leave the presence: %s", err);
}

/* Record the subscription's state for tw_redis_sub_health: up (no error), or down and why. */
static void tw_redis_sub_set_state(tw_redis_sub *s, int up, const char *error)
{
    apr_thread_mutex_lock(s->lock);
    s->since = apr_time_now();
    apr_cpystrn(s->error, error ? error : "", sizeof(s->error));
    apr_thread_mutex_unlock(s->lock);
    atomic_store(&s->subscribed, up);
}

/* Has the store been told to stop? */
static int tw_redis_sub_exiting(tw_redis_sub *s)
{
    return tw_thread_state(&s->thread) == TW_EXIT;
}

/* Wait for `events` on the connection until `deadline`, or for the stop bell. Returns 1 when
 * ready, 0 on timeout, -1 if the store is stopping (or poll failed). */
static int tw_redis_sub_wait(tw_redis_sub *s, int fd, short events, apr_time_t deadline)
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
            if (tw_redis_sub_exiting(s))
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
static const char *tw_redis_sub_command(tw_redis_sub *s, redisContext *ctx, apr_time_t deadline,
                                        redisReply **out, int argc, const char **argv)
{
    if (redisAppendCommandArgv(ctx, argc, argv, NULL) != REDIS_OK)
        return "out of memory";
    for (int done = 0; !done;) {
        if (redisBufferWrite(ctx, &done) != REDIS_OK)
            return ctx->errstr;
        if (done)
            break;
        int w = tw_redis_sub_wait(s, ctx->fd, POLLOUT, deadline);
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
        int w = tw_redis_sub_wait(s, ctx->fd, POLLIN, deadline);
        if (w <= 0)
            return w < 0 ? "stopping" : "timed out waiting for a reply";
        if (redisBufferRead(ctx) != REDIS_OK)
            return ctx->errstr[0] ? ctx->errstr : "connection closed";
    }
}

/* Connect without blocking to `t` and wait for the connect (by `deadline`). Returns NULL with
 * *out set, or why not (in the scratch pool). */
static const char *tw_redis_sub_dial(tw_redis_sub *s, const tw_redis_target *t, apr_time_t deadline,
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
        int w = tw_redis_sub_wait(s, ctx->fd, POLLOUT, deadline);
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
static const char *tw_redis_sub_connect(tw_redis_sub *s, redisContext **out)
{
    const tw_store_redis_conf *cf = s->cf;
    apr_time_t deadline = apr_time_now() + apr_time_from_msec(cf->feed.timeout_ms);
    tw_redis_target t;
    const char *err = NULL;
    if (tw_redis_target_get(s->conns, s->pool, &t, &err) != APR_SUCCESS)
        return apr_pstrdup(s->pool, err);
    redisContext *ctx = NULL;
    if ((err = tw_redis_sub_dial(s, &t, deadline, &ctx))) {
        tw_redis_invalidate(s->conns, t.gen, err);
        return err;
    }
    s->gen = t.gen;
    redisReply *rep = NULL;
    if (!err && cf->feed.password) {
        const char *argv[] = {"AUTH", cf->feed.password};
        err = tw_redis_sub_command(s, ctx, deadline, &rep, 2, argv);
        if (!err && rep->type == REDIS_REPLY_ERROR)
            err = apr_pstrcat(s->pool, "AUTH: ", rep->str, NULL);
        if (rep)
            freeReplyObject(rep);
        rep = NULL;
    }
    if (!err && cf->feed.redis.master) {
        const char *argv[] = {"ROLE"};
        err = tw_redis_sub_command(s, ctx, deadline, &rep, 1, argv);
        if (!err && !tw_redis_wire_role_master(rep)) {
            err = apr_psprintf(s->pool, "%s:%d is no longer the primary", t.node.host, t.node.port);
            tw_redis_invalidate(s->conns, t.gen, err);
        }
        if (rep)
            freeReplyObject(rep);
        rep = NULL;
    }
    if (!err) {
        const char *argv[] = {"SUBSCRIBE", cf->feed.channel};
        err = tw_redis_sub_command(s, ctx, deadline, &rep, 2, argv);
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
static void tw_redis_sub_deliver(tw_redis_sub *s, const tw_event *ev)
{
    if (tw_id_cmp(ev->id, s->last) <= 0)
        return;
    s->l.event(s->l.ctx, ev);
    s->last = ev->id;
    s->recent[s->nrecent++ % TW_RECENT] = ev->id;
}

/* Was `id` among the newest posts delivered? O(TW_RECENT). */
static int tw_redis_sub_delivered(const tw_redis_sub *s, tw_id id)
{
    unsigned n = s->nrecent < TW_RECENT ? s->nrecent : TW_RECENT;
    for (unsigned i = 0; i < n; i++)
        if (tw_id_cmp(s->recent[i], id) == 0)
            return 1;
    return 0;
}

/* On a new primary that lacks the last post delivered: that post, and any after it, was
 * announced by the old primary and never reached the replica (so it was never acknowledged:
 * WAIT failed). If the newest post the new primary has before it is one this child delivered,
 * nothing before it is missing either: go on from there (returns 1). Otherwise (the two
 * diverged, or it has no post before it) the caller reports a gap. One round trip. */
static int tw_redis_sub_rewind(tw_redis_sub *s)
{
    tw_post *older;
    int n = 0, more;
    const char *err = NULL;
    if (tw_store_before(s->store, s->pool, s->last, 1, &older, &n, &more, &err) != APR_SUCCESS ||
        !n || !tw_redis_sub_delivered(s, older[0].id))
        return 0;
    tw_id before = older[0].id;
    char was[TW_ID_MAX], now[TW_ID_MAX];
    tw_id_format(s->last, was);
    tw_id_format(before, now);
    TW_LOG(s->cf->log, TW_LOG_INFO, 0,
           "TW0120: the new primary has the posts up to %s but not %s (announced by the old "
           "primary, never replicated): going on from %s",
           now, was, now);
    s->last = before;
    return 1;
}

/* tw_store_each_after callback of the catch-up: stops once the store is told to stop. The scan
 * reads every post after the last one delivered, so that one is each post's predecessor. */
static int tw_redis_sub_fill_one(void *ctx, const tw_event *ev)
{
    tw_redis_sub *s = ctx;
    tw_event e = *ev;
    e.prev = s->last;
    e.has_prev = 1;
    tw_redis_sub_deliver(s, &e);
    return tw_redis_sub_exiting(s);
}

/* After (re)subscribing: take the baseline the first time, else deliver what the stream got
 * while we were away, or report that it lost some. The baseline is the id of the newest entry
 * ever added, whoever wrote it (a post of ours or not, trimmed or not), so nothing before it is
 * delivered again. A catch-up from the last post delivered finds a gap when that post has been
 * trimmed; from the zero id (the stream did not exist at the baseline, and nothing reached us
 * since), when any entry was removed since it was created. On a new primary that lacks the
 * last post delivered, see tw_redis_sub_rewind. Returns NULL, or why Redis failed. */
static const char *tw_redis_sub_catch_up(tw_redis_sub *s)
{
    tw_redis_log st;
    const char *err = NULL;
    if (tw_redis_log_state(s->store, s->pool, &st, &err) != APR_SUCCESS)
        return apr_pstrcat(s->pool, "reading the stream's state: ", err, NULL);
    if (!s->has_baseline) {
        /* Advisory: an ACL that does not cover the settings' keys must not stop the feed. */
        if (tw_redis_settings_check(s->store, s->pool, &err) != APR_SUCCESS)
            TW_LOG(s->cf->log, TW_LOG_WARNING, 0,
                   "TW0122: cannot check the feed's shared settings (%s); going on without", err);
        s->last = st.last_generated;
        s->has_baseline = 1;
        return NULL;
    }
    const tw_id zero = {0, 0};
    int from_zero = tw_id_cmp(s->last, zero) == 0;
    /* From zero, each_after never finds a gap: the stream's own count says if one opened. */
    int gap = from_zero && st.entries_added > st.length;
    unsigned delivered = s->nrecent;
    if (!gap && (!from_zero || st.length > 0) &&
        tw_store_each_after(s->store, s->pool, s->last, TW_FILL_PAGE, tw_redis_sub_fill_one, s,
                            &gap, &err) != APR_SUCCESS)
        return apr_pstrcat(s->pool, "catching up: ", err, NULL);
    /* A gap on a new primary at once (nothing visited yet) may be a post it never had. */
    if (gap && !from_zero && s->nrecent == delivered && s->last_gen && s->gen != s->last_gen &&
        tw_redis_sub_rewind(s) &&
        tw_store_each_after(s->store, s->pool, s->last, TW_FILL_PAGE, tw_redis_sub_fill_one, s,
                            &gap, &err) != APR_SUCCESS)
        return apr_pstrcat(s->pool, "catching up: ", err, NULL);
    if (gap && !tw_redis_sub_exiting(s)) {
        /* The posts after the last one delivered are gone: start over from the newest. */
        s->last = st.last_generated;
        s->l.gap(s->l.ctx);
    }
    return NULL;
}

/* A canary "?<token>:<n>" (tw_redis_probe): if it carries this process's token, record that
 * canary n came back. Anything else starting with "?" is dropped. */
static void tw_redis_sub_canary(tw_redis_sub *s, const char *payload, size_t len)
{
    size_t k = sizeof(s->token) - 1;
    if (len < k + 3 || len > k + 2 + 19 || memcmp(payload + 1, s->token, k) != 0 ||
        payload[k + 1] != ':')
        return;
    unsigned long long n = 0;
    for (size_t i = k + 2; i < len; i++) {
        if (payload[i] < '0' || payload[i] > '9')
            return;
        n = n * 10 + (unsigned)(payload[i] - '0'); /* at most 19 digits: no overflow */
    }
    apr_thread_mutex_lock(s->lock);
    if (n > s->heard)
        s->heard = n;
    apr_thread_cond_broadcast(s->canary);
    apr_thread_mutex_unlock(s->lock);
}

/* The watch on the sentinels' +switch-master: a connection to one sentinel at a time, driven
 * without blocking from the listen loop's poll, so that a sentinel that hangs never holds up
 * the announcements (a connect that takes longer than the timeout is given up). After a
 * failure the next sentinel is tried at once; once every one has failed in a row, again
 * TW_WATCH_RETRY later. */

/* Give up the watch (or the attempt) and plan the next. */
static void tw_redis_sub_watch_failed(tw_redis_sub *s, apr_time_t now)
{
    if (s->watch)
        redisFree(s->watch);
    s->watch = NULL;
    s->watch_up = 0;
    s->watch_next++;
    if (++s->watch_tries >= s->cf->feed.redis.nsentinels) {
        s->watch_tries = 0;
        s->watch_at = now + apr_time_from_msec(TW_WATCH_RETRY);
    } else {
        s->watch_at = now;
    }
}

static void tw_redis_sub_unwatch(tw_redis_sub *s)
{
    if (s->watch)
        redisFree(s->watch);
    s->watch = NULL;
    s->watch_up = 0;
}

/* Start connecting to the next sentinel; until the connect completes, watch_at is its
 * deadline. */
static void tw_redis_sub_watch_start(tw_redis_sub *s, apr_time_t now)
{
    const tw_redis_addr *a = &s->cf->feed.redis;
    const tw_redis_node *n = &a->sentinels[s->watch_next % (unsigned)a->nsentinels];
    s->watch = redisConnectNonBlock(n->host, n->port);
    if (!s->watch || s->watch->err || fcntl(s->watch->fd, F_SETFD, FD_CLOEXEC) != 0) {
        tw_redis_sub_watch_failed(s, now);
        return;
    }
    s->watch_up = 0;
    s->watch_at = now + apr_time_from_msec(s->cf->feed.timeout_ms);
}

/* The connect completed (the socket is writable): send SUBSCRIBE. */
static void tw_redis_sub_watch_connected(tw_redis_sub *s, apr_time_t now)
{
    int soerr = 0, done = 0;
    socklen_t len = sizeof(soerr);
    const char *argv[] = {"SUBSCRIBE", TW_SWITCH_CHANNEL};
    if (getsockopt(s->watch->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr ||
        redisEnableKeepAlive(s->watch) != REDIS_OK ||
        redisAppendCommandArgv(s->watch, 2, argv, NULL) != REDIS_OK ||
        redisBufferWrite(s->watch, &done) != REDIS_OK || !done) {
        tw_redis_sub_watch_failed(s, now); /* a few bytes on a new socket: all or nothing */
        return;
    }
    const tw_redis_node *n =
        &s->cf->feed.redis.sentinels[s->watch_next % (unsigned)s->cf->feed.redis.nsentinels];
    TW_LOG(s->cf->log, TW_LOG_DEBUG, 0, "TW0117: watching sentinel %s:%d for failovers", n->host,
           n->port);
    s->watch_up = 1;
    s->watch_tries = 0;
}

/* Read what the watched sentinel sent. Returns 1 if it announced a new primary of our master
 * other than the one the subscription is on, 0 otherwise; a failed watch is given up (and
 * another tried). */
static int tw_redis_sub_read_watch(tw_redis_sub *s, apr_time_t now)
{
    if (redisBufferRead(s->watch) != REDIS_OK) {
        TW_LOG(s->cf->log, TW_LOG_WARNING, 0, "TW0118: lost the watch on the sentinels (%s)",
               s->watch->errstr[0] ? s->watch->errstr : "connection closed");
        tw_redis_sub_watch_failed(s, now);
        return 0;
    }
    int moved = 0;
    for (;;) {
        void *r = NULL;
        if (redisGetReplyFromReader(s->watch, &r) != REDIS_OK ||
            (r && ((redisReply *)r)->type == REDIS_REPLY_ERROR)) {
            if (r)
                freeReplyObject(r);
            tw_redis_sub_watch_failed(s, now);
            return moved;
        }
        if (!r)
            return moved;
        const char *payload;
        size_t len;
        tw_redis_node to;
        if (tw_redis_wire_message(r, TW_SWITCH_CHANNEL, &payload, &len) &&
            tw_redis_wire_switch_master(s->pool, payload, len, s->cf->feed.redis.master, &to)) {
            TW_LOG(s->cf->log, TW_LOG_NOTICE, 0,
                   "TW0116: the sentinels made %s:%d the primary of %s; following", to.host,
                   to.port, s->cf->feed.redis.master);
            /* Already there (found while the sentinels were switching): nothing to follow. */
            if (!tw_redis_target_is(s->conns, s->gen, &to))
                moved = 1;
        }
        freeReplyObject(r);
    }
}

/* One message of the subscription: a post's announcement goes to the listener, a canary is
 * counted, anything else on the channel is logged and dropped. */
static void tw_redis_sub_dispatch(tw_redis_sub *s, const redisReply *rep)
{
    const char *payload;
    size_t len;
    tw_event ev;
    if (!tw_redis_wire_message(rep, s->cf->feed.channel, &payload, &len))
        return; /* a subscription confirmation */
    if (len > 0 && payload[0] == '?')
        tw_redis_sub_canary(s, payload, len);
    else if (tw_redis_parse_broadcast(payload, len, &ev))
        tw_redis_sub_deliver(s, &ev);
    else
        TW_LOG(s->cf->log, TW_LOG_WARNING, 0,
               "TW0105: ignoring a malformed announcement on the channel");
}

/* With Sentinel: keep the watch on the sentinels going (start one, give up a connect that took
 * too long) and say how long the next wait may last: a second at most, so that a move of the
 * store's primary is seen within it. Returns the poll timeout in ms (-1 without Sentinel). */
static int tw_redis_sub_watch_tick(tw_redis_sub *s, apr_time_t now)
{
    if (!s->cf->feed.redis.master)
        return -1;
    if (!s->watch && now >= s->watch_at)
        tw_redis_sub_watch_start(s, now);
    if (s->watch && !s->watch_up && now >= s->watch_at)
        tw_redis_sub_watch_failed(s, now); /* the connect took too long */
    apr_time_t left = s->watch_up ? apr_time_from_sec(1) : s->watch_at - now;
    if (left > apr_time_from_sec(1))
        left = apr_time_from_sec(1);
    return left > 0 ? (int)((left + 999) / 1000) : 0;
}

/* Presence: report this process's readers once a period and tell the listener the sum when it
 * changed. A failure waits for the next period (logged at debug: the subscription's own
 * failures say more). One round trip a period. */
static void tw_redis_sub_presence(tw_redis_sub *s, apr_time_t now)
{
    if (!s->l.readers || !s->l.presence || now < s->presence_at)
        return;
    s->presence_at = now + TW_REDIS_PRESENCE_PERIOD;
    long total = 0;
    const char *err = NULL;
    if (tw_redis_presence(s->store, s->tick, s->member, s->l.readers(s->l.ctx), &total, &err) !=
        APR_SUCCESS) {
        TW_LOG(s->cf->log, TW_LOG_DEBUG, 0, "TW0125: cannot report the readers: %s", err);
    } else if (total != s->presence) {
        s->presence = total;
        s->l.presence(s->l.ctx, total);
    }
    apr_pool_clear(s->tick);
}

/* With Sentinel and TweetsseRedisMinReplicas, count the primary's replicas once a period (the
 * census that decides how many a post must reach: tw_redis_replicas_need); while a replica is
 * missing, more often, and ask the sentinels whether they name another primary already. */
static void tw_redis_sub_census(tw_redis_sub *s, apr_time_t now)
{
    if (!s->cf->feed.redis.master || s->cf->feed.min_replicas <= 0 || now < s->census_at)
        return;
    tw_redis_census(s->conns, s->tick);
    int missing = tw_redis_census_short(s->conns);
    if (missing)
        tw_redis_follow(s->conns, s->tick);
    s->census_at = now + (missing ? TW_CENSUS_SHORT_PERIOD : TW_CENSUS_PERIOD);
    apr_pool_clear(s->tick);
}

/* The earlier of two moments, 0 standing for none. */
static apr_time_t tw_redis_sub_sooner(apr_time_t a, apr_time_t b)
{
    return !a ? b : !b ? a : a < b ? a : b;
}

/* How long the next wait may last (ms, -1: for ever): until the watch's tick, the next count
 * of likes due, the next report of the readers and the next census of the replicas; what is
 * due now is done first. */
static int tw_redis_sub_timeout(tw_redis_sub *s)
{
    apr_time_t now = apr_time_now(), due = tw_redis_flush_next(s->store);
    if (due && due <= now) {
        tw_redis_flush_due(s->store, s->tick);
        apr_pool_clear(s->tick);
        now = apr_time_now();
        due = tw_redis_flush_next(s->store);
    }
    tw_redis_sub_presence(s, now);
    if (s->l.readers && s->l.presence)
        due = tw_redis_sub_sooner(due, s->presence_at);
    tw_redis_sub_census(s, now);
    if (s->cf->feed.redis.master && s->cf->feed.min_replicas > 0)
        due = tw_redis_sub_sooner(due, s->census_at);
    int ms = tw_redis_sub_watch_tick(s, now);
    if (due) {
        int until = due > now ? (int)((due - now + 999) / 1000) : 0;
        ms = ms < 0 || until < ms ? until : ms;
    }
    return ms;
}

/* Wait until the connection has bytes (read into its buffer), the bell wakes the thread (a stop,
 * or a count of likes to announce later) or the watch moves. Returns NULL to read on, "" when
 * the store stops, or why the subscription must end (the connection failed, the sentinels
 * announced a new primary). */
static const char *tw_redis_sub_wait_message(tw_redis_sub *s, redisContext *ctx)
{
    struct pollfd pfd[3] = {
        {.fd = ctx->fd, .events = POLLIN},
        {.fd = tw_thread_bell_fd(&s->thread), .events = POLLIN},
        {.fd = s->watch ? s->watch->fd : -1, .events = s->watch_up ? POLLIN : POLLOUT}};
    int n = poll(pfd, 3, tw_redis_sub_timeout(s));
    if (n < 0 && errno != EINTR)
        return "poll failed";
    if (n <= 0)
        return NULL;
    if (pfd[1].revents) {
        tw_thread_quiet(&s->thread);
        if (tw_redis_sub_exiting(s))
            return "";
    }
    apr_time_t now = apr_time_now();
    if (pfd[2].revents && !s->watch_up) {
        tw_redis_sub_watch_connected(s, now);
    } else if (pfd[2].revents && tw_redis_sub_read_watch(s, now)) {
        tw_redis_invalidate(s->conns, s->gen, "the sentinels announced a new primary");
        return "the sentinels announced a new primary";
    }
    if (pfd[0].revents && redisBufferRead(ctx) != REDIS_OK)
        return ctx->errstr[0] ? ctx->errstr : "connection closed";
    return NULL;
}

/* Read announcements until the connection fails, the sentinels announce a new primary or the
 * store moves to another one (returns why), or the store stops (NULL). With Sentinel, also
 * keeps the watch on them and looks at the store's primary at least once a second. */
static const char *tw_redis_sub_listen(tw_redis_sub *s, redisContext *ctx)
{
    int sentinel = s->cf->feed.redis.master != NULL;
    for (;;) {
        void *r = NULL;
        if (redisGetReplyFromReader(ctx, &r) != REDIS_OK)
            return ctx->errstr;
        if (r) {
            tw_redis_sub_dispatch(s, r);
            freeReplyObject(r);
            continue;
        }
        if (sentinel && tw_redis_target_gen(s->conns) != s->gen)
            return "the store moved to another primary";
        const char *why = tw_redis_sub_wait_message(s, ctx);
        if (why)
            return *why ? why : NULL;
    }
}

/* One subscription: connect, subscribe, catch up, tell the listener `up`, and listen until it
 * fails or the store stops. Returns why it ended (copied into `why`); *was_up says whether it
 * came up. */
static void tw_redis_sub_session(tw_redis_sub *s, char *why, size_t size, int *was_up)
{
    redisContext *ctx = NULL;
    *was_up = 0;
    const char *err = tw_redis_sub_connect(s, &ctx);
    if (!err && !(err = tw_redis_sub_catch_up(s)) && !tw_redis_sub_exiting(s)) {
        s->last_gen = s->gen;
        tw_redis_sub_set_state(s, 1, NULL); /* before the listener hears it, as for down */
        s->l.up(s->l.ctx);
        TW_LOG(s->cf->log, s->logged_down ? TW_LOG_NOTICE : TW_LOG_DEBUG, 0,
               "TW0106: subscribed to %s", s->cf->feed.channel);
        *was_up = 1;
        s->backoff = TW_BACKOFF_MIN;
        s->logged_down = s->lost = 0;
        err = tw_redis_sub_listen(s, ctx);
    }
    apr_cpystrn(why, err ? err : "connection closed", size); /* err may point into ctx */
    if (ctx && ctx->err && !tw_redis_sub_exiting(s))
        tw_redis_invalidate(s->conns, s->gen, why); /* the primary may be gone */
    if (ctx)
        redisFree(ctx);
    apr_pool_clear(s->pool);
}

/* Tell the listener `lost` once the subscription has been down (or, before it was ever up,
 * trying) for TW_LOST_TIMEOUTS timeouts, once an outage. */
static void tw_redis_sub_check_lost(tw_redis_sub *s, const char *why)
{
    apr_interval_time_t lost_after = apr_time_from_msec(TW_LOST_TIMEOUTS * s->cf->feed.timeout_ms);
    if (s->lost || apr_time_now() - s->down_since < lost_after)
        return;
    TW_LOG(s->cf->log, TW_LOG_ERR, 0,
           "TW0119: no Redis subscription for %d timeouts (%s); letting the open streams go, so "
           "their clients resume elsewhere, and refusing new ones",
           TW_LOST_TIMEOUTS, why);
    s->lost = 1;
    s->l.lost(s->l.ctx);
}

/* After a subscription ended (or failed to start) for `why`: record the state, tell the
 * listener `down` (once per outage), check for `lost`, log the first failure of an outage. */
static void tw_redis_sub_outage(tw_redis_sub *s, const char *why, int was_up)
{
    /* The state first: a listener that hears "down" and asks for health sees why. */
    tw_redis_sub_set_state(s, 0, why);
    if (was_up) {
        atomic_fetch_add(&s->drops, 1);
        s->l.down(s->l.ctx);
        s->down_since = apr_time_now();
    }
    tw_redis_sub_check_lost(s, why);
    if (!s->logged_down) {
        TW_LOG(s->cf->log, TW_LOG_WARNING, 0,
               "TW0107: Redis subscription lost (%s); reconnecting with backoff", why);
        s->logged_down = 1;
    }
}

/* Wait `ms` before the next attempt, waking when the outage reaches TW_LOST_TIMEOUTS timeouts
 * to tell the listener `lost` on time, not after the backoff. Returns TW_EXIT if told to stop
 * meanwhile. */
static tw_state tw_redis_sub_backoff(tw_redis_sub *s, long ms, const char *why)
{
    apr_time_t until = apr_time_now() + apr_time_from_msec(ms);
    apr_time_t lost_at =
        s->down_since + apr_time_from_msec(TW_LOST_TIMEOUTS * s->cf->feed.timeout_ms);
    for (;;) {
        apr_time_t now = apr_time_now(), wake = !s->lost && lost_at < until ? lost_at : until;
        if (tw_thread_pause(&s->thread, wake > now ? wake - now : 0) == TW_EXIT)
            return TW_EXIT;
        tw_redis_sub_check_lost(s, why);
        if (apr_time_now() >= until)
            return TW_RUN;
    }
}

/* The thread: subscribe; after each failure back off (doubling up to the maximum) and repeat,
 * until the store stops. It counts as down from its start until its first subscription, so
 * that a child that never reaches Redis lets its streams go too. */
static void tw_redis_sub_main(void *data)
{
    tw_redis_sub *s = data;
    long backoff_max = s->cf->feed.redis.master ? TW_BACKOFF_SENTINEL : TW_BACKOFF_MAX;
    s->backoff = TW_BACKOFF_MIN;
    s->down_since = apr_time_now();
    s->pool = s->tick = NULL;
    if (apr_pool_create_unmanaged_ex(&s->pool, tw_buf_oom, NULL) != APR_SUCCESS ||
        apr_pool_create_unmanaged_ex(&s->tick, tw_buf_oom, NULL) != APR_SUCCESS) {
        TW_LOG(s->cf->log, TW_LOG_CRIT, APR_ENOMEM, "TW0109: out of memory: no live updates");
        if (s->pool)
            apr_pool_destroy(s->pool);
        return;
    }
    while (!tw_redis_sub_exiting(s)) {
        char why[256];
        int was_up = 0;
        tw_redis_sub_session(s, why, sizeof(why), &was_up);
        if (tw_redis_sub_exiting(s))
            break; /* told to stop: not an outage */
        tw_redis_sub_outage(s, why, was_up);
        TW_LOG(s->cf->log, TW_LOG_DEBUG, 0, "TW0108: next subscription attempt in %ld ms",
               s->backoff);
        if (tw_redis_sub_backoff(s, s->backoff, why) == TW_EXIT)
            break;
        s->backoff = s->backoff * 2 > backoff_max ? backoff_max : s->backoff * 2;
    }
    tw_redis_sub_unwatch(s);
    atomic_store(&s->subscribed, 0);
    tw_redis_sub_absent(s);
    apr_pool_destroy(s->tick);
    apr_pool_destroy(s->pool);
}

apr_status_t tw_redis_sub_start(apr_pool_t *p, tw_store *store, const tw_store_redis_conf *cf,
                                const tw_store_listener *l, tw_redis_sub **out)
{
    tw_redis_sub *s = apr_pcalloc(p, sizeof(*s));
    s->store = store;
    s->conns = tw_redis_conns_of(store);
    s->cf = cf;
    s->l = *l;
    unsigned char rnd[16];
    if (apr_generate_random_bytes(rnd, sizeof(rnd)) != APR_SUCCESS)
        return APR_EGENERAL;
    for (size_t i = 0; i < sizeof(rnd); i++)
        apr_snprintf(s->token + 2 * i, 3, "%02x", rnd[i]);
    char host[256];
    if (apr_gethostname(host, sizeof(host), p) != APR_SUCCESS)
        apr_cpystrn(host, "localhost", sizeof(host));
    apr_snprintf(s->member, sizeof(s->member), "%s:%ld:%.8s", host, (long)getpid(), s->token);
    s->presence = -1;
    atomic_init(&s->subscribed, 0);
    atomic_init(&s->drops, 0);
    apr_status_t rv = apr_thread_mutex_create(&s->lock, APR_THREAD_MUTEX_DEFAULT, p);
    if (rv != APR_SUCCESS || (rv = apr_thread_cond_create(&s->canary, p)) != APR_SUCCESS ||
        (rv = tw_thread_init(&s->thread)) != APR_SUCCESS)
        return rv;
    if ((rv = tw_thread_start(&s->thread, "tw-redis-sub", tw_redis_sub_main, s)) != APR_SUCCESS) {
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

const char *tw_redis_sub_token(const tw_redis_sub *s)
{
    return s->token;
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

void tw_redis_sub_wake(tw_redis_sub *s)
{
    if (s)
        tw_thread_wake(&s->thread);
}

void tw_redis_sub_stop(tw_redis_sub *s)
{
    tw_thread_advance(&s->thread, TW_EXIT);
}

int tw_redis_sub_stopped(tw_redis_sub *s, apr_interval_time_t timeout)
{
    return tw_thread_wait(&s->thread, timeout);
}
