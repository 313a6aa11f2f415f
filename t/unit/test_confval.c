/* Unit tests of src/tw_confval: directive value parsing. */
#include "tap.h"
#include "tw_confval.h"

#include <apr_general.h>
#include <apr_strings.h>
#include <string.h>

static apr_pool_t *pool;

#define KIB 1024L
#define MIB (1024L * 1024L)

static void test_redis_addr(void)
{
    tw_redis_addr a;
    const char *err;

    memset(&a, 0, sizeof(a));
    err = tw_confval_redis_addr(pool, "redis.example:6380", &a);
    ok(!err && a.host && !strcmp(a.host, "redis.example") && a.port == 6380 && !a.path,
       "addr: host:port");
    memset(&a, 0, sizeof(a));
    err = tw_confval_redis_addr(pool, "127.0.0.1:7000", &a);
    ok(!err && a.host && !strcmp(a.host, "127.0.0.1") && a.port == 7000, "addr: ipv4:port");
    memset(&a, 0, sizeof(a));
    err = tw_confval_redis_addr(pool, "localhost", &a);
    ok(!err && a.host && !strcmp(a.host, "localhost") && a.port == 6379 && !a.path,
       "addr: host only means port 6379");
    memset(&a, 0, sizeof(a));
    err = tw_confval_redis_addr(pool, "my_redis-1", &a);
    ok(!err && a.host && !strcmp(a.host, "my_redis-1") && a.port == 6379,
       "addr: container-style name");
    memset(&a, 0, sizeof(a));
    err = tw_confval_redis_addr(pool, "[::1]:6380", &a);
    ok(!err && a.host && !strcmp(a.host, "::1") && a.port == 6380 && !a.path, "addr: [::1]:6380");
    memset(&a, 0, sizeof(a));
    err = tw_confval_redis_addr(pool, "[::1]", &a);
    ok(!err && a.host && !strcmp(a.host, "::1") && a.port == 6379, "addr: [::1] means 6379");
    memset(&a, 0, sizeof(a));
    err = tw_confval_redis_addr(pool, "redis:65535", &a);
    ok(!err && a.port == 65535, "addr: port 65535");
    memset(&a, 0, sizeof(a));
    err = tw_confval_redis_addr(pool, "/run/redis/redis.sock", &a);
    ok(!err && !a.host && a.port == 0 && a.path && !strcmp(a.path, "/run/redis/redis.sock"),
       "addr: absolute unix socket path");

    static const char *const bad[] = {
        "",
        ":6379",
        "6379",
        "redis:0",
        "redis:65536",
        "redis:99999999999",
        "redis:abc",
        "redis:",
        "redis:-1",
        "redis:6379x",
        "redis:63 79",
        "red is",
        "h:1:2",
        "::1",
        "[::1",
        "[::1]x",
        "[::2:]",      /* found by fuzzing: APR takes it, no resolver does */
        "[::1:]:6379", /* the same with a port */
        "[::00001]",   /* a group of five digits */
        "[1:00002::]:5",
        "x:0000000000000000000002749598205602693122", /* found by fuzzing: wrapped to port 2 */
        "x:65536000",
        "[::1]:70000",
        "[::1]:",
        "[nonsense]:6379",
        "[fe80::1%eth0]:6379",
        "redis.sock?x",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err = tw_confval_redis_addr(pool, bad[i], &a);
        ok(err != NULL, "addr: '%s' rejected", bad[i]);
    }
    err = tw_confval_redis_addr(pool, "redis:abc", &a);
    ok(err && strstr(err, "redis:abc"), "addr: the error names the value (%s)", err);
}

