/* mod_tweetsse_config.c: the directive table, server config create/merge, and the defaults. */
#include "mod_tweetsse_config.h"

#include <apr_file_io.h>
#include <apr_network_io.h>
#include <apr_strings.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

void *tw_config_create_srv(apr_pool_t *p, server_rec *s)
{
    (void)s;
    tw_srv_conf *c = apr_pcalloc(p, sizeof(*c));
    tw_feed_unset(&c->feed);
    c->page_size = c->max_chars = c->max_body = c->retry_ms = c->retry_jitter_ms = -1;
    c->identity = TW_IDENTITY_UNSET;
    c->max_resume = c->max_per_addr = -1;
    return c;
}

#define TW_MERGE(f, unset) (add->f != (unset) ? add->f : base->f)

void *tw_config_merge_srv(apr_pool_t *p, void *basev, void *addv)
{
    const tw_srv_conf *base = basev, *add = addv;
    tw_srv_conf *c = apr_pcalloc(p, sizeof(*c));
    tw_feed_merge(&base->feed, &add->feed, &c->feed);
    c->page_size = TW_MERGE(page_size, -1);
    c->max_chars = TW_MERGE(max_chars, -1);
    c->max_body = TW_MERGE(max_body, -1);
    c->retry_ms = TW_MERGE(retry_ms, -1);
    c->retry_jitter_ms = TW_MERGE(retry_jitter_ms, -1);
    c->identity = TW_MERGE(identity, TW_IDENTITY_UNSET);
    c->secret_file[0] = TW_MERGE(secret_file[0], NULL);
    c->secret_file[1] = add->secret_file[0] ? add->secret_file[1] : base->secret_file[1];
    c->trusted = TW_MERGE(trusted, NULL);
    c->max_resume = TW_MERGE(max_resume, -1);
    c->max_per_addr = TW_MERGE(max_per_addr, -1);
    c->csp = TW_MERGE(csp, NULL);
    return c;
}

#define TW_DEFAULT(f, unset, v)                                                                    \
    do {                                                                                           \
        if (c->f == (unset))                                                                       \
            c->f = (v);                                                                            \
    } while (0)

/* Fill in the defaults of every field still unset. */
static void tw_config_finish(tw_srv_conf *c)
{
    tw_feed_defaults(&c->feed);
    TW_DEFAULT(page_size, -1, 50);
    TW_DEFAULT(max_chars, -1, 280);
    TW_DEFAULT(max_body, -1, 8192);
    TW_DEFAULT(retry_ms, -1, 2000);
    /* Streams the server closes at once (a graceful restart) come back over 5 s, not 100 ms. */
    TW_DEFAULT(retry_jitter_ms, -1, 5000);
    TW_DEFAULT(identity, TW_IDENTITY_UNSET, TW_IDENTITY_COOKIE);
    /* Four pages: a resume longer than that shows the client more missed posts than its page
     * holds, and a fresh page (one rendering per child) serves it better than hundreds of
     * events; it also bounds what a stream's replay holds in memory. */
    TW_DEFAULT(max_resume, -1, 4 * c->page_size);
    TW_DEFAULT(max_per_addr, -1, 64);
    TW_DEFAULT(csp, NULL, TW_DEFAULT_CSP);
}

/* Where a server is defined, for messages. */
static const char *tw_config_where(apr_pool_t *p, const server_rec *s)
{
    return s->defn_name ? apr_psprintf(p, "%s:%u", s->defn_name, s->defn_line_number)
                        : "the main server";
}

/* What makes two servers one feed: the same Redis target and stream, or the same target and
 * channel (the announcement names no stream, so a channel carries one feed's posts). */
