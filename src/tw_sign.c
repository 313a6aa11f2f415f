#include "tw_sign.h"
#include "tw_text.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#define TW_SIGN_V1 "tweetsse-name-v1:"
#define TW_SIGN_V2 "tweetsse-id-v2:"

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

/* The MAC of what a value of its version signs, under `key`: the v1 context and the name
 * (id NULL), or the v2 context, the identity, '.' and the name. Returns 1, or 0 on failure. */
static int tw_sign_mac(const tw_secret *key, const char *id, const char *name, size_t n,
                       char mac[TW_SIGN_MAC_LEN])
{
    unsigned char msg[sizeof(TW_SIGN_V2) + TW_IDENTITY_LEN + 1 + TW_USERNAME_MAX];
    size_t len = 0;
    if (n > TW_USERNAME_MAX || key->len == 0)
        return 0;
    if (id) {
        memcpy(msg, TW_SIGN_V2, sizeof(TW_SIGN_V2) - 1);
        len = sizeof(TW_SIGN_V2) - 1;
        memcpy(msg + len, id, TW_IDENTITY_LEN);
        len += TW_IDENTITY_LEN;
        msg[len++] = '.';
    } else {
        memcpy(msg, TW_SIGN_V1, sizeof(TW_SIGN_V1) - 1);
        len = sizeof(TW_SIGN_V1) - 1;
    }
    memcpy(msg + len, name, n);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (!HMAC(EVP_sha256(), key->key, (int)key->len, msg, len + n, md, &mdlen) || mdlen != 32)
        return 0;
    tw_b64url32(md, mac);
    return 1;
}

size_t tw_sign_visitor(const tw_keys *keys, const char *id, const char *name, size_t n, char *out)
{
    if (tw_text_check_username(name, n) || !tw_identity_valid(id, strlen(id)))
        return 0;
    char *mac = out + n + 1 + TW_IDENTITY_LEN + 1;
    if (!tw_sign_mac(&keys->current, id, name, n, mac))
        return 0;
    memcpy(out, name, n);
    out[n] = '.';
    memcpy(out + n + 1, id, TW_IDENTITY_LEN);
    out[n + 1 + TW_IDENTITY_LEN] = '.';
    mac[TW_SIGN_MAC_LEN] = '\0';
    return n + 2 + TW_IDENTITY_LEN + TW_SIGN_MAC_LEN;
}

/* Does `mac` (TW_SIGN_MAC_LEN bytes) match under `key`? Constant time in the MAC. */
static int tw_sign_matches(const tw_secret *key, const char *id, const char *name, size_t n,
                           const char *mac)
{
    char want[TW_SIGN_MAC_LEN];
    return tw_sign_mac(key, id, name, n, want) && CRYPTO_memcmp(want, mac, TW_SIGN_MAC_LEN) == 0;
}

int tw_sign_verify(const tw_keys *keys, const char *value, size_t n, tw_signed *out)
{
    if (n < 2 + TW_SIGN_MAC_LEN || value[n - TW_SIGN_MAC_LEN - 1] != '.')
        return 0;
    const char *mac = value + n - TW_SIGN_MAC_LEN;
    size_t rest = n - TW_SIGN_MAC_LEN - 1; /* "<name>" or "<name>.<id>" */
    const char *id = NULL;
    size_t len = rest;
    if (rest > TW_IDENTITY_LEN + 1 && value[rest - TW_IDENTITY_LEN - 1] == '.') {
        id = value + rest - TW_IDENTITY_LEN;
        len = rest - TW_IDENTITY_LEN - 1;
        if (!tw_identity_valid(id, TW_IDENTITY_LEN))
            return 0;
    }
    if (tw_text_check_username(value, len))
        return 0;
    int old = 0;
    if (!tw_sign_matches(&keys->current, id, value, len, mac)) {
        if (!tw_sign_matches(&keys->previous, id, value, len, mac))
            return 0;
        old = 1;
    }
    memcpy(out->name, value, len);
    out->name[len] = '\0';
    out->name_len = len;
    if (id)
        memcpy(out->id, id, TW_IDENTITY_LEN);
    out->id[id ? TW_IDENTITY_LEN : 0] = '\0';
    out->stale = old || !id;
    return 1;
}

int tw_sign_from_cookies(const tw_keys *keys, const char *header, const char *cookie,
                         tw_signed *out)
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
            if (tw_sign_verify(keys, v, vlen, out))
                return 1;
        }
        p = end;
    }
    return 0;
}