static void test_sentinel_addr(void)
{
    tw_redis_addr a;
    const char *err = tw_confval_redis_addr(pool, "sentinel://10.0.0.1:26380,s2,[::1]:5/feed", &a);
    ok(!err && !a.host && !a.path && a.master && !strcmp(a.master, "feed") && a.nsentinels == 3,
       "sentinel: three sentinels and the master name");
    ok(!err && !strcmp(a.sentinels[0].host, "10.0.0.1") && a.sentinels[0].port == 26380 &&
           !strcmp(a.sentinels[1].host, "s2") && a.sentinels[1].port == 26379 &&
           !strcmp(a.sentinels[2].host, "::1") && a.sentinels[2].port == 5,
       "sentinel: each address, port 26379 when left out");
    err = tw_confval_redis_addr(pool, "sentinel://127.0.0.1:26379/mymaster", &a);
    ok(!err && a.nsentinels == 1 && !strcmp(a.master, "mymaster"), "sentinel: one sentinel");

    char many[600] = "sentinel://";
    for (int i = 0; i < TW_SENTINELS_MAX; i++)
        strcat(many, i ? ",h:1" : "h:1");
    err = tw_confval_redis_addr(pool, apr_pstrcat(pool, many, "/m", NULL), &a);
    ok(!err && a.nsentinels == TW_SENTINELS_MAX, "sentinel: %d sentinels", TW_SENTINELS_MAX);
    err = tw_confval_redis_addr(pool, apr_pstrcat(pool, many, ",h:1/m", NULL), &a);
    ok(err && strstr(err, "at most"), "sentinel: one more is refused (%s)", err);

    static const char *const bad[] = {
        "sentinel://",           "sentinel:///m",      "sentinel://h:1",
        "sentinel://h:1/",       "sentinel://h:1/a b", "sentinel://h:0/m",
        "sentinel://h:1,,h:2/m", "sentinel://,h:1/m",  "sentinel://h:1,/m",
        "sentinel://h:1/m/x/ y", "sentinel://h x:1/m", "sentinel://[::1:]:1/m",
        "sentinel://h:1/m/",     "sentinel://h:1/m/x",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err = tw_confval_redis_addr(pool, bad[i], &a);
        ok(err && strstr(err, bad[i]), "sentinel: '%s' rejected, and named (%s)", bad[i],
           err ? err : "accepted");
    }
}

static void test_long(void)
{
    long v = -1;
    ok(!tw_confval_long(pool, "42", 0, 100, &v) && v == 42, "long: 42");
    ok(!tw_confval_long(pool, "0", 0, 100, &v) && v == 0, "long: minimum");
    ok(!tw_confval_long(pool, "100", 0, 100, &v) && v == 100, "long: maximum");
    v = 7;
    ok(tw_confval_long(pool, "101", 0, 100, &v) && v == 7, "long: above maximum, output untouched");
    ok(tw_confval_long(pool, "4", 5, 100, &v) != NULL, "long: below minimum");
    ok(tw_confval_long(pool, "-1", -5, 100, &v) != NULL, "long: a sign is not a whole number");
    ok(tw_confval_long(pool, "+1", 0, 100, &v) != NULL, "long: '+1' rejected");
    ok(tw_confval_long(pool, "", 0, 100, &v) != NULL, "long: empty");
    ok(tw_confval_long(pool, "x", 0, 100, &v) != NULL, "long: 'x'");
    ok(tw_confval_long(pool, "4x", 0, 100, &v) != NULL, "long: junk after the number");
    ok(tw_confval_long(pool, "4 ", 0, 100, &v) != NULL, "long: trailing blank");
    ok(tw_confval_long(pool, " 4", 0, 100, &v) != NULL, "long: leading blank");
    ok(tw_confval_long(pool, "\t4", 0, 100, &v) != NULL, "long: leading tab");
    ok(tw_confval_long(pool, "1.5", 0, 100, &v) != NULL, "long: decimal point");
    ok(tw_confval_long(pool, "99999999999999999999", 0, 100, &v) != NULL, "long: overflow");
    const char *err = tw_confval_long(pool, "101", 0, 100, &v);
    ok(err && strstr(err, "101") && strstr(err, "0..100"), "long: error names value and range (%s)",
       err);
}

