/* mod_tweetsse_child.c: starting and stopping each child's stores, hubs and engines.
 *
 * Lifetime. A runtime's memory lives in a pool of its own that is never destroyed: the child
 * process exits right after pchild is, and under prefork pchild is destroyed inside a signal
 * handler that may have interrupted a request thread in the middle of our code (holding a lock,
 * waiting in a store command). Freeing there, or destroying a lock or a condition variable
 * someone still holds, could deadlock or crash the exit; leaving the memory to the exiting
 * process cannot. Our threads touch only that memory (and the configuration, which outlives
 * them), so they never run over freed memory whether or not they stopped in time. */
#include "mod_tweetsse_child.h"
#include "mod_tweetsse_log.h"
#include "mod_tweetsse_page.h"
#include "mod_tweetsse_metrics.h"
#include "src/tw_engine_socket.h"
#include "src/tw_store_redis.h"
#include "src/tw_engine_thread.h"
#include "src/tw_render.h"
#include "src/tw_thread.h"

#include <ap_mpm.h>
#include <apr_hash.h>
#include <apr_strings.h>

#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

/* How long the pchild cleanup waits for the threads of all runtimes to end. */
#define TW_STOP_BUDGET apr_time_from_msec(1000)

/* This child's runtimes, for child_stopping and the cleanup. Written in child_init only. */
static tw_runtime *tw_runtimes;

/* Readable from child_stopping on (an eventfd written once, never read), for waits of request
 * threads that must end when the child stops. */
static int tw_stop_latch = -1;

/* Marks, in child_init's table, a feed whose runtime could not start: not tried again. */
static tw_runtime tw_failed;

int tw_child_stop_fd(void)
{
    return tw_stop_latch;
}

/* How many streams a child's socket engine may hold: its open-files limit, less room for what
 * the worker threads need (a client socket and a pooled Redis connection each), the listeners
 * and the logs. */
static unsigned tw_max_streams(int threads)
{
    struct rlimit rl;
    rlim_t reserve = 2 * (rlim_t)threads + 128;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return 1u << 20;
    return rl.rlim_cur > reserve + 16 ? (unsigned)(rl.rlim_cur - reserve) : 16;
}

/* The runtime's store: Redis, with a pooled connection for every worker thread and one for the
 * subscriber's catching up. */
static apr_status_t tw_runtime_store(apr_pool_t *p, const tw_feed_conf *feed, int threads,
                                     tw_runtime *rt)
{
    tw_store_redis_conf cf = {
        .feed = *feed, .max_conns = threads + 1, .log = &rt->log, .metrics = tw_metrics_slot()};
    return tw_store_redis_create(p, &cf, &rt->store);
}

/* The runtime's engines: the thread engine always (TLS, HTTP/2 and filtered streams need it),
 * the socket engine with TweetsseDelivery socket. The socket engine is optional: if it cannot
 * start, streams keep their worker threads (logged). */
static apr_status_t tw_runtime_engines(apr_pool_t *p, server_rec *s, const tw_feed_conf *feed,
                                       int threads, tw_runtime *rt)
{
    apr_interval_time_t keepalive = apr_time_from_msec(feed->keepalive_ms);
    tw_engine_thread_conf tcf = {
        .hub = rt->hub, .keepalive = keepalive, .log = &rt->log, .metrics = tw_metrics_slot()};
    apr_status_t rv = tw_engine_thread_create(p, &tcf, &rt->thread);
    if (rv != APR_SUCCESS || feed->delivery != TW_DELIVERY_SOCKET)
        return rv;
    tw_engine_socket_conf scf = {.hub = rt->hub,
                                 .keepalive = keepalive,
                                 .max_streams = tw_max_streams(threads),
                                 .log = &rt->log,
                                 .metrics = tw_metrics_slot()};
    if ((rv = tw_engine_socket_create(p, &scf, &rt->socket)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     "TW0006: cannot start the socket engine; streams keep their worker threads "
                     "in this child");
        rt->socket = NULL;
    }
    return APR_SUCCESS;
}

/* Start one runtime for the feed of `s` in `p`. Returns NULL (logged) if its store, hub or
 * thread engine cannot start. */
