#include "tw_thread.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

typedef struct tw_thread_start_args {
    void (*fn)(void *arg);
    void *arg;
    int done;
    char name[16];
} tw_thread_start_args;

/* Write 1 to an eventfd, retrying on EINTR. Async-signal-safe. */
static void tw_eventfd_add(int fd)
{
    uint64_t one = 1;
    while (write(fd, &one, sizeof(one)) < 0 && errno == EINTR)
        ;
}

/* Reset an eventfd to zero (it is non-blocking). */
static void tw_eventfd_empty(int fd)
{
    uint64_t n;
    while (read(fd, &n, sizeof(n)) < 0 && errno == EINTR)
        ;
}

/* The thread's first and last frame: run the function, then say so. `done` is copied out
 * before the function runs, so after it returns nothing of the component is touched. */
static void *tw_thread_main(void *data)
{
    tw_thread_start_args a = *(tw_thread_start_args *)data;
    free(data);
    pthread_setname_np(pthread_self(), a.name);
    a.fn(a.arg);
    tw_eventfd_add(a.done);
    return NULL;
}

apr_status_t tw_thread_init(tw_thread *t)
{
    atomic_init(&t->state, TW_RUN);
    t->started = 0;
    t->bell = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (t->bell < 0)
        return APR_FROM_OS_ERROR(errno);
    t->done = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (t->done < 0) {
        apr_status_t rv = APR_FROM_OS_ERROR(errno);
        close(t->bell);
        return rv;
    }
    return APR_SUCCESS;
}

apr_status_t tw_thread_start(tw_thread *t, const char *name, void (*fn)(void *arg), void *arg)
{
    tw_thread_start_args *a = malloc(sizeof(*a));
    if (!a)
        return APR_ENOMEM;
    a->fn = fn;
    a->arg = arg;
    a->done = t->done;
    snprintf(a->name, sizeof(a->name), "%s", name);
    pthread_attr_t attr;
    sigset_t all, old;
    sigfillset(&all);
    int err = pthread_attr_init(&attr);
    if (!err)
        err = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (!err) {
        /* The new thread inherits this mask: it never runs a process signal's handler. */
        pthread_sigmask(SIG_SETMASK, &all, &old);
        pthread_t tid;
        err = pthread_create(&tid, &attr, tw_thread_main, a);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    pthread_attr_destroy(&attr);
    if (err) {
        free(a);
        return APR_FROM_OS_ERROR(err);
    }
    t->started = 1;
    return APR_SUCCESS;
}

tw_state tw_thread_state(tw_thread *t)
{
    return (tw_state)atomic_load(&t->state);
}

void tw_thread_advance(tw_thread *t, tw_state to)
{
    int cur = atomic_load(&t->state);
    while (cur < (int)to && !atomic_compare_exchange_weak(&t->state, &cur, (int)to))
        ;
    tw_eventfd_add(t->bell);
}

void tw_thread_wake(tw_thread *t)
{
    tw_eventfd_add(t->bell);
}

int tw_thread_bell_fd(const tw_thread *t)
{
    return t->bell;
}

void tw_thread_quiet(tw_thread *t)
{
    tw_eventfd_empty(t->bell);
}

tw_state tw_thread_pause(tw_thread *t, apr_interval_time_t timeout)
{
    struct pollfd pfd = {.fd = t->bell, .events = POLLIN};
    if (tw_thread_state(t) == TW_RUN) {
        int ms = timeout <= 0 ? 0 : (int)((timeout + 999) / 1000);
        if (poll(&pfd, 1, ms) > 0)
            tw_thread_quiet(t);
    }
    return tw_thread_state(t);
}

apr_interval_time_t tw_thread_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (apr_interval_time_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int tw_thread_wait(tw_thread *t, apr_interval_time_t timeout)
{
    if (!t->started)
        return 1;
    apr_interval_time_t end = tw_thread_clock() + timeout;
    struct pollfd pfd = {.fd = t->done, .events = POLLIN};
    for (;;) {
        apr_interval_time_t left = end - tw_thread_clock();
        int r = poll(&pfd, 1, left > 0 ? (int)((left + 999) / 1000) : 0);
        if (r > 0) {
            /* Reading it back (and writing it again for the next caller) orders everything the
             * thread did before it with what the caller does next. */
            tw_eventfd_empty(t->done);
            tw_eventfd_add(t->done);
            return 1;
        }
        if (r == 0 || (r < 0 && errno != EINTR))
            return 0;
    }
}

void tw_thread_destroy(tw_thread *t)
{
    close(t->bell);
    close(t->done);
    t->bell = t->done = -1;
}
