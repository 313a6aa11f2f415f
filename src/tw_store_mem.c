#include "tw_store_mem.h"

#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct tw_store_mem {
    tw_store store; /* first: the store interface */
    apr_thread_mutex_t *lock;
    long history;
    tw_post *posts; /* ring of `history` posts, oldest at `first`; strings malloc'd */
    long first, count;
    tw_id last; /* newest id handed out */
    tw_store_listener l;
    atomic_int listening; /* a listener is set and the store not stopped */
    apr_time_t since;
} tw_store_mem;

/* The i-th retained post, oldest first. */
static tw_post *tw_mem_at(tw_store_mem *m, long i)
{
    return &m->posts[(m->first + i) % m->history];
}

/* The next id after `last` for a post stored at `now`, as Redis makes them. */
static tw_id tw_mem_next_id(tw_id last, apr_time_t now)
{
    uint64_t ms = (uint64_t)apr_time_as_msec(now);
    if (ms > last.ms)
        return (tw_id){ms, 0};
    return (tw_id){last.ms, last.seq + 1};
}

/* A retained post's strings are one malloc'd block, "user\0message\0author\0tag\0key\0": the
 * post to keep for `in` (its strings in a new block, id unset), or a post whose user is NULL
 * when out of memory. */
static tw_post tw_mem_own(const tw_publish *in)
{
    const tw_post *src = &in->post;
    size_t klen = in->key ? in->key_len : 0;
    const char *parts[] = {src->user, src->msg, src->author, src->tag, in->key};
    size_t lens[] = {src->user_len, src->msg_len, src->author_len, src->tag_len, klen};
    char *block = malloc(lens[0] + lens[1] + lens[2] + lens[3] + lens[4] + 5), *w = block;
    tw_post kept = {.user = NULL};
    if (!block)
        return kept;
    const char *at[5];
    for (int i = 0; i < 5; i++) {
        if (lens[i])
            memcpy(w, parts[i], lens[i]);
        w[lens[i]] = '\0';
        at[i] = w;
        w += lens[i] + 1;
    }
    kept = (tw_post){.user = at[0],
                     .user_len = lens[0],
                     .msg = at[1],
                     .msg_len = lens[1],
                     .author = at[2],
                     .author_len = lens[2],
                     .tag = at[3],
                     .tag_len = lens[3]};
    return kept;
}

/* The idempotency key a retained post was stored with ("" if none), after its tag. */
static const char *tw_mem_key(const tw_post *post)
{
    return post->tag + post->tag_len + 1;
}

/* The retained post the same author stored with `key` (non-empty), or NULL. O(history). */
static const tw_post *tw_mem_replay(tw_store_mem *m, const tw_post *kept, const char *key)
{
    for (long i = 0; *key && i < m->count; i++) {
        const tw_post *old = tw_mem_at(m, i);
        if (!strcmp(tw_mem_key(old), key) && !strcmp(old->author, kept->author))
            return old;
    }
    return NULL;
}

static apr_status_t tw_mem_publish(tw_store *st, apr_pool_t *p, const tw_publish *in,
                                   tw_publish_result *out, const char **err)
{
    tw_store_mem *m = (tw_store_mem *)st;
    *out = (tw_publish_result){{0, 0}, 0, 0};
    tw_post stored = tw_mem_own(in);
    if (!stored.user) {
        *err = apr_pstrdup(p, "out of memory");
        return APR_ENOMEM;
    }
    apr_thread_mutex_lock(m->lock);
    const tw_post *old = tw_mem_replay(m, &stored, tw_mem_key(&stored));
    if (old) {
        out->id = old->id;
        out->replayed = 1;
        apr_thread_mutex_unlock(m->lock);
        free((char *)stored.user);
        return APR_SUCCESS;
    }
    stored.id = tw_mem_next_id(m->last, apr_time_now());
    tw_post heard = stored; /* what the listener hears: the post the history ended with before */
    heard.prev = m->last;
    heard.has_prev = m->count > 0;
    if (m->count == m->history) {
        free((char *)tw_mem_at(m, 0)->user);
        m->first = (m->first + 1) % m->history;
        m->count--;
    }
    *tw_mem_at(m, m->count++) = stored;
    m->last = stored.id;
    out->id = stored.id;
    if (atomic_load(&m->listening))
        m->l.post(m->l.ctx, &heard);
    apr_thread_mutex_unlock(m->lock);
    return APR_SUCCESS;
}

/* A copy of post `src` in `p`. */
static tw_post tw_mem_copy(apr_pool_t *p, const tw_post *src)
{
    tw_post c = *src;
    c.user = apr_pstrmemdup(p, src->user, src->user_len);
    c.msg = apr_pstrmemdup(p, src->msg, src->msg_len);
    c.author = apr_pstrmemdup(p, src->author, src->author_len);
    c.tag = apr_pstrmemdup(p, src->tag, src->tag_len);
    return c;
}

