#include "tw_log.h"

#include <stdarg.h>
#include <stdio.h>

void tw_log_print(const tw_log *log, const char *file, int line, int level, apr_status_t rv,
                  const char *fmt, ...)
{
    if (!log || !log->print || (log->enabled && !log->enabled(log->baton, level)))
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log->print(log->baton, file, line, level, rv, msg);
}
