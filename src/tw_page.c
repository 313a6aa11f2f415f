/* tw_page.c: GET of the feed page. The part below the compose form (the newest posts) is the
 * same for every visitor, so each child keeps its last rendering and serves it until the hub
 * announces a change (a new post, a resubscription), a post is stored through any child of
 * this instance (a counter in shared memory), or it is TW_FEED_TTL old. Only the top of the
 * page, with the visitor's name, is rendered per request. */
#include "tw_html.h"
#include "tw_hub.h"
#include "tw_private.h"
#include "tw_store.h"

#include <apr_atomic.h>
#include <apr_buckets.h>
#include <apr_thread_mutex.h>
#include <http_protocol.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <util_filter.h>

/* Longest a rendering is served: bounds how long entries written to the stream by other
 * programs (without the announcement the hub sees) can stay off the page. */
#define TW_FEED_TTL apr_time_from_msec(1000)

/* One rendering of the feed part of the page. The cache holds a reference, and so does each
 * response still being written (through its heap bucket). */
typedef struct tw_feed_html {
    apr_uint32_t refs;
    apr_uint64_t gen;    /* hub generation taken before the posts were read */
    apr_uint32_t posted; /* the instance's post counter, taken at the same time */
    apr_time_t made;
    size_t len;
    char html[];
} tw_feed_html;

struct tw_page_cache {
    apr_thread_mutex_t *lock;
    tw_feed_html *cur; /* NULL until the first rendering */
};

static void tw_feed_release(tw_feed_html *f)
{
    if (f && apr_atomic_dec32(&f->refs) == 0)
        free(f);
}

/* apr_bucket_heap_create's free function: the bucket's data is a rendering's html. */
static void tw_feed_bucket_free(void *data)
{
    tw_feed_release((tw_feed_html *)((char *)data - offsetof(tw_feed_html, html)));
}

static apr_status_t tw_page_cache_cleanup(void *data)
{
    tw_page_cache *pc = data;
    tw_feed_release(pc->cur);
    pc->cur = NULL;
    return APR_SUCCESS;
}

apr_status_t tw_page_cache_create(apr_pool_t *pchild, tw_page_cache **out)
{
    tw_page_cache *pc = apr_pcalloc(pchild, sizeof(*pc));
    apr_status_t rv = apr_thread_mutex_create(&pc->lock, APR_THREAD_MUTEX_DEFAULT, pchild);
    if (rv != APR_SUCCESS)
        return rv;
    apr_pool_cleanup_register(pchild, pc, tw_page_cache_cleanup, apr_pool_cleanup_null);
    *out = pc;
    return APR_SUCCESS;
}

void tw_page_posted(tw_srv_conf *c)
{
    apr_atomic_inc32(c->posted);
}

/* A reference to the cached rendering if it is still current for generation `gen` and post
 * counter `posted`, or NULL. */
static tw_feed_html *tw_page_cache_get(tw_page_cache *pc, apr_uint64_t gen, apr_uint32_t posted,
                                       apr_time_t now)
{
    tw_feed_html *f = NULL;
    apr_thread_mutex_lock(pc->lock);
    if (pc->cur && pc->cur->gen == gen && pc->cur->posted == posted &&
        now - pc->cur->made < TW_FEED_TTL) {
        f = pc->cur;
        apr_atomic_inc32(&f->refs);
    }
    apr_thread_mutex_unlock(pc->lock);
    return f;
}

/* Make `f` the cached rendering unless a newer one is there already. */
static void tw_page_cache_put(tw_page_cache *pc, tw_feed_html *f)
{
    tw_feed_html *old = NULL;
    apr_thread_mutex_lock(pc->lock);
    if (!pc->cur || f->gen > pc->cur->gen || (f->gen == pc->cur->gen && f->made > pc->cur->made)) {
        old = pc->cur;
        apr_atomic_inc32(&f->refs);
        pc->cur = f;
    }
    apr_thread_mutex_unlock(pc->lock);
    tw_feed_release(old);
}

