/* tw_store_redis_read.c: the Redis store's reads: the newest posts, older ones, one post, with
 * their counts of likes; which of them a visitor likes; every event after a point, for a resume
 * and the subscriber's catching up; the log's state. See tw_store_redis_int.h. */
#include "tw_store_redis_int.h"

#include <apr_strings.h>
#include <string.h>

/* Run one range command and convert its entries: the events into *events, or, when `events`
 * is NULL, the posts into *posts. One round trip. */
static apr_status_t tw_redis_range_run(tw_redis *r, apr_pool_t *p, int argc, const char **argv,
                                       tw_event **events, tw_post **posts, int *n,
                                       tw_redis_range *info, const char **err)
{
    redisReply *rep = NULL;
    apr_status_t rv = tw_redis_run(r->conns, p, argc, argv, NULL, &rep, err);
    if (rv != APR_SUCCESS)
        return rv;
    int ok = events ? tw_redis_wire_events(p, rep, events, n, info)
                    : tw_redis_wire_entries(p, rep, posts, n, info);
    if (rep->type != REDIS_REPLY_ARRAY) {
        rv = tw_redis_reply_error(p, NULL, rep, argv[0], err);
    } else if (!ok) {
        *err = apr_psprintf(p, "%s: malformed stream entry in %s", argv[0], r->cf.feed.stream_key);
        rv = APR_EGENERAL;
    }
    freeReplyObject(rep);
    return rv;
}

/* The posts of one range command. */
static apr_status_t tw_redis_range_cmd(tw_redis *r, apr_pool_t *p, int argc, const char **argv,
                                       tw_post **posts, int *n, tw_redis_range *info,
                                       const char **err)
{
    return tw_redis_range_run(r, p, argc, argv, NULL, posts, n, info, err);
}

/* Set the likes of posts[0..n) from the counts hash (HMGET <log>:counts). One round trip,
 * none for no posts. */
static apr_status_t tw_redis_likes(tw_redis *r, apr_pool_t *p, tw_post *posts, int n,
                                   const char **err)
{
    if (n == 0)
        return APR_SUCCESS;
    const char **argv = apr_palloc(p, sizeof(*argv) * (size_t)(n + 2));
    argv[0] = "HMGET";
    argv[1] = r->counts_key;
    for (int i = 0; i < n; i++) {
        char *id = apr_palloc(p, TW_ID_MAX);
        tw_id_format(posts[i].id, id);
        argv[i + 2] = id;
    }
    redisReply *rep = NULL;
    apr_status_t rv = tw_redis_run(r->conns, p, n + 2, argv, NULL, &rep, err);
    if (rv != APR_SUCCESS)
        return rv;
    if (!tw_redis_wire_likes(rep, posts, n))
        rv = tw_redis_reply_error(p, NULL, rep, "HMGET counts", err);
    freeReplyObject(rep);
    return rv;
}

/* Append the `n` posts of `more` to the `*have` posts of `*all` (in `p`). */
static void tw_redis_append(apr_pool_t *p, tw_post **all, int *have, const tw_post *more, int n)
{
    if (!n)
        return;
    tw_post *joined = apr_palloc(p, sizeof(*joined) * (size_t)(*have + n));
    if (*have)
        memcpy(joined, *all, sizeof(*joined) * (size_t)*have);
    memcpy(joined + *have, more, sizeof(*joined) * (size_t)n);
    *all = joined;
    *have += n;
}

/* XREVRANGE from the newest entry, reading on past entries of other writers (which are no posts)
 * until `count` posts or the start of the stream: entries another program added on top never
 * shorten the page. One round trip, and one more per `count` (at least 100) entries of other
 * writers in a row. */
apr_status_t tw_redis_latest(tw_store *st, apr_pool_t *p, long count, tw_post **posts, int *n,
                             const char **err)
{
    tw_redis *r = (tw_redis *)st;
    char from[TW_ID_MAX + 1] = "+";
    long chunk = count;
    *posts = NULL;
    *n = 0;
    for (;;) {
        const char *argv[] = {"XREVRANGE", r->cf.feed.stream_key, from, "-",
                              "COUNT",     apr_ltoa(p, chunk)};
        tw_redis_range info = {0};
        tw_post *got = NULL;
        int k = 0;
        apr_status_t rv = tw_redis_range_cmd(r, p, 6, argv, &got, &k, &info, err);
        if (rv != APR_SUCCESS)
            return rv;
        tw_redis_append(p, posts, n, got, k < count - *n ? k : (int)(count - *n));
        if (*n >= count || info.raw < (size_t)chunk)
            return tw_redis_likes(r, p, *posts, *n, err);
        from[0] = '(';
        tw_id_format(info.last, from + 1);
        chunk = count < 100 ? 100 : count;
    }
}

/* XREVRANGE key (<id> - COUNT count+1: the one beyond the page says whether there is more. A
 * reply of entries of other writers only is passed over with the next range from its last. */
