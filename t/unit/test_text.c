/* Unit tests of src/tw_text: strict UTF-8, message normalisation and rules, usernames. */
#include "tap.h"
#include "tw_text.h"

#include <stdlib.h>
#include <string.h>

#define MAX 280

/* tw_utf8_count on an exactly sized heap copy, so ASan sees any read past n. */
static long count(const char *s, size_t n)
{
    char *copy = malloc(n ? n : 1);
    memcpy(copy, s, n);
    long r = tw_utf8_count(copy, n);
    free(copy);
    return r;
}

/* Run tw_text_check_message on a heap copy with room for the NUL only; *out gets the result
 * text (caller frees) and *outlen its length. */
static const char *check(const char *s, size_t n, long max, char **out, size_t *outlen)
{
    char *copy = malloc(n + 1);
    memcpy(copy, s, n);
    copy[n] = 'Z'; /* not a NUL: the function must write it */
    size_t len = n;
    const char *why = tw_text_check_message(copy, &len, max);
    if (out) {
        *out = copy;
        *outlen = len;
    } else {
        free(copy);
    }
    return why;
}

static const char *check_s(const char *s)
{
    return check(s, strlen(s), MAX, NULL, NULL);
}

/* `k` copies of `unit`, in one of two static buffers used in turn. */
static const char *repeat(const char *unit, int k)
{
    static char bufs[2][8192];
    static int turn;
    char *buf = bufs[turn++ % 2];
    size_t u = strlen(unit), n = 0;
    for (int i = 0; i < k && n + u < sizeof(bufs[0]); i++, n += u)
        memcpy(buf + n, unit, u);
    buf[n] = '\0';
    return buf;
}

static void test_utf8(void)
{
    is_int(count("", 0), 0, "utf8: empty");
    is_int(count("abc", 3), 3, "utf8: ASCII");
    is_int(count("caf\xc3\xa9", 5), 4, "utf8: 2-byte");
    is_int(count("\xe2\x82\xac", 3), 1, "utf8: 3-byte (euro)");
    is_int(count("\xf0\x9f\x98\x80", 4), 1, "utf8: 4-byte (emoji)");
    is_int(count("\xc2\x80", 2), 1, "utf8: smallest 2-byte U+0080");
    is_int(count("\xe0\xa0\x80", 3), 1, "utf8: smallest 3-byte U+0800");
    is_int(count("\xf0\x90\x80\x80", 4), 1, "utf8: smallest 4-byte U+10000");
    is_int(count("\xf4\x8f\xbf\xbf", 4), 1, "utf8: largest U+10FFFF");
    is_int(count("\xed\x9f\xbf\xee\x80\x80", 6), 2, "utf8: U+D7FF and U+E000 around surrogates");
    is_int(count("\xef\xbf\xbf", 3), 1, "utf8: U+FFFF");
    is_int(count("a\0b", 3), 3, "utf8: NUL is valid UTF-8 (counted)");

    is_int(count("\xc3\x28", 2), -1, "utf8: bad continuation (C3 28)");
    is_int(count("\xc0\xaf", 2), -1, "utf8: overlong '/' (C0 AF)");
    is_int(count("\xc1\xbf", 2), -1, "utf8: overlong (C1 BF)");
    is_int(count("\xe0\x80\xaf", 3), -1, "utf8: overlong 3-byte (E0 80 AF)");
    is_int(count("\xe0\x9f\xbf", 3), -1, "utf8: overlong 3-byte (E0 9F BF)");
    is_int(count("\xf0\x8f\xbf\xbf", 4), -1, "utf8: overlong 4-byte (F0 8F BF BF)");
    is_int(count("\xed\xa0\x80", 3), -1, "utf8: high surrogate U+D800");
    is_int(count("\xed\xbf\xbf", 3), -1, "utf8: low surrogate U+DFFF");
    is_int(count("\xf4\x90\x80\x80", 4), -1, "utf8: above U+10FFFF");
    is_int(count("\xf5\x80\x80\x80", 4), -1, "utf8: F5 lead byte");
    is_int(count("\xff", 1), -1, "utf8: FF byte");
    is_int(count("\x80", 1), -1, "utf8: lone continuation byte");
    is_int(count("ab\xe2\x82", 4), -1, "utf8: truncated 3-byte at the end");
    is_int(count("\xf0\x9f\x98", 3), -1, "utf8: truncated 4-byte at the end");
    is_int(count("\xe2\x82\xac", 2), -1, "utf8: only n bytes are read");
}