static void test_size(void)
{
    long v = -1;
    const long lo = 1024, hi = MIB;
    ok(!tw_confval_size(pool, "8192", lo, hi, &v) && v == 8192, "size: 8192");
    ok(!tw_confval_size(pool, "8k", lo, hi, &v) && v == 8 * KIB, "size: 8k");
    ok(!tw_confval_size(pool, "8K", lo, hi, &v) && v == 8 * KIB, "size: 8K");
    ok(!tw_confval_size(pool, "1M", lo, hi, &v) && v == MIB, "size: 1M");
    ok(!tw_confval_size(pool, "1m", lo, hi, &v) && v == MIB, "size: 1m");
    ok(!tw_confval_size(pool, "1024", lo, hi, &v) && v == 1024, "size: minimum");
    ok(!tw_confval_size(pool, "1024k", lo, hi, &v) && v == MIB, "size: maximum with k");
    v = 5;
    ok(tw_confval_size(pool, "2M", lo, hi, &v) != NULL && v == 5, "size: 2M out of range");
    ok(tw_confval_size(pool, "1025k", lo, hi, &v) != NULL, "size: 1025k out of range");
    ok(tw_confval_size(pool, "1048577", lo, hi, &v) != NULL, "size: one byte over");
    ok(tw_confval_size(pool, "1023", lo, hi, &v) != NULL, "size: one byte under");
    ok(tw_confval_size(pool, "0", lo, hi, &v) != NULL, "size: 0");
    ok(tw_confval_size(pool, "0k", lo, hi, &v) != NULL, "size: 0k");
    ok(tw_confval_size(pool, "-8k", lo, hi, &v) != NULL, "size: negative");
    ok(tw_confval_size(pool, "-1", -10, hi, &v) != NULL, "size: negative even when in range");
    ok(tw_confval_size(pool, "8kb", lo, hi, &v) != NULL, "size: junk suffix 'kb'");
    ok(tw_confval_size(pool, "8G", lo, hi, &v) != NULL, "size: unknown suffix 'G'");
    ok(tw_confval_size(pool, "8 k", lo, hi, &v) != NULL, "size: blank before the suffix");
    ok(tw_confval_size(pool, "8kk", lo, hi, &v) != NULL, "size: double suffix");
    ok(tw_confval_size(pool, "k", lo, hi, &v) != NULL, "size: suffix only");
    ok(tw_confval_size(pool, "", lo, hi, &v) != NULL, "size: empty");
    ok(tw_confval_size(pool, "1.5M", lo, hi, &v) != NULL, "size: decimal");
    ok(tw_confval_size(pool, "9223372036854775807M", lo, hi, &v) != NULL,
       "size: huge with suffix (no overflow)");
    ok(tw_confval_size(pool, "9007199254740992k", 0, 0x7fffffffffffffffL, &v) != NULL,
       "size: k multiplication that would overflow a long");
    ok(tw_confval_size(pool, "99999999999999999999", lo, hi, &v) != NULL, "size: strtol overflow");
}

static void test_duration(void)
{
    long v = -1;
    const long lo = 1, hi = 3600L * 1000L;
    ok(!tw_confval_duration_ms(pool, "15", lo, hi, &v) && v == 15000, "duration: 15 is 15 s");
    ok(!tw_confval_duration_ms(pool, "15s", lo, hi, &v) && v == 15000, "duration: 15s");
    ok(!tw_confval_duration_ms(pool, "500ms", lo, hi, &v) && v == 500, "duration: 500ms");
    ok(!tw_confval_duration_ms(pool, "1ms", lo, hi, &v) && v == 1, "duration: minimum 1ms");
    ok(!tw_confval_duration_ms(pool, "3600", lo, hi, &v) && v == hi, "duration: maximum 3600 s");
    v = 9;
    ok(tw_confval_duration_ms(pool, "0", lo, hi, &v) != NULL && v == 9,
       "duration: 0 out of range, output untouched");
    ok(tw_confval_duration_ms(pool, "0ms", lo, hi, &v) != NULL, "duration: 0ms out of range");
    ok(tw_confval_duration_ms(pool, "3601", lo, hi, &v) != NULL, "duration: 3601 s out of range");
    ok(tw_confval_duration_ms(pool, "3600001ms", lo, hi, &v) != NULL, "duration: ms over maximum");
    ok(tw_confval_duration_ms(pool, "9223372036854775807", lo, hi, &v) != NULL,
       "duration: huge seconds (no overflow)");
    ok(tw_confval_duration_ms(pool, "9223372036854775807s", 0, 0x7fffffffffffffffL, &v) != NULL,
       "duration: seconds that would overflow in milliseconds");
    ok(tw_confval_duration_ms(pool, "-5", lo, hi, &v) != NULL, "duration: negative");
    ok(tw_confval_duration_ms(pool, "15m", lo, hi, &v) != NULL, "duration: unknown suffix 'm'");
    ok(tw_confval_duration_ms(pool, "15sec", lo, hi, &v) != NULL, "duration: suffix 'sec'");
    ok(tw_confval_duration_ms(pool, "15 s", lo, hi, &v) != NULL, "duration: blank before suffix");
    ok(tw_confval_duration_ms(pool, "1.5s", lo, hi, &v) != NULL, "duration: decimal");
    ok(tw_confval_duration_ms(pool, "ms", lo, hi, &v) != NULL, "duration: suffix only");
    ok(tw_confval_duration_ms(pool, "", lo, hi, &v) != NULL, "duration: empty");
    ok(tw_confval_duration_ms(pool, "15mss", lo, hi, &v) != NULL, "duration: junk after ms");
}

