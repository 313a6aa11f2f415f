/* tw_input: turning a POST body (urlencoded form or JSON) into a validated post, an action on a
 * post, or the post a moderator removes. httpd-free: APR for URL decoding, jansson for JSON. */
#ifndef TW_INPUT_H
#define TW_INPUT_H

#include "tw_id.h"

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

/* What a POST to a post's URL (home/post/<id>) asks for. */
typedef enum {
    TW_ACT_DELETE, /* delete it (its author) */
    TW_ACT_LIKE,   /* like it */
    TW_ACT_UNLIKE, /* stop liking it */
    TW_ACT_TOGGLE, /* the other of the two */
} tw_act;

/* Parse the action of a form body (field "action") or a JSON body (`json`: an object with a
 * string member "action"): one of delete, like, unlike, toggle. Returns NULL with *out set,
 * or a short reason. O(n). */
const char *tw_input_action(apr_pool_t *p, const char *body, size_t n, int json, tw_act *out);

/* Parse the post a moderator removes: field "post" of a form body, or the string member
 * "post" of a JSON object, a post id. Returns NULL with *out set, or a short reason. O(n). */
const char *tw_input_post_id(apr_pool_t *p, const char *body, size_t n, int json, tw_id *out);

#endif
