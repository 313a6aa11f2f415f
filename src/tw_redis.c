#include "tw_redis.h"
#include "tw_redis_sub.h"
#include "tw_redis_wire.h"

#include "tw_redis_publish_lua.h" /* generated from tw_redis_publish.lua: tw_redis_publish_lua[] */

#include <apr_reslist.h>
#include <apr_sha1.h>
#include <apr_strings.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TW_PROBE_REUSE apr_time_from_msec(500) /* a health answer younger than this is reused */

typedef struct tw_redis {
    tw_store store; /* first: the store interface */
    tw_redis_conf cf;
    apr_reslist_t *slots; /* bounds the connections; each slot holds one, or none yet */
    char script_sha[APR_SHA1_DIGESTSIZE * 2 + 1];
    const char *settings_key; /* <key>:settings */
    apr_pool_t *pool;
    tw_redis_sub *sub;              /* NULL until subscribed */
    atomic_ullong canaries;         /* health probes sent by this process */
    apr_thread_mutex_t *probe_lock; /* guards the probe's fields */
    apr_thread_cond_t *probe_done;  /* signalled when a probe's answer is in */
    int probing;                    /* a canary is out */
    apr_time_t probed_at;           /* when the last answer came (0: never) */
    apr_status_t probe_rv;          /* and what it was */
    const char *probe_why;          /* (a string constant) */

    /* With Sentinel: the primary in use. Guarded by lock. */
    apr_thread_mutex_t *lock;
    char primary[TW_REDIS_HOST_MAX + 1];
    int primary_port;
    uint64_t gen;       /* names the primary known now; 0 while none is */
    uint64_t last_gen;  /* the last one handed out */
    int searching;      /* a thread is asking the sentinels */
    int sentinel_first; /* where a search starts: the sentinel that answered last */
} tw_redis;

/* One pooled connection. The slot is created empty and connected by tw_redis_acquire, outside
 * the reslist's lock, so a slow connect (Redis unreachable) never blocks the other threads. */
typedef struct tw_redis_slot {
    redisContext *ctx; /* NULL until connected, and again after an error */
    uint64_t gen;      /* the target it is connected to */
} tw_redis_slot;

/* Where a target is, for messages. */
static const char *tw_redis_where(apr_pool_t *p, const tw_redis_target *t)
{
    return t->path ? t->path : apr_psprintf(p, "%s:%d", t->node.host, t->node.port);
}

/* Open a blocking connection to `path` or `host`:`port` with the configured timeouts, and AUTH
 * with `password` if given. Returns NULL with *err (from `p`) on failure. Blocks up to the
 * timeout. */
static redisContext *tw_redis_dial(const tw_redis_conf *cf, apr_pool_t *p, const char *path,
                                   const char *host, int port, const char *password,
                                   const char **err)
{
    struct timeval tv = {cf->timeout_ms / 1000, (cf->timeout_ms % 1000) * 1000};
    redisContext *ctx =
        path ? redisConnectUnixWithTimeout(path, tv) : redisConnectWithTimeout(host, port, tv);
    const char *where = path ? path : apr_psprintf(p, "%s:%d", host, port);
    if (!ctx) {
        *err = "out of memory";
        return NULL;
    }
    if (ctx->err) {
        *err = apr_psprintf(p, "connect to %s: %s", where, ctx->errstr);
        redisFree(ctx);
        return NULL;
    }
    /* Programs that children start (mod_cgi) must not inherit the connection. */
    if (fcntl(ctx->fd, F_SETFD, FD_CLOEXEC) != 0 || redisSetTimeout(ctx, tv) != REDIS_OK) {
        *err = "cannot set up the Redis connection's descriptor";
        redisFree(ctx);
        return NULL;
    }
    if (password) {
        redisReply *rep = redisCommand(ctx, "AUTH %s", password);
        if (!rep || rep->type == REDIS_REPLY_ERROR) {
            *err = apr_psprintf(p, "AUTH at %s: %s", where, rep ? rep->str : ctx->errstr);
            if (rep)
                freeReplyObject(rep);
            redisFree(ctx);
            return NULL;
        }
        freeReplyObject(rep);
    }
    return ctx;
}

/* Is the server on `ctx` a primary (ROLE)? 1 yes, 0 no, -1 no answer (*err set). */
static int tw_redis_is_primary(redisContext *ctx, apr_pool_t *p, const char **err)
{
    redisReply *rep = redisCommand(ctx, "ROLE");
    int yes = !rep || rep->type == REDIS_REPLY_ERROR ? -1 : tw_redis_wire_role_master(rep);
    if (yes < 0)
        *err = apr_psprintf(p, "ROLE: %s", rep ? rep->str : ctx->errstr);
    if (rep)
        freeReplyObject(rep);
    return yes;
}

