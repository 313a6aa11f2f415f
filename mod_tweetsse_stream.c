/* mod_tweetsse_stream.c: GET of the live stream. Sends the headers, takes what the client
 * missed from the child's ring when it holds all of it, else reads it from the store (at most
 * TweetsseMaxResume posts: a resume further back gets a reload event instead) and gives the stream,
 * with that replay to send first, to the child's socket engine (tw_engine_socket: the worker is
 * free at once, and a client that does not read holds no thread) or, for what that engine cannot
 * write (TLS, HTTP/2, content filters) and with TweetsseDelivery thread, to the thread engine
 * (tw_engine_thread), which writes through the filters in this thread until the stream ends.
 * Streams are counted per client address and child (TweetsseMaxStreamsPerAddress). */
#include "mod_tweetsse_stream.h"
#include "mod_tweetsse_child.h"
#include "src/tw_html.h"
#include "src/tw_sse.h"

#include <ap_mpm.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_protocol.h>
#include <util_filter.h>

#include <strings.h>

#define TW_REPLAY_PAGE 200 /* stream entries fetched per XRANGE during a replay, at most */

/* The response: the replay read from the store, and what is written through the filters (the
 * headers, and the tw_writer of the thread engine). */
typedef struct tw_stream {
    request_rec *r;
    apr_bucket_brigade *bb;
    apr_pool_t *scratch; /* cleared after each replayed post */
    tw_id last;          /* newest post id in the replay (or the resume point) */
    tw_buf replay;       /* the replayed posts' events, for the engine to send first */
    long replayed;       /* posts in it */
    long max_resume;     /* TweetsseMaxResume */
    long retry_ms;       /* TweetsseRetry */
    long jitter_ms;      /* TweetsseRetryJitter */
    int too_far;         /* the resume point is more than max_resume posts back */
} tw_stream;

/* Send what is in the brigade now. Returns APR_SUCCESS, or an error once the client is gone. */
static apr_status_t tw_stream_flush(tw_stream *st)
{
    request_rec *r = st->r;
    APR_BRIGADE_INSERT_TAIL(st->bb, apr_bucket_flush_create(r->connection->bucket_alloc));
    apr_status_t rv = ap_pass_brigade(r->output_filters, st->bb);
    apr_brigade_cleanup(st->bb);
    if (rv == APR_SUCCESS && r->connection->aborted)
        rv = APR_ECONNABORTED;
    return rv;
}

/* tw_writer functions over the brigade (heap buckets: no pool growth over a long stream). */
static void tw_stream_write(void *ctx, const char *data, size_t len)
{
    tw_stream *st = ctx;
    apr_brigade_write(st->bb, NULL, NULL, data, len);
}

static int tw_stream_writer_flush(void *ctx)
{
    return tw_stream_flush(ctx) == APR_SUCCESS ? 0 : -1;
}

/* Is this child being stopped (graceful restart or shutdown)? */
static int tw_stream_stopping(void *ctx)
{
    (void)ctx;
    int state = AP_MPMQ_RUNNING;
    return ap_mpm_query(AP_MPMQ_MPM_STATE, &state) == APR_SUCCESS && state == AP_MPMQ_STOPPING;
}

/* The headers of every stream: an event stream that no cache, proxy buffer or compressor may
 * hold back. */
static void tw_stream_headers(request_rec *r)
{
    ap_set_content_type(r, "text/event-stream; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-cache");
    apr_table_setn(r->headers_out, "X-Accel-Buffering", "no");
    apr_table_setn(r->subprocess_env, "no-gzip", "1");
    apr_table_setn(r->subprocess_env, "no-brotli", "1");
}

/* Queue a small control frame (the retry: line, or an event without data). */
static void tw_stream_control(tw_stream *st, const char *event, unsigned retry_ms)
{
    tw_buf b;
    tw_buf_init(&b, st->scratch, 64);
    if (retry_ms)
        tw_sse_retry(&b, retry_ms);
    if (event)
        tw_sse_event(&b, NULL, event, "", 0);
    tw_stream_write(st, b.data, b.len);
    apr_pool_clear(st->scratch);
}

