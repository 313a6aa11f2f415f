/* tw_store: where posts are kept and how a child hears of new ones, as a table of functions
 * (as nchan's nchan_store_t and mod_md's md_store_t). The module sees only this interface;
 * its implementations are named after it: tw_store_redis*.c, the one every server uses (a Redis
 * stream and pub/sub, shared by every child and instance), and tw_store_mem.c, which keeps posts
 * in one process's memory for the tests (it is not linked into the module).
 *
 * A store is one feed: one log of events (posts, deletions, counts of likes: src/tw_event) in
 * the order of their ids (tw_id: the stream id, whose ms part is the time the store took the
 * event), and a subscription that hears only its events. A store keeps a bounded history: a
 * number of posts; old posts, and what belongs to them, leave as new ones arrive. httpd-free. */
#ifndef TW_STORE_H
#define TW_STORE_H

#include "tw_event.h"

#include <apr_pools.h>
#include <apr_time.h>

typedef struct tw_store tw_store;

/* What a subscription tells its listener, always from one thread at a time and in this order:
 * up, then events; after a drop: down, maybe gap, events the store caught up on, up again. */
typedef struct tw_store_listener {
    /* Subscribed: from now on every new event reaches `event`. Once per (re)subscription,
     * after the events missed while down were delivered. */
    void (*up)(void *ctx);
    /* An event, each exactly once and in id order (never one not newer than the last). */
    void (*event)(void *ctx, const tw_event *ev);
    /* The subscription is lost; nothing arrives until the next `up`. */
    void (*down)(void *ctx);
    /* Events were trimmed from the history while the subscription was down, so some were never
     * delivered: whoever shows the feed must start over (the pages reload). */
    void (*gap)(void *ctx);
    /* The subscription has stayed down for long (several timeouts) and the store cannot say
     * when it comes back: whoever holds streams should let them go, so that their clients
     * resume elsewhere (through a balancer, on an instance that has its store). After `down`;
     * `up` ends it. */
    void (*lost)(void *ctx);
    void *ctx;
} tw_store_listener;

/* Called for each event of an `each_after` scan, oldest first; a non-zero return stops it. */
typedef int tw_store_each_fn(void *ctx, const tw_event *ev);

/* A post to publish, with what may refuse it or make it a repetition. */
typedef struct tw_publish {
    tw_post post;     /* name, message and author; the id is the store's */
    const char *key;  /* idempotency key (valid per tw_text_check_key), or NULL: a post */
    size_t key_len;   /* published again by the same author with the same key within an */
                      /* hour is not stored again: the first one's id is the answer */
    const char *addr; /* the client's address, for its rate limit; NULL: none */
} tw_publish;

typedef struct tw_publish_result {
    tw_id id;      /* the post's id (the earlier post's when replayed) */
    int replayed;  /* 1: the key had been used; nothing was stored */
    long retry_ms; /* > 0: refused by a rate limit, nothing stored; retry after this long */
} tw_publish_result;

/* A deletion or a like (or unlike) of a post. */
typedef struct tw_action {
    tw_id target;     /* the post */
    const char *who;  /* the actor's identity ("c:<identity>", "u:<user>") */
    int moderator;    /* a deletion by a moderator: any post; else only the author's own */
    int like;         /* a like: 1 like, 0 unlike, -1 the other of what the actor does now */
    const char *addr; /* the client's address, for its rate limit; NULL: none */
} tw_action;

typedef enum {
    TW_ACTION_DONE,      /* done: the event is stored and announced (or a like left as it was) */
    TW_ACTION_AGAIN,     /* a deletion done before (by the same author, or any by a moderator) */
    TW_ACTION_FORBIDDEN, /* not the actor's post (why says so); nothing changed */
    TW_ACTION_GONE,      /* the post was deleted; nothing changed */
    TW_ACTION_MISSING,   /* no such post in the history (never stored, or trimmed) */
    TW_ACTION_LIMITED,   /* a rate limit refuses; retry after retry_ms */
} tw_action_status;

typedef struct tw_action_result {
    tw_action_status status;
    tw_id event;        /* a deletion (DONE, AGAIN): its event's id */
    const char *author; /* a deletion (DONE, AGAIN): the post's author's identity ("": none) */
    long likes;         /* a like (DONE): the post's count of likes now */
    int liked;          /* a like (DONE): 1 if the actor likes the post now */
    int changed;        /* a like (DONE): 1 if that is new (0: the actor did so already) */
    long retry_ms;      /* LIMITED */
    const char *why;    /* FORBIDDEN: why, for the actor (a constant, or from the pool) */
} tw_action_result;

