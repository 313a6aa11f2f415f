/* mod_tweetsse_metrics: the metrics of every child in shared memory (src/tw_metrics), shown in
 * mod_status's server-status and as Prometheus metrics (SetHandler tweetsse-metrics). */
#ifndef MOD_TWEETSSE_METRICS_H
#define MOD_TWEETSSE_METRICS_H

#include "mod_tweetsse.h"
#include "src/tw_metrics.h"

/* post_config: the shared block, one slot per child the MPM may run (its hard server limit)
 * plus the instance's metrics. Made once per parent process and kept across restarts, so the
 * counters go on and children of the previous generation still report. Returns OK or an HTTP
 * error status (logged). */
int tw_metrics_post_config(apr_pool_t *pconf, server_rec *s);

/* child_init: take this child's slot (before the runtimes start, which report into it) and give
 * it back at the child's exit. */
void tw_metrics_child_init(apr_pool_t *pchild, server_rec *s);

/* This child's slot, or NULL (no block, or every slot taken): the writers take NULL. */
tw_metrics_child *tw_metrics_slot(void);

/* The instance's metrics, or NULL. */
tw_metrics *tw_metrics_instance(void);

/* handler: SetHandler tweetsse-metrics, the Prometheus text exposition of every child's
 * metrics; GET and HEAD only. */
int tw_metrics_handler(request_rec *r);

/* The section of mod_status's server-status (optional hook; ?auto gives Key: value lines). */
int tw_metrics_status_hook(request_rec *r, int flags);

#endif
