/* Unit tests of the store interface (src/tw_store.h): one contract run against both
 * implementations, tw_store_mem and tw_redis (against the throwaway redis-server that `make unit`
 * starts; TW_TEST_REDIS names its unix socket), then what only Redis does: a subscription lost
 * and caught up, a gap when posts were trimmed meanwhile, and errors when Redis is away. */
#include "fixture.h"
#include "tap.h"
#include "tw_store_redis_int.h"

#include <apr_general.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>

static apr_pool_t *pool;
static const char *redis_sock; /* NULL: no Redis for this run */
static int serial;

/* ---- a listener that records ---------------------------------------------------------------- */

typedef struct rec {
    pthread_mutex_t lock;
    char events[64]; /* 'u'p, 'p'ost, 'd'own, 'g'ap, 'l'ost, in order */
    int nevents;
    tw_id posts[512];
    char msgs[512][32];
    int nposts;
    tw_event acts[512]; /* deletions and counts, in order (their strings are not kept) */
    int nacts;
    int bell; /* eventfd: written on every event */
    pthread_cond_t cond;
    int hold;    /* while set, a post holds the store's thread in the listener */
    int holding; /* the store's thread is held */
} rec;

static void rec_event(rec *r, char e)
{
    pthread_mutex_lock(&r->lock);
    if (r->nevents < (int)sizeof(r->events) - 1)
        r->events[r->nevents++] = e;
    pthread_mutex_unlock(&r->lock);
    uint64_t one = 1;
    write(r->bell, &one, sizeof(one));
}

static void rec_up(void *ctx)
{
    rec_event(ctx, 'u');
}

static void rec_down(void *ctx)
{
    rec_event(ctx, 'd');
}

static void rec_gap(void *ctx)
{
    rec_event(ctx, 'g');
}

static void rec_lost(void *ctx)
{
    rec_event(ctx, 'l');
}

/* Keep a deletion or a count. Lock held. */
static void rec_act(rec *r, const tw_event *ev)
{
    if (r->nacts < 512)
        r->acts[r->nacts++] = *ev;
}

static void rec_post(void *ctx, const tw_event *ev)
{
    rec *r = ctx;
    const tw_post *p = &ev->post;
    pthread_mutex_lock(&r->lock);
    r->holding = r->hold;
    if (r->hold) {
        uint64_t one = 1;
        write(r->bell, &one, sizeof(one));
    }
    while (r->hold)
        pthread_cond_wait(&r->cond, &r->lock);
    r->holding = 0;
    if (ev->kind != TW_EVENT_POST) {
        rec_act(r, ev);
    } else if (r->nposts < 512) {
        r->posts[r->nposts] = p->id;
        snprintf(r->msgs[r->nposts], 32, "%.*s", (int)p->msg_len, p->msg);
        r->nposts++;
    }
    pthread_mutex_unlock(&r->lock);
    rec_event(r, ev->kind == TW_EVENT_POST ? 'p' : ev->kind == TW_EVENT_DELETE ? 'x' : 'c');
}

static tw_store_listener rec_listener(rec *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    r->bell = eventfd(0, EFD_NONBLOCK);
    return (tw_store_listener){.up = rec_up,
                               .event = rec_post,
                               .down = rec_down,
                               .gap = rec_gap,
                               .lost = rec_lost,
                               .ctx = r};
}

static void rec_free(rec *r)
{
    close(r->bell);
    pthread_mutex_destroy(&r->lock);
}

typedef struct rec_pred {
    rec *r;
    int (*pred)(rec *, long);
    long arg;
} rec_pred;

static int rec_holds(void *arg)
{
    rec_pred *q = arg;
    pthread_mutex_lock(&q->r->lock);
    int v = q->pred(q->r, q->arg);
    pthread_mutex_unlock(&q->r->lock);
    return v;
}

/* Wait until `pred` holds for the record, or 10 s pass. */
static int rec_until(rec *r, int (*pred)(rec *, long), long arg)
{
    rec_pred q = {r, pred, arg};
    return fx_until_bell(r->bell, rec_holds, &q, 10000);
}

static int has_posts(rec *r, long n)
{
    return r->nposts >= n;
}

/* The record's events end with this sequence of letters. */
static int events_end(rec *r, long s)
{
    const char *seq = (const char *)s;
    size_t n = strlen(seq);
    r->events[r->nevents] = '\0';
    return (size_t)r->nevents >= n && strcmp(r->events + r->nevents - n, seq) == 0;
}

/* ---- the stores ---------------------------------------------------------------------------- */

typedef tw_store *make_fn(long history);

static tw_store *make_mem(long history)
{
    tw_store *s;
    return tw_store_mem_create(pool, history, &s) == APR_SUCCESS ? s : NULL;
}

static tw_log quiet;
static const char *last_key; /* the stream key of the Redis store made last */

/* A Redis store as `cf` says, with what it leaves out filled in: its own stream and channel
 * (so every store starts empty), the test server, a 2 s timeout, four connections. */
static tw_store *make_redis_conf(tw_store_redis_conf cf)
{
    ++serial;
    if (!cf.feed.redis.path && !cf.feed.redis.host)
        cf.feed.redis.path = redis_sock;
    if (!cf.feed.stream_key)
        cf.feed.stream_key = apr_psprintf(pool, "test:%d:%d:feed", (int)getpid(), serial);
    if (!cf.feed.channel)
        cf.feed.channel = apr_psprintf(pool, "test:%d:%d:live", (int)getpid(), serial);
    cf.feed.timeout_ms = cf.feed.timeout_ms ? cf.feed.timeout_ms : 2000;
    cf.max_conns = 4;
    cf.log = cf.log ? cf.log : &quiet;
    last_key = cf.feed.stream_key;
    tw_store *s;
    return tw_store_redis_create(pool, &cf, &s) == APR_SUCCESS ? s : NULL;
}

static tw_store *make_redis_at(long history, const char *sock)
{
    return make_redis_conf(
        (tw_store_redis_conf){.feed.redis = {.path = sock}, .feed.history = history});
}

static tw_store *make_redis(long history)
{
    return make_redis_at(history, redis_sock);
}

static tw_id publish(tw_store *s, const char *msg)
{
    tw_publish in = {.post = {.user = "tester", .user_len = 6, .msg = msg, .msg_len = strlen(msg)}};
    tw_publish_result res = {{0, 0}, 0, 0};
    const char *err = NULL;
    if (tw_store_publish(s, pool, &in, &res, &err) != APR_SUCCESS)
        diag("publish: %s", err);
    return res.id;
}

/* Publish `msg` by `user` with an idempotency key (or NULL) and a client address (or NULL). */
static apr_status_t publish_as(tw_store *s, const char *user, const char *msg, const char *key,
                               const char *addr, tw_publish_result *res)
{
    tw_publish in = {.post = {.user = user,
                              .user_len = strlen(user),
                              .msg = msg,
                              .msg_len = strlen(msg),
                              .author = user, /* one identity a name, here */
                              .author_len = strlen(user)},
                     .key = key,
                     .key_len = key ? strlen(key) : 0,
                     .addr = addr};
    const char *err = NULL;
    apr_status_t rv = tw_store_publish(s, pool, &in, res, &err);
    if (rv != APR_SUCCESS)
        diag("publish: %s", err);
    return rv;
}

typedef struct visit {
    tw_id ids[512];
    int n, stop_at;
} visit;

static int visit_one(void *ctx, const tw_event *ev)
{
    visit *v = ctx;
    if (ev->kind == TW_EVENT_POST) /* the posts only; events: see visit_all */
        v->ids[v->n++] = ev->id;
    return v->stop_at && v->n >= v->stop_at;
}

