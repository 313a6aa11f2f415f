#include "tw_sse.h"

#include <string.h>

/* The first CR or LF in [s, end), or `end`: memchr's word-at-a-time scan rather than a byte
 * loop, as a card (~1.3 KB, rendered in every child for every post) usually has neither. */
static const char *tw_sse_eol(const char *s, const char *end)
{
    if (s == end)
        return end;
    const char *lf = memchr(s, '\n', (size_t)(end - s));
    const char *cr = memchr(s, '\r', (size_t)((lf ? lf : end) - s));
    return cr ? cr : lf ? lf : end;
}

void tw_sse_event(tw_buf *b, const char *id, const char *name, const char *data, size_t n)
{
    if (id) {
        tw_buf_add(b, "id: ", 4);
        tw_buf_adds(b, id);
        tw_buf_add(b, "\n", 1);
    }
    if (name) {
        tw_buf_add(b, "event: ", 7);
        tw_buf_adds(b, name);
        tw_buf_add(b, "\n", 1);
    }
    const char *s = data, *end = data + n;
    for (;;) {
        const char *e = tw_sse_eol(s, end);
        tw_buf_add(b, "data: ", 6);
        tw_buf_add(b, s, (size_t)(e - s));
        tw_buf_add(b, "\n", 1);
        if (e == end)
            break;
        if (*e == '\r' && e + 1 < end && e[1] == '\n')
            e++;
        s = e + 1;
    }
    tw_buf_add(b, "\n", 1);
}

void tw_sse_retry(tw_buf *b, unsigned ms)
{
    tw_buf_addf(b, "retry: %u\n\n", ms);
}

unsigned tw_sse_jitter(unsigned base, unsigned jitter, uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ULL;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    uint64_t r = (x * 0x2545f4914f6cdd1dULL) >> 32; /* the high half: the best bits */
    return base + (unsigned)((r * jitter) >> 32);
}

void tw_sse_comment(tw_buf *b, const char *text)
{
    tw_buf_add(b, ": ", 2);
    tw_buf_adds(b, text);
    tw_buf_add(b, "\n\n", 2);
}
