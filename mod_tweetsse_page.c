/* mod_tweetsse_page.c: GET of the feed page, of its older posts (?before=<id>) and of one
 * post's page (home/post/<id>). The part of the feed page below the compose form (the newest
 * posts) is the same for every visitor, so each child keeps its last rendering
 * (src/tw_feedcache) and serves it as a heap bucket that holds a reference; only the top of the
 * page, with the visitor's name, is rendered per request. Older posts and a post's page are
 * read from the store on every request (one round trip) and not cached. */
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
    return tw_feedcache_create(p, TW_FEED_TTL, &c->page_cache);
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
    /* One more than shown says whether there are older posts. */
    if (tw_store_latest(c->rt->store, r->pool, c->page_size + 1, &posts, &pg.nposts, err) !=
        APR_SUCCESS)
        return NULL;
    pg.more = pg.nposts > c->page_size;
    if (pg.more)
        pg.nposts = (int)c->page_size;
    pg.posts = posts;
    tw_buf b;
    tw_buf_init(&b, r->pool, 32768);
    tw_html_page_feed(&b, &pg);
    tw_blob *f = tw_blob_make(b.data, b.len);
    if (!f)
        *err = "out of memory";
    return f;
}

/* Headers of every page response: HTML (or `type`), never reused from a cache without asking. */
static void tw_page_headers_as(request_rec *r, const char *type, size_t len)
{
    ap_set_content_type(r, type);
    apr_table_setn(r->headers_out, "Cache-Control", "no-cache, private");
    ap_set_content_length(r, (apr_off_t)len);
}

static void tw_page_headers(request_rec *r, size_t len)
{
    tw_page_headers_as(r, "text/html; charset=utf-8", len);
}

/* Send what is in `b` with the headers set (none for HEAD); the status is r->status. */
static int tw_page_send(request_rec *r, const tw_buf *b)
{
    if (!r->header_only)
        ap_rwrite(b->data, (int)b->len, r);
    return OK;
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

/* Name the page's visitor (username and tag of `pg`; none when there is nobody). */
static void tw_page_visitor(request_rec *r, const tw_srv_conf *c, const char *mount, tw_page *pg)
{
    tw_visitor v;
    if (tw_visitor_get(r, c, mount, &v)) {
        pg->username = v.name;
        pg->usertag = v.tag[0] ? v.tag : NULL;
    }
}

/* The visitor for a response that is not a success: shown, but not kept (an error response
 * sets no cookie), so whatever tw_visitor_get adds to the header tables is dropped. Costs a
 * copy of both tables. */
static void tw_page_visitor_unkept(request_rec *r, const tw_srv_conf *c, const char *mount,
                                   tw_page *pg)
{
    apr_table_t *out = r->headers_out, *err = r->err_headers_out;
    r->headers_out = apr_table_copy(r->pool, out);
    r->err_headers_out = apr_table_copy(r->pool, err);
    tw_page_visitor(r, c, mount, pg);
    r->headers_out = out;
    r->err_headers_out = err;
}

/* Log that the store could not be read (`err`): every page answers 503 then. */
static void tw_page_store_failed(request_rec *r, const char *err)
{
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "TW0301: cannot read posts: %s", err);
}

/* The page without the store: a notice, no posts, no live stream; 503. */
static int tw_page_unavailable(request_rec *r, const tw_srv_conf *c, const char *mount,
                               const char *err)
{
    tw_page_store_failed(r, err);
    tw_page pg = {.key = tw_page_key(r),
                  .notice = "The feed is unavailable right now: the post store cannot be "
                            "reached. Please reload in a moment."};
    tw_page_visitor_unkept(r, c, mount, &pg);
    tw_buf b;
    tw_buf_init(&b, r->pool, 4096);
    tw_html_page(&b, &pg);
    r->status = HTTP_SERVICE_UNAVAILABLE;
    apr_table_setn(r->err_headers_out, "Retry-After", "5");
    tw_page_headers(r, b.len);
    return tw_page_send(r, &b);
}

/* Refuse with `status` and say why: in text for an htmx request (`htmx`), else in a small HTML
 * page whose links lead back through `root` to the mount. No cookie (an error response). */
static int tw_page_refuse(request_rec *r, int htmx, const char *root, int status,
                          const char *reason)
{
    tw_buf b;
    tw_buf_init(&b, r->pool, 1024);
    r->status = status;
    if (status == HTTP_SERVICE_UNAVAILABLE)
        apr_table_setn(r->err_headers_out, "Retry-After", "5");
    if (htmx) {
        tw_buf_adds(&b, reason);
        tw_page_headers_as(r, "text/plain; charset=utf-8", b.len);
    } else {
        tw_html_error_page(&b, root, ap_get_status_line(status) + 4, reason);
        tw_page_headers(r, b.len);
    }
    return tw_page_send(r, &b);
}

