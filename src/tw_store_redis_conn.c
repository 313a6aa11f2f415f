/* tw_store_redis_conn.c: the Redis store's connections: where Redis is (the configured server,
 * or the primary the sentinels name, confirmed with ROLE and forgotten when it stops being one)
 * and the per-process pool of blocking connections that commands borrow. See
 * tw_store_redis_int.h. httpd-free. */
#include "tw_store_redis_int.h"

#include <apr_reslist.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct tw_redis_conns {
    const tw_store_redis_conf *cf; /* the store's, which outlives the pool */
    apr_reslist_t *slots;          /* bounds the connections; each slot holds one, or none yet */

    /* With Sentinel: the primary in use. Guarded by lock. */
    apr_thread_mutex_t *lock;
    char primary[TW_REDIS_HOST_MAX + 1];
    int primary_port;
    uint64_t gen;       /* names the primary known now; 0 while none is */
    uint64_t last_gen;  /* the last one handed out */
    int searching;      /* a thread is asking the sentinels */
    int sentinel_first; /* where a search starts: the sentinel that answered last, or the one
                           tw_redis_follow heard name a new primary */

    /* With Sentinel and TweetsseRedisMinReplicas: the census of the primary's replicas (see
     * tw_redis_replicas_need). Guarded by lock. */
    char census_host[TW_REDIS_HOST_MAX + 1]; /* the primary it counted; "" none yet */
    int census_port;
    long census_now;           /* the replicas online at its last count */
    long census_high;          /* the most replicas online seen on it within the grace */
    apr_time_t census_high_at; /* when that many were last seen */
    apr_interval_time_t grace; /* how long a replica that left still counts */
};

/* A replica that left the primary still counts for 10 x Sentinel's down-after-milliseconds
 * (how long Sentinel may still promote a replica cut from its primary) and this margin (the
 * age of Sentinel's view of that replica's link: it reads INFO every second while the link is
 * down). Until a sentinel has said its down-after-milliseconds, Sentinel's default (30 s). */
#define TW_CENSUS_DOWN_AFTERS 10
#define TW_CENSUS_MARGIN      apr_time_from_sec(2)
#define TW_CENSUS_DEFAULT_MS  30000

/* One pooled connection. The slot is created empty and connected by tw_redis_acquire, outside
 * the reslist's lock, so a slow connect (Redis unreachable) never blocks the other threads. */
struct tw_redis_slot {
    redisContext *ctx; /* NULL until connected, and again after an error */
    uint64_t gen;      /* the target it is connected to */
};

static const char *tw_redis_where(apr_pool_t *p, const tw_redis_target *t)
{
    return t->path ? t->path : apr_psprintf(p, "%s:%d", t->node.host, t->node.port);
}

/* Open a blocking connection to `path` or `host`:`port` with the configured timeouts, and AUTH
 * with `password` if given. Returns NULL with *err (from `p`) on failure. Blocks up to the
 * timeout. */
