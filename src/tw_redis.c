#include "tw_redis.h"
#include "tw_redis_sub.h"
#include "tw_redis_wire.h"

#include "tw_redis_publish_lua.h" /* generated from tw_redis_publish.lua: tw_redis_publish_lua[] */

#include <apr_reslist.h>
#include <hiredis/hiredis.h>
#include <apr_sha1.h>
#include <apr_strings.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef struct tw_redis {
    tw_store store; /* first: the store interface */
    tw_redis_conf cf;
    apr_reslist_t *slots; /* bounds the connections; each slot holds one, or none yet */
    char script_sha[APR_SHA1_DIGESTSIZE * 2 + 1];
    apr_pool_t *pool;
    tw_redis_sub *sub; /* NULL until subscribed */
} tw_redis;

/* One pooled connection. The slot is created empty and connected by tw_redis_acquire, outside
 * the reslist's lock, so a slow connect (Redis unreachable) never blocks the other threads. */
typedef struct tw_redis_slot {
    redisContext *ctx; /* NULL until connected, and again after an error */
} tw_redis_slot;

/* Open a blocking connection with the configured timeouts (and AUTH). Returns NULL and writes
 * the reason into `err` on failure. Blocks up to the timeout. */
static redisContext *tw_redis_connect(const tw_redis_conf *cf, char *err, size_t errlen)
{
    struct timeval tv = {cf->timeout_ms / 1000, (cf->timeout_ms % 1000) * 1000};
    redisContext *ctx = cf->addr.path ? redisConnectUnixWithTimeout(cf->addr.path, tv)
                                      : redisConnectWithTimeout(cf->addr.host, cf->addr.port, tv);
    if (!ctx) {
        apr_cpystrn(err, "out of memory", errlen);
        return NULL;
    }
    if (ctx->err) {
        apr_snprintf(err, errlen, "connect to %s: %s",
                     cf->addr.path ? cf->addr.path : cf->addr.host, ctx->errstr);
        redisFree(ctx);
        return NULL;
    }
    /* Programs that children start (mod_cgi) must not inherit the connection. */
    if (fcntl(ctx->fd, F_SETFD, FD_CLOEXEC) != 0 || redisSetTimeout(ctx, tv) != REDIS_OK) {
        apr_cpystrn(err, "cannot set up the Redis connection's descriptor", errlen);
        redisFree(ctx);
        return NULL;
    }
    if (cf->password) {
        redisReply *rep = redisCommand(ctx, "AUTH %s", cf->password);
        if (!rep || rep->type == REDIS_REPLY_ERROR) {
            apr_snprintf(err, errlen, "AUTH: %s", rep ? rep->str : ctx->errstr);
            if (rep)
                freeReplyObject(rep);
            redisFree(ctx);
            return NULL;
        }
        freeReplyObject(rep);
    }
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

/* Take a slot with a live connection, or explain why not. A connection the server closed since
 * its last use is replaced here, so a Redis restart costs no failed request. Blocks up to the
 * timeout for a free slot, and up to the timeout to connect. */
static tw_redis_slot *tw_redis_acquire(tw_redis *r, apr_pool_t *p, const char **err)
{
    void *res = NULL;
    if (apr_reslist_acquire(r->slots, &res) != APR_SUCCESS) {
        *err = "no free Redis connection within the timeout";
        return NULL;
    }
    tw_redis_slot *slot = res;
    if (slot->ctx && tw_redis_conn_dead(slot->ctx)) {
        redisFree(slot->ctx);
        slot->ctx = NULL;
    }
    if (!slot->ctx) {
        char why[256];
        slot->ctx = tw_redis_connect(&r->cf, why, sizeof(why));
        if (!slot->ctx) {
            *err = apr_pstrdup(p, why);
            apr_reslist_release(r->slots, slot);
            return NULL;
        }
    }
    return slot;
}

/* Give a slot back; a connection that saw an I/O or protocol error is closed first. */
static void tw_redis_release(tw_redis *r, tw_redis_slot *slot)
{
    if (slot->ctx->err) {
        redisFree(slot->ctx);
        slot->ctx = NULL;
    }
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

static apr_status_t tw_redis_publish(tw_store *st, apr_pool_t *p, const tw_post *post, tw_id *id,
                                     const char **err)
{
    tw_redis *r = (tw_redis *)st;
    tw_redis_slot *slot = tw_redis_acquire(r, p, err);
    if (!slot)
        return APR_ECONNREFUSED;
    redisContext *ctx = slot->ctx;
    char hist[24];
    int hlen = apr_snprintf(hist, sizeof(hist), "%ld", r->cf.history);
    const char *argv[] = {"EVALSHA", r->script_sha, "1",       r->cf.key,
                          hist,      post->user,    post->msg, r->cf.channel};
    size_t lens[] = {7,
                     strlen(r->script_sha),
                     1,
                     strlen(r->cf.key),
                     (size_t)hlen,
                     post->user_len,
                     post->msg_len,
                     strlen(r->cf.channel)};
    redisReply *rep = redisCommandArgv(ctx, 8, argv, lens);
    if (rep && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(rep);
        argv[0] = "EVAL", lens[0] = 4;
        argv[1] = tw_redis_publish_lua, lens[1] = sizeof(tw_redis_publish_lua) - 1;
        rep = redisCommandArgv(ctx, 8, argv, lens);
    }
    apr_status_t rv = APR_SUCCESS;
    if (!rep || rep->type != REDIS_REPLY_STRING || !tw_id_parse(rep->str, rep->len, id))
        rv = tw_redis_reply_error(p, ctx, rep, "publish", err);
    if (rep)
        freeReplyObject(rep);
    tw_redis_release(r, slot);
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
    if (rep)
        freeReplyObject(rep);
    tw_redis_release(r, slot);
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
    if (rep)
        freeReplyObject(rep);
    tw_redis_release(r, slot);
    return rv;
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
    .each_after = tw_redis_each_after,
    .subscribe = tw_redis_subscribe,
    .health = tw_redis_health,
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
    unsigned char digest[APR_SHA1_DIGESTSIZE];
    apr_sha1_ctx_t sha;
    apr_sha1_init(&sha);
    apr_sha1_update(&sha, tw_redis_publish_lua, sizeof(tw_redis_publish_lua) - 1);
    apr_sha1_final(digest, &sha);
    for (int i = 0; i < APR_SHA1_DIGESTSIZE; i++)
        apr_snprintf(r->script_sha + 2 * i, 3, "%02x", digest[i]);
    apr_status_t rv = apr_reslist_create(&r->slots, 0, cf->max_conns, cf->max_conns, 0,
                                         tw_redis_slot_make, tw_redis_slot_free, r, p);
    if (rv != APR_SUCCESS)
        return rv;
    apr_reslist_timeout_set(r->slots, (apr_interval_time_t)cf->timeout_ms * 1000);
    *out = &r->store;
    return APR_SUCCESS;
}
