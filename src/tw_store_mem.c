#include "tw_store_mem.h"

#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* One entry of the log: an event, and for a post its key, deletion and likers. */
typedef struct tw_mem_entry {
    tw_event ev;   /* a post's strings point into `block` */
    char *block;   /* malloc'd: "user\0message\0author\0key\0"; NULL for other events */
    int dead;      /* a deleted post, or a count a newer count of its post replaced */
    char **likers; /* a post's: the identities that like it (malloc'd strings) */
    int nlikers;
} tw_mem_entry;

typedef struct tw_store_mem {
    tw_store store; /* first: the store interface */
    apr_thread_mutex_t *lock;
    long history;       /* posts kept */
    tw_mem_entry *log;  /* oldest first */
    long n, cap, posts; /* entries, room, posts among them (deleted ones too) */
    tw_id last;         /* newest id handed out */
    tw_store_listener l;
    atomic_int listening; /* a listener is set and the store not stopped */
    apr_time_t since;
} tw_store_mem;

/* The next id after `last` for an event stored at `now`, as Redis makes them. */
static tw_id tw_mem_next_id(tw_id last, apr_time_t now)
{
    uint64_t ms = (uint64_t)apr_time_as_msec(now);
    if (ms > last.ms)
        return (tw_id){ms, 0};
    return (tw_id){last.ms, last.seq + 1};
}

/* Free what an entry owns. */
static void tw_mem_free(tw_mem_entry *e)
{
    free(e->block);
    for (int i = 0; i < e->nlikers; i++)
        free(e->likers[i]);
    free(e->likers);
}

/* The index of the post with id `id` (dead or not), or -1. O(entries). */
static long tw_mem_find(tw_store_mem *m, tw_id id)
{
    for (long i = 0; i < m->n; i++)
        if (m->log[i].ev.kind == TW_EVENT_POST && !tw_id_cmp(m->log[i].ev.id, id))
            return i;
    return -1;
}

/* Append `ev` (its id given here, its prev the newest live entry) and tell the listener.
 * Returns the entry, or NULL when out of memory (then `block` is freed). Lock held. */
static tw_mem_entry *tw_mem_append(tw_store_mem *m, tw_event ev, char *block)
{
    if (m->n == m->cap) {
        long cap = m->cap ? 2 * m->cap : 64;
        tw_mem_entry *grown = realloc(m->log, sizeof(*grown) * (size_t)cap);
        if (!grown) {
            free(block);
            return NULL;
        }
        m->log = grown, m->cap = cap;
    }
    long live = m->n - 1;
    while (live >= 0 && m->log[live].dead)
        live--;
    ev.id = tw_mem_next_id(m->last, apr_time_now());
    if (ev.kind == TW_EVENT_POST)
        ev.post.id = ev.id;
    ev.has_prev = live >= 0;
    ev.prev = live >= 0 ? m->log[live].ev.id : (tw_id){0, 0};
    m->last = ev.id;
    tw_mem_entry *e = &m->log[m->n++];
    *e = (tw_mem_entry){.ev = ev, .block = block};
    if (atomic_load(&m->listening))
        m->l.event(m->l.ctx, &e->ev);
    return e;
}

/* Keep `history` posts: drop the oldest post and every entry before the next one. */
static void tw_mem_trim(tw_store_mem *m)
{
    if (m->posts <= m->history)
        return;
    long cut = 0, seen = 0;
    while (cut < m->n && !(m->log[cut].ev.kind == TW_EVENT_POST && seen++ == 1))
        cut++;
    for (long i = 0; i < cut; i++)
        tw_mem_free(&m->log[i]);
    memmove(m->log, m->log + cut, sizeof(*m->log) * (size_t)(m->n - cut));
    m->n -= cut;
    m->posts--;
}

/* The idempotency key of a post (after its author in the block). */
static const char *tw_mem_key(const tw_mem_entry *e)
{
    return e->ev.post.author + e->ev.post.author_len + 1;
}

/* The event of a new post, its strings in a new block "user\0message\0author\0key\0" (*block),
 * or 0 when out of memory. */
