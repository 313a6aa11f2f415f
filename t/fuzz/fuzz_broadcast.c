/* fuzz_broadcast: tw_redis_parse_broadcast, the pub/sub announcement of a new post,
 * "<id> <prev> post <user> <tag>\n<msg>" (<prev> and <tag> may be "-"), as the subscriber
 * receives it (a length, no NUL after it).
 *
 * Input: the payload.
 *
 * Checks: the core agrees with a reference reading (the header up to the first LF is exactly
 * five non-empty words separated by single spaces: an id, "-" or a predecessor id, "post", the
 * user, "-" or the tag; the message is the rest) on accept/reject, id, predecessor, user, tag
 * and message; on success every part lies inside the payload, the user and tag hold no space
 * or LF, and the id formats to a canonical text that parses back to the same id. */
#include "fuzz_common.h"
#include "tw_store_redis_wire.h"

#include <inttypes.h>

/* The reference's split of the header [pl, nl) into words at single spaces: 1 with the five
 * words, 0 if there are not exactly five non-empty ones. */
static int ref_words(const char *pl, const char *nl, const char **w, size_t *len)
{
    int k = 0;
    const char *start = pl;
    for (const char *p = pl;; p++) {
        if (p == nl || *p == ' ') {
            if (p == start || k == 5)
                return 0;
            w[k] = start;
            len[k++] = (size_t)(p - start);
            if (p == nl)
                return k == 5;
            start = p + 1;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *pl = (const char *)data, *end = pl + size;
    tw_post post;
    memset(&post, 0, sizeof(post));
    int ok = tw_redis_parse_broadcast(pl, size, &post);

    /* The reference. */
    uint64_t ms = 0, seq = 0, pms = 0, pseq = 0;
    const char *nl = memchr(pl, '\n', size), *w[5];
    size_t len[5];
    int words = nl && ref_words(pl, nl, w, len);
    int noprev = words && len[1] == 1 && w[1][0] == '-';
    int want = words && ref_id(w[0], len[0], &ms, &seq) &&
               (noprev || ref_id(w[1], len[1], &pms, &pseq)) && len[2] == 4 &&
               !memcmp(w[2], "post", 4);
    FUZZ_CHECK(ok == want, "core says %d, reference %d", ok, want);
    if (!ok)
        return 0;
    FUZZ_CHECK(post.has_prev == !noprev, "predecessor %d, reference %d", post.has_prev, !noprev);
    FUZZ_CHECK(noprev || (post.prev.ms == pms && post.prev.seq == pseq), "predecessor id differs");
    int notag = len[4] == 1 && w[4][0] == '-';
    FUZZ_CHECK(post.user == w[3] && post.user_len == len[3],
               "user at %td (%zu bytes), reference "
               "%td (%zu bytes)",
               post.user - pl, post.user_len, w[3] - pl, len[3]);
    FUZZ_CHECK(notag ? post.tag_len == 0 : post.tag == w[4] && post.tag_len == len[4],
               "tag differs from the reference");
    FUZZ_CHECK(post.author_len == 0, "an announcement names no identity");
    FUZZ_CHECK(!memchr(post.user, ' ', post.user_len) && !memchr(post.user, '\n', post.user_len),
               "space or LF in the user");
    FUZZ_CHECK(post.msg == nl + 1 && post.msg + post.msg_len == end,
               "message at offset %td (%zu bytes), reference %td to the end", post.msg - pl,
               post.msg_len, nl + 1 - pl);
    FUZZ_CHECK(post.id.ms == ms && post.id.seq == seq,
               "id %" PRIu64 "-%" PRIu64 ", reference %" PRIu64 "-%" PRIu64, post.id.ms,
               post.id.seq, ms, seq);

    char text[TW_ID_MAX];
    size_t n = tw_id_format(post.id, text);
    tw_id back = {0, 0};
    FUZZ_CHECK(n > 0 && n < TW_ID_MAX && tw_id_parse(text, n, &back) &&
                   tw_id_cmp(back, post.id) == 0,
               "id '%s' does not parse back", text);
    return 0;
}
