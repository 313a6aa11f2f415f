/* mod_tweetsse: a real-time micro-blog feed for Apache httpd 2.4.
 *
 * This file: the module record, the hooks and the routing of requests under the mount point.
 * The rest is named for what it is (the words are those of docs/architecture.md):
 *   mod_tweetsse_*.c   httpd glue, one role a file: config (directives), child (each child's
 *                      runtimes: start, stop), page (the page, older posts, permalinks),
 *                      publish (POST home), stream (GET home/sse), health (GET home/health),
 *                      visitor (the name cookie), origin (same-origin checks), log (the core's
 *                      messages into the error log), metrics (server-status and the
 *                      tweetsse-metrics handler).
 *   src/tw_*           the httpd-free core (APR, hiredis, jansson, libcrypto), an interface and
 *                      its implementations sharing a prefix: the store (tw_store.h;
 *                      tw_store_redis*.c, tw_store_mem.c for the tests), the delivery engines
 *                      (tw_engine.h; tw_engine_socket.c, tw_engine_thread.c); a feed's settings
 *                      (tw_feed), the per-child fan-out (tw_hub, its ring of frames tw_ring,
 *                      tw_blob), the metrics (tw_metrics, tw_metrics_render), the stop model
 *                      (tw_thread), and pure functions: HTML, SSE, ids, input, text, names,
 *                      signatures, directive values.
 *
 * A post: publish -> the store (Redis: XADD + PUBLISH) -> each child's subscriber thread -> its
 * hub (rendered once, into the ring) -> the socket or thread engine -> every open stream. */
#include "mod_tweetsse.h"
#include "mod_tweetsse_action.h"
#include "mod_tweetsse_child.h"
#include "mod_tweetsse_config.h"
#include "mod_tweetsse_health.h"
#include "mod_tweetsse_page.h"
#include "mod_tweetsse_publish.h"
#include "mod_tweetsse_metrics.h"
#include "mod_tweetsse_moderation.h"
#include "mod_tweetsse_stream.h"
#include "mod_tweetsse_viewer.h"
#include "src/tw_version.h"

#include <apr_strings.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>
#include <apr_optional_hooks.h>
#include <mod_core.h>
#include <mod_status.h>
#include <mpm_common.h>

#define TW_HANDLER            "tweetsse"
#define TW_MODERATION_HANDLER "tweetsse-moderation"

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

/* What a path under the mount point names. */
typedef enum {
    TW_ROUTE_NONE,   /* nothing: 404 */
    TW_ROUTE_MOUNT,  /* <mount>: the page */
    TW_ROUTE_HOME,   /* <mount>home: the page, and posting */
    TW_ROUTE_STREAM, /* <mount>home/sse */
    TW_ROUTE_HEALTH, /* <mount>home/health */
    TW_ROUTE_POST,   /* <mount>home/post/<one segment>: a post's page, and acting on it */
    TW_ROUTE_VIEWER, /* <mount>home/viewer.css: the viewer's stylesheet */
    TW_ROUTE_LIKED,  /* <mount>home/liked: which posts the viewer likes */
} tw_route;

#define TW_POST_PREFIX "home/post/"

/* Does the <Location> path `d` (no wildcards) cover `uri`, as the core's location walk
 * decides: a prefix that ends at a '/' of either? */
static int tw_location_covers(const char *d, const char *uri)
{
    size_t k = strlen(d);
    return k && strncmp(uri, d, k) == 0 && (d[k - 1] == '/' || uri[k] == '\0' || uri[k] == '/');
}

/* The mount point of the request: the path of the last <Location> (in configuration order)
 * that covers r->uri and sets the handler to tweetsse, with a '/' appended if it has none;
 * NULL if there is none (the handler was set by a <LocationMatch>, a wildcard path,
 * <Directory> or .htaccess). With `own`, a later covering <Location> that sets another handler
 * also means none (the request is not the feed's); without, it is passed over (the moderators'
 * <Location> lies under the feed's). Other sections that cover feed URLs, e.g. one that
 * restricts home/health, do not move it. O(<Location> sections of the server), one handler
 * expression evaluated per covering one. */
static const char *tw_mount_of(request_rec *r, int own)
{
    const core_server_config *sc = ap_get_core_module_config(r->server->module_config);
    const char *mount = NULL;
    for (int i = 0; i < sc->sec_url->nelts; i++) {
        ap_conf_vector_t *sec = APR_ARRAY_IDX(sc->sec_url, i, ap_conf_vector_t *);
        const core_dir_config *d = ap_get_core_module_config(sec);
        if (!d || d->r || d->d_is_fnmatch || !d->expr_handler || !d->d ||
            !tw_location_covers(d->d, r->uri))
            continue;
        const char *err = NULL;
        const char *h = ap_expr_str_exec(r, d->expr_handler, &err);
        if (err || !h)
            continue;
        size_t k = strlen(d->d);
        if (strcmp(h, TW_HANDLER) == 0)
            mount = d->d[k - 1] == '/' ? d->d : apr_pstrcat(r->pool, d->d, "/", NULL);
        else if (own)
            mount = NULL;
    }
    return mount;
}