apr_status_t tw_redis_before(tw_store *st, apr_pool_t *p, tw_id id, long count, tw_post **posts,
                             int *n, int *more, const char **err)
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
        const char *argv[] = {"XREVRANGE", r->cf.feed.stream_key, end, "-", "COUNT", cnt};
        tw_redis_range info;
        apr_status_t rv = tw_redis_range_cmd(r, p, 6, argv, posts, n, &info, err);
        if (rv != APR_SUCCESS)
            return rv;
        *more = info.raw > (size_t)count;
        if (*n > count)
            *n = (int)count;
        if (*n > 0 || !*more)
            return tw_redis_likes(r, p, *posts, *n, err);
        id = info.last;
    }
    *more = 0;
    return APR_SUCCESS;
}

/* Was post `id` deleted (HEXISTS <log>:gone)? 1, 0, or -1 (*err). One round trip. */
static int tw_redis_deleted(tw_redis *r, apr_pool_t *p, const char *id, const char **err)
{
    const char *argv[] = {"HEXISTS", r->gone_key, id};
    redisReply *rep = NULL;
    if (tw_redis_run(r->conns, p, 3, argv, NULL, &rep, err) != APR_SUCCESS)
        return -1;
    int yes = rep->type == REDIS_REPLY_INTEGER ? rep->integer == 1 : -1;
    if (yes < 0)
        tw_redis_reply_error(p, NULL, rep, "HEXISTS gone", err);
    freeReplyObject(rep);
    return yes;
}

/* XRANGE key <id> <id>: the entry, if any, and only if it is a post, and its likes; when there
 * is none, whether it was deleted. */
apr_status_t tw_redis_get(tw_store *st, apr_pool_t *p, tw_id id, tw_post *post, int *found,
                          const char **err)
{
    tw_redis *r = (tw_redis *)st;
    char at[TW_ID_MAX];
    tw_id_format(id, at);
    const char *argv[] = {"XRANGE", r->cf.feed.stream_key, at, at};
    tw_post *posts = NULL;
    int n = 0;
    tw_redis_range info;
    *found = 0;
    apr_status_t rv = tw_redis_range_cmd(r, p, 4, argv, &posts, &n, &info, err);
    if (rv != APR_SUCCESS)
        return rv;
    if (n == 1 && !tw_id_cmp(posts[0].id, id)) {
        *post = posts[0];
        *found = 1;
        return tw_redis_likes(r, p, post, 1, err);
    }
    int deleted = tw_redis_deleted(r, p, at, err);
    if (deleted < 0)
        return APR_EGENERAL;
    *found = deleted ? -1 : 0;
    return APR_SUCCESS;
}

apr_status_t tw_redis_liked(tw_store *st, apr_pool_t *p, const char *who, const tw_post *posts,
                            int n, int *liked, const char **err)
{
    tw_redis *r = (tw_redis *)st;
    if (n == 0)
        return APR_SUCCESS;
    /* SISMEMBER <log>:likes:<id> <who> for each post, pipelined on one connection. */
    tw_redis_slot *slot = tw_redis_acquire(r->conns, p, err);
    if (!slot)
        return APR_ECONNREFUSED;
    redisContext *ctx = tw_redis_slot_ctx(slot);
    for (int i = 0; i < n; i++) {
        char id[TW_ID_MAX];
        tw_id_format(posts[i].id, id);
        const char *argv[] = {"SISMEMBER", apr_pstrcat(p, r->likes_prefix, id, NULL), who};
        redisAppendCommandArgv(ctx, 3, argv, NULL);
    }
    /* Every reply is read, even after a bad one, so that the connection goes back in step;
     * a broken connection (no reply) is closed on release. */
    apr_status_t rv = APR_SUCCESS;
    redisReply *rep = NULL;
    for (int i = 0; i < n; i++) {
        void *got = NULL;
        if (rep)
            freeReplyObject(rep);
        rep = redisGetReply(ctx, &got) == REDIS_OK ? got : NULL;
        if (!rep || rep->type != REDIS_REPLY_INTEGER) {
            if (rv == APR_SUCCESS)
                rv = tw_redis_reply_error(p, ctx, rep, "SISMEMBER likes", err);
            if (!rep)
                break;
            continue;
        }
        liked[i] = rep->integer == 1;
    }
    tw_redis_release(r->conns, slot, rep);
    if (rep)
        freeReplyObject(rep);
    return rv;
}

/* The log's floor (<log>:floor, tw_store_redis.lua): 1 with *floor set, 0 when it has none
 * (no post was ever added by this module), -1 (*err). One round trip. */
static int tw_redis_floor(tw_redis *r, apr_pool_t *p, tw_id *floor, const char **err)
{
    const char *argv[] = {"GET", r->floor_key};
    redisReply *rep = NULL;
    if (tw_redis_run(r->conns, p, 2, argv, NULL, &rep, err) != APR_SUCCESS)
        return -1;
    int has = rep->type == REDIS_REPLY_NIL                                                ? 0
              : rep->type == REDIS_REPLY_STRING && tw_id_parse(rep->str, rep->len, floor) ? 1
                                                                                          : -1;
    if (has < 0)
        tw_redis_reply_error(p, NULL, rep, "GET floor", err);
    freeReplyObject(rep);
    return has;
}