static void test_message(void)
{
    char *out;
    size_t len;
    const char *why;

    why = check("hello", 5, MAX, &out, &len);
    ok(!why && len == 5 && strcmp(out, "hello") == 0, "message: plain text accepted");
    free(out);

    why = check("a\r\nb\rc\nd\r\r\ne", 12, MAX, &out, &len);
    ok(!why, "message: mixed line endings accepted");
    is_str(out, "a\nb\nc\nd\n\ne", "message: CRLF and lone CR become LF");
    is_int((long long)len, 10, "message: length updated after normalisation");
    free(out);

    why = check(" \t\r\n  hi there \n\t \r\n", 20, MAX, &out, &len);
    ok(!why, "message: surrounding white space accepted");
    is_str(out, "hi there", "message: trimmed on both sides");
    is_int((long long)len, 8, "message: trimmed length");
    free(out);

    why = check("x\r", 2, MAX, &out, &len);
    ok(!why && len == 1 && strcmp(out, "x") == 0, "message: trailing lone CR trimmed");
    free(out);

    why = check("line1\nline2", 11, MAX, &out, &len);
    ok(!why && strcmp(out, "line1\nline2") == 0, "message: inner newline kept");
    free(out);

    ok(check_s("") != NULL, "message: empty rejected");
    ok(check_s(" \t\r\n \r\n") != NULL, "message: only white space rejected");
    ok(check_s("a\tb") != NULL, "message: inner tab is a control character");
    ok(check_s("a\x01z") != NULL, "message: U+0001 rejected");
    ok(check_s("a\x1b[31mred") != NULL, "message: ESC rejected");
    ok(check_s("a\x7f") != NULL, "message: DEL rejected");
    ok(check_s("a\xc2\x85z") != NULL, "message: C1 NEL (U+0085) rejected");
    ok(check_s("a\xc2\x9fz") != NULL, "message: C1 U+009F rejected");
    ok(check_s("a\xc2\xa0z") == NULL, "message: U+00A0 (after C1) accepted");
    ok(check("a\0b", 3, MAX, NULL, NULL) != NULL, "message: NUL rejected");
    ok(check("\0", 1, MAX, NULL, NULL) != NULL, "message: only a NUL rejected");
    ok(check_s("a\xc3\x28") != NULL, "message: invalid UTF-8 rejected");
    ok(check_s("\xc0\xaf") != NULL, "message: overlong rejected");
    ok(check_s("\xed\xa0\x80") != NULL, "message: surrogate rejected");

    /* Length in code points, after trimming. */
    const char *s = repeat("\xc3\xa9", MAX); /* 280 x e-acute: 560 bytes */
    why = check(s, strlen(s), MAX, &out, &len);
    ok(!why && len == 2 * MAX, "message: exactly 280 two-byte code points accepted");
    free(out);
    s = repeat("\xc3\xa9", MAX + 1);
    ok(check_s(s) != NULL, "message: 281 two-byte code points rejected");
    s = repeat("\xf0\x9f\x98\x80", MAX); /* 280 emoji: 1120 bytes */
    ok(check_s(s) == NULL, "message: exactly 280 emoji accepted");
    s = repeat("\xf0\x9f\x98\x80", MAX + 1);
    ok(check_s(s) != NULL, "message: 281 emoji rejected");
    s = repeat("a", MAX);
    ok(check_s(s) == NULL, "message: 280 ASCII characters accepted");
    s = repeat("a", MAX + 1);
    ok(check_s(s) != NULL, "message: 281 ASCII characters rejected");

    char padded[2000];
    snprintf(padded, sizeof(padded), "\r\n  %s  \n\n", repeat("\xc3\xa9", MAX));
    ok(check_s(padded) == NULL, "message: 280 code points plus trimmed blanks accepted");
    snprintf(padded, sizeof(padded), "%s\r\n%s", repeat("a", 139), repeat("b", 140));
    why = check(padded, strlen(padded), MAX, &out, &len);
    ok(!why && len == 280, "message: a CRLF counts as one character");
    free(out);
    snprintf(padded, sizeof(padded), "%s\r\n%s", repeat("a", 140), repeat("b", 140));
    ok(check_s(padded) != NULL, "message: 140 + LF + 140 is 281 characters");

    ok(check_s("abc") == NULL && check("abcd", 4, 3, NULL, NULL) != NULL,
       "message: max_chars is the limit given");
}

