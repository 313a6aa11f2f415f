/* tw_sign: the visitor's cookie, signed so that it proves who posts. The value is
 * "<name>.<identity>.<mac>": the display name, the identity (src/tw_identity: 22 base64url
 * characters) and mac = base64url(HMAC-SHA-256(secret, "tweetsse-id-v2:" <identity> "."
 * <name>)) without padding (43 characters). A value of the first version, "<name>.<mac>" with
 * the MAC over "tweetsse-name-v1:" <name>, still verifies: it carries a name but no identity,
 * and the visitor gets a new identity (keeping the name) in a cookie of this version.
 * Verification accepts the current secret and, during a rotation, the previous one.
 * httpd-free: OpenSSL's libcrypto for the MAC and the constant-time compare. */
#ifndef TW_SIGN_H
#define TW_SIGN_H

#include "tw_identity.h"
#include "tw_name.h"

#include <stddef.h>

/* The shortest secret accepted, in bytes: 256 bits, the size of the MAC's key block's half. */
#define TW_SECRET_MIN 32
/* The MAC part of a cookie value: 32 bytes in base64url without padding. */
#define TW_SIGN_MAC_LEN 43
/* Room for a signed value with its NUL: name, '.', identity, '.', mac. */
#define TW_SIGNED_MAX (TW_NAME_MAX + 1 + TW_IDENTITY_LEN + 1 + TW_SIGN_MAC_LEN)

typedef struct tw_secret {
    const unsigned char *key;
    size_t len; /* 0: no secret */
} tw_secret;

/* The secrets a value may be signed with: [0] signs, [0] and [1] verify. */
typedef struct tw_keys {
    tw_secret current;
    tw_secret previous; /* len 0 when there is none */
} tw_keys;

/* A verified cookie. */
typedef struct tw_signed {
    char name[TW_NAME_MAX]; /* the display name */
    size_t name_len;
    char id[TW_IDENTITY_LEN + 1]; /* the identity; "" for a value of the first version */
    int stale;                    /* verified only by the previous key, or of the first
                                     version: sign it again (with a new identity if none) */
} tw_signed;

/* Write the signed value of identity `id` (valid) and `name` (`n` bytes, a valid username)
 * with keys->current into `out` (TW_SIGNED_MAX bytes). Returns its length, or 0 if the MAC
 * could not be computed. O(n). */
size_t tw_sign_visitor(const tw_keys *keys, const char *id, const char *name, size_t n, char *out);

/* Check a signed value of `n` bytes, of either version. If it is well-formed and its MAC
 * matches one of the keys, fill `out` and return 1; else return 0. Constant time in the MAC.
 * O(n). */
int tw_sign_verify(const tw_keys *keys, const char *value, size_t n, tw_signed *out);

/* Find the first cookie `cookie` in a Cookie header whose value verifies (tw_sign_verify) and
 * fill `out`. Cookies with the same name (e.g. set for different paths) are allowed: the first
 * that verifies wins. Returns 1, or 0 if none does. O(length of the header). */
int tw_sign_from_cookies(const tw_keys *keys, const char *header, const char *cookie,
                         tw_signed *out);

#endif