static apr_status_t tw_mem_latest(tw_store *st, apr_pool_t *p, long count, tw_post **posts, int *n,
                                  const char **err)
{
    tw_store_mem *m = (tw_store_mem *)st;
    (void)err;
    apr_thread_mutex_lock(m->lock);
    long k = count < m->count ? count : m->count;
    tw_post *out = apr_pcalloc(p, sizeof(*out) * (size_t)(k ? k : 1));
    for (long i = 0; i < k; i++)
        out[i] = tw_mem_copy(p, tw_mem_at(m, m->count - 1 - i));
    apr_thread_mutex_unlock(m->lock);
    *posts = out;
    *n = (int)k;
    return APR_SUCCESS;
}

/* Scan down from the newest retained post: O(history) under the lock, enough for tests. */
static apr_status_t tw_mem_before(tw_store *st, apr_pool_t *p, tw_id id, long count,
                                  tw_post **posts, int *n, int *more, const char **err)
{
    tw_store_mem *m = (tw_store_mem *)st;
    (void)err;
    apr_thread_mutex_lock(m->lock);
    long i = m->count;
    while (i > 0 && tw_id_cmp(tw_mem_at(m, i - 1)->id, id) >= 0)
        i--;
    long k = count < i ? count : i;
    tw_post *out = apr_pcalloc(p, sizeof(*out) * (size_t)(k ? k : 1));
    for (long j = 0; j < k; j++)
        out[j] = tw_mem_copy(p, tw_mem_at(m, i - 1 - j));
    *more = i > k;
    apr_thread_mutex_unlock(m->lock);
    *posts = out;
    *n = (int)k;
    return APR_SUCCESS;
}

/* A linear search under the lock. */
static apr_status_t tw_mem_get(tw_store *st, apr_pool_t *p, tw_id id, tw_post *post, int *found,
                               const char **err)
{
    tw_store_mem *m = (tw_store_mem *)st;
    (void)err;
    *found = 0;
    apr_thread_mutex_lock(m->lock);
    for (long i = 0; i < m->count && !*found; i++) {
        if (!tw_id_cmp(tw_mem_at(m, i)->id, id)) {
            *post = tw_mem_copy(p, tw_mem_at(m, i));
            *found = 1;
        }
    }
    apr_thread_mutex_unlock(m->lock);
    return APR_SUCCESS;
}

/* Copy up to `page` posts after `after` into `p`; sets *gap when `after` is neither zero nor
 * within the history (from its oldest retained post to the newest id handed out), as the Redis
 * store does: a point older than the history has lost posts, one newer than every post is not
 * of this history. */
static int tw_mem_page(tw_store_mem *m, apr_pool_t *p, tw_id after, long page, tw_post **out,
                       int *gap)
{
    const tw_id zero = {0, 0};
    apr_thread_mutex_lock(m->lock);
    long i = 0;
    while (i < m->count && tw_id_cmp(tw_mem_at(m, i)->id, after) <= 0)
        i++;
    int within = m->count
                     ? tw_id_cmp(after, tw_mem_at(m, 0)->id) >= 0 && tw_id_cmp(after, m->last) <= 0
                     : tw_id_cmp(after, m->last) == 0;
    *gap = tw_id_cmp(after, zero) != 0 && !within;
    int k = 0;
    *out = apr_pcalloc(p, sizeof(**out) * (size_t)page);
    for (; !*gap && i < m->count && k < page; i++)
        (*out)[k++] = tw_mem_copy(p, tw_mem_at(m, i));
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
        tw_post *posts;
        int g = 0, stop = 0;
        int n = tw_mem_page(m, sub, after, page, &posts, &g);
        *gap |= g;
        for (int i = 0; i < n && !stop; i++) {
            stop = fn(ctx, &posts[i]);
            after = posts[i].id;
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
    for (long i = 0; i < m->count; i++)
        free((char *)tw_mem_at(m, i)->user);
    free(m->posts);
    m->count = 0;
    return APR_SUCCESS;
}

apr_status_t tw_store_mem_create(apr_pool_t *p, long history, tw_store **out)
{
    tw_store_mem *m = apr_pcalloc(p, sizeof(*m));
    m->store.ops = &tw_store_mem_ops;
    m->history = history > 0 ? history : 1;
    atomic_init(&m->listening, 0);
    m->posts = calloc((size_t)m->history, sizeof(*m->posts));
    if (!m->posts)
        return APR_ENOMEM;
    apr_status_t rv = apr_thread_mutex_create(&m->lock, APR_THREAD_MUTEX_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        free(m->posts);
        return rv;
    }
    apr_pool_cleanup_register(p, m, tw_mem_cleanup, apr_pool_cleanup_null);
    *out = &m->store;
    return APR_SUCCESS;
}
