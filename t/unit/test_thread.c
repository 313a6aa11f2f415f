/* Unit tests of src/tw_thread: the stop model. The state only moves forward, a ring wakes the
 * thread, the thread runs with every signal blocked, a wait is bounded, and stopping and waiting
 * work from inside a signal handler, as prefork does them. */
#include "tap.h"
#include "tw_thread.h"

#include <apr_general.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

typedef struct worker {
    tw_thread t;
    atomic_int woken;      /* rings seen while running */
    atomic_int saw_drain;  /* the thread saw TW_STOPPING before TW_EXIT */
    atomic_int all_masked; /* every signal was blocked in the thread */
    atomic_int release;    /* for the stuck worker: may it return? */
    char name[16];         /* the thread's name, as the thread saw it */
} worker;

/* Waits on its bell until told to exit, counting wake-ups. */
static void worker_main(void *arg)
{
    worker *w = arg;
    sigset_t mask;
    pthread_sigmask(SIG_BLOCK, NULL, &mask);
    pthread_getname_np(pthread_self(), w->name, sizeof(w->name));
    atomic_store(&w->all_masked, sigismember(&mask, SIGTERM) && sigismember(&mask, SIGUSR1) &&
                                     sigismember(&mask, SIGHUP) && sigismember(&mask, SIGINT));
    for (;;) {
        tw_state st = tw_thread_pause(&w->t, apr_time_from_sec(30));
        if (st == TW_EXIT)
            return;
        if (st == TW_STOPPING)
            atomic_store(&w->saw_drain, 1);
        atomic_fetch_add(&w->woken, 1);
        /* A drained worker keeps running until told to exit; pause returns at once then, so
         * wait on the bell itself. */
        if (st == TW_STOPPING) {
            struct pollfd pfd = {.fd = tw_thread_bell_fd(&w->t), .events = POLLIN};
            poll(&pfd, 1, 30000);
            tw_thread_quiet(&w->t);
        }
    }
}

/* Ignores the state until `release` is set: a thread stuck in a long call. */
static void stuck_main(void *arg)
{
    worker *w = arg;
    while (!atomic_load(&w->release))
        poll(NULL, 0, 5);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int until_woken(worker *w, int n)
{
    long long end = now_ms() + 5000;
    while (atomic_load(&w->woken) < n && now_ms() < end)
        poll(NULL, 0, 1);
    return atomic_load(&w->woken) >= n;
}

static void test_states(void)
{
    static worker w;
    ok(tw_thread_init(&w.t) == APR_SUCCESS, "init");
    is_int(tw_thread_state(&w.t), TW_RUN, "a new thread runs");
    is_int(tw_thread_wait(&w.t, 0), 1, "a thread never started counts as ended");
    ok(tw_thread_start(&w.t, "tw-test", worker_main, &w) == APR_SUCCESS, "start");
    tw_thread_wake(&w.t);
    ok(until_woken(&w, 1), "a ring wakes the thread");
    is_int(tw_thread_state(&w.t), TW_RUN, "a ring does not change the state");
    tw_thread_advance(&w.t, TW_STOPPING);
    ok(until_woken(&w, 2) && atomic_load(&w.saw_drain), "the thread sees TW_STOPPING");
    tw_thread_advance(&w.t, TW_RUN);
    is_int(tw_thread_state(&w.t), TW_STOPPING, "the state never moves back");
    is_int(tw_thread_wait(&w.t, apr_time_from_msec(20)), 0, "not ended while stopping");
    tw_thread_advance(&w.t, TW_EXIT);
    long long t0 = now_ms();
    is_int(tw_thread_wait(&w.t, apr_time_from_sec(5)), 1, "TW_EXIT ends it");
    ok(now_ms() - t0 < 4000, "at once, not at the end of its 30 s pause");
    is_int(tw_thread_wait(&w.t, 0), 1, "and a second wait says so again");
    ok(atomic_load(&w.all_masked), "the thread ran with every signal blocked");
    is_str(w.name, "tw-test", "under the name it was given");
    tw_thread_destroy(&w.t);
}

static void test_bounded_wait(void)
{
    static worker w;
    tw_thread_init(&w.t);
    tw_thread_start(&w.t, "tw-stuck", stuck_main, &w);
    tw_thread_advance(&w.t, TW_EXIT);
    long long t0 = now_ms();
    is_int(tw_thread_wait(&w.t, apr_time_from_msec(100)), 0,
           "a thread that does not return is waited for a bounded time");
    long long took = now_ms() - t0;
    ok(took >= 90 && took < 3000, "about the bound (%lld ms)", took);
    atomic_store(&w.release, 1);
    is_int(tw_thread_wait(&w.t, apr_time_from_sec(5)), 1, "and seen to end once it returns");
    tw_thread_destroy(&w.t);
}

/* The prefork case: SIGTERM's handler stops a component and waits for its thread, while the
 * interrupted thread is the one that would otherwise be needed. */
static worker handled;
static atomic_int handler_result = -1;
static void on_term(int sig)
{
    (void)sig;
    tw_thread_advance(&handled.t, TW_EXIT);
    atomic_store(&handler_result, tw_thread_wait(&handled.t, apr_time_from_sec(5)));
}

static void test_from_signal_handler(void)
{
    tw_thread_init(&handled.t);
    tw_thread_start(&handled.t, "tw-handled", worker_main, &handled);
    struct sigaction sa = {.sa_handler = on_term};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    /* Process-directed: with our thread blocking everything, only this thread can take it. */
    kill(getpid(), SIGTERM);
    long long end = now_ms() + 5000;
    while (atomic_load(&handler_result) < 0 && now_ms() < end)
        poll(NULL, 0, 1);
    is_int(atomic_load(&handler_result), 1,
           "stop and wait from a signal handler: the thread ended and the handler returned");
    signal(SIGTERM, SIG_DFL);
    tw_thread_destroy(&handled.t);
}

int main(void)
{
    apr_initialize();
    test_states();
    test_bounded_wait();
    test_from_signal_handler();
    apr_terminate();
    return done_testing();
}
