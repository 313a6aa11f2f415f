/* mod_tweetsse_config: the directives, the per-server configuration, its merge and defaults.
 * Values are parsed and checked by the core (src/tw_confval). */
#ifndef MOD_TWEETSSE_CONFIG_H
#define MOD_TWEETSSE_CONFIG_H

#include "mod_tweetsse.h"
#include "src/tw_confval.h"
#include "src/tw_feed.h"
#include "src/tw_sign.h"

#include <apr_time.h>
#include <stdatomic.h>

/* TweetsseIdentity: who the author of a post is. */
typedef enum {
    TW_IDENTITY_UNSET = -1,
    TW_IDENTITY_COOKIE,      /* a generated name in a signed cookie (TweetsseSecretFile) */
    TW_IDENTITY_REMOTE_USER, /* r->user, as an Apache authentication module set it */
} tw_identity;

struct tw_runtime;
struct tw_feedcache;

/* Per virtual host. Every directive's field starts unset (NULL / -1) so merging can tell "not
 * given" from "given"; tw_config_finish() fills in the defaults after merging. The settings that
 * shape a child's runtime are the feed's (src/tw_feed); the others shape single responses. */
typedef struct tw_srv_conf {
    tw_feed_conf feed;    /* Redis, keys, history, timeouts, rate limits, delivery */
    long page_size;       /* TweetssePageSize */
    long max_chars;       /* TweetsseMaxMessageLength, code points */
    long max_body;        /* TweetsseMaxBody, bytes */
    long retry_ms;        /* TweetsseRetry: the SSE retry: the browser is told */
    long retry_jitter_ms; /* TweetsseRetryJitter: at most this added to the retry of a stream the
                             server ends */
    tw_identity identity; /* TweetsseIdentity */
    const char *secret_file[2];  /* TweetsseSecretFile: current, previous (NULL: none) */
    tw_keys keys;                /* their contents, read by tw_config_check */
    apr_array_header_t *trusted; /* TweetsseTrustedProxy: apr_ipsubnet_t *; NULL unset */
    long max_resume;             /* TweetsseMaxResume: posts a resume may replay; past it, reload */
    long max_per_addr;           /* TweetsseMaxStreamsPerAddress: open streams per client address
                                    and child; 0: off */
    const char *csp;             /* TweetsseContentSecurityPolicy; "" for off */

    /* Set after the configuration is read. */
    atomic_uint *posted;   /* changes through this instance (tw_page_changed); shared memory */
    struct tw_runtime *rt; /* per child: store, hub, engines (mod_tweetsse_child.c) */
    struct tw_feedcache *page_cache; /* per child: the page's feed part (mod_tweetsse_page.c) */
} tw_srv_conf;

#define TW_CONF(s) ((tw_srv_conf *)ap_get_module_config((s)->module_config, &tweetsse_module))

/* The Content-Security-Policy sent when TweetsseContentSecurityPolicy is not given. */
#define TW_DEFAULT_CSP                                                                             \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "             \
    "form-action 'self'"

extern const command_rec tw_cmds[];
void *tw_config_create_srv(apr_pool_t *p, server_rec *s);
void *tw_config_merge_srv(apr_pool_t *p, void *basev, void *addv);

/* check_config (after the configuration is read and merged, in configtest too): fill in the
 * defaults of every server, then refuse virtual hosts whose feeds would mix: those that share
 * a Redis target and channel must share the stream key, and those that share a stream must
 * share its history length. Returns OK or an HTTP error status (logged). */
int tw_config_check(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s);

#endif
