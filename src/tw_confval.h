/* tw_confval: parsing and validating directive values. Each function returns NULL on
 * success or an error message (from `p`) naming what was expected. httpd-free. */
#ifndef TW_CONFVAL_H
#define TW_CONFVAL_H

#include <apr_pools.h>

typedef struct tw_redis_addr {
    const char *host; /* NULL for a unix socket */
    int port;
    const char *path; /* unix socket path, or NULL */
} tw_redis_addr;

/* "host:port", "host" (port 6379), "[v6addr]:port", or an absolute unix socket path. */
const char *tw_confval_redis_addr(apr_pool_t *p, const char *arg, tw_redis_addr *out);

/* A whole number in [min, max]. */
const char *tw_confval_long(apr_pool_t *p, const char *arg, long min, long max, long *out);

/* A byte size: a whole number with an optional "k"/"K" (KiB) or "m"/"M" (MiB) suffix,
 * in [min, max] bytes. */
const char *tw_confval_size(apr_pool_t *p, const char *arg, long min, long max, long *out);

/* A duration: a whole number of seconds, or of milliseconds with an "ms" suffix, in
 * [min_ms, max_ms] milliseconds. */
const char *tw_confval_duration_ms(apr_pool_t *p, const char *arg, long min_ms, long max_ms,
                                   long *out);

/* A Redis key or channel name: 1..200 printable ASCII characters without spaces. */
const char *tw_confval_redis_name(apr_pool_t *p, const char *arg);

#endif