static int tw_mem_own(const tw_publish *in, tw_event *ev, char **block)
{
    const tw_post *src = &in->post;
    const char *parts[] = {src->user, src->msg, src->author, in->key};
    size_t lens[] = {src->user_len, src->msg_len, src->author_len, in->key ? in->key_len : 0};
    char *w = *block = malloc(lens[0] + lens[1] + lens[2] + lens[3] + 4);
    if (!w)
        return 0;
    const char *at[4];
    for (int i = 0; i < 4; i++) {
        if (lens[i])
            memcpy(w, parts[i], lens[i]);
        w[lens[i]] = '\0';
        at[i] = w;
        w += lens[i] + 1;
    }
    *ev = (tw_event){.kind = TW_EVENT_POST,
                     .post = {.user = at[0],
                              .user_len = lens[0],
                              .msg = at[1],
                              .msg_len = lens[1],
                              .author = at[2],
                              .author_len = lens[2]}};
    return 1;
}

static apr_status_t tw_mem_publish(tw_store *st, apr_pool_t *p, const tw_publish *in,
                                   tw_publish_result *out, const char **err)
{
    tw_store_mem *m = (tw_store_mem *)st;
    *out = (tw_publish_result){{0, 0}, 0, 0};
    tw_event ev;
    char *block;
    if (!tw_mem_own(in, &ev, &block)) {
        *err = apr_pstrdup(p, "out of memory");
        return APR_ENOMEM;
    }
    const char *key = block + ev.post.user_len + ev.post.msg_len + ev.post.author_len + 3;
    apr_thread_mutex_lock(m->lock);
    for (long i = 0; *key && i < m->n; i++) {
        tw_mem_entry *e = &m->log[i];
        if (e->ev.kind == TW_EVENT_POST && !strcmp(tw_mem_key(e), key) &&
            !strcmp(e->ev.post.author, ev.post.author)) {
            out->id = e->ev.id;
            out->replayed = 1;
            apr_thread_mutex_unlock(m->lock);
            free(block);
            return APR_SUCCESS;
        }
    }
    tw_mem_entry *e = tw_mem_append(m, ev, block);
    if (e) {
        out->id = e->ev.id;
        m->posts++;
        tw_mem_trim(m);
    }
    apr_thread_mutex_unlock(m->lock);
    if (!e)
        *err = apr_pstrdup(p, "out of memory");
    return e ? APR_SUCCESS : APR_ENOMEM;
}

/* The post an action names into *i (a live post), or the status that answers it instead (a
 * deleted or unknown post). Lock held. */
static tw_action_status tw_mem_target(tw_store_mem *m, tw_id id, long *i)
{
    *i = tw_mem_find(m, id);
    if (*i < 0)
        return TW_ACTION_MISSING;
    return m->log[*i].dead ? TW_ACTION_GONE : TW_ACTION_DONE;
}

static apr_status_t tw_mem_remove(tw_store *st, apr_pool_t *p, const tw_action *a,
                                  tw_action_result *out, const char **err)
{
    tw_store_mem *m = (tw_store_mem *)st;
    long i;
    int oom = 0;
    *out = (tw_action_result){.status = TW_ACTION_DONE};
    apr_thread_mutex_lock(m->lock);
    out->status = tw_mem_target(m, a->target, &i);
    const char *author = i >= 0 ? m->log[i].ev.post.author : "";
    if (out->status == TW_ACTION_GONE && (a->moderator || !strcmp(author, a->who)))
        out->status = TW_ACTION_AGAIN; /* its deletion: the entry after it that names it */
    if (out->status == TW_ACTION_DONE && !a->moderator && strcmp(author, a->who)) {
        out->status = TW_ACTION_FORBIDDEN;
        out->why = *author ? "it is not your post"
                           : "it was posted before identities: only a moderator can remove it";
    }
    for (long k = i + 1; out->status == TW_ACTION_AGAIN && k < m->n; k++)
        if (m->log[k].ev.kind == TW_EVENT_DELETE && !tw_id_cmp(m->log[k].ev.target, a->target))
            out->event = m->log[k].ev.id;
    if (out->status == TW_ACTION_DONE || out->status == TW_ACTION_AGAIN)
        out->author = apr_pstrdup(p, author);
    if (out->status == TW_ACTION_DONE) {
        m->log[i].dead = 1;
        for (long k = i + 1; k < m->n; k++) /* its count goes with it */
            m->log[k].dead |=
                m->log[k].ev.kind == TW_EVENT_COUNT && !tw_id_cmp(m->log[k].ev.target, a->target);
        tw_event ev = {.kind = TW_EVENT_DELETE, .target = a->target, .by_moderator = a->moderator};
        tw_mem_entry *e = tw_mem_append(m, ev, NULL);
        oom = !e;
        if (e)
            out->event = e->ev.id;
    }
    apr_thread_mutex_unlock(m->lock);
    if (oom)
        *err = apr_pstrdup(p, "out of memory");
    return oom ? APR_ENOMEM : APR_SUCCESS;
}

