#include "tw_input.h"
#include "tw_text.h"

#include <apr_escape.h>
#include <apr_strings.h>
#include <jansson.h>
#include <string.h>

/* Validate the raw fields and store them in `in`, copied into `p`. `user` may be NULL. */
static const char *tw_input_check(apr_pool_t *p, const char *user, size_t ulen, const char *msg,
                                  size_t mlen, long max_chars, tw_input *in)
{
    if (!msg)
        return "message is missing";
    if ((user && memchr(user, '\0', ulen)) || memchr(msg, '\0', mlen))
        return "fields must not contain NUL characters";
    const char *why = user ? tw_text_check_username(user, ulen) : NULL;
    if (why)
        return why;
    char *m = apr_pstrmemdup(p, msg, mlen);
    why = tw_text_check_message(m, &mlen, max_chars);
    if (why)
        return why;
    in->username = user ? apr_pstrmemdup(p, user, ulen) : NULL;
    in->username_len = user ? ulen : 0;
    in->message = m;
    in->message_len = mlen;
    return NULL;
}

/* Decode one urlencoded component of `n` bytes into a pool string; NULL on a bad escape.
 * apr_unescape_url reads past `slen` (the byte at the end, and two more after a '%' there),
 * so it is given a NUL-terminated copy. The component holds no NUL byte (see tw_input_form). */
static const char *tw_form_decode(apr_pool_t *p, const char *s, size_t n, size_t *out_len)
{
    const char *buf = apr_punescape_url(p, apr_pstrmemdup(p, s, n), "", NULL, 1);
    if (!buf)
        return NULL;
    *out_len = strlen(buf);
    return buf;
}

const char *tw_input_form(apr_pool_t *p, const char *body, size_t n, long max_chars, tw_input *in)
{
    const char *user = NULL, *msg = NULL, *key = NULL;
    size_t ulen = 0, mlen = 0, klen = 0;
    const char *s = body, *end = body + n;
    /* A raw NUL would cut a value short when decoded (%00 is refused as a bad escape). */
    if (memchr(body, '\0', n))
        return "fields must not contain NUL characters";
    while (s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        const char *fend = amp ? amp : end;
        const char *eq = memchr(s, '=', (size_t)(fend - s));
        const char *vstart = eq ? eq + 1 : fend;
        size_t nlen = 0, vlen = 0;
        const char *name = tw_form_decode(p, s, (size_t)((eq ? eq : fend) - s), &nlen);
        if (!name)
            return "form body has a bad percent-escape";
        const char **slot = NULL;
        size_t *slot_len = NULL;
        if (strcmp(name, "username") == 0)
            slot = &user, slot_len = &ulen;
        else if (strcmp(name, "message") == 0)
            slot = &msg, slot_len = &mlen;
        else if (strcmp(name, "key") == 0)
            slot = &key, slot_len = &klen;
        if (slot) {
            if (*slot)
                return apr_psprintf(p, "%s is given twice", name);
            const char *val = tw_form_decode(p, vstart, (size_t)(fend - vstart), &vlen);
            if (!val)
                return "form body has a bad percent-escape";
            *slot = val;
            *slot_len = vlen;
        }
        if (!amp)
            break;
        s = amp + 1;
    }
    const char *why = key ? tw_text_check_key(key, klen) : NULL;
    if (why)
        return why;
    in->key = (char *)key;
    in->key_len = klen;
    return tw_input_check(p, user, ulen, msg, mlen, max_chars, in);
}

