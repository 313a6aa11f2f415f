/* mod_tweetsse_origin.c: see mod_tweetsse_origin.h. */
#include "mod_tweetsse_origin.h"
#include "src/tw_origin.h"

#include <apr_network_io.h>
#include <apr_strings.h>
#include <http_protocol.h>

/* Is the TCP peer (not the address mod_remoteip may have put in its place) a trusted proxy? */
static int tw_origin_from_proxy(request_rec *r, const tw_srv_conf *c)
{
    if (!c->trusted || !r->connection->client_addr)
        return 0;
    for (int i = 0; i < c->trusted->nelts; i++)
        if (apr_ipsubnet_test(APR_ARRAY_IDX(c->trusted, i, apr_ipsubnet_t *),
                              r->connection->client_addr))
            return 1;
    return 0;
}

/* The first value of a forwarded header (proxies append theirs: the first is the client's),
 * trimmed; NULL if absent or empty. */
static const char *tw_origin_forwarded(request_rec *r, const char *name)
{
    const char *v = apr_table_get(r->headers_in, name);
    if (!v)
        return NULL;
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strcspn(v, ", \t");
    return n ? apr_pstrmemdup(r->pool, v, n) : NULL;
}

int tw_origin_https(request_rec *r, const tw_srv_conf *c)
{
    if (!strcasecmp(ap_http_scheme(r), "https"))
        return 1;
    const char *proto =
        tw_origin_from_proxy(r, c) ? tw_origin_forwarded(r, "X-Forwarded-Proto") : NULL;
    return proto && !strcasecmp(proto, "https");
}

const char *tw_origin_refusal(request_rec *r, const tw_srv_conf *c)
{
    const char *host = apr_table_get(r->headers_in, "Host");
    if (tw_origin_from_proxy(r, c)) {
        const char *fwd = tw_origin_forwarded(r, "X-Forwarded-Host");
        if (fwd)
            host = fwd;
    }
    return tw_origin_check(apr_table_get(r->headers_in, "Sec-Fetch-Site"),
                           apr_table_get(r->headers_in, "Origin"),
                           tw_origin_https(r, c) ? "https" : "http", host);
}