/* Let the actor like (want 1) or not like the post at index `i`. Returns 1 if that changed
 * something, -1 when out of memory. Lock held. */
static int tw_mem_set_like(tw_store_mem *m, long i, const char *who, int want)
{
    tw_mem_entry *e = &m->log[i];
    int at = -1;
    for (int k = 0; k < e->nlikers; k++)
        if (!strcmp(e->likers[k], who))
            at = k;
    if ((at >= 0) == want)
        return 0;
    if (!want) {
        free(e->likers[at]);
        e->likers[at] = e->likers[--e->nlikers];
        return 1;
    }
    char **grown = realloc(e->likers, sizeof(*grown) * (size_t)(e->nlikers + 1));
    char *copy = grown ? strdup(who) : NULL;
    if (!copy) {
        if (grown)
            e->likers = grown;
        return -1;
    }
    e->likers = grown;
    e->likers[e->nlikers++] = copy;
    return 1;
}

/* Announce the post's count of likes (every change: the memory store does not coalesce), the
 * count it replaces dead. Lock held. */
static void tw_mem_count(tw_store_mem *m, long i)
{
    tw_id post = m->log[i].ev.id;
    long likes = m->log[i].nlikers;
    for (long k = i + 1; k < m->n; k++)
        if (m->log[k].ev.kind == TW_EVENT_COUNT && !tw_id_cmp(m->log[k].ev.target, post))
            m->log[k].dead = 1;
    tw_event ev = {.kind = TW_EVENT_COUNT, .target = post, .count = likes};
    tw_mem_append(m, ev, NULL);
}

static apr_status_t tw_mem_like(tw_store *st, apr_pool_t *p, const tw_action *a,
                                tw_action_result *out, const char **err)
{
    tw_store_mem *m = (tw_store_mem *)st;
    long i;
    *out = (tw_action_result){.status = TW_ACTION_DONE};
    apr_thread_mutex_lock(m->lock);
    out->status = tw_mem_target(m, a->target, &i);
    int changed = 0;
    if (out->status == TW_ACTION_DONE) {
        int has = 0;
        for (int k = 0; k < m->log[i].nlikers; k++)
            has |= !strcmp(m->log[i].likers[k], a->who);
        int want = a->like < 0 ? !has : a->like;
        changed = tw_mem_set_like(m, i, a->who, want);
        out->liked = changed < 0 ? has : want;
        out->likes = m->log[i].nlikers;
        out->changed = changed > 0;
        if (changed > 0)
            tw_mem_count(m, i);
    }
    apr_thread_mutex_unlock(m->lock);
    if (changed < 0) {
        *err = apr_pstrdup(p, "out of memory");
        return APR_ENOMEM;
    }
    return APR_SUCCESS;
}

static apr_status_t tw_mem_liked(tw_store *st, apr_pool_t *p, const char *who, const tw_post *posts,
                                 int n, int *liked, const char **err)
{
    tw_store_mem *m = (tw_store_mem *)st;
    (void)p, (void)err;
    apr_thread_mutex_lock(m->lock);
    for (int k = 0; k < n; k++) {
        long i = tw_mem_find(m, posts[k].id);
        liked[k] = 0;
        for (int j = 0; i >= 0 && j < m->log[i].nlikers; j++)
            liked[k] |= !strcmp(m->log[i].likers[j], who);
    }
    apr_thread_mutex_unlock(m->lock);
    return APR_SUCCESS;
}

