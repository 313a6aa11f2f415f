/* tw_stream.c: GET of the live stream (Server-Sent Events). Replays what the client missed
 * from the Redis stream, then either hands the socket to the child's pump thread and frees
 * the worker (TweetsseDelivery socket), or follows the child's hub in this worker thread
 * (TweetsseDelivery thread, and connections the pump cannot write to: TLS, HTTP/2). */
#include "tw_html.h"
#include "tw_hub.h"
#include "tw_private.h"
#include "tw_pump.h"
#include "tw_sse.h"
#include "tw_store.h"

#include <ap_mpm.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_protocol.h>
#include <util_filter.h>

#include <errno.h>
#include <fcntl.h>
#include <strings.h>
#include <unistd.h>

#define TW_REPLAY_PAGE  200  /* stream entries fetched per XRANGE during a replay */
#define TW_WAIT_SLICE   1000 /* ms; how often an idle stream checks for a graceful stop */
#define TW_REPLAY_FLUSH 32   /* replayed posts per write, bounding what a replay buffers */

typedef struct tw_stream {
    request_rec *r;
    apr_bucket_brigade *bb;
    apr_pool_t *scratch; /* cleared after each replayed post */
    tw_id last;          /* newest post id sent (or the resume point) */
    int queued;          /* replayed posts not yet written */
} tw_stream;

/* Send what is in the brigade now. Returns APR_SUCCESS, or an error once the client is gone. */
static apr_status_t tw_flush(tw_stream *st)
{
    request_rec *r = st->r;
    APR_BRIGADE_INSERT_TAIL(st->bb, apr_bucket_flush_create(r->connection->bucket_alloc));
    apr_status_t rv = ap_pass_brigade(r->output_filters, st->bb);
    apr_brigade_cleanup(st->bb);
    if (rv == APR_SUCCESS && r->connection->aborted)
        rv = APR_ECONNABORTED;
    return rv;
}

/* Append bytes to the brigade (heap buckets; no pool growth over a long stream). */
static void tw_sink(void *ctx, const char *data, size_t len)
{
    tw_stream *st = ctx;
    apr_brigade_write(st->bb, NULL, NULL, data, len);
}

/* Append a small frame built by `fill`-style code in the scratch pool. */
static void tw_send_control(tw_stream *st, const char *event, unsigned retry_ms)
{
    tw_buf b;
    tw_buf_init(&b, st->scratch, 64);
    if (retry_ms)
        tw_sse_retry(&b, retry_ms);
    if (event)
        tw_sse_event(&b, NULL, event, "", 0);
    tw_sink(st, b.data, b.len);
    apr_pool_clear(st->scratch);
}

/* tw_store_each_after callback: render and queue one missed post. */
static int tw_replay_one(void *ctx, const tw_post *post)
{
    tw_stream *st = ctx;
    tw_buf frame;
    tw_buf_init(&frame, st->scratch, 2048);
    tw_html_post_event(&frame, post);
    tw_sink(st, frame.data, frame.len);
    apr_pool_clear(st->scratch);
    st->last = post->id;
    if (++st->queued < TW_REPLAY_FLUSH)
        return 0;
    st->queued = 0;
    return tw_flush(st) != APR_SUCCESS; /* stop the replay once the client is gone */
}

/* The resume point from Last-Event-ID, else from ?last_event_id=. Returns 1 with *id set,
 * 0 for none, -1 if malformed. */
static int tw_resume_point(request_rec *r, tw_id *id)
{
    const char *hdr = apr_table_get(r->headers_in, "Last-Event-ID");
    int rc = tw_id_parse_resume(hdr, id);
    if (rc != 0 || !r->args)
        return rc;
    char arg[TW_ID_MAX + 8];
    rc = tw_id_query_arg(r->args, arg, sizeof(arg));
    return rc <= 0 ? rc : tw_id_parse_resume(arg, id);
}

