/* Unit tests of src/tw_sse: event-stream framing. */
#include "tap.h"
#include "tw_sse.h"

#include <apr_general.h>
#include <stdlib.h>
#include <string.h>

static apr_pool_t *pool;

/* One event as text; the payload is an exactly sized heap copy (ASan sees reads past n). */
static const char *event(const char *id, const char *name, const char *data, size_t n)
{
    tw_buf b;
    tw_buf_init(&b, pool, 0);
    char *copy = malloc(n ? n : 1);
    memcpy(copy, data, n);
    tw_sse_event(&b, id, name, copy, n);
    free(copy);
    return b.len == strlen(b.data) ? b.data : "(length mismatch)";
}

static const char *ev(const char *data)
{
    return event(NULL, NULL, data, strlen(data));
}

/* Count "\n\n" (event dispatches) in s. */
static int dispatches(const char *s)
{
    int k = 0;
    for (const char *p = s; (p = strstr(p, "\n\n")); p += 2)
        k++;
    return k;
}

static void test_event(void)
{
    is_str(ev("hello"), "data: hello\n\n", "single line");
    is_str(ev("a\nb"), "data: a\ndata: b\n\n", "split on LF");
    is_str(ev("a\r\nb"), "data: a\ndata: b\n\n", "split on CRLF (one break, not two)");
    is_str(ev("a\rb"), "data: a\ndata: b\n\n", "split on lone CR");
    is_str(ev("a\n\nb"), "data: a\ndata: \ndata: b\n\n", "an empty line in the middle kept");
    is_str(ev("a\r\rb"), "data: a\ndata: \ndata: b\n\n", "two CRs are two breaks");
    is_str(ev("a\n\rb"), "data: a\ndata: \ndata: b\n\n", "LF then CR are two breaks");
    is_str(ev("a\r\n\r\nb"), "data: a\ndata: \ndata: b\n\n", "two CRLFs are two breaks");
    is_str(ev(""), "data: \n\n", "empty payload still gets one data line");
    is_str(ev("abc\n"), "data: abc\ndata: \n\n", "trailing LF: a final empty data line");
    is_str(ev("abc\r\n"), "data: abc\ndata: \n\n", "trailing CRLF: a final empty data line");
    is_str(ev("abc\r"), "data: abc\ndata: \n\n", "trailing CR: a final empty data line");
    is_str(ev("\nabc"), "data: \ndata: abc\n\n", "leading LF");
    is_str(ev("<p class=\"x\">hi: there</p>"), "data: <p class=\"x\">hi: there</p>\n\n",
           "HTML and colons pass through unchanged");
    is_str(event(NULL, NULL, "abc\ndef", 2), "data: ab\n\n", "only n bytes are read");
    is_str(event(NULL, NULL, "ab\r\ncd", 3), "data: ab\ndata: \n\n",
           "a CR at the very end of n is a break");

    /* No payload byte may end a field early: every line of the output is a known field. */
    const char *tricky = "x\r\ny\rz\n\n: not a comment\nid: 666\nevent: evil\nretry: 1\r";
    const char *out = event("5-0", "post", tricky, strlen(tricky));
    int only_data = 1;
    const char *line = out;
    int lineno = 0;
    while (*line) {
        const char *nl = strchr(line, '\n');
        if (!nl)
            break;
        size_t len = (size_t)(nl - line);
        if (len > 0 && !(lineno == 0 && len == 7 && !strncmp(line, "id: 5-0", 7)) &&
            !(lineno == 1 && len == 11 && !strncmp(line, "event: post", 11)) &&
            strncmp(line, "data: ", 6) != 0)
            only_data = 0;
        line = nl + 1;
        lineno++;
    }
    ok(only_data, "a hostile payload only produces data lines");
    lacks_str(out, "\r", "no CR is left in the output");
    is_int(dispatches(out), 1, "a hostile payload is one event");
    ok(strlen(out) >= 2 && strcmp(out + strlen(out) - 2, "\n\n") == 0 &&
           strstr(out, "\n\n") == out + strlen(out) - 2,
       "the blank line comes only at the end");
    has_str(out, "data: id: 666\n", "payload 'id:' becomes data");
    has_str(out, "data: : not a comment\n", "payload ':' becomes data");

    is_str(event("1700000000123-0", NULL, "x", 1), "id: 1700000000123-0\ndata: x\n\n", "id line");
    is_str(event(NULL, "post", "x", 1), "event: post\ndata: x\n\n", "event line");
    is_str(event("1-2", "post", "a\nb", 3), "id: 1-2\nevent: post\ndata: a\ndata: b\n\n",
           "id, then event, then data");
    is_str(event("1-2", "post", "", 0), "id: 1-2\nevent: post\ndata: \n\n",
           "id and event with an empty payload");

    /* Appending: two events in one buffer. */
    tw_buf b;
    tw_buf_init(&b, pool, 0);
    tw_sse_event(&b, "1-0", NULL, "one", 3);
    tw_sse_event(&b, "2-0", NULL, "two", 3);
    is_str(b.data, "id: 1-0\ndata: one\n\nid: 2-0\ndata: two\n\n", "events append");

    /* A large payload with many lines. */
    size_t n = 30000;
    char *big = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (i % 10 == 9) ? '\n' : 'a';
    tw_buf_init(&b, pool, 0);
    tw_sse_event(&b, NULL, NULL, big, n);
    free(big);
    is_int((long long)b.len, (long long)(3000 * (6 + 9 + 1) + 6 + 1 + 1),
           "large payload: 3000 lines plus the final empty one");
    is_int(dispatches(b.data), 1, "large payload: still one event");
}