/* A copy of entry `e`'s post in `p`, with its likes. */
static tw_post tw_mem_copy(apr_pool_t *p, const tw_mem_entry *e)
{
    tw_post c = e->ev.post;
    c.user = apr_pstrmemdup(p, c.user, c.user_len);
    c.msg = apr_pstrmemdup(p, c.msg, c.msg_len);
    c.author = apr_pstrmemdup(p, c.author, c.author_len);
    c.likes = e->nlikers;
    return c;
}

/* Is entry `i` a post the pages show? */
static int tw_mem_shown(const tw_store_mem *m, long i)
{
    return m->log[i].ev.kind == TW_EVENT_POST && !m->log[i].dead;
}

/* Up to `count` live posts older than `id` (zero: all), newest first, into `p`; *more says
 * whether more are left. O(log) under the lock, enough for tests. */
/* The newest `count` posts strictly older than *bound (NULL: any), newest first. */
static void tw_mem_newest(tw_store_mem *m, apr_pool_t *p, const tw_id *bound, long count,
                          tw_post **posts, int *n, int *more)
{
    tw_post *out = apr_pcalloc(p, sizeof(*out) * (size_t)(count > 0 ? count : 1));
    int k = 0;
    *more = 0;
    apr_thread_mutex_lock(m->lock);
    for (long i = m->n - 1; i >= 0; i--) {
        if (!tw_mem_shown(m, i) || (bound && tw_id_cmp(m->log[i].ev.id, *bound) >= 0))
            continue;
        if (k == count) {
            *more = 1;
            break;
        }
        out[k++] = tw_mem_copy(p, &m->log[i]);
    }
    apr_thread_mutex_unlock(m->lock);
    *posts = out;
    *n = k;
}

static apr_status_t tw_mem_before(tw_store *st, apr_pool_t *p, tw_id id, long count,
                                  tw_post **posts, int *n, int *more, const char **err)
{
    (void)err;
    tw_mem_newest((tw_store_mem *)st, p, &id, count, posts, n, more);
    return APR_SUCCESS;
}

static apr_status_t tw_mem_latest(tw_store *st, apr_pool_t *p, long count, tw_post **posts, int *n,
                                  const char **err)
{
    int more;
    (void)err;
    tw_mem_newest((tw_store_mem *)st, p, NULL, count, posts, n, &more);
    return APR_SUCCESS;
}

static apr_status_t tw_mem_get(tw_store *st, apr_pool_t *p, tw_id id, tw_post *post, int *found,
                               const char **err)
{
    tw_store_mem *m = (tw_store_mem *)st;
    (void)err;
    apr_thread_mutex_lock(m->lock);
    long i = tw_mem_find(m, id);
    *found = i < 0 ? 0 : m->log[i].dead ? -1 : 1;
    if (*found == 1)
        *post = tw_mem_copy(p, &m->log[i]);
    apr_thread_mutex_unlock(m->lock);
    return APR_SUCCESS;
}

/* Copy up to `page` live events after `after` into `p`; sets *gap when `after` is neither zero
 * nor within the history (from its oldest entry to the newest id handed out), as the Redis
 * store does. Returns how many. */
static int tw_mem_page(tw_store_mem *m, apr_pool_t *p, tw_id after, long page, tw_event **out,
                       int *gap)
{
    const tw_id zero = {0, 0};
    apr_thread_mutex_lock(m->lock);
    int within = m->n ? tw_id_cmp(after, m->log[0].ev.id) >= 0 && tw_id_cmp(after, m->last) <= 0
                      : tw_id_cmp(after, m->last) == 0;
    *gap = tw_id_cmp(after, zero) != 0 && !within;
    int k = 0;
    *out = apr_pcalloc(p, sizeof(**out) * (size_t)page);
    for (long i = 0; !*gap && i < m->n && k < page; i++) {
        if (m->log[i].dead || tw_id_cmp(m->log[i].ev.id, after) <= 0)
            continue;
        tw_event ev = m->log[i].ev;
        if (ev.kind == TW_EVENT_POST)
            ev.post = tw_mem_copy(p, &m->log[i]);
        (*out)[k++] = ev;
    }
    apr_thread_mutex_unlock(m->lock);
    return k;
}

