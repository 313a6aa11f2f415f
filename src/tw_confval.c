#include "tw_confval.h"

#include <apr_network_io.h>
#include <arpa/inet.h>
#include <apr_strings.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Is the port in "host:port" or "[v6]:port" (if there is one) 1..65535 as written?
 * apr_parse_addr_port wraps larger numbers around (":0000...2749598205602693122" is port 2;
 * found by fuzzing). */
static int tw_confval_port_ok(const char *arg)
{
    const char *colon = arg[0] == '[' ? strstr(arg, "]:") : strrchr(arg, ':');
    if (!colon)
        return 1;
    const char *digits = colon + (arg[0] == '[' ? 2 : 1);
    size_t n = strspn(digits, "0123456789");
    if (n == 0 || digits[n] != '\0')
        return 0;
    while (n > 1 && *digits == '0') /* leading zeros are allowed, and do not count */
        digits++, n--;
    return n <= 5 && strtol(digits, NULL, 10) >= 1 && strtol(digits, NULL, 10) <= 65535;
}

/* "host:port" or "host" (then `port`) into `out`; NULL or why not. */
static const char *tw_confval_node(apr_pool_t *p, const char *arg, int port, tw_redis_node *out);

/* "sentinel://h:p,h:p/name": the part after the scheme. */
static const char *tw_confval_sentinels(apr_pool_t *p, const char *spec, tw_redis_addr *out)
{
    const char *slash = strchr(spec, '/');
    if (!slash || slash == spec)
        return "expected sentinel://host:port[,host:port...]/master-name";
    const char *err = tw_confval_redis_name(p, slash + 1);
    if (err)
        return apr_pstrcat(p, "the master name ", err, NULL);
    if (strchr(slash + 1, '/'))
        return "the master name may not hold a '/'";
    tw_redis_node *nodes = apr_pcalloc(p, sizeof(*nodes) * TW_SENTINELS_MAX);
    int n = 0;
    char *list = apr_pstrmemdup(p, spec, (apr_size_t)(slash - spec)), *state = NULL;
    /* apr_strtok skips empty fields: "a,,b" or a trailing comma is a typo, not a sentinel. */
    if (strstr(list, ",,") || list[0] == ',' || slash[-1] == ',')
        return "an empty sentinel address";
    for (char *one = apr_strtok(list, ",", &state); one; one = apr_strtok(NULL, ",", &state)) {
        if (n == TW_SENTINELS_MAX)
            return apr_psprintf(p, "at most %d sentinels", TW_SENTINELS_MAX);
        if ((err = tw_confval_node(p, one, 26379, &nodes[n++])))
            return err;
    }
    *out =
        (tw_redis_addr){.master = apr_pstrdup(p, slash + 1), .sentinels = nodes, .nsentinels = n};
    return NULL;
}

const char *tw_confval_redis_addr(apr_pool_t *p, const char *arg, tw_redis_addr *out)
{
    if (arg[0] == '/') {
        *out = (tw_redis_addr){.path = apr_pstrdup(p, arg)};
        return NULL;
    }
    if (strncmp(arg, "sentinel://", 11) == 0) {
        const char *err = tw_confval_sentinels(p, arg + 11, out);
        return err ? apr_psprintf(p, "'%s': %s", arg, err) : NULL;
    }
    tw_redis_node node;
    const char *err = tw_confval_node(p, arg, 6379, &node);
    if (err)
        return apr_psprintf(p,
                            "'%s' is not host:port, an absolute unix socket path or "
                            "sentinel://host:port,.../master-name",
                            arg);
    *out = (tw_redis_addr){.host = node.host, .port = node.port};
    return NULL;
}

static const char *tw_confval_node(apr_pool_t *p, const char *arg, int dflt, tw_redis_node *out)
{
    /* Outside brackets, apr_parse_addr_port takes anything before a last ":<digits>" as the
     * host ("redis:abc", "a b", "::1"); a host name or IPv4 address holds only these. */
    static const char host_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789.-_";
    char *host = NULL, *scope = NULL;
    apr_port_t port = 0;
    /* In brackets it accepts what is no IPv6 address ("[::1:]", "[::00001]"), so those are
     * checked with inet_pton, as the connect will read them. */
    struct in6_addr v6;
    if (apr_parse_addr_port(&host, &scope, &port, arg, p) != APR_SUCCESS || !host || scope ||
        (arg[0] != '[' && host[strspn(host, host_chars)] != '\0') ||
        (arg[0] == '[' && inet_pton(AF_INET6, host, &v6) != 1) || !tw_confval_port_ok(arg))
        return apr_psprintf(p, "'%s' is not host:port", arg);
    out->host = host;
    out->port = port ? port : dflt;
    return NULL;
}

