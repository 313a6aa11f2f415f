#include "tw_feed.h"

#include <apr_strings.h>
#include <stddef.h>
#include <string.h>

/* How a field is stored, so that one table drives the unset state, the merge and the key. */
typedef enum {
    TW_FIELD_REDIS, /* redis_spec (NULL: unset) and the address parsed from it, as one */
    TW_FIELD_STR,   /* const char *, NULL: unset */
    TW_FIELD_LONG,  /* long, -1: unset */
    TW_FIELD_RATE,  /* tw_rate, count -1: unset */
    TW_FIELD_ENUM,  /* an enum stored as int, -1: unset */
} tw_field_kind;

typedef struct tw_field {
    size_t off, size;
    tw_field_kind kind;
} tw_field;

#define TW_FIELD(name, kind)                                                                       \
    {                                                                                              \
        offsetof(tw_feed_conf, name), sizeof(((tw_feed_conf *)0)->name), kind                      \
    }

/* Every field of a feed: adding one to tw_feed_conf means adding its row here. */
static const tw_field tw_fields[] = {
    TW_FIELD(redis_spec, TW_FIELD_REDIS),  TW_FIELD(password, TW_FIELD_STR),
    TW_FIELD(stream_key, TW_FIELD_STR),    TW_FIELD(channel, TW_FIELD_STR),
    TW_FIELD(history, TW_FIELD_LONG),      TW_FIELD(timeout_ms, TW_FIELD_LONG),
    TW_FIELD(keepalive_ms, TW_FIELD_LONG), TW_FIELD(min_replicas, TW_FIELD_LONG),
    TW_FIELD(rate_user, TW_FIELD_RATE),    TW_FIELD(rate_addr, TW_FIELD_RATE),
    TW_FIELD(delivery, TW_FIELD_ENUM),
};

#define TW_NFIELDS            (sizeof(tw_fields) / sizeof(tw_fields[0]))
#define TW_AT(f, field, type) ((type *)((char *)(f) + (field)->off))

/* Is the field set in `f`? */
static int tw_field_set(const tw_feed_conf *f, const tw_field *d)
{
    switch (d->kind) {
    case TW_FIELD_REDIS:
    case TW_FIELD_STR:
        return *TW_AT(f, d, const char *const) != NULL;
    case TW_FIELD_LONG:
        return *TW_AT(f, d, const long) != -1;
    case TW_FIELD_RATE:
        return TW_AT(f, d, const tw_rate)->count != -1;
    case TW_FIELD_ENUM:
        return *TW_AT(f, d, const int) != -1;
    }
    return 0;
}

void tw_feed_unset(tw_feed_conf *f)
{
    memset(f, 0, sizeof(*f));
    for (size_t i = 0; i < TW_NFIELDS; i++) {
        const tw_field *d = &tw_fields[i];
        if (d->kind == TW_FIELD_LONG)
            *TW_AT(f, d, long) = -1;
        else if (d->kind == TW_FIELD_RATE)
            TW_AT(f, d, tw_rate)->count = -1;
        else if (d->kind == TW_FIELD_ENUM)
            *TW_AT(f, d, int) = -1;
    }
}

void tw_feed_merge(const tw_feed_conf *base, const tw_feed_conf *add, tw_feed_conf *out)
{
    tw_feed_conf m = *add;
    for (size_t i = 0; i < TW_NFIELDS; i++) {
        const tw_field *d = &tw_fields[i];
        if (tw_field_set(add, d))
            continue;
        memcpy((char *)&m + d->off, (const char *)base + d->off, d->size);
        if (d->kind == TW_FIELD_REDIS)
            m.redis = base->redis; /* parsed with the spec: they go together */
    }
    *out = m;
}

#define TW_DEFAULT(field, unset, v)                                                                \
    do {                                                                                           \
        if (f->field == (unset))                                                                   \
            f->field = (v);                                                                        \
    } while (0)

void tw_feed_defaults(tw_feed_conf *f)
{
    if (!f->redis_spec) {
        f->redis_spec = "127.0.0.1:6379";
        f->redis = (tw_redis_addr){.host = "127.0.0.1", .port = 6379};
    }
    TW_DEFAULT(stream_key, NULL, "tweetsse:feed");
    TW_DEFAULT(channel, NULL, "tweetsse:live");
    TW_DEFAULT(history, -1, 1000);
    TW_DEFAULT(timeout_ms, -1, 3000);
    TW_DEFAULT(keepalive_ms, -1, 15000);
    TW_DEFAULT(min_replicas, -1, 0);
    TW_DEFAULT(delivery, TW_DELIVERY_UNSET, TW_DELIVERY_SOCKET);
    /* A person types a post every few seconds; a script floods. Per address ten times that,
     * for the people behind one NAT. */
    if (f->rate_user.count == -1)
        f->rate_user = (tw_rate){30, 60000, 10};
    if (f->rate_addr.count == -1)
        f->rate_addr = (tw_rate){300, 60000, 100};
}

const char *tw_feed_key(apr_pool_t *p, const tw_feed_conf *f)
{
    /* Strings are written with their length, so no value can imitate a separator. */
    char *key = "";
    for (size_t i = 0; i < TW_NFIELDS; i++) {
        const tw_field *d = &tw_fields[i];
        const char *s;
        const tw_rate *r;
        switch (d->kind) {
        case TW_FIELD_REDIS:
        case TW_FIELD_STR:
            s = *TW_AT(f, d, const char *const);
            key = s ? apr_psprintf(p, "%s%" APR_SIZE_T_FMT ":%s|", key, strlen(s), s)
                    : apr_pstrcat(p, key, "-|", NULL);
            break;
        case TW_FIELD_LONG:
            key = apr_psprintf(p, "%s%ld|", key, *TW_AT(f, d, const long));
            break;
        case TW_FIELD_RATE:
            r = TW_AT(f, d, const tw_rate);
            key = apr_psprintf(p, "%s%ld/%ld/%ld|", key, r->count, r->period_ms, r->burst);
            break;
        case TW_FIELD_ENUM:
            key = apr_psprintf(p, "%s%d|", key, *TW_AT(f, d, const int));
            break;
        }
    }
    return key;
}
