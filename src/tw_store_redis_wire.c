#include "tw_store_redis_wire.h"

#include <apr_strings.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Is `r` the bulk string `name`? */
static int tw_redis_wire_is(const redisReply *r, const char *name)
{
    size_t n = strlen(name);
    return r->type == REDIS_REPLY_STRING && r->len == n && memcmp(r->str, name, n) == 0;
}

/* The fields of one entry that this module reads: u, m, a of a post; e, p, n, by of an event.
 * Pointers into the reply. */
typedef struct tw_redis_fields {
    const redisReply *u, *m, *a, *e, *p, *n, *by;
} tw_redis_fields;

/* Read the field list `f` ([name, value, ...]) of an entry: string values only, the last of a
 * repeated name. */
static void tw_redis_wire_fields(const redisReply *f, tw_redis_fields *out)
{
    static const char *const names[] = {"u", "m", "a", "e", "p", "n", "by"};
    const redisReply **slots[] = {&out->u, &out->m, &out->a, &out->e, &out->p, &out->n, &out->by};
    *out = (tw_redis_fields){0};
    for (size_t j = 0; j + 1 < f->elements; j += 2) {
        const redisReply *name = f->element[j], *val = f->element[j + 1];
        if (val->type != REDIS_REPLY_STRING)
            continue;
        for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
            if (tw_redis_wire_is(name, names[k]))
                *slots[k] = val;
    }
}

/* A copy of a string value into `p` (its length in *len); "" for none. */
static const char *tw_redis_wire_str(apr_pool_t *p, const redisReply *v, size_t *len)
{
    *len = v ? v->len : 0;
    return v ? apr_pstrmemdup(p, v->str, v->len) : "";
}

/* A count: 1..18 decimal digits. */
static int tw_redis_wire_count(const char *s, size_t n, long *out)
{
    if (n == 0 || n > 18)
        return 0;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

/* The event of one entry (its id set by the caller), or 0 if it is none of this module's: a
 * post (u and m, no e), a deletion (e=delete, p a post id, by author or moderator) or a count
 * (e=count, p, n a count). */
static int tw_redis_wire_event(apr_pool_t *p, const tw_redis_fields *f, tw_event *ev)
{
    if (!f->e) {
        if (!f->u || !f->m)
            return 0;
        ev->kind = TW_EVENT_POST;
        ev->post.id = ev->id;
        ev->post.user = tw_redis_wire_str(p, f->u, &ev->post.user_len);
        ev->post.msg = tw_redis_wire_str(p, f->m, &ev->post.msg_len);
        ev->post.author = tw_redis_wire_str(p, f->a, &ev->post.author_len);
        return 1;
    }
    if (!f->p || !tw_id_parse(f->p->str, f->p->len, &ev->target))
        return 0;
    if (tw_redis_wire_is(f->e, "delete") && f->by) {
        ev->kind = TW_EVENT_DELETE;
        ev->by_moderator = tw_redis_wire_is(f->by, "moderator");
        return ev->by_moderator || tw_redis_wire_is(f->by, "author");
    }
    ev->kind = TW_EVENT_COUNT;
    return tw_redis_wire_is(f->e, "count") && f->n &&
           tw_redis_wire_count(f->n->str, f->n->len, &ev->count);
}

/* The id and field list of entry `e` of a range reply; 0 if it has the wrong shape. */
static int tw_redis_wire_entry(const redisReply *e, tw_id *id, const redisReply **fields)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY)
        return 0;
    *fields = e->element[1];
    return tw_id_parse(e->element[0]->str, e->element[0]->len, id);
}

int tw_redis_wire_events(apr_pool_t *p, const redisReply *rep, tw_event **events, int *n,
                         tw_redis_range *info)
{
    if (rep->type != REDIS_REPLY_ARRAY)
        return 0;
    tw_event *out = apr_pcalloc(p, sizeof(*out) * (rep->elements ? rep->elements : 1));
    int k = 0;
    info->raw = rep->elements;
    for (size_t i = 0; i < rep->elements; i++) {
        const redisReply *fields;
        tw_event *ev = &out[k];
        memset(ev, 0, sizeof(*ev));
        if (!tw_redis_wire_entry(rep->element[i], &ev->id, &fields))
            return 0;
        if (i == 0)
            info->first = ev->id;
        info->last = ev->id;
        tw_redis_fields f;
        tw_redis_wire_fields(fields, &f);
        if (tw_redis_wire_event(p, &f, ev))
            k++;
    }
    *events = out;
    *n = k;
    return 1;
}