static int scan(tw_store *s, tw_id after, long page, visit *v, int *gap)
{
    const char *err = NULL;
    v->n = 0;
    apr_status_t rv = tw_store_each_after(s, pool, after, page, visit_one, v, gap, &err);
    if (rv != APR_SUCCESS)
        diag("each_after: %s", err);
    return rv == APR_SUCCESS;
}

/* ---- the contract --------------------------------------------------------------------------- */

/* A key used again by the same user is the first post's answer; another user's, or another
 * key, is a post of its own. */
static void contract_keys(const char *name, tw_store *s)
{
    tw_publish_result a, b, c, d, e;
    publish_as(s, "amy", "first try", "k1", NULL, &a);
    ok(!a.replayed && !a.retry_ms && a.id.ms, "%s: a post with a key is stored", name);
    ok(publish_as(s, "amy", "first try, sent again", "k1", NULL, &b) == APR_SUCCESS && b.replayed &&
           tw_id_cmp(b.id, a.id) == 0,
       "%s: the same key again: the first post's id, marked replayed", name);
    publish_as(s, "bob", "bob's", "k1", NULL, &c);
    ok(!c.replayed && tw_id_cmp(c.id, a.id) > 0, "%s: another user's same key is a new post", name);
    publish_as(s, "amy", "second", "k2", NULL, &d);
    ok(!d.replayed && tw_id_cmp(d.id, c.id) > 0, "%s: another key is a new post", name);
    publish_as(s, "amy", "no key", NULL, NULL, &e);
    ok(!e.replayed && tw_id_cmp(e.id, d.id) > 0, "%s: without a key, a new post", name);
    tw_post *posts;
    int n = 0;
    const char *err;
    tw_store_latest(s, pool, 10, &posts, &n, &err);
    int firsts = 0;
    for (int i = 0; i < n; i++)
        firsts += !strncmp(posts[i].msg, "first try", 9);
    is_int(firsts, 1, "%s: the repeated post is stored once", name);
}

/* before() over the five posts `ids` of `s`, oldest first, and get() of each. */
static void contract_before(const char *name, tw_store *s, const tw_id *ids)
{
    const tw_id zero = {0, 0}, top = {UINT64_MAX, UINT64_MAX};
    tw_post *posts, got;
    int n = -1, more = -1, found = -1;
    const char *err;
    ok(tw_store_before(s, pool, ids[3], 2, &posts, &n, &more, &err) == APR_SUCCESS && n == 2 &&
           !tw_id_cmp(posts[0].id, ids[2]) && !tw_id_cmp(posts[1].id, ids[1]) && more,
       "%s: before(id, 2): the two strictly older, newest first, more to come", name);
    ok(n == 2 && posts[0].msg_len == 6 && !memcmp(posts[0].msg, "post 2", 6) &&
           posts[0].user_len == 6 && !memcmp(posts[0].user, "tester", 6),
       "%s: with their user and message", name);
    ok(tw_store_before(s, pool, ids[4], 4, &posts, &n, &more, &err) == APR_SUCCESS && n == 4 &&
           !tw_id_cmp(posts[3].id, ids[0]) && !more,
       "%s: a page that takes exactly the rest: the end", name);
    ok(tw_store_before(s, pool, ids[1], 3, &posts, &n, &more, &err) == APR_SUCCESS && n == 1 &&
           !tw_id_cmp(posts[0].id, ids[0]) && !more,
       "%s: fewer than asked: the end", name);
    ok(tw_store_before(s, pool, ids[0], 3, &posts, &n, &more, &err) == APR_SUCCESS && n == 0 &&
           !more,
       "%s: before the oldest: nothing", name);
    ok(tw_store_before(s, pool, top, 3, &posts, &n, &more, &err) == APR_SUCCESS && n == 3 &&
           !tw_id_cmp(posts[0].id, ids[4]) && more,
       "%s: before the largest id: the newest", name);
    ok(tw_store_before(s, pool, zero, 3, &posts, &n, &more, &err) == APR_SUCCESS && n == 0 && !more,
       "%s: before the zero id: nothing", name);
    tw_id between = ids[4];
    between.seq++; /* an id that no post has, just after the newest */
    ok(tw_store_before(s, pool, between, 1, &posts, &n, &more, &err) == APR_SUCCESS && n == 1 &&
           !tw_id_cmp(posts[0].id, ids[4]) && more,
       "%s: an id no post has bounds the page just as well", name);
    int all = 1;
    for (int i = 0; i < 5; i++) {
        char want[16];
        snprintf(want, sizeof(want), "post %d", i);
        all &= tw_store_get(s, pool, ids[i], &got, &found, &err) == APR_SUCCESS && found &&
               !tw_id_cmp(got.id, ids[i]) && got.msg_len == strlen(want) &&
               !memcmp(got.msg, want, got.msg_len) && got.user_len == 6;
    }
    ok(all, "%s: get finds each post by its id", name);
    ok(tw_store_get(s, pool, between, &got, &found, &err) == APR_SUCCESS && !found,
       "%s: get of an id no post has: not found", name);
    ok(tw_store_get(s, pool, top, &got, &found, &err) == APR_SUCCESS && !found,
       "%s: get of the largest id: not found", name);
}

/* ---- deletions and likes ------------------------------------------------------------------ */

static tw_action_result act(tw_store *s, int del, tw_id target, const char *who, int moderator,
                            int like)
{
    tw_action a = {.target = target, .who = who, .moderator = moderator, .like = like};
    tw_action_result res = {.status = -1};
    const char *err = NULL;
    apr_status_t rv =
        del ? tw_store_remove(s, pool, &a, &res, &err) : tw_store_like(s, pool, &a, &res, &err);
    if (rv != APR_SUCCESS)
        diag("%s: %s", del ? "remove" : "like", err);
    return res;
}

static tw_action_result del_as(tw_store *s, tw_id id, const char *who)
{
    return act(s, 1, id, who, 0, 0);
}

static tw_action_result mod_del(tw_store *s, tw_id id)
{
    return act(s, 1, id, "m:mod", 1, 0);
}

static tw_action_result like_as(tw_store *s, tw_id id, const char *who, int like)
{
    return act(s, 0, id, who, 0, like);
}

/* Every event after `after`, kinds as letters (p, x, c) into `out`; the posts' ids in v. */
typedef struct visit_all {
    char kinds[64];
    int n;
    tw_event ev[64];
} visit_all;

static int visit_event(void *ctx, const tw_event *ev)
{
    visit_all *v = ctx;
    if (v->n < 63) {
        v->kinds[v->n] = ev->kind == TW_EVENT_POST ? 'p' : ev->kind == TW_EVENT_DELETE ? 'x' : 'c';
        v->ev[v->n] = *ev;
        v->n++;
        v->kinds[v->n] = '\0';
    }
    return 0;
}

static int scan_all(tw_store *s, tw_id after, visit_all *v)
{
    const char *err = NULL;
    int gap = 0;
    memset(v, 0, sizeof(*v));
    return tw_store_each_after(s, pool, after, 3, visit_event, v, &gap, &err) == APR_SUCCESS &&
           !gap;
}

static int has_acts(rec *r, long n)
{
    return r->nacts >= n;
}

/* The last count the listener heard for `post` is `n`. */
typedef struct count_want {
    tw_id post;
    long n;
} count_want;

static int heard_count(rec *r, long arg)
{
    const count_want *w = (const count_want *)arg;
    for (int i = r->nacts - 1; i >= 0; i--)
        if (r->acts[i].kind == TW_EVENT_COUNT && !tw_id_cmp(r->acts[i].target, w->post))
            return r->acts[i].count == w->n;
    return 0;
}