/* What `uri` names under `mount` (which it starts with): exactly <mount>, <mount>home,
 * <mount>home/sse, <mount>home/health, <mount>home/viewer.css, <mount>home/liked, or
 * <mount>home/post/ and one non-empty segment (its handlers check it is an id), else nothing. */
static tw_route tw_route_of(const char *mount, const char *uri)
{
    static const struct {
        const char *rest;
        tw_route route;
    } names[] = {{"", TW_ROUTE_MOUNT},
                 {"home", TW_ROUTE_HOME},
                 {"home/sse", TW_ROUTE_STREAM},
                 {"home/health", TW_ROUTE_HEALTH},
                 {"home/viewer.css", TW_ROUTE_VIEWER},
                 {"home/liked", TW_ROUTE_LIKED}};
    size_t k = strlen(mount);
    if (strncmp(uri, mount, k) != 0)
        return TW_ROUTE_NONE;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(uri + k, names[i].rest) == 0)
            return names[i].route;
    const char *id = uri + k + sizeof(TW_POST_PREFIX) - 1;
    if (strncmp(uri + k, TW_POST_PREFIX, sizeof(TW_POST_PREFIX) - 1) == 0 && *id &&
        !strchr(id, '/'))
        return TW_ROUTE_POST;
    return TW_ROUTE_NONE;
}

/* Headers of every response of the handler, errors included (err_headers_out): no sniffing of
 * types, no framing, no referrer beyond the origin, and the configured policy. */
static void tw_security_headers(request_rec *r, const tw_srv_conf *c)
{
    apr_table_t *h = r->err_headers_out;
    apr_table_setn(h, "X-Content-Type-Options", "nosniff");
    apr_table_setn(h, "X-Frame-Options", "DENY");
    apr_table_setn(h, "Referrer-Policy", "same-origin");
    if (c->csp[0])
        apr_table_setn(h, "Content-Security-Policy", c->csp);
}

/* Set the methods a route allows (the Allow header of OPTIONS and 405 answers) and say
 * whether the request's method is one of them. HEAD is GET's method number. */
static int tw_method_allowed(request_rec *r, tw_route route)
{
    if (route == TW_ROUTE_HOME || route == TW_ROUTE_POST) {
        ap_allow_methods(r, REPLACE_ALLOW, "GET", "HEAD", "POST", "OPTIONS", NULL);
        return r->method_number == M_GET || r->method_number == M_POST;
    }
    ap_allow_methods(r, REPLACE_ALLOW, "GET", "HEAD", "OPTIONS", NULL);
    return r->method_number == M_GET;
}

/* Route a request under the mount point: the path of the <Location> that sets the handler
 * (see tw_mount_of), so the module works under any <Location> and behind proxies that keep
 * the path. Only the feed's own URLs are served; TRACE is left to the core (TraceEnable). */
static int tw_handler(request_rec *r)
{
    if (!r->handler || strcmp(r->handler, TW_HANDLER) != 0 || r->method_number == M_TRACE)
        return DECLINED;
    tw_srv_conf *c = TW_CONF(r->server);
    if (!c->rt || !c->page_cache) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "TW0001: the module is not initialised");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    tw_security_headers(r, c);
    if (!tw_mount_ok(r->uri, strlen(r->uri)))
        return HTTP_NOT_FOUND;
    const char *mount = tw_mount_of(r, 1);
    if (!mount) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "TW0011: no mount point for %s: set the tweetsse handler with SetHandler "
                      "in a <Location> with a plain path",
                      r->uri);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    tw_route route = tw_route_of(mount, r->uri);
    if (route == TW_ROUTE_NONE)
        return HTTP_NOT_FOUND;
    if (r->method_number == M_OPTIONS) {
        tw_method_allowed(r, route);
        return ap_send_http_options(r);
    }
    if (!tw_method_allowed(r, route))
        return HTTP_METHOD_NOT_ALLOWED;
    if (route == TW_ROUTE_STREAM)
        return tw_handle_stream(r, c);
    if (route == TW_ROUTE_HEALTH)
        return tw_handle_health(r, c);
    if (route == TW_ROUTE_VIEWER)
        return tw_handle_viewer_css(r);
    if (route == TW_ROUTE_LIKED)
        return tw_handle_liked(r, c, mount);
    if (route == TW_ROUTE_POST) {
        const char *id = r->uri + strlen(mount) + sizeof(TW_POST_PREFIX) - 1;
        return r->method_number == M_POST ? tw_handle_action(r, c, mount, id)
                                          : tw_handle_permalink(r, c, mount, id);
    }
    if (r->method_number == M_POST) /* of the rest, only home allows it */
        return tw_handle_publish(r, c, mount);
    return tw_handle_page(r, c, mount);
}

