/* Unit tests of src/tw_id: stream ids, Last-Event-ID and the last_event_id argument. */
#include "tap.h"
#include "tw_id.h"

#include <stdlib.h>
#include <string.h>

/* tw_id_parse on an exactly sized heap copy, so ASan sees any read past n. */
static int parse_exact(const char *s, tw_id *out)
{
    size_t n = strlen(s);
    char *copy = malloc(n ? n : 1);
    memcpy(copy, s, n);
    int r = tw_id_parse(copy, n, out);
    free(copy);
    return r;
}

static void test_parse(void)
{
    tw_id id = {0, 0};
    ok(parse_exact("1700000000123-0", &id) && id.ms == 1700000000123ULL && id.seq == 0,
       "parse 1700000000123-0");
    ok(parse_exact("0-0", &id) && id.ms == 0 && id.seq == 0, "parse 0-0");
    ok(parse_exact("5-17", &id) && id.ms == 5 && id.seq == 17, "parse 5-17");
    ok(parse_exact("18446744073709551615-18446744073709551615", &id) && id.ms == UINT64_MAX &&
           id.seq == UINT64_MAX,
       "parse the largest id");

    static const char *const bad[] = {
        "",
        "1",
        "1-",
        "-1",
        "-",
        "1-2-3",
        "abc",
        "1-a",
        "a-1",
        "1 -2",
        "1- 2",
        "+1-2",
        "1-+2",
        "1.5-2",
        "18446744073709551616-0",
        "0-18446744073709551616",
        "99999999999999999999999-0",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tw_id keep = {77, 88};
        int r = parse_exact(bad[i], &keep);
        ok(r == 0 && keep.ms == 77 && keep.seq == 88, "parse rejects '%s', output untouched",
           bad[i]);
    }
    /* Only n bytes count. */
    ok(tw_id_parse("12-34xyz", 5, &id) && id.ms == 12 && id.seq == 34, "parse reads only n bytes");
    ok(!tw_id_parse("12-34", 3, &id), "parse of a prefix ending at the dash fails");
}

static void test_parse_resume(void)
{
    tw_id id = {0, 0};
    is_int(tw_id_parse_resume("1700000000123-4", &id), 1, "resume: plain id");
    ok(id.ms == 1700000000123ULL && id.seq == 4, "resume: value");
    id.ms = 0;
    is_int(tw_id_parse_resume("  \t 9-8 \t ", &id), 1, "resume: blanks around are ignored");
    ok(id.ms == 9 && id.seq == 8, "resume: value with blanks");
    is_int(tw_id_parse_resume("", &id), 0, "resume: empty means none");
    is_int(tw_id_parse_resume("   \t", &id), 0, "resume: only blanks means none");
    is_int(tw_id_parse_resume(NULL, &id), 0, "resume: NULL means none");
    is_int(tw_id_parse_resume("1-", &id), -1, "resume: '1-' malformed");
    is_int(tw_id_parse_resume("-1", &id), -1, "resume: '-1' malformed");
    is_int(tw_id_parse_resume("1-2-3", &id), -1, "resume: '1-2-3' malformed");
    is_int(tw_id_parse_resume("abc", &id), -1, "resume: 'abc' malformed");
    is_int(tw_id_parse_resume("99999999999999999999999-0", &id), -1, "resume: overflow malformed");
    is_int(tw_id_parse_resume("1 - 2", &id), -1, "resume: inner blanks malformed");
    is_int(tw_id_parse_resume("1-2\n", &id), -1, "resume: a newline is not a blank");
    is_int(tw_id_parse_resume("1-2\r", &id), -1, "resume: a CR is not a blank");
    ok(id.ms == 9 && id.seq == 8, "resume: a malformed value leaves the output alone");
}