/* Every blank of tw_text.h, UTF-8 encoded, and what it becomes inside a message: kept, refused
 * as a control character, or (CR) turned into LF. */
enum { KEPT, CONTROL, TO_LF };
static const struct blank {
    const char *name, *utf8;
    int inside;
} blanks[] = {
    {"U+0009 tab", "\x09", CONTROL},
    {"U+000A LF", "\x0a", KEPT},
    {"U+000B VT", "\x0b", CONTROL},
    {"U+000C FF", "\x0c", CONTROL},
    {"U+000D CR", "\x0d", TO_LF},
    {"U+0020 space", " ", KEPT},
    {"U+0085 NEL", "\xc2\x85", CONTROL},
    {"U+00A0 no-break space", "\xc2\xa0", KEPT},
    {"U+1680 ogham space", "\xe1\x9a\x80", KEPT},
    {"U+2000 en quad", "\xe2\x80\x80", KEPT},
    {"U+2001 em quad", "\xe2\x80\x81", KEPT},
    {"U+2002 en space", "\xe2\x80\x82", KEPT},
    {"U+2003 em space", "\xe2\x80\x83", KEPT},
    {"U+2004 three-per-em space", "\xe2\x80\x84", KEPT},
    {"U+2005 four-per-em space", "\xe2\x80\x85", KEPT},
    {"U+2006 six-per-em space", "\xe2\x80\x86", KEPT},
    {"U+2007 figure space", "\xe2\x80\x87", KEPT},
    {"U+2008 punctuation space", "\xe2\x80\x88", KEPT},
    {"U+2009 thin space", "\xe2\x80\x89", KEPT},
    {"U+200A hair space", "\xe2\x80\x8a", KEPT},
    {"U+2028 line separator", "\xe2\x80\xa8", KEPT},
    {"U+2029 paragraph separator", "\xe2\x80\xa9", KEPT},
    {"U+202F narrow no-break space", "\xe2\x80\xaf", KEPT},
    {"U+205F medium mathematical space", "\xe2\x81\x9f", KEPT},
    {"U+3000 ideographic space", "\xe3\x80\x80", KEPT},
    {"U+200B zero-width space", "\xe2\x80\x8b", KEPT},
    {"U+200C zero-width non-joiner", "\xe2\x80\x8c", KEPT},
    {"U+200D zero-width joiner", "\xe2\x80\x8d", KEPT},
    {"U+2060 word joiner", "\xe2\x81\xa0", KEPT},
    {"U+FEFF zero-width no-break space", "\xef\xbb\xbf", KEPT},
};

/* check() of a NUL-terminated text; `want` is the normalised text expected (NULL: refused),
 * `reason` a word the refusal must contain. */
static int expect(const char *text, const char *want, const char *reason)
{
    char *out;
    size_t len;
    const char *why = check(text, strlen(text), MAX, &out, &len);
    int pass = want ? !why && len == strlen(want) && strcmp(out, want) == 0
                    : why && strstr(why, reason) != NULL;
    if (!pass)
        diag("got %s (%s)", why ? "a refusal" : "acceptance", why ? why : out);
    free(out);
    return pass;
}

