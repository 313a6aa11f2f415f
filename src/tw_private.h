/* tw_private.h: what the httpd glue files share: the module's log tag, the server
 * configuration and the per-child runtime. Core files never include this header. */
#ifndef TW_PRIVATE_H
#define TW_PRIVATE_H

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

#include <apr_thread_mutex.h>
#include <apr_time.h>

#include "tw_confval.h"

#ifdef APLOG_USE_MODULE
APLOG_USE_MODULE(tweetsse);
#endif

extern module AP_MODULE_DECLARE_DATA tweetsse_module;

struct tw_store;
struct tw_hub;
struct tw_pump;

/* The rendered feed part of the page, shared by a child's requests (tw_page.c). */
typedef struct tw_page_cache tw_page_cache;
apr_status_t tw_page_cache_create(apr_pool_t *pchild, tw_page_cache **out);
struct tw_srv_conf;
/* A post was stored through this instance: every child's rendering from before is stale, so
 * a visitor who just posted sees the post on the next page load, whichever child serves it
 * and even before the hubs hear of it. One atomic increment in shared memory. */
void tw_page_posted(struct tw_srv_conf *c);

/* TweetsseDelivery: who writes the events of an open stream. */
typedef enum {
    TW_DELIVERY_UNSET = -1,
    TW_DELIVERY_THREAD, /* its own worker thread, through the output filters */
    TW_DELIVERY_SOCKET, /* the child's pump thread, straight to the socket (tw_pump) */
} tw_delivery;

/* Per virtual host. Every field starts unset (NULL / -1) so merging can tell "not given"
 * from "given"; tw_config_finish() fills the defaults after merging. */
typedef struct tw_srv_conf {
    const char *redis_spec; /* TweetsseRedis as written, for messages */
    tw_redis_addr redis;
    const char *password;   /* TweetsseRedisPassword */
    const char *stream_key; /* TweetsseStreamKey */
    const char *channel;    /* TweetsseChannel */
    long history;           /* TweetsseHistory: stream MAXLEN ~ */
    long page_size;         /* TweetssePageSize */
    long max_chars;         /* TweetsseMaxMessageLength, code points */
    long max_body;          /* TweetsseMaxBody, bytes */
    long keepalive_ms;      /* TweetsseKeepalive */
    long timeout_ms;        /* TweetsseRedisTimeout: connect and command timeout */
    long retry_ms;          /* TweetsseRetry: the SSE retry: the browser is told */
    tw_delivery delivery;   /* TweetsseDelivery */

    /* Per child process, set in child_init; shared by servers with the same Redis target. */
    struct tw_store *store;
    struct tw_hub *hub;
    struct tw_pump *pump; /* NULL with TweetsseDelivery thread */
    tw_page_cache *page_cache;
    apr_uint32_t *posted; /* posts stored through this instance; shared memory (post_config) */
} tw_srv_conf;

extern const command_rec tw_cmds[];
void *tw_config_create_srv(apr_pool_t *p, server_rec *s);
void *tw_config_merge_srv(apr_pool_t *p, void *basev, void *addv);
/* Fill in the defaults of every field still unset. Runs in post_config for every server. */
void tw_config_finish(tw_srv_conf *c);

/* Lock `m` if that succeeds within about `ms` milliseconds (tries every millisecond).
 * Returns 1 if locked. For stop paths that prefork runs in a signal handler, where the
 * interrupted thread may hold the lock and blocking would deadlock. */
static inline int tw_lock_within(apr_thread_mutex_t *m, int ms)
{
    for (int tries = 0; apr_thread_mutex_trylock(m) != APR_SUCCESS; tries++) {
        if (tries == ms)
            return 0;
        apr_sleep(apr_time_from_msec(1));
    }
    return 1;
}

#define TW_CONF(s) ((tw_srv_conf *)ap_get_module_config((s)->module_config, &tweetsse_module))

/* Request handlers (tw_page.c, tw_publish.c, tw_stream.c). Each returns an HTTP status or OK. */
int tw_handle_page(request_rec *r, tw_srv_conf *c, const char *username);
int tw_handle_publish(request_rec *r, tw_srv_conf *c, const char *mount);
int tw_handle_stream(request_rec *r, tw_srv_conf *c);

/* The visitor's name from the tw_name cookie, or a new one (tw_identity.c). A new name is
 * sent back in a Set-Cookie scoped to `mount`. */
const char *tw_identity(request_rec *r, const char *mount);

#endif
