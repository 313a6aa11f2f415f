/* Unit tests of src/tw_redis_wire: Redis replies built from raw RESP bytes by a hiredis reader
 * (as hiredis's own tests feed its parser), and announcements, turned into posts. */
#include "tap.h"
#include "tw_store_redis_wire.h"

#include <apr_general.h>
#include <apr_strings.h>
#include <hiredis/read.h>
#include <string.h>

static apr_pool_t *pool;

/* The reply object hiredis builds from `resp` (NULL if the bytes are not one whole reply). */
static redisReply *parse(const char *resp)
{
    redisReader *rd = redisReaderCreate();
    void *rep = NULL;
    if (redisReaderFeed(rd, resp, strlen(resp)) != REDIS_OK ||
        redisReaderGetReply(rd, &rep) != REDIS_OK)
        rep = NULL;
    redisReaderFree(rd);
    return rep;
}

static int entries(const char *resp, tw_post **posts, int *n, tw_redis_range *info)
{
    redisReply *rep = parse(resp);
    if (!rep)
        return -1;
    int r = tw_redis_wire_entries(pool, rep, posts, n, info);
    freeReplyObject(rep);
    return r;
}

static void test_entries(void)
{
    tw_post *p;
    int n;
    tw_redis_range info;
    const char *two = "*2\r\n"
                      "*2\r\n$3\r\n1-0\r\n*4\r\n$1\r\nu\r\n$3\r\nann\r\n$1\r\nm\r\n$5\r\nhello\r\n"
                      "*2\r\n$3\r\n2-5\r\n*4\r\n$1\r\nm\r\n$2\r\nhi\r\n$1\r\nu\r\n$3\r\nbob\r\n";
    is_int(entries(two, &p, &n, &info), 1, "an XRANGE reply of two entries");
    is_int(n, 2, "two posts");
    ok(p[0].id.ms == 1 && p[0].id.seq == 0 && p[1].id.ms == 2 && p[1].id.seq == 5, "their ids");
    ok(p[0].user_len == 3 && !memcmp(p[0].user, "ann", 3) && p[0].msg_len == 5 &&
           !memcmp(p[0].msg, "hello", 5),
       "user and message");
    is_str(p[1].user, "bob", "fields in any order");
    ok(info.raw == 2 && info.first.ms == 1 && info.last.ms == 2, "the range seen");

    const char *foreign = "*3\r\n"
                          "*2\r\n$3\r\n1-0\r\n*2\r\n$5\r\nother\r\n$1\r\nx\r\n"
                          "*2\r\n$3\r\n2-0\r\n*4\r\n$1\r\nu\r\n$1\r\na\r\n$1\r\nm\r\n$1\r\nb\r\n"
                          "*2\r\n$3\r\n3-0\r\n*2\r\n$1\r\nu\r\n$1\r\na\r\n";
    is_int(entries(foreign, &p, &n, &info), 1, "entries of other writers");
    is_int(n, 1, "are left out");
    ok(info.raw == 3 && info.first.ms == 1 && info.last.ms == 3, "but counted, first to last");

    static const char bin[] =
        "*1\r\n*2\r\n$3\r\n9-9\r\n*4\r\n$1\r\nu\r\n$1\r\nz\r\n$1\r\nm\r\n$3\r\na\0b\r\n";
    redisReply *rep = NULL;
    redisReader *rd = redisReaderCreate();
    redisReaderFeed(rd, bin, sizeof(bin) - 1);
    redisReaderGetReply(rd, (void **)&rep);
    redisReaderFree(rd);
    ok(rep && tw_redis_wire_entries(pool, rep, &p, &n, &info) == 1 && n == 1 && p[0].msg_len == 3 &&
           p[0].msg[1] == '\0',
       "binary-safe values keep their length");
    if (rep)
        freeReplyObject(rep);

    is_int(entries("*0\r\n", &p, &n, &info), 1, "an empty range");
    ok(n == 0 && info.raw == 0, "no posts");
    is_int(entries(":5\r\n", &p, &n, &info), 0, "not an array: malformed");
    is_int(entries("*1\r\n$3\r\n1-0\r\n", &p, &n, &info), 0, "an entry that is not a pair");
    is_int(entries("*1\r\n*2\r\n$3\r\nabc\r\n*0\r\n", &p, &n, &info), 0, "an id that is not one");
    is_int(entries("*1\r\n*2\r\n$3\r\n1-0\r\n$2\r\nno\r\n", &p, &n, &info), 0,
           "fields that are not an array");
    is_int(
        entries("*1\r\n*2\r\n$3\r\n1-0\r\n*3\r\n$1\r\nu\r\n$1\r\na\r\n$1\r\nm\r\n", &p, &n, &info),
        1, "an odd field list is read as far as it pairs");
    is_int(n, 0, "and gives no post without both fields");
}

