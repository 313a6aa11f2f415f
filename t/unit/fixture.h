/* fixture.h: what the unit tests of the threaded core share: a log that keeps what it was told,
 * a renderer that makes small, recognisable SSE frames, a hub fed by an in-memory store, and
 * waits on descriptors with a deadline (tests wait on events, never on fixed sleeps). */
#ifndef FIXTURE_H
#define FIXTURE_H

#include "tw_hub.h"
#include "tw_store_mem.h"
#include "tw_sse.h"

#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FIXTURE_API static __attribute__((unused))

/* ---- a log that remembers ----------------------------------------------------------------- */

typedef struct fx_log {
    tw_log log;
    apr_thread_mutex_t *lock;
    char text[16384]; /* every message, one per line */
} fx_log;

FIXTURE_API void fx_log_print(void *baton, const char *file, int line, int level, apr_status_t rv,
                              const char *msg)
{
    fx_log *l = baton;
    (void)file, (void)line, (void)level, (void)rv;
    apr_thread_mutex_lock(l->lock);
    size_t n = strlen(l->text);
    snprintf(l->text + n, sizeof(l->text) - n, "%s\n", msg);
    apr_thread_mutex_unlock(l->lock);
}

FIXTURE_API void fx_log_init(fx_log *l, apr_pool_t *p)
{
    memset(l, 0, sizeof(*l));
    apr_thread_mutex_create(&l->lock, APR_THREAD_MUTEX_DEFAULT, p);
    l->log = (tw_log){.print = fx_log_print, .baton = l};
}

/* Does the log hold `needle`? */
FIXTURE_API int fx_log_has(fx_log *l, const char *needle)
{
    apr_thread_mutex_lock(l->lock);
    int has = strstr(l->text, needle) != NULL;
    apr_thread_mutex_unlock(l->lock);
    return has;
}

/* How many times the log holds `needle`. */
FIXTURE_API int fx_log_count(fx_log *l, const char *needle)
{
    int n = 0;
    apr_thread_mutex_lock(l->lock);
    for (const char *p = l->text; (p = strstr(p, needle)); p++)
        n++;
    apr_thread_mutex_unlock(l->lock);
    return n;
}

/* ---- a renderer: "id: <id>\nevent: post\ndata: <user>: <msg>\n\n", "event: delete" with
 * "data: <post>", "event: count" with "data: <post> <n>" ----------------------------------- */

FIXTURE_API tw_blob *fx_render_event(void *ctx, const tw_event *ev)
{
    apr_pool_t *p;
    (void)ctx;
    if (apr_pool_create_unmanaged_ex(&p, NULL, NULL) != APR_SUCCESS)
        return NULL;
    char id[TW_ID_MAX], target[TW_ID_MAX];
    tw_id_format(ev->id, id);
    tw_id_format(ev->target, target);
    const char *data = ev->kind == TW_EVENT_POST
                           ? apr_psprintf(p, "%.*s: %.*s", (int)ev->post.user_len, ev->post.user,
                                          (int)ev->post.msg_len, ev->post.msg)
                       : ev->kind == TW_EVENT_DELETE ? target
                                                     : apr_psprintf(p, "%s %ld", target, ev->count);
    static const char *const names[] = {"post", "delete", "count"};
    tw_buf b;
    tw_buf_init(&b, p, 64);
    tw_sse_event(&b, id, names[ev->kind], data, strlen(data));
    tw_blob *blob = tw_blob_make(b.data, b.len);
    apr_pool_destroy(p);
    return blob;
}

FIXTURE_API tw_blob *fx_render_reload(void *ctx)
{
    (void)ctx;
    static const char reload[] = "event: reload\ndata: \n\n";
    return tw_blob_make(reload, sizeof(reload) - 1);
}

FIXTURE_API tw_blob *fx_render_closing(void *ctx)
{
    (void)ctx;
    static const char closing[] = ": closing\n\n";
    return tw_blob_make(closing, sizeof(closing) - 1);
}

/* ---- a hub fed by a memory store ----------------------------------------------------------- */

typedef struct fx_feed {
    apr_pool_t *pool;
    fx_log log;
    tw_store *store;
    tw_hub *hub;
} fx_feed;