static void test_unicode_blanks(void)
{
    char text[64];
    for (size_t i = 0; i < sizeof(blanks) / sizeof(blanks[0]); i++) {
        const struct blank *b = &blanks[i];
        const char *u = b->utf8;
        snprintf(text, sizeof(text), "%shi", u);
        ok(expect(text, "hi", NULL), "blank %s: leading, trimmed", b->name);
        snprintf(text, sizeof(text), "hi%s", u);
        ok(expect(text, "hi", NULL), "blank %s: trailing, trimmed", b->name);
        snprintf(text, sizeof(text), "%s%s x %s%s", u, u, u, u);
        ok(expect(text, "x", NULL), "blank %s: several on both sides, trimmed", b->name);
        ok(expect(u, NULL, "empty"), "blank %s: alone, the message is empty", b->name);
        snprintf(text, sizeof(text), "%s%s%s", u, u, u);
        ok(expect(text, NULL, "empty"), "blank %s: only blanks, empty", b->name);
        snprintf(text, sizeof(text), "a%sb", u);
        if (b->inside == KEPT)
            ok(expect(text, text, NULL), "blank %s: inside, kept", b->name);
        else if (b->inside == TO_LF)
            ok(expect(text, "a\nb", NULL), "blank %s: inside, becomes LF", b->name);
        else
            ok(expect(text, NULL, "control"), "blank %s: inside, a control character", b->name);
    }

    /* Mixed blanks around and inside. */
    ok(expect("\xc2\xa0\xe2\x80\x8b \xe3\x80\x80hello\xc2\xa0world\xef\xbb\xbf\n\xe2\x80\x83",
              "hello\xc2\xa0world", NULL),
       "mixed Unicode blanks trimmed, the inner no-break space kept");
    ok(expect("\xe2\x80\x8b\xe2\x80\x8c\xe2\x80\x8d\xe2\x81\xa0\xef\xbb\xbf\xc2\xa0", NULL,
              "empty"),
       "only invisible format characters and no-break space: empty");
    /* A joiner inside an emoji sequence (man, ZWJ, woman) is content. */
    const char *family = "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9";
    ok(expect(family, family, NULL), "a ZWJ emoji sequence is kept whole");

    /* Visible neighbours of the blank ranges are content. */
    static const char *const visible[] = {"\xc2\xa1",     "\xe2\x80\x90", "\xe2\x80\xb0",
                                          "\xe2\x81\x9e", "\xe3\x80\x81", "\xe1\x9a\x81"};
    int all = 1;
    for (size_t i = 0; i < sizeof(visible) / sizeof(visible[0]); i++) {
        snprintf(text, sizeof(text), "%s", visible[i]);
        all &= expect(text, text, NULL);
        snprintf(text, sizeof(text), "x%s", visible[i]);
        all &= expect(text, text, NULL);
    }
    ok(all, "U+00A1, U+2010, U+2030, U+205E, U+3001, U+1681: not blank, not trimmed");

    /* Limits count the code points that are kept, blanks inside included. */
    char *padded = malloc(4096);
    snprintf(padded, 4096, "\xe3\x80\x80\xc2\xa0%s\xe2\x80\x8b\xef\xbb\xbf", repeat("a", MAX));
    ok(check_s(padded) == NULL, "280 characters between trimmed Unicode blanks accepted");
    snprintf(padded, 4096, "%s\xc2\xa0%s", repeat("a", 139), repeat("b", 140));
    ok(check_s(padded) == NULL, "139 + inner no-break space + 140 is 280 characters");
    snprintf(padded, 4096, "%s\xe2\x80\x8b%s", repeat("a", 140), repeat("b", 140));
    ok(check_s(padded) != NULL, "140 + inner zero-width space + 140 is 281 characters");
    free(padded);

    /* Invalid UTF-8 is refused wherever it is, blanks around it or not. */
    ok(expect("\xc2\xa0\xff\xc2\xa0", NULL, "UTF-8"), "invalid byte between blanks refused");
    ok(expect("hi \xc2", NULL, "UTF-8"), "a truncated no-break space at the end refused");
    ok(expect("\xa0hi", NULL, "UTF-8"), "a lone continuation byte at the start refused");
    ok(expect("\xe2\x80 hi", NULL, "UTF-8"), "a truncated U+200B at the start refused");
    ok(expect("\xc0\xa0hi", NULL, "UTF-8"), "an overlong space refused, not trimmed");
}