static redisContext *tw_redis_dial(const tw_store_redis_conf *cf, apr_pool_t *p, const char *path,
                                   const char *host, int port, const char *password,
                                   const char **err)
{
    struct timeval tv = {cf->feed.timeout_ms / 1000, (cf->feed.timeout_ms % 1000) * 1000};
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

/* The grace of the census for a sentinel's down-after-milliseconds. */
static apr_interval_time_t tw_redis_grace(long down_after_ms)
{
    return apr_time_from_msec((apr_interval_time_t)down_after_ms * TW_CENSUS_DOWN_AFTERS) +
           TW_CENSUS_MARGIN;
}

/* The down-after-milliseconds of master `name` that the sentinel on `ctx` uses (SENTINEL
 * MASTER), or 0 when it does not say. One round trip. */
static long tw_redis_down_after(redisContext *ctx, const char *name)
{
    const char *argv[] = {"SENTINEL", "MASTER", name};
    redisReply *rep = redisCommandArgv(ctx, 3, argv, NULL);
    long ms = 0;
    if (!rep || !tw_redis_wire_sentinel_field(rep, "down-after-milliseconds", &ms))
        ms = 0;
    if (rep)
        freeReplyObject(rep);
    return ms;
}

/* Ask sentinel `s` for the primary of the feed's master: 1 with *out (host in `p`) when it
 * names one other than `except` (NULL: any) that answers ROLE as a primary, and, with
 * `down_after`, the sentinel's down-after-milliseconds there (0 when it does not say); else 0
 * with *why. Blocks for up to two connects and three round trips. */
static int tw_redis_ask(tw_redis_conns *r, apr_pool_t *p, const tw_redis_node *s,
                        const tw_redis_node *except, tw_redis_node *out, long *down_after,
                        const char **why)
{
    const tw_redis_addr *a = &r->cf->feed.redis;
    redisContext *ctx = tw_redis_dial(r->cf, p, NULL, s->host, s->port, NULL, why);
    if (!ctx)
        return 0;
    const char *argv[] = {"SENTINEL", "GET-MASTER-ADDR-BY-NAME", a->master};
    redisReply *rep = redisCommandArgv(ctx, 3, argv, NULL);
    int named = rep && tw_redis_wire_master_addr(p, rep, out);
    if (!named)
        *why = apr_psprintf(p, "sentinel %s:%d: %s", s->host, s->port,
                            !rep                             ? ctx->errstr
                            : rep->type == REDIS_REPLY_ERROR ? rep->str
                                                             : "no such master");
    else if (except && out->port == except->port && !strcmp(out->host, except->host)) {
        named = 0;
        *why = apr_psprintf(p, "sentinel %s:%d names the primary in use", s->host, s->port);
    }
    if (rep)
        freeReplyObject(rep);
    if (down_after)
        *down_after = named ? tw_redis_down_after(ctx, a->master) : 0;
    redisFree(ctx);
    if (!named)
        return 0;
    if (!(ctx = tw_redis_dial(r->cf, p, NULL, out->host, out->port, r->cf->feed.password, why)))
        return 0;
    int primary = tw_redis_is_primary(ctx, p, why);
    redisFree(ctx);
    if (primary == 0)
        *why = apr_psprintf(p, "sentinel %s:%d names %s:%d, which is not a primary", s->host,
                            s->port, out->host, out->port);
    return primary == 1;
}

/* Ask the sentinels, in the configured order, for the primary; the first that names one that
 * answers ROLE as a primary wins. Returns 1 with *out (host in `p`) and that sentinel's
 * down-after-milliseconds in *down_after (0 when it did not say, or without
 * TweetsseRedisMinReplicas), or 0 with *err. Blocks for up to two connects and three round
 * trips per sentinel. */
static int tw_redis_search(tw_redis_conns *r, apr_pool_t *p, tw_redis_node *out, long *down_after,
                           const char **err)
{
    const tw_redis_addr *a = &r->cf->feed.redis;
    const char *why = "no sentinel configured";
    apr_thread_mutex_lock(r->lock);
    int first = r->sentinel_first;
    apr_thread_mutex_unlock(r->lock);
    /* From the one that answered last: a sentinel that is down costs a timeout once. */
    for (int k = 0; k < a->nsentinels; k++) {
        int i = (first + k) % a->nsentinels;
        const tw_redis_node *s = &a->sentinels[i];
        if (!tw_redis_ask(r, p, s, NULL, out, r->cf->feed.min_replicas > 0 ? down_after : NULL,
                          &why))
            continue;
        TW_LOG(r->cf->log, TW_LOG_NOTICE, 0, "TW0110: the primary of %s is %s:%d (sentinel %s:%d)",
               a->master, out->host, out->port, s->host, s->port);
        apr_thread_mutex_lock(r->lock);
        r->sentinel_first = i;
        apr_thread_mutex_unlock(r->lock);
        return 1;
    }
    *err = apr_psprintf(p, "no primary of %s found: %s", a->master, why);
    return 0;
}

apr_status_t tw_redis_target_get(tw_redis_conns *r, apr_pool_t *p, tw_redis_target *out,
                                 const char **err)
{
    const tw_redis_addr *a = &r->cf->feed.redis;
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
    long down_after = 0;
    int found = tw_redis_search(r, p, &n, &down_after, err);
    apr_thread_mutex_lock(r->lock);
    if (found && down_after > 0)
        r->grace = tw_redis_grace(down_after);
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

int tw_redis_target_is(tw_redis_conns *r, uint64_t gen, const tw_redis_node *n)
{
    if (!r->cf->feed.redis.master)
        return 0;
    apr_thread_mutex_lock(r->lock);
    int is = gen && r->gen == gen && r->primary_port == n->port && !strcmp(r->primary, n->host);
    apr_thread_mutex_unlock(r->lock);
    return is;
}

void tw_redis_invalidate(tw_redis_conns *r, uint64_t gen, const char *why)
{
    if (!r->cf->feed.redis.master)
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
        TW_LOG(r->cf->log, TW_LOG_WARNING, 0,
               "TW0111: leaving %s:%d as the primary of %s (%s); asking the sentinels", host, port,
               r->cf->feed.redis.master, why);
}

/* Open a connection to the current target; with Sentinel, one that ROLE confirms as primary.
 * Returns NULL with *err. */
static redisContext *tw_redis_connect(tw_redis_conns *r, apr_pool_t *p, uint64_t *gen,
                                      const char **err)
{
    tw_redis_target t;
    if (tw_redis_target_get(r, p, &t, err) != APR_SUCCESS)
        return NULL;
    redisContext *ctx =
        tw_redis_dial(r->cf, p, t.path, t.node.host, t.node.port, r->cf->feed.password, err);
    if (!ctx) {
        tw_redis_invalidate(r, t.gen, *err);
        return NULL;
    }
    if (r->cf->feed.redis.master) {
        int primary = tw_redis_is_primary(ctx, p, err);
        if (primary != 1) {
            if (primary == 0)
                *err = apr_psprintf(p, "%s is no longer the primary", tw_redis_where(p, &t));
            tw_redis_invalidate(r, t.gen, *err);
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

uint64_t tw_redis_target_gen(tw_redis_conns *r)
{
    if (!r->cf->feed.redis.master)
        return 1;
    apr_thread_mutex_lock(r->lock);
    uint64_t gen = r->gen;
    apr_thread_mutex_unlock(r->lock);
    return gen;
}

/* Take a slot with a live connection to the current target, or explain why not. A connection
 * the server closed since its last use, or to a primary since forgotten, is replaced here, so a
 * Redis restart or a failover costs no failed request. Blocks up to the timeout for a free
 * slot, and up to the timeout to connect (with Sentinel and no primary known, a search). */
tw_redis_slot *tw_redis_acquire(tw_redis_conns *r, apr_pool_t *p, const char **err)
{
    void *res = NULL;
    if (apr_reslist_acquire(r->slots, &res) != APR_SUCCESS) {
        *err = "no free Redis connection within the timeout";
        return NULL;
    }
    tw_redis_slot *slot = res;
    if (slot->ctx && (slot->gen != tw_redis_target_gen(r) || tw_redis_conn_dead(slot->ctx))) {
        redisFree(slot->ctx);
        slot->ctx = NULL;
    }
    if (!slot->ctx && !(slot->ctx = tw_redis_connect(r, p, &slot->gen, err))) {
        apr_reslist_release(r->slots, slot);
        return NULL;
    }
    tw_metrics_redis(r->cf->metrics, 1);
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
void tw_redis_release(tw_redis_conns *r, tw_redis_slot *slot, const redisReply *rep)
{
    int moved = rep && rep->type == REDIS_REPLY_ERROR &&
                (strncmp(rep->str, "READONLY", 8) == 0 || strncmp(rep->str, "MASTERDOWN", 10) == 0);
    if (moved)
        tw_redis_invalidate(r, slot->gen, rep->str);
    else if (slot->ctx->err && !tw_redis_timed_out(slot->ctx))
        tw_redis_invalidate(r, slot->gen, slot->ctx->errstr);
    if (moved || slot->ctx->err) {
        redisFree(slot->ctx);
        slot->ctx = NULL;
    }
    tw_metrics_redis(r->cf->metrics, -1);
    apr_reslist_release(r->slots, slot);
}

/* Whether the census is of the primary in use (under r->lock). */
static int tw_redis_census_current(const tw_redis_conns *r)
{
    return r->gen && !strcmp(r->census_host, r->primary) && r->census_port == r->primary_port;
}

/* Record that the primary of answer `gen` had `n` replicas online at `now`: a new primary starts
 * a new census; more (or as many) replicas raise (or renew) the high mark; fewer lower it only
 * once the high mark has not been seen for the grace. */
static void tw_redis_census_note(tw_redis_conns *r, uint64_t gen, long n, apr_time_t now)
{
    apr_thread_mutex_lock(r->lock);
    if (gen && gen == r->gen) {
        if (!tw_redis_census_current(r)) {
            apr_cpystrn(r->census_host, r->primary, sizeof(r->census_host));
            r->census_port = r->primary_port;
            r->census_high = n, r->census_high_at = now;
        } else if (n >= r->census_high || now - r->census_high_at > r->grace) {
            r->census_high = n, r->census_high_at = now;
        }
        r->census_now = n;
    }
    apr_thread_mutex_unlock(r->lock);
}

void tw_redis_census(tw_redis_conns *r, apr_pool_t *p)
{
    if (!r->cf->feed.redis.master || r->cf->feed.min_replicas <= 0)
        return;
    const char *err = NULL;
    tw_redis_slot *slot = tw_redis_acquire(r, p, &err);
    if (!slot)
        return; /* no primary now: the commands say so */
    redisReply *rep = redisCommand(slot->ctx, "ROLE");
    long n = rep ? tw_redis_wire_role_replicas(rep) : -1;
    if (n >= 0)
        tw_redis_census_note(r, slot->gen, n, apr_time_now());
    tw_redis_release(r, slot, rep);
    if (rep)
        freeReplyObject(rep);
}

int tw_redis_census_short(tw_redis_conns *r)
{
    apr_thread_mutex_lock(r->lock);
    int is = tw_redis_census_current(r) && r->census_now < r->census_high;
    apr_thread_mutex_unlock(r->lock);
    return is;
}

int tw_redis_follow(tw_redis_conns *r, apr_pool_t *p)
{
    const tw_redis_addr *a = &r->cf->feed.redis;
    apr_thread_mutex_lock(r->lock);
    uint64_t gen = r->gen;
    tw_redis_node now = {apr_pstrdup(p, r->primary), r->primary_port};
    apr_thread_mutex_unlock(r->lock);
    if (!a->master || !gen)
        return 0;
    for (int i = 0; i < a->nsentinels; i++) {
        const tw_redis_node *s = &a->sentinels[i];
        const char *why = NULL;
        tw_redis_node n;
        if (!tw_redis_ask(r, p, s, &now, &n, NULL, &why))
            continue;
        apr_thread_mutex_lock(r->lock);
        if (r->gen == gen)
            r->sentinel_first = i;
        apr_thread_mutex_unlock(r->lock);
        tw_redis_invalidate(r, gen,
                            apr_psprintf(p, "it lost a replica, and sentinel %s:%d names %s:%d",
                                         s->host, s->port, n.host, n.port));
        return 1;
    }
    return 0;
}

long tw_redis_replicas_need(tw_redis_conns *r)
{
    long need = r->cf->feed.min_replicas;
    if (!r->cf->feed.redis.master || need <= 0)
        return need;
    apr_thread_mutex_lock(r->lock);
    if (tw_redis_census_current(r) && r->census_high > need)
        need = r->census_high;
    apr_thread_mutex_unlock(r->lock);
    return need;
}

/* Turn a missing or error reply into a message and APR_EGENERAL. */
apr_status_t tw_redis_reply_error(apr_pool_t *p, redisContext *ctx, redisReply *rep,
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

redisContext *tw_redis_slot_ctx(tw_redis_slot *slot)
{
    return slot->ctx;
}

uint64_t tw_redis_slot_gen(const tw_redis_slot *slot)
{
    return slot->gen;
}

apr_status_t tw_redis_run(tw_redis_conns *r, apr_pool_t *p, int argc, const char **argv,
                          const size_t *lens, redisReply **out, const char **err)
{
    tw_redis_slot *slot = tw_redis_acquire(r, p, err);
    if (!slot)
        return APR_ECONNREFUSED;
    redisReply *rep = redisCommandArgv(slot->ctx, argc, argv, lens);
    if (!rep)
        tw_redis_reply_error(p, slot->ctx, rep, argv[0], err);
    tw_redis_release(r, slot, rep);
    *out = rep;
    return rep ? APR_SUCCESS : APR_EGENERAL;
}

apr_status_t tw_redis_conns_create(apr_pool_t *p, const tw_store_redis_conf *cf,
                                   tw_redis_conns **out)
{
    tw_redis_conns *r = apr_pcalloc(p, sizeof(*r));
    r->cf = cf;
    apr_status_t rv = apr_thread_mutex_create(&r->lock, APR_THREAD_MUTEX_DEFAULT, p);
    if (rv == APR_SUCCESS)
        rv = apr_reslist_create(&r->slots, 0, cf->max_conns, cf->max_conns, 0, tw_redis_slot_make,
                                tw_redis_slot_free, r, p);
    if (rv != APR_SUCCESS)
        return rv;
    apr_reslist_timeout_set(r->slots, (apr_interval_time_t)cf->feed.timeout_ms * 1000);
    r->grace = tw_redis_grace(TW_CENSUS_DEFAULT_MS);
    *out = r;
    return APR_SUCCESS;
}
