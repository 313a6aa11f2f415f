#include "tw_peers.h"

#include <apr_hash.h>
#include <apr_thread_mutex.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct tw_peers {
    apr_thread_mutex_t *lock; /* guards `by_addr` and every counter */
    apr_hash_t *by_addr;      /* address -> tw_peer; entries removed at 0 (the hash's own
                                 records are recycled, so it grows only with the peak) */
    tw_peer *uncapped;        /* what a stream without a cap releases: counted in total only */
    atomic_long total;        /* every stream held */
};

struct tw_peer {
    tw_peers *table;
    unsigned streams;
    char addr[]; /* the key */
};

apr_status_t tw_peers_create(apr_pool_t *p, tw_peers **out)
{
    tw_peers *t = apr_pcalloc(p, sizeof(*t));
    apr_status_t rv = apr_thread_mutex_create(&t->lock, APR_THREAD_MUTEX_DEFAULT, p);
    if (rv != APR_SUCCESS)
        return rv;
    t->by_addr = apr_hash_make(p);
    t->uncapped = apr_pcalloc(p, sizeof(*t->uncapped));
    t->uncapped->table = t;
    atomic_init(&t->total, 0);
    *out = t;
    return APR_SUCCESS;
}

tw_peer *tw_peers_acquire(tw_peers *t, const char *addr, unsigned max)
{
    if (!max) {
        atomic_fetch_add(&t->total, 1);
        return t->uncapped;
    }
    apr_thread_mutex_lock(t->lock);
    tw_peer *peer = apr_hash_get(t->by_addr, addr, APR_HASH_KEY_STRING);
    if (!peer) {
        size_t n = strlen(addr);
        if (max && (peer = malloc(sizeof(*peer) + n + 1))) {
            peer->table = t;
            peer->streams = 0;
            memcpy(peer->addr, addr, n + 1);
            apr_hash_set(t->by_addr, peer->addr, (apr_ssize_t)n, peer);
        }
    }
    if (peer && peer->streams < max)
        peer->streams++;
    else
        peer = NULL;
    apr_thread_mutex_unlock(t->lock);
    if (peer)
        atomic_fetch_add(&t->total, 1);
    return peer;
}

void tw_peers_release(tw_peer *peer)
{
    tw_peers *t = peer->table;
    atomic_fetch_sub(&t->total, 1);
    if (peer == t->uncapped)
        return;
    apr_thread_mutex_lock(t->lock);
    if (--peer->streams == 0) {
        apr_hash_set(t->by_addr, peer->addr, APR_HASH_KEY_STRING, NULL);
        free(peer);
    }
    apr_thread_mutex_unlock(t->lock);
}

long tw_peers_total(tw_peers *t)
{
    return atomic_load(&t->total);
}

unsigned tw_peers_count(tw_peers *t, const char *addr)
{
    apr_thread_mutex_lock(t->lock);
    const tw_peer *peer = apr_hash_get(t->by_addr, addr, APR_HASH_KEY_STRING);
    unsigned n = peer ? peer->streams : 0;
    apr_thread_mutex_unlock(t->lock);
    return n;
}