/* tw_store_each_after callback: render one missed event into the replay; stop the scan (and
 * mark the resume too far back) at the event past TweetsseMaxResume. */
static int tw_stream_replay_one(void *ctx, const tw_event *ev)
{
    tw_stream *st = ctx;
    if (st->replayed == st->max_resume) {
        st->too_far = 1;
        return 1;
    }
    tw_buf frame;
    tw_buf_init(&frame, st->scratch, 2048);
    tw_html_event(&frame, ev);
    tw_buf_add(&st->replay, frame.data, frame.len);
    apr_pool_clear(st->scratch);
    st->last = ev->id;
    st->replayed++;
    return 0;
}

/* The resume point from Last-Event-ID, else from ?last_event_id=. Returns 1 with *id set, 0 for
 * none, -1 if malformed. */
static int tw_stream_resume_point(request_rec *r, tw_id *id)
{
    const char *hdr = apr_table_get(r->headers_in, "Last-Event-ID");
    int rc = tw_id_parse_resume(hdr, id);
    if (rc != 0 || !r->args)
        return rc;
    char arg[TW_ID_MAX + 8];
    rc = tw_id_query_arg(r->args, arg, sizeof(arg));
    return rc <= 0 ? rc : tw_id_parse_resume(arg, id);
}

/* May the socket engine write past this output filter? Only when the filter would pass the
 * stream's bytes unchanged and unpaced: the compressors among the resource and content filters
 * (the no-gzip / no-brotli set on every stream turn them, directly or through mod_filter, into
 * pass-throughs; Debian's default AddOutputFilterByType DEFLATE puts the harness on every
 * request), httpd's own HTTP/1.1 protocol filters, and at the connection only the core,
 * mod_logio's byte counter and mod_reqtimeout's (which passes every brigade on as it is and only
 * notes the end of a request, to stop its read timer). Anything else (substitution,
 * SetOutputFilter, mod_ratelimit, TLS) must see every byte: the stream then stays in its worker
 * thread. */
static int tw_filter_passes(const ap_filter_rec_t *frec)
{
    static const char *const content[] = {"deflate", "brotli_compress", "bytype:deflate",
                                          "bytype:brotli_compress"};
    static const char *const protocol[] = {"byterange", "content_length", "http_header",
                                           "http_outerror", "chunk"};
    static const char *const connection[] = {"core", "log_input_output", "reqtimeout"};
    const char *const *ok = frec->ftype < AP_FTYPE_PROTOCOL     ? content
                            : frec->ftype < AP_FTYPE_CONNECTION ? protocol
                                                                : connection;
    size_t n = frec->ftype < AP_FTYPE_PROTOCOL     ? sizeof(content) / sizeof(*content)
               : frec->ftype < AP_FTYPE_CONNECTION ? sizeof(protocol) / sizeof(*protocol)
                                                   : sizeof(connection) / sizeof(*connection);
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(frec->name, ok[i]) == 0)
            return 1;
    return 0;
}

/* Are raw bytes on this stream's socket the response as is? When every filter between the
 * handler and the socket lets the socket engine pass (tw_filter_passes), and the stream is no
 * HTTP/2 stream (c->master: its socket is the session's). */
static int tw_stream_raw(request_rec *r)
{
    if (r->connection->master)
        return 0;
    for (ap_filter_t *f = r->output_filters; f; f = f->next) {
        if (!tw_filter_passes(f->frec)) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                          "TW0507: output filter %s on the stream: keeping it in its worker "
                          "thread",
                          f->frec->name);
            return 0;
        }
    }
    return 1;
}

/* The client's socket descriptor, or -1 (HTTP/2: the socket is the session's, not ours). */
static int tw_stream_fd(request_rec *r)
{
    apr_socket_t *sock = ap_get_conn_socket(r->connection);
    apr_os_sock_t fd = -1;
    if (r->connection->master || !sock || apr_os_sock_get(&fd, sock) != APR_SUCCESS)
        return -1;
    return fd;
}

