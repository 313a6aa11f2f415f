/* fuzz_input.h: the checks the form and json targets share. A post body the core accepts
 * must give a post that satisfies tw_input.h's contract; the reference rules below (written
 * from tw_text.h, not from tw_text.c) must agree with the core on accept or reject and on
 * the normalised text; and an accepted post, encoded again as a form or as JSON, must be
 * accepted again unchanged. */
#ifndef FUZZ_INPUT_H
#define FUZZ_INPUT_H

#include "fuzz_common.h"
#include "tw_input.h"
#include "tw_text.h"

#include <apr_pools.h>
#include <apr_strings.h>
#include <jansson.h>

typedef const char *(*fuzz_parse_fn)(apr_pool_t *, const char *, size_t, long, tw_input *);

/* Code point ranges, inclusive. */
typedef struct ref_range {
    uint32_t lo, hi;
} ref_range;

FUZZ_API int ref_in(const ref_range *r, size_t n, uint32_t cp)
{
    for (size_t i = 0; i < n; i++)
        if (cp >= r[i].lo && cp <= r[i].hi)
            return 1;
    return 0;
}

/* tw_text.h's blanks: Unicode White_Space, and U+200B, U+200C, U+200D, U+2060, U+FEFF. */
FUZZ_API int ref_msg_blank(uint32_t cp)
{
    static const ref_range blank[] = {
        {0x09, 0x0D},     {0x20, 0x20},     {0x85, 0x85},     {0xA0, 0xA0},     {0x1680, 0x1680},
        {0x2000, 0x200A}, {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000},
        {0x200B, 0x200D}, {0x2060, 0x2060}, {0xFEFF, 0xFEFF},
    };
    return ref_in(blank, sizeof(blank) / sizeof(blank[0]), cp);
}

/* tw_text.h's bidirectional controls, refused anywhere in a message. */
FUZZ_API int ref_msg_bidi(uint32_t cp)
{
    static const ref_range bidi[] = {
        {0x202A, 0x202E}, {0x2066, 0x2069}, {0x200E, 0x200F}, {0x061C, 0x061C}};
    return ref_in(bidi, sizeof(bidi) / sizeof(bidi[0]), cp);
}

/* The message rules of tw_text.h: CRLF and lone CR become LF; the text must be strict UTF-8
 * without a bidi control; blanks (ref_msg_blank) are trimmed from both ends, and what is left
 * is 1..max_chars code points without NUL, controls other than LF, DEL or C1 controls. Writes
 * the normalised text into `out` (room for n bytes and a NUL). Returns 1 if the message is
 * valid. */
FUZZ_API int ref_message(const char *raw, size_t n, long max_chars, char *out, size_t *out_len)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (raw[i] == '\r' && i + 1 < n && raw[i + 1] == '\n')
            continue; /* the LF that follows stands for the pair */
        out[w++] = raw[i] == '\r' ? '\n' : raw[i];
    }
    /* Decode every code point; the kept part runs from the first one that is not blank to the
     * end of the last one. */
    const unsigned char *p = (const unsigned char *)out;
    size_t a = 0, b = 0, i = 0, len;
    int seen = 0;
    uint32_t cp;
    for (; i < w; i += len) {
        len = ref_utf8_next(p + i, w - i, &cp);
        if (!len || ref_msg_bidi(cp))
            return 0;
        if (!ref_msg_blank(cp)) {
            if (!seen)
                a = i;
            seen = 1;
            b = i + len;
        }
    }
    if (!seen)
        return 0;
    memmove(out, out + a, b - a);
    w = b - a;
    out[w] = '\0';
    *out_len = w;
    long count = 0;
    for (i = 0; i < w; i += len, count++) {
        len = ref_utf8_next(p + i, w - i, &cp);
        if ((cp < 0x20 && cp != '\n') || (cp >= 0x7F && cp <= 0x9F))
            return 0;
    }
    return count <= max_chars;
}

/* A rejection reason is shown to the visitor: a short line of printable ASCII. */
FUZZ_API void fuzz_check_reason(const char *why)
{
    size_t n = strlen(why);
    FUZZ_CHECK(n > 0 && n < 200, "reason of %zu bytes", n);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(why[i] >= ' ' && why[i] <= '~', "reason byte 0x%02x: %s", (unsigned char)why[i],
                   why);
}

