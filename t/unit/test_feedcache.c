/* Unit tests of src/tw_feedcache: when the page's feed part may be served from memory. */
#include "tap.h"
#include "tw_feedcache.h"

#include <apr_general.h>

#define TTL apr_time_from_msec(1000)

static unsigned refs(tw_blob *b)
{
    return atomic_load(&b->refs);
}

int main(void)
{
    apr_initialize();
    apr_pool_t *p;
    apr_pool_create(&p, NULL);
    tw_feedcache *fc;
    ok(tw_feedcache_create(p, TTL, &fc) == APR_SUCCESS, "create");
    apr_time_t t = apr_time_from_sec(1000);
    ok(!tw_feedcache_get(fc, 1, 0, t), "empty at first");

    tw_blob *a = tw_blob_make("A", 1);
    tw_feedcache_put(fc, a, 5, 7, t);
    is_int(refs(a), 2, "the cache keeps its own reference");
    tw_blob *got = tw_feedcache_get(fc, 5, 7, t + TTL - 1);
    ok(got == a, "served for the same generation and post counter, within the ttl");
    is_int(refs(a), 3, "with a reference for the caller");
    tw_blob_release(got);
    ok(!tw_feedcache_get(fc, 6, 7, t), "not once the generation moved");
    ok(!tw_feedcache_get(fc, 5, 8, t), "not once the post counter moved");
    ok(!tw_feedcache_get(fc, 5, 7, t + TTL), "not once the ttl has passed");
    ok(!tw_feedcache_get(fc, 0, 7, t), "never for generation 0 (subscription down)");

    tw_blob *old = tw_blob_make("old", 3);
    tw_feedcache_put(fc, old, 4, 7, t + 5);
    ok(tw_feedcache_get(fc, 5, 7, t) == a, "an older generation does not replace a newer one");
    tw_blob_release(a);
    is_int(refs(old), 1, "and is not kept");

    tw_blob *b = tw_blob_make("B", 1);
    tw_feedcache_put(fc, b, 5, 7, t + 10);
    got = tw_feedcache_get(fc, 5, 7, t + 10);
    ok(got == b, "the same generation, made later, replaces it");
    tw_blob_release(got);
    is_int(refs(a), 1, "and the one replaced is released");
    tw_blob *stale = tw_blob_make("S", 1);
    tw_feedcache_put(fc, stale, 5, 7, t + 9);
    got = tw_feedcache_get(fc, 5, 7, t + 10);
    ok(got == b, "a rendering made earlier does not replace a later one");
    tw_blob_release(got);

    tw_blob_release(a);
    tw_blob_release(old);
    tw_blob_release(stale);
    apr_pool_destroy(p); /* releases the cache's reference to b */
    is_int(refs(b), 1, "destroying the pool releases the cached rendering");
    tw_blob_release(b);
    apr_terminate();
    return done_testing();
}