static const char *tw_config_mix(apr_pool_t *p, const server_rec *a, const server_rec *b)
{
    const tw_feed_conf *x = &TW_CONF(a)->feed, *y = &TW_CONF(b)->feed;
    if (strcmp(x->redis_spec, y->redis_spec) != 0)
        return NULL;
    if (!strcmp(x->channel, y->channel) && strcmp(x->stream_key, y->stream_key))
        return apr_psprintf(p,
                            "TW0007: %s and %s announce posts on the same channel %s of %s but "
                            "keep them in different streams (%s, %s), so each would show the "
                            "other's posts: give each feed its own TweetsseChannel",
                            tw_config_where(p, a), tw_config_where(p, b), x->channel, x->redis_spec,
                            x->stream_key, y->stream_key);
    if (!strcmp(x->stream_key, y->stream_key) && x->history != y->history)
        return apr_psprintf(p,
                            "TW0008: %s and %s share the stream %s of %s but set different "
                            "TweetsseHistory (%ld, %ld); every post trims it to its own value: "
                            "set the same on both",
                            tw_config_where(p, a), tw_config_where(p, b), x->stream_key,
                            x->redis_spec, x->history, y->history);
    return NULL;
}

/* Read a secret file into `out` (from `p`): its bytes up to trailing white space. Returns
 * NULL, or why it cannot serve as a secret. Runs in the parent, before privileges drop, so
 * the file may be readable by root only. */
static const char *tw_config_read_secret(apr_pool_t *p, const char *path, tw_secret *out)
{
    apr_file_t *f;
    apr_status_t rv = apr_file_open(&f, path, APR_FOPEN_READ, 0, p);
    char ebuf[120];
    if (rv != APR_SUCCESS)
        return apr_psprintf(p, "cannot open %s: %s", path, apr_strerror(rv, ebuf, sizeof(ebuf)));
    char *buf = apr_palloc(p, 4097);
    apr_size_t n = 0;
    rv = apr_file_read_full(f, buf, 4097, &n);
    apr_file_close(f);
    if (rv != APR_SUCCESS && rv != APR_EOF)
        return apr_psprintf(p, "cannot read %s: %s", path, apr_strerror(rv, ebuf, sizeof(ebuf)));
    if (n > 4096)
        return apr_psprintf(p, "%s is larger than 4096 bytes: is it the right file?", path);
    while (n &&
           (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        n--;
    if (n < TW_SECRET_MIN)
        return apr_psprintf(p,
                            "%s holds %" APR_SIZE_T_FMT " bytes: a secret needs at least %d "
                            "(e.g. openssl rand -base64 48 > %s)",
                            path, n, TW_SECRET_MIN, path);
    out->key = (const unsigned char *)buf;
    out->len = n;
    return NULL;
}

/* The signing keys of a server whose identity is the cookie: both files read, the current one
 * required. Returns NULL or a startup error (from `p`). */
static const char *tw_config_keys(apr_pool_t *p, server_rec *s, tw_srv_conf *c)
{
    c->keys = (tw_keys){{NULL, 0}, {NULL, 0}};
    if (c->identity != TW_IDENTITY_COOKIE)
        return NULL;
    if (!c->secret_file[0])
        return apr_psprintf(p,
                            "TW0009: %s: TweetsseSecretFile is not set: the name cookie that says "
                            "who posts cannot be signed (generate one: openssl rand -base64 48, "
                            "the same file on every instance; or TweetsseIdentity remote-user)",
                            tw_config_where(p, s));
    for (int i = 0; i < 2 && c->secret_file[i]; i++) {
        const char *err = tw_config_read_secret(p, c->secret_file[i],
                                                i == 0 ? &c->keys.current : &c->keys.previous);
        if (err)
            return apr_psprintf(p, "TW0010: %s: TweetsseSecretFile: %s", tw_config_where(p, s),
                                err);
    }
    return NULL;
}

int tw_config_check(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    (void)plog;
    for (server_rec *vs = s; vs; vs = vs->next) {
        tw_config_finish(TW_CONF(vs));
        const char *err = tw_config_keys(pconf, vs, TW_CONF(vs));
        if (err) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, s, "%s", err);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    for (server_rec *a = s; a; a = a->next) {
        for (server_rec *b = a->next; b; b = b->next) {
            const char *err = tw_config_mix(ptemp, a, b);
            if (err) {
                ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, s, "%s", err);
                return HTTP_INTERNAL_SERVER_ERROR;
            }
        }
    }
    return OK;
}

/* Prefix a value parser's message with the directive name. */
static const char *tw_cmd_err(cmd_parms *cmd, const char *err)
{
    return err ? apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, err) : NULL;
}