/* The contract of an accepted post (tw_input.h, tw_text.h). */
FUZZ_API void fuzz_check_post(const tw_input *in, long max_chars)
{
    FUZZ_CHECK(in->message, "accepted without a message");
    const char *u = in->username, *m = in->message;
    size_t ul = in->username_len, ml = in->message_len;
    if (u) {
        FUZZ_CHECK(u[ul] == '\0' && strlen(u) == ul, "username not NUL-terminated at its length");
        FUZZ_CHECK(ul >= 1 && ul <= TW_USERNAME_MAX, "username of %zu bytes", ul);
        FUZZ_CHECK(tw_text_check_username(u, ul) == NULL, "core refuses its own username");
        FUZZ_CHECK(ref_username_ok(u, ul), "username '%s' outside [A-Za-z0-9_-]", u);
    } else {
        FUZZ_CHECK(ul == 0, "no username but a length of %zu", ul);
    }
    if (in->key) {
        FUZZ_CHECK(in->key[in->key_len] == '\0', "key not NUL-terminated at its length");
        FUZZ_CHECK(ref_key_ok(in->key, in->key_len), "key '%s' is not 1..64 of [A-Za-z0-9_-]",
                   in->key);
    }

    FUZZ_CHECK(m[ml] == '\0', "message not NUL-terminated at its length");
    FUZZ_CHECK(memchr(m, '\0', ml) == NULL, "NUL inside the message");
    FUZZ_CHECK(ml >= 1, "empty message accepted");
    FUZZ_CHECK(memchr(m, '\r', ml) == NULL, "CR in the message");
    long count = ref_utf8_count(m, ml);
    FUZZ_CHECK(count >= 1, "message is not valid UTF-8");
    FUZZ_CHECK(count <= max_chars, "%ld code points, max_chars %ld", count, max_chars);
    const unsigned char *p = (const unsigned char *)m;
    size_t left = ml;
    uint32_t cp = 0;
    int first = 1;
    while (left) {
        size_t len = ref_utf8_next(p, left, &cp);
        FUZZ_CHECK((cp >= 0x20 || cp == '\n') && !(cp >= 0x7F && cp <= 0x9F),
                   "control character U+%04X in the message", (unsigned)cp);
        FUZZ_CHECK(!ref_msg_bidi(cp), "bidi control U+%04X in the message", (unsigned)cp);
        FUZZ_CHECK(!(first && ref_msg_blank(cp)), "message starts with blank U+%04X", (unsigned)cp);
        p += len, left -= len, first = 0;
    }
    FUZZ_CHECK(!ref_msg_blank(cp), "message ends with blank U+%04X", (unsigned)cp);
}

/* What the reference rules say of the raw (decoded) fields; NULL means absent. Returns 1 if
 * the post is valid, with the normalised message in a pool string. */
FUZZ_API int ref_post(apr_pool_t *p, const char *user, size_t ul, const char *msg, size_t ml,
                      long max_chars, const char **out_msg, size_t *out_len)
{
    if (!msg || (user && !ref_username_ok(user, ul)))
        return 0;
    char *norm = apr_palloc(p, ml + 1);
    if (!ref_message(msg, ml, max_chars, norm, out_len))
        return 0;
    *out_msg = norm;
    return 1;
}

/* The core's result `in` (accepted if `why` is NULL) against the reference's. */
FUZZ_API void fuzz_compare(const char *why, const tw_input *in, int ref_ok, const char *ref_user,
                           size_t ref_ul, const char *ref_msg, size_t ref_ml)
{
    FUZZ_CHECK((why == NULL) == ref_ok, "core %s (%s), reference %s", why ? "rejects" : "accepts",
               why ? why : "-", ref_ok ? "accepts" : "rejects");
    if (!ref_ok)
        return;
    FUZZ_CHECK(!in->username == !ref_user, "username %s, reference %s",
               in->username ? "given" : "absent", ref_user ? "given" : "absent");
    FUZZ_CHECK(!ref_user || (in->username_len == ref_ul && !memcmp(in->username, ref_user, ref_ul)),
               "username '%s', reference '%.*s'", in->username, (int)ref_ul, ref_user);
    FUZZ_CHECK(in->message_len == ref_ml && !memcmp(in->message, ref_msg, ref_ml),
               "message of %zu bytes differs from the reference's %zu", in->message_len, ref_ml);
}