/* A post by `who`. */
static tw_id post_by(tw_store *s, const char *who, const char *msg)
{
    tw_publish in = {.post = {.user = "u",
                              .user_len = 1,
                              .msg = msg,
                              .msg_len = strlen(msg),
                              .author = who,
                              .author_len = strlen(who)}};
    tw_publish_result res = {{0, 0}, 0, 0};
    const char *err = NULL;
    if (tw_store_publish(s, pool, &in, &res, &err) != APR_SUCCESS)
        diag("publish: %s", err);
    return res.id;
}

/* Deleting: only the author (or a moderator), once, and the post is gone from every read and
 * every scan; what was there before the deletion stays as it was. */
static void contract_delete(const char *name, tw_store *s, rec *r)
{
    const tw_id zero = {0, 0};
    tw_id a = post_by(s, "c:amy", "amy's"), b = post_by(s, "c:bob", "bob's");
    tw_id c = post_by(s, "c:amy", "amy's second");
    tw_action_result res = del_as(s, a, "c:bob");
    ok(res.status == TW_ACTION_FORBIDDEN && res.why && strstr(res.why, "not your post"),
       "%s: another's post: forbidden, and why", name);
    tw_post *posts, got;
    int n = 0, found = 0, more = 0;
    const char *err;
    ok(tw_store_latest(s, pool, 10, &posts, &n, &err) == APR_SUCCESS && n == 3,
       "%s: a refused deletion changes nothing", name);
    res = del_as(s, a, "c:amy");
    ok(res.status == TW_ACTION_DONE && tw_id_cmp(res.event, c) > 0 && !strcmp(res.author, "c:amy"),
       "%s: the author deletes: an event after every post, naming the author", name);
    tw_id event = res.event;
    ok(rec_until(r, has_acts, 1), "%s: the subscription hears the deletion", name);
    pthread_mutex_lock(&r->lock);
    ok(r->acts[0].kind == TW_EVENT_DELETE && !tw_id_cmp(r->acts[0].target, a) &&
           !tw_id_cmp(r->acts[0].id, event) && !r->acts[0].by_moderator,
       "%s: its id, its post, by the author", name);
    pthread_mutex_unlock(&r->lock);
    ok(tw_store_latest(s, pool, 10, &posts, &n, &err) == APR_SUCCESS && n == 2 &&
           !tw_id_cmp(posts[0].id, c) && !tw_id_cmp(posts[1].id, b),
       "%s: latest leaves it out", name);
    ok(tw_store_before(s, pool, c, 10, &posts, &n, &more, &err) == APR_SUCCESS && n == 1 &&
           !tw_id_cmp(posts[0].id, b) && !more,
       "%s: before leaves it out", name);
    ok(tw_store_get(s, pool, a, &got, &found, &err) == APR_SUCCESS && found == -1,
       "%s: get says deleted (a permalink: 410)", name);
    visit_all v;
    ok(scan_all(s, zero, &v) && !strcmp(v.kinds, "ppx"), "%s: a scan from the start: %s", name,
       v.kinds);
    ok(scan_all(s, a, &v) && !strcmp(v.kinds, "ppx") && !tw_id_cmp(v.ev[2].target, a),
       "%s: a resume from the deleted post itself: the rest, then the deletion (%s)", name,
       v.kinds);
    res = del_as(s, a, "c:amy");
    ok(res.status == TW_ACTION_AGAIN && !tw_id_cmp(res.event, event),
       "%s: deleted again by the author: the first deletion's answer", name);
    ok(mod_del(s, a).status == TW_ACTION_AGAIN, "%s: and by a moderator: the same", name);
    ok(del_as(s, a, "c:bob").status == TW_ACTION_GONE, "%s: by anyone else: gone", name);
    ok(del_as(s, (tw_id){a.ms, a.seq + 1000}, "c:amy").status == TW_ACTION_MISSING,
       "%s: an id no post has: missing", name);
    res = mod_del(s, b);
    ok(res.status == TW_ACTION_DONE && !strcmp(res.author, "c:bob"),
       "%s: a moderator removes anyone's post", name);
    ok(rec_until(r, has_acts, 2), "%s: heard", name);
    pthread_mutex_lock(&r->lock);
    ok(r->acts[1].by_moderator && !tw_id_cmp(r->acts[1].target, b), "%s: by a moderator", name);
    pthread_mutex_unlock(&r->lock);
    tw_id old = post_by(s, "", "from before identities");
    res = del_as(s, old, "c:amy");
    ok(res.status == TW_ACTION_FORBIDDEN && strstr(res.why, "moderator"),
       "%s: a post without an author: only a moderator", name);
}

/* Liking: one like per identity, on and off; the count on every read; a count event. */
static void contract_like(const char *name, tw_store *s, rec *r)
{
    tw_id p = post_by(s, "c:amy", "likeable");
    tw_action_result res = like_as(s, p, "c:x", 1);
    ok(res.status == TW_ACTION_DONE && res.liked && res.likes == 1 && res.changed,
       "%s: a like: liked, one", name);
    res = like_as(s, p, "c:x", 1);
    ok(res.status == TW_ACTION_DONE && res.liked && res.likes == 1 && !res.changed,
       "%s: the same like again: still one, nothing changed", name);
    res = like_as(s, p, "c:y", -1);
    ok(res.liked && res.likes == 2 && res.changed, "%s: a toggle by another: two", name);
    res = like_as(s, p, "c:x", 0);
    ok(!res.liked && res.likes == 1 && res.changed, "%s: an unlike: one", name);
    res = like_as(s, p, "c:y", -1);
    ok(!res.liked && res.likes == 0, "%s: a toggle back: none", name);
    like_as(s, p, "c:y", 1);
    tw_post *posts;
    int n = 0;
    const char *err;
    ok(tw_store_latest(s, pool, 1, &posts, &n, &err) == APR_SUCCESS && n == 1 &&
           posts[0].likes == 1,
       "%s: latest carries the count", name);
    tw_post got;
    int found = 0;
    ok(tw_store_get(s, pool, p, &got, &found, &err) == APR_SUCCESS && found == 1 && got.likes == 1,
       "%s: get too", name);
    int liked[2] = {-1, -1};
    tw_post two[2] = {{.id = p}, {.id = {p.ms, p.seq + 1}}};
    ok(tw_store_liked(s, pool, "c:y", two, 2, liked, &err) == APR_SUCCESS && liked[0] == 1 &&
           liked[1] == 0,
       "%s: liked: the actor's own likes", name);
    ok(tw_store_liked(s, pool, "c:x", two, 1, liked, &err) == APR_SUCCESS && liked[0] == 0,
       "%s: and not another's", name);
    count_want w = {p, 1};
    ok(rec_until(r, heard_count, (long)&w), "%s: the last count heard is the count", name);
    ok(mod_del(s, p).status == TW_ACTION_DONE, "%s: deleted", name);
    ok(like_as(s, p, "c:x", 1).status == TW_ACTION_GONE, "%s: a deleted post: gone", name);
    ok(like_as(s, (tw_id){p.ms + 5000, 0}, "c:x", 1).status == TW_ACTION_MISSING,
       "%s: an id no post has: missing", name);
}

static void contract_actions(const char *name, make_fn *make)
{
    tw_store *s = make(1000);
    rec r;
    tw_store_listener l = rec_listener(&r);
    ok(tw_store_subscribe(s, &l) == APR_SUCCESS && rec_until(&r, events_end, (long)"u"),
       "%s: subscribed", name);
    contract_delete(name, s, &r);
    contract_like(name, s, &r);
    tw_store_stop(s);
    tw_store_stopped(s, apr_time_from_sec(5));
    rec_free(&r);
}

