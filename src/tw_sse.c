#include "tw_sse.h"

#include <string.h>

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
        const char *e = s;
        while (e < end && *e != '\n' && *e != '\r')
            e++;
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

void tw_sse_comment(tw_buf *b, const char *text)
{
    tw_buf_add(b, ": ", 2);
    tw_buf_adds(b, text);
    tw_buf_add(b, "\n\n", 2);
}
