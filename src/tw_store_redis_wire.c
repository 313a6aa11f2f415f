#include "tw_store_redis_wire.h"

#include <apr_strings.h>
#include <stdlib.h>
#include <string.h>

/* Set the post's field that `name` names from `val`: u (the name), m (the message), a (the
 * identity), t (the tag); others, and values that are not strings, are left alone. */
static void tw_redis_wire_field(apr_pool_t *p, const redisReply *name, const redisReply *val,
                                tw_post *po)
{
    if (name->type != REDIS_REPLY_STRING || val->type != REDIS_REPLY_STRING || name->len != 1)
        return;
    const char *v = apr_pstrmemdup(p, val->str, val->len);
    switch (name->str[0]) {
    case 'u':
        po->user = v, po->user_len = val->len;
        break;
    case 'm':
        po->msg = v, po->msg_len = val->len;
        break;
    case 'a':
        po->author = v, po->author_len = val->len;
        break;
    case 't':
        po->tag = v, po->tag_len = val->len;
        break;
    }
}

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
        *po = (tw_post){.id = po->id, .author = "", .tag = ""};
        for (size_t j = 0; j + 1 < f->elements; j += 2)
            tw_redis_wire_field(p, f->element[j], f->element[j + 1], po);
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

int tw_redis_wire_log_info(const redisReply *rep, tw_redis_log *out)
{
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements % 2)
        return 0;
    int have_length = 0, have_last = 0;
    out->entries_added = -1;
    out->first = (tw_id){0, 0};
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
        } else if (tw_redis_wire_is(name, "first-entry") && val->type == REDIS_REPLY_ARRAY) {
            const redisReply *id = val->elements ? val->element[0] : NULL;
            if (!id || id->type != REDIS_REPLY_STRING ||
                !tw_id_parse(id->str, id->len, &out->first))
                return 0;
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

/* The next space-delimited word of [*s, end) (no LF in it): its start, with *len set, and *s
 * moved past it and its space; NULL if there is none (an empty word, or the end). */
static const char *tw_redis_wire_word(const char **s, const char *end, size_t *len)
{
    const char *w = *s, *sp = memchr(w, ' ', (size_t)(end - w));
    const char *stop = sp ? sp : end;
    if (stop == w)
        return NULL;
    *len = (size_t)(stop - w);
    *s = sp ? sp + 1 : end;
    return w;
}

int tw_redis_parse_broadcast(const char *payload, size_t n, tw_post *out)
{
    const char *end = payload + n;
    const char *nl = memchr(payload, '\n', n);
    if (!nl)
        return 0;
    const char *s = payload, *w[5];
    size_t len[5];
    for (int i = 0; i < 5; i++)
        if (!(w[i] = tw_redis_wire_word(&s, nl, &len[i])))
            return 0;
    out->has_prev = !(len[1] == 1 && w[1][0] == '-');
    if (s != nl || nl[-1] == ' ' || !tw_id_parse(w[0], len[0], &out->id) ||
        (out->has_prev && !tw_id_parse(w[1], len[1], &out->prev)) || len[2] != 4 ||
        memcmp(w[2], "post", 4) != 0)
        return 0;
    out->user = w[3];
    out->user_len = len[3];
    int none = len[4] == 1 && w[4][0] == '-';
    out->tag = none ? "" : w[4];
    out->tag_len = none ? 0 : len[4];
    out->author = "";
    out->author_len = 0;
    out->msg = nl + 1;
    out->msg_len = (size_t)(end - nl - 1);
    return 1;
}

/* Is [s, s+n) a host a sentinel may name (a DNS name, IPv4 or IPv6 address)? */
static int tw_redis_wire_host_ok(const char *s, size_t n)
{
    static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:";
    if (n == 0 || n > TW_REDIS_HOST_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!s[i] || !strchr(ok, s[i]))
            return 0;
    return 1;
}

/* A port as 1..5 digits, 1..65535; -1 if not. */
static int tw_redis_wire_port(const char *s, size_t n)
{
    if (n == 0 || n > 5)
        return -1;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v >= 1 && v <= 65535 ? v : -1;
}

/* Fill `out` from a host and a port given as text; 0 if either is malformed. */
static int tw_redis_wire_node(apr_pool_t *p, const char *host, size_t hn, const char *port,
                              size_t pn, tw_redis_node *out)
{
    int v = tw_redis_wire_port(port, pn);
    if (v < 0 || !tw_redis_wire_host_ok(host, hn))
        return 0;
    out->host = apr_pstrmemdup(p, host, hn);
    out->port = v;
    return 1;
}

int tw_redis_wire_master_addr(apr_pool_t *p, const redisReply *rep, tw_redis_node *out)
{
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        rep->element[0]->type != REDIS_REPLY_STRING || rep->element[1]->type != REDIS_REPLY_STRING)
        return 0;
    return tw_redis_wire_node(p, rep->element[0]->str, rep->element[0]->len, rep->element[1]->str,
                              rep->element[1]->len, out);
}

int tw_redis_wire_role_master(const redisReply *rep)
{
    return rep->type == REDIS_REPLY_ARRAY && rep->elements >= 1 &&
           tw_redis_wire_is(rep->element[0], "master");
}

int tw_redis_wire_switch_master(apr_pool_t *p, const char *payload, size_t n, const char *master,
                                tw_redis_node *to)
{
    const char *field[5];
    size_t len[5];
    const char *at = payload, *end = payload + n;
    for (int i = 0; i < 5; i++) {
        const char *sp = memchr(at, ' ', (size_t)(end - at));
        if ((i < 4) != (sp != NULL))
            return 0; /* four spaces exactly */
        field[i] = at;
        len[i] = (size_t)((sp ? sp : end) - at);
        at = sp ? sp + 1 : end;
    }
    size_t mn = strlen(master);
    if (len[0] != mn || memcmp(field[0], master, mn) != 0)
        return 0;
    tw_redis_node old;
    return tw_redis_wire_node(p, field[1], len[1], field[2], len[2], &old) &&
           tw_redis_wire_node(p, field[3], len[3], field[4], len[4], to);
}
