/* fuzz_cookie: tw_sign_from_cookies, the visitor's signed name cookie "tw_name" in a Cookie
 * header, under a fixed secret.
 *
 * Input: the header value (as a C string: it ends at the first NUL byte, if any). The empty
 * input also tries a missing header (NULL).
 *
 * Checks: a found name has 1..TW_NAME_MAX-1 bytes, is NUL-terminated at the returned length,
 * is a valid username, and "tw_name=<name>.<its MAC>" occurs in the header; the core agrees
 * with a reference reading of the header (cookies separated by ';', leading and trailing
 * blanks of each skipped, the first tw_name cookie whose value is exactly what signing its
 * name part gives wins). The output buffer is exactly TW_NAME_MAX bytes so that ASan sees an
 * overflow. The corpus holds values signed with this secret, so mutations start from values
 * that verify. */
#include "fuzz_common.h"
#include "tw_sign.h"
#include "tw_text.h"

#define COOKIE "tw_name"
#define SECRET "0123456789abcdef0123456789abcdef"

static const tw_keys keys = {{(const unsigned char *)SECRET, sizeof(SECRET) - 1}, {NULL, 0}};

/* Is `v` (`n` bytes) "<name>.<mac>" as tw_sign_name writes it for that name? */
static int ref_signed(const char *v, size_t n)
{
    const char *dot = memrchr(v, '.', n);
    if (!dot || !ref_username_ok(v, (size_t)(dot - v)))
        return 0;
    char want[TW_SIGNED_MAX];
    size_t wn = tw_sign_name(&keys, v, (size_t)(dot - v), want);
    return wn == n && !memcmp(want, v, n);
}

/* The reference: returns the length of the first valid tw_name name, its start in *val. */
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
            if (ref_signed(v, (size_t)(e - v))) {
                *val = v;
                return (size_t)(e - v) - 1 - TW_SIGN_MAC_LEN;
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
        FUZZ_CHECK(tw_sign_from_cookies(&keys, NULL, COOKIE, out, NULL) == 0,
                   "a name without a header");

    char *h = fuzz_cstr(data, size);
    memset(out, 'Z', TW_NAME_MAX);
    size_t n = tw_sign_from_cookies(&keys, h, COOKIE, out, NULL);
    const char *rv = NULL;
    size_t rn = ref_cookie(h, &rv);
    if (n) {
        FUZZ_CHECK(n <= TW_NAME_MAX - 1 && n <= TW_USERNAME_MAX, "name of %zu bytes", n);
        FUZZ_CHECK(out[n] == '\0' && strlen(out) == n, "name not NUL-terminated at its length");
        FUZZ_CHECK(tw_text_check_username(out, n) == NULL, "core refuses its own name '%s'", out);
        FUZZ_CHECK(ref_username_ok(out, n), "name '%s' outside [A-Za-z0-9_-]", out);
        char value[TW_SIGNED_MAX];
        FUZZ_CHECK(tw_sign_name(&keys, out, n, value) != 0, "cannot sign '%s'", out);
        char *pair = malloc(strlen(COOKIE) + 1 + sizeof(value));
        FUZZ_CHECK(pair != NULL, "out of memory");
        sprintf(pair, "%s=%s", COOKIE, value);
        FUZZ_CHECK(strstr(h, pair) != NULL, "'%s' does not occur in the header", pair);
        free(pair);
    }
    FUZZ_CHECK(n == rn, "core finds %zu bytes, reference %zu", n, rn);
    FUZZ_CHECK(!n || !memcmp(out, rv, n), "core finds '%s', reference '%.*s'", out, (int)rn, rv);
    free(h);
    free(out);
    return 0;
}
