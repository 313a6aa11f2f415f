/* tw_store_redis.c: the Redis store's operations (see tw_store_redis.h): publishing through the
 * script, the reads, the health probe; its connections are in tw_store_redis_conn.c, its
 * subscription in tw_store_redis_sub.c. */
#include "tw_store_redis_int.h"

/* generated from tw_store_redis_publish.lua: tw_store_redis_publish_lua[] */
#include "tw_store_redis_publish_lua.h"

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

/* The store: its configuration (the feed's strings copied into its pool), its connections and
 * subscription, and the health probe's shared answer. */
typedef struct tw_redis {
    tw_store store; /* first: the store interface */
    tw_store_redis_conf cf;
    tw_redis_conns *conns;
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
} tw_redis;

tw_redis_conns *tw_redis_conns_of(tw_store *st)
{
    return ((tw_redis *)st)->conns;
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

/* The publish script's command line: EVALSHA, its hash, 5 keys and 12 arguments. */
enum { TW_PUBLISH_ARGC = 20 };

/* Fill `argv` and `lens` (TW_PUBLISH_ARGC each) with the command that publishes `in`: the keys
 * and arguments tw_store_redis_publish.lua documents, strings from `p`. */
static void tw_redis_publish_argv(tw_redis *r, apr_pool_t *p, const tw_publish *in,
                                  const char **argv, size_t *lens)
{
    const tw_feed_conf *f = &r->cf.feed;
    const tw_post *post = &in->post;
    const char *who = post->author_len ? apr_pstrmemdup(p, post->author, post->author_len) : "";
    const char *key = in->key ? apr_pstrmemdup(p, in->key, in->key_len) : NULL;
    const char *v[TW_PUBLISH_ARGC] = {
        "EVALSHA",
        r->script_sha,
        "5",
        f->stream_key,
        r->settings_key,
        key ? apr_pstrcat(p, f->stream_key, ":key:", who, ":", key, NULL) : "",
        apr_pstrcat(p, f->stream_key, ":rate:user:", who, NULL),
        in->addr ? apr_pstrcat(p, f->stream_key, ":rate:addr:", in->addr, NULL) : "",
        apr_ltoa(p, f->history),
        apr_pstrmemdup(p, post->user, post->user_len),
        post->msg,
        f->channel,
        apr_ltoa(p, f->min_replicas),
        apr_itoa(p, TW_REDIS_KEY_TTL_MS),
        NULL,
        NULL,
        NULL,
        NULL,
        who,
        post->tag_len ? apr_pstrmemdup(p, post->tag, post->tag_len) : "",
    };
    tw_redis_rate_args(p, &f->rate_user, &v[14], &v[15]);
    tw_redis_rate_args(p, &f->rate_addr, &v[16], &v[17]);
    for (int i = 0; i < TW_PUBLISH_ARGC; i++) {
        argv[i] = v[i];
        lens[i] = i == 10 ? post->msg_len : strlen(v[i]);
    }
}

/* Run the script on `ctx` by its hash, and by its text when the server does not know it (it
 * restarted since: NOSCRIPT), which caches it again. Returns the reply, or NULL when none came
 * (the script may have run). One round trip; two after a restart of Redis. */
static redisReply *tw_redis_eval(redisContext *ctx, const char **argv, size_t *lens)
{
    redisReply *rep = redisCommandArgv(ctx, TW_PUBLISH_ARGC, argv, lens);
    if (rep && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(rep);
        argv[0] = "EVAL", lens[0] = 4;
        argv[1] = tw_store_redis_publish_lua, lens[1] = sizeof(tw_store_redis_publish_lua) - 1;
        rep = redisCommandArgv(ctx, TW_PUBLISH_ARGC, argv, lens);
    }
    return rep;
}

/* Wait on `ctx`, the connection that stored the post, until the replicas TweetsseRedisMinReplicas
 * asks for have it (WAIT counts the replicas that have this connection's writes). WAIT gives up a
 * little before the command timeout, so its answer, not a timeout, says how many. Returns
 * APR_SUCCESS, APR_TIMEUP (stored but not confirmed; *err says how far), or APR_EGENERAL; *rep
 * is the reply, for the caller to release and free. Blocks up to the timeout. */
static apr_status_t tw_redis_confirm(tw_redis *r, apr_pool_t *p, redisContext *ctx,
                                     redisReply **rep, const char **err)
{
    long timeout = r->cf.feed.timeout_ms, need = r->cf.feed.min_replicas;
    long margin = timeout / 10 > 10 ? timeout / 10 : 10;
    long wait_ms = timeout - margin > 1 ? timeout - margin : 1;
    *rep = redisCommand(ctx, "WAIT %ld %ld", need, wait_ms);
    if (!*rep || (*rep)->type != REDIS_REPLY_INTEGER)
        return tw_redis_reply_error(p, ctx, *rep, "WAIT", err);
    if ((*rep)->integer >= need)
        return APR_SUCCESS;
    *err =
        apr_psprintf(p, "stored, but %lld of the %ld replicas required confirmed it within %ld ms",
                     (*rep)->integer, need, wait_ms);
    return APR_TIMEUP;
}

static apr_status_t tw_redis_publish(tw_store *st, apr_pool_t *p, const tw_publish *in,
                                     tw_publish_result *out, const char **err)
{
    tw_redis *r = (tw_redis *)st;
    *out = (tw_publish_result){{0, 0}, 0, 0};
    tw_redis_slot *slot = tw_redis_acquire(r->conns, p, err);
    if (!slot)
        return APR_ECONNREFUSED;
    redisContext *ctx = tw_redis_slot_ctx(slot);
    const char *argv[TW_PUBLISH_ARGC];
    size_t lens[TW_PUBLISH_ARGC];
    tw_redis_publish_argv(r, p, in, argv, lens);
    redisReply *rep = tw_redis_eval(ctx, argv, lens);
    apr_status_t rv = APR_SUCCESS;
    if (!rep) {
        /* Sent, and no answer (a timeout, a broken connection): Redis may have run it. */
        tw_redis_reply_error(p, ctx, rep, "publish", err);
        rv = APR_INCOMPLETE;
    } else if (!tw_redis_publish_answer(rep, out)) {
        rv = tw_redis_reply_error(p, ctx, rep, "publish", err);
    } else if (!out->retry_ms && r->cf.feed.min_replicas > 0) {
        freeReplyObject(rep);
        rv = tw_redis_confirm(r, p, ctx, &rep, err);
    }
    tw_redis_release(r->conns, slot, rep);
    if (rep)
        freeReplyObject(rep);
    return rv;
}

/* Run one range command and convert its entries. One round trip. */
static apr_status_t tw_redis_range_cmd(tw_redis *r, apr_pool_t *p, int argc, const char **argv,
                                       tw_post **posts, int *n, tw_redis_range *info,
                                       const char **err)
{
    redisReply *rep = NULL;
    apr_status_t rv = tw_redis_run(r->conns, p, argc, argv, NULL, &rep, err);
    if (rv != APR_SUCCESS)
        return rv;
    if (rep->type != REDIS_REPLY_ARRAY) {
        rv = tw_redis_reply_error(p, NULL, rep, argv[0], err);
    } else if (!tw_redis_wire_entries(p, rep, posts, n, info)) {
        *err = apr_psprintf(p, "%s: malformed stream entry in %s", argv[0], r->cf.feed.stream_key);
        rv = APR_EGENERAL;
    }
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
static apr_status_t tw_redis_latest(tw_store *st, apr_pool_t *p, long count, tw_post **posts,
                                    int *n, const char **err)
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
            return APR_SUCCESS;
        from[0] = '(';
        tw_id_format(info.last, from + 1);
        chunk = count < 100 ? 100 : count;
    }
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
        const char *argv[] = {"XREVRANGE", r->cf.feed.stream_key, end, "-", "COUNT", cnt};
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
    const char *argv[] = {"XRANGE", r->cf.feed.stream_key, at, at};
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

/* Is the history missing what follows `after` (not zero), which a range starting there did not
 * find? Not when `after` lies within the history and was deleted (XDEL: a deleted post, an
 * entry an operator removed): the range from it goes on. Yes when it is older than the oldest
 * entry left (the history was trimmed past it) or newer than the newest entry ever added (it
 * is not of this history). One round trip (XINFO STREAM). */
static apr_status_t tw_redis_gone(tw_store *st, apr_pool_t *p, tw_id after, int *gap,
                                  const char **err)
{
    tw_redis_log log;
    apr_status_t rv = tw_redis_log_state(st, p, &log, err);
    if (rv != APR_SUCCESS)
        return rv;
    *gap = tw_id_cmp(after, log.last_generated) > 0 ||
           (log.length > 0 ? tw_id_cmp(after, log.first) < 0
                           : tw_id_cmp(after, log.last_generated) < 0);
    return APR_SUCCESS;
}

/* One page of each_after: the entries from `after` on (inclusive: it comes back first while
 * it is there), `page` + 1 of them, into a subpool of `p` that the caller destroys. */
static apr_status_t tw_redis_each_page(tw_redis *r, apr_pool_t *sub, tw_id after, long page,
                                       tw_post **posts, int *n, tw_redis_range *info,
                                       const char **err)
{
    char from[TW_ID_MAX];
    tw_id_format(after, from);
    const char *argv[] = {"XRANGE", r->cf.feed.stream_key,  from, "+",
                          "COUNT",  apr_ltoa(sub, page + 1)};
    return tw_redis_range_cmd(r, sub, 6, argv, posts, n, info, err);
}

static apr_status_t tw_redis_each_after(tw_store *st, apr_pool_t *p, tw_id after, long page,
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
        tw_post *posts = NULL;
        tw_redis_range info = {0};
        int n = 0, stop = 0;
        apr_status_t rv = tw_redis_each_page(r, sub, after, page, &posts, &n, &info, err);
        if (rv == APR_SUCCESS && tw_id_cmp(after, zero) != 0 &&
            (info.raw == 0 || tw_id_cmp(info.first, after) != 0))
            rv = tw_redis_gone(st, sub, after, gap, err);
        if (rv != APR_SUCCESS) {
            *err = apr_pstrdup(p, *err);
            apr_pool_destroy(sub);
            return rv;
        }
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

/* Record a value unless an instance has already (`set`, a write-if-absent such as HSETNX or
 * SET NX), then read what holds now (`get`): the value, or NULL with *err (also for a nil or
 * non-string reply). Two round trips, at start-up only. */
static const char *tw_redis_recorded(tw_redis *r, apr_pool_t *p, int setc, const char **set,
                                     int getc, const char **get, const char **err)
{
    redisReply *rep = NULL;
    if (tw_redis_run(r->conns, p, setc, set, NULL, &rep, err) != APR_SUCCESS)
        return NULL;
    freeReplyObject(rep);
    if (tw_redis_run(r->conns, p, getc, get, NULL, &rep, err) != APR_SUCCESS)
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
    const tw_store_redis_conf *cf = &r->cf;
    const char *mine = apr_ltoa(p, cf->feed.history);
    const char *fleet = tw_redis_setting(r, p, "history", mine, err);
    if (!fleet)
        return APR_EGENERAL;
    if (strcmp(fleet, mine) != 0)
        TW_LOG(cf->log, TW_LOG_ERR, 0,
               "TW0112: TweetsseHistory is %s here, but the instances that share the stream %s "
               "keep %s posts (%s): it is trimmed to the larger of the two; set the same "
               "everywhere",
               mine, cf->feed.stream_key, fleet, r->settings_key);
    if (!(fleet = tw_redis_setting(r, p, "channel", cf->feed.channel, err)))
        return APR_EGENERAL;
    if (strcmp(fleet, cf->feed.channel) != 0)
        TW_LOG(cf->log, TW_LOG_ERR, 0,
               "TW0113: posts of the stream %s are announced on %s here, but on %s by the other "
               "instances (%s): their posts do not show live here, nor ours there; set the "
               "same TweetsseChannel everywhere",
               cf->feed.stream_key, cf->feed.channel, fleet, r->settings_key);
    /* The other way round: a channel carries one stream's posts. */
    const char *claim = apr_pstrcat(p, cf->feed.channel, ":stream", NULL);
    const char *set[] = {"SET", claim, cf->feed.stream_key, "NX"};
    const char *get[] = {"GET", claim};
    if (!(fleet = tw_redis_recorded(r, p, 4, set, 2, get, err)))
        return APR_EGENERAL;
    if (strcmp(fleet, cf->feed.stream_key) != 0)
        TW_LOG(cf->log, TW_LOG_ERR, 0,
               "TW0114: the channel %s announces the posts of the stream %s (%s), not of %s: "
               "pages would show the other feed's posts; give each feed its own TweetsseChannel",
               cf->feed.channel, fleet, claim, cf->feed.stream_key);
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
        "PUBLISH", r->cf.feed.channel,
        apr_psprintf(p, "?%s:%" APR_UINT64_T_FMT, tw_redis_sub_token(r->sub), (apr_uint64_t)n)};
    redisReply *rep = NULL;
    const char *err = NULL;
    int sent = tw_redis_run(r->conns, p, 3, argv, NULL, &rep, &err) == APR_SUCCESS &&
               rep->type == REDIS_REPLY_INTEGER;
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
    if (tw_redis_target_gen(r->conns) == 0) {
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

/* Copy the feed's strings (and the sentinels) into `p`: the store outlives its caller's
 * configuration in the tests, and nothing it keeps may point elsewhere. */
static void tw_redis_own_feed(apr_pool_t *p, tw_feed_conf *f)
{
    tw_redis_addr *a = &f->redis;
    f->redis_spec = f->redis_spec ? apr_pstrdup(p, f->redis_spec) : NULL;
    a->host = a->host ? apr_pstrdup(p, a->host) : NULL;
    a->path = a->path ? apr_pstrdup(p, a->path) : NULL;
    f->password = f->password ? apr_pstrdup(p, f->password) : NULL;
    f->stream_key = apr_pstrdup(p, f->stream_key);
    f->channel = apr_pstrdup(p, f->channel);
    if (a->master) {
        a->master = apr_pstrdup(p, a->master);
        tw_redis_node *s = apr_pcalloc(p, sizeof(*s) * (size_t)a->nsentinels);
        for (int i = 0; i < a->nsentinels; i++)
            s[i] = (tw_redis_node){apr_pstrdup(p, a->sentinels[i].host), a->sentinels[i].port};
        a->sentinels = s;
    }
}

/* The script's SHA1 in hex, as EVALSHA names it. */
static void tw_redis_script_sha(char out[APR_SHA1_DIGESTSIZE * 2 + 1])
{
    unsigned char digest[APR_SHA1_DIGESTSIZE];
    apr_sha1_ctx_t sha;
    apr_sha1_init(&sha);
    apr_sha1_update(&sha, tw_store_redis_publish_lua, sizeof(tw_store_redis_publish_lua) - 1);
    apr_sha1_final(digest, &sha);
    for (int i = 0; i < APR_SHA1_DIGESTSIZE; i++)
        apr_snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

apr_status_t tw_store_redis_create(apr_pool_t *p, const tw_store_redis_conf *cf, tw_store **out)
{
    tw_redis *r = apr_pcalloc(p, sizeof(*r));
    r->store.ops = &tw_redis_ops;
    r->pool = p;
    r->cf = *cf;
    tw_redis_own_feed(p, &r->cf.feed);
    r->settings_key = apr_pstrcat(p, r->cf.feed.stream_key, ":settings", NULL);
    tw_redis_script_sha(r->script_sha);
    atomic_init(&r->canaries, 0);
    apr_status_t rv = apr_thread_mutex_create(&r->probe_lock, APR_THREAD_MUTEX_DEFAULT, p);
    if (rv == APR_SUCCESS)
        rv = apr_thread_cond_create(&r->probe_done, p);
    if (rv == APR_SUCCESS)
        rv = tw_redis_conns_create(p, &r->cf, &r->conns);
    if (rv != APR_SUCCESS)
        return rv;
    *out = &r->store;
    return APR_SUCCESS;
}