static void test_bidi(void)
{
    static const struct {
        const char *name, *utf8;
    } bidi[] = {
        {"U+202A LRE", "\xe2\x80\xaa"}, {"U+202B RLE", "\xe2\x80\xab"},
        {"U+202C PDF", "\xe2\x80\xac"}, {"U+202D LRO", "\xe2\x80\xad"},
        {"U+202E RLO", "\xe2\x80\xae"}, {"U+2066 LRI", "\xe2\x81\xa6"},
        {"U+2067 RLI", "\xe2\x81\xa7"}, {"U+2068 FSI", "\xe2\x81\xa8"},
        {"U+2069 PDI", "\xe2\x81\xa9"}, {"U+200E LRM", "\xe2\x80\x8e"},
        {"U+200F RLM", "\xe2\x80\x8f"}, {"U+061C ALM", "\xd8\x9c"},
    };
    char text[64];
    for (size_t i = 0; i < sizeof(bidi) / sizeof(bidi[0]); i++) {
        const char *u = bidi[i].utf8;
        int all = expect(u, NULL, "bidirectional");
        snprintf(text, sizeof(text), "%sabc", u);
        all &= expect(text, NULL, "bidirectional");
        snprintf(text, sizeof(text), "abc%sdef", u);
        all &= expect(text, NULL, "bidirectional");
        snprintf(text, sizeof(text), "abc%s", u);
        all &= expect(text, NULL, "bidirectional");
        snprintf(text, sizeof(text), " \xc2\xa0%s\xc2\xa0 ", u);
        all &= expect(text, NULL, "bidirectional");
        ok(all, "bidi %s refused alone, first, inside, last and between blanks", bidi[i].name);
    }
    ok(expect("txt.\xe2\x80\xae"
              "exe.doc",
              NULL, "bidirectional"),
       "an override that makes a name read backwards is refused");
    /* Right-to-left letters need no control character: accepted as they are. */
    const char *hebrew = "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d 42 abc";
    ok(expect(hebrew, hebrew, NULL), "Hebrew, digits and Latin mixed without controls accepted");
    const char *arabic = "\xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7";
    ok(expect(arabic, arabic, NULL), "Arabic accepted");
    /* Neighbours of the bidi ranges are not refused as such. */
    ok(expect("a\xe2\x80\xaf"
              "b",
              "a\xe2\x80\xaf"
              "b",
              NULL),
       "U+202F (after the embeddings) is a blank, not a control");
    ok(expect("a\xe2\x81\xa5"
              "b",
              "a\xe2\x81\xa5"
              "b",
              NULL),
       "U+2065 (before the isolates) accepted");
    ok(expect("a\xe2\x81\xaa"
              "b",
              "a\xe2\x81\xaa"
              "b",
              NULL),
       "U+206A (after the isolates) accepted");
    ok(expect("a\xd8\x9b"
              "b",
              "a\xd8\x9b"
              "b",
              NULL),
       "U+061B (before ALM) accepted");
}

static void test_username(void)
{
    ok(tw_text_check_username("BraveOtter42", 12) == NULL, "username: letters and digits");
    ok(tw_text_check_username("a_b-C9", 6) == NULL, "username: '_' and '-'");
    ok(tw_text_check_username("x", 1) == NULL, "username: one character");
    const char *u32 = "abcdefghijklmnopqrstuvwxyz012345";
    ok(tw_text_check_username(u32, 32) == NULL, "username: 32 characters accepted");
    const char *u33 = "abcdefghijklmnopqrstuvwxyz0123456";
    ok(tw_text_check_username(u33, 33) != NULL, "username: 33 characters rejected");
    ok(tw_text_check_username(u33, 32) == NULL, "username: only n bytes are checked");
    ok(tw_text_check_username("", 0) != NULL, "username: empty rejected");
    ok(tw_text_check_username("a b", 3) != NULL, "username: 'a b' rejected");
    ok(tw_text_check_username("<x>", 3) != NULL, "username: '<x>' rejected");
    ok(tw_text_check_username("a\"b", 3) != NULL, "username: quote rejected");
    ok(tw_text_check_username("a.b", 3) != NULL, "username: dot rejected");
    ok(tw_text_check_username("a\0b", 3) != NULL, "username: NUL rejected");
    ok(tw_text_check_username("a\nb", 3) != NULL, "username: newline rejected");
    ok(tw_text_check_username("caf\xc3\xa9", 5) != NULL, "username: non-ASCII rejected");
    ok(tw_text_check_username("a\xc2\xa0"
                              "b",
                              4) != NULL,
       "username: no-break space rejected");
    ok(tw_text_check_username("\xe2\x80\x8b"
                              "ab",
                              5) != NULL,
       "username: zero-width space rejected");
    ok(tw_text_check_username("ab\xe2\x80\xae"
                              "cd",
                              7) != NULL,
       "username: U+202E rejected");
    ok(tw_text_check_username("[", 1) != NULL && tw_text_check_username("`", 1) != NULL &&
           tw_text_check_username("{", 1) != NULL && tw_text_check_username("@", 1) != NULL &&
           tw_text_check_username("/", 1) != NULL && tw_text_check_username(":", 1) != NULL,
       "username: characters next to the allowed ranges rejected");
}

int main(void)
{
    test_utf8();
    test_message();
    test_unicode_blanks();
    test_bidi();
    test_username();
    return done_testing();
}
