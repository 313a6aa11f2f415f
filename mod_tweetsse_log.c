/* mod_tweetsse_log.c: core messages into Apache's error log. */
#include "mod_tweetsse_log.h"

_Static_assert(TW_LOG_CRIT == APLOG_CRIT && TW_LOG_ERR == APLOG_ERR &&
                   TW_LOG_WARNING == APLOG_WARNING && TW_LOG_NOTICE == APLOG_NOTICE &&
                   TW_LOG_INFO == APLOG_INFO && TW_LOG_DEBUG == APLOG_DEBUG &&
                   TW_LOG_TRACE1 == APLOG_TRACE1,
               "the core's log levels are httpd's");

static int tw_log_enabled(void *baton, int level)
{
    const server_rec *s = baton;
    return APLOG_IS_LEVEL(s, level);
}

static void tw_log_write(void *baton, const char *file, int line, int level, apr_status_t rv,
                         const char *msg)
{
    ap_log_error_(file, line, APLOG_MODULE_INDEX, level, rv, baton, "%s", msg);
}

tw_log tw_log_for_server(server_rec *s)
{
    return (tw_log){.enabled = tw_log_enabled, .print = tw_log_write, .baton = s};
}
