/* mod_tweetsse_reply.c: see mod_tweetsse_reply.h. */
#include "mod_tweetsse_reply.h"
#include "src/tw_buf.h"
#include "src/tw_html.h"

#include <apr_strings.h>
#include <http_protocol.h>
#include <jansson.h>

const char *tw_reply_media_type(request_rec *r)
{
    const char *ct = apr_table_get(r->headers_in, "Content-Type");
    if (!ct)
        return "";
    char *t = apr_pstrndup(r->pool, ct, strcspn(ct, "; \t"));
    ap_str_tolower(t);
    return t;
}

tw_format tw_reply_format(request_rec *r, const char *type)
{
    if (strcmp(type, "application/json") == 0)
        return TW_FMT_JSON;
    return apr_table_get(r->headers_in, "HX-Request") ? TW_FMT_HTMX : TW_FMT_FORM;
}

const char *tw_reply_type_refusal(tw_format fmt, const char *type)
{
    if (fmt == TW_FMT_JSON || strcmp(type, "application/x-www-form-urlencoded") == 0)
        return NULL;
    return "send application/x-www-form-urlencoded or application/json";
}

int tw_reply_read_body(request_rec *r, long max, char **out, size_t *len)
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

int tw_reply_json(request_rec *r, int status, json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s)
        return HTTP_INTERNAL_SERVER_ERROR;
    r->status = status;
    ap_set_content_type(r, "application/json");
    ap_set_content_length(r, (apr_off_t)strlen(s));
    ap_rputs(s, r);
    free(s);
    return OK;
}

int tw_reply_refusal(request_rec *r, tw_format fmt, const char *root, int status,
                     const char *reason)
{
    if (fmt == TW_FMT_JSON && tw_reply_json(r, status, json_pack("{s:s}", "error", reason)) == OK)
        return OK;
    tw_buf b;
    tw_buf_init(&b, r->pool, 512);
    if (fmt == TW_FMT_HTMX || fmt == TW_FMT_JSON) {
        tw_buf_adds(&b, reason);
        ap_set_content_type(r, "text/plain; charset=utf-8");
    } else {
        tw_html_error_page(&b, root, ap_get_status_line(status) + 4, reason);
        ap_set_content_type(r, "text/html; charset=utf-8");
    }
    r->status = status;
    ap_set_content_length(r, (apr_off_t)b.len);
    ap_rwrite(b.data, (int)b.len, r);
    return OK;
}

tw_metrics_refusal tw_reply_refusal_of(int status)
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

long tw_reply_retry_after(request_rec *r, long retry_ms)
{
    long secs = (retry_ms + 999) / 1000;
    apr_table_setn(r->err_headers_out, "Retry-After", apr_ltoa(r->pool, secs));
    return secs;
}