/* Log that the resume point is more than TweetsseMaxResume posts back (the page reloads). */
static void tw_stream_too_far(tw_stream *st)
{
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, st->r,
                  "TW0511: a resume more than %ld posts back (TweetsseMaxResume): sending reload",
                  st->max_resume);
}

/* Read the posts stored after the client's resume point (it missed them) into st->replay, in
 * pages, writing nothing. Returns 1 to go on with the live stream (the engine sends the replay
 * first), 0 when the stream ends here: the store failed (the client retries with the same
 * Last-Event-ID), or the page must reload to be complete (a "reload" event is sent): the resume
 * point is older than the retained history, or more than TweetsseMaxResume posts back. Cost:
 * at most max_resume + 1 posts read and max_resume rendered, one round trip per page. */
static int tw_stream_replay(tw_stream *st, tw_runtime *rt)
{
    request_rec *r = st->r;
    int gap = 0;
    const char *err = NULL;
    long page = st->max_resume < TW_REPLAY_PAGE ? st->max_resume + 1 : TW_REPLAY_PAGE;
    if (tw_store_each_after(rt->store, r->pool, st->last, page, tw_stream_replay_one, st, &gap,
                            &err) != APR_SUCCESS) {
        /* INFO: every browser retries this during a Redis outage, which the store reports. */
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "TW0503: cannot replay posts: %s", err);
        return 0;
    }
    if (st->too_far)
        tw_stream_too_far(st);
    if (gap || st->too_far) {
        tw_stream_control(st, "reload", 0);
        tw_stream_flush(st);
        return 0;
    }
    return 1;
}

/* Resume from the child's ring when it provably holds every post after the resume point
 * (tw_hub_join_at): the stream then joins the ring there instead of at the head, and the
 * engine sends the missed posts as it sends live ones; the store is not asked. Returns 1 with
 * o->next set, 0 when the ring does not cover the point (the caller replays from the store),
 * -1 when the stream ends here: more than TweetsseMaxResume posts back (a reload event is
 * sent). One lock. */
static int tw_stream_ring_resume(tw_stream *st, tw_runtime *rt, tw_outlet *o)
{
    uint64_t at = 0, behind = 0;
    if (!tw_hub_join_at(rt->hub, st->last, &at, &behind))
        return 0;
    if (behind > (uint64_t)st->max_resume) {
        tw_stream_too_far(st);
        tw_stream_control(st, "reload", 0);
        tw_stream_flush(st);
        return -1;
    }
    ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, st->r,
                  "TW0513: resuming from this child's ring (%" APR_UINT64_T_FMT " posts)", behind);
    o->next = at;
    return 1;
}

/* r->pool cleanup, and tw_outlet.done of an adopted stream: the stream of a client address has
 * ended. */
static apr_status_t tw_stream_release(void *peer)
{
    tw_peers_release(peer);
    return APR_SUCCESS;
}

static void tw_stream_done(void *peer)
{
    tw_peers_release(peer);
}

/* Count the stream against its client address's cap (by r->useragent_ip, which mod_remoteip
 * sets from a trusted proxy's header), released with r->pool or, once an engine adopts it, by
 * the engine. Returns 1, or 0 (logged) if the address holds `max` streams in this child. */
static int tw_stream_count(request_rec *r, tw_runtime *rt, long max, tw_outlet *o)
{
    if (!max)
        return 1;
    tw_peer *peer = tw_peers_acquire(rt->peers, r->useragent_ip, (unsigned)max);
    if (!peer) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "TW0512: refusing a stream: %s holds %ld streams in this child "
                      "(TweetsseMaxStreamsPerAddress)",
                      r->useragent_ip, max);
        return 0;
    }
    apr_pool_cleanup_register(r->pool, peer, tw_stream_release, apr_pool_cleanup_null);
    o->done = tw_stream_done;
    o->done_ctx = peer;
    return 1;
}

