/* mod_tweetsse.h: what every httpd glue file (mod_tweetsse_*.c) shares: the module record and
 * the module's log index, so `LogLevel tweetsse:debug` governs every message. Core files
 * (src/tw_*) never include this header or any httpd header. */
#ifndef MOD_TWEETSSE_H
#define MOD_TWEETSSE_H

/* Before any APR header: apr_general.h makes APR_OFFSETOF offsetof only if <stddef.h> came
 * first, else a member access through a null pointer, undefined behaviour that every brigade
 * insert expands to (APR_RING_SENTINEL). Every glue file includes this header first, through
 * its own. */
#include <stddef.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

#ifdef APLOG_USE_MODULE
APLOG_USE_MODULE(tweetsse);
#endif

extern module AP_MODULE_DECLARE_DATA tweetsse_module;

#endif