/* Read the newest posts and render the feed part into a new rendering (one reference, the
 * caller's). Returns NULL if the store failed, with *err set. Cost: one Redis round trip
 * and O(size of the posts). */
static tw_feed_html *tw_feed_render(request_rec *r, tw_srv_conf *c, apr_uint64_t gen,
                                    apr_uint32_t posted, apr_time_t now, const char **err)
{
    tw_page pg = {.live = 1};
    tw_post *posts = NULL;
    if (tw_store_latest(c->store, r->pool, c->page_size, &posts, &pg.nposts, err) != APR_SUCCESS)
        return NULL;
    pg.posts = posts;
    tw_buf b;
    tw_buf_init(&b, r->pool, 32768);
    tw_html_page_feed(&b, &pg);
    tw_feed_html *f = malloc(sizeof(*f) + b.len);
    if (!f) {
        *err = "out of memory";
        return NULL;
    }
    f->refs = 1;
    f->gen = gen;
    f->posted = posted;
    f->made = now;
    f->len = b.len;
    memcpy(f->html, b.data, b.len);
    return f;
}

/* Headers of every page response: HTML, never reused from a cache without asking. */
static void tw_page_headers(request_rec *r, size_t len)
{
    ap_set_content_type(r, "text/html; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-cache, private");
    ap_set_content_length(r, (apr_off_t)len);
}

/* The page without the store: a notice, no posts, no live stream; 503. */
static int tw_page_unavailable(request_rec *r, const char *username, const char *err)
{
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "TW0301: cannot read posts: %s", err);
    tw_page pg = {.username = username,
                  .notice = "The feed is unavailable right now: the post store cannot be "
                            "reached. Please reload in a moment."};
    tw_buf b;
    tw_buf_init(&b, r->pool, 4096);
    tw_html_page(&b, &pg);
    r->status = HTTP_SERVICE_UNAVAILABLE;
    apr_table_setn(r->err_headers_out, "Retry-After", "5");
    tw_page_headers(r, b.len);
    if (!r->header_only)
        ap_rwrite(b.data, (int)b.len, r);
    return OK;
}

int tw_handle_page(request_rec *r, tw_srv_conf *c, const char *username)
{
    if (r->method_number != M_GET) {
        r->allowed = (AP_METHOD_BIT << M_GET) | (AP_METHOD_BIT << M_POST);
        return HTTP_METHOD_NOT_ALLOWED;
    }
    apr_time_t now = apr_time_now();
    /* Both taken before reading the posts: see tw_hub_generation. */
    apr_uint32_t posted = apr_atomic_read32(c->posted);
    apr_uint64_t gen = tw_hub_generation(c->hub);
    tw_feed_html *feed = gen ? tw_page_cache_get(c->page_cache, gen, posted, now) : NULL;
    if (!feed) {
        const char *err = NULL;
        if (!(feed = tw_feed_render(r, c, gen, posted, now, &err)))
            return tw_page_unavailable(r, username, err);
        if (gen)
            tw_page_cache_put(c->page_cache, feed);
    }
    tw_page pg = {.username = username};
    tw_buf top;
    tw_buf_init(&top, r->pool, 4096);
    tw_html_page_top(&top, &pg);
    tw_page_headers(r, top.len + feed->len);
    if (r->header_only) {
        tw_feed_release(feed);
        return OK;
    }
    apr_bucket_alloc_t *ba = r->connection->bucket_alloc;
    apr_bucket_brigade *bb = apr_brigade_create(r->pool, ba);
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_pool_create(top.data, top.len, r->pool, ba));
    /* The bucket now owns our reference and drops it once the bytes are written. */
    APR_BRIGADE_INSERT_TAIL(bb,
                            apr_bucket_heap_create(feed->html, feed->len, tw_feed_bucket_free, ba));
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(ba));
    apr_status_t rv = ap_pass_brigade(r->output_filters, bb);
    if (rv != APR_SUCCESS) /* the client went away; the status line is already sent */
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, r, "TW0302: cannot write the page");
    return OK;
}
