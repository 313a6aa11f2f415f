#include "tw_identity.h"
#include "tw_name.h"

#include <openssl/sha.h>
#include <string.h>

static const char tw_b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char tw_b32[] = "0123456789abcdefghjkmnpqrstvwxyz";

#define TW_TAG_CONTEXT "tweetsse-identity-v2:"

void tw_identity_make(const unsigned char rnd[16], char *out)
{
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < 16; i++) {
        acc = (acc << 8) | rnd[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = tw_b64url[(acc >> bits) & 63];
        }
    }
    out[o++] = tw_b64url[(acc << (6 - bits)) & 63]; /* 128 bits: 21 sextets and 2 bits left */
    out[o] = '\0';
}

int tw_identity_valid(const char *s, size_t n)
{
    if (n != TW_IDENTITY_LEN)
        return 0;
    for (size_t i = 0; i < n; i++) {
        const char *at = s[i] ? strchr(tw_b64url, s[i]) : NULL;
        if (!at)
            return 0;
        /* The last character carries 2 bits: the 4 below them must be 0 (canonical). */
        if (i == n - 1 && ((at - tw_b64url) & 15))
            return 0;
    }
    return 1;
}

/* SHA-256 of the context and the identity (a valid one: TW_IDENTITY_LEN bytes). */
static void tw_identity_hash(const char *id, unsigned char md[SHA256_DIGEST_LENGTH])
{
    unsigned char in[sizeof(TW_TAG_CONTEXT) - 1 + TW_IDENTITY_LEN];
    size_t c = sizeof(TW_TAG_CONTEXT) - 1, n = strnlen(id, TW_IDENTITY_LEN);
    memcpy(in, TW_TAG_CONTEXT, c);
    memcpy(in + c, id, n);
    SHA256(in, c + n, md);
}

void tw_identity_tag(const char *id, char *out)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    tw_identity_hash(id, md);
    /* The first 40 bits, 5 at a time. */
    unsigned long long v = 0;
    for (int i = 0; i < 5; i++)
        v = (v << 8) | md[i];
    for (int i = 0; i < TW_IDENTITY_TAG_LEN; i++)
        out[i] = tw_b32[(v >> (35 - 5 * i)) & 31];
    out[TW_IDENTITY_TAG_LEN] = '\0';
}

size_t tw_identity_name(const char *id, char *buf)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    tw_identity_hash(id, md);
    return tw_name_generate(md + 8, buf); /* bytes the tag leaves alone */
}

size_t tw_identity_author_tag(const char *author, size_t n, char *out)
{
    out[0] = '\0';
    if (n != 2 + TW_IDENTITY_LEN || memcmp(author, "c:", 2) != 0)
        return 0;
    char id[TW_IDENTITY_LEN + 1];
    memcpy(id, author + 2, TW_IDENTITY_LEN);
    id[TW_IDENTITY_LEN] = '\0';
    tw_identity_tag(id, out);
    return TW_IDENTITY_TAG_LEN;
}

#define TW_BY_CONTEXT "tweetsse-by-v1:"

size_t tw_identity_by(const char *author, size_t n, char *out)
{
    out[0] = '\0';
    if (n == 0)
        return 0;
    unsigned char md[SHA256_DIGEST_LENGTH];
    unsigned char in[sizeof(TW_BY_CONTEXT) - 1 + 2 + 32]; /* the longest author: "u:" and 32 */
    size_t c = sizeof(TW_BY_CONTEXT) - 1, k = n < sizeof(in) - c ? n : sizeof(in) - c;
    memcpy(in, TW_BY_CONTEXT, c);
    memcpy(in + c, author, k);
    SHA256(in, c + k, md);
    unsigned long long v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | md[i];
    for (int i = 0; i < TW_IDENTITY_BY_LEN; i++) /* 13 x 5 bits: the last has 4 */
        out[i] = tw_b32[i < 12 ? (v >> (59 - 5 * i)) & 31 : (v << 1) & 31];
    out[TW_IDENTITY_BY_LEN] = '\0';
    return TW_IDENTITY_BY_LEN;
}

int tw_identity_by_valid(const char *s, size_t n)
{
    if (n != TW_IDENTITY_BY_LEN)
        return 0;
    for (size_t i = 0; i < n; i++) {
        const char *at = s[i] ? strchr(tw_b32, s[i]) : NULL;
        if (!at || (i == n - 1 && ((at - tw_b32) & 1))) /* the last holds 4 bits */
            return 0;
    }
    return 1;
}

unsigned tw_identity_hue(const char *name, size_t name_len, const char *tag, size_t tag_len)
{
    return tag_len ? tw_name_hue(tag, tag_len) : tw_name_hue(name, name_len);
}
