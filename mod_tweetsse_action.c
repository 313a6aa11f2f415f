/* mod_tweetsse_action.c: deleting and liking a post (POST home/post/<id>), and the answer to a
 * moderator's removal. The store checks who may, the rate limits and the post's state in the
 * same step as the change (src/tw_store.h: remove, like), so a refusal changes nothing; every
 * refusal says why, in the request's own format. */
#include "mod_tweetsse_action.h"
#include "mod_tweetsse_child.h"
#include "mod_tweetsse_metrics.h"
#include "mod_tweetsse_origin.h"
#include "mod_tweetsse_page.h"
#include "mod_tweetsse_visitor.h"
#include "src/tw_html.h"
#include "src/tw_input.h"

#include <apr_strings.h>
#include <http_protocol.h>
#include <jansson.h>

/* Refuse the action: `status` with `reason` in the request's format; logged and counted. */
static int tw_action_refuse(request_rec *r, tw_format fmt, const char *root, int status,
                            const char *reason)
{
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "TW0411: action refused (%d): %s", status, reason);
    tw_metrics_act_refused(tw_metrics_instance(), tw_reply_refusal_of(status));
    return tw_reply_refusal(r, fmt, root, status, reason);
}

/* The refusal of a store's answer that is not DONE or AGAIN, for `target`. */
static int tw_action_refused(request_rec *r, tw_format fmt, const char *root,
                             const tw_action_result *res, const char *target)
{
    switch (res->status) {
    case TW_ACTION_FORBIDDEN:
        return tw_action_refuse(r, fmt, root, HTTP_FORBIDDEN, res->why);
    case TW_ACTION_GONE:
        return tw_action_refuse(r, fmt, root, HTTP_GONE,
                                apr_psprintf(r->pool, "post %s was deleted", target));
    case TW_ACTION_MISSING:
        return tw_action_refuse(r, fmt, root, HTTP_NOT_FOUND,
                                apr_psprintf(r->pool,
                                             "post %s is not in the feed: it never existed, or "
                                             "it is older than the history the feed keeps",
                                             target));
    default: {
        long secs = tw_reply_retry_after(r, res->retry_ms);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "TW0415: %s acts too fast; refused",
                      r->useragent_ip);
        return tw_action_refuse(
            r, fmt, root, HTTP_TOO_MANY_REQUESTS,
            apr_psprintf(r->pool, "slow down: you can do that again in %ld s", secs));
    }
    }
}

/* The store failed (`err`): 503. A deletion or a like sent again does the same (a deletion
 * answers like the first; a like sets, it does not add), so the reason says to retry. */
static int tw_action_unavailable(request_rec *r, tw_format fmt, const char *root, const char *err)
{
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "TW0412: cannot change a post: %s", err);
    apr_table_setn(r->err_headers_out, "Retry-After", "5");
    return tw_action_refuse(r, fmt, root, HTTP_SERVICE_UNAVAILABLE,
                            "the post store is unavailable; please try again in a moment: doing "
                            "it twice does it once");
}

/* A plain form's answer: back to `to` (303 See Other, without a body, as a post's). */
static int tw_action_back(request_rec *r, const char *to)
{
    apr_table_setn(r->headers_out, "Location", to);
    r->status = HTTP_SEE_OTHER;
    ap_set_content_length(r, 0);
    return OK;
}

/* Send `b` as an htmx answer: fragments that htmx swaps out of band. */
static int tw_action_fragment(request_rec *r, const tw_buf *b)
{
    ap_set_content_type(r, "text/html; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_set_content_length(r, (apr_off_t)b->len);
    ap_rwrite(b->data, (int)b->len, r);
    return OK;
}

/* Log a deletion that was done (`a`, by moderator `user` or the author), count it. */
static void tw_action_removed(request_rec *r, const tw_action *a, const tw_action_result *res,
                              const char *target, const char *user)
{
    char event[TW_ID_MAX];
    tw_id_format(res->event, event);
    const char *author = res->author[0] ? res->author : "(none)";
    if (a->moderator)
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                      "TW0414: post %s of %s removed by moderator %s (event %s)", target, author,
                      user, event);
    else
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "TW0413: post %s deleted by its author %s (event %s)", target, author, event);
    tw_metrics_removed(tw_metrics_instance(),
                       a->moderator ? TW_METRICS_BY_MODERATOR : TW_METRICS_BY_AUTHOR);
}

