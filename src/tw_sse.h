/* tw_sse: Server-Sent Events framing (the WHATWG event-stream format). httpd-free. */
#ifndef TW_SSE_H
#define TW_SSE_H

#include "tw_buf.h"

#include <stdint.h>

/* Append one event: "id: <id>\n" (if id), "event: <name>\n" (if name), one "data: " line per
 * line of `data` (split on LF, CR and CRLF, so no payload byte can end a field early), and
 * the blank line that dispatches it. An empty payload still gets one "data:" line. O(n). */
void tw_sse_event(tw_buf *b, const char *id, const char *name, const char *data, size_t n);

/* Append "retry: <ms>\n\n": the reconnection delay the browser should use. */
void tw_sse_retry(tw_buf *b, unsigned ms);

/* A reconnect delay spread over [base, base + jitter) ms, uniformly, so that streams closed at
 * once do not all come back at once: the next value of the xorshift64* generator `*state`
 * (seeded non-zero by the caller; not for secrets). jitter 0: base. O(1). */
unsigned tw_sse_jitter(unsigned base, unsigned jitter, uint64_t *state);

/* Append a comment line (": <text>\n\n"), used as keepalive. `text` must hold no line break. */
void tw_sse_comment(tw_buf *b, const char *text);

#endif
