/* tw_identity: who a visitor is. An identity is 128 random bits, written as 22 base64url
 * characters, that no two visitors share and nobody can choose; the signed cookie carries it
 * (src/tw_sign) beside the visitor's display name. Names may repeat (anyone can get a cookie
 * whose name matches another visitor's), so every post shows a tag beside its name: 8
 * characters derived from the identity by SHA-256, 40 bits that a look-alike would have to
 * match, and the avatar's colour comes from the same hash. A new identity's name is derived
 * from that hash too, so that name and tag together (60 bits) cannot be farmed. httpd-free:
 * OpenSSL's libcrypto for the hash. */
#ifndef TW_IDENTITY_H
#define TW_IDENTITY_H

#include <stddef.h>

#define TW_IDENTITY_LEN     22 /* 128 bits in base64url, without padding */
#define TW_IDENTITY_TAG_LEN 8  /* 40 bits in base32 */

/* Write a new identity made of 16 random bytes into `out` (TW_IDENTITY_LEN + 1 bytes). */
void tw_identity_make(const unsigned char rnd[16], char *out);

/* Is `s` (`n` bytes) an identity exactly as tw_identity_make writes them (the canonical
 * base64url of 16 bytes)? O(n). */
int tw_identity_valid(const char *s, size_t n);

/* The tag of identity `id` (valid), into `out` (TW_IDENTITY_TAG_LEN + 1 bytes): lower-case
 * base32 without look-alike letters ("0123456789abcdefghjkmnpqrstvwxyz"). One SHA-256. */
void tw_identity_tag(const char *id, char *out);

/* The name identity `id` starts with (as tw_name_generate, from bits of the same hash the tag
 * does not use), into `buf` (TW_NAME_MAX bytes). Returns its length. One SHA-256. */
size_t tw_identity_name(const char *id, char *buf);

/* The tag of a post's author `author` (`n` bytes: "c:<identity>"), into `out`
 * (TW_IDENTITY_TAG_LEN + 1 bytes); "" for an author without one (an Apache user, or none).
 * Returns its length. One SHA-256. */
size_t tw_identity_author_tag(const char *author, size_t n, char *out);

#define TW_IDENTITY_BY_LEN 13 /* 64 bits in base32 */

/* The marker of author `author` (`n` bytes) that cards carry and a page compares with its
 * viewer's, to show the controls of the viewer's own posts: 64 bits of the SHA-256 of the
 * author in base32, into `out` (TW_IDENTITY_BY_LEN + 1 bytes); "" for no author. It names the
 * author without revealing the identity. Returns its length. One SHA-256. */
size_t tw_identity_by(const char *author, size_t n, char *out);

/* Is `s` (`n` bytes) a marker tw_identity_by can write? O(n). */
int tw_identity_by_valid(const char *s, size_t n);

/* The avatar hue (0..359) of a post's author: from its tag when it has one (so that a name
 * shared by two identities shows two colours), else from its name. O(n). */
unsigned tw_identity_hue(const char *name, size_t name_len, const char *tag, size_t tag_len);

#endif
