#include "tw_render.h"
#include "tw_html.h"
#include "tw_sse.h"

/* Render into the scratch pool, copy into a blob, clear the pool. */
static tw_blob *tw_render_event(void *ctx, const tw_event *ev)
{
    apr_pool_t *scratch = ctx;
    tw_buf b;
    tw_buf_init(&b, scratch, 2048);
    tw_html_event(&b, ev);
    tw_blob *blob = tw_blob_make(b.data, b.len);
    apr_pool_clear(scratch);
    return blob;
}

static tw_blob *tw_render_reload(void *ctx)
{
    apr_pool_t *scratch = ctx;
    tw_buf b;
    tw_buf_init(&b, scratch, 64);
    tw_sse_event(&b, NULL, "reload", "", 0);
    tw_blob *blob = tw_blob_make(b.data, b.len);
    apr_pool_clear(scratch);
    return blob;
}

/* A comment: EventSource ignores it, then sees the stream end and reconnects (with the last
 * event id), which a balancer sends to an instance that has Redis. */
static tw_blob *tw_render_closing(void *ctx)
{
    apr_pool_t *scratch = ctx;
    tw_buf b;
    tw_buf_init(&b, scratch, 64);
    tw_sse_comment(&b, "this server lost Redis; reconnect");
    tw_blob *blob = tw_blob_make(b.data, b.len);
    apr_pool_clear(scratch);
    return blob;
}

apr_status_t tw_render_init(tw_hub_renderer *out)
{
    apr_pool_t *scratch;
    apr_status_t rv = apr_pool_create_unmanaged_ex(&scratch, tw_buf_oom, NULL);
    if (rv != APR_SUCCESS)
        return rv;
    *out = (tw_hub_renderer){.event = tw_render_event,
                             .reload = tw_render_reload,
                             .closing = tw_render_closing,
                             .ctx = scratch};
    return APR_SUCCESS;
}