static const char *tw_set_redis(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    tw_srv_conf *c = TW_CONF(cmd->server);
    const char *err = tw_confval_redis_addr(cmd->pool, arg, &c->feed.redis);
    if (!err)
        c->feed.redis_spec = apr_pstrdup(cmd->pool, arg);
    return tw_cmd_err(cmd, err);
}

static const char *tw_set_password(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    if (!*arg)
        return tw_cmd_err(cmd, "the password must not be empty");
    TW_CONF(cmd->server)->feed.password = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

static const char *tw_set_delivery(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    tw_srv_conf *c = TW_CONF(cmd->server);
    if (strcasecmp(arg, "socket") == 0)
        c->feed.delivery = TW_DELIVERY_SOCKET;
    else if (strcasecmp(arg, "thread") == 0)
        c->feed.delivery = TW_DELIVERY_THREAD;
    else
        return tw_cmd_err(cmd, apr_psprintf(cmd->pool, "expected socket or thread, not '%s'", arg));
    return NULL;
}

static const char *tw_set_identity(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    tw_srv_conf *c = TW_CONF(cmd->server);
    if (strcasecmp(arg, "cookie") == 0)
        c->identity = TW_IDENTITY_COOKIE;
    else if (strcasecmp(arg, "remote-user") == 0)
        c->identity = TW_IDENTITY_REMOTE_USER;
    else
        return tw_cmd_err(cmd,
                          apr_psprintf(cmd->pool, "expected cookie or remote-user, not '%s'", arg));
    return NULL;
}

static const char *tw_set_secret(cmd_parms *cmd, void *dc, const char *cur, const char *prev)
{
    (void)dc;
    tw_srv_conf *c = TW_CONF(cmd->server);
    c->secret_file[0] = ap_server_root_relative(cmd->pool, cur);
    c->secret_file[1] = prev ? ap_server_root_relative(cmd->pool, prev) : NULL;
    if (!c->secret_file[0] || (prev && !c->secret_file[1]))
        return tw_cmd_err(cmd, "invalid file path");
    return NULL;
}

/* TweetsseTrustedProxy: addresses or networks (apr_ipsubnet_create syntax), or "none". */
static const char *tw_set_trusted(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    tw_srv_conf *c = TW_CONF(cmd->server);
    if (!c->trusted)
        c->trusted = apr_array_make(cmd->pool, 2, sizeof(apr_ipsubnet_t *));
    if (strcasecmp(arg, "none") == 0)
        return NULL;
    char *ip = apr_pstrdup(cmd->pool, arg), *mask = strchr(ip, '/');
    if (mask)
        *mask++ = '\0';
    apr_ipsubnet_t *net;
    apr_status_t rv = apr_ipsubnet_create(&net, ip, mask, cmd->pool);
    if (rv != APR_SUCCESS)
        return tw_cmd_err(cmd, apr_psprintf(cmd->pool, "'%s' is not an address or network", arg));
    *(apr_ipsubnet_t **)apr_array_push(c->trusted) = net;
    return NULL;
}

/* TweetsseRateLimit and TweetsseAddressRateLimit; cmd->info is the field's offset. */
static const char *tw_set_rate(cmd_parms *cmd, void *dc, const char *arg, const char *burst)
{
    (void)dc;
    tw_rate *r = (tw_rate *)((char *)TW_CONF(cmd->server) + (size_t)cmd->info);
    return tw_cmd_err(cmd, tw_confval_rate(cmd->pool, arg, burst, r));
}

static const char *tw_set_csp(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    tw_srv_conf *c = TW_CONF(cmd->server);
    if (strcasecmp(arg, "off") == 0) {
        c->csp = "";
        return NULL;
    }
    const char *err = tw_confval_header_value(cmd->pool, arg);
    if (!err)
        c->csp = apr_pstrdup(cmd->pool, arg);
    return tw_cmd_err(cmd, err);
}

/* TweetsseStreamKey and TweetsseChannel; cmd->info says which field. */
static const char *tw_set_name(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    const char *err = tw_confval_redis_name(cmd->pool, arg);
    if (err)
        return tw_cmd_err(cmd, err);
    tw_srv_conf *c = TW_CONF(cmd->server);
    *(const char **)((char *)c + (size_t)cmd->info) = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

/* Bounds of each numeric directive, and the parser that reads it. */
typedef struct tw_num_spec {
    size_t offset;
    long min, max;
    enum { TW_NUM, TW_SIZE, TW_MS } kind;
} tw_num_spec;

static const tw_num_spec tw_history = {offsetof(tw_srv_conf, feed.history), 10, 10000000, TW_NUM};
static const tw_num_spec tw_page_size = {offsetof(tw_srv_conf, page_size), 1, 500, TW_NUM};
static const tw_num_spec tw_max_chars = {offsetof(tw_srv_conf, max_chars), 1, 10000, TW_NUM};
static const tw_num_spec tw_max_body = {offsetof(tw_srv_conf, max_body), 256, 1048576, TW_SIZE};
static const tw_num_spec tw_keepalive = {offsetof(tw_srv_conf, feed.keepalive_ms), 1000, 300000,
                                         TW_MS};
static const tw_num_spec tw_timeout = {offsetof(tw_srv_conf, feed.timeout_ms), 100, 60000, TW_MS};
static const tw_num_spec tw_retry = {offsetof(tw_srv_conf, retry_ms), 100, 600000, TW_MS};
static const tw_num_spec tw_retry_jitter = {offsetof(tw_srv_conf, retry_jitter_ms), 0, 600000,
                                            TW_MS};
static const tw_num_spec tw_min_replicas = {offsetof(tw_srv_conf, feed.min_replicas), 0, 16,
                                            TW_NUM};
static const tw_num_spec tw_max_resume = {offsetof(tw_srv_conf, max_resume), 1, 10000, TW_NUM};
static const tw_num_spec tw_max_per_addr = {offsetof(tw_srv_conf, max_per_addr), 1, 1000000,
                                            TW_NUM};

static const char *tw_set_number(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    const tw_num_spec *spec = cmd->info;
    long v = 0;
    const char *err;
    if (spec->kind == TW_SIZE)
        err = tw_confval_size(cmd->pool, arg, spec->min, spec->max, &v);
    else if (spec->kind == TW_MS)
        err = tw_confval_duration_ms(cmd->pool, arg, spec->min, spec->max, &v);
    else
        err = tw_confval_long(cmd->pool, arg, spec->min, spec->max, &v);
    if (err)
        return tw_cmd_err(cmd, err);
    *(long *)((char *)TW_CONF(cmd->server) + spec->offset) = v;
    return NULL;
}

/* A number, or "off" (stored as 0). */
static const char *tw_set_number_or_off(cmd_parms *cmd, void *dc, const char *arg)
{
    if (strcasecmp(arg, "off") != 0)
        return tw_set_number(cmd, dc, arg);
    const tw_num_spec *spec = cmd->info;
    *(long *)((char *)TW_CONF(cmd->server) + spec->offset) = 0;
    return NULL;
}

#define TW_NUMBER(name, spec, help)                                                                \
    AP_INIT_TAKE1(name, tw_set_number, (void *)&spec, RSRC_CONF, help)

const command_rec tw_cmds[] = {
    AP_INIT_TAKE1("TweetsseRedis", tw_set_redis, NULL, RSRC_CONF,
                  "Redis server: host:port, host, an absolute unix socket path, or "
                  "sentinel://host:port,host:port/master-name"),
    AP_INIT_TAKE1("TweetsseRedisPassword", tw_set_password, NULL, RSRC_CONF,
                  "Password sent with AUTH after connecting to Redis"),
    AP_INIT_TAKE1("TweetsseStreamKey", tw_set_name, (void *)offsetof(tw_srv_conf, feed.stream_key),
                  RSRC_CONF, "Redis stream key that holds the posts"),
    AP_INIT_TAKE1("TweetsseChannel", tw_set_name, (void *)offsetof(tw_srv_conf, feed.channel),
                  RSRC_CONF, "Redis pub/sub channel that announces new posts"),
    TW_NUMBER("TweetsseHistory", tw_history, "Posts kept in the stream (XADD MAXLEN ~)"),
    TW_NUMBER("TweetssePageSize", tw_page_size, "Posts shown on the feed page"),
    TW_NUMBER("TweetsseMaxMessageLength", tw_max_chars, "Longest message, in characters"),
    TW_NUMBER("TweetsseMaxBody", tw_max_body, "Largest POST body, in bytes (k/M suffix)"),
    TW_NUMBER("TweetsseKeepalive", tw_keepalive, "Interval of SSE keepalive comments (s or ms)"),
    TW_NUMBER("TweetsseRedisTimeout", tw_timeout, "Redis connect and command timeout (s or ms)"),
    TW_NUMBER("TweetsseRetry", tw_retry, "Reconnect delay sent to browsers (s or ms)"),
    AP_INIT_TAKE1("TweetsseRetryJitter", tw_set_number_or_off, (void *)&tw_retry_jitter, RSRC_CONF,
                  "Random delay (s or ms, or off) added to the retry a stream the server closes "
                  "is sent, so that its clients do not all reconnect at once"),
    TW_NUMBER("TweetsseRedisMinReplicas", tw_min_replicas,
              "Replicas that must have a post before it is acknowledged (WAIT); 0: none"),
    AP_INIT_TAKE1("TweetsseDelivery", tw_set_delivery, NULL, RSRC_CONF,
                  "socket: one thread per child writes to every open stream; thread: one "
                  "worker thread per open stream"),
    AP_INIT_TAKE1("TweetsseIdentity", tw_set_identity, NULL, RSRC_CONF,
                  "Who posts: cookie (a generated name in a signed cookie) or remote-user (the "
                  "user an Apache authentication module established)"),
    AP_INIT_TAKE12("TweetsseSecretFile", tw_set_secret, NULL, RSRC_CONF,
                   "File with the secret that signs the name cookie (at least 32 bytes; the same "
                   "on every instance), and optionally the previous one, still accepted"),
    AP_INIT_ITERATE("TweetsseTrustedProxy", tw_set_trusted, NULL, RSRC_CONF,
                    "Proxies (addresses or networks) whose X-Forwarded-Proto and X-Forwarded-Host "
                    "are believed; none: no proxy"),
    AP_INIT_TAKE12("TweetsseRateLimit", tw_set_rate, (void *)offsetof(tw_srv_conf, feed.rate_user),
                   RSRC_CONF, "Posts per author: <posts>/<duration> [burst=<posts>], or off"),
    AP_INIT_TAKE12("TweetsseAddressRateLimit", tw_set_rate,
                   (void *)offsetof(tw_srv_conf, feed.rate_addr), RSRC_CONF,
                   "Posts per client address: <posts>/<duration> [burst=<posts>], or off"),
    TW_NUMBER("TweetsseMaxResume", tw_max_resume,
              "Most posts a resuming stream replays; a resume further back gets a reload event "
              "(default: 4 x TweetssePageSize)"),
    AP_INIT_TAKE1("TweetsseMaxStreamsPerAddress", tw_set_number_or_off, (void *)&tw_max_per_addr,
                  RSRC_CONF,
                  "Open streams one client address may hold in each child (429 past it), or "
                  "off"),
    AP_INIT_TAKE1("TweetsseContentSecurityPolicy", tw_set_csp, NULL, RSRC_CONF,
                  "Content-Security-Policy of the feed's responses, or off (another module "
                  "sets it)"),
    {0},
};
