/* Unit tests of src/tw_peers: the per-address stream counters behind
 * TweetsseMaxStreamsPerAddress: the cap, addresses counted apart, release, the entry gone with
 * its last stream, and counting from several threads at once. */
#include "tap.h"
#include "tw_peers.h"

#include <apr_general.h>
#include <pthread.h>

static void test_cap(apr_pool_t *p)
{
    tw_peers *t;
    ok(tw_peers_create(p, &t) == APR_SUCCESS, "a table");
    tw_peer *a[3];
    for (int i = 0; i < 3; i++)
        a[i] = tw_peers_acquire(t, "192.0.2.1", 3);
    ok(a[0] && a[1] && a[2], "three streams under a cap of 3");
    ok(a[0] == a[1] && a[1] == a[2], "one counter per address");
    ok(!tw_peers_acquire(t, "192.0.2.1", 3), "the fourth is refused");
    is_int(tw_peers_count(t, "192.0.2.1"), 3, "and not counted");
    tw_peer *b = tw_peers_acquire(t, "2001:db8::1", 3);
    ok(b && b != a[0], "another address has its own counter");
    is_int(tw_peers_count(t, "2001:db8::1"), 1, "one stream there");
    ok(!tw_peers_acquire(t, "192.0.2.1", 2), "a lower cap refuses an address above it");
    tw_peers_release(a[2]);
    tw_peer *again = tw_peers_acquire(t, "192.0.2.1", 3);
    ok(again == a[0], "a released stream makes room for one more");
    tw_peers_release(again);
    tw_peers_release(a[1]);
    tw_peers_release(a[0]);
    is_int(tw_peers_count(t, "192.0.2.1"), 0, "every stream released: none counted");
    tw_peer *fresh = tw_peers_acquire(t, "192.0.2.1", 1);
    ok(fresh != NULL, "the address starts over with a new counter");
    ok(!tw_peers_acquire(t, "192.0.2.1", 1), "a cap of 1 allows one stream");
    tw_peers_release(fresh);
    tw_peers_release(b); /* every entry freed: ASan reports a leak otherwise */
}

/* The total, with and without a cap: the feed's readers in this process. */
static void test_total(apr_pool_t *p)
{
    tw_peers *t;
    tw_peers_create(p, &t);
    tw_peer *u1 = tw_peers_acquire(t, "192.0.2.9", 0), *u2 = tw_peers_acquire(t, "192.0.2.9", 0);
    ok(u1 && u2, "without a cap every stream is counted");
    is_int(tw_peers_count(t, "192.0.2.9"), 0, "but no address is kept");
    tw_peer *c = tw_peers_acquire(t, "192.0.2.10", 2);
    is_int(tw_peers_total(t), 3, "the total counts both kinds");
    ok(!tw_peers_acquire(t, "192.0.2.10", 1), "a refused stream");
    is_int(tw_peers_total(t), 3, "is not counted");
    tw_peers_release(u1);
    tw_peers_release(c);
    is_int(tw_peers_total(t), 1, "released ones leave the total");
    tw_peers_release(u2);
    is_int(tw_peers_total(t), 0, "back to none");
}

typedef struct hammer_arg {
    tw_peers *t;
    unsigned granted;
} hammer_arg;

static void *hammer(void *data)
{
    hammer_arg *h = data;
    for (int round = 0; round < 2000; round++) {
        tw_peer *got[4];
        int n = 0;
        for (int i = 0; i < 4; i++)
            if ((got[n] = tw_peers_acquire(h->t, "198.51.100.7", 6)))
                n++;
        h->granted += (unsigned)n;
        for (int i = 0; i < n; i++)
            tw_peers_release(got[i]);
    }
    return NULL;
}

static void test_threads(apr_pool_t *p)
{
    tw_peers *t;
    ok(tw_peers_create(p, &t) == APR_SUCCESS, "a table for four threads");
    pthread_t th[4];
    hammer_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (hammer_arg){.t = t};
        pthread_create(&th[i], NULL, hammer, &args[i]);
    }
    unsigned granted = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        granted += args[i].granted;
    }
    ok(granted >= 2000 * 4, "every thread got streams (%u)", granted);
    is_int(tw_peers_count(t, "198.51.100.7"), 0, "and the counts come back to 0");
}

int main(void)
{
    apr_initialize();
    apr_pool_t *p;
    apr_pool_create(&p, NULL);
    test_cap(p);
    test_total(p);
    test_threads(p);
    apr_pool_destroy(p);
    apr_terminate();
    return done_testing();
}