/* The answer to an address over its cap, before any byte of the stream: 429, a retry hint, and
 * a line that says why. */
static int tw_stream_too_many(request_rec *r, long max)
{
    const char *body = apr_psprintf(r->pool,
                                    "Too many open streams from your address (at most %ld per "
                                    "server process): close some pages of this feed, or retry "
                                    "later.\n",
                                    max);
    r->status = HTTP_TOO_MANY_REQUESTS;
    apr_table_setn(r->headers_out, "Retry-After", "10");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_set_content_type(r, "text/plain; charset=utf-8");
    ap_set_content_length(r, (apr_off_t)strlen(body));
    if (!r->header_only)
        ap_rputs(body, r);
    return OK;
}

/* Give the stream to `e` (falling back to the thread engine when the socket engine
 * declines it). An adopted stream's connection is marked aborted, so that Apache writes nothing
 * more and closes its own descriptor without a shutdown (the engine's duplicate keeps the TCP
 * connection open); its address count is the engine's to release from then on. A stream that
 * ends here because the child stops or it fell behind gets a last retry: with
 * TweetsseRetryJitter of random spread (the socket engine does the same for its own). */
static void tw_stream_follow(tw_stream *st, tw_runtime *rt, tw_engine *e, const tw_outlet *o)
{
    request_rec *r = st->r;
    static const char *const ends[] = {
        [TW_ENGINE_GONE] = "the client left or a write failed",
        [TW_ENGINE_LAGGED] = "it fell a ring of posts behind",
        [TW_ENGINE_STOPPING] = "the child is stopping",
        [TW_ENGINE_DECLINED] = "no engine could take it",
        [TW_ENGINE_LOST] = "Redis is lost: its client resumes elsewhere",
    };
    tw_engine_result res = tw_engine_follow(e, o);
    if (res == TW_ENGINE_DECLINED && e != rt->thread) {
        e = rt->thread;
        res = tw_engine_follow(e, o);
    }
    if (res == TW_ENGINE_STOPPING || res == TW_ENGINE_LAGGED) {
        /* Its client comes back: spread the clients ended at once over the jitter. */
        uint64_t seed = 0;
        ap_random_insecure_bytes(&seed, sizeof(seed));
        tw_stream_control(st, NULL,
                          tw_sse_jitter((unsigned)st->retry_ms, (unsigned)st->jitter_ms, &seed));
        tw_stream_flush(st);
    }
    if (res == TW_ENGINE_ADOPTED) {
        r->connection->aborted = 1;
        if (o->done)
            apr_pool_cleanup_kill(r->pool, o->done_ctx, tw_stream_release);
        ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r, "TW0506: stream handed to the %s engine",
                      tw_engine_name(e));
    } else {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "TW0509: stream ended (%s engine): %s",
                      tw_engine_name(e), ends[res]);
    }
}

/* Before any byte: the resume point, the address's count, the engine that will take the stream
 * and whether it has room, the headers. Returns DECLINED to go on (with *engine set), else what
 * the handler returns. */
static int tw_stream_start(tw_stream *st, tw_srv_conf *c, tw_outlet *o, int *resume,
                           tw_engine **engine)
{
    request_rec *r = st->r;
    tw_runtime *rt = c->rt;
    if ((*resume = tw_stream_resume_point(r, &st->last)) < 0) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "TW0501: malformed Last-Event-ID");
        return HTTP_BAD_REQUEST;
    }
    if (apr_pool_create(&st->scratch, r->pool) != APR_SUCCESS)
        return HTTP_INTERNAL_SERVER_ERROR;
    if (!tw_stream_count(r, rt, c->max_per_addr, o))
        return tw_stream_too_many(r, c->max_per_addr);
    tw_stream_headers(r);
    o->raw = rt->socket && tw_stream_raw(r);
    *engine = o->raw ? rt->socket : rt->thread;
    if (tw_engine_full(*engine)) {
        apr_table_setn(r->err_headers_out, "Retry-After", "5");
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (o->raw) /* close-delimited (ap_set_keepalive then never chunks): raw frames fit */
        r->connection->keepalive = AP_CONN_CLOSE;
    if (r->header_only)
        return OK;
    st->bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    return DECLINED;
}

