/* fuzz_json: tw_input_json, the application/json POST body.
 *
 * Input: the first byte picks max_chars (see fuzz_max_chars), the rest is the body. The body
 * is placed right before a guard page, so that jansson (not built with ASan) reading past
 * the n bytes it is given crashes.
 *
 * Checks: a rejection comes with a short printable reason; an accepted body gives a post
 * that meets tw_input.h's contract (fuzz_check_post); the core agrees with the reference
 * rules applied to the members jansson reads (duplicates refused, username and message
 * strings) on accept/reject, username and normalised message; an accepted post sent again
 * as JSON and as a form is accepted unchanged. */
#include "fuzz_input.h"

#include <apr_general.h>

static fuzz_guard guard;

FUZZ_APR_POOL()

/* The reference: jansson parses (the JSON grammar is jansson's business), the rules of
 * tw_input.h and tw_text.h decide. Returns 1 for a valid post. */
static int ref_json(const char *body, size_t n, long max_chars, const char **user, size_t *ul,
                    const char **msg, size_t *ml)
{
    json_error_t err;
    json_t *root = json_loadb(body, n, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        return 0;
    int ok = 0;
    json_t *u = json_object_get(root, "username"), *m = json_object_get(root, "message");
    if (json_is_object(root) && (!u || json_is_string(u)) && json_is_string(m)) {
        size_t ulen = u ? json_string_length(u) : 0;
        char *ucopy = u ? apr_pstrmemdup(pool, json_string_value(u), ulen) : NULL;
        ok = ref_post(pool, ucopy, ulen, json_string_value(m), json_string_length(m), max_chars,
                      msg, ml);
        *user = ucopy;
        *ul = ulen;
    }
    json_decref(root);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    long max_chars = size ? fuzz_max_chars(data[0]) : 280;
    size_t n = size ? size - 1 : 0;
    const char *src = size ? (const char *)data + 1 : (const char *)data;
    char *body = fuzz_guard_tail(&guard, n);
    if (body)
        memcpy(body, src, n);
    else
        body = (char *)src; /* larger than the guarded area: unguarded */

    tw_input in;
    memset(&in, 0, sizeof(in));
    const char *why = tw_input_json(pool, body, n, max_chars, &in);
    fuzz_input_verdict(pool, why, &in, max_chars, ref_json, body, n);
    return 0;
}
