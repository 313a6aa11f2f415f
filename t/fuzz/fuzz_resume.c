/* fuzz_resume: the resume point of a stream: tw_id_parse_resume on a Last-Event-ID header,
 * and tw_id_query_arg + tw_id_parse_resume on a query string (?last_event_id=...).
 *
 * Input: a C string (it ends at the first NUL byte, if any), used both as the header value
 * and as the raw query string. The query argument is decoded into buffers of several sizes,
 * among them the module's (TW_ID_MAX + 8), each placed right before a guard page, since APR
 * (not built with ASan) writes the decoded value. The empty input also tries a missing
 * header and a missing query string (NULL): both mean "none".
 *
 * Checks: results are -1, 0 or 1 and agree with a reference grammar (blanks around, empty
 * means none, "<ms>-<seq>" of 1..20 digits each within 64 bits); a parsed id has the values
 * the reference reads, formats to a canonical text (no leading zeros, < TW_ID_MAX bytes)
 * that parses back to the same id and formats again to the same text; a value that is not
 * an id leaves the output alone; tw_id_query_arg agrees with a reference reading of the
 * query string (first "last_event_id=" argument, too long if it does not fit the buffer with
 * its NUL, '+' and %XX decoded, a bad escape or %00 malformed) and its decoded value fits
 * the buffer and is NUL-terminated; tw_id_cmp orders a parsed id and ids next to it like
 * the pairs (ms, seq). */
#include "fuzz_common.h"
#include "tw_id.h"

#include <inttypes.h>

static fuzz_guard guard;

static void check_canonical(tw_id id)
{
    char text[TW_ID_MAX], again[TW_ID_MAX], want[64];
    size_t n = tw_id_format(id, text);
    FUZZ_CHECK(n > 0 && n < TW_ID_MAX && text[n] == '\0' && strlen(text) == n,
               "formatted id of %zu bytes", n);
    snprintf(want, sizeof(want), "%" PRIu64 "-%" PRIu64, id.ms, id.seq);
    FUZZ_CHECK(!strcmp(text, want), "id formats to '%s', not '%s'", text, want);
    tw_id back = {1, 1};
    FUZZ_CHECK(tw_id_parse(text, n, &back) == 1, "canonical '%s' does not parse", text);
    FUZZ_CHECK(back.ms == id.ms && back.seq == id.seq && tw_id_cmp(back, id) == 0,
               "'%s' parses to another id", text);
    FUZZ_CHECK(tw_id_format(back, again) == n && !strcmp(again, text), "'%s' is not stable", text);
}

static int sign(int v)
{
    return (v > 0) - (v < 0);
}

/* tw_id_cmp against the order of the pairs (ms, seq), on ids next to `id`. */
static void check_cmp(tw_id id)
{
    const tw_id others[] = {
        {0, 0},          {UINT64_MAX, UINT64_MAX}, {id.ms, id.seq ^ 1}, {id.ms ^ 1, id.seq},
        {id.ms, id.seq}, {id.ms ^ 1, id.seq ^ 1},  {id.seq, id.ms},
    };
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        tw_id o = others[i];
        int want = id.ms != o.ms ? (id.ms < o.ms ? -1 : 1)
                                 : (id.seq != o.seq ? (id.seq < o.seq ? -1 : 1) : 0);
        FUZZ_CHECK(sign(tw_id_cmp(id, o)) == want && sign(tw_id_cmp(o, id)) == -want,
                   "tw_id_cmp orders %" PRIu64 "-%" PRIu64 " and %" PRIu64 "-%" PRIu64 " badly",
                   id.ms, id.seq, o.ms, o.seq);
    }
}

/* A resume value against the reference. */
static void check_resume(const char *s)
{
    const tw_id sentinel = {0x5555555555555555ULL, 0xAAAAAAAAAAAAAAAAULL};
    tw_id id = sentinel;
    int rc = tw_id_parse_resume(s, &id);
    uint64_t ms = 0, seq = 0;
    int want = ref_resume(s, &ms, &seq);
    FUZZ_CHECK(rc == want, "'%s': core says %d, reference %d", s, rc, want);
    if (rc == 1) {
        FUZZ_CHECK(id.ms == ms && id.seq == seq,
                   "'%s' parses to %" PRIu64 "-%" PRIu64 ", reference %" PRIu64 "-%" PRIu64, s,
                   id.ms, id.seq, ms, seq);
        check_canonical(id);
        check_cmp(id);
    } else {
        FUZZ_CHECK(id.ms == sentinel.ms && id.seq == sentinel.seq,
                   "'%s' (result %d) changed the output", s, rc);
    }
}

/* The reference for tw_id_query_arg: 1 with the decoded value in `val`, 0, or -1. */
static int ref_query(const char *args, size_t cap, char *val)
{
    static const char key[] = "last_event_id=";
    const size_t klen = sizeof(key) - 1;
    for (const char *p = args;;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len >= klen && !memcmp(p, key, klen)) {
            size_t vlen = len - klen;
            if (vlen + 1 > cap)
                return -1;
            return ref_urldecode(p + klen, vlen, val) < 0 ? -1 : 1;
        }
        if (!amp)
            return 0;
        p = amp + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) { /* no header, no query string */
        tw_id id = {7, 7};
        char buf[TW_ID_MAX + 8];
        FUZZ_CHECK(tw_id_parse_resume(NULL, &id) == 0 && id.ms == 7 && id.seq == 7,
                   "a missing header is not 'none'");
        FUZZ_CHECK(tw_id_query_arg(NULL, buf, sizeof(buf)) == 0, "a missing query has the arg");
    }
    char *s = fuzz_cstr(data, size);
    check_resume(s);

    static const size_t caps[] = {1, 2, 8, TW_ID_MAX, TW_ID_MAX + 8};
    char *want = malloc(size + 1);
    FUZZ_CHECK(want != NULL, "out of memory");
    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        size_t cap = caps[i];
        char *buf = fuzz_guard_tail(&guard, cap);
        int rc = tw_id_query_arg(s, buf, cap);
        int ref = ref_query(s, cap, want);
        FUZZ_CHECK(rc == ref, "query, buffer of %zu: core says %d, reference %d", cap, rc, ref);
        if (rc != 1)
            continue;
        FUZZ_CHECK(memchr(buf, '\0', cap) != NULL, "decoded value not NUL-terminated");
        FUZZ_CHECK(!strcmp(buf, want), "decoded '%s', reference '%s'", buf, want);
        if (cap == TW_ID_MAX + 8) /* the module's buffer: the value as a resume point */
            check_resume(buf);
    }
    free(want);
    free(s);
    return 0;
}
