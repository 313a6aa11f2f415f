/* tw_text: validation of the text a visitor posts: strict UTF-8, code-point counting,
 * line-ending normalisation, trimming, and the message / username rules. httpd-free. */
#ifndef TW_TEXT_H
#define TW_TEXT_H

#include <stddef.h>

#define TW_USERNAME_MAX 32

/* Count the code points of `n` bytes of strict UTF-8 (no overlongs, no surrogates, nothing
 * above U+10FFFF). Returns the count, or -1 if the bytes are not valid UTF-8. O(n). */
long tw_utf8_count(const char *s, size_t n);

/* Check and normalise a message in place: CRLF and lone CR become LF, then leading and
 * trailing white space is trimmed. `*n` is updated. Returns NULL if the result is valid
 * (UTF-8, 1..max_chars code points, no control characters but LF, no NUL, no DEL or C1
 * controls), else a short human-readable reason. `s` must have room for a NUL at s[*n]
 * (the result is NUL-terminated). O(n). */
const char *tw_text_check_message(char *s, size_t *n, long max_chars);

/* Check a username: 1..TW_USERNAME_MAX characters from [A-Za-z0-9_-]. Returns NULL if
 * valid, else a reason. O(n). */
const char *tw_text_check_username(const char *s, size_t n);

/* Longest idempotency key (a form's hidden field, or a JSON client's Idempotency-Key). */
#define TW_KEY_MAX 64

/* Check an idempotency key: 1..TW_KEY_MAX characters from [A-Za-z0-9_-]. Returns NULL if
 * valid, else a reason. O(n). */
const char *tw_text_check_key(const char *s, size_t n);

#endif
