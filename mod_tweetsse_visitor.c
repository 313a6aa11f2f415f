/* mod_tweetsse_visitor.c: the visitor's stable fake name, kept in a cookie. */
#include "mod_tweetsse_visitor.h"
#include "src/tw_name.h"

#include <apr_general.h>
#include <apr_strings.h>
#include <util_cookies.h>

#define TW_COOKIE     "tw_name"
#define TW_COOKIE_AGE (365 * 24 * 3600)

const char *tw_visitor_name(request_rec *r, const char *mount)
{
    char name[TW_NAME_MAX];
    if (tw_name_from_cookies(apr_table_get(r->headers_in, "Cookie"), TW_COOKIE, name))
        return apr_pstrdup(r->pool, name);

    unsigned char rnd[4];
    apr_status_t rv = apr_generate_random_bytes(rnd, sizeof(rnd));
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r,
                      "TW0201: no random bytes for a name; using the request time");
        apr_uint64_t t = (apr_uint64_t)r->request_time;
        for (int i = 0; i < 4; i++)
            rnd[i] = (unsigned char)(t >> (8 * i));
    }
    tw_name_generate(rnd, name);
    const char *attrs = apr_pstrcat(r->pool, "Path=", mount, ";HttpOnly;SameSite=Lax", NULL);
    rv = ap_cookie_write(r, TW_COOKIE, name, attrs, TW_COOKIE_AGE, r->err_headers_out, NULL);
    if (rv != APR_SUCCESS)
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r, "TW0202: cannot set the name cookie");
    return apr_pstrdup(r->pool, name);
}