static tw_runtime *tw_runtime_start(apr_pool_t *p, server_rec *s, int threads)
{
    const tw_feed_conf *feed = &TW_CONF(s)->feed;
    tw_runtime *rt = apr_pcalloc(p, sizeof(*rt));
    rt->log = tw_log_for_server(s);
    tw_hub_renderer render;
    apr_status_t rv = tw_render_init(&render);
    if (rv == APR_SUCCESS)
        rv = tw_hub_create(p, &render, &rt->log, &rt->hub);
    if (rv == APR_SUCCESS)
        rv = tw_runtime_store(p, feed, threads, rt);
    if (rv == APR_SUCCESS)
        rv = tw_peers_create(p, &rt->peers);
    if (rv == APR_SUCCESS)
        rv = tw_runtime_engines(p, s, feed, threads, rt);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "TW0003: cannot start the feed's runtime");
        return NULL;
    }
    /* Last: from here on the store's thread feeds the hub, which notifies the engines. */
    tw_hub_metrics(rt->hub, tw_metrics_slot());
    if ((rv = tw_store_subscribe(rt->store, tw_hub_listener(rt->hub))) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     "TW0012: cannot start the Redis subscriber thread");
        if (rt->socket)
            tw_engine_stop(rt->socket);
        return NULL;
    }
    return rt;
}

/* pchild pre-cleanup (runs before pchild's subpools go): end every engine's and store's thread
 * and wait, within TW_STOP_BUDGET in all, until they have. Only async-signal-safe calls (see the
 * top of this file): nothing is freed. */
static apr_status_t tw_child_cleanup(void *data)
{
    (void)data;
    for (tw_runtime *rt = tw_runtimes; rt; rt = rt->next) {
        if (rt->socket)
            tw_engine_stop(rt->socket);
        tw_engine_stop(rt->thread);
        tw_store_stop(rt->store);
    }
    apr_interval_time_t deadline = tw_thread_clock() + TW_STOP_BUDGET;
    for (tw_runtime *rt = tw_runtimes; rt; rt = rt->next) {
        apr_interval_time_t left = deadline - tw_thread_clock();
        if (rt->socket)
            tw_engine_stopped(rt->socket, left > 0 ? left : 0);
        left = deadline - tw_thread_clock();
        tw_store_stopped(rt->store, left > 0 ? left : 0);
    }
    return APR_SUCCESS;
}

/* The runtime of the feed of `vs`: the one started for an earlier virtual host with an equal
 * feed (tw_feed_key), else a new one. NULL when it could not start (not tried again). */
static tw_runtime *tw_child_runtime(apr_pool_t *p, apr_hash_t *seen, server_rec *vs, int threads)
{
    const char *key = tw_feed_key(p, &TW_CONF(vs)->feed);
    tw_runtime *rt = apr_hash_get(seen, key, APR_HASH_KEY_STRING);
    if (!rt) {
        if ((rt = tw_runtime_start(p, vs, threads))) {
            rt->next = tw_runtimes;
            tw_runtimes = rt;
        }
        apr_hash_set(seen, key, APR_HASH_KEY_STRING, rt ? rt : &tw_failed);
    }
    return rt == &tw_failed ? NULL : rt;
}

void tw_child_init(apr_pool_t *pchild, server_rec *s)
{
    int threads = 1;
    if (ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads) != APR_SUCCESS || threads < 1)
        threads = 1;
    apr_pool_t *p;
    if (apr_pool_create_unmanaged_ex(&p, NULL, NULL) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, APR_ENOMEM, s, "TW0004: out of memory");
        return;
    }
    if ((tw_stop_latch = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
        ap_log_error(APLOG_MARK, APLOG_ERR, APR_FROM_OS_ERROR(errno), s,
                     "TW0013: no stop descriptor; streams waiting for Redis at a graceful stop "
                     "wait for their timeout");
    apr_hash_t *seen = apr_hash_make(p);
    for (server_rec *vs = s; vs; vs = vs->next) {
        tw_srv_conf *c = TW_CONF(vs);
        if (tw_page_cache_create(p, c) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, APR_ENOMEM, vs,
                         "TW0014: cannot create the page cache");
            continue;
        }
        c->rt = tw_child_runtime(p, seen, vs, threads);
    }
    apr_pool_pre_cleanup_register(pchild, NULL, tw_child_cleanup);
}

void tw_child_stopping(apr_pool_t *pchild, int graceful)
{
    (void)pchild, (void)graceful;
    uint64_t one = 1;
    if (tw_stop_latch >= 0 && write(tw_stop_latch, &one, sizeof(one)) < 0)
        (void)graceful; /* full: it is readable already */
    for (tw_runtime *rt = tw_runtimes; rt; rt = rt->next) {
        if (rt->socket)
            tw_engine_stopping(rt->socket);
        tw_engine_stopping(rt->thread);
    }
}