/* Ask the sentinels, in the configured order, for the primary; the first that names one that
 * answers ROLE as a primary wins. Returns 1 with *out (host in `p`), or 0 with *err. Blocks for
 * up to a connect and two round trips per sentinel. */
static int tw_redis_search(tw_redis *r, apr_pool_t *p, tw_redis_node *out, const char **err)
{
    const tw_redis_addr *a = &r->cf.addr;
    const char *why = "no sentinel configured";
    /* From the one that answered last: a sentinel that is down costs a timeout once. */
    for (int k = 0; k < a->nsentinels; k++) {
        int i = (r->sentinel_first + k) % a->nsentinels;
        const tw_redis_node *s = &a->sentinels[i];
        redisContext *ctx = tw_redis_dial(&r->cf, p, NULL, s->host, s->port, NULL, &why);
        if (!ctx)
            continue;
        const char *argv[] = {"SENTINEL", "GET-MASTER-ADDR-BY-NAME", a->master};
        redisReply *rep = redisCommandArgv(ctx, 3, argv, NULL);
        tw_redis_node n;
        int named = rep && tw_redis_wire_master_addr(p, rep, &n);
        if (!named)
            why = apr_psprintf(p, "sentinel %s:%d: %s", s->host, s->port,
                               !rep                             ? ctx->errstr
                               : rep->type == REDIS_REPLY_ERROR ? rep->str
                                                                : "no such master");
        if (rep)
            freeReplyObject(rep);
        redisFree(ctx);
        if (!named)
            continue;
        ctx = tw_redis_dial(&r->cf, p, NULL, n.host, n.port, r->cf.password, &why);
        if (!ctx)
            continue;
        int primary = tw_redis_is_primary(ctx, p, &why);
        redisFree(ctx);
        if (primary == 1) {
            TW_LOG(r->cf.log, TW_LOG_NOTICE, 0,
                   "TW0110: the primary of %s is %s:%d (sentinel %s:%d)", a->master, n.host, n.port,
                   s->host, s->port);
            r->sentinel_first = i; /* only the searching thread writes it */
            *out = n;
            return 1;
        }
        if (primary == 0)
            why = apr_psprintf(p, "sentinel %s:%d names %s:%d, which is not a primary", s->host,
                               s->port, n.host, n.port);
    }
    *err = apr_psprintf(p, "no primary of %s found: %s", a->master, why);
    return 0;
}

apr_status_t tw_redis_target_get(tw_store *st, apr_pool_t *p, tw_redis_target *out,
                                 const char **err)
{
    tw_redis *r = (tw_redis *)st;
    const tw_redis_addr *a = &r->cf.addr;
    if (!a->master) {
        *out = (tw_redis_target){.node = {a->host, a->port}, .path = a->path, .gen = 1};
        return APR_SUCCESS;
    }
    apr_thread_mutex_lock(r->lock);
    int known = r->gen != 0, busy = r->searching;
    if (known)
        *out =
            (tw_redis_target){.node = {apr_pstrdup(p, r->primary), r->primary_port}, .gen = r->gen};
    else if (!busy)
        r->searching = 1;
    apr_thread_mutex_unlock(r->lock);
    if (known)
        return APR_SUCCESS;
    if (busy) {
        *err = apr_psprintf(p, "looking for the primary of %s", a->master);
        return APR_EAGAIN;
    }
    /* Outside the lock: the search blocks for up to a timeout per sentinel. */
    tw_redis_node n;
    int found = tw_redis_search(r, p, &n, err);
    apr_thread_mutex_lock(r->lock);
    if (found) {
        apr_cpystrn(r->primary, n.host, sizeof(r->primary));
        r->primary_port = n.port;
        r->gen = ++r->last_gen;
        *out = (tw_redis_target){.node = n, .gen = r->gen};
    }
    r->searching = 0;
    apr_thread_mutex_unlock(r->lock);
    return found ? APR_SUCCESS : APR_ECONNREFUSED;
}

void tw_redis_invalidate(tw_store *st, uint64_t gen, const char *why)
{
    tw_redis *r = (tw_redis *)st;
    if (!r->cf.addr.master)
        return;
    char host[TW_REDIS_HOST_MAX + 1];
    int port = 0;
    apr_thread_mutex_lock(r->lock);
    int now = gen && r->gen == gen;
    if (now) {
        r->gen = 0;
        apr_cpystrn(host, r->primary, sizeof(host));
        port = r->primary_port;
    }
    apr_thread_mutex_unlock(r->lock);
    if (now)
        TW_LOG(r->cf.log, TW_LOG_WARNING, 0,
               "TW0111: leaving %s:%d as the primary of %s (%s); asking the sentinels", host, port,
               r->cf.addr.master, why);
}

/* Open a connection to the current target; with Sentinel, one that ROLE confirms as primary.
 * Returns NULL with *err. */
