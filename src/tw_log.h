/* tw_log: how the httpd-free core logs. Each component is given a tw_log when it is created
 * (the glue's bridge to ap_log_error, as mod_md injects md_log_set), so no core file includes
 * an httpd header and `LogLevel tweetsse:debug` still governs every message. Messages carry
 * the module's own tags ("TW0601: ..."). A NULL tw_log, or one without functions, is silent. */
#ifndef TW_LOG_H
#define TW_LOG_H

#include <apr_errno.h>

/* The levels, numbered as syslog and httpd's APLOG_* number them. */
enum {
    TW_LOG_CRIT = 2,
    TW_LOG_ERR = 3,
    TW_LOG_WARNING = 4,
    TW_LOG_NOTICE = 5,
    TW_LOG_INFO = 6,
    TW_LOG_DEBUG = 7,
    TW_LOG_TRACE1 = 8,
};

typedef struct tw_log {
    /* Would a message at `level` be written? Lets callers skip formatting. */
    int (*enabled)(void *baton, int level);
    /* Write one message; `rv` is an APR status to explain, or 0. */
    void (*print)(void *baton, const char *file, int line, int level, apr_status_t rv,
                  const char *msg);
    void *baton;
} tw_log;

/* Format and write a message if `level` is enabled. The text is cut at 1 KB. Thread-safe as far
 * as the injected functions are. Not for signal handlers. */
void tw_log_print(const tw_log *log, const char *file, int line, int level, apr_status_t rv,
                  const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#define TW_LOG(log, level, rv, ...)                                                                \
    tw_log_print((log), __FILE__, __LINE__, (level), (rv), __VA_ARGS__)

#endif
