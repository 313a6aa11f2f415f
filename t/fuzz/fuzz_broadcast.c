/* fuzz_broadcast: tw_redis_parse_broadcast, the pub/sub announcement of an event of the log,
 * "<id> <prev> <kind> <a> <b>\n<body>" (<prev> may be "-"), as the subscriber receives it (a
 * length, no NUL after it): "post <user> <author>" (<author> may be "-") with the message as
 * the body, "delete <post id> author|moderator" and "count <post id> <n>" with an empty body.
 *
 * Input: the payload.
 *
 * Checks: the core agrees with a reference reading (the header up to the first LF is exactly
 * five non-empty words separated by single spaces: an id, "-" or a predecessor id, the kind and
 * its two words; a post's message is the rest) on accept/reject, id, predecessor, kind, user,
 * author, message, target and count; on success every part of a post lies inside the payload,
 * its user and author hold no space or LF, and the id formats to a canonical text that parses
 * back to the same id. */
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

static int ref_is(const char *w, size_t n, const char *lit)
{
    return n == strlen(lit) && !memcmp(w, lit, n);
}

/* A count: 1 to 18 decimal digits. */
static int ref_count(const char *w, size_t n, long *out)
{
    if (n == 0 || n > 18)
        return 0;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (w[i] < '0' || w[i] > '9')
            return 0;
        v = v * 10 + (w[i] - '0');
    }
    *out = v;
    return 1;
}

/* What the reference expects of a well-formed header: its kind (TW_EVENT_*) or -1. */
static int ref_kind(const char **w, const size_t *len, size_t body, uint64_t *tms, uint64_t *tseq,
                    long *count)
{
    if (ref_is(w[2], len[2], "post"))
        return TW_EVENT_POST;
    if (body || !ref_id(w[3], len[3], tms, tseq))
        return -1;
    if (ref_is(w[2], len[2], "delete") &&
        (ref_is(w[4], len[4], "author") || ref_is(w[4], len[4], "moderator")))
        return TW_EVENT_DELETE;
    if (ref_is(w[2], len[2], "count") && ref_count(w[4], len[4], count))
        return TW_EVENT_COUNT;
    return -1;
}

/* A post's parts, against the reference's words. */
static void check_post(const tw_event *ev, const char *pl, const char *nl, const char *end,
                       const char **w, const size_t *len)
{
    const tw_post *post = &ev->post;
    int noauthor = len[4] == 1 && w[4][0] == '-';
    FUZZ_CHECK(post->user == w[3] && post->user_len == len[3],
               "user at %td (%zu bytes), reference %td (%zu bytes)", post->user - pl,
               post->user_len, w[3] - pl, len[3]);
    FUZZ_CHECK(noauthor ? post->author_len == 0
                        : post->author == w[4] && post->author_len == len[4],
               "author differs from the reference");
    FUZZ_CHECK(!memchr(post->user, ' ', post->user_len) &&
                   !memchr(post->user, '\n', post->user_len),
               "space or LF in the user");
    FUZZ_CHECK(post->msg == nl + 1 && post->msg + post->msg_len == end,
               "message at offset %td (%zu bytes), reference %td to the end", post->msg - pl,
               post->msg_len, nl + 1 - pl);
    FUZZ_CHECK(!tw_id_cmp(post->id, ev->id), "the post's id is not the event's");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *pl = (const char *)data, *end = pl + size;
    tw_event ev;
    memset(&ev, 0, sizeof(ev));
    int ok = tw_redis_parse_broadcast(pl, size, &ev);

    /* The reference. */
    uint64_t ms = 0, seq = 0, pms = 0, pseq = 0, tms = 0, tseq = 0;
    long count = -1;
    const char *nl = memchr(pl, '\n', size), *w[5];
    size_t len[5];
    int words = nl && ref_words(pl, nl, w, len);
    int noprev = words && len[1] == 1 && w[1][0] == '-';
    int kind =
        words && ref_id(w[0], len[0], &ms, &seq) && (noprev || ref_id(w[1], len[1], &pms, &pseq))
            ? ref_kind(w, len, (size_t)(end - nl - 1), &tms, &tseq, &count)
            : -1;
    FUZZ_CHECK(ok == (kind >= 0), "core says %d, reference kind %d", ok, kind);
    if (!ok)
        return 0;
    FUZZ_CHECK((int)ev.kind == kind, "kind %d, reference %d", (int)ev.kind, kind);
    FUZZ_CHECK(ev.has_prev == !noprev, "predecessor %d, reference %d", ev.has_prev, !noprev);
    FUZZ_CHECK(noprev || (ev.prev.ms == pms && ev.prev.seq == pseq), "predecessor id differs");
    FUZZ_CHECK(ev.id.ms == ms && ev.id.seq == seq,
               "id %" PRIu64 "-%" PRIu64 ", reference %" PRIu64 "-%" PRIu64, ev.id.ms, ev.id.seq,
               ms, seq);
    if (kind == TW_EVENT_POST) {
        check_post(&ev, pl, nl, end, w, len);
    } else {
        FUZZ_CHECK(ev.target.ms == tms && ev.target.seq == tseq, "target differs");
        FUZZ_CHECK(kind != TW_EVENT_COUNT || ev.count == count, "count %ld, reference %ld",
                   ev.count, count);
        FUZZ_CHECK(kind != TW_EVENT_DELETE || ev.by_moderator == ref_is(w[4], len[4], "moderator"),
                   "by differs");
    }

    char text[TW_ID_MAX];
    size_t n = tw_id_format(ev.id, text);
    tw_id back = {0, 0};
    FUZZ_CHECK(n > 0 && n < TW_ID_MAX && tw_id_parse(text, n, &back) && tw_id_cmp(back, ev.id) == 0,
               "id '%s' does not parse back", text);
    return 0;
}
