/* tw_pump.c: the per-child delivery thread that writes hub frames to adopted sockets. */
#include "tw_pump.h"
#include "tw_private.h"

#include <apr_atomic.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define TW_PUMP_EVENTS 256        /* epoll events taken per wait */
#define TW_PUMP_IOV    64         /* frames per sendmsg */
#define TW_PUMP_TICK   1000       /* ms between keepalive and stall checks */
#define TW_PUMP_DRAIN  (64 << 10) /* bytes a client may send on an open stream before it is cut */

static const char tw_ping[] = ": ping\n\n";

/* How the pump is woken. It lives as long as the process (in a pool never destroyed) so that
 * a late notify from the hub never touches freed memory or a reused descriptor. */
typedef struct tw_bell {
    int fd;              /* eventfd */
    apr_uint32_t active; /* streams adopted and not yet closed: 0 means new posts need no wake */
} tw_bell;

/* One adopted stream. Owned by the pump thread once it has left the inbox. */
typedef struct tw_conn {
    int fd;
    apr_uint64_t next;      /* ring position of the next frame to write */
    size_t off;             /* bytes of frame `next` already written */
    tw_id after;            /* newest post id written (or the resume point) */
    apr_time_t idle_since;  /* last write of any bytes: keepalive, and progress when stuck */
    apr_time_t stuck_since; /* set when a write found the socket full: frames are pending and
                               only an EPOLLOUT edge resumes them; 0 when caught up to head */
    size_t rcvd;            /* bytes the client sent since the hand-over (discarded) */
    struct tw_conn *prev, *link;
} tw_conn;

struct tw_pump {
    server_rec *s;
    tw_hub *hub;
    apr_interval_time_t keepalive;
    apr_thread_t *thread;
    int ep; /* epoll set: the wake-up eventfd (data.ptr NULL) and every stream */
    tw_bell *bell;

    apr_uint32_t max;         /* streams this child may hold (open-files limit) */
    apr_uint32_t stopping;    /* atomic; graceful: close every stream, refuse new ones */
    apr_time_t warned;        /* last "too many streams" warning */
    apr_thread_mutex_t *lock; /* guards the fields up to the next comment */
    tw_conn *inbox;
    int stop; /* the thread must exit */

    /* Owned by the pump thread. */
    tw_frame *ring[TW_HUB_RING]; /* its own references to the hub's newest frames */
    apr_uint64_t head;           /* sequence number after the newest frame in `ring` */
    tw_conn *conns;              /* doubly linked through prev/link */
    unsigned nconns;
};

/* Wake the pump thread. */
static void tw_pump_ring(tw_bell *bell)
{
    uint64_t one = 1;
    while (write(bell->fd, &one, sizeof(one)) < 0 && errno == EINTR)
        ;
}

/* The hub's notify callback: a new frame. Without streams there is nobody to write to, and
 * the next adoption brings the pump's ring up to date anyway, so no wake-up (no context
 * switch per post on a child without streams). */
static void tw_pump_notify(void *ctx)
{
    tw_bell *bell = ctx;
    if (apr_atomic_read32(&bell->active))
        tw_pump_ring(bell);
}

/* Close a stream that is not (or no longer) watched, and free its record. */
static void tw_conn_discard(tw_pump *p, tw_conn *c)
{
    close(c->fd);
    apr_atomic_dec32(&p->bell->active);
    free(c);
}

/* Stop watching a stream, unlink it, close it and free its record. */
static void tw_conn_close(tw_pump *p, tw_conn *c)
{
    epoll_ctl(p->ep, EPOLL_CTL_DEL, c->fd, NULL);
    if (c->prev)
        c->prev->link = c->link;
    else
        p->conns = c->link;
    if (c->link)
        c->link->prev = c->prev;
    p->nconns--;
    tw_conn_discard(p, c);
}

/* Write every frame from c->next up to the pump's head that the client should get, as far
 * as the socket takes them. Returns 0 (done, or the socket is full and c->stuck_since is
 * set), or -1 if the stream must be closed (write error, or a ring behind). Cost: one
 * sendmsg per TW_PUMP_IOV frames. */