static void contract(const char *name, make_fn *make)
{
    diag("contract: %s", name);
    const tw_id zero = {0, 0};
    tw_store *s = make(1000);
    ok(s != NULL, "%s: created", name);
    contract_keys(name, make(1000));
    tw_post *posts;
    int n = -1, gap = -1;
    const char *err;
    visit v = {0};
    ok(tw_store_latest(s, pool, 10, &posts, &n, &err) == APR_SUCCESS && n == 0,
       "%s: an empty store has no posts", name);
    ok(scan(s, zero, 10, &v, &gap) && v.n == 0 && !gap, "%s: nothing after the zero id", name);

    tw_id ids[5];
    int increasing = 1;
    for (int i = 0; i < 5; i++) {
        ids[i] = publish(s, apr_psprintf(pool, "post %d", i));
        if (i && tw_id_cmp(ids[i], ids[i - 1]) <= 0)
            increasing = 0;
    }
    ok(increasing && ids[0].ms, "%s: publish gives increasing ids", name);
    ok(tw_store_latest(s, pool, 3, &posts, &n, &err) == APR_SUCCESS && n == 3 &&
           !tw_id_cmp(posts[0].id, ids[4]) && !tw_id_cmp(posts[2].id, ids[2]),
       "%s: latest(3) is the newest three, newest first", name);
    ok(n == 3 && posts[0].msg_len == 6 && !memcmp(posts[0].msg, "post 4", 6) &&
           posts[0].user_len == 6 && !memcmp(posts[0].user, "tester", 6),
       "%s: with their user and message", name);
    ok(tw_store_latest(s, pool, 50, &posts, &n, &err) == APR_SUCCESS && n == 5,
       "%s: latest(50) is all five", name);
    contract_before(name, s, ids);
    ok(scan(s, zero, 2, &v, &gap) && v.n == 5 && !gap && !tw_id_cmp(v.ids[0], ids[0]) &&
           !tw_id_cmp(v.ids[4], ids[4]),
       "%s: everything after the zero id, oldest first, across pages of 2", name);
    ok(scan(s, ids[1], 2, &v, &gap) && v.n == 3 && !gap && !tw_id_cmp(v.ids[0], ids[2]),
       "%s: after a post: the ones after it", name);
    ok(scan(s, ids[4], 2, &v, &gap) && v.n == 0 && !gap, "%s: after the newest: none, no gap",
       name);
    v.stop_at = 2;
    ok(scan(s, zero, 10, &v, &gap) && v.n == 2, "%s: the callback can stop the scan", name);
    v.stop_at = 0;
    ok(scan(s, (tw_id){1, 0}, 10, &v, &gap) && gap && v.n == 0,
       "%s: an id older than the history is a gap, and nothing is visited", name);
    ok(scan(s, (tw_id){ids[4].ms + 1000, 0}, 10, &v, &gap) && gap && v.n == 0,
       "%s: an id newer than every post is a gap too (not of this history)", name);
    tw_id between = {ids[1].ms, ids[1].seq + 1};
    ok(tw_id_cmp(between, ids[2]) >= 0 ||
           (scan(s, between, 2, &v, &gap) && !gap && v.n == 3 && !tw_id_cmp(v.ids[0], ids[2])),
       "%s: a point inside the history without an entry (deleted): no gap, the posts after it",
       name);

    rec r;
    tw_store_listener l = rec_listener(&r);
    ok(tw_store_subscribe(s, &l) == APR_SUCCESS, "%s: subscribe", name);
    ok(rec_until(&r, events_end, (long)"u"), "%s: the listener hears up", name);
    tw_store_health h;
    tw_store_health_get(s, &h);
    ok(h.subscribed && h.since, "%s: health says subscribed", name);
    tw_id live[3];
    for (int i = 0; i < 3; i++)
        live[i] = publish(s, apr_psprintf(pool, "live %d", i));
    ok(rec_until(&r, has_posts, 3), "%s: the listener hears the new posts", name);
    pthread_mutex_lock(&r.lock);
    ok(r.nposts == 3 && !tw_id_cmp(r.posts[0], live[0]) && !tw_id_cmp(r.posts[2], live[2]) &&
           !strcmp(r.msgs[1], "live 1"),
       "%s: each once, in order, none from before the subscription", name);
    pthread_mutex_unlock(&r.lock);
    tw_store_stop(s);
    ok(tw_store_stopped(s, apr_time_from_sec(5)), "%s: stop ends the subscription", name);
    publish(s, "after the stop");
    pthread_mutex_lock(&r.lock);
    is_int(r.nposts, 3, "%s: no listener call after it", name);
    pthread_mutex_unlock(&r.lock);
    rec_free(&r);

    tw_store *small = make(10);
    tw_id first = publish(small, "first");
    for (int i = 0; i < 300; i++)
        publish(small, "filler");
    tw_id newest = publish(small, "newest");
    ok(tw_store_latest(small, pool, 1000, &posts, &n, &err) == APR_SUCCESS && n >= 10 && n < 302 &&
           !tw_id_cmp(posts[0].id, newest),
       "%s: the history is trimmed to about its size, the newest kept (%d)", name, n);
    ok(scan(small, first, 100, &v, &gap) && gap, "%s: a trimmed post is a gap", name);
    tw_post got;
    int found = -1, more = -1;
    ok(tw_store_get(small, pool, first, &got, &found, &err) == APR_SUCCESS && !found,
       "%s: get of a trimmed post: not found", name);
    ok(tw_store_before(small, pool, posts[n - 1].id, 10, &posts, &n, &more, &err) == APR_SUCCESS &&
           n == 0 && !more,
       "%s: before the oldest retained post: nothing, the end", name);
    tw_store_stop(small);
}

/* ---- what only Redis does ------------------------------------------------------------------- */

static redisReply *admin(redisContext *c, const char *cmd)
{
    redisReply *rep = redisCommand(c, cmd);
    if (!rep || rep->type == REDIS_REPLY_ERROR)
        diag("%s: %s", cmd, rep ? rep->str : c->errstr);
    return rep;
}

static void admin_do(redisContext *c, const char *cmd)
{
    redisReply *rep = admin(c, cmd);
    if (rep)
        freeReplyObject(rep);
}

/* Drop the store's subscription and keep it from coming back: the server takes no new
 * connection (maxclients below the connections open, which stay), until reopened. */
static void block_subscriptions(redisContext *c)
{
    redisReply *info = admin(c, "INFO clients");
    const char *at = info && info->str ? strstr(info->str, "connected_clients:") : NULL;
    long open = at ? strtol(at + strlen("connected_clients:"), NULL, 10) : 0;
    if (info)
        freeReplyObject(info);
    redisReply *rep = redisCommand(c, "CONFIG SET maxclients %ld", open - 1);
    if (rep)
        freeReplyObject(rep);
    admin_do(c, "CLIENT KILL TYPE pubsub");
}

static void reopen(redisContext *c)
{
    admin_do(c, "CONFIG SET maxclients 10000");
}

static void test_redis_catch_up(redisContext *c)
{
    tw_store *s = make_redis(1000);
    publish(s, "opens a pooled connection");
    rec r;
    tw_store_listener l = rec_listener(&r);
    tw_store_subscribe(s, &l);
    ok(rec_until(&r, events_end, (long)"u"), "redis: subscribed");
    block_subscriptions(c);
    ok(rec_until(&r, events_end, (long)"d"), "redis: a killed subscription is reported down");
    tw_store_health h;
    tw_store_health_get(s, &h);
    ok(!h.subscribed && h.error[0] && h.drops == 1, "redis: health says why (%s)", h.error);
    tw_id missed[3];
    for (int i = 0; i < 3; i++)
        missed[i] = publish(s, apr_psprintf(pool, "while down %d", i));
    reopen(c);
    ok(rec_until(&r, events_end, (long)"pppu"),
       "redis: back up, after delivering the three posts made while down");
    tw_id after = publish(s, "live again");
    ok(rec_until(&r, has_posts, 4), "redis: then live posts again");
    pthread_mutex_lock(&r.lock);
    ok(r.nposts == 4 && !tw_id_cmp(r.posts[0], missed[0]) && !tw_id_cmp(r.posts[2], missed[2]) &&
           !tw_id_cmp(r.posts[3], after),
       "redis: each post once, in order, across the outage");
    pthread_mutex_unlock(&r.lock);
    tw_store_stop(s);
    ok(tw_store_stopped(s, apr_time_from_sec(5)), "redis: stopped");
    rec_free(&r);
}

