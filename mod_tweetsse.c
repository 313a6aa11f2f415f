/* mod_tweetsse: a real-time micro-blog feed for Apache httpd 2.4.
 *
 * The module record, the hooks and the routing of requests under the mount point. The
 * work lives in src/: httpd-free core (tw_buf, tw_id, tw_text, tw_input, tw_name, tw_sse,
 * tw_html, tw_conf, tw_store) and httpd glue (tw_config, tw_identity, tw_page, tw_publish,
 * tw_stream, tw_hub, tw_pump). */
#include "src/tw_hub.h"
#include "src/tw_private.h"
#include "src/tw_pump.h"
#include "src/tw_store.h"

#include <ap_mpm.h>
#include <apr_hash.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <http_protocol.h>
#include <http_core.h>
#include <http_main.h>
#include <http_request.h>
#include <mpm_common.h>

#include <sys/resource.h>

#define TW_HANDLER "tweetsse"

/* Does `s` end with `suffix`? */
static int tw_ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* May `n` bytes of a decoded path serve as the mount point (cookie Path, Location)? Only
 * plain path characters: anything else could smuggle cookie attributes or header breaks. */
static int tw_mount_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '/' || c == '.' || c == '_' || c == '~' || c == '-'))
            return 0;
    }
    return 1;
}

/* Route a request under the mount point. The mount is derived from the path itself (the
 * part before "home/sse", "home" or the trailing "/"), so the module works under any
 * <Location> and behind proxies that keep the path. */
static int tw_handler(request_rec *r)
{
    if (!r->handler || strcmp(r->handler, TW_HANDLER) != 0)
        return DECLINED;
    tw_srv_conf *c = TW_CONF(r->server);
    if (!c->store || !c->hub || !c->page_cache) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "TW0001: the module is not initialised");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    const char *uri = r->uri;
    size_t n = strlen(uri);
    if (!tw_mount_ok(uri, n))
        return HTTP_NOT_FOUND;
    if (tw_ends_with(uri, n, "/home/sse"))
        return tw_handle_stream(r, c);
    const char *mount;
    if (tw_ends_with(uri, n, "/home"))
        mount = apr_pstrmemdup(r->pool, uri, n - 4);
    else if (tw_ends_with(uri, n, "/"))
        mount = uri;
    else
        return HTTP_NOT_FOUND;
    if (r->method_number == M_POST && tw_ends_with(uri, n, "/home"))
        return tw_handle_publish(r, c, mount);
    return tw_handle_page(r, c, tw_identity(r, mount));
}

/* translate_name: a request whose <Location> says SetHandler tweetsse names no file. Give it
 * a filename of its own, "tweetsse:<uri>" (as mod_proxy does with "proxy:"), so that
 * map_to_storage can skip the core's directory and file walk (a stat per path segment).
 * Runs after the first location walk, so the Location's handler is visible here. */
static int tw_translate_name(request_rec *r)
{
    core_dir_config *d = ap_get_core_module_config(r->per_dir_config);
    /* r->filename set: an earlier translator (mod_rewrite's [PT]) has changed the URI since
     * the Location was looked up; let the core map it. */
    if (!d || !d->expr_handler || r->proxyreq || r->filename)
        return DECLINED;
    const char *err = NULL;
    const char *h = ap_expr_str_exec(r, d->expr_handler, &err);
    if (err || !h || strcmp(h, TW_HANDLER) != 0)
        return DECLINED;
    r->filename = apr_pstrcat(r->pool, "tweetsse:", r->uri, NULL);
    return OK;
}

/* map_to_storage: nothing to map for the feed's own filenames. Access control in <Location>
 * still applies; <Directory> sections do not concern URLs that are not files. */
static int tw_map_to_storage(request_rec *r)
{
    return r->filename && strncmp(r->filename, "tweetsse:", 9) == 0 ? OK : DECLINED;
}

/* post_config: fill in defaults for every virtual host (after merging), and create the post
 * counter the children share (anonymous shared memory, inherited across fork). Runs in the
 * parent, on the dry run too, since child_init needs the final values. */
static int tw_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    (void)plog, (void)ptemp;
    apr_shm_t *shm;
    apr_status_t rv = apr_shm_create(&shm, sizeof(apr_uint32_t), NULL, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "TW0005: cannot create shared memory");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    apr_uint32_t *posted = apr_shm_baseaddr_get(shm);
    *posted = 0;
    for (server_rec *vs = s; vs; vs = vs->next) {
        tw_config_finish(TW_CONF(vs));
        TW_CONF(vs)->posted = posted;
    }
    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
        tw_srv_conf *c = TW_CONF(s);
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, "TW0002: redis %s, stream %s, channel %s",
                     c->redis_spec, c->stream_key, c->channel);
    }
    return OK;
}