static int tw_conn_flush(tw_pump *p, tw_conn *c, apr_time_t now)
{
    while (c->next < p->head) {
        if (p->head - c->next > TW_HUB_RING) {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, p->s,
                         "TW0601: a client fell a ring of posts behind; closing its stream so "
                         "it resumes");
            return -1;
        }
        struct iovec iov[TW_PUMP_IOV];
        apr_uint64_t seqs[TW_PUMP_IOV];
        size_t n = 0;
        for (apr_uint64_t seq = c->next; seq < p->head && n < TW_PUMP_IOV; seq++) {
            const tw_frame *f = p->ring[seq % TW_HUB_RING];
            size_t skip = seq == c->next ? c->off : 0;
            if (!skip && !f->control && tw_id_cmp(f->id, c->after) <= 0) {
                if (n == 0)
                    c->next = seq + 1; /* already sent by the replay */
                continue;
            }
            iov[n].iov_base = (char *)f->data + skip;
            iov[n].iov_len = f->len - skip;
            seqs[n++] = seq;
        }
        if (n == 0)
            break;
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = n};
        ssize_t w = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (!c->stuck_since)
                    c->stuck_since = now; /* idle_since tells whether it still progresses */
                return 0;
            }
            return -1;
        }
        c->idle_since = now;
        for (size_t i = 0; i < n; i++) {
            const tw_frame *f = p->ring[seqs[i] % TW_HUB_RING];
            if ((size_t)w < iov[i].iov_len) {
                c->next = seqs[i];
                c->off = (f->len - iov[i].iov_len) + (size_t)w;
                break;
            }
            w -= (ssize_t)iov[i].iov_len;
            c->next = seqs[i] + 1;
            c->off = 0;
            if (!f->control)
                c->after = f->id;
        }
    }
    c->stuck_since = 0;
    return 0;
}

/* Read and discard what the client sent. Returns -1 once it has hung up, failed, or sent more
 * (since the hand-over) than a stream client has any reason to. */
