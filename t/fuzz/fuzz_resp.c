/* fuzz_resp: what the Redis store reads off the wire: RESP bytes (as a server, or anyone able
 * to speak for it, could send) parsed by a hiredis reader into replies, then turned into posts
 * and events by tw_redis_wire_entries and tw_redis_wire_events (XRANGE/XREVRANGE replies), and
 * recognised by tw_redis_wire_message
 * (pub/sub messages, whose payload then goes to tw_redis_parse_broadcast and, as a sentinel's
 * +switch-master, to tw_redis_wire_switch_master), and the Sentinel replies: an address from
 * tw_redis_wire_master_addr, a primary from tw_redis_wire_role_master.
 *
 * Input: RESP bytes, possibly several replies; the first byte picks the channel name length.
 *
 * Checks: entries never yields more posts than the reply has entries; every post has a user,
 * a message and an author of the lengths given, copied NUL-terminated, and an id that
 * round-trips; the events of the same reply are its posts and deletions or counts; the
 * range's first and last ids are those of the reply's first and last entries, in order of the
 * reply. A message is recognised only as a three-element array "message", <our channel>,
 * <string>, and its payload is that string. An address a sentinel names has a host of 1..255
 * characters of a host name or address and a port 1..65535. */
#include "fuzz_common.h"
#include "tw_store_redis_wire.h"

#include <apr_general.h>
#include <hiredis/read.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    apr_initialize();
    return 0;
}

static void check_entries(apr_pool_t *p, const redisReply *rep)
{
    tw_post *posts = NULL;
    int n = -1;
    tw_redis_range info = {0};
    if (!tw_redis_wire_entries(p, rep, &posts, &n, &info))
        return;
    FUZZ_CHECK(rep->type == REDIS_REPLY_ARRAY, "entries accepted a reply that is no array");
    FUZZ_CHECK(n >= 0 && (size_t)n <= rep->elements, "%d posts from %zu entries", n, rep->elements);
    FUZZ_CHECK(info.raw == rep->elements, "raw %zu, elements %zu", info.raw, rep->elements);
    for (int i = 0; i < n; i++) {
        const tw_post *po = &posts[i];
        FUZZ_CHECK(po->user && po->msg && po->author, "post %d without user, message or author", i);
        FUZZ_CHECK(po->user[po->user_len] == '\0' && po->msg[po->msg_len] == '\0' &&
                       po->author[po->author_len] == '\0',
                   "post %d not NUL-terminated at its length", i);
        char text[TW_ID_MAX];
        size_t k = tw_id_format(po->id, text);
        tw_id back;
        FUZZ_CHECK(tw_id_parse(text, k, &back) && !tw_id_cmp(back, po->id),
                   "post %d id does not round-trip", i);
    }
    tw_event *ev = NULL;
    int ne = -1;
    tw_redis_range info2 = {0};
    FUZZ_CHECK(tw_redis_wire_events(p, rep, &ev, &ne, &info2) && ne >= n &&
                   (size_t)ne <= rep->elements,
               "events: %d from %zu entries, of which %d posts", ne, rep->elements, n);
    for (int i = 0, k = 0; i < ne; i++) {
        if (ev[i].kind == TW_EVENT_POST)
            FUZZ_CHECK(k < n && !tw_id_cmp(ev[i].id, posts[k++].id),
                       "the posts among the events are the posts");
        else
            FUZZ_CHECK(ev[i].kind == TW_EVENT_DELETE ||
                           (ev[i].kind == TW_EVENT_COUNT && ev[i].count >= 0),
                       "event %d of no kind", i);
    }
    if (rep->elements) {
        const redisReply *first = rep->element[0]->element[0];
        const redisReply *last = rep->element[rep->elements - 1]->element[0];
        tw_id a, b;
        FUZZ_CHECK(tw_id_parse(first->str, first->len, &a) && !tw_id_cmp(a, info.first),
                   "first id is not the first entry's");
        FUZZ_CHECK(tw_id_parse(last->str, last->len, &b) && !tw_id_cmp(b, info.last),
                   "last id is not the last entry's");
    }
}