static void test_retry_comment(void)
{
    tw_buf b;
    tw_buf_init(&b, pool, 0);
    tw_sse_retry(&b, 3000);
    is_str(b.data, "retry: 3000\n\n", "retry");
    tw_buf_init(&b, pool, 0);
    tw_sse_retry(&b, 0);
    is_str(b.data, "retry: 0\n\n", "retry 0");
    tw_buf_init(&b, pool, 0);
    tw_sse_retry(&b, 4294967295u);
    is_str(b.data, "retry: 4294967295\n\n", "retry: largest value");

    tw_buf_init(&b, pool, 0);
    tw_sse_comment(&b, "keepalive");
    is_str(b.data, ": keepalive\n\n", "comment");
    tw_buf_init(&b, pool, 0);
    tw_sse_comment(&b, "");
    is_str(b.data, ": \n\n", "empty comment");

    tw_buf_init(&b, pool, 0);
    tw_sse_retry(&b, 2000);
    tw_sse_comment(&b, "hi");
    tw_sse_event(&b, "3-1", "post", "m", 1);
    is_str(b.data, "retry: 2000\n\n: hi\n\nid: 3-1\nevent: post\ndata: m\n\n",
           "retry, comment and event append in order");
}

static void test_jitter(void)
{
    uint64_t st = 12345;
    unsigned lo = ~0u, hi = 0, below = 0;
    int in_range = 1;
    for (int i = 0; i < 10000; i++) {
        unsigned v = tw_sse_jitter(2000, 5000, &st);
        in_range &= v >= 2000 && v < 7000;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        below += v < 4500;
    }
    ok(in_range, "jitter: every value in [base, base + jitter)");
    ok(lo < 2100 && hi >= 6900, "jitter: spread over the whole range");
    ok(below > 4500 && below < 5500, "jitter: uniform (half below the middle)");
    uint64_t a = 1, b = 2;
    ok(tw_sse_jitter(2000, 5000, &a) != tw_sse_jitter(2000, 5000, &b),
       "jitter: other seeds, other values");
    is_int(tw_sse_jitter(2000, 0, &st), 2000, "jitter 0: the base");
    uint64_t zero = 0;
    unsigned v = tw_sse_jitter(100, 10, &zero);
    ok(v >= 100 && v < 110 && zero != 0, "a zero state still draws, and moves on");
}

int main(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
    test_event();
    test_retry_comment();
    test_jitter();
    apr_pool_destroy(pool);
    apr_terminate();
    return done_testing();
}
