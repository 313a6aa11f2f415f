#include "tw_redis_wire.h"

#include <string.h>

int tw_redis_parse_broadcast(const char *payload, size_t n, tw_post *out)
{
    const char *sp = memchr(payload, ' ', n);
    if (!sp || !tw_id_parse(payload, (size_t)(sp - payload), &out->id))
        return 0;
    const char *user = sp + 1, *end = payload + n;
    const char *nl = memchr(user, '\n', (size_t)(end - user));
    if (!nl || nl == user)
        return 0;
    out->user = user;
    out->user_len = (size_t)(nl - user);
    out->msg = nl + 1;
    out->msg_len = (size_t)(end - nl - 1);
    return 1;
}