/* A storm of likes on one post: every like counted, few count events (one a window), and the
 * log holds one count event for the post. */
static void test_redis_like_storm(void)
{
    tw_store *s = make_redis(1000);
    rec r;
    tw_store_listener l = rec_listener(&r);
    tw_store_subscribe(s, &l);
    rec_until(&r, events_end, (long)"u");
    tw_id p = post_by(s, "c:amy", "popular");
    long long t0 = fx_now_ms();
    int all = 1;
    for (int i = 0; i < 300; i++)
        all &= like_as(s, p, apr_psprintf(pool, "c:fan%d", i), 1).likes == i + 1;
    long long took = fx_now_ms() - t0;
    ok(all, "storm: each of 300 likes counted at once");
    count_want w = {p, 300};
    ok(rec_until(&r, heard_count, (long)&w), "storm: the last count announced is 300");
    pthread_mutex_lock(&r.lock);
    int counts = 0;
    for (int i = 0; i < r.nacts; i++)
        counts += r.acts[i].kind == TW_EVENT_COUNT;
    pthread_mutex_unlock(&r.lock);
    long most = took / 250 + 2; /* the first at once, then one a window, and the last */
    ok(counts >= 1 && counts <= most,
       "storm: %d count events for 300 likes in %lld ms (at most %ld)", counts, took, most);
    visit_all v;
    int c = 0;
    ok(scan_all(s, p, &v), "storm: the log after the post");
    for (int i = 0; i < v.n; i++)
        c += v.ev[i].kind == TW_EVENT_COUNT;
    is_int(c, 1, "storm: the log keeps one count event for the post, the newest");
    tw_store_stop(s);
    tw_store_stopped(s, apr_time_from_sec(5));
    rec_free(&r);
}

/* A storm of likes taken by several children at once, for longer than a window: each child's
 * flush of the window's last change comes at the window's end, and only the first may announce
 * it; the others find the count announced within the window and wait for its end. The count
 * events stay one a window for the fleet, not one a window for each child. */
static void test_redis_like_storm_children(void)
{
    enum { CHILDREN = 4 };
    tw_store *s[CHILDREN];
    rec r[CHILDREN];
    const char *key = apr_psprintf(pool, "test:%d:children:feed", (int)getpid());
    const char *channel = apr_psprintf(pool, "test:%d:children:live", (int)getpid());
    for (int k = 0; k < CHILDREN; k++) {
        /* One feed, as the children of a server share it. */
        s[k] = make_redis_conf((tw_store_redis_conf){
            .feed = {.history = 1000, .stream_key = key, .channel = channel}});
        tw_store_listener l = rec_listener(&r[k]);
        tw_store_subscribe(s[k], &l);
        rec_until(&r[k], events_end, (long)"u");
    }
    tw_id p = post_by(s[0], "c:amy", "popular with every child");
    long long t0 = fx_now_ms(), took = 0;
    int all = 1, likes = 0;
    /* Likes one after the other for 1.5 s (six windows), the children in turn: a like comes
     * between any two children's flushes at a window's end. */
    for (apr_pool_t *sub = NULL; took < 1500; took = fx_now_ms() - t0, likes++) {
        if (!sub || likes % 256 == 0) {
            if (sub)
                apr_pool_destroy(sub);
            apr_pool_create(&sub, pool);
        }
        tw_action a = {.target = p, .who = apr_psprintf(sub, "c:crowd%d", likes), .like = 1};
        tw_action_result res;
        const char *err = NULL;
        all &= tw_store_like(s[likes % CHILDREN], sub, &a, &res, &err) == APR_SUCCESS &&
               res.likes == likes + 1;
    }
    ok(all, "children's storm: each of %d likes counted at once", likes);
    count_want w = {p, likes};
    ok(rec_until(&r[0], heard_count, (long)&w), "children's storm: the last count announced is %d",
       likes);
    pthread_mutex_lock(&r[0].lock);
    int counts = 0;
    for (int i = 0; i < r[0].nacts; i++)
        counts += r[0].acts[i].kind == TW_EVENT_COUNT;
    pthread_mutex_unlock(&r[0].lock);
    long most = took / 250 + 2; /* the first at once, then one a window, and the last */
    ok(counts >= 1 && counts <= most,
       "children's storm: %d count events for %d likes through %d children in %lld ms (at most "
       "%ld)",
       counts, likes, CHILDREN, took, most);
    for (int k = 0; k < CHILDREN; k++) {
        tw_store_stop(s[k]);
        tw_store_stopped(s[k], apr_time_from_sec(5));
        rec_free(&r[k]);
    }
}

static long long redis_int(redisContext *c, const char *cmd, const char *key)
{
    redisReply *rep = redisCommand(c, cmd, key);
    long long v = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1;
    if (rep)
        freeReplyObject(rep);
    return v;
}

/* Presence: each process's report, summed over those that reported in time; a process that
 * leaves, or stops reporting, drops out. */
static void test_redis_presence(redisContext *c)
{
    tw_store *a = make_redis(100);
    const char *k = last_key;
    tw_store_redis_conf cf = {.feed.stream_key = k};
    tw_store *b = make_redis_conf(cf); /* the same feed, another process */
    long total = -1;
    const char *err = NULL;
    ok(tw_redis_presence(a, pool, "host:1", 3, &total, &err) == APR_SUCCESS && total == 3,
       "presence: one process, its readers");
    ok(tw_redis_presence(b, pool, "host:2", 4, &total, &err) == APR_SUCCESS && total == 7,
       "presence: a second process adds its own");
    tw_redis_presence(a, pool, "host:1", 5, &total, &err);
    is_int(total, 9, "presence: a new report replaces the process's last");
    long long old = (long long)apr_time_as_msec(apr_time_now()) - 60000;
    redisReply *rep = redisCommand(c, "HSET %s:presence host:dead \"100 %lld\"", k, old);
    if (rep)
        freeReplyObject(rep);
    tw_redis_presence(a, pool, "host:1", 5, &total, &err);
    is_int(total, 9, "presence: a report older than the staleness bound does not count");
    rep = redisCommand(c, "HEXISTS %s:presence host:dead", k);
    ok(rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 0, "presence: and is forgotten");
    if (rep)
        freeReplyObject(rep);
    ok(tw_redis_presence_leave(b, pool, "host:2", &err) == APR_SUCCESS, "presence: a leave");
    tw_redis_presence(a, pool, "host:1", 5, &total, &err);
    is_int(total, 5, "presence: takes the process out at once");
    tw_store_stop(a);
    tw_store_stop(b);
}

/* What belongs to a post leaves Redis with it: likes, counts, deletions are bounded by the
 * history, not by time. */
