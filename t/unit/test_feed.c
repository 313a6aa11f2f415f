/* Unit tests of src/tw_feed: a feed's settings start unset, merge field by field, take their
 * defaults, and give a key that tells two feeds apart exactly when a setting differs. */
#include "tap.h"
#include "tw_feed.h"

#include <apr_general.h>
#include <apr_strings.h>

static apr_pool_t *pool;

/* A feed with every field set to something other than its default. */
static tw_feed_conf full(void)
{
    tw_feed_conf f;
    tw_feed_unset(&f);
    f.redis_spec = "/run/redis.sock";
    f.redis = (tw_redis_addr){.path = "/run/redis.sock"};
    f.password = "pw";
    f.stream_key = "k";
    f.channel = "c";
    f.history = 50;
    f.timeout_ms = 500;
    f.keepalive_ms = 2000;
    f.min_replicas = 1;
    f.rate_user = (tw_rate){1, 1000, 1};
    f.rate_addr = (tw_rate){2, 1000, 2};
    f.delivery = TW_DELIVERY_THREAD;
    return f;
}

static void test_unset_and_defaults(void)
{
    tw_feed_conf f;
    tw_feed_unset(&f);
    ok(!f.redis_spec && !f.stream_key && !f.channel && !f.password, "unset: strings NULL");
    ok(f.history == -1 && f.timeout_ms == -1 && f.keepalive_ms == -1 && f.min_replicas == -1,
       "unset: numbers -1");
    ok(f.rate_user.count == -1 && f.rate_addr.count == -1 && f.delivery == TW_DELIVERY_UNSET,
       "unset: rate limits and delivery");
    tw_feed_defaults(&f);
    is_str(f.redis_spec, "127.0.0.1:6379", "default Redis");
    ok(f.redis.host && !strcmp(f.redis.host, "127.0.0.1") && f.redis.port == 6379,
       "and its address");
    is_str(f.stream_key, "tweetsse:feed", "default stream key");
    is_str(f.channel, "tweetsse:live", "default channel");
    ok(!f.password, "no password by default");
    ok(f.history == 1000 && f.timeout_ms == 3000 && f.keepalive_ms == 15000 && !f.min_replicas,
       "default numbers");
    ok(f.rate_user.count == 30 && f.rate_addr.count == 300, "default rate limits");
    is_int(f.delivery, TW_DELIVERY_SOCKET, "default delivery: socket");
    tw_feed_conf g = full(), h = full();
    tw_feed_defaults(&g);
    ok(!memcmp(&g, &h, sizeof(g)), "defaults leave set fields alone");
}

static void test_merge(void)
{
    tw_feed_conf base = full(), add, out;
    tw_feed_unset(&add);
    tw_feed_merge(&base, &add, &out);
    ok(!memcmp(&out, &base, sizeof(out)), "an unset server takes every field of its base");
    add.history = 77;
    add.redis_spec = "10.0.0.1:7000";
    add.redis = (tw_redis_addr){.host = "10.0.0.1", .port = 7000};
    add.rate_addr = (tw_rate){0, 0, 0};
    add.delivery = TW_DELIVERY_SOCKET;
    tw_feed_merge(&base, &add, &out);
    ok(out.history == 77 && out.rate_addr.count == 0 && out.delivery == TW_DELIVERY_SOCKET,
       "set fields win (a rate limit switched off too)");
    ok(out.redis.host && !strcmp(out.redis.host, "10.0.0.1") && out.redis.port == 7000 &&
           !out.redis.path,
       "the address goes with its spec");
    ok(!strcmp(out.stream_key, "k") && out.timeout_ms == 500 && out.rate_user.count == 1,
       "the others from the base");
    tw_feed_merge(&base, &add, &add);
    ok(add.history == 77 && !strcmp(add.channel, "c"), "out may be add");
}

/* Every field, changed alone, changes the key; equal settings give equal keys. */
static void test_key(void)
{
    tw_feed_conf a = full(), b = full();
    b.stream_key = apr_pstrdup(pool, "k"); /* equal text, another pointer */
    is_str(tw_feed_key(pool, &a), tw_feed_key(pool, &b), "equal settings, equal keys");
    const char *base = tw_feed_key(pool, &a);
    tw_feed_conf v[12];
    int n = 0;
    for (int i = 0; i < 12; i++)
        v[i] = full();
    v[n++].redis_spec = "/run/other.sock";
    v[n++].password = NULL;
    v[n++].stream_key = "k2";
    v[n++].channel = "c2";
    v[n++].history = 51;
    v[n++].timeout_ms = 501;
    v[n++].keepalive_ms = 2001;
    v[n++].min_replicas = 2;
    v[n++].rate_user.burst = 9;
    v[n++].rate_addr.period_ms = 9;
    v[n++].delivery = TW_DELIVERY_SOCKET;
    for (int i = 0; i < n; i++)
        ok(strcmp(tw_feed_key(pool, &v[i]), base) != 0, "field %d changes the key", i);
    tw_feed_conf x = full(), y = full();
    x.stream_key = "a|b";
    x.channel = "c";
    y.stream_key = "a";
    y.channel = "b|c";
    ok(strcmp(tw_feed_key(pool, &x), tw_feed_key(pool, &y)) != 0,
       "a separator inside a value cannot make two feeds one");
}

int main(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
    test_unset_and_defaults();
    test_merge();
    test_key();
    apr_pool_destroy(pool);
    apr_terminate();
    return done_testing();
}