/* How many streams a child's delivery thread may hold: its open-files limit, less room for
 * what the worker threads need (a client socket and a pooled Redis connection each), the
 * listeners and the logs. */
static unsigned tw_max_streams(int threads)
{
    struct rlimit rl;
    rlim_t reserve = 2 * (rlim_t)threads + 128;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return 1u << 20;
    return rl.rlim_cur > reserve + 16 ? (unsigned)(rl.rlim_cur - reserve) : 16;
}

/* child_init: in each child, one store (connection pool), one hub (subscriber thread) and,
 * with TweetsseDelivery socket, one pump (delivery thread) per distinct Redis target and
 * settings; virtual hosts that share them share the threads. Each virtual host gets its own
 * page cache. */
static void tw_child_init(apr_pool_t *pchild, server_rec *s)
{
    int threads = 1;
    if (ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads) != APR_SUCCESS || threads < 1)
        threads = 1;
    apr_hash_t *seen = apr_hash_make(pchild);
    for (server_rec *vs = s; vs; vs = vs->next) {
        tw_srv_conf *c = TW_CONF(vs);
        if (tw_page_cache_create(pchild, &c->page_cache) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, APR_ENOMEM, vs,
                         "TW0004: cannot create the page cache");
            continue;
        }
        const char *key =
            apr_pstrcat(pchild, c->redis_spec, "|", c->stream_key, "|", c->channel, "|",
                        c->password ? c->password : "", "|", apr_ltoa(pchild, c->history), "|",
                        apr_ltoa(pchild, c->timeout_ms), "|", apr_ltoa(pchild, c->keepalive_ms),
                        "|", c->delivery == TW_DELIVERY_SOCKET ? "socket" : "thread", NULL);
        tw_srv_conf *same = apr_hash_get(seen, key, APR_HASH_KEY_STRING);
        if (same) {
            c->store = same->store;
            c->hub = same->hub;
            c->pump = same->pump;
            continue;
        }
        tw_store_conf sc = {c->redis,   c->password, c->stream_key,
                            c->channel, c->history,  c->timeout_ms};
        /* Every worker thread may hold one connection, and the hub one for gap fills. */
        apr_status_t rv = tw_store_create(pchild, &sc, threads + 1, &c->store);
        if (rv == APR_SUCCESS)
            rv = tw_hub_start(pchild, vs, c->store, &c->hub);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, vs,
                         "TW0003: cannot start the Redis store and subscriber thread");
            c->store = NULL;
            c->hub = NULL;
            continue;
        }
        if (c->delivery == TW_DELIVERY_SOCKET &&
            (rv = tw_pump_start(pchild, vs, c->hub, apr_time_from_msec(c->keepalive_ms),
                                tw_max_streams(threads), &c->pump)) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, vs,
                         "TW0006: cannot start the delivery thread; streams keep their worker "
                         "threads in this child");
            c->pump = NULL;
        }
        apr_hash_set(seen, key, APR_HASH_KEY_STRING, c);
    }
}

/* child_stopping (graceful restart or stop): open streams end now so their browsers
 * reconnect, with Last-Event-ID, to a child that stays. */
static void tw_child_stopping(apr_pool_t *pchild, int graceful)
{
    (void)graceful;
    server_rec *s = ap_server_conf;
    for (server_rec *vs = s; vs; vs = vs->next) {
        tw_srv_conf *c = TW_CONF(vs);
        if (c->pump)
            tw_pump_stopping(c->pump);
        if (c->hub)
            tw_hub_stopping(c->hub);
    }
    (void)pchild;
}

static void tw_register_hooks(apr_pool_t *p)
{
    (void)p;
    /* After merging, once per (re)start: defaults. */
    ap_hook_post_config(tw_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* In each new child: connection pool and subscriber thread. */
    ap_hook_child_init(tw_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    /* When a child is told to stop: release the open streams. */
    ap_hook_child_stopping(tw_child_stopping, NULL, NULL, APR_HOOK_MIDDLE);
    /* Feed URLs name no file: no directory walk for them. */
    ap_hook_translate_name(tw_translate_name, NULL, NULL, APR_HOOK_LAST); /* after Alias */
    ap_hook_map_to_storage(tw_map_to_storage, NULL, NULL, APR_HOOK_FIRST);
    /* For each request with SetHandler tweetsse. */
    ap_hook_handler(tw_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

/* APLOG_USE_MODULE comes from tw_private.h, so the record is declared plainly. */
module AP_MODULE_DECLARE_DATA tweetsse_module = {
    STANDARD20_MODULE_STUFF,
    NULL,                 /* per-directory config: none, all directives are per server */
    NULL,                 /* merge per-directory config */
    tw_config_create_srv, /* per-server config */
    tw_config_merge_srv,  /* merge per-server config */
    tw_cmds,              /* directives */
    tw_register_hooks,
    AP_MODULE_FLAG_NONE,
};
