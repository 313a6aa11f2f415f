/* tw_redis_wire: what the Redis store reads off the wire, as pure functions over hiredis reply
 * objects and payload bytes: the log's entries (XRANGE/XREVRANGE), counts, pub/sub messages and
 * the announcements of events (written by tw_store_redis.lua). No I/O, so they are unit-tested
 * by feeding RESP bytes to a hiredis reader, and fuzzed. httpd-free. */
#ifndef TW_STORE_REDIS_WIRE_H
#define TW_STORE_REDIS_WIRE_H

#include "tw_confval.h"
#include "tw_event.h"

#include <apr_pools.h>
#include <hiredis/hiredis.h>
#include <stddef.h>

/* What a range reply held before entries of other writers were left out. */
typedef struct tw_redis_range {
    size_t raw;        /* entries in the reply */
    tw_id first, last; /* ids of the first and last of them (when raw > 0) */
} tw_redis_range;

/* Convert an XRANGE/XREVRANGE reply (an array of [id, [field, value, ...]]) into events in
 * `p`, in reply order (tw_store_redis.lua names the fields: a post's u, m and a, the identity,
 * which may be missing; an event's e, p, n and by). Entries of other writers (neither a post
 * nor an event of this module, or malformed as one) are left out, but counted in `info`.
 * Returns 0 if the reply is malformed (not an array, an entry of the wrong shape, an id that
 * does not parse). O(size of the reply). */
int tw_redis_wire_events(apr_pool_t *p, const redisReply *rep, tw_event **events, int *n,
                         tw_redis_range *info);

/* As tw_redis_wire_events, keeping the posts only. */
int tw_redis_wire_entries(apr_pool_t *p, const redisReply *rep, tw_post **posts, int *n,
                          tw_redis_range *info);

/* Set the likes of posts[0..n) from an HMGET reply of their counts (nil: 0). Returns 0 if the
 * reply is not an array of n counts. */
int tw_redis_wire_likes(const redisReply *rep, tw_post *posts, int n);

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

/* Parse an announcement "<id> <prev> <kind> <a> <b>\n<body>" (tw_store_redis.lua writes
 * them): the event's id, the id of the entry the log ended with when it was added ("-" when it
 * was empty; else it sets out->prev and out->has_prev), then by kind: "post <user> <identity>"
 * ("-" for none) with the message as the body (any bytes, possibly empty); "delete <post>
 * author|moderator" and "count <post> <n>", both with an empty body. A post's strings point
 * into `payload`. Returns 1 if well-formed: five non-empty words with single spaces, valid
 * ids, nothing more before the LF. O(n). */
int tw_redis_parse_broadcast(const char *payload, size_t n, tw_event *out);

/* The longest host name a sentinel may report (a DNS name is at most 253 characters). */
#define TW_REDIS_HOST_MAX 255

/* Read a SENTINEL GET-MASTER-ADDR-BY-NAME reply ([host, port]) into `out` (host in `p`).
 * Returns 0 for a nil reply (the sentinel knows no such master) or anything malformed: a host
 * that is empty, longer than TW_REDIS_HOST_MAX or holds other than letters, digits, ".-_:", a
 * port outside 1..65535. */
int tw_redis_wire_master_addr(apr_pool_t *p, const redisReply *rep, tw_redis_node *out);

/* Is `rep` a ROLE reply of a primary (an array starting with "master")? */
int tw_redis_wire_role_master(const redisReply *rep);

/* The replicas a primary's ROLE reply lists (those online: ["master", offset, [[host, port,
 * offset], ...]]), or -1 when `rep` is no such reply. */
long tw_redis_wire_role_replicas(const redisReply *rep);

/* The value of field `name` of a SENTINEL MASTER reply (a flat array of names and values) as a
 * number from 1 to LONG_MAX / 100, into *out. Returns 0 when the field is missing or not such
 * a number. */
int tw_redis_wire_sentinel_field(const redisReply *rep, const char *name, long *out);

/* Parse a +switch-master payload "<name> <old-host> <old-port> <new-host> <new-port>". Returns
 * 1 with *to set (host in `p`) when it is well-formed (hosts as above) and names `master`. */
int tw_redis_wire_switch_master(apr_pool_t *p, const char *payload, size_t n, const char *master,
                                tw_redis_node *to);

#endif
