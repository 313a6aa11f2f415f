/* tw_store_redis_write.c: the Redis store's writes: a post, a deletion, a like, and the count
 * of likes announced at the end of its window, each one call of tw_store_redis.lua (and a WAIT
 * for the replicas TweetsseRedisMinReplicas asks for); and the counts waiting for their
 * window's end, which the subscriber's thread announces. See tw_store_redis_int.h. */
#include "tw_store_redis_int.h"

/* generated from tw_store_redis.lua: tw_store_redis_lua[] */
#include "tw_store_redis_lua.h"

#include <apr_sha1.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <stdlib.h>
#include <string.h>

/* How long an idempotency key is remembered: long enough for any retry of a post. */
#define TW_REDIS_KEY_TTL_MS 3600000
/* A post's count of likes is announced at most once in this window: four updates a second. */
#define TW_REDIS_LIKE_WINDOW_MS 250
/* The most arguments an action passes (after EVALSHA, the hash, 2 and the 2 keys). */
#define TW_REDIS_ARGS_MAX 16

void tw_redis_script_sha(char *out)
{
    unsigned char digest[APR_SHA1_DIGESTSIZE];
    apr_sha1_ctx_t sha;
    apr_sha1_init(&sha);
    apr_sha1_update(&sha, tw_store_redis_lua, sizeof(tw_store_redis_lua) - 1);
    apr_sha1_final(digest, &sha);
    for (int i = 0; i < APR_SHA1_DIGESTSIZE; i++)
        apr_snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

/* The arguments of one call of the script: ARGV in order, strings from a pool. */
typedef struct tw_redis_args {
    const char *v[TW_REDIS_ARGS_MAX];
    size_t len[TW_REDIS_ARGS_MAX];
    int n;
} tw_redis_args;

static void tw_redis_arg(tw_redis_args *a, const char *s, size_t len)
{
    a->v[a->n] = s;
    a->len[a->n++] = len;
}

static void tw_redis_args_s(tw_redis_args *a, const char *s)
{
    tw_redis_arg(a, s, strlen(s));
}

/* The action's arguments every call starts with: the action, the channel, the replicas. */
static void tw_redis_args_start(tw_redis *r, apr_pool_t *p, tw_redis_args *a, const char *action)
{
    a->n = 0;
    tw_redis_args_s(a, action);
    tw_redis_args_s(a, r->cf.feed.channel);
    tw_redis_args_s(a, apr_ltoa(p, r->cf.feed.min_replicas));
}

/* The client's address and both limits (ms between actions, 0: off; burst), as the script
 * takes them. */
static void tw_redis_args_limits(tw_redis *r, apr_pool_t *p, tw_redis_args *a, const char *addr)
{
    const tw_rate *rates[] = {&r->cf.feed.rate_user, &r->cf.feed.rate_addr};
    tw_redis_args_s(a, addr ? addr : "");
    for (int i = 0; i < 2; i++) {
        const tw_rate *rate = rates[i];
        tw_redis_args_s(a, rate->count > 0
                               ? apr_psprintf(p, "%.3f", (double)rate->period_ms / rate->count)
                               : "0");
        tw_redis_args_s(a, apr_ltoa(p, rate->count > 0 ? rate->burst : 0));
    }
}

/* Run the script on `ctx` by its hash, and by its text when the server does not know it (it
 * restarted since: NOSCRIPT), which caches it again. Returns the reply, or NULL when none came
 * (the script may have run). One round trip; two after a restart of Redis. */
static redisReply *tw_redis_eval(tw_redis *r, redisContext *ctx, const tw_redis_args *a)
{
    const char *argv[5 + TW_REDIS_ARGS_MAX] = {"EVALSHA", r->script_sha, "2", r->cf.feed.stream_key,
                                               r->settings_key};
    size_t lens[5 + TW_REDIS_ARGS_MAX];
    for (int i = 0; i < 5; i++)
        lens[i] = strlen(argv[i]);
    memcpy(argv + 5, a->v, sizeof(*argv) * (size_t)a->n);
    memcpy(lens + 5, a->len, sizeof(*lens) * (size_t)a->n);
    redisReply *rep = redisCommandArgv(ctx, 5 + a->n, argv, lens);
    if (rep && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(rep);
        argv[0] = "EVAL", lens[0] = 4;
        argv[1] = tw_store_redis_lua, lens[1] = sizeof(tw_store_redis_lua) - 1;
        rep = redisCommandArgv(ctx, 5 + a->n, argv, lens);
    }
    return rep;
}

/* Wait on the connection of `slot`, which wrote, until the replicas TweetsseRedisMinReplicas
 * asks for (with Sentinel, every replica of the census: tw_redis_replicas_need) have the write
 * (WAIT counts the replicas that have this connection's writes). WAIT gives up a little before
 * the command timeout, so its answer, not a timeout, says how many. With Sentinel, a write whose
 * primary was left meanwhile (a failover: it may be deposed, and its replicas' confirmation
 * worth nothing) is not confirmed either. Returns APR_SUCCESS, APR_TIMEUP (stored but not
 * confirmed; *err says why), or APR_EGENERAL; *rep is the reply, for the caller to release and
 * free. Blocks up to the timeout. */
static apr_status_t tw_redis_confirm(tw_redis *r, apr_pool_t *p, tw_redis_slot *slot,
                                     redisReply **rep, const char **err)
{
    redisContext *ctx = tw_redis_slot_ctx(slot);
    long timeout = r->cf.feed.timeout_ms, need = tw_redis_replicas_need(r->conns);
    long margin = timeout / 10 > 10 ? timeout / 10 : 10;
    long wait_ms = timeout - margin > 1 ? timeout - margin : 1;
    *rep = redisCommand(ctx, "WAIT %ld %ld", need, wait_ms);
    if (!*rep || (*rep)->type != REDIS_REPLY_INTEGER)
        return tw_redis_reply_error(p, ctx, *rep, "WAIT", err);
    if ((*rep)->integer >= need && tw_redis_target_gen(r->conns) == tw_redis_slot_gen(slot))
        return APR_SUCCESS;
    if ((*rep)->integer >= need) {
        *err = "stored and confirmed, but the primary was left meanwhile (a failover)";
        return APR_TIMEUP;
    }
    *err =
        apr_psprintf(p, "stored, but %lld of the %ld replicas required confirmed it within %ld ms",
                     (*rep)->integer, need, wait_ms);
    return APR_TIMEUP;
}

/* Reads the script's answer into the caller's result: 1 when it wrote (then the replicas are
 * waited for), 0 when it wrote nothing, -1 when it is no answer of the action. */
typedef int tw_redis_answer_fn(const redisReply *rep, void *out);

/* One call of the script on one pooled connection, and the WAIT when it wrote. Returns
 * APR_SUCCESS (the answer read into `out`), APR_INCOMPLETE (sent, no answer: it may have been
 * done), APR_TIMEUP (done but not confirmed by the replicas), or another error (*err). */
static apr_status_t tw_redis_call(tw_redis *r, apr_pool_t *p, const tw_redis_args *a,
                                  tw_redis_answer_fn *answer, void *out, const char **err)
{
    tw_redis_slot *slot = tw_redis_acquire(r->conns, p, err);
    if (!slot)
        return APR_ECONNREFUSED;
    redisContext *ctx = tw_redis_slot_ctx(slot);
    redisReply *rep = tw_redis_eval(r, ctx, a);
    apr_status_t rv = APR_SUCCESS;
    int wrote = rep ? answer(rep, out) : -1;
    if (!rep) {
        tw_redis_reply_error(p, ctx, rep, a->v[0], err);
        rv = APR_INCOMPLETE;
    } else if (wrote < 0) {
        rv = tw_redis_reply_error(p, ctx, rep, a->v[0], err);
    } else if (wrote && r->cf.feed.min_replicas > 0) {
        freeReplyObject(rep);
        rv = tw_redis_confirm(r, p, slot, &rep, err);
    }
    tw_redis_release(r->conns, slot, rep);
    if (rep)
        freeReplyObject(rep);
    return rv;
}

/* The answer's word (element 0) and value (element 1) of an answer of `n` elements. */
static int tw_redis_answer(const redisReply *rep, size_t n, const char **what, const redisReply **v)
{
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != n ||
        rep->element[0]->type != REDIS_REPLY_STRING)
        return 0;
    *what = rep->element[0]->str;
    *v = rep->element[1];
    return 1;
}

