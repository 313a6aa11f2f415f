/* tw_confval: parsing and validating directive values. Each function returns NULL on
 * success or an error message (from `p`) naming what was expected. httpd-free. */
#ifndef TW_CONFVAL_H
#define TW_CONFVAL_H

#include <apr_pools.h>

/* A TCP endpoint. */
typedef struct tw_redis_node {
    const char *host;
    int port;
} tw_redis_node;

#define TW_SENTINELS_MAX 16

/* Where Redis is: one server (host and port, or a unix socket), or the primary that Redis
 * Sentinels name (sentinels and master set; host and path NULL). */
typedef struct tw_redis_addr {
    const char *host; /* NULL for a unix socket or Sentinel */
    int port;
    const char *path;   /* unix socket path, or NULL */
    const char *master; /* the Sentinel master name, or NULL */
    const tw_redis_node *sentinels;
    int nsentinels;
} tw_redis_addr;

/* "host:port", "host" (port 6379), "[v6addr]:port", an absolute unix socket path, or
 * "sentinel://host:port,host:port/master-name" (up to TW_SENTINELS_MAX sentinels, port 26379
 * when left out; the name as tw_confval_redis_name). */
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

/* A rate limit: `count` posts per `period_ms`, up to `burst` at once. count 0: off. */
typedef struct tw_rate {
    long count;
    long period_ms;
    long burst;
} tw_rate;

/* Parse a rate limit: "off", or "<count>/<duration>" (1..100000 per 1 s..1 day, the duration
 * as tw_confval_duration_ms reads it) and an optional second word "burst=<n>" (1..100000;
 * default: count). Returns NULL and fills `out`, or a message (from `p`). */
const char *tw_confval_rate(apr_pool_t *p, const char *arg, const char *burst, tw_rate *out);

/* A response header's value: 1..4096 printable ASCII characters (spaces too), not starting
 * or ending with a space; nothing that could end the header line. */
const char *tw_confval_header_value(apr_pool_t *p, const char *arg);

#endif
