/* tw_render: how a child's hub renders its frames: an event of the log becomes its live SSE
 * event (tw_html_event: a post's card, a deletion, a count), a gap a "reload" event. The renderer
 * the child hands to tw_hub_create. httpd-free. */
#ifndef TW_RENDER_H
#define TW_RENDER_H

#include "tw_hub.h"

/* Fill `out` with the renderer; its scratch pool is made here (unmanaged, aborting on out of
 * memory) and used by one call at a time, as the hub's listener calls come. */
apr_status_t tw_render_init(tw_hub_renderer *out);

#endif
