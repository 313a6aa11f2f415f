/* tw_input: turning a POST body (urlencoded form or JSON) into a validated post.
 * httpd-free: APR for URL decoding, jansson for JSON. */
#ifndef TW_INPUT_H
#define TW_INPUT_H

#include <apr_pools.h>
#include <stddef.h>

typedef struct tw_input {
    char *username; /* NUL-terminated, validated; NULL when the body names no author */
    size_t username_len;
    char *message; /* NUL-terminated, normalised (LF line ends, trimmed), validated */
    size_t message_len;
    char *key; /* the form's idempotency key (field "key"), validated; NULL if none */
    size_t key_len;
} tw_input;

/* Parse an application/x-www-form-urlencoded body of `n` bytes. On success fills `in`
 * (strings from `p`) and returns NULL; otherwise returns a short human-readable reason.
 * `message` is required; `username` (the author the client believes it is: the caller checks
 * it against the verified identity) and `key` (tw_text_check_key) are optional; each at most
 * once; other fields are ignored. O(n). */
const char *tw_input_form(apr_pool_t *p, const char *body, size_t n, long max_chars, tw_input *in);

/* Parse an application/json body: an object with a string member "message" and optionally
 * "username" (other members ignored, duplicate keys rejected; no key: JSON clients send the
 * Idempotency-Key header). Same contract as tw_input_form. */
const char *tw_input_json(apr_pool_t *p, const char *body, size_t n, long max_chars, tw_input *in);

#endif
