#include "tw_buf.h"

#include <apr_escape.h>
#include <apr_strings.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int tw_buf_oom(int retcode)
{
    static const char msg[] = "mod_tweetsse: out of memory\n";
    if (write(2, msg, sizeof(msg) - 1) < 0)
        (void)retcode;
    abort();
}

void tw_buf_init(tw_buf *b, apr_pool_t *pool, size_t hint)
{
    b->pool = pool;
    b->cap = hint < 64 ? 64 : hint;
    b->data = apr_palloc(pool, b->cap);
    b->len = 0;
    b->data[0] = '\0';
}

/* Make room for `n` more bytes plus the terminating NUL. */
static void tw_buf_reserve(tw_buf *b, size_t n)
{
    size_t need = b->len + n + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap * 2;
    while (cap < need)
        cap *= 2;
    char *d = apr_palloc(b->pool, cap);
    memcpy(d, b->data, b->len + 1);
    b->data = d;
    b->cap = cap;
}

void tw_buf_add(tw_buf *b, const char *s, size_t n)
{
    tw_buf_reserve(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void tw_buf_adds(tw_buf *b, const char *s)
{
    tw_buf_add(b, s, strlen(s));
}

void tw_buf_add_num(tw_buf *b, long long v, int width)
{
    char d[24];
    int i = (int)sizeof(d);
    /* The magnitude as unsigned, so that LLONG_MIN has one too. */
    unsigned long long m = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        d[--i] = (char)('0' + m % 10);
        m /= 10;
    } while (m);
    while (i > 1 && (int)sizeof(d) - i < width)
        d[--i] = '0';
    if (v < 0)
        d[--i] = '-';
    tw_buf_add(b, d + i, sizeof(d) - (size_t)i);
}

void tw_buf_addf(tw_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= b->cap - b->len) {
        tw_buf_reserve(b, (size_t)n);
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

/* Escape one run of `n` bytes that holds no apostrophe and no NUL, with s[n] readable:
 * apr_escape_entity (APR 1.7) reads the byte at its length before it checks the length. */
static void tw_buf_add_entity_run(tw_buf *b, const char *s, size_t n)
{
    apr_size_t out = 0;
    if (apr_escape_entity(NULL, s, (apr_ssize_t)n, 0, &out) != APR_SUCCESS) {
        tw_buf_add(b, s, n); /* APR_NOTFOUND: nothing to escape */
        return;
    }
    /* `out` counts the terminating NUL that apr_escape_entity writes. */
    tw_buf_reserve(b, out);
    apr_escape_entity(b->data + b->len, s, (apr_ssize_t)n, 0, &out);
    b->len += out - 1;
}

/* apr_escape_entity leaves the apostrophe alone (APR 1.7), so runs are split on it. They are
 * split on NUL too: apr_escape_entity stops at a NUL, and would report "nothing to escape" for
 * a run such as "a\0<b>", which tw_buf_add_entity_run would then copy unescaped. A NUL becomes
 * U+FFFD. A run that ends at an apostrophe or a NUL is followed by that readable byte; the run
 * that ends the text is not (s[n] may lie outside the caller's memory), so its last byte is
 * escaped from a NUL-terminated copy of its own. */
void tw_buf_add_escaped(tw_buf *b, const char *s, size_t n)
{
    const char *end = s + n;
    while (s < end) {
        const char *q = s;
        while (q < end && *q != '\'' && *q != '\0')
            q++;
        if (q == end) {
            const char last[2] = {end[-1], '\0'};
            if (q - 1 > s)
                tw_buf_add_entity_run(b, s, (size_t)(q - 1 - s));
            tw_buf_add_entity_run(b, last, 1);
            break;
        }
        if (q > s)
            tw_buf_add_entity_run(b, s, (size_t)(q - s));
        if (*q == '\'')
            tw_buf_add(b, "&#39;", 5);
        else
            tw_buf_add(b, "&#xFFFD;", 8); /* a NUL has no place in HTML */
        s = q + 1;
    }
}
