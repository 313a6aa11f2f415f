/* tw_store_redis.c: the Redis store (see tw_store_redis.h): its table of operations, its
 * creation, the feed's shared settings, the subscription's start and the health probe. Its
 * writes are in tw_store_redis_write.c, its reads in tw_store_redis_read.c, its connections in
 * tw_store_redis_conn.c, its subscription in tw_store_redis_sub.c. */
#include "tw_store_redis_int.h"

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

tw_redis_conns *tw_redis_conns_of(tw_store *st)
{
    return ((tw_redis *)st)->conns;
}

apr_status_t tw_redis_log_state(tw_store *st, apr_pool_t *p, tw_redis_log *out, const char **err);

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
    .remove = tw_redis_remove,
    .like = tw_redis_like,
    .liked = tw_redis_liked,
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

apr_status_t tw_store_redis_create(apr_pool_t *p, const tw_store_redis_conf *cf, tw_store **out)
{
    tw_redis *r = apr_pcalloc(p, sizeof(*r));
    r->store.ops = &tw_redis_ops;
    r->pool = p;
    r->cf = *cf;
    tw_redis_own_feed(p, &r->cf.feed);
    const char *log = r->cf.feed.stream_key;
    r->settings_key = apr_pstrcat(p, log, ":settings", NULL);
    r->counts_key = apr_pstrcat(p, log, ":counts", NULL);
    r->gone_key = apr_pstrcat(p, log, ":gone", NULL);
    r->floor_key = apr_pstrcat(p, log, ":floor", NULL);
    r->likes_prefix = apr_pstrcat(p, log, ":likes:", NULL);
    tw_redis_script_sha(r->script_sha);
    atomic_init(&r->canaries, 0);
    apr_status_t rv = apr_thread_mutex_create(&r->probe_lock, APR_THREAD_MUTEX_DEFAULT, p);
    if (rv == APR_SUCCESS)
        rv = apr_thread_cond_create(&r->probe_done, p);
    if (rv == APR_SUCCESS)
        rv = apr_thread_mutex_create(&r->flush_lock, APR_THREAD_MUTEX_DEFAULT, p);
    if (rv == APR_SUCCESS)
        rv = tw_redis_conns_create(p, &r->cf, &r->conns);
    if (rv != APR_SUCCESS)
        return rv;
    *out = &r->store;
    return APR_SUCCESS;
}
