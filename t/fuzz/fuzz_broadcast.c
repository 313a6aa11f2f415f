/* fuzz_broadcast: tw_redis_parse_broadcast, the pub/sub announcement of a new post,
 * "<id> <prev> <user>\n<msg>" or "<id> <user>\n<msg>", as the subscriber receives it (a length,
 * no NUL after it).
 *
 * Input: the payload.
 *
 * Checks: the core agrees with a reference reading (the id is everything before the first
 * space and follows the id grammar; up to the first LF, either a non-empty user without a
 * space, or a predecessor id, a space and such a user; the message is the rest) on
 * accept/reject, id, predecessor, user and message; on success the user and message lie
 * inside the payload, in order (id, space, [prev, space,] user, LF, message up to the end),
 * the user has no LF, and the id formats to a canonical text that parses back to the same
 * id. */
#include "fuzz_common.h"
#include "tw_store_redis_wire.h"

#include <inttypes.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *pl = (const char *)data, *end = pl + size;
    tw_post post;
    memset(&post, 0, sizeof(post));
    int ok = tw_redis_parse_broadcast(pl, size, &post);

    /* The reference. */
    uint64_t ms = 0, seq = 0, pms = 0, pseq = 0;
    const char *sp = memchr(pl, ' ', size);
    const char *nl = sp ? memchr(sp + 1, '\n', (size_t)(end - sp - 1)) : NULL;
    const char *sp2 = nl ? memchr(sp + 1, ' ', (size_t)(nl - sp - 1)) : NULL;
    const char *user = sp2 ? sp2 + 1 : sp ? sp + 1 : NULL;
    int want = sp && ref_id(pl, (size_t)(sp - pl), &ms, &seq) && nl && nl > user &&
               (!sp2 || (ref_id(sp + 1, (size_t)(sp2 - sp - 1), &pms, &pseq) &&
                         !memchr(user, ' ', (size_t)(nl - user))));
    FUZZ_CHECK(ok == want, "core says %d, reference %d", ok, want);
    if (!ok)
        return 0;
    FUZZ_CHECK(post.has_prev == (sp2 != NULL), "predecessor %d, reference %d", post.has_prev,
               sp2 != NULL);
    FUZZ_CHECK(!sp2 || (post.prev.ms == pms && post.prev.seq == pseq), "predecessor id differs");

    FUZZ_CHECK(post.user >= pl && post.user <= end && post.msg >= pl && post.msg <= end,
               "pointers outside the payload");
    FUZZ_CHECK(post.user_len <= (size_t)(end - post.user) &&
                   post.msg_len <= (size_t)(end - post.msg),
               "lengths run past the payload");
    FUZZ_CHECK(post.user_len >= 1, "empty user");
    FUZZ_CHECK(memchr(post.user, '\n', post.user_len) == NULL, "LF in the user");
    FUZZ_CHECK(post.user == user && post.user_len == (size_t)(nl - user),
               "user at offset %td (%zu bytes), reference %td (%td bytes)", post.user - pl,
               post.user_len, user - pl, nl - user);
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