static int tw_conn_drain(tw_conn *c)
{
    char buf[4096];
    while (c->rcvd < TW_PUMP_DRAIN) {
        ssize_t r = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (r > 0) {
            c->rcvd += (size_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
    }
    return -1;
}

/* Bring the pump's ring up to the hub's head. Returns 1 if there were new frames. */
static int tw_pump_sync(tw_pump *p)
{
    tw_frame *fresh[TW_HUB_RING];
    apr_uint64_t from = p->head;
    apr_uint64_t head = tw_hub_collect(p->hub, from, fresh);
    if (head - from > TW_HUB_RING)
        from = head - TW_HUB_RING;
    for (apr_uint64_t seq = from; seq < head; seq++) {
        tw_frame **slot = &p->ring[seq % TW_HUB_RING];
        tw_frame_release(*slot);
        *slot = fresh[seq - from];
    }
    int moved = head != p->head;
    p->head = head;
    return moved;
}

/* Keepalive and stall checks, once a tick: a stream with frames pending whose socket has
 * taken no byte for a keepalive interval is closed (a slow reader that still takes bytes is
 * not); an idle one gets a ping. O(streams). */
static void tw_pump_tick(tw_pump *p, apr_time_t now)
{
    for (tw_conn *c = p->conns, *link; c; c = link) {
        link = c->link;
        if (c->stuck_since) {
            apr_time_t since = c->idle_since > c->stuck_since ? c->idle_since : c->stuck_since;
            if (now - since >= p->keepalive) {
                ap_log_error(APLOG_MARK, APLOG_INFO, 0, p->s,
                             "TW0602: a client has taken nothing for %" APR_TIME_T_FMT
                             " ms; closing its stream so it resumes",
                             apr_time_as_msec(now - since));
                tw_conn_close(p, c);
            }
            continue;
        }
        if (now - c->idle_since < p->keepalive || c->next != p->head || c->off)
            continue;
        ssize_t w = send(c->fd, tw_ping, sizeof(tw_ping) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w == (ssize_t)sizeof(tw_ping) - 1)
            c->idle_since = now;
        else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            c->stuck_since = now;
        else
            tw_conn_close(p, c); /* failed, or a partial ping on a socket that is full */
    }
}

/* Watch the streams handed over since the last round. Returns 1 if there were any. */
static int tw_pump_take_inbox(tw_pump *p, apr_time_t now)
{
    apr_thread_mutex_lock(p->lock);
    tw_conn *in = p->inbox;
    p->inbox = NULL;
    apr_thread_mutex_unlock(p->lock);
    for (tw_conn *c = in, *link; c; c = link) {
        link = c->link;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                 .data.ptr = c};
        if (epoll_ctl(p->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
            ap_log_error(APLOG_MARK, APLOG_ERR, errno, p->s,
                         "TW0603: cannot watch a stream socket; closing it");
            tw_conn_discard(p, c);
            continue;
        }
        c->idle_since = now;
        c->prev = NULL;
        c->link = p->conns;
        if (p->conns)
            p->conns->prev = c;
        p->conns = c;
        p->nconns++;
    }
    return in != NULL;
}

/* Close every stream (graceful stop or exit). */
static void tw_pump_close_all(tw_pump *p)
{
    if (p->nconns)
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, p->s,
                     "TW0604: closing %u streams so their clients resume elsewhere", p->nconns);
    while (p->conns)
        tw_conn_close(p, p->conns);
}

/* The pump thread. Edge-triggered: a stream's socket is drained on every read event, and a
 * stream with frames pending (stuck_since set) is resumed only by its EPOLLOUT edge; all
 * others are brought up to the head on every wake-up from the hub or an adoption. */
static void *APR_THREAD_FUNC tw_pump_main(apr_thread_t *thread, void *data)
{
    tw_pump *p = data;
    struct epoll_event evs[TW_PUMP_EVENTS];
    apr_time_t next_tick = apr_time_now() + apr_time_from_msec(TW_PUMP_TICK);
    for (;;) {
        apr_time_t now = apr_time_now();
        int wait_ms = next_tick > now ? (int)apr_time_as_msec(next_tick - now) + 1 : 0;
        int n = epoll_wait(p->ep, evs, TW_PUMP_EVENTS, wait_ms);
        if (n < 0 && errno != EINTR) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, errno, p->s,
                         "TW0605: epoll_wait failed; closing this child's streams");
            apr_atomic_set32(&p->stopping, 1); /* streams now stay in their worker threads */
            tw_pump_take_inbox(p, now);
            tw_pump_close_all(p);
            break;
        }
        now = apr_time_now();
        int woken = 0;
        for (int i = 0; i < n; i++) {
            tw_conn *c = evs[i].data.ptr;
            if (!c) {
                uint64_t count;
                while (read(p->bell->fd, &count, sizeof(count)) < 0 && errno == EINTR)
                    ;
                woken = 1;
                continue;
            }
            if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
                /* Each descriptor appears once per wait, so no later event names `c`. */
                if (tw_conn_drain(c) != 0 || (evs[i].events & (EPOLLHUP | EPOLLERR))) {
                    tw_conn_close(p, c);
                    continue;
                }
            }
            if ((evs[i].events & EPOLLOUT) && c->stuck_since && tw_conn_flush(p, c, now) != 0)
                tw_conn_close(p, c);
        }
        if (woken) {
            apr_thread_mutex_lock(p->lock);
            int stop = p->stop;
            apr_thread_mutex_unlock(p->lock);
            int stopping = apr_atomic_read32(&p->stopping);
            if (stop)
                break;
            int fresh = tw_pump_take_inbox(p, now);
            if (stopping) {
                tw_pump_close_all(p);
                continue;
            }
            int moved = tw_pump_sync(p); /* after the inbox: every adopted position <= head */
            if (moved || fresh) {
                for (tw_conn *c = p->conns, *link; c; c = link) {
                    link = c->link;
                    if (!c->stuck_since && tw_conn_flush(p, c, now) != 0)
                        tw_conn_close(p, c);
                }
            }
        }
        if (now >= next_tick) {
            tw_pump_tick(p, now);
            next_tick = now + apr_time_from_msec(TW_PUMP_TICK);
        }
    }
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