/* Percent-encode s[0..n) for a form body: unreserved bytes as they are, space as '+', the
 * rest as %XX (alternating upper and lower case hex). */
FUZZ_API char *fuzz_form_encode(apr_pool_t *p, const char *s, size_t n)
{
    static const char *const hex[2] = {"0123456789ABCDEF", "0123456789abcdef"};
    char *out = apr_palloc(p, 3 * n + 1), *w = out;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            *w++ = (char)c;
        } else if (c == ' ') {
            *w++ = '+';
        } else {
            *w++ = '%';
            *w++ = hex[i & 1][c >> 4];
            *w++ = hex[i & 1][c & 15];
        }
    }
    *w = '\0';
    return out;
}

FUZZ_API void fuzz_same_post(const char *how, const char *why, const tw_input *again,
                             const tw_input *in)
{
    FUZZ_CHECK(why == NULL, "accepted post refused when sent again as %s: %s", how, why);
    FUZZ_CHECK(again->username_len == in->username_len && !again->username == !in->username &&
                   (!in->username || !strcmp(again->username, in->username)),
               "username changed when sent again as %s", how);
    FUZZ_CHECK(again->message_len == in->message_len && !strcmp(again->message, in->message),
               "message changed when sent again as %s", how);
}

/* An accepted post, sent again as a form and as JSON, is accepted unchanged (normalising
 * a normalised message changes nothing). */
FUZZ_API void fuzz_resend(apr_pool_t *p, const tw_input *in, long max_chars)
{
    tw_input again;
    const char *body =
        apr_pstrcat(p, "message=", fuzz_form_encode(p, in->message, in->message_len),
                    in->username ? "&username=" : "",
                    in->username ? fuzz_form_encode(p, in->username, in->username_len) : "", NULL);
    memset(&again, 0, sizeof(again));
    const char *why = tw_input_form(p, body, strlen(body), max_chars, &again);
    fuzz_same_post("a form", why, &again, in);

    json_t *obj = json_object();
    FUZZ_CHECK(obj != NULL, "out of memory");
    json_t *m = json_stringn(in->message, in->message_len);
    FUZZ_CHECK(m, "jansson refuses the accepted post's message");
    if (in->username) {
        json_t *u = json_stringn(in->username, in->username_len);
        FUZZ_CHECK(u, "jansson refuses the accepted post's username");
        json_object_set_new(obj, "username", u);
    }
    json_object_set_new(obj, "message", m);
    char *text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    FUZZ_CHECK(text != NULL, "json_dumps");
    memset(&again, 0, sizeof(again));
    why = tw_input_json(p, text, strlen(text), max_chars, &again);
    fuzz_same_post("JSON", why, &again, in);
    free(text);
}

/* What both targets check once the core has read a body into `in` (or refused it with `why`),
 * given `ref`, the reference reading of the same body: the result itself, the agreement, and
 * (if accepted) the post sent again in both formats. Clears the pool. */
typedef int fuzz_ref_fn(const char *body, size_t n, long max_chars, const char **user, size_t *ulen,
                        const char **msg, size_t *mlen);

FUZZ_API void fuzz_input_verdict(apr_pool_t *p, const char *why, const tw_input *in, long max_chars,
                                 fuzz_ref_fn *ref, const char *body, size_t n)
{
    if (why)
        fuzz_check_reason(why);
    else
        fuzz_check_post(in, max_chars);
    const char *ru = NULL, *rm = NULL;
    size_t rul = 0, rml = 0;
    int ref_ok = ref(body, n, max_chars, &ru, &rul, &rm, &rml);
    fuzz_compare(why, in, ref_ok, ru, rul, rm, rml);
    if (!why)
        fuzz_resend(p, in, max_chars);
    apr_pool_clear(p);
}

#endif
