/* fuzz_cookie: tw_sign_from_cookies, the visitor's signed cookie "tw_name" in a Cookie header,
 * under a fixed secret: "<name>.<identity>.<mac>", or the first version's "<name>.<mac>".
 *
 * Input: the header value (as a C string: it ends at the first NUL byte, if any). The empty
 * input also tries a missing header (NULL).
 *
 * Checks: a found name has 1..TW_USERNAME_MAX bytes, is NUL-terminated at its length and is a
 * valid username; a found identity is empty or 22 characters that tw_identity_valid accepts;
 * the core agrees with a reference reading of the header (cookies separated by ';', leading and
 * trailing blanks of each skipped, the first tw_name cookie whose MAC, computed here with
 * OpenSSL's HMAC over the version's context, matches wins) on the name, the identity and
 * staleness (of the first version). The corpus holds values signed with this secret, of both
 * versions, so mutations start from values that verify. */
#include "fuzz_common.h"
#include "tw_sign.h"
#include "tw_text.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#define COOKIE "tw_name"
#define SECRET "0123456789abcdef0123456789abcdef"

static const tw_keys keys = {{(const unsigned char *)SECRET, sizeof(SECRET) - 1}, {NULL, 0}};

/* Is [s, s+n) canonical base64url of 16 bytes (22 characters, the spare bits zero)? */
static int ref_identity(const char *s, size_t n)
{
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    if (n != 22)
        return 0;
    for (size_t i = 0; i < n; i++) {
        const char *at = s[i] ? strchr(alpha, s[i]) : NULL;
        if (!at || (i == 21 && ((at - alpha) & 15)))
            return 0;
    }
    return 1;
}

/* The base64url (no padding) of the HMAC-SHA-256 of `msg` under the secret, into out[44]. */
static void ref_mac(const char *msg, size_t n, char out[44])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    HMAC(EVP_sha256(), SECRET, (int)sizeof(SECRET) - 1, (const unsigned char *)msg, n, md, &mdlen);
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < 32; i += 3) { /* 10 whole groups of 3 bytes, then 2 bytes */
        unsigned v = (unsigned)md[i] << 16 | (i + 1 < 32 ? (unsigned)md[i + 1] << 8 : 0) |
                     (i + 2 < 32 ? md[i + 2] : 0);
        int chars = i + 2 < 32 ? 4 : 3;
        for (int k = 0; k < chars; k++)
            out[o++] = alpha[(v >> (18 - 6 * k)) & 63];
    }
    out[o] = '\0';
}

/* Does `v` (`n` bytes) verify? Sets *name (its length *nlen) and *id (NULL for the first
 * version). */
static int ref_signed(const char *v, size_t n, const char **name, size_t *nlen, const char **id)
{
    if (n < 2 + 43 || v[n - 44] != '.')
        return 0;
    size_t rest = n - 44;
    const char *dot = memchr(v, '.', rest);
    *id = dot ? dot + 1 : NULL;
    *nlen = dot ? (size_t)(dot - v) : rest;
    *name = v;
    if (!ref_username_ok(v, *nlen) || (dot && !ref_identity(*id, rest - *nlen - 1)))
        return 0;
    char msg[128], mac[44];
    int m = dot ? snprintf(msg, sizeof(msg), "tweetsse-id-v2:%.22s.%.*s", *id, (int)*nlen, v)
                : snprintf(msg, sizeof(msg), "tweetsse-name-v1:%.*s", (int)*nlen, v);
    ref_mac(msg, (size_t)m, mac);
    return memcmp(mac, v + n - 43, 43) == 0;
}

/* The reference: 1 for the first tw_name value that verifies, with its parts. */
static int ref_cookie(const char *h, const char **name, size_t *nlen, const char **id)
{
    const size_t clen = strlen(COOKIE);
    for (const char *p = h;; p++) {
        const char *semi = strchr(p, ';');
        const char *end = semi ? semi : p + strlen(p);
        while (p < end && ref_is_blank(*p))
            p++;
        if ((size_t)(end - p) > clen && !memcmp(p, COOKIE, clen) && p[clen] == '=') {
            const char *v = p + clen + 1, *e = end;
            while (e > v && ref_is_blank(e[-1]))
                e--;
            if (ref_signed(v, (size_t)(e - v), name, nlen, id))
                return 1;
        }
        if (!semi)
            return 0;
        p = semi;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tw_signed *out = malloc(sizeof(*out));
    FUZZ_CHECK(out != NULL, "out of memory");
    if (size == 0)
        FUZZ_CHECK(tw_sign_from_cookies(&keys, NULL, COOKIE, out) == 0, "a name without a header");

    char *h = fuzz_cstr(data, size);
    memset(out, 'Z', sizeof(*out));
    int got = tw_sign_from_cookies(&keys, h, COOKIE, out);
    const char *rname = NULL, *rid = NULL;
    size_t rn = 0;
    int want = ref_cookie(h, &rname, &rn, &rid);
    FUZZ_CHECK(got == want, "core says %d, reference %d", got, want);
    if (got) {
        size_t n = out->name_len;
        FUZZ_CHECK(n >= 1 && n <= TW_USERNAME_MAX, "name of %zu bytes", n);
        FUZZ_CHECK(out->name[n] == '\0' && strlen(out->name) == n, "name not NUL-terminated");
        FUZZ_CHECK(tw_text_check_username(out->name, n) == NULL, "core refuses its own name");
        FUZZ_CHECK(n == rn && !memcmp(out->name, rname, n), "core finds '%s', reference '%.*s'",
                   out->name, (int)rn, rname);
        FUZZ_CHECK(rid ? strlen(out->id) == 22 && !memcmp(out->id, rid, 22) : out->id[0] == '\0',
                   "identity '%s' differs from the reference", out->id);
        FUZZ_CHECK(!out->id[0] || tw_identity_valid(out->id, 22), "an invalid identity");
        FUZZ_CHECK(out->stale == !rid, "stale %d for a value of version %d", out->stale,
                   rid ? 2 : 1);
    }
    free(h);
    free(out);
    return 0;
}