/* Has the hub its baseline (its first subscription)? Waits for it, up to the Redis timeout,
 * only while the child's first attempt to subscribe is under way (a child that just started);
 * once an attempt has failed it answers at once, so that streams asked for during an outage
 * hold no worker thread. */
static int tw_stream_ready(tw_runtime *rt, long timeout_ms)
{
    tw_store_health h;
    tw_store_health_get(rt->store, &h);
    apr_interval_time_t wait = h.error[0] ? 0 : apr_time_from_msec(timeout_ms);
    return tw_hub_wait_ready(rt->hub, wait, tw_child_stop_fd());
}

/* Join the hub once it has its baseline (from then on the ring misses no post), before the
 * first byte and before replaying: a post the client could know of after seeing the stream
 * begin is newer than the join, so the ring has it; whatever was stored before is the
 * replay's; the engines skip what both deliver (tw_frame_due). A child that has lost Redis
 * (for three timeouts, or since it started) refuses with 503; one that is not subscribed yet
 * sends the retry: line and ends the stream. Returns DECLINED to go on (o->next set), else
 * what the handler returns. */
static int tw_stream_join(tw_stream *st, tw_srv_conf *c, tw_outlet *o)
{
    request_rec *r = st->r;
    tw_runtime *rt = c->rt;
    int ready = tw_stream_ready(rt, c->feed.timeout_ms);
    o->fd = tw_stream_fd(r);
    if (!tw_hub_admit(rt->hub, &o->next)) {
        /* Before any byte: a balancer may send the retry to an instance that has Redis. */
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "TW0510: refusing a stream: this server has lost Redis");
        apr_table_setn(r->err_headers_out, "Retry-After", "5");
        return HTTP_SERVICE_UNAVAILABLE;
    }
    tw_stream_control(st, NULL, (unsigned)c->retry_ms);
    if (tw_stream_flush(st) != APR_SUCCESS)
        return OK;
    if (!ready) {
        tw_store_health h;
        tw_store_health_get(rt->store, &h);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "TW0502: live updates from the %s store are not available yet (%s); the "
                      "client will retry",
                      tw_store_name(rt->store), h.error[0] ? h.error : "not subscribed yet");
        return OK;
    }
    return DECLINED;
}

int tw_handle_stream(request_rec *r, tw_srv_conf *c)
{
    tw_runtime *rt = c->rt;
    tw_stream st = {.r = r,
                    .max_resume = c->max_resume,
                    .retry_ms = c->retry_ms,
                    .jitter_ms = c->retry_jitter_ms};
    tw_outlet o = {.fd = -1,
                   .retry_ms = (unsigned)c->retry_ms,
                   .retry_jitter_ms = (unsigned)c->retry_jitter_ms};
    tw_engine *engine = NULL;
    int resume = 0, rc;
    if ((rc = tw_stream_start(&st, c, &o, &resume, &engine)) != DECLINED ||
        (rc = tw_stream_join(&st, c, &o)) != DECLINED)
        return rc;
    int from_ring = resume ? tw_stream_ring_resume(&st, rt, &o) : 0;
    if (from_ring < 0)
        return OK;
    tw_buf_init(&st.replay, r->pool, resume && !from_ring ? 4096 : 1);
    if (resume && !from_ring && !tw_stream_replay(&st, rt))
        return OK;
    o.pending = st.replay.data;
    o.pending_len = st.replay.len;
    tw_writer w = {.write = tw_stream_write,
                   .flush = tw_stream_writer_flush,
                   .stopping = tw_stream_stopping,
                   .ctx = &st};
    o.writer = &w;
    o.after = st.last;
    tw_stream_follow(&st, rt, engine, &o);
    return OK;
}