static void test_query_arg(void)
{
    char buf[TW_ID_MAX];
    memset(buf, 'X', sizeof(buf));
    is_int(tw_id_query_arg("last_event_id=12-3", buf, sizeof(buf)), 1, "query: only arg");
    is_str(buf, "12-3", "query: value");
    is_int(tw_id_query_arg("a=1&last_event_id=5-6&b=2", buf, sizeof(buf)), 1,
           "query: between other args");
    is_str(buf, "5-6", "query: value between other args");
    is_int(tw_id_query_arg("a=1&b=last_event_id&last_event_id=7-8", buf, sizeof(buf)), 1,
           "query: last, after a value that looks like the key");
    is_str(buf, "7-8", "query: the real argument is found");
    is_int(tw_id_query_arg("last_event_id=1%2D2", buf, sizeof(buf)), 1, "query: %%2D");
    is_str(buf, "1-2", "query: percent-encoded dash decoded");
    is_int(tw_id_query_arg("last_event_id=+1-2+", buf, sizeof(buf)), 1, "query: plus signs");
    is_str(buf, " 1-2 ", "query: + decodes to a blank");
    tw_id id;
    ok(tw_id_parse_resume(buf, &id) == 1 && id.ms == 1 && id.seq == 2,
       "query: the decoded value parses as a resume id");
    is_int(tw_id_query_arg("last_event_id=", buf, sizeof(buf)), 1, "query: empty value");
    is_str(buf, "", "query: empty value decoded");
    is_int(tw_id_query_arg("last_event_id=1-1&last_event_id=2-2", buf, sizeof(buf)), 1,
           "query: repeated argument");
    is_str(buf, "1-1", "query: the first one wins");

    is_int(tw_id_query_arg("", buf, sizeof(buf)), 0, "query: empty query string");
    is_int(tw_id_query_arg(NULL, buf, sizeof(buf)), 0, "query: no query string");
    is_int(tw_id_query_arg("a=1&b=2", buf, sizeof(buf)), 0, "query: absent");
    is_int(tw_id_query_arg("xlast_event_id=1-2", buf, sizeof(buf)), 0,
           "query: a longer key is not the argument");
    is_int(tw_id_query_arg("last_event_idx=1-2", buf, sizeof(buf)), 0,
           "query: a key with a suffix is not the argument");
    is_int(tw_id_query_arg("last_event_id", buf, sizeof(buf)), 0, "query: key without '='");
    is_int(tw_id_query_arg("&&last_event_id=3-4&", buf, sizeof(buf)), 1, "query: empty args");
    is_str(buf, "3-4", "query: value among empty args");

    is_int(tw_id_query_arg("last_event_id=%ZZ", buf, sizeof(buf)), -1, "query: bad escape");
    is_int(tw_id_query_arg("last_event_id=1-%", buf, sizeof(buf)), -1, "query: lone %%");
    is_int(tw_id_query_arg("last_event_id=1-%2&x=1", buf, sizeof(buf)), -1, "query: short %%2");
    is_int(tw_id_query_arg("last_event_id=1%00-2", buf, sizeof(buf)), -1, "query: %%00");

    /* Too long: the value and its NUL must fit `cap`. */
    char arg[200];
    char val[TW_ID_MAX + 1];
    memset(val, '1', sizeof(val));
    val[TW_ID_MAX - 1] = '\0'; /* 41 characters: fits with the NUL */
    snprintf(arg, sizeof(arg), "last_event_id=%s", val);
    is_int(tw_id_query_arg(arg, buf, sizeof(buf)), 1, "query: 41 characters fit 42 bytes");
    is_int((long long)strlen(buf), TW_ID_MAX - 1, "query: all 41 characters copied");
    val[TW_ID_MAX - 1] = '1';
    val[TW_ID_MAX] = '\0'; /* 42 characters */
    snprintf(arg, sizeof(arg), "last_event_id=%s&a=b", val);
    char small[TW_ID_MAX + 8];
    memset(small, 'X', sizeof(small));
    is_int(tw_id_query_arg(arg, small, TW_ID_MAX), -1, "query: 42 characters are too long");
    ok(small[TW_ID_MAX] == 'X', "query: nothing written past cap");
    is_int(tw_id_query_arg("last_event_id=1234", buf, 4), -1, "query: tiny buffer");
}

