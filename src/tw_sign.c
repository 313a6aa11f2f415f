#include "tw_sign.h"
#include "tw_text.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#define TW_SIGN_CONTEXT "tweetsse-name-v1:"

/* base64url without padding of 32 bytes: exactly TW_SIGN_MAC_LEN characters into `out`. */
static void tw_b64url32(const unsigned char in[32], char out[TW_SIGN_MAC_LEN])
{
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < 32; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = alpha[(acc >> bits) & 63];
        }
    }
    out[o] = alpha[(acc << (6 - bits)) & 63]; /* 256 bits: 42 full sextets and 4 bits left */
}

/* The MAC of `name` under `key`, base64url-encoded into `mac`. Returns 1, or 0 on failure. */
static int tw_sign_mac(const tw_secret *key, const char *name, size_t n, char mac[TW_SIGN_MAC_LEN])
{
    unsigned char msg[sizeof(TW_SIGN_CONTEXT) - 1 + TW_USERNAME_MAX];
    size_t clen = sizeof(TW_SIGN_CONTEXT) - 1;
    if (n > TW_USERNAME_MAX || key->len == 0)
        return 0;
    memcpy(msg, TW_SIGN_CONTEXT, clen);
    memcpy(msg + clen, name, n);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (!HMAC(EVP_sha256(), key->key, (int)key->len, msg, clen + n, md, &mdlen) || mdlen != 32)
        return 0;
    tw_b64url32(md, mac);
    return 1;
}

size_t tw_sign_name(const tw_keys *keys, const char *name, size_t n, char *out)
{
    if (tw_text_check_username(name, n) || !tw_sign_mac(&keys->current, name, n, out + n + 1))
        return 0;
    memcpy(out, name, n);
    out[n] = '.';
    out[n + 1 + TW_SIGN_MAC_LEN] = '\0';
    return n + 1 + TW_SIGN_MAC_LEN;
}

/* Does `mac` (TW_SIGN_MAC_LEN bytes) match `name` under `key`? Constant time in the MAC. */
static int tw_sign_matches(const tw_secret *key, const char *name, size_t n, const char *mac)
{
    char want[TW_SIGN_MAC_LEN];
    return tw_sign_mac(key, name, n, want) && CRYPTO_memcmp(want, mac, TW_SIGN_MAC_LEN) == 0;
}

size_t tw_sign_verify(const tw_keys *keys, const char *value, size_t n, char *name, int *stale)
{
    if (n < 2 + TW_SIGN_MAC_LEN || value[n - TW_SIGN_MAC_LEN - 1] != '.')
        return 0;
    size_t len = n - TW_SIGN_MAC_LEN - 1;
    const char *mac = value + len + 1;
    if (tw_text_check_username(value, len))
        return 0;
    int old = 0;
    if (!tw_sign_matches(&keys->current, value, len, mac)) {
        if (!tw_sign_matches(&keys->previous, value, len, mac))
            return 0;
        old = 1;
    }
    memcpy(name, value, len);
    name[len] = '\0';
    if (stale)
        *stale = old;
    return len;
}

size_t tw_sign_from_cookies(const tw_keys *keys, const char *header, const char *cookie, char *name,
                            int *stale)
{
    size_t clen = strlen(cookie);
    const char *p = header;
    while (p && *p) {
        while (*p == ' ' || *p == '\t' || *p == ';')
            p++;
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > clen && memcmp(p, cookie, clen) == 0 && p[clen] == '=') {
            const char *v = p + clen + 1;
            size_t vlen = len - clen - 1;
            while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
                vlen--;
            size_t got = tw_sign_verify(keys, v, vlen, name, stale);
            if (got)
                return got;
        }
        p = end;
    }
    return 0;
}