/* Is this a request htmx made (HX-Request: true)? */
static int tw_page_is_htmx(request_rec *r)
{
    const char *hx = apr_table_get(r->headers_in, "HX-Request");
    return hx && !ap_cstr_casecmp(hx, "true");
}

/* The ?before= of the query string: 1 with *id set, 0 if there is none, -1 if it is not an id
 * (garbage, empty, too long). */
static int tw_page_before_arg(request_rec *r, tw_id *id)
{
    char arg[TW_ID_MAX + 8];
    int rc = tw_id_query_named(r->args, "before", arg, sizeof(arg));
    if (rc <= 0)
        return rc;
    return tw_id_parse_resume(arg, id) == 1 ? 1 : -1;
}

/* GET home?before=<id>: the next TweetssePageSize posts strictly older than `before`. An htmx
 * request (HX-Request: true, sent by the "Older posts" control) gets the fragment that replaces
 * the control; any other the whole page, starting there, without the live stream (its newest
 * post is not the feed's). One round trip to the store, nothing cached. */
static int tw_page_older(request_rec *r, tw_srv_conf *c, const char *mount, tw_id before)
{
    int htmx = tw_page_is_htmx(r);
    /* Both forms have one URL: caches must keep them apart (err_headers_out: on every status). */
    apr_table_mergen(r->err_headers_out, "Vary", "HX-Request");
    tw_page pg = {.older = 1};
    tw_post *posts = NULL;
    const char *err = NULL;
    if (tw_store_before(c->rt->store, r->pool, before, c->page_size, &posts, &pg.nposts, &pg.more,
                        &err) != APR_SUCCESS) {
        if (!htmx)
            return tw_page_unavailable(r, c, mount, err);
        tw_page_store_failed(r, err);
        return tw_page_refuse(r, 1, "", HTTP_SERVICE_UNAVAILABLE,
                              "Older posts are unavailable right now: the post store cannot be "
                              "reached.");
    }
    pg.posts = posts;
    tw_buf b;
    tw_buf_init(&b, r->pool, 32768);
    if (htmx) {
        tw_html_feed_more(&b, &pg);
    } else {
        tw_page_visitor(r, c, mount, &pg);
        pg.key = tw_page_key(r);
        tw_html_page(&b, &pg);
    }
    tw_page_headers(r, b.len);
    return tw_page_send(r, &b);
}

int tw_handle_permalink(request_rec *r, tw_srv_conf *c, const char *mount, const char *id)
{
    const char *root = "../../"; /* from <mount>home/post/<id> */
    tw_id want;
    if (!tw_id_parse(id, strlen(id), &want)) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "TW0305: malformed post id in %s", r->uri);
        return tw_page_refuse(r, 0, root, HTTP_BAD_REQUEST,
                              "That is not a post id: it looks like 1700000000000-0.");
    }
    tw_post post;
    int found = 0;
    const char *err = NULL;
    if (tw_store_get(c->rt->store, r->pool, want, &post, &found, &err) != APR_SUCCESS) {
        tw_page_store_failed(r, err);
        return tw_page_refuse(r, 0, root, HTTP_SERVICE_UNAVAILABLE,
                              "The post is unavailable right now: the post store cannot be "
                              "reached. Please reload in a moment.");
    }
    if (!found)
        return tw_page_refuse(r, 0, root, HTTP_NOT_FOUND,
                              "This post is not in the feed: it never existed, or it is older "
                              "than the history the feed keeps.");
    tw_buf b;
    tw_buf_init(&b, r->pool, 8192);
    tw_page who = {.username = NULL};
    tw_page_visitor(r, c, mount, &who);
    tw_html_post_page(&b, who.username, who.usertag, &post);
    tw_page_headers(r, b.len);
    return tw_page_send(r, &b);
}

int tw_handle_page(request_rec *r, tw_srv_conf *c, const char *mount)
{
    tw_id before;
    int older = tw_page_before_arg(r, &before);
    if (older < 0) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "TW0304: malformed before= in the query");
        return tw_page_refuse(r, tw_page_is_htmx(r), "", HTTP_BAD_REQUEST,
                              "The before= of the address is not a post id: it looks like "
                              "1700000000000-0.");
    }
    if (older)
        return tw_page_older(r, c, mount, before);
    apr_time_t now = apr_time_now();
    /* Both taken before reading the posts: see tw_hub_generation. */
    uint32_t posted = tw_page_counter(c);
    uint64_t gen = tw_hub_generation(c->rt->hub);
    tw_blob *feed = tw_feedcache_get(c->page_cache, gen, posted, now);
    if (!feed) {
        const char *err = NULL;
        if (!(feed = tw_page_render_feed(r, c, &err)))
            return tw_page_unavailable(r, c, mount, err);
        if (gen)
            tw_feedcache_put(c->page_cache, feed, gen, posted, now);
    }
    /* Only now that the page is served: a new visitor's cookie comes with a success. */
    tw_page pg = {.key = tw_page_key(r)};
    tw_page_visitor(r, c, mount, &pg);
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
