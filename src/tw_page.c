/* tw_page.c: GET of the feed page. */
#include "tw_html.h"
#include "tw_private.h"
#include "tw_store.h"

#include <http_protocol.h>

int tw_handle_page(request_rec *r, tw_srv_conf *c, const char *username)
{
    if (r->method_number != M_GET) {
        r->allowed = (AP_METHOD_BIT << M_GET) | (AP_METHOD_BIT << M_POST);
        return HTTP_METHOD_NOT_ALLOWED;
    }
    tw_page pg = {.username = username, .live = 1};
    tw_post *posts = NULL;
    const char *err = NULL;
    if (tw_store_latest(c->store, r->pool, c->page_size, &posts, &pg.nposts, &err) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "TW0301: cannot read posts: %s", err);
        pg.nposts = 0;
        pg.live = 0;
        pg.notice = "The feed is unavailable right now: the post store cannot be reached. "
                    "Please reload in a moment.";
        r->status = HTTP_SERVICE_UNAVAILABLE;
        apr_table_setn(r->err_headers_out, "Retry-After", "5");
    }
    pg.posts = posts;
    tw_buf b;
    tw_buf_init(&b, r->pool, 16384);
    tw_html_page(&b, &pg);
    ap_set_content_type(r, "text/html; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-cache, private");
    ap_set_content_length(r, (apr_off_t)b.len);
    if (!r->header_only)
        ap_rwrite(b.data, (int)b.len, r);
    return OK;
}