/* Is `v` an integer above 0 (a wait in ms)? */
static int tw_redis_positive(const redisReply *v)
{
    return v->type == REDIS_REPLY_INTEGER && v->integer > 0;
}

/* {"new"|"replayed", id} or {"limited", ms}. */
static int tw_redis_post_answer(const redisReply *rep, void *res)
{
    tw_publish_result *out = res;
    const char *what;
    const redisReply *v;
    if (!tw_redis_answer(rep, 2, &what, &v))
        return -1;
    if (!strcmp(what, "limited") && tw_redis_positive(v)) {
        out->retry_ms = v->integer;
        return 0;
    }
    out->replayed = !strcmp(what, "replayed");
    int ok = (out->replayed || !strcmp(what, "new")) && v->type == REDIS_REPLY_STRING &&
             tw_id_parse(v->str, v->len, &out->id);
    return ok ? !out->replayed : -1;
}

apr_status_t tw_redis_publish(tw_store *st, apr_pool_t *p, const tw_publish *in,
                              tw_publish_result *out, const char **err)
{
    tw_redis *r = (tw_redis *)st;
    const tw_post *post = &in->post;
    tw_redis_args a;
    *out = (tw_publish_result){{0, 0}, 0, 0};
    tw_redis_args_start(r, p, &a, "post");
    tw_redis_args_s(&a, apr_ltoa(p, r->cf.feed.history));
    tw_redis_arg(&a, post->user, post->user_len);
    tw_redis_arg(&a, post->msg, post->msg_len);
    tw_redis_arg(&a, post->author_len ? post->author : "", post->author_len);
    tw_redis_arg(&a, in->key ? in->key : "", in->key ? in->key_len : 0);
    tw_redis_args_s(&a, apr_itoa(p, TW_REDIS_KEY_TTL_MS));
    tw_redis_args_limits(r, p, &a, in->addr);
    return tw_redis_call(r, p, &a, tw_redis_post_answer, out, err);
}

