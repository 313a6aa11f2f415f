/* mod_tweetsse_viewer.c: see mod_tweetsse_viewer.h. */
#include "mod_tweetsse_viewer.h"
#include "mod_tweetsse_child.h"
#include "mod_tweetsse_reply.h"
#include "mod_tweetsse_visitor.h"
#include "src/tw_html.h"
#include "src/tw_identity.h"

#include <apr_strings.h>
#include <http_protocol.h>
#include <jansson.h>

int tw_handle_viewer_css(request_rec *r)
{
    char by[TW_IDENTITY_BY_LEN + 2];
    if (tw_id_query_named(r->args, "by", by, sizeof(by)) != 1 ||
        !tw_identity_by_valid(by, strlen(by)))
        return tw_reply_refusal(r, TW_FMT_HTMX, "", HTTP_BAD_REQUEST,
                                "by= must be a viewer's marker, as the page names it");
    tw_buf b;
    tw_buf_init(&b, r->pool, 128);
    tw_html_viewer_css(&b, by);
    ap_set_content_type(r, "text/css; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "public, max-age=31536000, immutable");
    ap_set_content_length(r, (apr_off_t)b.len);
    if (!r->header_only)
        ap_rwrite(b.data, (int)b.len, r);
    return OK;
}

/* The ids of ?ids= (comma-separated) into `posts` (ids only). Returns their number, or -1 if
 * the list is malformed or longer than TW_VIEWER_MAX_IDS. */
static int tw_liked_ids(request_rec *r, tw_post *posts)
{
    char *list = apr_palloc(r->pool, TW_VIEWER_MAX_IDS * TW_ID_MAX);
    int rc = tw_id_query_named(r->args, "ids", list, TW_VIEWER_MAX_IDS * TW_ID_MAX);
    if (rc <= 0)
        return rc == 0 ? 0 : -1;
    int n = 0;
    char *last = NULL;
    for (char *t = apr_strtok(list, ",", &last); t; t = apr_strtok(NULL, ",", &last)) {
        if (n == TW_VIEWER_MAX_IDS || !tw_id_parse(t, strlen(t), &posts[n].id))
            return -1;
        n++;
    }
    return n;
}

int tw_handle_liked(request_rec *r, tw_srv_conf *c, const char *mount)
{
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    tw_post *posts = apr_pcalloc(r->pool, TW_VIEWER_MAX_IDS * sizeof(*posts));
    int n = tw_liked_ids(r, posts);
    if (n < 0)
        return tw_reply_refusal(
            r, TW_FMT_JSON, "", HTTP_BAD_REQUEST,
            apr_psprintf(r->pool, "ids= must be at most %d post ids, separated by commas",
                         TW_VIEWER_MAX_IDS));
    tw_visitor v;
    const char *why;
    int *liked = apr_pcalloc(r->pool, (apr_size_t)(n ? n : 1) * sizeof(int));
    const char *err = NULL;
    if (n && tw_visitor_author(r, c, mount, &v, &why) &&
        tw_store_liked(c->rt->store, r->pool, v.id, posts, n, liked, &err) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "TW0306: cannot read likes: %s", err);
        apr_table_setn(r->err_headers_out, "Retry-After", "5");
        return tw_reply_refusal(r, TW_FMT_JSON, "", HTTP_SERVICE_UNAVAILABLE,
                                "the post store is unavailable; please try again in a moment");
    }
    json_t *ids = json_array();
    for (int i = 0; ids && i < n; i++) {
        char id[TW_ID_MAX];
        tw_id_format(posts[i].id, id);
        if (liked[i] && json_array_append_new(ids, json_string(id)) != 0) {
            json_decref(ids);
            ids = NULL;
        }
    }
    return tw_reply_json(r, HTTP_OK, ids ? json_pack("{s:o}", "liked", ids) : NULL);
}
