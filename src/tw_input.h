/* tw_input: turning a POST body (urlencoded form or JSON) into a validated post.
 * httpd-free: APR for URL decoding, jansson for JSON. */
#ifndef TW_INPUT_H
#define TW_INPUT_H

#include <apr_pools.h>
#include <stddef.h>

typedef struct tw_input {
    char *username; /* NUL-terminated, validated */
    size_t username_len;
    char *message; /* NUL-terminated, normalised (LF line ends, trimmed), validated */
    size_t message_len;
} tw_input;

/* Parse an application/x-www-form-urlencoded body of `n` bytes. On success fills `in`
 * (strings from `p`) and returns NULL; otherwise returns a short human-readable reason.
 * Repeated or missing `username`/`message` fields are errors; other fields are ignored.
 * O(n). */
const char *tw_input_form(apr_pool_t *p, const char *body, size_t n, long max_chars, tw_input *in);

/* Parse an application/json body: an object with string members "username" and "message"
 * (other members ignored, duplicate keys rejected). Same contract as tw_input_form. */
const char *tw_input_json(apr_pool_t *p, const char *body, size_t n, long max_chars, tw_input *in);

#endif
