/* tw_text: validation of the text a visitor posts: strict UTF-8, code-point counting,
 * line-ending normalisation, trimming of Unicode blanks, and the message / username rules.
 * httpd-free. */
#ifndef TW_TEXT_H
#define TW_TEXT_H

#include <stddef.h>

#define TW_USERNAME_MAX 32

/* Count the code points of `n` bytes of strict UTF-8 (no overlongs, no surrogates, nothing
 * above U+10FFFF). Returns the count, or -1 if the bytes are not valid UTF-8. O(n). */
long tw_utf8_count(const char *s, size_t n);

/* Check and normalise a message in place: CRLF and lone CR become LF, then blanks are trimmed
 * from both ends. Blank means Unicode White_Space (U+0009..000D, U+0020, U+0085, U+00A0,
 * U+1680, U+2000..200A, U+2028, U+2029, U+202F, U+205F, U+3000) and the invisible format
 * characters U+200B, U+200C, U+200D, U+2060 and U+FEFF; blanks inside the message are kept.
 * `*n` is updated. Returns NULL if the result is valid, else a short human-readable reason:
 * the text must be strict UTF-8, hold no bidirectional control character anywhere (U+202A..
 * 202E, U+2066..2069, U+200E, U+200F, U+061C: refused, not stripped, so that what is stored is
 * what was sent and no post can reorder how text around it reads), and after trimming hold
 * 1..max_chars code points with no control character but LF (no NUL, tab, DEL or C1 control).
 * `s` must have room for a NUL at s[*n] (the result is NUL-terminated). O(n). */
const char *tw_text_check_message(char *s, size_t *n, long max_chars);

/* The reason tw_text_check_message returns for a message over max_chars (the same pointer),
 * so that a caller can say the limit. */
extern const char tw_text_too_long[];

/* Check a username: 1..TW_USERNAME_MAX characters from [A-Za-z0-9_-]. Returns NULL if
 * valid, else a reason. O(n). */
const char *tw_text_check_username(const char *s, size_t n);

/* Longest idempotency key (a form's hidden field, or a JSON client's Idempotency-Key). */
#define TW_KEY_MAX 64

/* Check an idempotency key: 1..TW_KEY_MAX characters from [A-Za-z0-9_-]. Returns NULL if
 * valid, else a reason. O(n). */
const char *tw_text_check_key(const char *s, size_t n);

#endif