/* Is this child being stopped (graceful restart or shutdown)? */
static int tw_child_stopping(void)
{
    int state = AP_MPMQ_RUNNING;
    return ap_mpm_query(AP_MPMQ_MPM_STATE, &state) == APR_SUCCESS && state == AP_MPMQ_STOPPING;
}

/* Request filters the pump may bypass: the compressors, which the no-gzip / no-brotli set
 * on every stream turn into pass-throughs, directly or through mod_filter (Debian enables
 * AddOutputFilterByType DEFLATE by default, which puts its harness on every request). */
static int tw_filter_inert(const char *name)
{
    static const char *const inert[] = {"deflate", "brotli_compress", "bytype:deflate",
                                        "bytype:brotli_compress"};
    for (size_t i = 0; i < sizeof(inert) / sizeof(inert[0]); i++)
        if (strcasecmp(name, inert[i]) == 0)
            return 1;
    return 0;
}

/* Can the pump write this stream's events straight to its socket? Only when no filter would
 * need to see the bytes: no content or resource filter on the request other than the
 * compressors (SetOutputFilter, substitution, rate limits... keep the stream in its thread),
 * and nothing but the core (and mod_logio's byte counter) in the connection's output stack:
 * no TLS, no HTTP/2 stream (c->master). */
static int tw_stream_detachable(request_rec *r, tw_srv_conf *c)
{
    conn_rec *conn = r->connection;
    if (!c->pump || conn->master)
        return 0;
    for (ap_filter_t *f = r->output_filters; f && f != r->proto_output_filters; f = f->next) {
        if (f->frec->ftype < AP_FTYPE_PROTOCOL && !tw_filter_inert(f->frec->name)) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                          "TW0507: output filter %s on the stream: keeping it in its worker "
                          "thread",
                          f->frec->name);
            return 0;
        }
    }
    for (ap_filter_t *f = conn->output_filters; f; f = f->next) {
        const char *name = f->frec->name;
        if (strcasecmp(name, "core") != 0 && strcasecmp(name, "log_input_output") != 0) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                          "TW0507: connection filter %s (TLS?): keeping the stream in its "
                          "worker thread",
                          name);
            return 0;
        }
    }
    return 1;
}

/* Hand the connection to the pump: it gets a duplicate of the socket, and the connection is
 * marked aborted so that Apache writes nothing more and closes its own descriptor without a
 * shutdown (the duplicate keeps the TCP connection open). Returns 1 when handed over, 0 to
 * keep the stream in this thread, -1 if the child is stopping (end the stream). */
static int tw_stream_detach(tw_stream *st, tw_sub *sub, tw_srv_conf *c)
{
    request_rec *r = st->r;
    apr_socket_t *sock = ap_get_conn_socket(r->connection);
    apr_os_sock_t fd = -1;
    if (!sock || apr_os_sock_get(&fd, sock) != APR_SUCCESS || fd < 0)
        return 0;
    int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, errno, r,
                      "TW0505: cannot duplicate the stream socket (raise the open files limit); "
                      "keeping the stream in its worker thread");
        return 0;
    }
    int flags = fcntl(dup, F_GETFL);
    apr_status_t rv = flags < 0 || fcntl(dup, F_SETFL, flags | O_NONBLOCK) < 0
                          ? APR_FROM_OS_ERROR(errno)
                          : tw_pump_adopt(c->pump, dup, sub->next, st->last);
    if (rv != APR_SUCCESS) {
        close(dup);
        return APR_STATUS_IS_EOF(rv) ? -1 : 0;
    }
    r->connection->aborted = 1;
    ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r, "TW0506: stream handed to the delivery thread");
    return 1;
}