/* The statuses the script's words stand for, beside "limited". */
static int tw_redis_status(const char *what, tw_action_status *status)
{
    static const struct {
        const char *word;
        tw_action_status status;
    } words[] = {{"deleted", TW_ACTION_DONE},        {"again", TW_ACTION_AGAIN},
                 {"forbidden", TW_ACTION_FORBIDDEN}, {"gone", TW_ACTION_GONE},
                 {"missing", TW_ACTION_MISSING},     {"liked", TW_ACTION_DONE},
                 {"unliked", TW_ACTION_DONE}};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (!strcmp(what, words[i].word)) {
            *status = words[i].status;
            return 1;
        }
    return 0;
}

/* {"deleted"|"again", event id, author}, {"forbidden", why}, {"gone"|"missing", ""},
 * {"limited", ms}. The author is copied into `p`. */
typedef struct tw_redis_delete_out {
    tw_action_result *res;
    apr_pool_t *p;
} tw_redis_delete_out;

static int tw_redis_delete_answer(const redisReply *rep, void *res)
{
    tw_redis_delete_out *d = res;
    tw_action_result *out = d->res;
    const char *what;
    const redisReply *v;
    if (tw_redis_answer(rep, 3, &what, &v) && rep->element[2]->type == REDIS_REPLY_STRING &&
        tw_redis_status(what, &out->status) &&
        (out->status == TW_ACTION_DONE || out->status == TW_ACTION_AGAIN) &&
        v->type == REDIS_REPLY_STRING && tw_id_parse(v->str, v->len, &out->event)) {
        const redisReply *a = rep->element[2];
        out->author = strcmp(a->str, "-") ? apr_pstrmemdup(d->p, a->str, a->len) : "";
        return out->status == TW_ACTION_DONE;
    }
    if (!tw_redis_answer(rep, 2, &what, &v))
        return -1;
    if (!strcmp(what, "limited") && tw_redis_positive(v)) {
        out->status = TW_ACTION_LIMITED;
        out->retry_ms = v->integer;
        return 0;
    }
    if (!tw_redis_status(what, &out->status) || v->type != REDIS_REPLY_STRING)
        return -1;
    if (out->status == TW_ACTION_FORBIDDEN)
        out->why = !strcmp(v->str, "it is not your post") ? "it is not your post"
                                                          : "it was posted before identities: "
                                                            "only a moderator can remove it";
    return out->status == TW_ACTION_DONE || out->status == TW_ACTION_AGAIN ? -1 : 0;
}

/* The arguments every action on a post starts with: its id and the actor. */
static void tw_redis_args_action(tw_redis *r, apr_pool_t *p, tw_redis_args *a, const char *what,
                                 const tw_action *act)
{
    char id[TW_ID_MAX];
    tw_id_format(act->target, id);
    tw_redis_args_start(r, p, a, what);
    tw_redis_args_s(a, apr_pstrdup(p, id));
    tw_redis_args_s(a, act->who);
}

