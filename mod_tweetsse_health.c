/* mod_tweetsse_health.c: the health check. It proves what a balancer needs to know, that a post
 * made anywhere reaches the streams of this child now: it is not enough that Redis answers. */
#include "mod_tweetsse_health.h"
#include "mod_tweetsse_child.h"

#include <apr_strings.h>
#include <http_protocol.h>

#define TW_HEALTH_MAX 2000 /* ms: the longest a check waits for its canary */

int tw_handle_health(request_rec *r, tw_srv_conf *c)
{
    long ms = c->feed.timeout_ms < TW_HEALTH_MAX ? c->feed.timeout_ms : TW_HEALTH_MAX;
    const char *why = NULL;
    apr_status_t rv = tw_store_probe(c->rt->store, r->pool, apr_time_from_msec(ms), &why);
    const char *body = "ok\n";
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, rv, r, "TW0701: health check failed: %s", why);
        r->status = HTTP_SERVICE_UNAVAILABLE;
        body = apr_pstrcat(r->pool, why, "\n", NULL);
    }
    ap_set_content_type(r, "text/plain; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_set_content_length(r, (apr_off_t)strlen(body));
    if (!r->header_only)
        ap_rputs(body, r);
    return OK;
}