static void test_query_named(void)
{
    char buf[TW_ID_MAX];
    is_int(tw_id_query_named("before=12-3", "before", buf, sizeof(buf)), 1, "named: only arg");
    is_str(buf, "12-3", "named: value");
    is_int(tw_id_query_named("x=1&before=4-5&y", "before", buf, sizeof(buf)), 1,
           "named: among others");
    is_str(buf, "4-5", "named: value among others");
    is_int(tw_id_query_named("beforex=1-2&xbefore=3-4&before", "before", buf, sizeof(buf)), 0,
           "named: longer keys and a key without '=' are not the argument");
    is_int(tw_id_query_named("last_event_id=1-2", "before", buf, sizeof(buf)), 0,
           "named: another argument is not it");
    is_int(tw_id_query_named("before=1-2", "last_event_id", buf, sizeof(buf)), 0,
           "named: nor the other way round");
    is_int(tw_id_query_named("before=%ZZ", "before", buf, sizeof(buf)), -1, "named: bad escape");
    is_int(tw_id_query_named("before=123456789012345678901-1234567890123456789012", "before", buf,
                             sizeof(buf)),
           -1, "named: too long");
}

static void test_cmp(void)
{
    tw_id a = {1, 5}, b = {2, 0}, c = {2, 1}, big = {UINT64_MAX, 0}, zero = {0, 0};
    ok(tw_id_cmp(a, b) < 0, "cmp: ms decides first (1-5 < 2-0)");
    ok(tw_id_cmp(b, a) > 0, "cmp: 2-0 > 1-5");
    ok(tw_id_cmp(b, c) < 0, "cmp: then seq (2-0 < 2-1)");
    ok(tw_id_cmp(c, b) > 0, "cmp: 2-1 > 2-0");
    is_int(tw_id_cmp(c, c), 0, "cmp: equal");
    ok(tw_id_cmp(big, zero) > 0 && tw_id_cmp(zero, big) < 0, "cmp: extreme values, no overflow");
    tw_id s1 = {7, UINT64_MAX}, s2 = {7, 0};
    ok(tw_id_cmp(s1, s2) > 0 && tw_id_cmp(s2, s1) < 0, "cmp: extreme seq values");
}

static void test_format(void)
{
    char buf[TW_ID_MAX];
    tw_id id = {1700000000123ULL, 7};
    is_int((long long)tw_id_format(id, buf), 15, "format: length");
    is_str(buf, "1700000000123-7", "format: text");
    tw_id zero = {0, 0};
    tw_id_format(zero, buf);
    is_str(buf, "0-0", "format: 0-0");

    tw_id max = {UINT64_MAX, UINT64_MAX};
    char *exact = malloc(TW_ID_MAX); /* exactly TW_ID_MAX bytes, so ASan sees an overflow */
    is_int((long long)tw_id_format(max, exact), TW_ID_MAX - 1, "format: the longest id");
    is_str(exact, "18446744073709551615-18446744073709551615", "format: the longest id text");
    free(exact);

    static const tw_id ids[] = {
        {0, 0}, {1, 0}, {0, 1}, {1700000000123ULL, 42}, {UINT64_MAX, 0}, {12345, UINT64_MAX}};
    int round = 1;
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        tw_id back = {99, 99};
        size_t n = tw_id_format(ids[i], buf);
        round &=
            n == strlen(buf) && tw_id_parse(buf, n, &back) == 1 && tw_id_cmp(back, ids[i]) == 0;
    }
    ok(round, "format then parse gives the same id");
    tw_id lead;
    ok(tw_id_parse("007-08", 6, &lead) && tw_id_format(lead, buf) && strcmp(buf, "7-8") == 0,
       "format is canonical (no leading zeros)");
}

int main(void)
{
    test_parse();
    test_parse_resume();
    test_query_arg();
    test_query_named();
    test_cmp();
    test_format();
    return done_testing();
}
