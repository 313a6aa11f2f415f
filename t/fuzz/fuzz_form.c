/* fuzz_form: tw_input_form, the application/x-www-form-urlencoded POST body.
 *
 * Input: the first byte picks max_chars (see fuzz_max_chars), the rest is the body, passed
 * with its length and no NUL after it, as the module passes the request body.
 *
 * Checks: a rejection comes with a short printable reason; an accepted body gives a post
 * that meets tw_input.h's contract (fuzz_check_post); the core agrees with a reference
 * reading of the body on accept/reject, username and normalised message; an accepted post
 * sent again as a form and as JSON is accepted unchanged. */
#include "fuzz_input.h"

#include <apr_general.h>

FUZZ_APR_POOL()

/* The reference reading: fields separated by '&', the key up to the first '='; every key is
 * decoded (a bad escape in any key refuses the body), the value only for username and
 * message, each of which must come exactly once. Returns 1 for a valid post. */
static int ref_form(const char *body, size_t n, long max_chars, const char **user, size_t *ul,
                    const char **msg, size_t *ml)
{
    if (memchr(body, '\0', n))
        return 0;
    const char *u = NULL, *m = NULL, *k = NULL;
    size_t ulen = 0, mlen = 0, klen = 0;
    size_t start = 0;
    for (;;) {
        const char *amp = memchr(body + start, '&', n - start);
        size_t end = amp ? (size_t)(amp - body) : n;
        const char *eq = memchr(body + start, '=', end - start);
        size_t kend = eq ? (size_t)(eq - body) : end;
        char *key = apr_palloc(pool, kend - start + 1);
        if (ref_urldecode(body + start, kend - start, key) < 0)
            return 0;
        const char **slot = NULL;
        size_t *slot_len = NULL;
        if (!strcmp(key, "username"))
            slot = &u, slot_len = &ulen;
        else if (!strcmp(key, "message"))
            slot = &m, slot_len = &mlen;
        else if (!strcmp(key, "key"))
            slot = &k, slot_len = &klen;
        if (slot) {
            if (*slot)
                return 0;
            size_t vstart = eq ? kend + 1 : end;
            char *val = apr_palloc(pool, end - vstart + 1);
            long vlen = ref_urldecode(body + vstart, end - vstart, val);
            if (vlen < 0)
                return 0;
            *slot = val;
            *slot_len = (size_t)vlen;
        }
        if (end == n)
            break;
        start = end + 1;
    }
    if (k && !ref_key_ok(k, klen))
        return 0;
    *user = u;
    *ul = ulen;
    return ref_post(pool, u, ulen, m, mlen, max_chars, msg, ml);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    long max_chars = size ? fuzz_max_chars(data[0]) : 280;
    const char *body = size ? (const char *)data + 1 : (const char *)data;
    size_t n = size ? size - 1 : 0;

    tw_input in;
    memset(&in, 0, sizeof(in));
    const char *why = tw_input_form(pool, body, n, max_chars, &in);
    fuzz_input_verdict(pool, why, &in, max_chars, ref_form, body, n);
    return 0;
}