static redisContext *tw_redis_connect(tw_redis *r, apr_pool_t *p, uint64_t *gen, const char **err)
{
    tw_redis_target t;
    if (tw_redis_target_get(&r->store, p, &t, err) != APR_SUCCESS)
        return NULL;
    redisContext *ctx =
        tw_redis_dial(&r->cf, p, t.path, t.node.host, t.node.port, r->cf.password, err);
    if (!ctx) {
        tw_redis_invalidate(&r->store, t.gen, *err);
        return NULL;
    }
    if (r->cf.addr.master) {
        int primary = tw_redis_is_primary(ctx, p, err);
        if (primary != 1) {
            if (primary == 0)
                *err = apr_psprintf(p, "%s is no longer the primary", tw_redis_where(p, &t));
            tw_redis_invalidate(&r->store, t.gen, *err);
            redisFree(ctx);
            return NULL;
        }
    }
    *gen = t.gen;
    return ctx;
}

/* apr_reslist constructor and destructor of an (empty) slot. */
static apr_status_t tw_redis_slot_make(void **res, void *params, apr_pool_t *p)
{
    (void)params, (void)p;
    tw_redis_slot *slot = calloc(1, sizeof(*slot));
    if (!slot)
        return APR_ENOMEM;
    *res = slot;
    return APR_SUCCESS;
}

static apr_status_t tw_redis_slot_free(void *res, void *params, apr_pool_t *p)
{
    tw_redis_slot *slot = res;
    (void)params, (void)p;
    if (slot->ctx)
        redisFree(slot->ctx);
    free(slot);
    return APR_SUCCESS;
}

/* Has the server closed this idle connection (e.g. Redis restarted)? One non-blocking peek, no
 * round trip. An idle connection has nothing to read, so EAGAIN means alive. */
