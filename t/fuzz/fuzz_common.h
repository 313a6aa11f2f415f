/* fuzz_common.h: what the fuzz targets share: the libFuzzer entry points, the check that
 * aborts on a broken invariant, buffers with a guard page behind them, and small reference
 * implementations (strict UTF-8, stream ids, decimal numbers) written independently of src/
 * so that the targets compare the core against a second opinion, not against itself.
 *
 * Every target is built twice: with clang -fsanitize=fuzzer (make fuzz) and with cc and
 * t/fuzz/replay.c as its main (make fuzz-replay). Header-only, all functions static. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define FUZZ_API static __attribute__((unused))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A broken invariant: say which, then abort so that libFuzzer (or the replay) reports the
 * input as a crash and keeps it. */
#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s: ", __FILE__, __LINE__, #cond);           \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A malloc'd NUL-terminated copy of the input (the input itself is not NUL-terminated). */
FUZZ_API char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    FUZZ_CHECK(s != NULL, "out of memory");
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* A buffer whose last byte sits right before an inaccessible page. APR and jansson are not
 * built with the sanitizers, so ASan does not see them read or write past a heap buffer;
 * the guard page turns such an access into a SEGV (reported as a crash). */
typedef struct fuzz_guard {
    char *base;
    size_t cap;
} fuzz_guard;

#define FUZZ_GUARD_CAP (1024 * 1024)

/* `n` bytes ending at the guard page, or NULL if `n` is larger than the guarded area. */
FUZZ_API char *fuzz_guard_tail(fuzz_guard *g, size_t n)
{
    if (!g->base) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        size_t cap = (FUZZ_GUARD_CAP + page - 1) / page * page;
        char *m =
            mmap(NULL, cap + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        FUZZ_CHECK(m != MAP_FAILED, "mmap");
        FUZZ_CHECK(mprotect(m + cap, page, PROT_NONE) == 0, "mprotect");
        g->base = m;
        g->cap = cap;
    }
    return n <= g->cap ? g->base + g->cap - n : NULL;
}

/* The first byte of an input chooses the max_chars limit of a post (the configured
 * TweetsseMaxMessageLength is 1..10000): 0x00-0x7F give 1..64, 0x80-0xEF the default 280,
 * 0xF0-0xFF the maximum 10000. */
FUZZ_API long fuzz_max_chars(uint8_t b)
{
    if (b >= 0xF0)
        return 10000;
    if (b >= 0x80)
        return 280;
    return 1 + (b & 0x3F);
}

/* ---- Reference implementations ---------------------------------------------------------- */

/* Strict UTF-8 after the Unicode standard's table of well-formed byte sequences (no
 * overlongs, no surrogates, nothing above U+10FFFF). Decodes the code point at s[0..n) into
 * *cp and returns its length, or 0 if the bytes there are not well-formed. */
FUZZ_API size_t ref_utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char b0 = s[0];
    if (b0 <= 0x7F) {
        *cp = b0;
        return 1;
    }
    /* Allowed range of the second byte, by the first; later bytes are always 80..BF. */
    unsigned char lo = 0x80, hi = 0xBF;
    size_t len;
    if (b0 >= 0xC2 && b0 <= 0xDF)
        len = 2;
    else if (b0 == 0xE0)
        len = 3, lo = 0xA0;
    else if ((b0 >= 0xE1 && b0 <= 0xEC) || b0 == 0xEE || b0 == 0xEF)
        len = 3;
    else if (b0 == 0xED)
        len = 3, hi = 0x9F;
    else if (b0 == 0xF0)
        len = 4, lo = 0x90;
    else if (b0 >= 0xF1 && b0 <= 0xF3)
        len = 4;
    else if (b0 == 0xF4)
        len = 4, hi = 0x8F;
    else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    uint32_t v = b0 & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
    for (size_t i = 1; i < len; i++)
        v = v << 6 | (s[i] & 0x3F);
    *cp = v;
    return len;
}

/* Code points in s[0..n), or -1 if it is not strict UTF-8. */
FUZZ_API long ref_utf8_count(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    long count = 0;
    uint32_t cp;
    while (n) {
        size_t len = ref_utf8_next(p, n, &cp);
        if (!len)
            return -1;
        p += len, n -= len, count++;
    }
    return count;
}

/* A decimal number of 1..20 digits that fits 64 bits (the id grammar of tw_id.h). */
FUZZ_API int ref_u64(const char *s, size_t n, uint64_t *out)
{
    if (n < 1 || n > 20)
        return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > UINT64_MAX / 10 || v * 10 > UINT64_MAX - d)
            return 0;
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

/* "<ms>-<seq>" exactly, as in tw_id_parse. */
FUZZ_API int ref_id(const char *s, size_t n, uint64_t *ms, uint64_t *seq)
{
    const char *dash = memchr(s, '-', n);
    if (!dash)
        return 0;
    size_t left = (size_t)(dash - s);
    return ref_u64(s, left, ms) && ref_u64(dash + 1, n - left - 1, seq);
}

FUZZ_API int ref_is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* The resume grammar of tw_id_parse_resume on a C string: 0 none, 1 id, -1 malformed. */
FUZZ_API int ref_resume(const char *s, uint64_t *ms, uint64_t *seq)
{
    size_t n = strlen(s);
    while (n && ref_is_blank(*s))
        s++, n--;
    while (n && ref_is_blank(s[n - 1]))
        n--;
    if (!n)
        return 0;
    return ref_id(s, n, ms, seq) ? 1 : -1;
}

FUZZ_API int ref_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode one urlencoded component s[0..n) ('+' is a space, %XX a byte) into out (room for n
 * bytes and a NUL). Returns the decoded length, or -1 for a '%' not followed by two hex
 * digits within the component, or a %00. */
FUZZ_API long ref_urldecode(const char *s, size_t n, char *out)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            out[w++] = ' ';
        } else if (s[i] != '%') {
            out[w++] = s[i];
        } else {
            int h = i + 2 < n ? ref_hex(s[i + 1]) : -1, l = i + 2 < n ? ref_hex(s[i + 2]) : -1;
            if (h < 0 || l < 0 || (h == 0 && l == 0))
                return -1;
            out[w++] = (char)(h << 4 | l);
            i += 2;
        }
    }
    out[w] = '\0';
    return (long)w;
}

/* A username per tw_text.h: 1..32 of [A-Za-z0-9_-]. */
/* Are `n` bytes, 1..max of them, all from [A-Za-z0-9_-]? */
FUZZ_API int ref_word_ok(const char *s, size_t n, size_t max)
{
    static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    if (n < 1 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\0' || !strchr(set, s[i]))
            return 0;
    return 1;
}

FUZZ_API int ref_username_ok(const char *s, size_t n)
{
    return ref_word_ok(s, n, 32);
}

/* An idempotency key: 1..64 characters of the same alphabet. */
FUZZ_API int ref_key_ok(const char *s, size_t n)
{
    return ref_word_ok(s, n, 64);
}

/* For a target that parses into an APR pool: defines `pool` and the LLVMFuzzerInitialize that
 * makes it (the target clears it after each input). */
#define FUZZ_APR_POOL()                                                                            \
    static apr_pool_t *pool;                                                                       \
    int LLVMFuzzerInitialize(int *argc, char ***argv)                                              \
    {                                                                                              \
        (void)argc;                                                                                \
        (void)argv;                                                                                \
        if (apr_initialize() != APR_SUCCESS || apr_pool_create(&pool, NULL) != APR_SUCCESS)        \
            abort();                                                                               \
        return 0;                                                                                  \
    }

#endif