static void test_redis_bounded(redisContext *c)
{
    tw_store *s = make_redis(5);
    const char *k = last_key;
    tw_id first = post_by(s, "c:amy", "first");
    like_as(s, first, "c:x", 1);
    tw_id gone = post_by(s, "c:amy", "deleted");
    del_as(s, gone, "c:amy");
    char likes[128];
    char id[TW_ID_MAX];
    tw_id_format(first, id);
    snprintf(likes, sizeof(likes), "%s:likes:%s", k, id);
    is_int(redis_int(c, "EXISTS %s", likes), 1, "bounded: a liked post has its set");
    for (int i = 0; i < 40; i++) {
        tw_id p = post_by(s, "c:bob", "filler");
        like_as(s, p, "c:x", 1);
        if (i % 3 == 0)
            del_as(s, p, "c:bob");
    }
    is_int(redis_int(c, "EXISTS %s", likes), 0, "bounded: trimmed with its post, its likes go");
    ok(redis_int(c, "LLEN %s:posts", k) == 5, "bounded: the history's posts: 5");
    ok(redis_int(c, "HLEN %s:counts", k) <= 5 && redis_int(c, "HLEN %s:countev", k) <= 5 &&
           redis_int(c, "HLEN %s:countat", k) <= 5 && redis_int(c, "HLEN %s:gone", k) <= 5,
       "bounded: counts, their events and deletions: at most one a post kept");
    long long xlen = redis_int(c, "XLEN %s", k);
    ok(xlen > 0 && xlen <= 15, "bounded: the log: the posts and at most two events each (%lld)",
       xlen);
    tw_store_stop(s);
}

static void test_redis_gap(redisContext *c)
{
    tw_store *s = make_redis(10);
    publish(s, "opens a pooled connection");
    rec r;
    tw_store_listener l = rec_listener(&r);
    tw_store_subscribe(s, &l);
    rec_until(&r, events_end, (long)"u");
    tw_id seen = publish(s, "seen live");
    rec_until(&r, has_posts, 1);
    block_subscriptions(c);
    rec_until(&r, events_end, (long)"d");
    for (int i = 0; i < 300; i++)
        publish(s, "trims what the subscriber saw");
    reopen(c);
    ok(rec_until(&r, events_end, (long)"gu"),
       "redis: posts trimmed while down: a gap, then up (no stale posts delivered)");
    tw_id next = publish(s, "after the gap");
    ok(rec_until(&r, has_posts, 2), "redis: live posts follow the gap");
    pthread_mutex_lock(&r.lock);
    ok(!tw_id_cmp(r.posts[0], seen) && !tw_id_cmp(r.posts[1], next), "redis: and only those");
    pthread_mutex_unlock(&r.lock);
    tw_store_stop(s);
    tw_store_stopped(s, apr_time_from_sec(5));
    rec_free(&r);
}

/* The baseline is the newest entry, whoever wrote it: a foreign newest entry must not make the
 * first catch-up deliver the whole history again. */
static void test_redis_foreign_baseline(redisContext *c)
{
    tw_store *s = make_redis(1000);
    for (int i = 0; i < 5; i++)
        publish(s, "old post");
    admin_do(c, apr_psprintf(pool, "XADD %s * other written-by-someone-else", last_key));
    rec r;
    tw_store_listener l = rec_listener(&r);
    tw_store_subscribe(s, &l);
    rec_until(&r, events_end, (long)"u");
    block_subscriptions(c);
    rec_until(&r, events_end, (long)"d");
    tw_id missed = publish(s, "while down");
    reopen(c);
    ok(rec_until(&r, events_end, (long)"pu"),
       "redis: after a foreign newest entry, the catch-up...");
    pthread_mutex_lock(&r.lock);
    ok(r.nposts == 1 && !tw_id_cmp(r.posts[0], missed),
       "...delivers only what was posted while down, not the history again (%d posts)", r.nposts);
    pthread_mutex_unlock(&r.lock);
    tw_store_stop(s);
    tw_store_stopped(s, apr_time_from_sec(5));
    rec_free(&r);
}

/* An entry of another writer is neither a post to get nor one of a page: a page of them only
 * is passed over, never an empty page that says there is more. */
static void test_redis_foreign_pages(redisContext *c)
{
    tw_store *s = make_redis(1000);
    tw_id old = publish(s, "old post");
    tw_id foreign = {0, 0};
    int written = 0;
    for (int i = 0; i < 3; i++) {
        redisReply *rep =
            admin(c, apr_psprintf(pool, "XADD %s * other written-by-someone-else", last_key));
        written +=
            rep && rep->type == REDIS_REPLY_STRING && tw_id_parse(rep->str, rep->len, &foreign);
        if (rep)
            freeReplyObject(rep);
    }
    is_int(written, 3, "redis: three foreign entries written");
    tw_id newest = publish(s, "new post");
    tw_post *posts, got;
    int n = -1, more = -1, found = -1;
    const char *err;
    ok(tw_store_before(s, pool, newest, 1, &posts, &n, &more, &err) == APR_SUCCESS && n == 1 &&
           !tw_id_cmp(posts[0].id, old),
       "redis: a page of one across three foreign entries: the older post");
    ok(tw_store_before(s, pool, newest, 5, &posts, &n, &more, &err) == APR_SUCCESS && n == 1 &&
           !tw_id_cmp(posts[0].id, old) && !more,
       "redis: a page of five: the older post, the end");
    ok(tw_store_before(s, pool, foreign, 1, &posts, &n, &more, &err) == APR_SUCCESS && n == 1 &&
           !tw_id_cmp(posts[0].id, old),
       "redis: before a foreign entry: the older post");
    ok(tw_store_get(s, pool, foreign, &got, &found, &err) == APR_SUCCESS && !found,
       "redis: get of a foreign entry: not found");
    char oldid[TW_ID_MAX];
    tw_id_format(old, oldid);
    admin_do(c, apr_psprintf(pool, "XDEL %s %s", last_key, oldid));
    ok(tw_store_before(s, pool, newest, 1, &posts, &n, &more, &err) == APR_SUCCESS && n == 0 &&
           !more,
       "redis: only foreign entries left below: no post, the end");
    tw_store_stop(s);
}

/* A stream that did not exist at the first subscription: posts trimmed while the subscription
 * was down are a gap, not a silent loss. */
static void test_redis_gap_from_empty(redisContext *c)
{
    tw_store *s = make_redis(10);
    rec r;
    tw_store_listener l = rec_listener(&r);
    tw_store_subscribe(s, &l);
    /* Nothing is posted before the outage, so the subscriber has delivered nothing: its
     * catch-up starts from the zero id. (Its baseline read opened the pooled connection the
     * posts below use while new connections are refused.) */
    rec_until(&r, events_end, (long)"u");
    block_subscriptions(c);
    rec_until(&r, events_end, (long)"d");
    for (int i = 0; i < 300; i++)
        publish(s, "trimmed while down");
    reopen(c);
    ok(rec_until(&r, events_end, (long)"gu"),
       "redis: from an empty stream, posts trimmed while down are a gap");
    pthread_mutex_lock(&r.lock);
    is_int(r.nposts, 0, "redis: and none of the survivors is delivered as if nothing were lost");
    pthread_mutex_unlock(&r.lock);
    tw_store_stop(s);
    tw_store_stopped(s, apr_time_from_sec(5));
    rec_free(&r);
}

/* The stream deleted while the subscription was down: a gap too. */
static void test_redis_gap_deleted(redisContext *c)
{
    tw_store *s = make_redis(1000);
    publish(s, "opens a pooled connection");
    rec r;
    tw_store_listener l = rec_listener(&r);
    tw_store_subscribe(s, &l);
    rec_until(&r, events_end, (long)"u");
    publish(s, "seen live");
    rec_until(&r, has_posts, 1);
    block_subscriptions(c);
    rec_until(&r, events_end, (long)"d");
    admin_do(c, apr_psprintf(pool, "DEL %s", last_key));
    reopen(c);
    ok(rec_until(&r, events_end, (long)"gu"), "redis: a stream deleted while down is a gap");
    tw_store_stop(s);
    tw_store_stopped(s, apr_time_from_sec(5));
    rec_free(&r);
}

