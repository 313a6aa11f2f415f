/* fuzz_confval: the directive value parsers tw_confval_redis_addr, tw_confval_long,
 * tw_confval_size, tw_confval_duration_ms and tw_confval_redis_name.
 *
 * Input: one directive argument (a C string: it ends at the first NUL byte, if any), given to
 * every parser, the numeric ones with the bounds of the module's directives and with extreme
 * bounds (up to LONG_MIN..LONG_MAX, and ranges below zero).
 *
 * Checks: every error names the value; a failed parse leaves the output alone; numbers agree
 * with a reference grammar (a digit first, digits, then the parser's suffix: none; k K m M;
 * s ms) and exact arithmetic: accepted iff the value fits a long and the scaled value lies in
 * [min, max], and then the output is that value, so within the bounds; names are accepted
 * iff they are 1..200 bytes of '!'..'~'; an accepted address is either the unix socket path
 * (the whole argument) or a host from [A-Za-z0-9.-_] (or a bracketed IPv6 address that
 * inet_pton reads) with the port given after it (else 6379) in 1..65535, and host:port made
 * from it parses to the same address; "host" and "host:port" of that alphabet with a port
 * 1..65535 (host not only digits when no port is given) are accepted. */
#include "fuzz_common.h"
#include "tw_confval.h"

#include <apr_general.h>
#include <apr_strings.h>
#include <arpa/inet.h>
#include <limits.h>

FUZZ_APR_POOL()

typedef struct bounds {
    long min, max;
} bounds;

#define SENTINEL (-123456789L)

static void check_error(const char *what, const char *arg, const char *err)
{
    FUZZ_CHECK(strlen(err) > 0, "%s: empty error", what);
    FUZZ_CHECK(strstr(err, arg) != NULL, "%s: the error does not name '%s': %s", what, arg, err);
}

/* A leading decimal number: 1 with its value and the rest in *suffix, 0 if the argument does
 * not start with a digit, -1 if the number does not fit a long. */
static int ref_number(const char *s, long *v, const char **suffix)
{
    if (*s < '0' || *s > '9')
        return 0;
    unsigned long long acc = 0;
    int big = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (acc > ((unsigned long long)LONG_MAX - (unsigned long long)(*s - '0')) / 10)
            big = 1;
        else
            acc = acc * 10 + (unsigned long long)(*s - '0');
    }
    *v = (long)acc;
    *suffix = s;
    return big ? -1 : 1;
}

/* An allowed suffix of a numeric parser and the factor it scales by. */
typedef struct suffix {
    const char *text;
    long mult;
} suffix;

/* The reference for the three numeric parsers. Returns 1 and the scaled value if accepted. */
static int ref_scaled(const char *arg, const suffix *sfx, size_t nsfx, bounds b, long *out)
{
    long v;
    const char *rest;
    if (ref_number(arg, &v, &rest) != 1)
        return 0;
    for (size_t i = 0; i < nsfx; i++) {
        if (strcmp(rest, sfx[i].text))
            continue;
        if (v > LONG_MAX / sfx[i].mult)
            return 0; /* the scaled value exceeds every long, so max */
        long scaled = v * sfx[i].mult;
        if (scaled < b.min || scaled > b.max)
            return 0;
        *out = scaled;
        return 1;
    }
    return 0;
}

typedef const char *(*num_fn)(apr_pool_t *, const char *, long, long, long *);

static void check_number(const char *what, num_fn fn, const char *arg, const suffix *sfx,
                         size_t nsfx, const bounds *bs, size_t nb)
{
    for (size_t i = 0; i < nb; i++) {
        long out = SENTINEL, want = 0;
        const char *err = fn(pool, arg, bs[i].min, bs[i].max, &out);
        int ok = ref_scaled(arg, sfx, nsfx, bs[i], &want);
        FUZZ_CHECK((err == NULL) == ok, "%s '%s' in %ld..%ld: core %s (%s), reference %s", what,
                   arg, bs[i].min, bs[i].max, err ? "rejects" : "accepts", err ? err : "-",
                   ok ? "accepts" : "rejects");
        if (err) {
            check_error(what, arg, err);
            FUZZ_CHECK(out == SENTINEL, "%s '%s': a failed parse wrote %ld", what, arg, out);
        } else {
            FUZZ_CHECK(out >= bs[i].min && out <= bs[i].max, "%s '%s': %ld outside %ld..%ld", what,
                       arg, out, bs[i].min, bs[i].max);
            FUZZ_CHECK(out == want, "%s '%s': %ld, reference %ld", what, arg, out, want);
        }
    }
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char host_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 "0123456789.-_";

/* All digits, at least one; the value (saturated at 99999) in *port. */
static int all_digits(const char *s, long *port)
{
    long v = 0;
    if (!*s)
        return 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return 0;
        v = v * 10 + (*s - '0');
        if (v > 99999)
            v = 99999;
    }
    *port = v;
    return 1;
}

