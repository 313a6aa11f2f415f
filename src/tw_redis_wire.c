#include "tw_redis_wire.h"

#include <apr_strings.h>
#include <string.h>

int tw_redis_wire_entries(apr_pool_t *p, const redisReply *rep, tw_post **posts, int *n,
                          tw_redis_range *info)
{
    if (rep->type != REDIS_REPLY_ARRAY)
        return 0;
    tw_post *out = apr_pcalloc(p, sizeof(*out) * (rep->elements ? rep->elements : 1));
    int k = 0;
    info->raw = rep->elements;
    for (size_t i = 0; i < rep->elements; i++) {
        const redisReply *e = rep->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY)
            return 0;
        tw_post *po = &out[k];
        if (!tw_id_parse(e->element[0]->str, e->element[0]->len, &po->id))
            return 0;
        if (i == 0)
            info->first = po->id;
        info->last = po->id;
        const redisReply *f = e->element[1];
        po->user = po->msg = NULL;
        for (size_t j = 0; j + 1 < f->elements; j += 2) {
            const redisReply *name = f->element[j], *val = f->element[j + 1];
            if (name->type != REDIS_REPLY_STRING || val->type != REDIS_REPLY_STRING ||
                name->len != 1)
                continue;
            if (name->str[0] == 'u')
                po->user = apr_pstrmemdup(p, val->str, val->len), po->user_len = val->len;
            else if (name->str[0] == 'm')
                po->msg = apr_pstrmemdup(p, val->str, val->len), po->msg_len = val->len;
        }
        if (po->user && po->msg)
            k++;
    }
    *posts = out;
    *n = k;
    return 1;
}

/* Is `r` the bulk string `name`? */
static int tw_redis_wire_is(const redisReply *r, const char *name)
{
    size_t n = strlen(name);
    return r->type == REDIS_REPLY_STRING && r->len == n && memcmp(r->str, name, n) == 0;
}

int tw_redis_wire_stream_info(const redisReply *rep, tw_redis_stream *out)
{
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements % 2)
        return 0;
    int have_length = 0, have_last = 0;
    out->entries_added = -1;
    for (size_t i = 0; i + 1 < rep->elements; i += 2) {
        const redisReply *name = rep->element[i], *val = rep->element[i + 1];
        if (tw_redis_wire_is(name, "length") && val->type == REDIS_REPLY_INTEGER) {
            out->length = val->integer;
            have_length = 1;
        } else if (tw_redis_wire_is(name, "entries-added") && val->type == REDIS_REPLY_INTEGER) {
            out->entries_added = val->integer;
        } else if (tw_redis_wire_is(name, "last-generated-id") && val->type == REDIS_REPLY_STRING) {
            if (!tw_id_parse(val->str, val->len, &out->last_generated))
                return 0;
            have_last = 1;
        }
    }
    return have_length && have_last;
}

int tw_redis_wire_message(const redisReply *rep, const char *channel, const char **payload,
                          size_t *len)
{
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3)
        return 0;
    const redisReply *data = rep->element[2];
    if (!tw_redis_wire_is(rep->element[0], "message") ||
        !tw_redis_wire_is(rep->element[1], channel) || data->type != REDIS_REPLY_STRING)
        return 0;
    *payload = data->str;
    *len = data->len;
    return 1;
}

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
