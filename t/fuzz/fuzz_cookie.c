/* fuzz_cookie: tw_name_from_cookies, the visitor's name cookie "tw_name" in a Cookie header.
 *
 * Input: the header value (as a C string: it ends at the first NUL byte, if any). The empty
 * input also tries a missing header (NULL).
 *
 * Checks: a found name has 1..TW_NAME_MAX-1 bytes, is NUL-terminated at the returned length,
 * is a valid username, and occurs in the header as the value of a "tw_name=" cookie; the
 * core agrees with a reference reading of the header (cookies separated by ';', leading
 * blanks and trailing blanks of each skipped, the first tw_name cookie with a valid value
 * wins). The output buffer is exactly TW_NAME_MAX bytes so that ASan sees an overflow. */
#include "fuzz_common.h"
#include "tw_name.h"
#include "tw_text.h"

#define COOKIE "tw_name"

/* The reference: returns the length of the first valid tw_name value, its start in *val. */
static size_t ref_cookie(const char *h, const char **val)
{
    const size_t nlen = strlen(COOKIE);
    for (const char *p = h;; p++) {
        const char *semi = strchr(p, ';');
        const char *end = semi ? semi : p + strlen(p);
        while (p < end && ref_is_blank(*p))
            p++;
        if ((size_t)(end - p) > nlen && !memcmp(p, COOKIE, nlen) && p[nlen] == '=') {
            const char *v = p + nlen + 1, *e = end;
            while (e > v && ref_is_blank(e[-1]))
                e--;
            if (ref_username_ok(v, (size_t)(e - v))) {
                *val = v;
                return (size_t)(e - v);
            }
        }
        if (!semi)
            return 0;
        p = semi;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *out = malloc(TW_NAME_MAX);
    FUZZ_CHECK(out != NULL, "out of memory");
    if (size == 0)
        FUZZ_CHECK(tw_name_from_cookies(NULL, COOKIE, out) == 0, "a name without a header");

    char *h = fuzz_cstr(data, size);
    memset(out, 'Z', TW_NAME_MAX);
    size_t n = tw_name_from_cookies(h, COOKIE, out);
    const char *rv = NULL;
    size_t rn = ref_cookie(h, &rv);
    if (n) {
        FUZZ_CHECK(n <= TW_NAME_MAX - 1 && n <= TW_USERNAME_MAX, "name of %zu bytes", n);
        FUZZ_CHECK(out[n] == '\0' && strlen(out) == n, "name not NUL-terminated at its length");
        FUZZ_CHECK(tw_text_check_username(out, n) == NULL, "core refuses its own name '%s'", out);
        FUZZ_CHECK(ref_username_ok(out, n), "name '%s' outside [A-Za-z0-9_-]", out);
        char *pair = malloc(strlen(COOKIE) + 1 + n + 1);
        FUZZ_CHECK(pair != NULL, "out of memory");
        sprintf(pair, "%s=%s", COOKIE, out);
        FUZZ_CHECK(strstr(h, pair) != NULL, "'%s' does not occur in the header", pair);
        free(pair);
    }
    FUZZ_CHECK(n == rn, "core finds %zu bytes, reference %zu", n, rn);
    FUZZ_CHECK(!n || !memcmp(out, rv, n), "core finds '%s', reference '%.*s'", out, (int)rn, rv);
    free(h);
    free(out);
    return 0;
}
