#include "tw_feedcache.h"

#include <apr_thread_mutex.h>

struct tw_feedcache {
    apr_thread_mutex_t *lock;
    apr_interval_time_t ttl;
    /* Guarded by lock. */
    tw_blob *html; /* NULL until the first rendering */
    uint64_t gen;
    uint32_t posted;
    apr_time_t made;
};

static apr_status_t tw_feedcache_cleanup(void *data)
{
    tw_feedcache *fc = data;
    tw_blob_release(fc->html);
    fc->html = NULL;
    return APR_SUCCESS;
}

apr_status_t tw_feedcache_create(apr_pool_t *p, apr_interval_time_t ttl, tw_feedcache **out)
{
    tw_feedcache *fc = apr_pcalloc(p, sizeof(*fc));
    fc->ttl = ttl;
    apr_status_t rv = apr_thread_mutex_create(&fc->lock, APR_THREAD_MUTEX_DEFAULT, p);
    if (rv != APR_SUCCESS)
        return rv;
    apr_pool_cleanup_register(p, fc, tw_feedcache_cleanup, apr_pool_cleanup_null);
    *out = fc;
    return APR_SUCCESS;
}

tw_blob *tw_feedcache_get(tw_feedcache *fc, uint64_t gen, uint32_t posted, apr_time_t now)
{
    tw_blob *b = NULL;
    apr_thread_mutex_lock(fc->lock);
    if (fc->html && gen && fc->gen == gen && fc->posted == posted && now - fc->made < fc->ttl)
        b = tw_blob_ref(fc->html);
    apr_thread_mutex_unlock(fc->lock);
    return b;
}

void tw_feedcache_put(tw_feedcache *fc, tw_blob *html, uint64_t gen, uint32_t posted,
                      apr_time_t made)
{
    tw_blob *old = NULL;
    apr_thread_mutex_lock(fc->lock);
    if (!fc->html || gen > fc->gen || (gen == fc->gen && made > fc->made)) {
        old = fc->html;
        fc->html = tw_blob_ref(html);
        fc->gen = gen;
        fc->posted = posted;
        fc->made = made;
    }
    apr_thread_mutex_unlock(fc->lock);
    tw_blob_release(old);
}
