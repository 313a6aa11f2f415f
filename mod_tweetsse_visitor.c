/* mod_tweetsse_visitor.c: the visitor's identity; see mod_tweetsse_visitor.h. */
#include "mod_tweetsse_visitor.h"
#include "mod_tweetsse_origin.h"
#include "src/tw_name.h"
#include "src/tw_sign.h"
#include "src/tw_text.h"

#include <apr_general.h>
#include <apr_strings.h>
#include <util_cookies.h>

#define TW_COOKIE     "tw_name"
#define TW_COOKIE_AGE (365 * 24 * 3600)

/* r->user if it can be an author's name, else NULL (logged: the operator chose the users). */
static const char *tw_visitor_remote_user(request_rec *r)
{
    if (!r->user)
        return NULL;
    const char *why = tw_text_check_username(r->user, strlen(r->user));
    if (why) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "TW0203: the authenticated user cannot be an author's name (%s)", why);
        return NULL;
    }
    return r->user;
}

/* Set the signed cookie for `name`. */
static void tw_visitor_set_cookie(request_rec *r, const tw_srv_conf *c, const char *mount,
                                  const char *name)
{
    char value[TW_SIGNED_MAX];
    if (!tw_sign_name(&c->keys, name, strlen(name), value)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "TW0204: cannot sign the name cookie");
        return;
    }
    const char *attrs = apr_pstrcat(r->pool, "Path=", mount, ";HttpOnly;SameSite=Lax",
                                    tw_origin_https(r, c) ? ";Secure" : "", NULL);
    apr_status_t rv =
        ap_cookie_write(r, TW_COOKIE, value, attrs, TW_COOKIE_AGE, r->headers_out, NULL);
    if (rv != APR_SUCCESS)
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r, "TW0202: cannot set the name cookie");
}

const char *tw_visitor_name(request_rec *r, const tw_srv_conf *c, const char *mount)
{
    if (c->identity == TW_IDENTITY_REMOTE_USER)
        return tw_visitor_remote_user(r);
    char name[TW_NAME_MAX];
    int stale = 0;
    if (tw_sign_from_cookies(&c->keys, apr_table_get(r->headers_in, "Cookie"), TW_COOKIE, name,
                             &stale)) {
        if (stale)
            tw_visitor_set_cookie(r, c, mount, name);
        return apr_pstrdup(r->pool, name);
    }
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
    tw_visitor_set_cookie(r, c, mount, name);
    return apr_pstrdup(r->pool, name);
}

const char *tw_visitor_author(request_rec *r, const tw_srv_conf *c, const char **why)
{
    if (c->identity == TW_IDENTITY_REMOTE_USER) {
        const char *user = tw_visitor_remote_user(r);
        if (!user)
            *why = r->user ? "your user name cannot be shown as an author here (letters, digits, "
                             "'_' and '-', at most 32)"
                           : "sign in to post";
        return user;
    }
    char name[TW_NAME_MAX];
    if (!tw_sign_from_cookies(&c->keys, apr_table_get(r->headers_in, "Cookie"), TW_COOKIE, name,
                              NULL)) {
        *why = "load the feed page first: posting needs the name cookie it sets";
        return NULL;
    }
    return apr_pstrdup(r->pool, name);
}
