/* tw_buf: a growable byte buffer in an APR pool, used to render HTML, SSE
 * frames and JSON without knowing the final size up front. httpd-free. */
#ifndef TW_BUF_H
#define TW_BUF_H

#include <apr_pools.h>
#include <stddef.h>

typedef struct tw_buf {
    apr_pool_t *pool;
    char *data; /* always NUL-terminated */
    size_t len;
    size_t cap;
} tw_buf;

/* tw_buf does not check allocations: the pools it writes into must abort on failure, as
 * httpd's do. This is such an abort function (apr_pool_create_unmanaged_ex, apr_pool_create_ex)
 * for pools the core makes itself: out of memory ends the process. */
int tw_buf_oom(int retcode);

/* Start an empty buffer with room for `hint` bytes. Cost: one pool allocation. */
void tw_buf_init(tw_buf *b, apr_pool_t *pool, size_t hint);

/* Append `n` bytes. Amortised O(n): capacity doubles, the old block stays in the pool. */
void tw_buf_add(tw_buf *b, const char *s, size_t n);

/* Append a NUL-terminated string. */
void tw_buf_adds(tw_buf *b, const char *s);

/* Append the decimal digits of `v`, with leading zeros up to `width` digits (as printf's
 * "%0<width>lld" for v >= 0; a negative number gets its '-' before them). O(digits), no
 * printf: the cards of posts are rendered in every child for every post. */
void tw_buf_add_num(tw_buf *b, long long v, int width);

/* Append printf-style formatted text. */
void tw_buf_addf(tw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append `n` bytes of `s` HTML-escaped (& < > " ' become entities), safe in text and in
 * quoted attribute values. Uses apr_escape_entity; one pass to size, one to write. */
void tw_buf_add_escaped(tw_buf *b, const char *s, size_t n);

#endif
