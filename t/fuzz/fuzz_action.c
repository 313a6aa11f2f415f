/* fuzz_action: tw_input_action and tw_input_post_id, the bodies of a POST to a post's URL
 * (its "action") and of a moderator's removal (its "post"), as a form or as JSON.
 *
 * Input: the first byte picks the parser (bit 0: post id, else action) and the body's kind
 * (bit 1: JSON, else form); the rest is the body, with its length and no NUL after it.
 *
 * Checks: a rejection comes with a short printable reason; the core agrees with a reference
 * reading on accept/reject and on the action or the id: a form's fields separated by '&', every
 * key decoded (a bad escape anywhere in a key refuses the body), the field exactly once, no NUL
 * in the body; a JSON object (duplicate keys refused) whose member is a string without NUL.
 * An accepted action or id, sent again as a form and as JSON, is accepted unchanged. */
#include "fuzz_common.h"
#include "tw_input.h"

#include <apr_pools.h>
#include <apr_strings.h>
#include <jansson.h>

FUZZ_APR_POOL()

static const char *const acts[] = {"delete", "like", "unlike", "toggle"};

/* The value of field `name` in a form body by the reference reading: 1 with *val (decoded),
 * 0 if the body is refused or the field is missing or twice. */
static int ref_form_field(const char *body, size_t n, const char *name, const char **val)
{
    if (memchr(body, '\0', n))
        return 0;
    const char *found = NULL;
    for (size_t start = 0;;) {
        const char *amp = memchr(body + start, '&', n - start);
        size_t end = amp ? (size_t)(amp - body) : n;
        const char *eq = memchr(body + start, '=', end - start);
        size_t kend = eq ? (size_t)(eq - body) : end;
        char *key = apr_palloc(pool, kend - start + 1);
        if (ref_urldecode(body + start, kend - start, key) < 0)
            return 0;
        if (!strcmp(key, name)) {
            size_t vstart = eq ? kend + 1 : end;
            char *v = apr_palloc(pool, end - vstart + 1);
            if (found || ref_urldecode(body + vstart, end - vstart, v) < 0)
                return 0;
            found = v;
        }
        if (end == n)
            break;
        start = end + 1;
    }
    *val = found;
    return found != NULL;
}

/* The same for a JSON body: an object, the member a string without NUL. */
static int ref_json_field(const char *body, size_t n, const char *name, const char **val)
{
    json_t *root = json_loadb(body, n, JSON_REJECT_DUPLICATES, NULL);
    json_t *v = json_is_object(root) ? json_object_get(root, name) : NULL;
    int ok = json_is_string(v) && !memchr(json_string_value(v), '\0', json_string_length(v));
    if (ok)
        *val = apr_pstrdup(pool, json_string_value(v));
    json_decref(root);
    return ok;
}

static void check_reason(const char *why)
{
    size_t n = strlen(why);
    FUZZ_CHECK(n > 0 && n < 200, "a reason of %zu bytes", n);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(why[i] >= 0x20 && why[i] < 0x7f, "a reason that is not printable ASCII");
}

/* Send `value` of field `name` again as a form and as JSON: `parse` must accept both. */
static void check_again(const char *name, const char *value,
                        const char *(*parse)(const char *, size_t, int, void *), void *out)
{
    char *form = apr_pstrcat(pool, name, "=", value, NULL); /* ids and actions need no escape */
    json_t *o = json_pack("{s:s}", name, value);
    char *json = o ? json_dumps(o, JSON_COMPACT) : NULL;
    FUZZ_CHECK(json != NULL, "out of memory");
    FUZZ_CHECK(!parse(form, strlen(form), 0, out), "'%s' refused as a form", value);
    FUZZ_CHECK(!parse(json, strlen(json), 1, out), "'%s' refused as JSON", value);
    free(json);
    json_decref(o);
}

static const char *parse_action(const char *b, size_t n, int json, void *out)
{
    return tw_input_action(pool, b, n, json, out);
}

static const char *parse_post(const char *b, size_t n, int json, void *out)
{
    return tw_input_post_id(pool, b, n, json, out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int mode = size ? data[0] : 0, json = (mode >> 1) & 1, post = mode & 1;
    const char *body = size ? (const char *)data + 1 : (const char *)data;
    size_t n = size ? size - 1 : 0;
    const char *name = post ? "post" : "action", *val = NULL;
    int have = json ? ref_json_field(body, n, name, &val) : ref_form_field(body, n, name, &val);
    if (post) {
        tw_id id = {0, 0};
        uint64_t ms, seq;
        int want = have && ref_id(val, strlen(val), &ms, &seq);
        const char *why = tw_input_post_id(pool, body, n, json, &id);
        FUZZ_CHECK((why == NULL) == want, "post id: core %s, reference %d", why ? why : "accepts",
                   want);
        if (why) {
            check_reason(why);
        } else {
            FUZZ_CHECK(id.ms == ms && id.seq == seq, "another id than the reference's");
            char text[TW_ID_MAX];
            tw_id_format(id, text);
            tw_id again = {0, 0};
            check_again(name, text, parse_post, &again);
            FUZZ_CHECK(!tw_id_cmp(again, id), "the id changed on the way round");
        }
    } else {
        int want = -1;
        for (int i = 0; have && i < 4; i++)
            if (!strcmp(val, acts[i]))
                want = i;
        tw_act act = (tw_act)-1;
        const char *why = tw_input_action(pool, body, n, json, &act);
        FUZZ_CHECK((why == NULL) == (want >= 0), "action: core %s, reference %d",
                   why ? why : "accepts", want);
        if (why) {
            check_reason(why);
        } else {
            FUZZ_CHECK((int)act == want, "action %d, reference %d", (int)act, want);
            tw_act again = (tw_act)-1;
            check_again(name, acts[want], parse_action, &again);
            FUZZ_CHECK(again == act, "the action changed on the way round");
        }
    }
    apr_pool_clear(pool);
    return 0;
}