/* A memory store (history `history`) and a hub, subscribed unless `subscribe` is 0. */
FIXTURE_API int fx_feed_init(fx_feed *f, long history, int subscribe)
{
    tw_hub_renderer r = {
        .event = fx_render_event, .reload = fx_render_reload, .closing = fx_render_closing};
    if (apr_pool_create(&f->pool, NULL) != APR_SUCCESS)
        return 0;
    fx_log_init(&f->log, f->pool);
    if (tw_store_mem_create(f->pool, history, &f->store) != APR_SUCCESS ||
        tw_hub_create(f->pool, &r, &f->log.log, &f->hub) != APR_SUCCESS)
        return 0;
    return !subscribe || tw_store_subscribe(f->store, tw_hub_listener(f->hub)) == APR_SUCCESS;
}

/* Publish a post as `user`; returns its id (the zero id on failure). */
FIXTURE_API tw_id fx_post(fx_feed *f, const char *user, const char *msg)
{
    tw_publish in = {
        .post = {.user = user, .user_len = strlen(user), .msg = msg, .msg_len = strlen(msg)}};
    tw_publish_result res = {{0, 0}, 0, 0};
    const char *err = NULL;
    tw_store_publish(f->store, f->pool, &in, &res, &err);
    return res.id;
}

/* The text of the frame the fixture renders for a post with this id, user and message. */
FIXTURE_API const char *fx_frame(apr_pool_t *p, tw_id id, const char *user, const char *msg)
{
    char txt[TW_ID_MAX];
    tw_id_format(id, txt);
    return apr_psprintf(p, "id: %s\nevent: post\ndata: %s: %s\n\n", txt, user, msg);
}

/* ---- waiting with a deadline ------------------------------------------------------------- */

FIXTURE_API long long fx_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait up to `ms` for `events` on `fd`; returns the revents (0 on timeout). */
FIXTURE_API short fx_wait_fd(int fd, short events, int ms)
{
    struct pollfd pfd = {.fd = fd, .events = events};
    long long end = fx_now_ms() + ms;
    for (;;) {
        long long left = end - fx_now_ms();
        int n = poll(&pfd, 1, left > 0 ? (int)left : 0);
        if (n > 0)
            return pfd.revents;
        if (n == 0 || errno != EINTR)
            return 0;
    }
}

/* Read from `fd` into `buf` until it holds `want` bytes, the peer closes, or `ms` pass. Returns
 * the bytes read; *eof is set when the peer closed. */
FIXTURE_API size_t fx_read_until(int fd, char *buf, size_t cap, size_t want, int ms, int *eof)
{
    size_t n = 0;
    long long end = fx_now_ms() + ms;
    *eof = 0;
    while (n < want && n < cap) {
        long long left = end - fx_now_ms();
        if (left <= 0 || !(fx_wait_fd(fd, POLLIN, (int)left) & (POLLIN | POLLHUP)))
            break;
        ssize_t r = read(fd, buf + n, cap - n);
        if (r == 0) {
            *eof = 1;
            break;
        }
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            *eof = 1;
            break;
        }
        n += (size_t)r;
    }
    return n;
}

/* Poll `cond(arg)` until it holds or `ms` pass, for state that offers no descriptor to wait
 * on. Returns the last value. */
FIXTURE_API int fx_until(int (*cond)(void *), void *arg, int ms)
{
    long long end = fx_now_ms() + ms;
    int v;
    while (!(v = cond(arg)) && fx_now_ms() < end)
        poll(NULL, 0, 1);
    return v;
}

/* Wait until `cond(arg)` holds, re-checking whenever the eventfd `bell` is written (the code
 * under test writes it after each change), for at most `ms`. Returns 1 once it holds. */
FIXTURE_API int fx_until_bell(int bell, int (*cond)(void *), void *arg, int ms)
{
    long long end = fx_now_ms() + ms;
    for (;;) {
        if (cond(arg))
            return 1;
        long long left = end - fx_now_ms();
        if (left <= 0)
            return 0;
        uint64_t n;
        if (fx_wait_fd(bell, POLLIN, (int)left) & POLLIN && read(bell, &n, sizeof(n)) < 0)
            return cond(arg);
    }
}

#endif