static void check_message(const redisReply *rep, const char *channel)
{
    const char *payload = NULL;
    size_t len = 0;
    int is = tw_redis_wire_message(rep, channel, &payload, &len);
    int want = rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 &&
               rep->element[0]->type == REDIS_REPLY_STRING && rep->element[0]->len == 7 &&
               !memcmp(rep->element[0]->str, "message", 7) &&
               rep->element[1]->type == REDIS_REPLY_STRING &&
               rep->element[1]->len == strlen(channel) &&
               !memcmp(rep->element[1]->str, channel, rep->element[1]->len) &&
               rep->element[2]->type == REDIS_REPLY_STRING;
    FUZZ_CHECK(is == want, "message: core %d, reference %d", is, want);
    if (!is)
        return;
    FUZZ_CHECK(payload == rep->element[2]->str && len == rep->element[2]->len,
               "the payload is not the third element");
    tw_event ev;
    if (tw_redis_parse_broadcast(payload, len, &ev) && ev.kind == TW_EVENT_POST)
        FUZZ_CHECK(ev.post.user >= payload && ev.post.msg + ev.post.msg_len == payload + len,
                   "broadcast pointers outside the payload");
}

/* Is `h` a host the sentinel parsers may hand out? */
static int host_ok(const char *h)
{
    size_t n = strlen(h);
    return n >= 1 && n <= TW_REDIS_HOST_MAX &&
           strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:") == n;
}

static void check_sentinel(apr_pool_t *p, const redisReply *rep, const char *master)
{
    tw_redis_node n = {0};
    if (tw_redis_wire_master_addr(p, rep, &n)) {
        FUZZ_CHECK(rep->type == REDIS_REPLY_ARRAY && rep->elements == 2, "an address from no pair");
        FUZZ_CHECK(host_ok(n.host) && n.port >= 1 && n.port <= 65535, "a bad address %s:%d", n.host,
                   n.port);
    }
    if (tw_redis_wire_role_master(rep))
        FUZZ_CHECK(rep->type == REDIS_REPLY_ARRAY && rep->elements >= 1 &&
                       rep->element[0]->type == REDIS_REPLY_STRING && rep->element[0]->len == 6 &&
                       !memcmp(rep->element[0]->str, "master", 6),
                   "a primary from another reply");
    if (rep->type == REDIS_REPLY_STRING &&
        tw_redis_wire_switch_master(p, rep->str, rep->len, master, &n)) {
        size_t k = strlen(master);
        FUZZ_CHECK(rep->len > k && !memcmp(rep->str, master, k) && rep->str[k] == ' ',
                   "a switch of another master");
        FUZZ_CHECK(host_ok(n.host) && n.port >= 1 && n.port <= 65535, "a bad new address");
    }
}

/* Does the input announce an array or string of a million elements or more? hiredis 0.14's
 * reader allocates what a header announces before anything follows (a server could make any
 * client do that; its 1.x releases cap it), which only measures the allocator: skipped. */
static int announces_huge(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i + 7 < size; i++) {
        if (data[i] != '*' && data[i] != '$')
            continue;
        size_t d = i + 1;
        while (d < size && data[d] == '0')
            d++;
        size_t n = 0;
        while (d + n < size && data[d + n] >= '0' && data[d + n] <= '9')
            n++;
        if (n >= 7)
            return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (announces_huge(data, size))
        return 0;
    static const char channels[] = "tweetsse:live";
    size_t clen = size ? data[0] % sizeof(channels) : 0;
    char channel[sizeof(channels)];
    memcpy(channel, channels, clen);
    channel[clen] = '\0';
    apr_pool_t *p;
    FUZZ_CHECK(apr_pool_create(&p, NULL) == APR_SUCCESS, "no pool");
    redisReader *rd = redisReaderCreate();
    FUZZ_CHECK(rd != NULL, "no reader");
    if (size > 1 && redisReaderFeed(rd, (const char *)data + 1, size - 1) == REDIS_OK) {
        for (int replies = 0; replies < 64; replies++) {
            void *r = NULL;
            if (redisReaderGetReply(rd, &r) != REDIS_OK || !r)
                break;
            check_entries(p, r);
            check_message(r, channel);
            check_sentinel(p, r, "mymaster");
            freeReplyObject(r);
            apr_pool_clear(p);
        }
    }
    redisReaderFree(rd);
    apr_pool_destroy(p);
    return 0;
}