/* Runs first when pchild is destroyed: stop and join the thread, then close every stream and
 * drop the ring's references. The lock is only tried for a while (see tw_hub_cleanup). */
static apr_status_t tw_pump_cleanup(void *data)
{
    tw_pump *p = data;
    apr_status_t trv;
    if (!tw_lock_within(p->lock, 1000))
        return APR_SUCCESS;
    p->stop = 1;
    apr_atomic_set32(&p->stopping, 1);
    tw_conn *in = p->inbox;
    p->inbox = NULL;
    apr_thread_mutex_unlock(p->lock);
    tw_pump_ring(p->bell);
    apr_thread_join(&trv, p->thread);
    tw_pump_close_all(p);
    for (tw_conn *c = in, *link; c; c = link) {
        link = c->link;
        tw_conn_discard(p, c);
    }
    for (int i = 0; i < TW_HUB_RING; i++) {
        tw_frame_release(p->ring[i]);
        p->ring[i] = NULL;
    }
    close(p->ep);
    return APR_SUCCESS;
}

apr_status_t tw_pump_start(apr_pool_t *pchild, server_rec *s, tw_hub *hub,
                           apr_interval_time_t keepalive, unsigned max_streams, tw_pump **out)
{
    tw_pump *p = apr_pcalloc(pchild, sizeof(*p));
    apr_pool_t *sync;
    apr_status_t rv;
    p->s = s;
    p->hub = hub;
    p->keepalive = keepalive;
    p->max = max_streams;
    /* As in the hub: the lock and the wake-up descriptor outlive pchild (see tw_hub_start). */
    if ((rv = apr_pool_create_unmanaged_ex(&sync, NULL, NULL)) != APR_SUCCESS ||
        (rv = apr_thread_mutex_create(&p->lock, APR_THREAD_MUTEX_DEFAULT, sync)) != APR_SUCCESS)
        return rv;
    p->bell = apr_pcalloc(sync, sizeof(*p->bell));
    if ((p->bell->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
        return errno;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if ((p->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
        epoll_ctl(p->ep, EPOLL_CTL_ADD, p->bell->fd, &ev) != 0)
        rv = errno;
    else
        rv = apr_thread_create(&p->thread, NULL, tw_pump_main, p, pchild);
    if (rv != APR_SUCCESS) {
        if (p->ep >= 0)
            close(p->ep);
        close(p->bell->fd);
        return rv;
    }
    apr_pool_pre_cleanup_register(pchild, p, tw_pump_cleanup);
    tw_hub_notify(hub, tw_pump_notify, p->bell);
    *out = p;
    return APR_SUCCESS;
}

apr_status_t tw_pump_adopt(tw_pump *p, int fd, apr_uint64_t next, tw_id after)
{
    tw_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return APR_ENOMEM;
    c->fd = fd;
    c->next = next;
    c->after = after;
    apr_atomic_inc32(&p->bell->active); /* before queueing: posts from now on wake the pump */
    apr_thread_mutex_lock(p->lock);
    int stopping = apr_atomic_read32(&p->stopping);
    if (!stopping) {
        c->link = p->inbox;
        p->inbox = c;
    }
    apr_thread_mutex_unlock(p->lock);
    if (stopping) {
        apr_atomic_dec32(&p->bell->active);
        free(c);
        return APR_EOF;
    }
    tw_pump_ring(p->bell);
    return APR_SUCCESS;
}

void tw_pump_stopping(tw_pump *p)
{
    /* No lock: under prefork this runs in a signal handler that may have interrupted the
     * thread inside tw_pump_adopt. An atomic store and a write(2) are safe there. */
    apr_atomic_set32(&p->stopping, 1);
    tw_pump_ring(p->bell);
}

int tw_pump_full(tw_pump *p)
{
    if (apr_atomic_read32(&p->bell->active) < p->max)
        return 0;
    apr_time_t now = apr_time_now();
    if (now - p->warned > apr_time_from_sec(60)) { /* racy, at worst a second warning */
        p->warned = now;
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, p->s,
                     "TW0606: this child holds %u streams, its limit (open files); refusing "
                     "new ones with 503 (raise the open-files limit or add children)",
                     p->max);
    }
    return 1;
}
