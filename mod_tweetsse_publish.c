/* mod_tweetsse_publish.c: POST of a new post (form or JSON). Nothing is stored unless every
 * check passes; every refusal says why, in the request's own format. */
#include "mod_tweetsse_publish.h"
#include "mod_tweetsse_child.h"
#include "mod_tweetsse_origin.h"
#include "mod_tweetsse_page.h"
#include "mod_tweetsse_metrics.h"
#include "mod_tweetsse_reply.h"
#include "mod_tweetsse_visitor.h"
#include "src/tw_input.h"
#include "src/tw_store.h"
#include "src/tw_text.h"

#include <apr_strings.h>
#include <http_protocol.h>
#include <jansson.h>

/* Refuse the post: `status` with `reason` in the request's format; logged and counted. */
static int tw_refuse(request_rec *r, tw_format fmt, int status, const char *reason)
{
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "TW0401: post refused (%d): %s", status, reason);
    tw_metrics_refused(tw_metrics_instance(), tw_reply_refusal_of(status));
    return tw_reply_refusal(r, fmt, "", status, reason);
}

/* Read and parse the post: the body (at most TweetsseMaxBody), its message, a claimed author
 * that must be `author`, and a JSON post's Idempotency-Key. Returns DECLINED with `in` filled,
 * else what the handler returns (a refusal has been sent, or an error status). */
static int tw_publish_read(request_rec *r, tw_srv_conf *c, tw_format fmt, const char *author,
                           tw_input *in)
{
    char *body = NULL;
    size_t len = 0;
    const char *why;
    int rc = tw_reply_read_body(r, c->max_body, &body, &len);
    if (rc == HTTP_REQUEST_ENTITY_TOO_LARGE)
        return tw_refuse(r, fmt, rc,
                         apr_psprintf(r->pool, "the body is larger than %ld bytes", c->max_body));
    if (rc != OK) {
        tw_metrics_refused(tw_metrics_instance(), TW_METRICS_BAD_INPUT);
        return rc;
    }
    why = fmt == TW_FMT_JSON ? tw_input_json(r->pool, body, len, c->max_chars, in)
                             : tw_input_form(r->pool, body, len, c->max_chars, in);
    if (why)
        return tw_refuse(r, fmt, HTTP_BAD_REQUEST, why);
    if (in->username && strcmp(in->username, author) != 0)
        return tw_refuse(r, fmt, HTTP_FORBIDDEN,
                         apr_psprintf(r->pool, "you post as %s, not as %s", author, in->username));
    if (fmt == TW_FMT_JSON && (in->key = (char *)apr_table_get(r->headers_in, "Idempotency-Key"))) {
        in->key_len = strlen(in->key);
        if ((why = tw_text_check_key(in->key, in->key_len)))
            return tw_refuse(r, fmt, HTTP_BAD_REQUEST, why);
    }
    return DECLINED;
}

/* The store failed (`rv`, `err`): 503 with a reason that says whether the post may be stored
 * (no answer came, or the replicas did not confirm it) and whether sending it again is safe. */
static int tw_publish_unavailable(request_rec *r, tw_format fmt, const tw_publish *req,
                                  apr_status_t rv, const char *err)
{
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "TW0402: cannot store a post: %s", err);
    apr_table_setn(r->err_headers_out, "Retry-After", "5");
    int unknown = rv == APR_TIMEUP || rv == APR_INCOMPLETE;
    return tw_refuse(r, fmt, HTTP_SERVICE_UNAVAILABLE,
                     !unknown ? "the post store is unavailable; please try again in a moment"
                     : req->key
                         ? "the post store did not confirm the post in time; it may have been "
                           "stored: sending it again is safe, it will not appear twice"
                         : "the post store did not confirm the post in time; it may still "
                           "appear, so look before you send it again");
}

/* The answer to a stored (or replayed) post `id`: JSON 201 {"id"}, htmx 204, or a form's 303
 * back to the page, each with X-Post-Id. */
