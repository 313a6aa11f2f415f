/* mod_tweetsse_moderation.c: the moderators' page and their removals. Who is a moderator is
 * Apache's to decide, with the authentication and Require of the handler's <Location>: any
 * provider (files, LDAP, a database), no list of the module's own to keep in step. */
#include "mod_tweetsse_moderation.h"
#include "mod_tweetsse_action.h"
#include "mod_tweetsse_child.h"
#include "mod_tweetsse_metrics.h"
#include "mod_tweetsse_origin.h"
#include "src/tw_html.h"
#include "src/tw_input.h"

#include <apr_strings.h>
#include <http_protocol.h>

/* The relative path from the request's URL back to `mount` (which it lies under): "../" for
 * each '/' after the mount. */
static const char *tw_moderation_root(request_rec *r, const char *mount)
{
    const char *rest = r->uri + strlen(mount);
    const char *root = "";
    for (const char *s = rest; *s; s++)
        if (*s == '/')
            root = apr_pstrcat(r->pool, root, "../", NULL);
    return root;
}

/* GET: the newest posts, or those before ?before=<id>, TweetssePageSize of them. */
static int tw_moderation_page(request_rec *r, tw_srv_conf *c, const char *root)
{
    char arg[TW_ID_MAX + 8];
    tw_id before;
    int rc = tw_id_query_named(r->args, "before", arg, sizeof(arg));
    if (rc < 0 || (rc == 1 && tw_id_parse_resume(arg, &before) != 1))
        return tw_reply_refusal(r, TW_FMT_FORM, root, HTTP_BAD_REQUEST,
                                "The before= of the address is not a post id.");
    tw_page pg = {.older = rc == 1};
    tw_post *posts = NULL;
    const char *err = NULL;
    apr_status_t rv = rc == 1 ? tw_store_before(c->rt->store, r->pool, before, c->page_size, &posts,
                                                &pg.nposts, &pg.more, &err)
                              : tw_store_latest(c->rt->store, r->pool, c->page_size + 1, &posts,
                                                &pg.nposts, &err);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "TW0423: cannot read posts: %s", err);
        apr_table_setn(r->err_headers_out, "Retry-After", "5");
        return tw_reply_refusal(r, TW_FMT_FORM, root, HTTP_SERVICE_UNAVAILABLE,
                                "The post store cannot be reached. Please reload in a moment.");
    }
    if (rc != 1 && pg.nposts > c->page_size) {
        pg.more = 1;
        pg.nposts = (int)c->page_size;
    }
    pg.posts = posts;
    tw_buf b;
    tw_buf_init(&b, r->pool, 32768);
    tw_html_moderation_page(&b, root, r->user, &pg);
    ap_set_content_type(r, "text/html; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_set_content_length(r, (apr_off_t)b.len);
    if (!r->header_only)
        ap_rwrite(b.data, (int)b.len, r);
    return OK;
}

/* Refuse a removal: `status` with `reason` in the request's format. */
static int tw_moderation_refuse(request_rec *r, tw_format fmt, const char *root, int status,
                                const char *reason)
{
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "TW0424: removal refused (%d): %s", status,
                  reason);
    tw_metrics_act_refused(tw_metrics_instance(), tw_reply_refusal_of(status));
    return tw_reply_refusal(r, fmt, root, status, reason);
}

/* POST: remove the post the body names, as moderator r->user. */
static int tw_moderation_remove(request_rec *r, tw_srv_conf *c, const char *root)
{
    const char *type = tw_reply_media_type(r);
    tw_format fmt = tw_reply_format(r, type);
    const char *why = tw_origin_refusal(r, c);
    if (why)
        return tw_moderation_refuse(r, fmt, root, HTTP_FORBIDDEN, why);
    if ((why = tw_reply_type_refusal(fmt, type)))
        return tw_moderation_refuse(r, fmt, root, HTTP_UNSUPPORTED_MEDIA_TYPE, why);
    char *body = NULL;
    size_t len = 0;
    int rc = tw_reply_read_body(r, c->max_body, &body, &len);
    if (rc == HTTP_REQUEST_ENTITY_TOO_LARGE)
        return tw_moderation_refuse(r, fmt, root, rc, "the body is too large");
    if (rc != OK)
        return rc;
    tw_action a = {.moderator = 1, .who = apr_pstrcat(r->pool, "m:", r->user, NULL)};
    if ((why = tw_input_post_id(r->pool, body, len, fmt == TW_FMT_JSON, &a.target)))
        return tw_moderation_refuse(r, fmt, root, HTTP_BAD_REQUEST, why);
    return tw_action_remove(r, c, fmt, root, r->uri, &a, r->user);
}

int tw_handle_moderation(request_rec *r, tw_srv_conf *c, const char *mount)
{
    const char *root = tw_moderation_root(r, mount);
    if (!r->user || !*r->user) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "TW0421: %s has SetHandler tweetsse-moderation but nobody signed in: "
                      "guard its <Location> with AuthType and Require",
                      r->uri);
        return tw_reply_refusal(r, TW_FMT_FORM, root, HTTP_FORBIDDEN,
                                "Moderation needs a signed-in moderator, and this server asks "
                                "for none.");
    }
    if (r->method_number == M_POST)
        return tw_moderation_remove(r, c, root);
    return tw_moderation_page(r, c, root);
}
