/* mod_tweetsse.h: what every httpd glue file (mod_tweetsse_*.c) shares: the module record and
 * the module's log index, so `LogLevel tweetsse:debug` governs every message. Core files
 * (src/tw_*) never include this header or any httpd header. */
#ifndef MOD_TWEETSSE_H
#define MOD_TWEETSSE_H

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

#ifdef APLOG_USE_MODULE
APLOG_USE_MODULE(tweetsse);
#endif

extern module AP_MODULE_DECLARE_DATA tweetsse_module;

#endif