/* The newest post deleted (XDEL) after the subscription took it as its baseline: every
 * reconnection catches up from there without a gap (no reload of every open page). */
static void test_redis_deleted_newest(redisContext *c)
{
    tw_store *s = make_redis(1000);
    publish(s, "opens a pooled connection");
    tw_id newest = publish(s, "the newest, deleted soon");
    rec r;
    tw_store_listener l = rec_listener(&r);
    tw_store_subscribe(s, &l);
    rec_until(&r, events_end, (long)"u");
    char id[TW_ID_MAX];
    tw_id_format(newest, id);
    admin_do(c, apr_psprintf(pool, "XDEL %s %s", last_key, id));
    int clean = 1;
    for (int i = 0; i < 4; i++) {
        block_subscriptions(c);
        rec_until(&r, events_end, (long)"d");
        reopen(c);
        clean &= rec_until(&r, events_end, (long)"du");
    }
    ok(clean, "redis: four reconnections from a deleted newest post: down, up, no gap");
    pthread_mutex_lock(&r.lock);
    ok(!strchr(r.events, 'g'), "redis: no gap at all (%s)", r.events);
    pthread_mutex_unlock(&r.lock);
    tw_id live = publish(s, "live after all that");
    ok(rec_until(&r, has_posts, 1), "redis: and live posts still come");
    pthread_mutex_lock(&r.lock);
    ok(r.nposts == 1 && !tw_id_cmp(r.posts[0], live), "redis: just the live one");
    pthread_mutex_unlock(&r.lock);
    tw_store_stop(s);
    tw_store_stopped(s, apr_time_from_sec(5));
    rec_free(&r);
}

static void test_redis_away(void)
{
    tw_store *s = make_redis_at(100, "/nonexistent/redis.sock");
    tw_publish in = {.post = {.user = "u", .user_len = 1, .msg = "m", .msg_len = 1}};
    tw_publish_result res;
    const char *err = NULL;
    ok(tw_store_publish(s, pool, &in, &res, &err) != APR_SUCCESS && err &&
           strstr(err, "/nonexistent/redis.sock"),
       "redis away: publish fails and names the address (%s)", err ? err : "");
    tw_post *posts;
    int n;
    err = NULL;
    ok(tw_store_latest(s, pool, 1, &posts, &n, &err) != APR_SUCCESS && err,
       "redis away: latest fails with a reason");
    int more, found;
    tw_post got;
    err = NULL;
    ok(tw_store_before(s, pool, (tw_id){5, 0}, 1, &posts, &n, &more, &err) != APR_SUCCESS && err,
       "redis away: before fails with a reason");
    err = NULL;
    ok(tw_store_get(s, pool, (tw_id){5, 0}, &got, &found, &err) != APR_SUCCESS && err,
       "redis away: get fails with a reason");
    rec r;
    tw_store_listener l = rec_listener(&r);
    tw_store_subscribe(s, &l);
    long long t0 = fx_now_ms();
    tw_store_stop(s);
    ok(tw_store_stopped(s, apr_time_from_sec(5)) && fx_now_ms() - t0 < 2000,
       "redis away: a subscriber retrying with backoff stops at once");
    is_int(r.nevents, 0, "redis away: the listener never heard up");
    rec_free(&r);
}

static long long stream_length(redisContext *c, const char *key)
{
    redisReply *rep = redisCommand(c, "XLEN %s", key);
    long long n = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1;
    if (rep)
        freeReplyObject(rep);
    return n;
}

/* Publish; the error, or NULL if it was stored. */
static const char *publish_err(tw_store *s)
{
    tw_publish in = {.post = {.user = "u", .user_len = 1, .msg = "m", .msg_len = 1}};
    tw_publish_result res;
    const char *err = NULL;
    return tw_store_publish(s, pool, &in, &res, &err) == APR_SUCCESS ? NULL : err;
}

static void test_redis_replicas(redisContext *c)
{
    tw_store *s =
        make_redis_conf((tw_store_redis_conf){.feed.history = 100, .feed.min_replicas = 1});
    const char *err = publish_err(s);
    ok(err && strstr(err, "NOREPLICAS"), "replicas: none online: refused (%s)",
       err ? err : "stored");
    is_int(stream_length(c, last_key), 0, "replicas: and nothing stored");
    /* A primary demoted by a failover says so before it counts replicas: READONLY makes the
     * store look for the new primary, where NOREPLICAS would not. */
    admin_do(c, "REPLICAOF 127.0.0.1 1");
    err = publish_err(s);
    ok(err && strstr(err, "READONLY"), "replicas: a replica refuses (%s)", err ? err : "stored");
    is_int(stream_length(c, last_key), 0, "replicas: nothing stored on it");
    admin_do(c, "REPLICAOF NO ONE");
    tw_store *none = make_redis_conf((tw_store_redis_conf){.feed.history = 100});
    ok(!publish_err(none), "replicas: without a minimum, stored");
    is_int(stream_length(c, last_key), 1, "replicas: one entry");
}

/* GCRA: `burst` posts at once, then one per interval; per user and per address, each on its
 * own; a refusal stores nothing and says how long to wait. */
static void test_redis_rate(redisContext *c)
{
    tw_store *s = make_redis_conf((tw_store_redis_conf){
        .feed.history = 100, .feed.rate_user = {2, 60000, 3}, .feed.rate_addr = {4, 60000, 4}});
    tw_publish_result r;
    int stored = 0;
    for (int i = 0; i < 3; i++)
        stored += publish_as(s, "ann", "burst", NULL, "10.0.0.1", &r) == APR_SUCCESS && !r.retry_ms;
    is_int(stored, 3, "rate: a burst of 3 is stored");
    ok(publish_as(s, "ann", "one more", NULL, "10.0.0.1", &r) == APR_SUCCESS && r.retry_ms > 0 &&
           r.retry_ms <= 30000,
       "rate: the 4th waits, at most one interval (30 s): %ld ms", r.retry_ms);
    is_int(stream_length(c, last_key), 3, "rate: and is not stored");
    ok(publish_as(s, "ben", "ben's", NULL, "10.0.0.1", &r) == APR_SUCCESS && !r.retry_ms,
       "rate: another user from the same address still posts");
    ok(publish_as(s, "cat", "cat's", NULL, "10.0.0.1", &r) == APR_SUCCESS && r.retry_ms > 0,
       "rate: the address's burst of 4 is spent, whoever posts");
    ok(publish_as(s, "cat", "cat's", NULL, "10.0.0.2", &r) == APR_SUCCESS && !r.retry_ms,
       "rate: from another address, cat posts");
    ok(publish_as(s, "ann", "again", "key-1", "10.0.0.3", &r) == APR_SUCCESS && r.retry_ms > 0,
       "rate: ann is limited from any address");
    is_int(stream_length(c, last_key), 5, "rate: five stored in all");
    tw_store *off = make_redis_conf((tw_store_redis_conf){.feed.history = 100});
    stored = 0;
    for (int i = 0; i < 20; i++)
        stored +=
            publish_as(off, "ann", "many", NULL, "10.0.0.1", &r) == APR_SUCCESS && !r.retry_ms;
    is_int(stored, 20, "rate: without limits, all 20 stored");
}