static int tw_publish_answer(request_rec *r, tw_format fmt, const char *mount, tw_id id)
{
    char idtxt[TW_ID_MAX];
    tw_id_format(id, idtxt);
    apr_table_set(r->err_headers_out, "X-Post-Id", idtxt); /* kept on the 303 too */
    if (fmt == TW_FMT_JSON)
        return tw_reply_json(r, HTTP_CREATED, json_pack("{s:s}", "id", idtxt));
    if (fmt == TW_FMT_HTMX) {
        r->status = HTTP_NO_CONTENT;
        return OK;
    }
    /* No JavaScript: back to the page, which now shows the post (303 See Other). Sent as a
     * plain response without a body: the error-document machinery that returning the
     * status would run costs more than the post itself. */
    apr_table_setn(r->headers_out, "Location", apr_pstrcat(r->pool, mount, "home", NULL));
    r->status = HTTP_SEE_OTHER;
    ap_set_content_length(r, 0);
    return OK;
}

/* Store the post by `author` and answer: 503 if the store fails, 429 if a rate limit refuses,
 * else the answer (a replay of an idempotent post answers with the first one's id). */
static int tw_publish_store(request_rec *r, tw_srv_conf *c, tw_format fmt, const char *mount,
                            const tw_visitor *author, const tw_input *in)
{
    tw_publish req = {.post = {.user = author->name,
                               .user_len = strlen(author->name),
                               .msg = in->message,
                               .msg_len = in->message_len,
                               .author = author->id,
                               .author_len = strlen(author->id)},
                      .key = in->key,
                      .key_len = in->key_len,
                      .addr = r->useragent_ip};
    tw_publish_result res;
    const char *err = NULL;
    apr_time_t t0 = apr_time_now();
    apr_status_t rv = tw_store_publish(c->rt->store, r->pool, &req, &res, &err);
    tw_metrics_publish_time(tw_metrics_instance(), apr_time_now() - t0);
    if (rv != APR_SUCCESS)
        return tw_publish_unavailable(r, fmt, &req, rv, err);
    if (res.retry_ms) {
        long secs = tw_reply_retry_after(r, res.retry_ms);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "TW0403: %s (%s) posts too fast; refused",
                      author->name, author->id);
        return tw_refuse(r, fmt, HTTP_TOO_MANY_REQUESTS,
                         apr_psprintf(r->pool, "slow down: you can post again in %ld s", secs));
    }
    if (res.replayed) {
        apr_table_setn(r->err_headers_out, "Idempotent-Replayed", "true");
        tw_metrics_refused(tw_metrics_instance(), TW_METRICS_REPLAYED);
    } else {
        tw_metrics_accepted(tw_metrics_instance());
    }
    tw_page_changed(c); /* read your own post on the redirected GET */
    return tw_publish_answer(r, fmt, mount, res.id);
}

int tw_handle_publish(request_rec *r, tw_srv_conf *c, const char *mount)
{
    const char *type = tw_reply_media_type(r);
    tw_format fmt = tw_reply_format(r, type);
    /* Who may post, before anything is read: from the feed's own pages, as a known author. */
    const char *why = tw_origin_refusal(r, c);
    if (why)
        return tw_refuse(r, fmt, HTTP_FORBIDDEN, why);
    tw_visitor author;
    if (!tw_visitor_author(r, c, mount, &author, &why))
        return tw_refuse(r, fmt, HTTP_FORBIDDEN, why);
    if ((why = tw_reply_type_refusal(fmt, type)))
        return tw_refuse(r, fmt, HTTP_UNSUPPORTED_MEDIA_TYPE, why);
    tw_input in;
    int rc = tw_publish_read(r, c, fmt, author.name, &in);
    if (rc != DECLINED)
        return rc;
    return tw_publish_store(r, c, fmt, mount, &author, &in);
}