static int tw_redis_conn_dead(const redisContext *ctx)
{
    char c;
    ssize_t n = recv(ctx->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* The generation of the primary known now (0 if none); 1 without Sentinel. */
static uint64_t tw_redis_gen(tw_redis *r)
{
    if (!r->cf.addr.master)
        return 1;
    apr_thread_mutex_lock(r->lock);
    uint64_t gen = r->gen;
    apr_thread_mutex_unlock(r->lock);
    return gen;
}

uint64_t tw_redis_target_gen(tw_store *st)
{
    return tw_redis_gen((tw_redis *)st);
}

/* Take a slot with a live connection to the current target, or explain why not. A connection
 * the server closed since its last use, or to a primary since forgotten, is replaced here, so a
 * Redis restart or a failover costs no failed request. Blocks up to the timeout for a free
 * slot, and up to the timeout to connect (with Sentinel and no primary known, a search). */
static tw_redis_slot *tw_redis_acquire(tw_redis *r, apr_pool_t *p, const char **err)
{
    void *res = NULL;
    if (apr_reslist_acquire(r->slots, &res) != APR_SUCCESS) {
        *err = "no free Redis connection within the timeout";
        return NULL;
    }
    tw_redis_slot *slot = res;
    if (slot->ctx && (slot->gen != tw_redis_gen(r) || tw_redis_conn_dead(slot->ctx))) {
        redisFree(slot->ctx);
        slot->ctx = NULL;
    }
    if (!slot->ctx && !(slot->ctx = tw_redis_connect(r, p, &slot->gen, err))) {
        apr_reslist_release(r->slots, slot);
        return NULL;
    }
    tw_stats_redis(r->cf.stats, 1);
    return slot;
}

/* Did the last command on `ctx` fail by timing out (the server may be slow, not gone)? */
static int tw_redis_timed_out(const redisContext *ctx)
{
    return ctx->err == REDIS_ERR_IO && strcmp(ctx->errstr, strerror(EAGAIN)) == 0;
}

/* Give a slot back after a command whose reply (or NULL) was `rep`. A connection that saw an
 * I/O or protocol error is closed; one whose server says it is no primary (READONLY,
 * MASTERDOWN) is closed too, and with Sentinel so are the others to it, on their next use: the
 * primary moved. A broken connection (not a timeout) also makes the store ask the sentinels
 * again: the primary may be gone. */
static void tw_redis_release(tw_redis *r, tw_redis_slot *slot, const redisReply *rep)
{
    int moved = rep && rep->type == REDIS_REPLY_ERROR &&
                (strncmp(rep->str, "READONLY", 8) == 0 || strncmp(rep->str, "MASTERDOWN", 10) == 0);
    if (moved)
        tw_redis_invalidate(&r->store, slot->gen, rep->str);
    else if (slot->ctx->err && !tw_redis_timed_out(slot->ctx))
        tw_redis_invalidate(&r->store, slot->gen, slot->ctx->errstr);
    if (moved || slot->ctx->err) {
        redisFree(slot->ctx);
        slot->ctx = NULL;
    }
    tw_stats_redis(r->cf.stats, -1);
    apr_reslist_release(r->slots, slot);
}

/* Turn a missing or error reply into a message and APR_EGENERAL. */
static apr_status_t tw_redis_reply_error(apr_pool_t *p, redisContext *ctx, redisReply *rep,
                                         const char *what, const char **err)
{
    if (!rep)
        *err = apr_psprintf(p, "%s: %s", what, ctx->errstr[0] ? ctx->errstr : "no reply");
    else if (rep->type == REDIS_REPLY_ERROR)
        *err = apr_psprintf(p, "%s: %s", what, rep->str);
    else
        *err = apr_psprintf(p, "%s: unexpected reply type %d", what, rep->type);
    return APR_EGENERAL;
}

/* How long an idempotency key is remembered: long enough for any retry of a post. */
#define TW_REDIS_KEY_TTL_MS 3600000

/* A limit as the publish script takes it: ms between posts (0: off) and burst. */
static void tw_redis_rate_args(apr_pool_t *p, const tw_rate *rate, const char **interval,
                               const char **burst)
{
    *interval =
        rate->count > 0 ? apr_psprintf(p, "%.3f", (double)rate->period_ms / rate->count) : "0";
    *burst = apr_ltoa(p, rate->count > 0 ? rate->burst : 0);
}

/* Read the publish script's answer ({"new"|"replayed", id} or {"limited", ms}) into `out`.
 * Returns 1, or 0 if it is not one. */
static int tw_redis_publish_answer(const redisReply *rep, tw_publish_result *out)
{
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        rep->element[0]->type != REDIS_REPLY_STRING)
        return 0;
    const char *what = rep->element[0]->str;
    const redisReply *v = rep->element[1];
    if (!strcmp(what, "limited") && v->type == REDIS_REPLY_INTEGER && v->integer > 0) {
        out->retry_ms = v->integer;
        return 1;
    }
    out->replayed = !strcmp(what, "replayed");
    return (out->replayed || !strcmp(what, "new")) && v->type == REDIS_REPLY_STRING &&
           tw_id_parse(v->str, v->len, &out->id);
}

static apr_status_t tw_redis_publish(tw_store *st, apr_pool_t *p, const tw_publish *in,
                                     tw_publish_result *out, const char **err)
{
    tw_redis *r = (tw_redis *)st;
    const tw_post *post = &in->post;
    *out = (tw_publish_result){{0, 0}, 0, 0};
    tw_redis_slot *slot = tw_redis_acquire(r, p, err);
    if (!slot)
        return APR_ECONNREFUSED;
    redisContext *ctx = slot->ctx;
    const char *user = apr_pstrmemdup(p, post->user, post->user_len);
    const char *ui, *ub, *ai, *ab;
    tw_redis_rate_args(p, &r->cf.rate_user, &ui, &ub);
    tw_redis_rate_args(p, &r->cf.rate_addr, &ai, &ab);
    const char *argv[] = {
        "EVALSHA",
        r->script_sha,
        "5",
        r->cf.key,
        r->settings_key,
        in->key ? apr_pstrcat(p, r->cf.key, ":key:", user, ":",
                              apr_pstrmemdup(p, in->key, in->key_len), NULL)
                : "",
        apr_pstrcat(p, r->cf.key, ":rate:user:", user, NULL),
        in->addr ? apr_pstrcat(p, r->cf.key, ":rate:addr:", in->addr, NULL) : "",
        apr_ltoa(p, r->cf.history),
        user,
        post->msg,
        r->cf.channel,
        apr_itoa(p, r->cf.min_replicas),
        apr_itoa(p, TW_REDIS_KEY_TTL_MS),
        ui,
        ub,
        ai,
        ab,
    };
    enum { TW_ARGC = sizeof(argv) / sizeof(argv[0]) };
    size_t lens[TW_ARGC];
    for (int i = 0; i < TW_ARGC; i++)
        lens[i] = strlen(argv[i]);
    redisReply *rep = redisCommandArgv(ctx, TW_ARGC, argv, lens);
    if (rep && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(rep);
        argv[0] = "EVAL", lens[0] = 4;
        argv[1] = tw_redis_publish_lua, lens[1] = sizeof(tw_redis_publish_lua) - 1;
        rep = redisCommandArgv(ctx, TW_ARGC, argv, lens);
    }
    apr_status_t rv = APR_SUCCESS;
    if (!rep) {
        /* Sent, and no answer (a timeout, a broken connection): Redis may have run it. */
        tw_redis_reply_error(p, ctx, rep, "publish", err);
        rv = APR_INCOMPLETE;
    } else if (!tw_redis_publish_answer(rep, out)) {
        rv = tw_redis_reply_error(p, ctx, rep, "publish", err);
    }
    if (rv == APR_SUCCESS && !out->retry_ms && r->cf.min_replicas > 0) {
        /* On this connection: WAIT counts the replicas that have its writes. It gives up a
         * little before the command timeout, so its answer, not a timeout, says how many. */
        long margin = r->cf.timeout_ms / 10 > 10 ? r->cf.timeout_ms / 10 : 10;
        long wait_ms = r->cf.timeout_ms - margin > 1 ? r->cf.timeout_ms - margin : 1;
        freeReplyObject(rep);
        rep = redisCommand(ctx, "WAIT %d %ld", r->cf.min_replicas, wait_ms);
        if (!rep || rep->type != REDIS_REPLY_INTEGER) {
            rv = tw_redis_reply_error(p, ctx, rep, "WAIT", err);
        } else if (rep->integer < r->cf.min_replicas) {
            *err = apr_psprintf(p,
                                "stored, but %lld of the %d replicas required confirmed it "
                                "within %ld ms",
                                rep->integer, r->cf.min_replicas, wait_ms);
            rv = APR_TIMEUP;
        }
    }
    tw_redis_release(r, slot, rep);
    if (rep)
        freeReplyObject(rep);
    return rv;
}

/* Run one range command and convert its entries. */
static apr_status_t tw_redis_range_cmd(tw_redis *r, apr_pool_t *p, int argc, const char **argv,
                                       tw_post **posts, int *n, tw_redis_range *info,
                                       const char **err)
{
    tw_redis_slot *slot = tw_redis_acquire(r, p, err);
    if (!slot)
        return APR_ECONNREFUSED;
    redisReply *rep = redisCommandArgv(slot->ctx, argc, argv, NULL);
    apr_status_t rv = APR_SUCCESS;
    if (!rep || rep->type != REDIS_REPLY_ARRAY)
        rv = tw_redis_reply_error(p, slot->ctx, rep, argv[0], err);
    else if (!tw_redis_wire_entries(p, rep, posts, n, info)) {
        *err = apr_psprintf(p, "%s: malformed stream entry in %s", argv[0], r->cf.key);
        rv = APR_EGENERAL;
    }
    tw_redis_release(r, slot, rep);
    if (rep)
        freeReplyObject(rep);
    return rv;
}

static apr_status_t tw_redis_latest(tw_store *st, apr_pool_t *p, long count, tw_post **posts,
                                    int *n, const char **err)
{
    tw_redis *r = (tw_redis *)st;
    tw_redis_range info;
    const char *argv[] = {"XREVRANGE", r->cf.key, "+", "-", "COUNT", apr_ltoa(p, count)};
    return tw_redis_range_cmd(r, p, 6, argv, posts, n, &info, err);
}

/* XREVRANGE key (<id> - COUNT count+1: the one beyond the page says whether there is more. A
 * reply of entries of other writers only is passed over with the next range from its last. */
static apr_status_t tw_redis_before(tw_store *st, apr_pool_t *p, tw_id id, long count,
                                    tw_post **posts, int *n, int *more, const char **err)
{
    tw_redis *r = (tw_redis *)st;
    const tw_id zero = {0, 0};
    *posts = NULL;
    *n = *more = 0;
    if (count < 1)
        return APR_SUCCESS;
    const char *cnt = apr_ltoa(p, count + 1);
    while (tw_id_cmp(id, zero)) { /* nothing is older than 0-0 (and "(0-0" is an error) */
        char end[TW_ID_MAX + 1] = "(";
        tw_id_format(id, end + 1);
        const char *argv[] = {"XREVRANGE", r->cf.key, end, "-", "COUNT", cnt};
        tw_redis_range info;
        apr_status_t rv = tw_redis_range_cmd(r, p, 6, argv, posts, n, &info, err);
        if (rv != APR_SUCCESS)
            return rv;
        *more = info.raw > (size_t)count;
        if (*n > count)
            *n = (int)count;
        if (*n > 0 || !*more)
            return APR_SUCCESS;
        id = info.last;
    }
    *more = 0;
    return APR_SUCCESS;
}

/* XRANGE key <id> <id>: the entry, if any, and only if it is a post. */
static apr_status_t tw_redis_get(tw_store *st, apr_pool_t *p, tw_id id, tw_post *post, int *found,
                                 const char **err)
{
    tw_redis *r = (tw_redis *)st;
    char at[TW_ID_MAX];
    tw_id_format(id, at);
    const char *argv[] = {"XRANGE", r->cf.key, at, at};
    tw_post *posts = NULL;
    int n = 0;
    tw_redis_range info;
    *found = 0;
    apr_status_t rv = tw_redis_range_cmd(r, p, 4, argv, &posts, &n, &info, err);
    if (rv == APR_SUCCESS && n == 1 && !tw_id_cmp(posts[0].id, id)) {
        *post = posts[0];
        *found = 1;
    }
    return rv;
}

static apr_status_t tw_redis_each_after(tw_store *st, apr_pool_t *p, tw_id after, long page,
                                        tw_store_each_fn *fn, void *ctx, int *gap, const char **err)
{
    tw_redis *r = (tw_redis *)st;
    const tw_id zero = {0, 0};
    *gap = 0;
    for (;;) {
        apr_pool_t *sub;
        apr_status_t rv = apr_pool_create(&sub, p);
        if (rv != APR_SUCCESS) {
            *err = "out of memory";
            return rv;
        }
        tw_post *posts = NULL;
        tw_redis_range info = {0};
        int n = 0, stop = 0;
        /* The range is inclusive: entry `after` (if still there) comes back first. */
        char from[TW_ID_MAX];
        tw_id_format(after, from);
        const char *argv[] = {"XRANGE", r->cf.key, from, "+", "COUNT", apr_ltoa(sub, page + 1)};
        rv = tw_redis_range_cmd(r, sub, 6, argv, &posts, &n, &info, err);
        if (rv != APR_SUCCESS) {
            *err = apr_pstrdup(p, *err);
            apr_pool_destroy(sub);
            return rv;
        }
        if (tw_id_cmp(after, zero) != 0 && (info.raw == 0 || tw_id_cmp(info.first, after) != 0))
            *gap = 1;
        for (int i = 0; i < n && !*gap && !stop; i++)
            if (tw_id_cmp(posts[i].id, after) > 0)
                stop = fn(ctx, &posts[i]);
        int more = info.raw == (size_t)page + 1 && !*gap && !stop;
        after = info.last;
        apr_pool_destroy(sub);
        if (!more)
            return APR_SUCCESS;
    }
}

apr_status_t tw_redis_stream_state(tw_store *st, apr_pool_t *p, tw_redis_stream *out,
                                   const char **err)
{
    tw_redis *r = (tw_redis *)st;
    tw_redis_slot *slot = tw_redis_acquire(r, p, err);
    if (!slot)
        return APR_ECONNREFUSED;
    const char *argv[] = {"XINFO", "STREAM", r->cf.key};
    redisReply *rep = redisCommandArgv(slot->ctx, 3, argv, NULL);
    apr_status_t rv = APR_SUCCESS;
    *out = (tw_redis_stream){.length = 0, .entries_added = 0};
    if (rep && rep->type == REDIS_REPLY_ERROR && strstr(rep->str, "no such key")) {
        /* Not created yet: nothing was ever added. */
    } else if (!rep || rep->type != REDIS_REPLY_ARRAY) {
        rv = tw_redis_reply_error(p, slot->ctx, rep, "XINFO STREAM", err);
    } else if (!tw_redis_wire_stream_info(rep, out)) {
        *err = apr_psprintf(p, "XINFO STREAM %s: malformed reply", r->cf.key);
        rv = APR_EGENERAL;
    }
    tw_redis_release(r, slot, rep);
    if (rep)
        freeReplyObject(rep);
    return rv;
}

/* Run one command on a pooled connection; *out is its reply (an error reply too), for the
 * caller to free, or NULL with *err. One round trip. */
static apr_status_t tw_redis_run(tw_redis *r, apr_pool_t *p, int argc, const char **argv,
                                 redisReply **out, const char **err)
{
    tw_redis_slot *slot = tw_redis_acquire(r, p, err);
    if (!slot)
        return APR_ECONNREFUSED;
    redisReply *rep = redisCommandArgv(slot->ctx, argc, argv, NULL);
    if (!rep)
        tw_redis_reply_error(p, slot->ctx, rep, argv[0], err);
    tw_redis_release(r, slot, rep);
    *out = rep;
    return rep ? APR_SUCCESS : APR_EGENERAL;
}

/* Record a value unless an instance has already (`set`, a write-if-absent such as HSETNX or
 * SET NX), then read what holds now (`get`): the value, or NULL with *err (also for a nil or
 * non-string reply). Two round trips, at start-up only. */
static const char *tw_redis_recorded(tw_redis *r, apr_pool_t *p, int setc, const char **set,
                                     int getc, const char **get, const char **err)
{
    redisReply *rep = NULL;
    if (tw_redis_run(r, p, setc, set, &rep, err) != APR_SUCCESS)
        return NULL;
    freeReplyObject(rep);
    if (tw_redis_run(r, p, getc, get, &rep, err) != APR_SUCCESS)
        return NULL;
    const char *v = rep->type == REDIS_REPLY_STRING ? apr_pstrmemdup(p, rep->str, rep->len) : NULL;
    if (!v)
        tw_redis_reply_error(p, NULL, rep, get[0], err);
    freeReplyObject(rep);
    return v;
}

/* `field` of the settings hash, recorded as `mine` if no instance has yet. */
static const char *tw_redis_setting(tw_redis *r, apr_pool_t *p, const char *field, const char *mine,
                                    const char **err)
{
    const char *set[] = {"HSETNX", r->settings_key, field, mine};
    const char *get[] = {"HGET", r->settings_key, field};
    return tw_redis_recorded(r, p, 4, set, 3, get, err);
}

apr_status_t tw_redis_settings_check(tw_store *st, apr_pool_t *p, const char **err)
{
    tw_redis *r = (tw_redis *)st;
    const tw_redis_conf *cf = &r->cf;
    const char *mine = apr_ltoa(p, cf->history);
    const char *fleet = tw_redis_setting(r, p, "history", mine, err);
    if (!fleet)
        return APR_EGENERAL;
    if (strcmp(fleet, mine) != 0)
        TW_LOG(cf->log, TW_LOG_ERR, 0,
               "TW0112: TweetsseHistory is %s here, but the instances that share the stream %s "
               "keep %s posts (%s): it is trimmed to the larger of the two; set the same "
               "everywhere",
               mine, cf->key, fleet, r->settings_key);
    if (!(fleet = tw_redis_setting(r, p, "channel", cf->channel, err)))
        return APR_EGENERAL;
    if (strcmp(fleet, cf->channel) != 0)
        TW_LOG(cf->log, TW_LOG_ERR, 0,
               "TW0113: posts of the stream %s are announced on %s here, but on %s by the other "
               "instances (%s): their posts do not show live here, nor ours there; set the "
               "same TweetsseChannel everywhere",
               cf->key, cf->channel, fleet, r->settings_key);
    /* The other way round: a channel carries one stream's posts. */
    const char *claim = apr_pstrcat(p, cf->channel, ":stream", NULL);
    const char *set[] = {"SET", claim, cf->key, "NX"};
    const char *get[] = {"GET", claim};
    if (!(fleet = tw_redis_recorded(r, p, 4, set, 2, get, err)))
        return APR_EGENERAL;
    if (strcmp(fleet, cf->key) != 0)
        TW_LOG(cf->log, TW_LOG_ERR, 0,
               "TW0114: the channel %s announces the posts of the stream %s (%s), not of %s: "
               "pages would show the other feed's posts; give each feed its own TweetsseChannel",
               cf->channel, fleet, claim, cf->key);
    return APR_SUCCESS;
}

static apr_status_t tw_redis_subscribe(tw_store *st, const tw_store_listener *l)
{
    tw_redis *r = (tw_redis *)st;
    if (r->sub)
        return APR_EEXIST;
    return tw_redis_sub_start(r->pool, st, &r->cf, l, &r->sub);
}

static void tw_redis_health(tw_store *st, tw_store_health *out)
{
    tw_redis *r = (tw_redis *)st;
    if (r->sub)
        tw_redis_sub_health(r->sub, out);
    else
        *out = (tw_store_health){0};
}

/* Send one canary "?<token>:<n>" and wait for this process's subscriber to hear it. The
 * reason for a failure is short and names no server (the health check's body is public); the
 * details go to the log. */
static apr_status_t tw_redis_canary(tw_redis *r, apr_pool_t *p, apr_interval_time_t timeout,
                                    const char **why)
{
    apr_time_t deadline = apr_time_now() + timeout;
    unsigned long long n = atomic_fetch_add(&r->canaries, 1) + 1;
    const char *argv[] = {
        "PUBLISH", r->cf.channel,
        apr_psprintf(p, "?%s:%" APR_UINT64_T_FMT, tw_redis_sub_token(r->sub), (apr_uint64_t)n)};
    redisReply *rep = NULL;
    const char *err = NULL;
    int sent =
        tw_redis_run(r, p, 3, argv, &rep, &err) == APR_SUCCESS && rep->type == REDIS_REPLY_INTEGER;
    if (rep && !sent)
        tw_redis_reply_error(p, NULL, rep, "PUBLISH", &err);
    if (rep)
        freeReplyObject(rep);
    if (!sent) {
        TW_LOG(r->cf.log, TW_LOG_INFO, 0, "TW0121: health: cannot publish a canary: %s", err);
        *why = "cannot publish through Redis";
        return APR_EGENERAL;
    }
    if (!tw_redis_sub_heard(r->sub, n, deadline)) {
        *why = "a canary through Redis did not come back in time";
        return APR_TIMEUP;
    }
    return APR_SUCCESS;
}

/* Without a subscription, or while the primary is being looked for, the answer is known at
 * once. Otherwise one canary at a time per process, its answer shared: checks that arrive while
 * one is out wait for it, and an answer younger than TW_PROBE_REUSE is given again, so a flood
 * of health requests costs Redis at most one PUBLISH (to every child of every instance) per
 * interval. */
static apr_status_t tw_redis_probe(tw_store *st, apr_pool_t *p, apr_interval_time_t timeout,
                                   const char **why)
{
    tw_redis *r = (tw_redis *)st;
    tw_store_health h;
    tw_redis_health(st, &h);
    if (!h.subscribed) {
        *why = "not subscribed to Redis";
        return APR_EGENERAL;
    }
    if (tw_redis_gen(r) == 0) {
        *why = "looking for the Redis primary"; /* a health check does not search */
        return APR_EGENERAL;
    }
    apr_time_t deadline = apr_time_now() + timeout;
    apr_thread_mutex_lock(r->probe_lock);
    while (r->probing && apr_time_now() < deadline)
        apr_thread_cond_timedwait(r->probe_done, r->probe_lock, deadline - apr_time_now());
    int fresh = r->probed_at && apr_time_now() - r->probed_at < TW_PROBE_REUSE;
    int busy = r->probing;
    if (!fresh && !busy)
        r->probing = 1;
    apr_status_t rv = fresh ? r->probe_rv : APR_TIMEUP;
    *why = fresh ? r->probe_why : "a canary through Redis did not come back in time";
    apr_thread_mutex_unlock(r->probe_lock);
    if (fresh || busy)
        return rv;
    const char *reason = "";
    rv = tw_redis_canary(r, p, timeout, &reason);
    apr_thread_mutex_lock(r->probe_lock);
    r->probe_rv = rv;
    r->probe_why = reason; /* a string constant */
    r->probed_at = apr_time_now();
    r->probing = 0;
    apr_thread_cond_broadcast(r->probe_done);
    apr_thread_mutex_unlock(r->probe_lock);
    *why = reason;
    return rv;
}

static void tw_redis_stop(tw_store *st)
{
    tw_redis *r = (tw_redis *)st;
    if (r->sub)
        tw_redis_sub_stop(r->sub);
}

static int tw_redis_stopped(tw_store *st, apr_interval_time_t timeout)
{
    tw_redis *r = (tw_redis *)st;
    return !r->sub || tw_redis_sub_stopped(r->sub, timeout);
}

static const tw_store_ops tw_redis_ops = {
    .name = "redis",
    .publish = tw_redis_publish,
    .latest = tw_redis_latest,
    .before = tw_redis_before,
    .get = tw_redis_get,
    .each_after = tw_redis_each_after,
    .subscribe = tw_redis_subscribe,
    .health = tw_redis_health,
    .probe = tw_redis_probe,
    .stop = tw_redis_stop,
    .stopped = tw_redis_stopped,
};

apr_status_t tw_redis_create(apr_pool_t *p, const tw_redis_conf *cf, tw_store **out)
{
    tw_redis *r = apr_pcalloc(p, sizeof(*r));
    r->store.ops = &tw_redis_ops;
    r->pool = p;
    r->cf = *cf;
    r->cf.addr.host = cf->addr.host ? apr_pstrdup(p, cf->addr.host) : NULL;
    r->cf.addr.path = cf->addr.path ? apr_pstrdup(p, cf->addr.path) : NULL;
    r->cf.password = cf->password ? apr_pstrdup(p, cf->password) : NULL;
    r->cf.key = apr_pstrdup(p, cf->key);
    r->cf.channel = apr_pstrdup(p, cf->channel);
    r->settings_key = apr_pstrcat(p, cf->key, ":settings", NULL);
    if (cf->addr.master) {
        r->cf.addr.master = apr_pstrdup(p, cf->addr.master);
        tw_redis_node *s = apr_pcalloc(p, sizeof(*s) * (size_t)cf->addr.nsentinels);
        for (int i = 0; i < cf->addr.nsentinels; i++)
            s[i] = (tw_redis_node){apr_pstrdup(p, cf->addr.sentinels[i].host),
                                   cf->addr.sentinels[i].port};
        r->cf.addr.sentinels = s;
    }
    atomic_init(&r->canaries, 0);
    apr_status_t rv = apr_thread_mutex_create(&r->lock, APR_THREAD_MUTEX_DEFAULT, p);
    if (rv == APR_SUCCESS)
        rv = apr_thread_mutex_create(&r->probe_lock, APR_THREAD_MUTEX_DEFAULT, p);
    if (rv == APR_SUCCESS)
        rv = apr_thread_cond_create(&r->probe_done, p);
    if (rv != APR_SUCCESS)
        return rv;
    unsigned char digest[APR_SHA1_DIGESTSIZE];
    apr_sha1_ctx_t sha;
    apr_sha1_init(&sha);
    apr_sha1_update(&sha, tw_redis_publish_lua, sizeof(tw_redis_publish_lua) - 1);
    apr_sha1_final(digest, &sha);
    for (int i = 0; i < APR_SHA1_DIGESTSIZE; i++)
        apr_snprintf(r->script_sha + 2 * i, 3, "%02x", digest[i]);
    rv = apr_reslist_create(&r->slots, 0, cf->max_conns, cf->max_conns, 0, tw_redis_slot_make,
                            tw_redis_slot_free, r, p);
    if (rv != APR_SUCCESS)
        return rv;
    apr_reslist_timeout_set(r->slots, (apr_interval_time_t)cf->timeout_ms * 1000);
    *out = &r->store;
    return APR_SUCCESS;
}
