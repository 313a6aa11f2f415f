/* mod_tweetsse_page.c: GET of the feed page. The part below the compose form (the newest posts)
 * is the same for every visitor, so each child keeps its last rendering (src/tw_feedcache) and
 * serves it as a heap bucket that holds a reference; only the top of the page, with the
 * visitor's name, is rendered per request. */
#include "mod_tweetsse_page.h"
#include "mod_tweetsse_child.h"
#include "mod_tweetsse_visitor.h"
#include "src/tw_feedcache.h"
#include "src/tw_html.h"

#include <apr_buckets.h>
#include <apr_encode.h>
#include <apr_general.h>
#include <apr_shm.h>
#include <http_protocol.h>
#include <stddef.h>
#include <util_filter.h>

/* Longest a rendering is served: bounds how long entries written to the stream by other
 * programs (without the announcement the hub sees) can stay off the page. */
#define TW_FEED_TTL apr_time_from_msec(1000)

apr_status_t tw_page_counter_create(apr_pool_t *pconf, server_rec *s)
{
    apr_shm_t *shm;
    apr_status_t rv = apr_shm_create(&shm, sizeof(atomic_uint), NULL, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "TW0005: cannot create shared memory");
        return rv;
    }
    atomic_uint *posted = apr_shm_baseaddr_get(shm);
    atomic_init(posted, 0);
    for (server_rec *vs = s; vs; vs = vs->next)
        TW_CONF(vs)->posted = posted;
    return APR_SUCCESS;
}

apr_status_t tw_page_cache_create(apr_pool_t *p, tw_srv_conf *c)
{
    return tw_feedcache_create(p, TW_FEED_TTL, &c->feed);
}

void tw_page_posted(tw_srv_conf *c)
{
    atomic_fetch_add(c->posted, 1);
}

/* The instance's post counter. */
static uint32_t tw_page_counter(tw_srv_conf *c)
{
    return atomic_load(c->posted);
}

/* apr_bucket_heap_create's free function: the bucket's data is a blob's bytes. */
static void tw_page_bucket_free(void *data)
{
    tw_blob_release((tw_blob *)((char *)data - offsetof(tw_blob, data)));
}

/* Read the newest posts and render the feed part into a new blob (one reference, the
 * caller's). Returns NULL if the store failed, with *err set. Cost: one Redis round trip and
 * O(size of the posts). */
static tw_blob *tw_page_render_feed(request_rec *r, tw_srv_conf *c, const char **err)
{
    tw_page pg = {.live = 1};
    tw_post *posts = NULL;
    if (tw_store_latest(c->rt->store, r->pool, c->page_size, &posts, &pg.nposts, err) !=
        APR_SUCCESS)
        return NULL;
    pg.posts = posts;
    tw_buf b;
    tw_buf_init(&b, r->pool, 32768);
    tw_html_page_feed(&b, &pg);
    tw_blob *f = tw_blob_make(b.data, b.len);
    if (!f)
        *err = "out of memory";
    return f;
}

/* Headers of every page response: HTML, never reused from a cache without asking. */
static void tw_page_headers(request_rec *r, size_t len)
{
    ap_set_content_type(r, "text/html; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-cache, private");
    ap_set_content_length(r, (apr_off_t)len);
}

/* A fresh idempotency key for the compose form: 128 random bits, base64url (22 characters).
 * A retried post then stores once (tw_store's publish); the page script takes a new one after
 * each post. NULL (the form then has none) if there is no randomness. */
static const char *tw_page_key(request_rec *r)
{
    unsigned char rnd[16];
    apr_status_t rv = apr_generate_random_bytes(rnd, sizeof(rnd));
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r, "TW0303: no random bytes for a form key");
        return NULL;
    }
    return apr_pencode_base64(r->pool, (const char *)rnd, sizeof(rnd),
                              APR_ENCODE_BASE64URL | APR_ENCODE_NOPADDING, NULL);
}

/* The visitor's name for a response that is not a success: shown, but not kept (an error
 * response sets no cookie), so whatever tw_visitor_name adds to the header tables is dropped.
 * Costs a copy of both tables. */
static const char *tw_page_name_unkept(request_rec *r, const tw_srv_conf *c, const char *mount)
{
    apr_table_t *out = r->headers_out, *err = r->err_headers_out;
    r->headers_out = apr_table_copy(r->pool, out);
    r->err_headers_out = apr_table_copy(r->pool, err);
    const char *name = tw_visitor_name(r, c, mount);
    r->headers_out = out;
    r->err_headers_out = err;
    return name;
}

/* The page without the store: a notice, no posts, no live stream; 503. */
static int tw_page_unavailable(request_rec *r, const tw_srv_conf *c, const char *mount,
                               const char *err)
{
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "TW0301: cannot read posts: %s", err);
    tw_page pg = {.username = tw_page_name_unkept(r, c, mount),
                  .key = tw_page_key(r),
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

int tw_handle_page(request_rec *r, tw_srv_conf *c, const char *mount)
{
    apr_time_t now = apr_time_now();
    /* Both taken before reading the posts: see tw_hub_generation. */
    uint32_t posted = tw_page_counter(c);
    uint64_t gen = tw_hub_generation(c->rt->hub);
    tw_blob *feed = tw_feedcache_get(c->feed, gen, posted, now);
    if (!feed) {
        const char *err = NULL;
        if (!(feed = tw_page_render_feed(r, c, &err)))
            return tw_page_unavailable(r, c, mount, err);
        if (gen)
            tw_feedcache_put(c->feed, feed, gen, posted, now);
    }
    /* Only now that the page is served: a new visitor's cookie comes with a success. */
    tw_page pg = {.username = tw_visitor_name(r, c, mount), .key = tw_page_key(r)};
    tw_buf top;
    tw_buf_init(&top, r->pool, 4096);
    tw_html_page_top(&top, &pg);
    tw_page_headers(r, top.len + feed->len);
    if (r->header_only) {
        tw_blob_release(feed);
        return OK;
    }
    apr_bucket_alloc_t *ba = r->connection->bucket_alloc;
    apr_bucket_brigade *bb = apr_brigade_create(r->pool, ba);
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_pool_create(top.data, top.len, r->pool, ba));
    /* The bucket now owns our reference and drops it once the bytes are written. */
    APR_BRIGADE_INSERT_TAIL(bb,
                            apr_bucket_heap_create(feed->data, feed->len, tw_page_bucket_free, ba));
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(ba));
    apr_status_t rv = ap_pass_brigade(r->output_filters, bb);
    if (rv != APR_SUCCESS) /* the client went away; the status line is already sent */
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, r, "TW0302: cannot write the page");
    return OK;
}
