/* mod_tweetsse_metrics.c: the httpd side of the metrics (src/tw_metrics has their layout, writers
 * and renderers): the shared-memory block, each child's slot, the metrics handler and the
 * server-status section. */
#include "mod_tweetsse_metrics.h"
#include "src/tw_version.h"

#include <ap_mpm.h>
#include <apr_shm.h>
#include <errno.h>
#include <http_protocol.h>
#include <http_request.h>
#include <mod_status.h>
#include <signal.h>
#include <unistd.h>

#define TW_METRICS_HANDLER "tweetsse-metrics"
#define TW_RETAINED        "mod_tweetsse-stats"

/* Kept in the parent across restarts (ap_retained_data_create): the block's segment, which lives
 * in the process pool, and its size. */
typedef struct tw_metrics_retained {
    apr_shm_t *shm;
    int nslots;
} tw_metrics_retained;

/* Set in post_config, inherited by every child; the slot in child_init. */
static tw_metrics *tw_metrics_block;
static tw_metrics_child *tw_metrics_mine;

tw_metrics_child *tw_metrics_slot(void)
{
    return tw_metrics_mine;
}

tw_metrics *tw_metrics_instance(void)
{
    return tw_metrics_block;
}

/* tw_metrics_alive_fn: a process that exists (EPERM: it does, as another user). */
static int tw_metrics_pid_alive(int pid)
{
    return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

int tw_metrics_post_config(apr_pool_t *pconf, server_rec *s)
{
    (void)pconf;
    int limit = 0;
    if (ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &limit) != APR_SUCCESS || limit < 1)
        limit = 1;
    tw_metrics_retained *kept = ap_retained_data_get(TW_RETAINED);
    if (!kept)
        kept = ap_retained_data_create(TW_RETAINED, sizeof(*kept));
    if (!kept->shm || kept->nslots < limit) {
        /* First start, or a server limit raised by a full restart: a new block (an old one
         * stays mapped until the parent exits, for children that still write to it). */
        apr_shm_t *shm;
        apr_status_t rv = apr_shm_create(&shm, tw_metrics_size(limit), NULL, s->process->pool);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                         "TW0801: cannot create the shared memory of the metrics");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        tw_metrics_init(apr_shm_baseaddr_get(shm), limit);
        kept->shm = shm;
        kept->nslots = limit;
    }
    tw_metrics_block = apr_shm_baseaddr_get(kept->shm);
    return OK;
}

/* pchild cleanup: give the slot back. A plain cleanup, so it runs after the pre-cleanup that
 * stops this child's threads. Async-signal-safe (prefork runs it in its signal handler). */
static apr_status_t tw_metrics_slot_release(void *data)
{
    (void)data;
    tw_metrics_release(tw_metrics_mine);
    tw_metrics_mine = NULL;
    return APR_SUCCESS;
}

void tw_metrics_child_init(apr_pool_t *pchild, server_rec *s)
{
    if (!tw_metrics_block)
        return;
    tw_metrics_mine = tw_metrics_claim(tw_metrics_block, (int)getpid(), tw_metrics_pid_alive);
    if (!tw_metrics_mine) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "TW0802: no free slot for this child's metrics (%d children alive); its "
                     "metrics are not reported",
                     tw_metrics_block->nslots);
        return;
    }
    apr_pool_cleanup_register(pchild, NULL, tw_metrics_slot_release, apr_pool_cleanup_null);
}

/* Read every slot into a view, in the request's pool. */
static void tw_metrics_snapshot(request_rec *r, tw_metrics_view *v)
{
    tw_metrics_read(tw_metrics_block, r->pool, tw_metrics_pid_alive, v);
}

int tw_metrics_handler(request_rec *r)
{
    if (!r->handler || strcmp(r->handler, TW_METRICS_HANDLER) != 0)
        return DECLINED;
    ap_allow_methods(r, REPLACE_ALLOW, "GET", "HEAD", NULL);
    if (r->method_number != M_GET)
        return HTTP_METHOD_NOT_ALLOWED;
    if (!tw_metrics_block) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "TW0803: the metrics are not initialised");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    tw_metrics_view v;
    tw_metrics_snapshot(r, &v);
    tw_buf b;
    tw_buf_init(&b, r->pool, 8192);
    tw_metrics_prometheus(&b, &v);
    ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    ap_set_content_length(r, (apr_off_t)b.len);
    if (!r->header_only)
        ap_rwrite(b.data, (int)b.len, r);
    return OK;
}

int tw_metrics_status_hook(request_rec *r, int flags)
{
    if (!tw_metrics_block)
        return DECLINED;
    tw_metrics_view v;
    tw_metrics_snapshot(r, &v);
    tw_buf b;
    tw_buf_init(&b, r->pool, 4096);
    if (flags & AP_STATUS_SHORT) {
        tw_buf_adds(&b, "TweetsseVersion: " TW_VERSION "\n");
        tw_metrics_status_auto(&b, &v);
    } else {
        tw_metrics_status_html(&b, &v);
        tw_buf_adds(&b, "<p>mod_tweetsse version " TW_VERSION "</p>\n");
    }
    ap_rwrite(b.data, (int)b.len, r);
    return OK;
}