int tw_handle_stream(request_rec *r, tw_srv_conf *c)
{
    if (r->method_number != M_GET) {
        r->allowed = AP_METHOD_BIT << M_GET;
        return HTTP_METHOD_NOT_ALLOWED;
    }
    tw_stream st = {.r = r};
    int resume = tw_resume_point(r, &st.last);
    if (resume < 0) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "TW0501: malformed Last-Event-ID");
        return HTTP_BAD_REQUEST;
    }
    if (apr_pool_create(&st.scratch, r->pool) != APR_SUCCESS)
        return HTTP_INTERNAL_SERVER_ERROR;

    ap_set_content_type(r, "text/event-stream; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-cache");
    apr_table_setn(r->headers_out, "X-Accel-Buffering", "no");
    apr_table_setn(r->subprocess_env, "no-gzip", "1");
    apr_table_setn(r->subprocess_env, "no-brotli", "1");
    int detach = tw_stream_detachable(r, c);
    if (detach && tw_pump_full(c->pump)) {
        apr_table_setn(r->err_headers_out, "Retry-After", "5");
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (detach) /* close-delimited (ap_set_keepalive then never chunks): raw frames fit */
        r->connection->keepalive = AP_CONN_CLOSE;
    if (r->header_only)
        return OK;
    st.bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);

    tw_send_control(&st, NULL, (unsigned)c->retry_ms);
    if (tw_flush(&st) != APR_SUCCESS)
        return OK;
    if (!tw_hub_wait_ready(c->hub, apr_time_from_msec(c->timeout_ms))) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "TW0502: live updates are not available yet; the client will retry");
        return OK;
    }
    /* Join once the hub has its baseline (from then on the ring misses no post) and before
     * replaying: whatever the ring gets after this point is newer than what was stored
     * before it, and the replay below covers that; the id check in tw_hub_next (or the pump) drops
     * the posts both deliver. */
    tw_sub sub;
    tw_hub_join(c->hub, &sub);
    if (resume) {
        int gap = 0;
        const char *err = NULL;
        if (tw_store_each_after(c->store, r->pool, st.last, TW_REPLAY_PAGE, tw_replay_one, &st,
                                &gap, &err) != APR_SUCCESS) {
            /* INFO: every browser retries this during a Redis outage, which the hub reports. */
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "TW0503: cannot replay posts: %s", err);
            apr_brigade_cleanup(st.bb);
            return OK; /* the client retries with the same Last-Event-ID */
        }
        if (gap) {
            /* Older than the retained history: the page must reload to be complete. */
            tw_send_control(&st, "reload", 0);
            tw_flush(&st);
            return OK;
        }
        if (tw_flush(&st) != APR_SUCCESS)
            return OK;
    }
    if (detach && tw_stream_detach(&st, &sub, c) != 0)
        return OK;

    tw_buf ping; /* the keepalive comment, built once per stream */
    tw_buf_init(&ping, r->pool, 16);
    tw_sse_comment(&ping, "ping");
    apr_interval_time_t slice = apr_time_from_msec(TW_WAIT_SLICE);
    apr_time_t next_ping = apr_time_now() + apr_time_from_msec(c->keepalive_ms);
    for (;;) {
        apr_time_t now = apr_time_now();
        apr_interval_time_t wait = next_ping - now < slice ? next_ping - now : slice;
        tw_hub_status hs = tw_hub_next(&sub, wait > 0 ? wait : 0, &st.last, tw_sink, &st);
        /* Checked on every round, not only when idle: prefork tells a child to stop only
         * through the MPM state, and a busy feed may never let the wait time out. */
        if (hs == TW_HUB_STOPPING || tw_child_stopping())
            break;
        if (hs == TW_HUB_LAGGED) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                          "TW0504: client fell too far behind; closing so it resumes");
            break;
        }
        if (hs == TW_HUB_TIMEOUT) {
            if (apr_time_now() < next_ping)
                continue;
            tw_sink(&st, ping.data, ping.len);
        }
        next_ping = apr_time_now() + apr_time_from_msec(c->keepalive_ms);
        if (tw_flush(&st) != APR_SUCCESS)
            break;
    }
    return OK;
}
