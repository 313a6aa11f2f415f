/* tw_redis_wire: the formats the Redis store reads back: the broadcast that announces a post
 * on the channel (written by tw_redis_publish.lua). httpd-free and Redis-free, so they are
 * unit- and fuzz-tested by feeding bytes. */
#ifndef TW_REDIS_WIRE_H
#define TW_REDIS_WIRE_H

#include "tw_post.h"

#include <stddef.h>

/* Parse a broadcast payload "<id> <user>\n<msg>" (pointers into `payload`). Returns 1 if
 * well-formed: a valid id, a space, a non-empty user name without LF, an LF, and the message
 * (any bytes, possibly empty). O(n). */
int tw_redis_parse_broadcast(const char *payload, size_t n, tw_post *out);

#endif