/* After the host in an accepted argument: nothing (then the port is 6379) or ":<port>". */
static void check_port_text(const char *arg, const char *rest, int port)
{
    long v;
    if (*rest == '\0') {
        FUZZ_CHECK(port == 6379, "'%s': port %d without a port given", arg, port);
        return;
    }
    FUZZ_CHECK(rest[0] == ':' && all_digits(rest + 1, &v), "'%s': '%s' after the host", arg, rest);
    FUZZ_CHECK(v == port, "'%s': port %d, the text says %ld", arg, port, v);
}

/* An accepted sentinel://list/name: 1..TW_SENTINELS_MAX sentinels, each a host of the host
 * alphabet (or an IPv6 address) and a port; the name is what follows the first slash. */
static void check_sentinels(const char *arg, const tw_redis_addr *a)
{
    FUZZ_CHECK(!a->host && !a->path, "'%s': a host or path besides the sentinels", arg);
    FUZZ_CHECK(a->nsentinels >= 1 && a->nsentinels <= TW_SENTINELS_MAX, "'%s': %d sentinels", arg,
               a->nsentinels);
    const char *slash = strchr(arg + 11, '/');
    FUZZ_CHECK(slash && a->master && !strcmp(a->master, slash + 1),
               "'%s': master '%s' is not what follows the slash", arg, a->master);
    FUZZ_CHECK(!tw_confval_redis_name(pool, a->master) && !strchr(a->master, '/'),
               "'%s': a bad master name", arg);
    for (int i = 0; i < a->nsentinels; i++) {
        const tw_redis_node *n = &a->sentinels[i];
        unsigned char in6[16];
        size_t hlen = strlen(n->host);
        FUZZ_CHECK(
            hlen && (strspn(n->host, host_chars) == hlen || inet_pton(AF_INET6, n->host, in6) == 1),
            "'%s': sentinel host '%s'", arg, n->host);
        FUZZ_CHECK(n->port >= 1 && n->port <= 65535, "'%s': sentinel port %d", arg, n->port);
    }
}

