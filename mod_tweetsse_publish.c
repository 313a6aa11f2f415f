/* mod_tweetsse_publish.c: POST of a new post (form or JSON). Nothing is stored unless every
 * check passes; every refusal says why, in the request's own format. */
#include "mod_tweetsse_publish.h"
#include "mod_tweetsse_child.h"
#include "mod_tweetsse_origin.h"
#include "mod_tweetsse_page.h"
#include "mod_tweetsse_metrics.h"
#include "mod_tweetsse_visitor.h"
#include "src/tw_html.h"
#include "src/tw_input.h"
#include "src/tw_store.h"
#include "src/tw_text.h"

#include <apr_strings.h>
#include <http_protocol.h>
#include <jansson.h>

typedef enum { TW_FMT_FORM, TW_FMT_HTMX, TW_FMT_JSON } tw_format;

/* The metric a refusal with `status` counts under (tw_metrics). */
static tw_metrics_refusal tw_refusal_of(int status)
{
    switch (status) {
    case HTTP_FORBIDDEN:
        return TW_METRICS_FORBIDDEN;
    case HTTP_TOO_MANY_REQUESTS:
        return TW_METRICS_RATE_LIMITED;
    case HTTP_SERVICE_UNAVAILABLE:
        return TW_METRICS_STORE_FAILED;
    default:
        return TW_METRICS_BAD_INPUT;
    }
}

/* Send `status` with a body: {"error": reason} for JSON, plain text for htmx (shown next to
 * the form), an HTML page for a plain form post. */
static int tw_refuse(request_rec *r, tw_format fmt, int status, const char *reason)
{
    tw_buf b;
    tw_buf_init(&b, r->pool, 512);
    if (fmt == TW_FMT_JSON) {
        json_t *o = json_pack("{s:s}", "error", reason);
        char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
        tw_buf_adds(&b, s ? s : "{\"error\":\"internal error\"}");
        free(s);
        json_decref(o);
        ap_set_content_type(r, "application/json");
    } else if (fmt == TW_FMT_HTMX) {
        tw_buf_adds(&b, reason);
        ap_set_content_type(r, "text/plain; charset=utf-8");
    } else {
        tw_html_error_page(&b, "", ap_get_status_line(status) + 4, reason);
        ap_set_content_type(r, "text/html; charset=utf-8");
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "TW0401: post refused (%d): %s", status, reason);
    tw_metrics_refused(tw_metrics_instance(), tw_refusal_of(status));
    r->status = status;
    ap_set_content_length(r, (apr_off_t)b.len);
    ap_rwrite(b.data, (int)b.len, r);
    return OK;
}

/* Read the whole body into `*out` if it is at most `max` bytes. Returns OK, or
 * HTTP_REQUEST_ENTITY_TOO_LARGE, or another error status. Cost: one copy of the body. */
static int tw_read_body(request_rec *r, long max, char **out, size_t *len)
{
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    if (cl && apr_atoi64(cl) > max)
        return HTTP_REQUEST_ENTITY_TOO_LARGE;
    int rc = ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK);
    if (rc != OK)
        return rc;
    char *buf = apr_palloc(r->pool, (apr_size_t)max + 1);
    size_t n = 0;
    if (ap_should_client_block(r)) {
        for (;;) {
            long got = ap_get_client_block(r, buf + n, (apr_size_t)max + 1 - n);
            if (got < 0)
                return HTTP_BAD_REQUEST;
            if (got == 0)
                break;
            n += (size_t)got;
            if (n > (size_t)max)
                return HTTP_REQUEST_ENTITY_TOO_LARGE;
        }
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return OK;
}

/* Media type of the request without parameters, lower-cased. */
static const char *tw_media_type(request_rec *r)
{
    const char *ct = apr_table_get(r->headers_in, "Content-Type");
    if (!ct)
        return "";
    char *t = apr_pstrndup(r->pool, ct, strcspn(ct, "; \t"));
    ap_str_tolower(t);
    return t;
}

/* The request's format (how refusals and the answer are written) and whether it is JSON. */
static tw_format tw_publish_format(request_rec *r, const char *type)
{
    if (strcmp(type, "application/json") == 0)
        return TW_FMT_JSON;
    return apr_table_get(r->headers_in, "HX-Request") ? TW_FMT_HTMX : TW_FMT_FORM;
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
    int rc = tw_read_body(r, c->max_body, &body, &len);
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
    if (fmt == TW_FMT_JSON) {
        const char *out = apr_psprintf(r->pool, "{\"id\":\"%s\"}", idtxt);
        r->status = HTTP_CREATED;
        ap_set_content_type(r, "application/json");
        ap_set_content_length(r, (apr_off_t)strlen(out));
        ap_rputs(out, r);
        return OK;
    }
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
                               .author_len = strlen(author->id),
                               .tag = author->tag,
                               .tag_len = strlen(author->tag)},
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
        long secs = (res.retry_ms + 999) / 1000;
        apr_table_setn(r->err_headers_out, "Retry-After", apr_ltoa(r->pool, secs));
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
    tw_page_posted(c); /* read your own post on the redirected GET */
    return tw_publish_answer(r, fmt, mount, res.id);
}

int tw_handle_publish(request_rec *r, tw_srv_conf *c, const char *mount)
{
    const char *type = tw_media_type(r);
    tw_format fmt = tw_publish_format(r, type);
    /* Who may post, before anything is read: from the feed's own pages, as a known author. */
    const char *why = tw_origin_refusal(r, c);
    if (why)
        return tw_refuse(r, fmt, HTTP_FORBIDDEN, why);
    tw_visitor author;
    if (!tw_visitor_author(r, c, mount, &author, &why))
        return tw_refuse(r, fmt, HTTP_FORBIDDEN, why);
    if (fmt != TW_FMT_JSON && strcmp(type, "application/x-www-form-urlencoded") != 0)
        return tw_refuse(r, fmt, HTTP_UNSUPPORTED_MEDIA_TYPE,
                         "send application/x-www-form-urlencoded or application/json");
    tw_input in;
    int rc = tw_publish_read(r, c, fmt, author.name, &in);
    if (rc != DECLINED)
        return rc;
    return tw_publish_store(r, c, fmt, mount, &author, &in);
}
