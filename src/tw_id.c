#include "tw_id.h"

#include <apr_escape.h>
#include <stdio.h>
#include <string.h>

/* Parse a decimal uint64 from [s, end); returns the end of the digits or NULL. */
static const char *tw_parse_u64(const char *s, const char *end, uint64_t *out)
{
    uint64_t v = 0;
    const char *p = s;
    while (p < end && *p >= '0' && *p <= '9') {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return NULL;
        v = v * 10 + d;
        p++;
    }
    if (p == s || p - s > 20)
        return NULL;
    *out = v;
    return p;
}

int tw_id_parse(const char *s, size_t n, tw_id *out)
{
    const char *end = s + n;
    tw_id id;
    const char *p = tw_parse_u64(s, end, &id.ms);
    if (!p || p == end || *p != '-')
        return 0;
    p = tw_parse_u64(p + 1, end, &id.seq);
    if (!p || p != end)
        return 0;
    *out = id;
    return 1;
}

int tw_id_parse_resume(const char *s, tw_id *out)
{
    if (!s)
        return 0;
    size_t n = strlen(s);
    while (n && (s[0] == ' ' || s[0] == '\t')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n == 0)
        return 0;
    return tw_id_parse(s, n, out) ? 1 : -1;
}

int tw_id_query_arg(const char *args, char *buf, size_t cap)
{
    return tw_id_query_named(args, "last_event_id", buf, cap);
}

int tw_id_query_named(const char *args, const char *name, char *buf, size_t cap)
{
    const size_t nlen = strlen(name), klen = nlen + 1;
    const char *p = args;
    while (p && *p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len >= klen && memcmp(p, name, nlen) == 0 && p[nlen] == '=') {
            size_t vlen = len - klen;
            apr_size_t out = 0;
            if (vlen >= cap)
                return -1;
            apr_status_t rv = apr_unescape_url(buf, p + klen, (apr_ssize_t)vlen, "", NULL, 1, &out);
            if (rv == APR_NOTFOUND) {
                memcpy(buf, p + klen, vlen);
                buf[vlen] = '\0';
            } else if (rv != APR_SUCCESS) {
                return -1;
            }
            return 1;
        }
        p = amp ? amp + 1 : NULL;
    }
    return 0;
}

int tw_id_cmp(tw_id a, tw_id b)
{
    if (a.ms != b.ms)
        return a.ms < b.ms ? -1 : 1;
    if (a.seq != b.seq)
        return a.seq < b.seq ? -1 : 1;
    return 0;
}

size_t tw_id_format(tw_id id, char *buf)
{
    int n = snprintf(buf, TW_ID_MAX, "%llu-%llu", (unsigned long long)id.ms,
                     (unsigned long long)id.seq);
    return n < 0 ? 0 : (size_t)n;
}
