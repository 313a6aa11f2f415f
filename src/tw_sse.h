/* tw_sse: Server-Sent Events framing (the WHATWG event-stream format). httpd-free. */
#ifndef TW_SSE_H
#define TW_SSE_H

#include "tw_buf.h"

/* Append one event: "id: <id>\n" (if id), "event: <name>\n" (if name), one "data: " line per
 * line of `data` (split on LF, CR and CRLF, so no payload byte can end a field early), and
 * the blank line that dispatches it. An empty payload still gets one "data:" line. O(n). */
void tw_sse_event(tw_buf *b, const char *id, const char *name, const char *data, size_t n);

/* Append "retry: <ms>\n\n": the reconnection delay the browser should use. */
void tw_sse_retry(tw_buf *b, unsigned ms);

/* Append a comment line (": <text>\n\n"), used as keepalive. `text` must hold no line break. */
void tw_sse_comment(tw_buf *b, const char *text);

#endif
