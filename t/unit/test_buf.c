/* Unit tests of src/tw_buf: growth, formatting and HTML escaping. */
#include "edge.h"
#include "tap.h"
#include "tw_buf.h"

#include <apr_general.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>

/* APR pools hand out memory from big blocks, so ASan cannot see a write past a buffer's
 * capacity. A guard catches it instead: a pool allocation placed right after the current data
 * block (APR allocates sequentially within a block) and filled with a known pattern. */
#define GUARD_LEN 32

typedef struct guard {
    const char *data; /* the data block the guard follows */
    unsigned char *mem;
    int adjacent; /* the guard really sits right after data[cap - 1] */
} guard;

static void guard_place(guard *g, tw_buf *b)
{
    if (g->data == b->data)
        return;
    g->data = b->data;
    g->mem = apr_palloc(b->pool, GUARD_LEN);
    memset(g->mem, 0xA5, GUARD_LEN);
    g->adjacent = (char *)g->mem == b->data + b->cap;
}

static int guard_intact(const guard *g)
{
    for (int i = 0; i < GUARD_LEN; i++)
        if (g->mem[i] != 0xA5)
            return 0;
    return 1;
}

/* The invariants that must hold after every operation. */
static int buf_sane(const tw_buf *b)
{
    return b->len < b->cap && b->data[b->len] == '\0' && strlen(b->data) == b->len;
}

static const char *escaped(apr_pool_t *p, const char *s)
{
    tw_buf b;
    tw_buf_init(&b, p, 0);
    tw_buf_add_escaped(&b, s, strlen(s));
    return b.data;
}

static void test_init_and_add(apr_pool_t *p)
{
    tw_buf b;
    tw_buf_init(&b, p, 0);
    is_int(b.len, 0, "init: empty");
    is_str(b.data, "", "init: NUL-terminated");
    ok(b.cap >= 64, "init: a small hint still gives 64 bytes");

    tw_buf_init(&b, p, 1000);
    ok(b.cap >= 1000, "init: the hint is honoured");

    tw_buf_init(&b, p, 0);
    tw_buf_add(&b, "abcdef", 3);
    is_str(b.data, "abc", "add: exactly n bytes");
    tw_buf_adds(&b, "de");
    is_str(b.data, "abcde", "adds appends");
    tw_buf_add(&b, "", 0);
    ok(b.len == 5 && buf_sane(&b), "add of 0 bytes changes nothing");

    tw_buf_add(&b, "x\0y", 3);
    is_int(b.len, 8, "add: embedded NUL bytes are kept in len");
    ok(memcmp(b.data + 5, "x\0y", 4) == 0, "add: bytes copied and NUL-terminated");
}

static void test_growth(apr_pool_t *p)
{
    tw_buf b;
    guard g = {0};
    tw_buf_init(&b, p, 0);
    guard_place(&g, &b);
    int sane = 1, intact = 1, adjacent = 0, grew = 0;
    size_t cap0 = b.cap;
    /* 1000 appends of 7 bytes: many doublings. */
    for (int i = 0; i < 1000; i++) {
        tw_buf_add(&b, "0123456", 7);
        sane &= buf_sane(&b);
        intact &= guard_intact(&g);
        guard_place(&g, &b);
        adjacent += g.adjacent;
    }
    grew = b.cap > cap0;
    ok(grew, "capacity grew");
    is_int(b.len, 7000, "length after 1000 appends");
    ok(sane, "len < cap and NUL terminator after every append");
    ok(intact, "no append wrote past the capacity");
    ok(adjacent > 0, "the overflow guard was adjacent to the data at least once");
    int content = 1;
    for (size_t i = 0; i < b.len; i++)
        content &= b.data[i] == "0123456"[i % 7];
    ok(content, "content intact across reallocations");

    /* One append much larger than the capacity. */
    tw_buf_init(&b, p, 0);
    char *big = malloc(100000);
    memset(big, 'z', 100000);
    tw_buf_add(&b, "a", 1);
    tw_buf_add(&b, big, 100000);
    ok(b.len == 100001 && b.data[0] == 'a' && b.data[100000] == 'z' && buf_sane(&b),
       "one large append");
    free(big);
}