static void check_redis_addr(const char *arg)
{
    tw_redis_addr a = {.host = "sentinel", .port = -7, .path = "sentinel"};
    const char *err = tw_confval_redis_addr(pool, arg, &a);
    if (err) {
        check_error("redis address", arg, err);
        FUZZ_CHECK(arg[0] != '/', "unix socket path '%s' refused: %s", arg, err);
        /* Plain "host" or "host:port" of the host alphabet must be accepted. */
        const char *colon = strrchr(arg, ':');
        size_t hlen = colon ? (size_t)(colon - arg) : strlen(arg);
        long port = 0, dummy;
        int host_ok = hlen > 0 && strspn(arg, host_chars) == hlen;
        int port_ok = colon ? all_digits(colon + 1, &port) && port >= 1 && port <= 65535
                            : !all_digits(arg, &dummy);
        FUZZ_CHECK(!(host_ok && port_ok), "'%s' refused: %s", arg, err);
        return;
    }
    if (!strncmp(arg, "sentinel://", 11)) {
        check_sentinels(arg, &a);
        return;
    }
    FUZZ_CHECK(!a.master && !a.nsentinels, "'%s': sentinels from an address", arg);
    if (arg[0] == '/') {
        FUZZ_CHECK(!a.host && a.port == 0 && a.path && !strcmp(a.path, arg),
                   "unix socket '%s' read as host %s port %d path %s", arg,
                   a.host ? a.host : "(none)", a.port, a.path ? a.path : "(none)");
        return;
    }
    FUZZ_CHECK(a.host && a.host[0] && !a.path, "'%s': no host, or a path too", arg);
    FUZZ_CHECK(a.port >= 1 && a.port <= 65535, "'%s': port %d", arg, a.port);
    size_t hlen = strlen(a.host);
    if (arg[0] == '[') {
        unsigned char in6[16];
        FUZZ_CHECK(inet_pton(AF_INET6, a.host, in6) == 1, "'%s': host '%s' is not IPv6", arg,
                   a.host);
        FUZZ_CHECK(!strncmp(arg + 1, a.host, hlen) && arg[1 + hlen] == ']',
                   "'%s': host '%s' is not what is in brackets", arg, a.host);
        check_port_text(arg, arg + hlen + 2, a.port);
    } else {
        FUZZ_CHECK(strspn(a.host, host_chars) == hlen, "'%s': host '%s' outside [A-Za-z0-9.-_]",
                   arg, a.host);
        FUZZ_CHECK(!strncmp(arg, a.host, hlen), "'%s' does not start with host '%s'", arg, a.host);
        check_port_text(arg, arg + hlen, a.port);
    }
    const char *again = apr_psprintf(pool, arg[0] == '[' ? "[%s]:%d" : "%s:%d", a.host, a.port);
    tw_redis_addr b = {.host = NULL};
    const char *err2 = tw_confval_redis_addr(pool, again, &b);
    FUZZ_CHECK(!err2 && b.host && !strcmp(b.host, a.host) && b.port == a.port && !b.path,
               "'%s' gave %s port %d, but '%s' does not give it back (%s)", arg, a.host, a.port,
               again, err2 ? err2 : "other address");
}

static void check_redis_name(const char *arg)
{
    const char *err = tw_confval_redis_name(pool, arg);
    size_t n = strlen(arg);
    int ok = n >= 1 && n <= 200;
    for (size_t i = 0; ok && i < n; i++)
        ok = arg[i] >= '!' && arg[i] <= '~';
    FUZZ_CHECK((err == NULL) == ok, "name '%s': core %s, reference %s", arg,
               err ? "rejects" : "accepts", ok ? "accepts" : "rejects");
    if (err)
        check_error("name", arg, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *arg = fuzz_cstr(data, size);

    /* TweetsseHistory, TweetssePageSize, TweetsseMaxMessageLength, then extremes. */
    static const bounds nums[] = {{10, 10000000},       {1, 500},  {1, 10000}, {0, LONG_MAX},
                                  {LONG_MIN, LONG_MAX}, {-10, -1}, {5, 5}};
    static const suffix none[] = {{"", 1}};
    check_number("long", tw_confval_long, arg, none, COUNT(none), nums, COUNT(nums));

    /* TweetsseMaxBody, then extremes. */
    static const bounds sizes[] = {
        {256, 1048576}, {0, LONG_MAX}, {LONG_MIN, LONG_MAX}, {-2000, -1}, {1024, 1024}};
    static const suffix size_sfx[] = {
        {"", 1}, {"k", 1024}, {"K", 1024}, {"m", 1024 * 1024}, {"M", 1024 * 1024}};
    check_number("size", tw_confval_size, arg, size_sfx, COUNT(size_sfx), sizes, COUNT(sizes));

    /* TweetsseKeepalive, TweetsseRedisTimeout, TweetsseRetry, then extremes. */
    static const bounds durations[] = {{1000, 300000}, {100, 60000},         {100, 600000},
                                       {0, LONG_MAX},  {LONG_MIN, LONG_MAX}, {-2000, -1},
                                       {1500, 1500},   {1, 3600000}};
    static const suffix dur_sfx[] = {{"", 1000}, {"s", 1000}, {"ms", 1}};
    check_number("duration", tw_confval_duration_ms, arg, dur_sfx, COUNT(dur_sfx), durations,
                 COUNT(durations));

    check_redis_name(arg);
    check_redis_addr(arg);

    free(arg);
    apr_pool_clear(pool);
    return 0;
}
