/* tw_redis_wire: what the Redis store reads off the wire, as pure functions over hiredis reply
 * objects and payload bytes: stream entries (XRANGE/XREVRANGE), pub/sub messages and the
 * announcement of a post (written by tw_store_redis_publish.lua). No I/O, so they are unit-tested
 * by feeding RESP bytes to a hiredis reader, and fuzzed. httpd-free. */
#ifndef TW_STORE_REDIS_WIRE_H
#define TW_STORE_REDIS_WIRE_H

#include "tw_confval.h"
#include "tw_post.h"

#include <apr_pools.h>
#include <hiredis/hiredis.h>
#include <stddef.h>

/* What a range reply held before entries of other writers were left out. */
typedef struct tw_redis_range {
    size_t raw;        /* entries in the reply */
    tw_id first, last; /* ids of the first and last of them (when raw > 0) */
} tw_redis_range;

/* Convert an XRANGE/XREVRANGE reply (an array of [id, [field, value, ...]]) into posts in `p`,
 * in reply order: "u" the name, "m" the message, "a" the author's identity, "t" its tag (the
 * last two may be missing: ""). Entries without both a "u" and an "m" field were not written by
 * this module and are left out, but counted in `info`. Returns 0 if the reply is malformed (not an
 * array, an entry of the wrong shape, an id that does not parse). O(size of the reply). */
int tw_redis_wire_entries(apr_pool_t *p, const redisReply *rep, tw_post **posts, int *n,
                          tw_redis_range *info);

/* The state of a stream, from XINFO STREAM: what the subscriber starts from and how it tells
 * whether posts were trimmed while it was away. */
typedef struct tw_redis_log {
    tw_id last_generated;    /* the id of the newest entry ever added (kept after trimming) */
    tw_id first;             /* the id of the oldest entry it holds (when length > 0) */
    long long length;        /* entries now */
    long long entries_added; /* entries ever added (Redis 7; -1 when the server omits it) */
} tw_redis_log;

/* Read an XINFO STREAM reply (a flat array of field, value pairs) into `out`. Returns 0 if it
 * is malformed or lacks length or last-generated-id. Fields it does not know are skipped. */
int tw_redis_wire_log_info(const redisReply *rep, tw_redis_log *out);

/* Is `rep` a pub/sub message ["message", channel, payload] on `channel`? Then points *payload
 * and *len at the payload and returns 1. Subscription confirmations and anything else give 0. */
int tw_redis_wire_message(const redisReply *rep, const char *channel, const char **payload,
                          size_t *len);

/* Parse an announcement "<id> <prev> post <user> <tag>\n<msg>" (tw_store_redis_publish.lua
 * writes it): the post's id, the id of the entry the stream ended with when it was added ("-"
 * when it was empty; else it sets out->prev and out->has_prev), the author's name and tag ("-" for
 * none), then the message (any bytes, possibly empty). Pointers go into `payload`; the announcement
 * names no identity (out->author is empty). Returns 1 if well-formed: single spaces between
 * non-empty words, valid ids, nothing more before the LF. O(n). */
int tw_redis_parse_broadcast(const char *payload, size_t n, tw_post *out);

/* The longest host name a sentinel may report (a DNS name is at most 253 characters). */
#define TW_REDIS_HOST_MAX 255

/* Read a SENTINEL GET-MASTER-ADDR-BY-NAME reply ([host, port]) into `out` (host in `p`).
 * Returns 0 for a nil reply (the sentinel knows no such master) or anything malformed: a host
 * that is empty, longer than TW_REDIS_HOST_MAX or holds other than letters, digits, ".-_:", a
 * port outside 1..65535. */
int tw_redis_wire_master_addr(apr_pool_t *p, const redisReply *rep, tw_redis_node *out);

/* Is `rep` a ROLE reply of a primary (an array starting with "master")? */
int tw_redis_wire_role_master(const redisReply *rep);

/* Parse a +switch-master payload "<name> <old-host> <old-port> <new-host> <new-port>". Returns
 * 1 with *to set (host in `p`) when it is well-formed (hosts as above) and names `master`. */
int tw_redis_wire_switch_master(apr_pool_t *p, const char *payload, size_t n, const char *master,
                                tw_redis_node *to);

#endif