apr_status_t tw_redis_remove(tw_store *st, apr_pool_t *p, const tw_action *act,
                             tw_action_result *out, const char **err)
{
    tw_redis *r = (tw_redis *)st;
    tw_redis_args a;
    tw_redis_delete_out d = {out, p};
    *out = (tw_action_result){.status = TW_ACTION_DONE};
    tw_redis_args_action(r, p, &a, "delete", act);
    tw_redis_args_s(&a, act->moderator ? "moderator" : "author");
    tw_redis_args_limits(r, p, &a, act->addr);
    return tw_redis_call(r, p, &a, tw_redis_delete_answer, &d, err);
}

/* A like's answer and when its count is due (0: announced, or nothing changed). */
typedef struct tw_redis_like_out {
    tw_action_result *res;
    long due_ms;
} tw_redis_like_out;

/* {"liked"|"unliked", count, due}, {"gone"|"missing", ""}, {"limited", ms}. */
static int tw_redis_like_answer(const redisReply *rep, void *res)
{
    tw_redis_like_out *lo = res;
    tw_action_result *out = lo->res;
    const char *what;
    const redisReply *v;
    if (tw_redis_answer(rep, 2, &what, &v)) {
        if (!strcmp(what, "limited") && tw_redis_positive(v)) {
            out->status = TW_ACTION_LIMITED;
            out->retry_ms = v->integer;
            return 0;
        }
        return tw_redis_status(what, &out->status) && out->status != TW_ACTION_DONE ? 0 : -1;
    }
    if (!tw_redis_answer(rep, 3, &what, &v) || v->type != REDIS_REPLY_INTEGER ||
        rep->element[2]->type != REDIS_REPLY_INTEGER || !tw_redis_status(what, &out->status) ||
        out->status != TW_ACTION_DONE)
        return -1;
    out->liked = !strcmp(what, "liked");
    out->likes = (long)v->integer;
    lo->due_ms = (long)rep->element[2]->integer;
    out->changed = lo->due_ms >= 0; /* -1: it was so already, nothing written */
    return out->changed;
}

apr_status_t tw_redis_like(tw_store *st, apr_pool_t *p, const tw_action *act, tw_action_result *out,
                           const char **err)
{
    tw_redis *r = (tw_redis *)st;
    tw_redis_args a;
    tw_redis_like_out lo = {.res = out};
    *out = (tw_action_result){.status = TW_ACTION_DONE};
    tw_redis_args_action(r, p, &a, "like", act);
    tw_redis_args_s(&a, act->like < 0 ? "toggle" : act->like ? "on" : "off");
    tw_redis_args_limits(r, p, &a, act->addr);
    tw_redis_args_s(&a, apr_itoa(p, TW_REDIS_LIKE_WINDOW_MS));
    apr_status_t rv = tw_redis_call(r, p, &a, tw_redis_like_answer, &lo, err);
    if (rv == APR_SUCCESS && lo.due_ms > 0)
        tw_redis_flush_later(r, act->target, apr_time_from_msec(lo.due_ms));
    return rv;
}

/* {"flushed", event id}, {"clean", ""} or {"later", due ms} (*res: the due time, 0 else). */
static int tw_redis_flush_answer(const redisReply *rep, void *res)
{
    const char *what;
    const redisReply *v;
    long long *due_ms = res;
    if (!tw_redis_answer(rep, 2, &what, &v))
        return -1;
    if (!strcmp(what, "later"))
        return tw_redis_positive(v) ? (*due_ms = v->integer, 0) : -1;
    return !strcmp(what, "flushed") ? 1 : !strcmp(what, "clean") ? 0 : -1;
}

/* ---- Counts at the end of their window ---------------------------------------------------- */

void tw_redis_flush_later(tw_redis *r, tw_id post, apr_time_t due)
{
    apr_thread_mutex_lock(r->flush_lock);
    int i = 0;
    while (i < r->nflush && tw_id_cmp(r->flush[i].post, post))
        i++;
    if (i == r->nflush && r->nflush < TW_REDIS_FLUSH_MAX)
        r->flush[r->nflush++] = (tw_redis_flush){post, due};
    else if (i < r->nflush && due < r->flush[i].due)
        r->flush[i].due = due;
    int dropped = i == TW_REDIS_FLUSH_MAX;
    apr_thread_mutex_unlock(r->flush_lock);
    if (dropped) /* announced with the post's next like, or a later flush of another child */
        TW_LOG(r->cf.log, TW_LOG_WARNING, 0,
               "TW0123: more than %d counts of likes wait for their announcement; one waits "
               "for the post's next like",
               TW_REDIS_FLUSH_MAX);
    tw_redis_sub_wake(r->sub);
}