static void test_redis_fleet_history(redisContext *c)
{
    tw_store *own = make_redis_conf((tw_store_redis_conf){.feed.history = 10});
    for (int i = 0; i < 300; i++)
        publish_err(own);
    long long kept = stream_length(c, last_key);
    ok(kept >= 10 && kept < 250, "history: trimmed to about its own 10 (%lld)", kept);

    tw_store *low = make_redis_conf((tw_store_redis_conf){.feed.history = 10});
    admin_do(c, apr_psprintf(pool, "HSET %s:settings history 250", last_key));
    for (int i = 0; i < 300; i++)
        publish_err(low);
    kept = stream_length(c, last_key);
    ok(kept >= 250 && kept <= 300, "history: never below the fleet's 250 (%lld)", kept);
}

static void test_redis_settings(void)
{
    fx_log log;
    fx_log_init(&log, pool);
    const char *key = apr_psprintf(pool, "test:%d:settings:feed", (int)getpid());
    const char *chan = apr_psprintf(pool, "test:%d:settings:live", (int)getpid());
    const char *err = NULL;
    tw_store_redis_conf first = {.feed = {.stream_key = key, .channel = chan, .history = 1000},
                                 .log = &log.log};
    ok(tw_redis_settings_check(make_redis_conf(first), pool, &err) == APR_SUCCESS,
       "settings: recorded by the first");
    ok(tw_redis_settings_check(make_redis_conf(first), pool, &err) == APR_SUCCESS &&
           !strstr(log.text, "TW011"),
       "settings: the same again, nothing logged");
    tw_store_redis_conf history = first;
    history.feed.history = 500;
    tw_redis_settings_check(make_redis_conf(history), pool, &err);
    is_int(fx_log_count(&log, "TW0112:"), 1, "settings: another history is reported");
    has_str(log.text, "keep 1000 posts", "settings: with the fleet's value");
    tw_store_redis_conf channel = first;
    channel.feed.channel = apr_pstrcat(pool, chan, "2", NULL);
    tw_redis_settings_check(make_redis_conf(channel), pool, &err);
    is_int(fx_log_count(&log, "TW0113:"), 1, "settings: another channel is reported");
    tw_store_redis_conf stream = first;
    stream.feed.stream_key = apr_pstrcat(pool, key, "2", NULL);
    tw_redis_settings_check(make_redis_conf(stream), pool, &err);
    is_int(fx_log_count(&log, "TW0114:"), 1, "settings: another stream on the channel is reported");
    is_int(fx_log_count(&log, "TW0112:"), 1, "settings: each once");
}

static void test_redis_probe(redisContext *c)
{
    tw_store *s = make_redis(100);
    const char *why = NULL;
    ok(tw_store_probe(s, pool, apr_time_from_msec(500), &why) != APR_SUCCESS && why &&
           strstr(why, "not subscribed"),
       "probe: fails before the subscription (%s)", why ? why : "");
    rec r;
    tw_store_listener l = rec_listener(&r);
    tw_store_subscribe(s, &l);
    ok(rec_until(&r, events_end, (long)"u"), "probe: subscribed");
    why = NULL;
    apr_status_t rv = tw_store_probe(s, pool, apr_time_from_sec(2), &why);
    ok(rv == APR_SUCCESS, "probe: the canary comes back (%s)", why ? why : "");
    ok(tw_store_probe(s, pool, apr_time_from_sec(2), &why) == APR_SUCCESS, "probe: again");
    is_int(r.nposts, 0, "probe: canaries are no posts");
    block_subscriptions(c);
    ok(rec_until(&r, events_end, (long)"d"), "probe: subscription dropped");
    why = NULL;
    ok(tw_store_probe(s, pool, apr_time_from_msec(500), &why) != APR_SUCCESS && why,
       "probe: fails while down (%s)", why ? why : "");
    reopen(c);
    ok(rec_until(&r, events_end, (long)"u"), "probe: up again");
    ok(tw_store_probe(s, pool, apr_time_from_sec(2), &why) == APR_SUCCESS, "probe: passes again");
    tw_store_stop(s);
    tw_store_stopped(s, apr_time_from_sec(5));
    rec_free(&r);
}

static int is_holding(rec *r, long unused)
{
    (void)unused;
    return r->holding;
}

static int probe_passes(void *arg)
{
    const char *why;
    return tw_store_probe(arg, pool, apr_time_from_msec(500), &why) == APR_SUCCESS;
}

/* A subscription that is up but does not read (its thread held in the listener) must fail the
 * probe: only a canary that came back counts. */
static void test_redis_probe_deaf(void)
{
    tw_store *s = make_redis(100);
    rec r;
    tw_store_listener l = rec_listener(&r);
    tw_store_subscribe(s, &l);
    ok(rec_until(&r, events_end, (long)"u"), "deaf: subscribed");
    pthread_mutex_lock(&r.lock);
    r.hold = 1;
    pthread_mutex_unlock(&r.lock);
    publish(s, "holds the subscriber");
    ok(rec_until(&r, is_holding, 0), "deaf: the store's thread is held");
    const char *why = NULL;
    apr_status_t rv = tw_store_probe(s, pool, apr_time_from_msec(300), &why);
    ok(rv == APR_TIMEUP && why && strstr(why, "did not come back"),
       "deaf: the probe fails, the canary did not come back (%s)", why ? why : "passed");
    pthread_mutex_lock(&r.lock);
    r.hold = 0;
    pthread_cond_broadcast(&r.cond);
    pthread_mutex_unlock(&r.lock);
    ok(fx_until(probe_passes, s, 5000), "deaf: passes once it reads again");
    tw_store_stop(s);
    tw_store_stopped(s, apr_time_from_sec(5));
    rec_free(&r);
}

static void test_redis_lost(redisContext *c)
{
    tw_store *s =
        make_redis_conf((tw_store_redis_conf){.feed.history = 100, .feed.timeout_ms = 100});
    rec r;
    tw_store_listener l = rec_listener(&r);
    tw_store_subscribe(s, &l);
    ok(rec_until(&r, events_end, (long)"u"), "lost: subscribed");
    long long t0 = fx_now_ms();
    block_subscriptions(c);
    ok(rec_until(&r, events_end, (long)"dl"), "lost: down, then lost");
    long long took = fx_now_ms() - t0;
    ok(took >= 300, "lost: not before 3 timeouts (%lld ms)", took);
    reopen(c);
    ok(rec_until(&r, events_end, (long)"dlu"), "lost: up again when Redis is back");
    tw_store_stop(s);
    tw_store_stopped(s, apr_time_from_sec(5));
    rec_free(&r);
}

int main(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
    contract("memory", make_mem);
    contract_actions("memory", make_mem);
    redis_sock = getenv("TW_TEST_REDIS");
    if (!redis_sock) {
        printf("ok %d # SKIP tw_redis: TW_TEST_REDIS (a redis-server socket) is not set; "
               "`make unit` sets it\n",
               ++tap_run);
    } else {
        redisContext *c = redisConnectUnix(redis_sock);
        ok(c && !c->err, "a connection to the test redis-server at %s", redis_sock);
        if (c && !c->err) {
            contract("redis", make_redis);
            contract_actions("redis", make_redis);
            test_redis_like_storm();
            test_redis_like_storm_children();
            test_redis_bounded(c);
            test_redis_presence(c);
            test_redis_catch_up(c);
            test_redis_gap(c);
            test_redis_foreign_baseline(c);
            test_redis_foreign_pages(c);
            test_redis_gap_from_empty(c);
            test_redis_gap_deleted(c);
            test_redis_deleted_newest(c);
            test_redis_replicas(c);
            test_redis_fleet_history(c);
            test_redis_rate(c);
            test_redis_settings();
            test_redis_probe(c);
            test_redis_probe_deaf();
            test_redis_lost(c);
        }
        if (c)
            redisFree(c);
        test_redis_away();
    }
    apr_terminate();
    return done_testing();
}