static void test_redis_name(void)
{
    ok(tw_confval_redis_name(pool, "tweetsse:posts") == NULL, "name: key with a colon");
    ok(tw_confval_redis_name(pool, "x") == NULL, "name: one character");
    ok(tw_confval_redis_name(pool, "!~{}[]") == NULL, "name: printable punctuation");
    char n200[202];
    memset(n200, 'k', 200);
    n200[200] = '\0';
    ok(tw_confval_redis_name(pool, n200) == NULL, "name: 200 characters");
    n200[200] = 'k';
    n200[201] = '\0';
    ok(tw_confval_redis_name(pool, n200) != NULL, "name: 201 characters rejected");
    ok(tw_confval_redis_name(pool, "") != NULL, "name: empty rejected");
    ok(tw_confval_redis_name(pool, "a b") != NULL, "name: space rejected");
    ok(tw_confval_redis_name(pool, "a\tb") != NULL, "name: tab rejected");
    ok(tw_confval_redis_name(pool, "a\nb") != NULL, "name: newline rejected");
    ok(tw_confval_redis_name(pool, "a\x7f") != NULL, "name: DEL rejected");
    ok(tw_confval_redis_name(pool, "caf\xc3\xa9") != NULL, "name: non-ASCII rejected");
    ok(tw_confval_redis_name(pool, "\x80") != NULL, "name: byte 0x80 rejected");
}

static void test_rate(void)
{
    tw_rate r = {-1, -1, -1};
    ok(!tw_confval_rate(pool, "5/10s", NULL, &r) && r.count == 5 && r.period_ms == 10000 &&
           r.burst == 5,
       "rate: 5/10s, burst defaults to the count");
    ok(!tw_confval_rate(pool, "30/60", "burst=10", &r) && r.count == 30 && r.period_ms == 60000 &&
           r.burst == 10,
       "rate: 30/60 burst=10");
    ok(!tw_confval_rate(pool, "1/1500ms", NULL, &r) && r.period_ms == 1500, "rate: period in ms");
    ok(!tw_confval_rate(pool, "OFF", NULL, &r) && r.count == 0, "rate: off");
    r = (tw_rate){7, 7, 7};
    ok(tw_confval_rate(pool, "off", "burst=3", &r) != NULL && r.count == 7,
       "rate: off takes no burst, output untouched");
    ok(tw_confval_rate(pool, "5", NULL, &r) != NULL, "rate: no period");
    ok(tw_confval_rate(pool, "0/10s", NULL, &r) != NULL, "rate: zero posts");
    ok(tw_confval_rate(pool, "5/0s", NULL, &r) != NULL, "rate: zero period");
    ok(tw_confval_rate(pool, "5/999ms", NULL, &r) != NULL, "rate: period under a second");
    ok(tw_confval_rate(pool, "5/86401", NULL, &r) != NULL, "rate: period over a day");
    ok(tw_confval_rate(pool, "x/10s", NULL, &r) != NULL, "rate: not a number");
    ok(tw_confval_rate(pool, "5/10s", "burst=0", &r) != NULL, "rate: zero burst");
    ok(tw_confval_rate(pool, "5/10s", "bursts=3", &r) != NULL, "rate: misspelt burst");
    ok(tw_confval_rate(pool, "5/10s", "burst=", &r) != NULL, "rate: empty burst");
}

static void test_header_value(void)
{
    ok(tw_confval_header_value(pool, "default-src 'self'; img-src 'self' data:") == NULL,
       "header: a policy with spaces, quotes and a colon");
    ok(tw_confval_header_value(pool, "x") == NULL, "header: one character");
    char v[4098];
    memset(v, 'v', 4096);
    v[4096] = '\0';
    ok(tw_confval_header_value(pool, v) == NULL, "header: 4096 characters");
    v[4096] = 'v';
    v[4097] = '\0';
    ok(tw_confval_header_value(pool, v) != NULL, "header: 4097 characters rejected");
    ok(tw_confval_header_value(pool, "") != NULL, "header: empty rejected");
    ok(tw_confval_header_value(pool, " a") != NULL, "header: leading space rejected");
    ok(tw_confval_header_value(pool, "a ") != NULL, "header: trailing space rejected");
    ok(tw_confval_header_value(pool, "a\r\nX-Evil: 1") != NULL, "header: CR LF rejected");
    ok(tw_confval_header_value(pool, "a\nb") != NULL, "header: LF rejected");
    ok(tw_confval_header_value(pool, "a\tb") != NULL, "header: tab rejected");
    ok(tw_confval_header_value(pool, "a\x7f") != NULL, "header: DEL rejected");
    ok(tw_confval_header_value(pool, "caf\xc3\xa9") != NULL, "header: non-ASCII rejected");
}

int main(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
    test_redis_addr();
    test_sentinel_addr();
    test_long();
    test_size();
    test_duration();
    test_redis_name();
    test_rate();
    test_header_value();
    apr_pool_destroy(pool);
    apr_terminate();
    return done_testing();
}