static void test_addf(apr_pool_t *p)
{
    tw_buf b;
    guard g = {0};
    tw_buf_init(&b, p, 0);
    guard_place(&g, &b);
    tw_buf_addf(&b, "%d-%s", 42, "x");
    is_str(b.data, "42-x", "addf formats");
    tw_buf_addf(&b, "[%5.2f]", 3.14159);
    is_str(b.data, "42-x[ 3.14]", "addf appends");
    ok(buf_sane(&b) && guard_intact(&g), "addf: sane, nothing written past capacity");

    /* Exactly fill the 64-byte block: 63 bytes plus the NUL. */
    tw_buf_init(&b, p, 0);
    g.data = NULL;
    guard_place(&g, &b);
    tw_buf_addf(&b, "%s", "012345678901234567890123456789012345678901234567890123456789012");
    ok(b.len == 63 && buf_sane(&b) && guard_intact(&g), "addf: 63 bytes fit a 64-byte buffer");
    tw_buf_addf(&b, "%c", 'X');
    ok(b.len == 64 && b.data[63] == 'X' && buf_sane(&b) && guard_intact(&g),
       "addf: one more byte grows the buffer");

    /* Output longer than the room left: the second, sized vsnprintf pass. */
    tw_buf_init(&b, p, 0);
    tw_buf_adds(&b, "head:");
    char arg[300];
    memset(arg, 'q', sizeof(arg) - 1);
    arg[sizeof(arg) - 1] = '\0';
    tw_buf_addf(&b, "<%s|%d>", arg, 7);
    ok(b.len == 5 + 1 + 299 + 3 && buf_sane(&b), "addf: long output, length right");
    ok(strncmp(b.data, "head:<qqq", 9) == 0 && strcmp(b.data + b.len - 3, "|7>") == 0,
       "addf: long output, content right");
    tw_buf_addf(&b, "%s", "");
    ok(b.len == 308 && buf_sane(&b), "addf of an empty result changes nothing");
}

/* tw_buf_add_num against snprintf's "%0*lld" over zero, the edges of long long, and widths. */
static void test_add_num(apr_pool_t *p)
{
    const long long vs[] = {0, 1, 9, 10, 99, 100, 123456789, -1, -42, LLONG_MAX, LLONG_MIN};
    const int ws[] = {0, 1, 2, 3, 4, 20};
    int same = 1;
    for (size_t i = 0; i < sizeof(vs) / sizeof(vs[0]); i++)
        for (size_t j = 0; j < sizeof(ws) / sizeof(ws[0]); j++) {
            tw_buf b;
            char want[48];
            tw_buf_init(&b, p, 0);
            tw_buf_adds(&b, "x");
            tw_buf_add_num(&b, vs[i], ws[j]);
            /* printf pads a negative number's digits after its sign to width - 1 */
            snprintf(want, sizeof(want), "x%0*lld", vs[i] < 0 ? ws[j] + 1 : ws[j], vs[i]);
            if (strcmp(b.data, want) != 0 || b.len != strlen(want) || !buf_sane(&b)) {
                diag("add_num(%lld, %d): '%s', want '%s'", vs[i], ws[j], b.data, want);
                same = 0;
            }
        }
    ok(same, "add_num writes what printf's %%0*lld writes");
}