const char *tw_input_json(apr_pool_t *p, const char *body, size_t n, long max_chars, tw_input *in)
{
    json_error_t err;
    json_t *root = json_loadb(body, n, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        return "body is not valid JSON";
    const char *why = NULL;
    in->key = NULL;
    in->key_len = 0;
    if (!json_is_object(root)) {
        why = "JSON body must be an object";
    } else {
        json_t *u = json_object_get(root, "username");
        json_t *m = json_object_get(root, "message");
        if (u && !json_is_string(u))
            why = "username must be a string";
        else if (m && !json_is_string(m))
            why = "message must be a string";
        else
            why = tw_input_check(p, u ? json_string_value(u) : NULL, u ? json_string_length(u) : 0,
                                 m ? json_string_value(m) : NULL, m ? json_string_length(m) : 0,
                                 max_chars, in);
    }
    json_decref(root);
    return why;
}

/* The value of field `name` of a form body (decoded, into *value, NULL when absent), or a
 * reason: a bad escape, a NUL, the field twice. O(n). */
static const char *tw_input_form_field(apr_pool_t *p, const char *body, size_t n, const char *name,
                                       const char **value)
{
    const char *s = body, *end = body + n;
    *value = NULL;
    if (memchr(body, '\0', n))
        return "fields must not contain NUL characters";
    while (s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        const char *fend = amp ? amp : end;
        const char *eq = memchr(s, '=', (size_t)(fend - s));
        const char *vstart = eq ? eq + 1 : fend;
        size_t nlen = 0, vlen = 0;
        const char *got = tw_form_decode(p, s, (size_t)((eq ? eq : fend) - s), &nlen);
        if (!got)
            return "form body has a bad percent-escape";
        if (strcmp(got, name) == 0) {
            if (*value)
                return apr_psprintf(p, "%s is given twice", name);
            if (!(*value = tw_form_decode(p, vstart, (size_t)(fend - vstart), &vlen)))
                return "form body has a bad percent-escape";
        }
        s = amp ? amp + 1 : end;
    }
    return NULL;
}

/* The string member `name` of a JSON object body (a copy into *value, NULL when absent), or a
 * reason. */
static const char *tw_input_json_field(apr_pool_t *p, const char *body, size_t n, const char *name,
                                       const char **value)
{
    json_error_t err;
    json_t *root = json_loadb(body, n, JSON_REJECT_DUPLICATES, &err);
    *value = NULL;
    if (!root)
        return "body is not valid JSON";
    const char *why = NULL;
    json_t *v = json_is_object(root) ? json_object_get(root, name) : NULL;
    if (!json_is_object(root))
        why = "JSON body must be an object";
    else if (v && !json_is_string(v))
        why = apr_psprintf(p, "%s must be a string", name);
    else if (v && memchr(json_string_value(v), '\0', json_string_length(v)))
        why = "fields must not contain NUL characters";
    else if (v)
        *value = apr_pstrmemdup(p, json_string_value(v), json_string_length(v));
    json_decref(root);
    return why;
}

/* Field `name` of a form or JSON body: NULL with *value (never NULL), or a reason (also when
 * the field is missing). */
static const char *tw_input_field(apr_pool_t *p, const char *body, size_t n, int json,
                                  const char *name, const char **value)
{
    const char *why = json ? tw_input_json_field(p, body, n, name, value)
                           : tw_input_form_field(p, body, n, name, value);
    if (!why && !*value)
        why = apr_psprintf(p, "%s is missing", name);
    return why;
}

const char *tw_input_action(apr_pool_t *p, const char *body, size_t n, int json, tw_act *out)
{
    static const struct {
        const char *name;
        tw_act act;
    } acts[] = {{"delete", TW_ACT_DELETE},
                {"like", TW_ACT_LIKE},
                {"unlike", TW_ACT_UNLIKE},
                {"toggle", TW_ACT_TOGGLE}};
    const char *v;
    const char *why = tw_input_field(p, body, n, json, "action", &v);
    if (why)
        return why;
    for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]); i++) {
        if (strcmp(v, acts[i].name) == 0) {
            *out = acts[i].act;
            return NULL;
        }
    }
    return "action must be delete, like, unlike or toggle";
}

const char *tw_input_post_id(apr_pool_t *p, const char *body, size_t n, int json, tw_id *out)
{
    const char *v;
    const char *why = tw_input_field(p, body, n, json, "post", &v);
    if (why)
        return why;
    return tw_id_parse(v, strlen(v), out) ? NULL : "post is not a post id (like 1700000000000-0)";
}