/* Parse a leading whole number; *end points past it. */
static const char *tw_confval_number(apr_pool_t *p, const char *arg, long *out, char **end)
{
    errno = 0;
    long v = strtol(arg, end, 10);
    if (*end == arg || errno || arg[0] < '0' || arg[0] > '9') /* strtol allows blanks, signs */
        return apr_psprintf(p, "'%s' is not a whole number", arg);
    *out = v;
    return NULL;
}

static const char *tw_confval_range(apr_pool_t *p, const char *arg, long v, long min, long max,
                                    const char *unit, long *out)
{
    if (v < min || v > max)
        return apr_psprintf(p, "'%s' is out of range (%ld..%ld%s)", arg, min, max, unit);
    *out = v;
    return NULL;
}

const char *tw_confval_long(apr_pool_t *p, const char *arg, long min, long max, long *out)
{
    long v;
    char *end;
    const char *err = tw_confval_number(p, arg, &v, &end);
    if (err)
        return err;
    if (*end)
        return apr_psprintf(p, "'%s' is not a whole number", arg);
    return tw_confval_range(p, arg, v, min, max, "", out);
}

const char *tw_confval_size(apr_pool_t *p, const char *arg, long min, long max, long *out)
{
    long v;
    char *end;
    const char *err = tw_confval_number(p, arg, &v, &end);
    if (err)
        return err;
    long mult = 1;
    if (!strcmp(end, "k") || !strcmp(end, "K"))
        mult = 1024;
    else if (!strcmp(end, "m") || !strcmp(end, "M"))
        mult = 1024 * 1024;
    else if (*end)
        return apr_psprintf(p, "'%s' is not a size (bytes, or with a k or M suffix)", arg);
    if (v > max / mult)
        return apr_psprintf(p, "'%s' is out of range (%ld..%ld bytes)", arg, min, max);
    return tw_confval_range(p, arg, v * mult, min, max, " bytes", out);
}

const char *tw_confval_duration_ms(apr_pool_t *p, const char *arg, long min_ms, long max_ms,
                                   long *out)
{
    long v;
    char *end;
    const char *err = tw_confval_number(p, arg, &v, &end);
    if (err)
        return err;
    if (!strcmp(end, "ms"))
        return tw_confval_range(p, arg, v, min_ms, max_ms, " ms", out);
    if (*end && strcmp(end, "s"))
        return apr_psprintf(p, "'%s' is not a duration (seconds, or with an ms suffix)", arg);
    if (v > max_ms / 1000)
        return apr_psprintf(p, "'%s' is out of range (%ld..%ld ms)", arg, min_ms, max_ms);
    return tw_confval_range(p, arg, v * 1000, min_ms, max_ms, " ms", out);
}

const char *tw_confval_redis_name(apr_pool_t *p, const char *arg)
{
    size_t n = strlen(arg);
    if (n == 0 || n > 200)
        return apr_psprintf(p, "'%s' must be 1..200 characters", arg);
    for (size_t i = 0; i < n; i++)
        if (arg[i] <= ' ' || arg[i] > '~')
            return apr_psprintf(p, "'%s' may only hold printable ASCII without spaces", arg);
    return NULL;
}

const char *tw_confval_rate(apr_pool_t *p, const char *arg, const char *burst, tw_rate *out)
{
    if (!strcasecmp(arg, "off")) {
        if (burst)
            return "'off' takes no burst";
        *out = (tw_rate){0, 0, 0};
        return NULL;
    }
    const char *slash = strchr(arg, '/');
    if (!slash)
        return apr_psprintf(p, "'%s' is not a rate: write <posts>/<duration>, e.g. 5/10s", arg);
    tw_rate r;
    const char *err =
        tw_confval_long(p, apr_pstrmemdup(p, arg, (size_t)(slash - arg)), 1, 100000, &r.count);
    if (!err)
        err = tw_confval_duration_ms(p, slash + 1, 1000, 86400000, &r.period_ms);
    if (err)
        return err;
    r.burst = r.count;
    if (burst) {
        if (strncmp(burst, "burst=", 6) != 0)
            return apr_psprintf(p, "'%s' is not burst=<posts>", burst);
        if ((err = tw_confval_long(p, burst + 6, 1, 100000, &r.burst)))
            return err;
    }
    *out = r;
    return NULL;
}

const char *tw_confval_header_value(apr_pool_t *p, const char *arg)
{
    size_t n = strlen(arg);
    if (n == 0 || n > 4096)
        return "the value must be 1..4096 characters";
    if (arg[0] == ' ' || arg[n - 1] == ' ')
        return "the value may not start or end with a space";
    for (size_t i = 0; i < n; i++)
        if (arg[i] < ' ' || arg[i] > '~')
            return apr_psprintf(p, "the value may only hold printable ASCII (character %zu is not)",
                                i + 1);
    return NULL;
}
