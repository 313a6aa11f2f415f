/* tw_id: Redis stream ids ("<ms>-<seq>") as used for post ids and SSE event ids,
 * the Last-Event-ID / last_event_id resume argument and the page's ?before=. httpd-free. */
#ifndef TW_ID_H
#define TW_ID_H

#include <stddef.h>
#include <stdint.h>

typedef struct tw_id {
    uint64_t ms;
    uint64_t seq;
} tw_id;

/* Longest formatted id: two 20-digit numbers, a dash and a NUL. */
#define TW_ID_MAX 42

/* Parse exactly "<ms>-<seq>" (decimal, no sign, no spaces, no overflow) from `n` bytes.
 * Returns 1 on success, 0 on anything else. O(n). */
int tw_id_parse(const char *s, size_t n, tw_id *out);

/* Parse a resume value from a Last-Event-ID header or query argument: surrounding
 * blanks are ignored and an empty value means "none". Returns 1 and sets *out for an
 * id, 0 for "none", -1 for a malformed value. */
int tw_id_parse_resume(const char *s, tw_id *out);

/* Find the `last_event_id` argument in a raw query string (as in r->args), decode it into
 * `buf` (size `cap`) and return 1; 0 if absent; -1 if malformed or too long. */
int tw_id_query_arg(const char *args, char *buf, size_t cap);

/* The same for the argument `name` (e.g. "before" of the page's older posts). */
int tw_id_query_named(const char *args, const char *name, char *buf, size_t cap);

/* Order two ids: <0, 0, >0 like strcmp. */
int tw_id_cmp(tw_id a, tw_id b);

/* Write the canonical text of `id` into `buf` (at least TW_ID_MAX bytes); returns its length. */
size_t tw_id_format(tw_id id, char *buf);

#endif