/* Is the history missing what follows `after` (not zero), which a range starting there did not
 * find? Not when `after` lies within the history and was deleted (XDEL: a deleted post, a count
 * replaced by a newer one, an entry an operator removed): the range from it goes on. Yes when
 * it is newer than the newest entry ever added (it is not of this history), or older than the
 * oldest entry left and than the floor (the history was trimmed past it). One round trip
 * (XINFO STREAM), and one more (the floor) when `after` is older than every entry left. */
static apr_status_t tw_redis_gone(tw_store *st, apr_pool_t *p, tw_id after, int *gap,
                                  const char **err)
{
    tw_redis *r = (tw_redis *)st;
    tw_redis_log log;
    apr_status_t rv = tw_redis_log_state(st, p, &log, err);
    if (rv != APR_SUCCESS)
        return rv;
    *gap = tw_id_cmp(after, log.last_generated) > 0;
    if (*gap || (log.length > 0 && tw_id_cmp(after, log.first) >= 0))
        return APR_SUCCESS;
    if (log.length == 0 && tw_id_cmp(after, log.last_generated) == 0)
        return APR_SUCCESS; /* the newest entry ever, deleted: nothing followed it */
    tw_id floor;
    int has = tw_redis_floor(r, p, &floor, err);
    if (has < 0)
        return APR_EGENERAL;
    *gap = !has || tw_id_cmp(after, floor) < 0;
    return APR_SUCCESS;
}

/* One page of each_after: the entries from `after` on (inclusive: it comes back first while
 * it is there), `page` + 1 of them, into a subpool of `p` that the caller destroys. */
static apr_status_t tw_redis_each_page(tw_redis *r, apr_pool_t *sub, tw_id after, long page,
                                       tw_event **events, int *n, tw_redis_range *info,
                                       const char **err)
{
    char from[TW_ID_MAX];
    tw_id_format(after, from);
    const char *argv[] = {"XRANGE", r->cf.feed.stream_key,  from, "+",
                          "COUNT",  apr_ltoa(sub, page + 1)};
    return tw_redis_range_run(r, sub, 6, argv, events, NULL, n, info, err);
}

apr_status_t tw_redis_each_after(tw_store *st, apr_pool_t *p, tw_id after, long page,
                                 tw_store_each_fn *fn, void *ctx, int *gap, const char **err)
{
    tw_redis *r = (tw_redis *)st;
    const tw_id zero = {0, 0};
    *gap = 0;
    for (;;) {
        apr_pool_t *sub;
        if (apr_pool_create(&sub, p) != APR_SUCCESS) {
            *err = "out of memory";
            return APR_ENOMEM;
        }
        tw_event *events = NULL;
        tw_redis_range info = {0};
        int n = 0, stop = 0;
        apr_status_t rv = tw_redis_each_page(r, sub, after, page, &events, &n, &info, err);
        if (rv == APR_SUCCESS && tw_id_cmp(after, zero) != 0 &&
            (info.raw == 0 || tw_id_cmp(info.first, after) != 0))
            rv = tw_redis_gone(st, sub, after, gap, err);
        if (rv != APR_SUCCESS) {
            *err = apr_pstrdup(p, *err);
            apr_pool_destroy(sub);
            return rv;
        }
        for (int i = 0; i < n && !*gap && !stop; i++)
            if (tw_id_cmp(events[i].id, after) > 0)
                stop = fn(ctx, &events[i]);
        int more = info.raw == (size_t)page + 1 && !*gap && !stop;
        after = info.last;
        apr_pool_destroy(sub);
        if (!more)
            return APR_SUCCESS;
    }
}

apr_status_t tw_redis_log_state(tw_store *st, apr_pool_t *p, tw_redis_log *out, const char **err)
{
    tw_redis *r = (tw_redis *)st;
    const char *argv[] = {"XINFO", "STREAM", r->cf.feed.stream_key};
    redisReply *rep = NULL;
    *out = (tw_redis_log){.length = 0, .entries_added = 0};
    apr_status_t rv = tw_redis_run(r->conns, p, 3, argv, NULL, &rep, err);
    if (rv != APR_SUCCESS)
        return rv;
    if (rep->type == REDIS_REPLY_ERROR && strstr(rep->str, "no such key")) {
        /* Not created yet: nothing was ever added. */
    } else if (rep->type != REDIS_REPLY_ARRAY) {
        rv = tw_redis_reply_error(p, NULL, rep, "XINFO STREAM", err);
    } else if (!tw_redis_wire_log_info(rep, out)) {
        *err = apr_psprintf(p, "XINFO STREAM %s: malformed reply", r->cf.feed.stream_key);
        rv = APR_EGENERAL;
    }
    freeReplyObject(rep);
    return rv;
}