apr_time_t tw_redis_flush_next(tw_store *st)
{
    tw_redis *r = (tw_redis *)st;
    apr_time_t next = 0;
    apr_thread_mutex_lock(r->flush_lock);
    for (int i = 0; i < r->nflush; i++)
        if (!next || r->flush[i].due < next)
            next = r->flush[i].due;
    apr_thread_mutex_unlock(r->flush_lock);
    return next;
}

/* A flush put off to `due`, but never to `now` or before: this pass takes only what is due at
 * `now`, and a Redis clock behind ours must not make it spin. */
static apr_time_t tw_redis_flush_after(apr_time_t due, apr_time_t now)
{
    apr_time_t soonest = now + apr_time_from_msec(10);
    return due > soonest ? due : soonest;
}

void tw_redis_flush_due(tw_store *st, apr_pool_t *p)
{
    tw_redis *r = (tw_redis *)st;
    apr_time_t now = apr_time_now();
    for (;;) {
        tw_id post = {0, 0};
        int found = 0;
        apr_thread_mutex_lock(r->flush_lock);
        for (int i = 0; i < r->nflush && !found; i++) {
            if (r->flush[i].due <= now) {
                post = r->flush[i].post;
                r->flush[i] = r->flush[--r->nflush];
                found = 1;
            }
        }
        apr_thread_mutex_unlock(r->flush_lock);
        if (!found)
            return;
        char id[TW_ID_MAX];
        tw_id_format(post, id);
        tw_redis_args a;
        const char *err = NULL;
        long long due_ms = 0;
        tw_redis_args_start(r, p, &a, "flush");
        tw_redis_args_s(&a, apr_pstrdup(p, id));
        tw_redis_args_s(&a, apr_itoa(p, TW_REDIS_LIKE_WINDOW_MS));
        if (tw_redis_call(r, p, &a, tw_redis_flush_answer, &due_ms, &err) != APR_SUCCESS)
            TW_LOG(r->cf.log, TW_LOG_WARNING, 0,
                   "TW0124: cannot announce the count of likes of %s (%s); the next like does", id,
                   err);
        else if (due_ms) /* another child announced it in this window: again at its end */
            tw_redis_flush_later(r, post, tw_redis_flush_after(apr_time_from_msec(due_ms), now));
    }
}

/* ---- Presence ------------------------------------------------------------------------------ */

/* The sum of readers: an integer. Writes nothing the replicas must confirm. */
static int tw_redis_presence_answer(const redisReply *rep, void *res)
{
    if (rep->type != REDIS_REPLY_INTEGER || rep->integer < 0)
        return -1;
    *(long *)res = (long)rep->integer;
    return 0;
}

apr_status_t tw_redis_presence(tw_store *st, apr_pool_t *p, const char *member, long readers,
                               long *total, const char **err)
{
    tw_redis *r = (tw_redis *)st;
    tw_redis_args a;
    tw_redis_args_start(r, p, &a, "presence");
    a.v[2] = "0", a.len[2] = 1; /* a count of readers needs no replica */
    tw_redis_args_s(&a, member);
    tw_redis_args_s(&a, apr_ltoa(p, readers));
    tw_redis_args_s(&a, apr_ltoa(p, apr_time_as_msec(TW_REDIS_PRESENCE_STALE)));
    return tw_redis_call(r, p, &a, tw_redis_presence_answer, total, err);
}

apr_status_t tw_redis_presence_leave(tw_store *st, apr_pool_t *p, const char *member,
                                     const char **err)
{
    tw_redis *r = (tw_redis *)st;
    const char *argv[] = {"HDEL", r->presence_key, member};
    redisReply *rep = NULL;
    apr_status_t rv = tw_redis_run(r->conns, p, 3, argv, NULL, &rep, err);
    if (rv == APR_SUCCESS && rep->type != REDIS_REPLY_INTEGER)
        rv = tw_redis_reply_error(p, NULL, rep, "HDEL presence", err);
    if (rep)
        freeReplyObject(rep);
    return rv;
}
