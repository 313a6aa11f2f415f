/* mod_tweetsse: a real-time micro-blog feed for Apache httpd 2.4.
 *
 * This file: the module record, the hooks and the routing of requests under the mount point.
 * The rest is named for what it is:
 *   mod_tweetsse_*.c   httpd glue, one role a file: config (directives), child (each child's
 *                      runtime: start, stop), page (GET /), publish (POST /home), stream (GET
 *                      /home/sse), health (GET /home/health), visitor (the name cookie), log
 *                      (core messages to the error log).
 *   src/tw_*           the httpd-free core (APR, hiredis, jansson): the store interface and its
 *                      Redis and in-memory implementations (tw_store, tw_redis*, tw_memstore),
 *                      the per-child fan-out (tw_hub, tw_ring, tw_blob), the delivery engines
 *                      (tw_engine: tw_pump, tw_relay), the stop model (tw_thread), and pure
 *                      functions: HTML, SSE, ids, input, text, names, directive values.
 *
 * A post: publish -> tw_store (Redis: XADD + PUBLISH) -> each child's subscriber thread ->
 * tw_hub (rendered once, into the ring) -> tw_pump / tw_relay -> every open stream. */
#include "mod_tweetsse.h"
#include "mod_tweetsse_child.h"
#include "mod_tweetsse_config.h"
#include "mod_tweetsse_health.h"
#include "mod_tweetsse_page.h"
#include "mod_tweetsse_publish.h"
#include "mod_tweetsse_stream.h"
#include "mod_tweetsse_visitor.h"

#include <apr_strings.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>
#include <mpm_common.h>

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
    if (!c->rt || !c->feed) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "TW0001: the module is not initialised");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    const char *uri = r->uri;
    size_t n = strlen(uri);
    if (!tw_mount_ok(uri, n))
        return HTTP_NOT_FOUND;
    if (tw_ends_with(uri, n, "/home/sse"))
        return tw_handle_stream(r, c);
    if (tw_ends_with(uri, n, "/home/health"))
        return tw_handle_health(r, c);
    const char *mount;
    if (tw_ends_with(uri, n, "/home"))
        mount = apr_pstrmemdup(r->pool, uri, n - 4);
    else if (tw_ends_with(uri, n, "/"))
        mount = uri;
    else
        return HTTP_NOT_FOUND;
    if (r->method_number == M_POST && tw_ends_with(uri, n, "/home"))
        return tw_handle_publish(r, c, mount);
    return tw_handle_page(r, c, tw_visitor_name(r, c, mount));
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

/* post_config: create the post counter the children share (anonymous shared memory,
 * inherited across fork). Runs in the parent, on the dry run too (it is cheap). */
static int tw_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    (void)plog, (void)ptemp;
    if (tw_page_counter_create(pconf, s) != APR_SUCCESS)
        return HTTP_INTERNAL_SERVER_ERROR;
    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
        tw_srv_conf *c = TW_CONF(s);
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, "TW0002: redis %s, stream %s, channel %s",
                     c->redis_spec, c->stream_key, c->channel);
    }
    return OK;
}

static void tw_register_hooks(apr_pool_t *p)
{
    (void)p;
    /* After the configuration is read and merged (configtest too): defaults, feeds that mix. */
    ap_hook_check_config(tw_config_check, NULL, NULL, APR_HOOK_MIDDLE);
    /* Then, once per (re)start: the shared post counter. */
    ap_hook_post_config(tw_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* In each new child: stores, hubs, engines and their threads. */
    ap_hook_child_init(tw_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    /* When a child is told to stop: release the open streams. */
    ap_hook_child_stopping(tw_child_stopping, NULL, NULL, APR_HOOK_MIDDLE);
    /* Feed URLs name no file: no directory walk for them. */
    ap_hook_translate_name(tw_translate_name, NULL, NULL, APR_HOOK_LAST); /* after Alias */
    ap_hook_map_to_storage(tw_map_to_storage, NULL, NULL, APR_HOOK_FIRST);
    /* For each request with SetHandler tweetsse. */
    ap_hook_handler(tw_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

/* APLOG_USE_MODULE comes from mod_tweetsse.h, so the record is declared plainly. */
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