static void test_message(void)
{
    const char *payload;
    size_t len;
    redisReply *m = parse("*3\r\n$7\r\nmessage\r\n$4\r\nlive\r\n$9\r\n1-0 ann\nx\r\n");
    ok(m && tw_redis_wire_message(m, "live", &payload, &len) == 1, "a message on our channel");
    ok(len == 9 && memcmp(payload, "1-0 ann\nx", 9) == 0, "its payload");
    ok(!tw_redis_wire_message(m, "other", &payload, &len), "not on another channel");
    ok(!tw_redis_wire_message(m, "liv", &payload, &len), "nor on a prefix of it");
    freeReplyObject(m);
    redisReply *sub = parse("*3\r\n$9\r\nsubscribe\r\n$4\r\nlive\r\n:1\r\n");
    ok(sub && !tw_redis_wire_message(sub, "live", &payload, &len),
       "a subscription confirmation is not a message");
    freeReplyObject(sub);
    redisReply *pong = parse("*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    ok(pong && !tw_redis_wire_message(pong, "live", &payload, &len), "nor is a pong");
    freeReplyObject(pong);
    redisReply *odd = parse("*3\r\n$7\r\nmessage\r\n$4\r\nlive\r\n:7\r\n");
    ok(odd && !tw_redis_wire_message(odd, "live", &payload, &len), "nor a non-string payload");
    freeReplyObject(odd);
}

static int bc(const char *s, size_t n, tw_event *e)
{
    return tw_redis_parse_broadcast(s, n, e);
}

static void test_broadcast(void)
{
    tw_event e;
    const char ok1[] = "1700000000000-3 - post ann c:vem2q2k7\nhello\nworld";
    ok(bc(ok1, sizeof(ok1) - 1, &e) && e.kind == TW_EVENT_POST, "an announcement of a post");
    ok(e.id.ms == 1700000000000ULL && e.id.seq == 3 && !tw_id_cmp(e.post.id, e.id), "its id");
    ok(e.post.user_len == 3 && !memcmp(e.post.user, "ann", 3), "its user");
    ok(e.post.author_len == 10 && !memcmp(e.post.author, "c:vem2q2k7", 10), "its author");
    ok(e.post.msg_len == 11 && !memcmp(e.post.msg, "hello\nworld", 11),
       "its message, newlines kept");
    ok(!e.has_prev, "no predecessor: -");
    const char ok2[] = "1700000000000-3 1699999999999-12 post ann -\nhi there";
    ok(bc(ok2, sizeof(ok2) - 1, &e) && e.has_prev, "an announcement that names its predecessor");
    ok(e.prev.ms == 1699999999999ULL && e.prev.seq == 12 && e.id.seq == 3, "both ids");
    ok(e.post.user_len == 3 && e.post.msg_len == 8, "the user and message");
    ok(e.post.author_len == 0, "no author: -");
    ok(bc("1-0 - post 12-4 -\nm", 20, &e) && e.post.user_len == 4,
       "a user name that reads as an id");
    ok(!bc("1-0 x-0 post ann -\nm", 21, &e), "a bad predecessor is malformed");
    ok(!bc("1-0 0-1 post  -\nm", 18, &e), "an empty user is malformed");
    ok(!bc("1-0 0-1 post a b c\nm", 21, &e), "a word too many is malformed");
    ok(!bc("1-0 0-1 post a\nm", 16, &e), "a missing author word is malformed");
    ok(!bc("1-0 0-1 like a -\nm", 19, &e), "an unknown kind is malformed");
    ok(!bc("1-0 0-1 post a - \nm", 19, &e), "a space before the newline is malformed");
    ok(bc("1-0 - post a -\n", 15, &e) && e.post.msg_len == 0, "an empty message is well-formed");
    ok(!bc("1-0 - post a -", 14, &e), "nor a missing newline");
    ok(!bc("1-0 -post a -\nm", 15, &e), "nor a missing space");
    ok(!bc("x-0 - post a -\nm", 16, &e), "nor a bad id");
    ok(!bc("", 0, &e), "nor nothing");
    const char nul[] = "1-0 - post a -\nb\0c";
    ok(bc(nul, sizeof(nul) - 1, &e) && e.post.msg_len == 3, "bytes after a NUL are kept");

    const char del[] = "5-0 4-0 delete 2-0 author\n";
    ok(bc(del, sizeof(del) - 1, &e) && e.kind == TW_EVENT_DELETE, "a deletion");
    ok(e.id.ms == 5 && e.target.ms == 2 && !e.by_moderator && e.has_prev && e.prev.ms == 4,
       "its id, its post, by the author, its predecessor");
    const char mod[] = "5-0 4-0 delete 2-0 moderator\n";
    ok(bc(mod, sizeof(mod) - 1, &e) && e.by_moderator, "a removal by a moderator");
    ok(!bc("5-0 4-0 delete 2-0 someone\n", 27, &e), "by neither: malformed");
    ok(!bc("5-0 4-0 delete two author\n", 26, &e), "a post that is no id: malformed");
    ok(!bc("5-0 4-0 delete 2-0 author\nx", 27, &e), "a deletion with a body: malformed");
    const char cnt[] = "6-0 5-0 count 2-0 17\n";
    ok(bc(cnt, sizeof(cnt) - 1, &e) && e.kind == TW_EVENT_COUNT && e.count == 17 &&
           e.target.ms == 2,
       "a count of likes");
    ok(bc("6-0 5-0 count 2-0 0\n", 20, &e) && e.count == 0, "a count of none");
    ok(!bc("6-0 5-0 count 2-0 -1\n", 21, &e), "a negative count: malformed");
    ok(!bc("6-0 5-0 count 2-0 1x\n", 21, &e), "a count that is not a number: malformed");
    ok(!bc("6-0 5-0 count 2-0 99999999999999999999\n", 39, &e), "a count too large: malformed");
}

/* Entries of events beside posts, read back as events; and the counts of likes of posts. */
static void test_events(void)
{
    const char *three =
        "*3\r\n"
        "*2\r\n$3\r\n1-0\r\n*6\r\n$1\r\nu\r\n$3\r\nann\r\n$1\r\nm\r\n$2\r\nhi\r\n$1\r\na\r\n$"
        "3\r\nc:x\r\n"
        "*2\r\n$3\r\n2-0\r\n*8\r\n$1\r\ne\r\n$6\r\ndelete\r\n$1\r\np\r\n$3\r\n1-0\r\n$2\r\nby\r\n"
        "$9\r\nmoderator\r\n$1\r\nw\r\n$3\r\nm:z\r\n"
        "*2\r\n$3\r\n3-0\r\n*6\r\n$1\r\ne\r\n$5\r\ncount\r\n$1\r\np\r\n$3\r\n1-0\r\n$1\r\nn\r\n"
        "$1\r\n4\r\n";
    redisReply *rep = parse(three);
    tw_event *ev;
    int n;
    tw_redis_range info;
    ok(rep && tw_redis_wire_events(pool, rep, &ev, &n, &info) == 1 && n == 3,
       "a post, a deletion, a count");
    ok(ev[0].kind == TW_EVENT_POST && ev[0].post.author_len == 3, "the post and its author");
    ok(ev[1].kind == TW_EVENT_DELETE && ev[1].by_moderator && ev[1].target.ms == 1,
       "the deletion by a moderator, of the post");
    ok(ev[2].kind == TW_EVENT_COUNT && ev[2].count == 4 && ev[2].target.ms == 1, "the count");
    tw_post *posts;
    ok(tw_redis_wire_entries(pool, rep, &posts, &n, &info) == 1 && n == 1 && posts[0].id.ms == 1 &&
           info.raw == 3,
       "as posts: the post alone, the events counted as seen");
    freeReplyObject(rep);
    rep = parse("*1\r\n*2\r\n$3\r\n2-0\r\n*4\r\n$1\r\ne\r\n$6\r\ndelete\r\n$1\r\np\r\n$1\r\nx\r\n");
    ok(rep && tw_redis_wire_events(pool, rep, &ev, &n, &info) == 1 && n == 0 && info.raw == 1,
       "an event that names no post is another writer's");
    freeReplyObject(rep);

    tw_post two[2] = {{.id = {1, 0}}, {.id = {2, 0}}};
    rep = parse("*2\r\n$1\r\n7\r\n$-1\r\n");
    ok(rep && tw_redis_wire_likes(rep, two, 2) && two[0].likes == 7 && two[1].likes == 0,
       "counts of likes: a number, nil for none");
    freeReplyObject(rep);
    rep = parse("*1\r\n$1\r\n7\r\n");
    ok(rep && !tw_redis_wire_likes(rep, two, 2), "fewer counts than posts: malformed");
    freeReplyObject(rep);
    rep = parse("*2\r\n$1\r\nx\r\n$1\r\n1\r\n");
    ok(rep && !tw_redis_wire_likes(rep, two, 2), "a count that is no number: malformed");
    freeReplyObject(rep);
}

static void test_stream_info(void)
{
    tw_redis_log st;
    redisReply *rep = parse("*18\r\n$6\r\nlength\r\n:1\r\n$15\r\nradix-tree-keys\r\n:1\r\n"
                            "$16\r\nradix-tree-nodes\r\n:2\r\n$17\r\nlast-generated-id\r\n"
                            "$15\r\n1796163877366-0\r\n$20\r\nmax-deleted-entry-id\r\n$3\r\n0-0\r\n"
                            "$13\r\nentries-added\r\n:2\r\n$23\r\nrecorded-first-entry-id\r\n"
                            "$15\r\n1796163877366-0\r\n$6\r\ngroups\r\n:0\r\n$11\r\nfirst-entry\r\n"
                            "*-1\r\n");
    ok(rep && tw_redis_wire_log_info(rep, &st), "an XINFO STREAM reply (Redis 7)");
    ok(st.length == 1 && st.entries_added == 2 && st.last_generated.ms == 1796163877366ULL &&
           st.last_generated.seq == 0,
       "its length, entries added and last generated id");
    freeReplyObject(rep);
    rep = parse("*4\r\n$6\r\nlength\r\n:0\r\n$17\r\nlast-generated-id\r\n$3\r\n5-1\r\n");
    ok(rep && tw_redis_wire_log_info(rep, &st) && st.entries_added == -1 && st.length == 0,
       "an older server without entries-added");
    freeReplyObject(rep);
    rep = parse("*2\r\n$6\r\nlength\r\n:0\r\n");
    ok(rep && !tw_redis_wire_log_info(rep, &st), "no last-generated-id: malformed");
    freeReplyObject(rep);
    rep = parse("*4\r\n$6\r\nlength\r\n:0\r\n$17\r\nlast-generated-id\r\n$3\r\nx-1\r\n");
    ok(rep && !tw_redis_wire_log_info(rep, &st), "a bad id: malformed");
    freeReplyObject(rep);
    rep = parse("*3\r\n$6\r\nlength\r\n:0\r\n$1\r\nx\r\n");
    ok(rep && !tw_redis_wire_log_info(rep, &st), "an odd number of elements: malformed");
    freeReplyObject(rep);
}

static int master_addr(const char *resp, tw_redis_node *out)
{
    redisReply *rep = parse(resp);
    if (!rep)
        return -1;
    int r = tw_redis_wire_master_addr(pool, rep, out);
    freeReplyObject(rep);
    return r;
}

static void test_master_addr(void)
{
    tw_redis_node n = {0};
    is_int(master_addr("*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6380\r\n", &n), 1, "master address");
    ok(n.host && !strcmp(n.host, "127.0.0.1") && n.port == 6380, "its host and port");
    is_int(master_addr("*2\r\n$3\r\n::1\r\n$5\r\n65535\r\n", &n), 1, "an IPv6 primary");
    is_int(master_addr("*-1\r\n", &n), 0, "nil: no such master");
    is_int(master_addr("$-1\r\n", &n), 0, "a nil bulk string");
    is_int(master_addr("-ERR unknown\r\n", &n), 0, "an error");
    is_int(master_addr("*1\r\n$1\r\nh\r\n", &n), 0, "one element");
    is_int(master_addr("*2\r\n$1\r\nh\r\n:6379\r\n", &n), 0, "a port that is an integer");
    is_int(master_addr("*2\r\n$1\r\nh\r\n$1\r\n0\r\n", &n), 0, "port 0");
    is_int(master_addr("*2\r\n$1\r\nh\r\n$5\r\n65536\r\n", &n), 0, "port 65536");
    is_int(master_addr("*2\r\n$1\r\nh\r\n$6\r\n006379\r\n", &n), 0, "six digits");
    is_int(master_addr("*2\r\n$0\r\n\r\n$4\r\n6379\r\n", &n), 0, "an empty host");
    is_int(master_addr("*2\r\n$3\r\na b\r\n$4\r\n6379\r\n", &n), 0, "a host with a space");
    char big[400], host[300];
    memset(host, 'h', 256);
    host[256] = '\0';
    snprintf(big, sizeof(big), "*2\r\n$256\r\n%s\r\n$4\r\n6379\r\n", host);
    is_int(master_addr(big, &n), 0, "a host of 256 characters");
    host[255] = '\0';
    snprintf(big, sizeof(big), "*2\r\n$255\r\n%s\r\n$4\r\n6379\r\n", host);
    is_int(master_addr(big, &n), 1, "a host of 255 characters");
}

static void test_role(void)
{
    redisReply *rep = parse("*3\r\n$6\r\nmaster\r\n:100\r\n*0\r\n");
    ok(rep && tw_redis_wire_role_master(rep), "ROLE of a primary");
    freeReplyObject(rep);
    rep = parse("*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:6379\r\n$9\r\nconnected\r\n:1\r\n");
    ok(rep && !tw_redis_wire_role_master(rep), "ROLE of a replica");
    freeReplyObject(rep);
    rep = parse("*2\r\n$8\r\nsentinel\r\n*0\r\n");
    ok(rep && !tw_redis_wire_role_master(rep), "ROLE of a sentinel");
    freeReplyObject(rep);
    rep = parse("$6\r\nmaster\r\n");
    ok(rep && !tw_redis_wire_role_master(rep), "not an array");
    freeReplyObject(rep);
}

static long role_replicas(const char *resp)
{
    redisReply *rep = parse(resp);
    long n = rep ? tw_redis_wire_role_replicas(rep) : -2;
    if (rep)
        freeReplyObject(rep);
    return n;
}

static void test_role_replicas(void)
{
    is_int(role_replicas("*3\r\n$6\r\nmaster\r\n:100\r\n*0\r\n"), 0, "a primary without replicas");
    is_int(role_replicas("*3\r\n$6\r\nmaster\r\n:100\r\n*2\r\n"
                         "*3\r\n$9\r\n127.0.0.1\r\n$4\r\n6380\r\n$3\r\n100\r\n"
                         "*3\r\n$9\r\n127.0.0.1\r\n$4\r\n6381\r\n$2\r\n90\r\n"),
           2, "a primary with two");
    is_int(
        role_replicas("*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:6379\r\n$9\r\nconnected\r\n:1\r\n"),
        -1, "a replica");
    is_int(role_replicas("*2\r\n$6\r\nmaster\r\n:100\r\n"), -1, "no list");
    is_int(role_replicas("*3\r\n$6\r\nmaster\r\n:100\r\n:2\r\n"), -1, "not a list");
}

static int sentinel_field(const char *resp, long *out)
{
    redisReply *rep = parse(resp);
    int found = rep && tw_redis_wire_sentinel_field(rep, "down-after-milliseconds", out);
    if (rep)
        freeReplyObject(rep);
    return found;
}

static void test_sentinel_field(void)
{
    long v = 0;
    is_int(sentinel_field("*4\r\n$4\r\nname\r\n$4\r\nfeed\r\n"
                          "$23\r\ndown-after-milliseconds\r\n$4\r\n1000\r\n",
                          &v),
           1, "SENTINEL MASTER's down-after-milliseconds");
    is_int(v, 1000, "its value");
    is_int(sentinel_field("*2\r\n$4\r\nname\r\n$4\r\nfeed\r\n", &v), 0, "missing");
    is_int(sentinel_field("*2\r\n$23\r\ndown-after-milliseconds\r\n$0\r\n\r\n", &v), 0, "empty");
    is_int(sentinel_field("*2\r\n$23\r\ndown-after-milliseconds\r\n$2\r\n-1\r\n", &v), 0,
           "negative");
    is_int(sentinel_field("*2\r\n$23\r\ndown-after-milliseconds\r\n$1\r\n0\r\n", &v), 0, "zero");
    is_int(sentinel_field("*2\r\n$23\r\ndown-after-milliseconds\r\n$3\r\n1x0\r\n", &v), 0,
           "not a number");
    is_int(sentinel_field("*2\r\n$23\r\ndown-after-milliseconds\r\n$20\r\n99999999999999999999\r\n",
                          &v),
           0, "too large");
    is_int(sentinel_field("*2\r\n$23\r\ndown-after-milliseconds\r\n:1000\r\n", &v), 0,
           "an integer reply");
    is_int(sentinel_field("$4\r\n1000\r\n", &v), 0, "not an array");
}

static int switch_master(const char *payload, tw_redis_node *to)
{
    return tw_redis_wire_switch_master(pool, payload, strlen(payload), "feed", to);
}

static void test_switch_master(void)
{
    tw_redis_node to = {0};
    is_int(switch_master("feed 127.0.0.1 6380 127.0.0.2 6381", &to), 1, "a switch of our master");
    ok(to.host && !strcmp(to.host, "127.0.0.2") && to.port == 6381, "to the new address");
    is_int(switch_master("feedx 127.0.0.1 6380 127.0.0.2 6381", &to), 0, "another master");
    is_int(switch_master("fee 127.0.0.1 6380 127.0.0.2 6381", &to), 0, "a prefix of ours");
    is_int(switch_master("feed 127.0.0.1 6380 127.0.0.2", &to), 0, "four fields");
    is_int(switch_master("feed 127.0.0.1 6380 127.0.0.2 6381 x", &to), 0, "six fields");
    is_int(switch_master("feed 127.0.0.1 6380 127.0.0.2 0", &to), 0, "port 0");
    is_int(switch_master("feed 127.0.0.1 x 127.0.0.2 6381", &to), 0, "an old port not a number");
    is_int(switch_master("feed  6380 127.0.0.2 6381", &to), 0, "an empty old host");
    is_int(switch_master("", &to), 0, "empty");
    char big[600], host[300];
    memset(host, 'h', 256);
    host[256] = '\0';
    snprintf(big, sizeof(big), "feed a 1 %s 2", host);
    is_int(switch_master(big, &to), 0, "a new host of 256 characters");
}

int main(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
    test_entries();
    test_message();
    test_broadcast();
    test_events();
    test_stream_info();
    test_master_addr();
    test_role();
    test_role_replicas();
    test_sentinel_field();
    test_switch_master();
    apr_pool_destroy(pool);
    apr_terminate();
    return done_testing();
}
