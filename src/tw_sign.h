/* tw_sign: the visitor's name cookie, signed so that it proves who posts. The value is
 * "<name>.<mac>", mac = base64url(HMAC-SHA-256(secret, "tweetsse-name-v1:" <name>)) without
 * padding (43 characters). Verification accepts the current secret and, during a rotation,
 * the previous one. httpd-free: OpenSSL's libcrypto for the MAC and the constant-time compare.
 */
#ifndef TW_SIGN_H
#define TW_SIGN_H

#include "tw_name.h"

#include <stddef.h>

/* The shortest secret accepted, in bytes: 256 bits, the size of the MAC's key block's half. */
#define TW_SECRET_MIN 32
/* The MAC part of a cookie value: 32 bytes in base64url without padding. */
#define TW_SIGN_MAC_LEN 43
/* Room for a signed value with its NUL: name, '.', mac. */
#define TW_SIGNED_MAX (TW_NAME_MAX + 1 + TW_SIGN_MAC_LEN)

typedef struct tw_secret {
    const unsigned char *key;
    size_t len; /* 0: no secret */
} tw_secret;

/* The secrets a value may be signed with: [0] signs, [0] and [1] verify. */
typedef struct tw_keys {
    tw_secret current;
    tw_secret previous; /* len 0 when there is none */
} tw_keys;

/* Write the signed value of `name` (`n` bytes, a valid username) with keys->current into
 * `out` (TW_SIGNED_MAX bytes). Returns its length, or 0 if the MAC could not be computed.
 * O(n). */
size_t tw_sign_name(const tw_keys *keys, const char *name, size_t n, char *out);

/* Check a signed value of `n` bytes. If its name is a valid username and its MAC matches one
 * of the keys, copy the name into `name` (TW_NAME_MAX bytes) and return its length; `*stale`
 * is set when it matched only the previous key (the caller may re-sign it). Returns 0
 * otherwise. Constant time in the MAC. O(n). */
size_t tw_sign_verify(const tw_keys *keys, const char *value, size_t n, char *name, int *stale);

/* Find the first cookie `cookie` in a Cookie header whose value verifies (tw_sign_verify)
 * and copy its name into `name`. Cookies with the same name (e.g. set for different paths)
 * are allowed: the first that verifies wins. Returns the name's length, or 0. O(length of
 * the header). */
size_t tw_sign_from_cookies(const tw_keys *keys, const char *header, const char *cookie, char *name,
                            int *stale);

#endif