int tw_redis_wire_entries(apr_pool_t *p, const redisReply *rep, tw_post **posts, int *n,
                          tw_redis_range *info)
{
    tw_event *events;
    int k;
    if (!tw_redis_wire_events(p, rep, &events, &k, info))
        return 0;
    tw_post *out = apr_pcalloc(p, sizeof(*out) * (size_t)(k ? k : 1));
    *n = 0;
    for (int i = 0; i < k; i++)
        if (events[i].kind == TW_EVENT_POST)
            out[(*n)++] = events[i].post;
    *posts = out;
    return 1;
}

int tw_redis_wire_likes(const redisReply *rep, tw_post *posts, int n)
{
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != (size_t)n)
        return 0;
    for (int i = 0; i < n; i++) {
        const redisReply *v = rep->element[i];
        posts[i].likes = 0;
        if (v->type == REDIS_REPLY_STRING && !tw_redis_wire_count(v->str, v->len, &posts[i].likes))
            return 0;
        if (v->type != REDIS_REPLY_STRING && v->type != REDIS_REPLY_NIL)
            return 0;
    }
    return 1;
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

/* Is word `w` (`n` bytes) `lit`? */
static int tw_redis_wire_word_is(const char *w, size_t n, const char *lit)
{
    return n == strlen(lit) && memcmp(w, lit, n) == 0;
}

/* The kind's words after "<id> <prev> <kind>" (w[3], w[4]) and the body into `out`. */
static int tw_redis_wire_announced(const char **w, const size_t *len, const char *body, size_t blen,
                                   tw_event *out)
{
    if (tw_redis_wire_word_is(w[2], len[2], "post")) {
        out->kind = TW_EVENT_POST;
        out->post = (tw_post){.id = out->id,
                              .user = w[3],
                              .user_len = len[3],
                              .msg = body,
                              .msg_len = blen,
                              .author = ""};
        if (!tw_redis_wire_word_is(w[4], len[4], "-"))
            out->post.author = w[4], out->post.author_len = len[4];
        return 1;
    }
    if (blen || !tw_id_parse(w[3], len[3], &out->target))
        return 0; /* a deletion or a count has an empty body and names a post */
    if (tw_redis_wire_word_is(w[2], len[2], "delete")) {
        out->kind = TW_EVENT_DELETE;
        out->by_moderator = tw_redis_wire_word_is(w[4], len[4], "moderator");
        return out->by_moderator || tw_redis_wire_word_is(w[4], len[4], "author");
    }
    out->kind = TW_EVENT_COUNT;
    return tw_redis_wire_word_is(w[2], len[2], "count") &&
           tw_redis_wire_count(w[4], len[4], &out->count);
}

int tw_redis_parse_broadcast(const char *payload, size_t n, tw_event *out)
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
    memset(out, 0, sizeof(*out));
    out->has_prev = !tw_redis_wire_word_is(w[1], len[1], "-");
    if (s != nl || nl[-1] == ' ' || !tw_id_parse(w[0], len[0], &out->id) ||
        (out->has_prev && !tw_id_parse(w[1], len[1], &out->prev)))
        return 0;
    return tw_redis_wire_announced(w, len, nl + 1, (size_t)(end - nl - 1), out);
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

long tw_redis_wire_role_replicas(const redisReply *rep)
{
    if (!tw_redis_wire_role_master(rep) || rep->elements < 3 ||
        rep->element[2]->type != REDIS_REPLY_ARRAY)
        return -1;
    return (long)rep->element[2]->elements;
}

int tw_redis_wire_sentinel_field(const redisReply *rep, const char *name, long *out)
{
    if (rep->type != REDIS_REPLY_ARRAY)
        return 0;
    for (size_t i = 0; i + 1 < rep->elements; i += 2) {
        const redisReply *v = rep->element[i + 1];
        if (!tw_redis_wire_is(rep->element[i], name) || v->type != REDIS_REPLY_STRING)
            continue;
        char *end;
        errno = 0;
        long n = strtol(v->str, &end, 10);
        if (v->len == 0 || v->str[0] < '0' || v->str[0] > '9' || end != v->str + v->len || errno ||
            n < 1 || n > LONG_MAX / 100)
            return 0;
        *out = n;
        return 1;
    }
    return 0;
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
