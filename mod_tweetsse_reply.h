/* mod_tweetsse_reply: what the handlers that change the feed (publish, action, moderation)
 * share: the request's format, reading a bounded body, and refusals in that format. */
#ifndef MOD_TWEETSSE_REPLY_H
#define MOD_TWEETSSE_REPLY_H

#include "mod_tweetsse_config.h"
#include "src/tw_metrics.h"

#include <jansson.h>

/* How a request is answered: a plain form (an HTML page, or a 303 back to the feed), htmx (a
 * fragment or text next to the form), JSON. */
typedef enum { TW_FMT_FORM, TW_FMT_HTMX, TW_FMT_JSON } tw_format;

/* The media type of the request body without parameters, lower-cased; "" without one. */
const char *tw_reply_media_type(request_rec *r);

/* The format of a request whose body has media type `type`: JSON for application/json, htmx
 * when htmx sent it (HX-Request), else a plain form. */
tw_format tw_reply_format(request_rec *r, const char *type);

/* 415 unless `type` is a form's or, where `fmt` is JSON, JSON's: returns NULL when it may be
 * read, else the reason. */
const char *tw_reply_type_refusal(tw_format fmt, const char *type);

/* Read the whole body into `*out` (NUL-terminated) if it is at most `max` bytes. Returns OK,
 * HTTP_REQUEST_ENTITY_TOO_LARGE (checked against Content-Length before anything is read), or
 * another error status. Cost: one copy of the body, max + 1 bytes from the request's pool. */
int tw_reply_read_body(request_rec *r, long max, char **out, size_t *len);

/* Send `status` with `reason`: {"error": reason} for JSON, plain text for htmx, an HTML page
 * (whose links lead through `root` to the mount) for a plain form. Returns OK (the response is
 * sent); a caller logs and counts. */
int tw_reply_refusal(request_rec *r, tw_format fmt, const char *root, int status,
                     const char *reason);

/* The metric a refusal with `status` counts under. */
tw_metrics_refusal tw_reply_refusal_of(int status);

/* Send `o` (a new reference, taken) as the JSON body of a `status` response. Returns OK, or
 * HTTP_INTERNAL_SERVER_ERROR when it cannot be encoded (out of memory). */
int tw_reply_json(request_rec *r, int status, json_t *o);

/* A refusal of a rate limit (429): Retry-After in whole seconds, rounded up from `retry_ms`;
 * returns the seconds. */
long tw_reply_retry_after(request_rec *r, long retry_ms);

#endif