/* A store's view of its own health, for logs and status pages. */
typedef struct tw_store_health {
    int subscribed;   /* 1 while the subscription is up */
    apr_time_t since; /* when it last went up or down (0: never) */
    unsigned drops;   /* subscriptions lost so far */
    char error[256];  /* the last failure, "" if none */
} tw_store_health;

typedef struct tw_store_ops {
    const char *name;

    /* Store a post and announce it to every subscriber, atomically: a post is either stored
     * and announced or neither. Within the same step the store checks the idempotency key and
     * the rate limits it was created with (per author identity, per address), so that a refusal or
     * a repetition stores nothing. Returns APR_SUCCESS with `out` filled (stored, replayed or
     * rate-limited); else an error and *err (from `p`): APR_INCOMPLETE when the request was
     * sent but no answer came (the post may be stored: a retry with the same key tells),
     * APR_TIMEUP when it was stored but not confirmed by the replicas required, anything
     * else when nothing was stored. Blocks for one round trip (two with replicas). */
    apr_status_t (*publish)(tw_store *s, apr_pool_t *p, const tw_publish *in,
                            tw_publish_result *out, const char **err);

    /* Delete a post (a.moderator: any post; else the actor's own) and announce the deletion,
     * atomically, within the rate limits (a moderator has none); the post leaves every page and no
     * resume brings it back; a deletion done before answers AGAIN with the first one's event.
     * Returns as publish. One round trip (two with replicas). */
    apr_status_t (*remove)(tw_store *s, apr_pool_t *p, const tw_action *a, tw_action_result *out,
                           const char **err);

    /* Like or unlike a post as the actor (one like per identity), atomically, within the rate
     * limits; the new count of likes is announced, at most once in a short window per post (a
     * later change in the window is announced at its end), so that a storm of likes costs each
     * stream a few updates a second. Returns as publish. One round trip (two with replicas). */
    apr_status_t (*like)(tw_store *s, apr_pool_t *p, const tw_action *a, tw_action_result *out,
                         const char **err);

    /* Which of posts[0..n) `who` likes: liked[i] 1 or 0. One round trip. */
    apr_status_t (*liked)(tw_store *s, apr_pool_t *p, const char *who, const tw_post *posts, int n,
                          int *liked, const char **err);

    /* The newest `count` posts, newest first, with their likes, strings in `p`; entries of
     * other writers and events are passed over (they never shorten the page). One round trip; Redis
     * needs another for each `count` (at least 100) entries of other writers in a row. */
    apr_status_t (*latest)(tw_store *s, apr_pool_t *p, long count, tw_post **posts, int *n,
                           const char **err);

    /* The newest `count` posts strictly older than `id`, newest first, with their likes,
     * strings in `p`: the
     * next page of a feed whose oldest shown post is `id` (posts newer than it, arriving
     * meanwhile, never move the boundary). *more is 1 when the history may hold posts older
     * than the last one returned, 0 when it ends there; never 1 with no post returned (a later
     * page may still come back empty when only entries of other writers are left). The zero id
     * has nothing before it. One round trip, O(log history + count); Redis needs another for
     * each `count`+1 entries of other writers in a row. */
    apr_status_t (*before)(tw_store *s, apr_pool_t *p, tw_id id, long count, tw_post **posts,
                           int *n, int *more, const char **err);

    /* The post with exactly this id, with its likes, into *post (strings in `p`): *found 1;
     * *found 0 when no post has it (trimmed from the history, never stored, or an entry of
     * another writer); *found -1 when it was deleted (and is still in the history). Two round
     * trips, O(log history). */
    apr_status_t (*get)(tw_store *s, apr_pool_t *p, tw_id id, tw_post *post, int *found,
                        const char **err);

    /* Visit every event after `after`, oldest first, fetched `page` at a time (each page in a
     * subpool of `p` destroyed before the next: `fn` copies what it keeps). Sets *gap when the
     * history cannot say what followed `after` (then nothing is visited): it is older than the
     * oldest entry left (trimmed past it) or newer than the newest ever added (not of this
     * history); or when a page starts at an entry the history lost that way meanwhile (then
     * the scan stops there). A point inside the history that no longer has its entry (deleted)
     * is no gap: the scan goes on after it. The zero id means "from the start" and never gaps.
     * One round trip per page, and one more when the start of a page is missing. */
    apr_status_t (*each_after)(tw_store *s, apr_pool_t *p, tw_id after, long page,
                               tw_store_each_fn *fn, void *ctx, int *gap, const char **err);

    /* Start delivering new events to `l` (copied), from the store's own thread if it has one.
     * At most one listener per store. */
    apr_status_t (*subscribe)(tw_store *s, const tw_store_listener *l);

    /* Fill `out` with the current health. Any thread. */
    void (*health)(tw_store *s, tw_store_health *out);

    /* Prove that delivery works end to end: send a canary through the store's announcements
     * and wait up to `timeout` for this process's subscription to hear it. Returns APR_SUCCESS,
     * or an error with *why (from `p`). One round trip and the announcement's way back. */
    apr_status_t (*probe)(tw_store *s, apr_pool_t *p, apr_interval_time_t timeout,
                          const char **why);

    /* End the subscription and the store's thread: no listener call starts after it returns
     * the thread to rest (see stopped). Async-signal-safe. */
    void (*stop)(tw_store *s);

    /* Wait up to `timeout` for the store's thread to have ended. Returns 1 once it has (or if
     * there is none). Async-signal-safe. */
    int (*stopped)(tw_store *s, apr_interval_time_t timeout);
} tw_store_ops;

