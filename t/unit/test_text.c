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
    ok(tw_text_check_username("[", 1) != NULL && tw_text_check_username("`", 1) != NULL &&
           tw_text_check_username("{", 1) != NULL && tw_text_check_username("@", 1) != NULL &&
           tw_text_check_username("/", 1) != NULL && tw_text_check_username(":", 1) != NULL,
       "username: characters next to the allowed ranges rejected");
}

int main(void)
{
    test_utf8();
    test_message();
    test_username();
    return done_testing();
}