static apr_status_t tw_mem_each_after(tw_store *st, apr_pool_t *p, tw_id after, long page,
                                      tw_store_each_fn *fn, void *ctx, int *gap, const char **err)
{
    tw_store_mem *m = (tw_store_mem *)st;
    *gap = 0;
    for (;;) {
        apr_pool_t *sub;
        apr_status_t rv = apr_pool_create(&sub, p);
        if (rv != APR_SUCCESS) {
            *err = "out of memory";
            return rv;
        }
        tw_event *events;
        int g = 0, stop = 0;
        int n = tw_mem_page(m, sub, after, page, &events, &g);
        *gap |= g;
        for (int i = 0; i < n && !stop; i++) {
            stop = fn(ctx, &events[i]);
            after = events[i].id;
        }
        apr_pool_destroy(sub);
        /* A later page gaps when its start was trimmed meanwhile: the scan ends there. */
        if (stop || g || n < page)
            return APR_SUCCESS;
    }
}

static apr_status_t tw_mem_subscribe(tw_store *st, const tw_store_listener *l)
{
    tw_store_mem *m = (tw_store_mem *)st;
    apr_thread_mutex_lock(m->lock);
    m->l = *l;
    m->since = apr_time_now();
    atomic_store(&m->listening, 1);
    m->l.up(m->l.ctx);
    apr_thread_mutex_unlock(m->lock);
    return APR_SUCCESS;
}

static void tw_mem_health(tw_store *st, tw_store_health *out)
{
    tw_store_mem *m = (tw_store_mem *)st;
    *out = (tw_store_health){.subscribed = atomic_load(&m->listening)};
    apr_thread_mutex_lock(m->lock);
    out->since = m->since;
    apr_thread_mutex_unlock(m->lock);
}

/* In one process, what is published reaches the listener at once: delivery works while the
 * store is subscribed. */
static apr_status_t tw_mem_probe(tw_store *st, apr_pool_t *p, apr_interval_time_t timeout,
                                 const char **why)
{
    (void)timeout;
    if (atomic_load(&((tw_store_mem *)st)->listening))
        return APR_SUCCESS;
    *why = apr_pstrdup(p, "not subscribed");
    return APR_EGENERAL;
}

static void tw_mem_stop(tw_store *st)
{
    atomic_store(&((tw_store_mem *)st)->listening, 0);
}

static int tw_mem_stopped(tw_store *st, apr_interval_time_t timeout)
{
    (void)st, (void)timeout;
    return 1; /* no thread of its own */
}

static const tw_store_ops tw_store_mem_ops = {
    .name = "memory",
    .publish = tw_mem_publish,
    .remove = tw_mem_remove,
    .like = tw_mem_like,
    .liked = tw_mem_liked,
    .latest = tw_mem_latest,
    .before = tw_mem_before,
    .get = tw_mem_get,
    .each_after = tw_mem_each_after,
    .subscribe = tw_mem_subscribe,
    .health = tw_mem_health,
    .probe = tw_mem_probe,
    .stop = tw_mem_stop,
    .stopped = tw_mem_stopped,
};

static apr_status_t tw_mem_cleanup(void *data)
{
    tw_store_mem *m = data;
    for (long i = 0; i < m->n; i++)
        tw_mem_free(&m->log[i]);
    free(m->log);
    m->n = 0;
    return APR_SUCCESS;
}

apr_status_t tw_store_mem_create(apr_pool_t *p, long history, tw_store **out)
{
    tw_store_mem *m = apr_pcalloc(p, sizeof(*m));
    m->store.ops = &tw_store_mem_ops;
    m->history = history;
    atomic_init(&m->listening, 0);
    apr_status_t rv = apr_thread_mutex_create(&m->lock, APR_THREAD_MUTEX_DEFAULT, p);
    if (rv != APR_SUCCESS)
        return rv;
    apr_pool_cleanup_register(p, m, tw_mem_cleanup, apr_pool_cleanup_null);
    *out = &m->store;
    return APR_SUCCESS;
}