static void test_escaped(apr_pool_t *p)
{
    is_str(escaped(p, "<"), "&lt;", "escape <");
    is_str(escaped(p, ">"), "&gt;", "escape >");
    is_str(escaped(p, "&"), "&amp;", "escape &");
    is_str(escaped(p, "\""), "&quot;", "escape \"");
    is_str(escaped(p, "'"), "&#39;", "escape '");
    is_str(escaped(p, "<>&\"'"), "&lt;&gt;&amp;&quot;&#39;", "all five specials in a row");
    is_str(escaped(p, "plain text, no specials: caf\xc3\xa9 \xf0\x9f\x98\x80 \n ok"),
           "plain text, no specials: caf\xc3\xa9 \xf0\x9f\x98\x80 \n ok",
           "text without specials (UTF-8, newline) is unchanged");
    is_str(escaped(p, ""), "", "empty string");
    is_str(escaped(p, "it's"), "it&#39;s", "apostrophe in the middle");
    is_str(escaped(p, "''"), "&#39;&#39;", "only apostrophes");
    is_str(escaped(p, "'a'"), "&#39;a&#39;", "apostrophes at both ends");
    is_str(escaped(p, "a'<b>'&c"), "a&#39;&lt;b&gt;&#39;&amp;c", "apostrophes between runs");
    is_str(escaped(p, "<script>alert(1)</script>"), "&lt;script&gt;alert(1)&lt;/script&gt;",
           "script tag");
    is_str(escaped(p, "\" onmouseover=\"x"), "&quot; onmouseover=&quot;x",
           "attribute breakout quote");
    is_str(escaped(p, "&amp;"), "&amp;amp;", "an entity is escaped again, not passed through");

    /* Only n bytes are read. */
    tw_buf b;
    tw_buf_init(&b, p, 0);
    tw_buf_add_escaped(&b, "<a>'<b>", 3);
    is_str(b.data, "&lt;a&gt;", "escape only the first n bytes");
    tw_buf_add_escaped(&b, "'x", 1);
    is_str(b.data, "&lt;a&gt;&#39;", "escape appends; n = 1 stops at the apostrophe");

    /* A NUL byte inside the n bytes must not switch escaping off for what follows; the NUL
     * itself becomes U+FFFD. */
    static const char nul[] = "a\0<b>'\0\"";
    static const char nul_want[] = "a&#xFFFD;&lt;b&gt;&#39;&#xFFFD;&quot;";
    tw_buf_init(&b, p, 0);
    tw_buf_add_escaped(&b, nul, sizeof(nul) - 1);
    is_int((long long)b.len, (long long)sizeof(nul_want) - 1, "embedded NUL: length");
    ok(b.len == sizeof(nul_want) - 1 && memcmp(b.data, nul_want, sizeof(nul_want)) == 0,
       "embedded NUL: kept, and the specials after it still escaped");
    tw_buf_init(&b, p, 0);
    tw_buf_add_escaped(&b, "\0<", 2);
    is_str(b.data, "&#xFFFD;&lt;", "embedded NUL first");

    /* Many specials: the escaped text is 6x the input; check sizing and the guard. */
    guard g = {0};
    tw_buf_init(&b, p, 0);
    guard_place(&g, &b);
    int sane = 1, intact = 1;
    for (int i = 0; i < 200; i++) {
        tw_buf_add_escaped(&b, "\"'\"<", 4);
        sane &= buf_sane(&b);
        intact &= guard_intact(&g);
        guard_place(&g, &b);
    }
    is_int(b.len, 200 * (6 + 5 + 6 + 4), "escaped length after 200 appends");
    ok(sane && intact, "escaping never writes past the capacity");
    ok(strncmp(b.data, "&quot;&#39;&quot;&lt;&quot;", 27) == 0, "escaped content");

    /* Escapes that end just before, at and after the capacity of a fresh 64-byte buffer. */
    static const char *const specials[] = {"<", "&", "\"", "'", "a<", "<'>"};
    int fits = 1;
    for (size_t pre = 48; pre < 64; pre++) {
        for (size_t k = 0; k < sizeof(specials) / sizeof(specials[0]); k++) {
            tw_buf_init(&b, p, 0);
            g.data = NULL;
            guard_place(&g, &b);
            for (size_t i = 0; i < pre; i++)
                tw_buf_add(&b, "x", 1);
            tw_buf_add_escaped(&b, specials[k], strlen(specials[k]));
            const char *want = escaped(p, specials[k]);
            if (!(buf_sane(&b) && guard_intact(&g) && b.len == pre + strlen(want) &&
                  strcmp(b.data + pre, want) == 0)) {
                diag("escape of '%s' after %zu bytes went wrong", specials[k], pre);
                fits = 0;
            }
        }
    }
    ok(fits, "escapes across the capacity boundary: right text, nothing past the capacity");
}

/* Text that ends the caller's memory: tw_buf_add_escaped must read none of the bytes after the
 * n it is given (apr_escape_entity reads the byte at its length before checking the length).
 * The text sits flush against an inaccessible page; a read past it is a failed test. */
static void test_escaped_at_end(apr_pool_t *p)
{
    static const char *const texts[] = {"<", "a", "a<b>", "x&", "'", "a'", "\"", "caf\xc3\xa9"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        size_t n = strlen(texts[i]);
        const char *s = edge_place(texts[i], n);
        static tw_buf b;
        tw_buf_init(&b, p, 0);
        if (edge_faulted()) {
            ok(0, "escaping '%s' read past its last byte", texts[i]);
            continue;
        }
        tw_buf_add_escaped(&b, s, n);
        is_str(b.data, escaped(p, texts[i]), "escaping '%s' at the end of memory", texts[i]);
    }
}

int main(void)
{
    apr_pool_t *p;
    apr_initialize();
    apr_pool_create(&p, NULL);
    test_init_and_add(p);
    test_growth(p);
    test_addf(p);
    test_add_num(p);
    test_escaped(p);
    edge_setup(1);
    test_escaped_at_end(p);
    apr_pool_destroy(p);
    apr_terminate();
    return done_testing();
}
