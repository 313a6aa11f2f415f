#include "tw_store.h"

#include <apr_reslist.h>
#include <apr_sha1.h>
#include <apr_strings.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct tw_store {
    tw_store_conf cf;
    apr_pool_t *pool;     /* unmanaged: see tw_store_cleanup */
    apr_reslist_t *slots; /* bounds the connections; each slot holds one, or none yet */
    char script_sha[APR_SHA1_DIGESTSIZE * 2 + 1];
};

/* One pooled connection. The slot is created empty and connected by tw_acquire, outside the
 * reslist's lock, so a slow connect (Redis unreachable) never blocks the other threads. */
typedef struct tw_slot {
    redisContext *ctx; /* NULL until connected, and again after an error */
} tw_slot;

/* KEYS[1] stream; ARGV: history, user, message, channel. The stream id is the post id. */
static const char tw_publish_lua[] =
    "local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'u', ARGV[2], 'm', "
    "ARGV[3])\n"
    "redis.call('PUBLISH', ARGV[4], id .. ' ' .. ARGV[2] .. '\\n' .. ARGV[3])\n"
    "return id\n";

redisContext *tw_store_connect(const tw_store_conf *cf, char *err, size_t errlen)
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
    if (redisSetTimeout(ctx, tv) != REDIS_OK) {
        apr_cpystrn(err, "cannot set the Redis command timeout", errlen);
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
static apr_status_t tw_slot_make(void **res, void *params, apr_pool_t *p)
{
    (void)params, (void)p;
    tw_slot *slot = calloc(1, sizeof(*slot));
    if (!slot)
        return APR_ENOMEM;
    *res = slot;
    return APR_SUCCESS;
}

static apr_status_t tw_slot_free(void *res, void *params, apr_pool_t *p)
{
    tw_slot *slot = res;
    (void)params, (void)p;
    if (slot->ctx)
        redisFree(slot->ctx);
    free(slot);
    return APR_SUCCESS;
}

/* pchild pre-cleanup, run after the hub's (registered later, run earlier) has joined the
 * subscriber thread. The slots live in an unmanaged pool because apr_reslist asserts that
 * none is in use when destroyed, and a prefork child stopped from its SIGTERM handler may be
 * in the middle of a command; then the pool is left to the exiting process. */
static apr_status_t tw_store_cleanup(void *data)
{
    tw_store *s = data;
    if (apr_reslist_acquired_count(s->slots) == 0)
        apr_pool_destroy(s->pool);
    return APR_SUCCESS;
}

apr_status_t tw_store_create(apr_pool_t *p, const tw_store_conf *cf, int max_conns, tw_store **out)
{
    tw_store *s = apr_pcalloc(p, sizeof(*s));
    s->cf = *cf;
    unsigned char digest[APR_SHA1_DIGESTSIZE];
    apr_sha1_ctx_t sha;
    apr_sha1_init(&sha);
    apr_sha1_update(&sha, tw_publish_lua, sizeof(tw_publish_lua) - 1);
    apr_sha1_final(digest, &sha);
    for (int i = 0; i < APR_SHA1_DIGESTSIZE; i++)
        apr_snprintf(s->script_sha + 2 * i, 3, "%02x", digest[i]);
    apr_status_t rv = apr_pool_create_unmanaged_ex(&s->pool, NULL, NULL);
    if (rv != APR_SUCCESS)
        return rv;
    rv = apr_reslist_create(&s->slots, 0, max_conns, max_conns, 0, tw_slot_make, tw_slot_free, s,
                            s->pool);
    if (rv != APR_SUCCESS) {
        apr_pool_destroy(s->pool);
        return rv;
    }
    apr_reslist_timeout_set(s->slots, (apr_interval_time_t)cf->timeout_ms * 1000);
    apr_pool_pre_cleanup_register(p, s, tw_store_cleanup);
    *out = s;
    return APR_SUCCESS;
}

const tw_store_conf *tw_store_config(const tw_store *s)
{
    return &s->cf;
}

/* Has the server closed this idle connection (e.g. Redis restarted)? One non-blocking
 * peek, no round trip. An idle connection has nothing to read, so EAGAIN means alive. */
static int tw_conn_dead(const redisContext *ctx)
{
    char c;
    ssize_t n = recv(ctx->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* Take a slot with a live connection, or explain why not. A connection the server closed
 * since its last use (e.g. Redis restarted) is replaced here, so a restart costs no failed
 * request. Blocks up to the timeout for a free slot, and up to the timeout to connect. */
static tw_slot *tw_acquire(tw_store *s, apr_pool_t *p, const char **err)
{
    void *res = NULL;
    if (apr_reslist_acquire(s->slots, &res) != APR_SUCCESS) {
        *err = "no free Redis connection within the timeout";
        return NULL;
    }
    tw_slot *slot = res;
    if (slot->ctx && tw_conn_dead(slot->ctx)) {
        redisFree(slot->ctx);
        slot->ctx = NULL;
    }
    if (!slot->ctx) {
        char why[256];
        slot->ctx = tw_store_connect(&s->cf, why, sizeof(why));
        if (!slot->ctx) {
            *err = apr_pstrdup(p, why);
            apr_reslist_release(s->slots, slot);
            return NULL;
        }
    }
    return slot;
}

/* Give a slot back; a connection that saw an I/O or protocol error is closed first. */
static void tw_release(tw_store *s, tw_slot *slot)
{
    if (slot->ctx->err) {
        redisFree(slot->ctx);
        slot->ctx = NULL;
    }
    apr_reslist_release(s->slots, slot);
}

/* Turn a missing or error reply into a message and APR_EGENERAL. */
static apr_status_t tw_reply_error(apr_pool_t *p, redisContext *ctx, redisReply *rep,
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

apr_status_t tw_store_publish(tw_store *s, apr_pool_t *p, const char *user, size_t ulen,
                              const char *msg, size_t mlen, tw_id *id, const char **err)
{
    tw_slot *slot = tw_acquire(s, p, err);
    if (!slot)
        return APR_ECONNREFUSED;
    redisContext *ctx = slot->ctx;
    char hist[24];
    int hlen = apr_snprintf(hist, sizeof(hist), "%ld", s->cf.history);
    const char *argv[] = {"EVALSHA", s->script_sha, "1", s->cf.key, hist, user, msg, s->cf.channel};
    size_t lens[] = {7,    strlen(s->script_sha), 1, strlen(s->cf.key), (size_t)hlen, ulen,
                     mlen, strlen(s->cf.channel)};
    redisReply *rep = redisCommandArgv(ctx, 8, argv, lens);
    if (rep && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(rep);
        argv[0] = "EVAL", lens[0] = 4;
        argv[1] = tw_publish_lua, lens[1] = sizeof(tw_publish_lua) - 1;
        rep = redisCommandArgv(ctx, 8, argv, lens);
    }
    apr_status_t rv = APR_SUCCESS;
    if (!rep || rep->type != REDIS_REPLY_STRING || !tw_id_parse(rep->str, rep->len, id))
        rv = tw_reply_error(p, ctx, rep, "publish", err);
    if (rep)
        freeReplyObject(rep);
    tw_release(s, slot);
    return rv;
}

/* What a range reply held before entries of other writers were left out. */
typedef struct tw_range_info {
    size_t raw;        /* entries in the reply */
    tw_id first, last; /* ids of the first and last of them */
} tw_range_info;

/* Convert an XRANGE/XREVRANGE reply into posts in `p`. Entries without both fields are left
 * out (they were not written by this module) but counted in `info`. Returns 0 if the reply
 * is malformed. */
static int tw_parse_entries(apr_pool_t *p, const redisReply *rep, tw_post **posts, int *n,
                            tw_range_info *info)
{
    tw_post *out = apr_pcalloc(p, sizeof(*out) * (rep->elements ? rep->elements : 1));
    int k = 0;
    info->raw = rep->elements;
    for (size_t i = 0; i < rep->elements; i++) {
        const redisReply *e = rep->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY)
            return 0;
        tw_post *po = &out[k];
        if (!tw_id_parse(e->element[0]->str, e->element[0]->len, &po->id))
            return 0;
        if (i == 0)
            info->first = po->id;
        info->last = po->id;
        const redisReply *f = e->element[1];
        po->user = po->msg = NULL;
        for (size_t j = 0; j + 1 < f->elements; j += 2) {
            const redisReply *name = f->element[j], *val = f->element[j + 1];
            if (name->type != REDIS_REPLY_STRING || val->type != REDIS_REPLY_STRING ||
                name->len != 1)
                continue;
            if (name->str[0] == 'u')
                po->user = apr_pstrmemdup(p, val->str, val->len), po->user_len = val->len;
            else if (name->str[0] == 'm')
                po->msg = apr_pstrmemdup(p, val->str, val->len), po->msg_len = val->len;
        }
        if (po->user && po->msg)
            k++;
    }
    *posts = out;
    *n = k;
    return 1;
}

/* Run one range command and parse its entries. */
static apr_status_t tw_range(tw_store *s, apr_pool_t *p, int argc, const char **argv,
                             tw_post **posts, int *n, tw_range_info *info, const char **err)
{
    tw_slot *slot = tw_acquire(s, p, err);
    if (!slot)
        return APR_ECONNREFUSED;
    redisReply *rep = redisCommandArgv(slot->ctx, argc, argv, NULL);
    apr_status_t rv = APR_SUCCESS;
    if (!rep || rep->type != REDIS_REPLY_ARRAY)
        rv = tw_reply_error(p, slot->ctx, rep, argv[0], err);
    else if (!tw_parse_entries(p, rep, posts, n, info)) {
        *err = apr_psprintf(p, "%s: malformed stream entry in %s", argv[0], s->cf.key);
        rv = APR_EGENERAL;
    }
    if (rep)
        freeReplyObject(rep);
    tw_release(s, slot);
    return rv;
}

apr_status_t tw_store_latest(tw_store *s, apr_pool_t *p, long count, tw_post **posts, int *n,
                             const char **err)
{
    tw_range_info info;
    const char *argv[] = {"XREVRANGE", s->cf.key, "+", "-", "COUNT", apr_ltoa(p, count)};
    return tw_range(s, p, 6, argv, posts, n, &info, err);
}

apr_status_t tw_store_each_after(tw_store *s, apr_pool_t *p, tw_id after, long page,
                                 tw_store_each_fn *fn, void *ctx, int *gap, const char **err)
{
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
        tw_range_info info = {0};
        int n = 0, stop = 0;
        /* The range is inclusive: entry `after` (if still there) comes back first. */
        char from[TW_ID_MAX];
        tw_id_format(after, from);
        const char *argv[] = {"XRANGE", s->cf.key, from, "+", "COUNT", apr_ltoa(sub, page + 1)};
        rv = tw_range(s, sub, 6, argv, &posts, &n, &info, err);
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