/* Every implementation starts with this. */
struct tw_store {
    const tw_store_ops *ops;
};

static inline const char *tw_store_name(const tw_store *s)
{
    return s->ops->name;
}

static inline apr_status_t tw_store_publish(tw_store *s, apr_pool_t *p, const tw_publish *in,
                                            tw_publish_result *out, const char **err)
{
    return s->ops->publish(s, p, in, out, err);
}

static inline apr_status_t tw_store_remove(tw_store *s, apr_pool_t *p, const tw_action *a,
                                           tw_action_result *out, const char **err)
{
    return s->ops->remove(s, p, a, out, err);
}

static inline apr_status_t tw_store_like(tw_store *s, apr_pool_t *p, const tw_action *a,
                                         tw_action_result *out, const char **err)
{
    return s->ops->like(s, p, a, out, err);
}

static inline apr_status_t tw_store_liked(tw_store *s, apr_pool_t *p, const char *who,
                                          const tw_post *posts, int n, int *liked, const char **err)
{
    return s->ops->liked(s, p, who, posts, n, liked, err);
}

static inline apr_status_t tw_store_latest(tw_store *s, apr_pool_t *p, long count, tw_post **posts,
                                           int *n, const char **err)
{
    return s->ops->latest(s, p, count, posts, n, err);
}

static inline apr_status_t tw_store_before(tw_store *s, apr_pool_t *p, tw_id id, long count,
                                           tw_post **posts, int *n, int *more, const char **err)
{
    return s->ops->before(s, p, id, count, posts, n, more, err);
}

static inline apr_status_t tw_store_get(tw_store *s, apr_pool_t *p, tw_id id, tw_post *post,
                                        int *found, const char **err)
{
    return s->ops->get(s, p, id, post, found, err);
}

static inline apr_status_t tw_store_each_after(tw_store *s, apr_pool_t *p, tw_id after, long page,
                                               tw_store_each_fn *fn, void *ctx, int *gap,
                                               const char **err)
{
    return s->ops->each_after(s, p, after, page, fn, ctx, gap, err);
}

static inline apr_status_t tw_store_subscribe(tw_store *s, const tw_store_listener *l)
{
    return s->ops->subscribe(s, l);
}

static inline void tw_store_health_get(tw_store *s, tw_store_health *out)
{
    s->ops->health(s, out);
}

static inline apr_status_t tw_store_probe(tw_store *s, apr_pool_t *p, apr_interval_time_t timeout,
                                          const char **why)
{
    return s->ops->probe(s, p, timeout, why);
}

static inline void tw_store_stop(tw_store *s)
{
    s->ops->stop(s);
}

static inline int tw_store_stopped(tw_store *s, apr_interval_time_t timeout)
{
    return s->ops->stopped(s, timeout);
}

#endif