int tw_action_remove(request_rec *r, tw_srv_conf *c, tw_format fmt, const char *root,
                     const char *back, const tw_action *a, const char *user)
{
    char target[TW_ID_MAX], event[TW_ID_MAX];
    tw_id_format(a->target, target);
    tw_action_result res;
    const char *err = NULL;
    if (tw_store_remove(c->rt->store, r->pool, a, &res, &err) != APR_SUCCESS)
        return tw_action_unavailable(r, fmt, root, err);
    if (res.status != TW_ACTION_DONE && res.status != TW_ACTION_AGAIN)
        return tw_action_refused(r, fmt, root, &res, target);
    if (res.status == TW_ACTION_AGAIN) {
        apr_table_setn(r->err_headers_out, "Idempotent-Replayed", "true");
        tw_metrics_act_refused(tw_metrics_instance(), TW_METRICS_REPLAYED);
    } else {
        tw_action_removed(r, a, &res, target, user);
    }
    tw_page_changed(c); /* the next page, from any child, leaves it out */
    tw_id_format(res.event, event);
    apr_table_setn(r->err_headers_out, "X-Event-Id", apr_pstrdup(r->pool, event));
    if (fmt == TW_FMT_JSON)
        return tw_reply_json(
            r, HTTP_OK, json_pack("{s:s,s:b,s:s}", "id", target, "deleted", 1, "event", event));
    if (fmt == TW_FMT_FORM)
        return tw_action_back(r, back);
    /* htmx: nothing to swap. The page's script takes the card away when the answer is a
     * success, and the deletion's event takes it from every other page; an out-of-band swap
     * here would find no card when the event came first. */
    r->status = HTTP_OK;
    ap_set_content_length(r, 0);
    return OK;
}

/* Like, unlike or toggle (`a`) and answer: the viewer's like and the count. */
static int tw_action_like(request_rec *r, tw_srv_conf *c, tw_format fmt, const char *mount,
                          const tw_action *a)
{
    const char *root = "../../";
    char target[TW_ID_MAX];
    tw_id_format(a->target, target);
    tw_action_result res;
    const char *err = NULL;
    if (tw_store_like(c->rt->store, r->pool, a, &res, &err) != APR_SUCCESS)
        return tw_action_unavailable(r, fmt, root, err);
    if (res.status != TW_ACTION_DONE)
        return tw_action_refused(r, fmt, root, &res, target);
    if (res.changed)
        tw_metrics_liked(tw_metrics_instance(), res.liked ? TW_METRICS_LIKE : TW_METRICS_UNLIKE);
    if (fmt == TW_FMT_JSON)
        return tw_reply_json(r, HTTP_OK,
                             json_pack("{s:s,s:b,s:i}", "id", target, "liked", res.liked, "likes",
                                       (json_int_t)res.likes));
    if (fmt == TW_FMT_FORM) {
        tw_page_changed(c); /* the page it goes back to shows the count */
        return tw_action_back(r, apr_pstrcat(r->pool, mount, "home#post-", target, NULL));
    }
    tw_buf b;
    tw_buf_init(&b, r->pool, 512);
    tw_html_like(&b, target, res.liked, res.likes, 1);
    return tw_action_fragment(r, &b);
}

/* Read the body's action (at most TweetsseMaxBody bytes). Returns DECLINED with *act set, else
 * what the handler returns (a refusal has been sent, or an error status). */
static int tw_action_read(request_rec *r, tw_srv_conf *c, tw_format fmt, tw_act *act)
{
    const char *root = "../../";
    char *body = NULL;
    size_t len = 0;
    int rc = tw_reply_read_body(r, c->max_body, &body, &len);
    if (rc == HTTP_REQUEST_ENTITY_TOO_LARGE)
        return tw_action_refuse(
            r, fmt, root, rc,
            apr_psprintf(r->pool, "the body is larger than %ld bytes", c->max_body));
    if (rc != OK) {
        tw_metrics_act_refused(tw_metrics_instance(), TW_METRICS_BAD_INPUT);
        return rc;
    }
    const char *why = tw_input_action(r->pool, body, len, fmt == TW_FMT_JSON, act);
    return why ? tw_action_refuse(r, fmt, root, HTTP_BAD_REQUEST, why) : DECLINED;
}

int tw_handle_action(request_rec *r, tw_srv_conf *c, const char *mount, const char *id)
{
    const char *root = "../../"; /* from <mount>home/post/<id> */
    const char *type = tw_reply_media_type(r);
    tw_format fmt = tw_reply_format(r, type);
    /* Who may act, before anything is read: from the feed's own pages, as a known visitor. */
    const char *why = tw_origin_refusal(r, c);
    if (why)
        return tw_action_refuse(r, fmt, root, HTTP_FORBIDDEN, why);
    tw_action a = {.addr = r->useragent_ip};
    if (!tw_id_parse(id, strlen(id), &a.target))
        return tw_action_refuse(r, fmt, root, HTTP_BAD_REQUEST,
                                "that is not a post id: it looks like 1700000000000-0");
    tw_visitor actor;
    if (!tw_visitor_author(r, c, mount, &actor, &why))
        return tw_action_refuse(r, fmt, root, HTTP_FORBIDDEN, why);
    a.who = actor.id;
    if ((why = tw_reply_type_refusal(fmt, type)))
        return tw_action_refuse(r, fmt, root, HTTP_UNSUPPORTED_MEDIA_TYPE, why);
    tw_act act;
    int rc = tw_action_read(r, c, fmt, &act);
    if (rc != DECLINED)
        return rc;
    if (act == TW_ACT_DELETE)
        return tw_action_remove(r, c, fmt, root, apr_pstrcat(r->pool, mount, "home", NULL), &a,
                                NULL);
    a.like = act == TW_ACT_LIKE ? 1 : act == TW_ACT_UNLIKE ? 0 : -1;
    return tw_action_like(r, c, fmt, mount, &a);
}
