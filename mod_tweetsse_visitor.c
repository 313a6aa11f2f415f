/* mod_tweetsse_visitor.c: the visitor's identity; see mod_tweetsse_visitor.h. */
#include "mod_tweetsse_visitor.h"
#include "mod_tweetsse_origin.h"
#include "src/tw_identity.h"
#include "src/tw_sign.h"
#include "src/tw_text.h"

#include <apr_general.h>
#include <apr_strings.h>
#include <util_cookies.h>

#define TW_COOKIE     "tw_name"
#define TW_COOKIE_AGE (365 * 24 * 3600)

/* r->user as a visitor, or 0 (logged: the operator chose the users) when it cannot be an
 * author's name. */
static int tw_visitor_remote_user(request_rec *r, tw_visitor *out)
{
    if (!r->user)
        return 0;
    const char *why = tw_text_check_username(r->user, strlen(r->user));
    if (why) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "TW0203: the authenticated user cannot be an author's name (%s)", why);
        return 0;
    }
    *out =
        (tw_visitor){.name = r->user, .id = apr_pstrcat(r->pool, "u:", r->user, NULL), .tag = ""};
    return 1;
}

/* Set the signed cookie of identity `id` and `name`. */
static void tw_visitor_set_cookie(request_rec *r, const tw_srv_conf *c, const char *mount,
                                  const char *id, const char *name)
{
    char value[TW_SIGNED_MAX];
    if (!tw_sign_visitor(&c->keys, id, name, strlen(name), value)) {
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

/* A new identity into `id` (TW_IDENTITY_LEN + 1 bytes). Returns 0 (logged) when there are no
 * random bytes: then there is no identity to give (a guessable one would be anybody's). */
static int tw_visitor_new_identity(request_rec *r, char *id)
{
    unsigned char rnd[16];
    apr_status_t rv = apr_generate_random_bytes(rnd, sizeof(rnd));
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, "TW0201: no random bytes for an identity");
        return 0;
    }
    tw_identity_make(rnd, id);
    return 1;
}

/* The visitor of a verified cookie `v`, given an identity if it had none and signed again
 * (with the current secret) when it was stale. Returns 0 when it needs an identity and none
 * can be made. */
static int tw_visitor_signed(request_rec *r, const tw_srv_conf *c, const char *mount, tw_signed *v,
                             tw_visitor *out)
{
    if (!v->id[0] && !tw_visitor_new_identity(r, v->id))
        return 0;
    if (v->stale)
        tw_visitor_set_cookie(r, c, mount, v->id, v->name);
    char tag[TW_IDENTITY_TAG_LEN + 1];
    tw_identity_tag(v->id, tag);
    *out = (tw_visitor){.name = apr_pstrmemdup(r->pool, v->name, v->name_len),
                        .id = apr_pstrcat(r->pool, "c:", v->id, NULL),
                        .tag = apr_pstrdup(r->pool, tag)};
    return 1;
}

int tw_visitor_get(request_rec *r, const tw_srv_conf *c, const char *mount, tw_visitor *out)
{
    if (c->identity == TW_IDENTITY_REMOTE_USER)
        return tw_visitor_remote_user(r, out);
    tw_signed v;
    if (tw_sign_from_cookies(&c->keys, apr_table_get(r->headers_in, "Cookie"), TW_COOKIE, &v))
        return tw_visitor_signed(r, c, mount, &v, out);
    if (!tw_visitor_new_identity(r, v.id))
        return 0;
    v.name_len = tw_identity_name(v.id, v.name);
    v.stale = 1; /* a new cookie */
    return tw_visitor_signed(r, c, mount, &v, out);
}

int tw_visitor_author(request_rec *r, const tw_srv_conf *c, const char *mount, tw_visitor *out,
                      const char **why)
{
    if (c->identity == TW_IDENTITY_REMOTE_USER) {
        if (tw_visitor_remote_user(r, out))
            return 1;
        *why = r->user ? "your user name cannot be shown as an author here (letters, digits, "
                         "'_' and '-', at most 32)"
                       : "sign in to post";
        return 0;
    }
    tw_signed v;
    if (!tw_sign_from_cookies(&c->keys, apr_table_get(r->headers_in, "Cookie"), TW_COOKIE, &v)) {
        *why = "load the feed page first: posting needs the name cookie it sets";
        return 0;
    }
    v.stale = !v.id[0]; /* only a cookie without an identity is signed again here */
    if (!tw_visitor_signed(r, c, mount, &v, out)) {
        *why = "no identity can be made for you right now; please try again";
        return 0;
    }
    return 1;
}