/* SetHandler tweetsse-moderation, in a <Location> under the feed's: the moderators' page and
 * their removals (mod_tweetsse_moderation). */
static int tw_moderation_handler(request_rec *r)
{
    if (!r->handler || strcmp(r->handler, TW_MODERATION_HANDLER) != 0 ||
        r->method_number == M_TRACE)
        return DECLINED;
    tw_srv_conf *c = TW_CONF(r->server);
    if (!c->rt) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "TW0015: the module is not initialised");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    tw_security_headers(r, c);
    const char *mount = tw_mount_of(r, 0);
    if (!tw_mount_ok(r->uri, strlen(r->uri)) || !mount) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "TW0016: %s has SetHandler tweetsse-moderation outside the feed: put its "
                      "<Location> under the feed's (e.g. <Location /feed/moderate>)",
                      r->uri);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ap_allow_methods(r, REPLACE_ALLOW, "GET", "HEAD", "POST", "OPTIONS", NULL);
    if (r->method_number == M_OPTIONS)
        return ap_send_http_options(r);
    if (r->method_number != M_GET && r->method_number != M_POST)
        return HTTP_METHOD_NOT_ALLOWED;
    return tw_handle_moderation(r, c, mount);
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

/* post_config: name the page's static files with their versions; create the post counter and
 * the metrics the children share (anonymous shared memory, inherited across fork). Runs in the
 * parent, on the dry run too (it is cheap); logs the module's version once per start and
 * restart, not on the dry run. */
static int tw_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    (void)plog, (void)ptemp;
    tw_page_assets();
    if (tw_page_counter_create(pconf, s) != APR_SUCCESS)
        return HTTP_INTERNAL_SERVER_ERROR;
    int rc = tw_metrics_post_config(pconf, s);
    if (rc != OK)
        return rc;
    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
        /* NOTICE is logged whatever the LogLevel, as Apache's own "resuming normal operations". */
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, "TW0020: mod_tweetsse %s configured",
                     TW_VERSION);
        tw_srv_conf *c = TW_CONF(s);
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, "TW0002: redis %s, stream %s, channel %s",
                     c->feed.redis_spec, c->feed.stream_key, c->feed.channel);
    }
    return OK;
}

static void tw_register_hooks(apr_pool_t *p)
{
    (void)p;
    /* After the configuration is read and merged (configtest too): defaults, feeds that mix. */
    ap_hook_check_config(tw_config_check, NULL, NULL, APR_HOOK_MIDDLE);
    /* Then, once per (re)start: the static files' versions, the shared post counter, metrics. */
    ap_hook_post_config(tw_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* In each new child, first: its slot of the metrics, which its runtimes report into. */
    ap_hook_child_init(tw_metrics_child_init, NULL, NULL, APR_HOOK_FIRST);
    /* Then: stores, hubs, engines and their threads. */
    ap_hook_child_init(tw_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    /* When a child is told to stop: release the open streams. */
    ap_hook_child_stopping(tw_child_stopping, NULL, NULL, APR_HOOK_MIDDLE);
    /* Feed URLs name no file: no directory walk for them. */
    ap_hook_translate_name(tw_translate_name, NULL, NULL, APR_HOOK_LAST); /* after Alias */
    ap_hook_map_to_storage(tw_map_to_storage, NULL, NULL, APR_HOOK_FIRST);
    /* For each request with SetHandler tweetsse. */
    ap_hook_handler(tw_handler, NULL, NULL, APR_HOOK_MIDDLE);
    /* For each request with SetHandler tweetsse-moderation. */
    ap_hook_handler(tw_moderation_handler, NULL, NULL, APR_HOOK_MIDDLE);
    /* For each request with SetHandler tweetsse-metrics. */
    ap_hook_handler(tw_metrics_handler, NULL, NULL, APR_HOOK_MIDDLE);
    /* server-status, when mod_status is loaded: the module's section. */
    APR_OPTIONAL_HOOK(ap, status_hook, tw_metrics_status_hook, NULL, NULL, APR_HOOK_MIDDLE);
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
