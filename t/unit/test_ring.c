/* Unit tests of src/tw_blob and src/tw_ring: shared frames, the ring of the newest frames, the
 * copy the socket engine keeps, and the two rules every engine follows (lag, due). */
#include "tap.h"
#include "tw_ring.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static tw_frame frame(uint64_t ms, const char *text)
{
    tw_frame f = {.bytes = tw_blob_make(text, strlen(text)), .id = {ms, 0}, .control = 0};
    return f;
}

static unsigned refs(const tw_blob *b)
{
    return atomic_load(&((tw_blob *)b)->refs);
}

static void test_blob(void)
{
    tw_blob *b = tw_blob_make("abc", 3);
    ok(b && b->len == 3 && memcmp(b->data, "abc", 3) == 0, "a blob holds a copy of its bytes");
    ok(b->data[3] == '\0', "and a NUL after them");
    is_int(refs(b), 1, "one reference: the maker's");
    ok(tw_blob_ref(b) == b, "ref returns the blob");
    is_int(refs(b), 2, "two references");
    tw_blob_release(b);
    is_int(refs(b), 1, "a release drops one");
    tw_blob_release(b); /* freed: ASan would report a leak otherwise, or a use after this */
    tw_blob_release(NULL);
    ok(1, "releasing NULL is harmless");
    tw_blob *empty = tw_blob_make(NULL, 0);
    ok(empty && empty->len == 0 && empty->data[0] == '\0', "an empty blob");
    tw_blob_release(empty);
}

static void *hammer(void *arg)
{
    tw_blob *b = arg;
    for (int i = 0; i < 100000; i++)
        tw_blob_release(tw_blob_ref(b));
    return NULL;
}

static void test_blob_threads(void)
{
    tw_blob *b = tw_blob_make("shared", 6);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, hammer, b);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    is_int(refs(b), 1, "400,000 refs and releases from 4 threads leave the count at 1");
    tw_blob_release(b);
}

static void test_ring_push(void)
{
    static tw_ring r;
    tw_ring_init(&r);
    is_int((long long)r.head, 0, "an empty ring starts at sequence 0");
    ok(!tw_ring_lagged(&r, 0), "a reader at the head is not behind");
    tw_frame first = frame(1, "one");
    tw_blob *b1 = first.bytes;
    tw_ring_push(&r, first);
    tw_ring_push(&r, frame(2, "two"));
    is_int((long long)r.head, 2, "two pushes");
    is_str(tw_ring_at(&r, 0)->bytes->data, "one", "frame 0");
    is_str(tw_ring_at(&r, 1)->bytes->data, "two", "frame 1");
    is_int(refs(b1), 1, "the ring holds the pushed reference, no more");
    tw_blob_ref(b1); /* someone else holds frame 0 too */
    for (uint64_t i = 2; i < TW_RING_SIZE + 1; i++)
        tw_ring_push(&r, frame(i + 1, "more"));
    is_int(refs(b1), 1, "overwriting frame 0 released the ring's reference only");
    tw_blob_release(b1);
    is_str(tw_ring_at(&r, TW_RING_SIZE)->bytes->data, "more", "frame SIZE sits where frame 0 was");
    ok(tw_ring_lagged(&r, 0), "a reader still at 0 lost a frame: it is behind");
    ok(!tw_ring_lagged(&r, 1), "a reader at 1 is exactly a ring behind: nothing lost yet");
    tw_ring_clear(&r);
    ok(r.slot[0].bytes == NULL, "clear releases every frame");
}

static void test_ring_sync(void)
{
    static tw_ring src, copy;
    tw_ring_init(&src);
    tw_ring_init(&copy);
    for (int i = 0; i < 3; i++)
        tw_ring_push(&src, frame((uint64_t)i + 1, "x"));
    is_int((long long)tw_ring_sync(&copy, &src), 3, "sync takes the three new frames");
    is_int((long long)copy.head, 3, "the copy's head follows");
    is_int(refs(tw_ring_at(&src, 0)->bytes), 2, "each frame is now held by both rings");
    is_int((long long)tw_ring_sync(&copy, &src), 0, "nothing new");
    for (int i = 0; i < TW_RING_SIZE + 10; i++)
        tw_ring_push(&src, frame((uint64_t)i + 10, "y"));
    uint64_t n = tw_ring_sync(&copy, &src);
    is_int((long long)n, TW_RING_SIZE + 10, "sync reports every frame the source got");
    is_int((long long)copy.head, (long long)src.head, "and the copy is at the source's head");
    int same = 1;
    for (uint64_t s = src.head - TW_RING_SIZE; s < src.head; s++)
        same &= tw_ring_at(&copy, s)->bytes == tw_ring_at(&src, s)->bytes;
    ok(same, "the copy holds the newest ring of frames, shared");
    tw_ring_clear(&src);
    is_int(refs(tw_ring_at(&copy, copy.head - 1)->bytes), 1, "the copy keeps its own references");
    tw_ring_clear(&copy);
}

static void test_due(void)
{
    tw_frame post = {.id = {5, 1}, .bytes = tw_blob_make("p", 1)};
    tw_frame control = {.id = {0, 0}, .control = 1, .bytes = tw_blob_make("c", 1)};
    ok(tw_frame_due(&post, (tw_id){5, 0}), "a post newer than the last one sent is due");
    ok(!tw_frame_due(&post, (tw_id){5, 1}), "the post last sent is not due again");
    ok(!tw_frame_due(&post, (tw_id){6, 0}), "an older post is not due (the replay sent it)");
    ok(tw_frame_due(&control, (tw_id){9, 9}), "a control frame is due whatever was sent");
    tw_blob_withdraw(post.bytes);
    ok(!tw_frame_due(&post, (tw_id){5, 0}),
       "a withdrawn post (deleted since) is not due to whoever has not got it");
    tw_blob_release(post.bytes);
    tw_blob_release(control.bytes);
}

int main(void)
{
    test_blob();
    test_blob_threads();
    test_ring_push();
    test_ring_sync();
    test_due();
    return done_testing();
}
