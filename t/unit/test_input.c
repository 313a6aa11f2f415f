/* Unit tests of src/tw_input: urlencoded and JSON post bodies. */
#include "edge.h"
#include "tap.h"
#include "tw_input.h"
#include "tw_text.h"

#include <apr_general.h>
#include <stdlib.h>
#include <string.h>

#define MAX 280

static apr_pool_t *pool;
static tw_input in;

/* The body is passed without a terminating NUL, as the contract allows ("a body of n bytes"),
 * and placed flush against an inaccessible page (edge.h): APR and jansson are not built with
 * ASan, so this is how a read past the body is caught. */
typedef const char *(*parse_fn)(apr_pool_t *, const char *, size_t, long, tw_input *);

static const char *guarded(parse_fn fn, const char *body, size_t n)
{
    static const char *volatile why;
    char *copy = edge_place(body, n);
    memset(&in, 0, sizeof(in));
    if (edge_faulted()) {
        ok(0, "the parser read past the end of the %zu-byte body", n);
        return "(crashed)";
    }
    why = fn(pool, copy, n, MAX, &in);
    return why;
}

static const char *form_n(const char *body, size_t n)
{
    return guarded(tw_input_form, body, n);
}

static const char *form(const char *body)
{
    return form_n(body, strlen(body));
}

static const char *json_n(const char *body, size_t n)
{
    return guarded(tw_input_json, body, n);
}

static const char *json(const char *body)
{
    return json_n(body, strlen(body));
}

/* `k` copies of `unit` (static buffer, one at a time). */
static const char *repeat(const char *unit, int k)
{
    static char buf[16384];
    size_t u = strlen(unit), n = 0;
    for (int i = 0; i < k && n + u < sizeof(buf); i++, n += u)
        memcpy(buf + n, unit, u);
    buf[n] = '\0';
    return buf;
}

/* A form body with the given (already encoded) message and username "bob". */
static const char *form_msg(const char *encoded)
{
    static char body[20000];
    snprintf(body, sizeof(body), "username=bob&message=%s", encoded);
    return form(body);
}

static const char *json_msg(const char *escaped)
{
    static char body[20000];
    snprintf(body, sizeof(body), "{\"username\":\"bob\",\"message\":\"%s\"}", escaped);
    return json(body);
}

/* The reason mentions `word` (so the visitor learns which field is wrong). */
static int mentions(const char *why, const char *word)
{
    return why && strstr(why, word);
}

static void test_form_ok(void)
{
    const char *why = form("username=BraveOtter42&message=hello+world");
    is_str(why, NULL, "form: simple body accepted");
    is_str(in.username, "BraveOtter42", "form: username");
    is_int((long long)in.username_len, 12, "form: username_len");
    is_str(in.message, "hello world", "form: '+' decodes to a space");
    is_int((long long)in.message_len, 11, "form: message_len");

    why = form("message=caf%C3%A9+%26+%3Cb%3E+100%25+%2B1&username=al%2Dice");
    is_str(why, NULL, "form: percent escapes, fields in either order");
    is_str(in.message, "caf\xc3\xa9 & <b> 100% +1", "form: %%XX decoded (UTF-8, &, <, %%, +)");
    is_str(in.username, "al-ice", "form: username decoded");
    is_str(form("username=bob&message=%e2%82%ac"), NULL, "form: lower-case hex accepted");
    is_str(in.message, "\xe2\x82\xac", "form: lower-case hex decoded");

    why = form("username=bob&message=line1%0D%0Aline2%0Dline3%0Aline4");
    is_str(why, NULL, "form: multi-line message accepted");
    is_str(in.message, "line1\nline2\nline3\nline4", "form: CRLF and CR normalised to LF");
    is_int((long long)in.message_len, 23, "form: normalised length");

    why = form("username=bob&message=+%0D%0A%09++hi+there+%09%0D%0A+");
    is_str(why, NULL, "form: padded message accepted");
    is_str(in.message, "hi there", "form: message trimmed");
    is_int((long long)in.message_len, 8, "form: trimmed length");

    why = form("_token=abc&username=bob&extra&message=hi&x=%ZZ&=&&");
    is_str(why, NULL, "form: other and empty fields ignored");
    ok(in.username && in.message && !strcmp(in.username, "bob") && !strcmp(in.message, "hi"),
       "form: the two fields still read");

    why = form("us%65rname=bob&message=hi");
    is_str(why, NULL, "form: percent-encoded key accepted");
    is_str(in.username, "bob", "form: percent-encoded key decoded");
}

static void test_form_bad(void)
{
    const char *why;
    is_str(form("message=hi"), NULL, "form: no username: the author is the caller's to say");
    ok(in.username == NULL && in.username_len == 0, "form: no username, none given back");
    is_str(form("message=hi&key=Ab_-09"), NULL, "form: an idempotency key");
    is_str(in.key, "Ab_-09", "form: the key");
    is_int((long long)in.key_len, 6, "form: key_len");
    is_str(form("message=hi"), NULL, "form: without a key");
    ok(in.key == NULL, "form: no key, none given back");
    ok(mentions(form("message=hi&key="), "key"), "form: an empty key rejected");
    ok(mentions(form("message=hi&key=a+b"), "key"), "form: a key with a blank rejected");
    ok(mentions(form("message=hi&key=a&key=a"), "key"), "form: a key twice rejected");
    char longkey[96];
    snprintf(longkey, sizeof(longkey), "message=hi&key=%.*s", TW_KEY_MAX,
             "0123456789012345678901234567890123456789012345678901234567890123456789");
    is_str(form(longkey), NULL, "form: a 64-character key accepted");
    snprintf(longkey, sizeof(longkey), "message=hi&key=%.*s", TW_KEY_MAX + 1,
             "0123456789012345678901234567890123456789012345678901234567890123456789");
    ok(form(longkey) != NULL, "form: a 65-character key rejected");
    why = form("username=bob");
    ok(mentions(why, "message"), "form: missing message rejected (%s)", why);
    ok(form("") != NULL, "form: empty body rejected");
    ok(form("&&&") != NULL, "form: only separators rejected");
    why = form("username=a&username=b&message=hi");
    ok(mentions(why, "username"), "form: duplicate username rejected (%s)", why);
    why = form("username=a&message=hi&message=hi");
    ok(mentions(why, "message"), "form: duplicate message rejected (%s)", why);
    ok(form("username=a&message=hi&username=a") != NULL, "form: same value twice rejected");
    ok(form("username=a&message=hi&user%6Eame=b") != NULL,
       "form: duplicate through an encoded key rejected");
    ok(form("username=&message=hi") != NULL, "form: empty username rejected");
    ok(form("username&message=hi") != NULL, "form: username without '=' rejected");
    ok(form("username=bob&message=") != NULL, "form: empty message rejected");
    ok(form("username=bob&message=+%20%0D%0A%09") != NULL, "form: blank message rejected");

    ok(form("username=bob&message=%ZZ") != NULL, "form: bad percent escape %%ZZ");
    ok(form("username=bob&message=a%2") != NULL, "form: short escape at the end of the body");
    ok(form("username=bob&message=a%") != NULL, "form: lone %% at the end of the body");
    ok(form("username=bob&message=a%4&x=1") != NULL, "form: short escape before '&'");
    ok(form("username=bob%G1&message=hi") != NULL, "form: bad escape in the username");
    ok(form("username=bob&mess%ZZage=hi") != NULL, "form: bad escape in a key");
    ok(form("message=hi&username=b%4") != NULL, "form: short escape ending the body (username)");
    ok(form("message=hi&usern%6") != NULL, "form: short escape ending the body (key)");

    ok(form_msg("%C3%28") != NULL, "form: invalid UTF-8 %%C3%%28 rejected");
    ok(form_msg("%C0%AF") != NULL, "form: overlong %%C0%%AF rejected");
    ok(form_msg("%ED%A0%80") != NULL, "form: surrogate %%ED%%A0%%80 rejected");
    ok(form_msg("%F4%90%80%80") != NULL, "form: above U+10FFFF rejected");
    ok(form_msg("ab%E2%82") != NULL, "form: truncated sequence rejected");
    ok(form_msg("a%01b") != NULL, "form: %%01 rejected");
    ok(form_msg("a%7Fb") != NULL, "form: %%7F rejected");
    ok(form_msg("a%C2%85b") != NULL, "form: C1 %%C2%%85 rejected");
    ok(form_msg("a%1Bb") != NULL, "form: ESC rejected");
    ok(form_msg("a%09b") != NULL, "form: inner tab rejected");
    ok(form_msg("a%00b") != NULL, "form: %%00 rejected");
    ok(form_msg("%00") != NULL, "form: message of only %%00 rejected");
    ok(form("username=bob%00&message=hi") != NULL, "form: %%00 in the username rejected");

    /* Raw NUL bytes in the body (not percent-encoded). */
    static const char raw1[] = "username=bob&message=hi\0there";
    ok(form_n(raw1, sizeof(raw1) - 1) != NULL, "form: raw NUL in the message rejected");
    static const char raw2[] = "username=bob&message=hi+there\0<b>";
    ok(form_n(raw2, sizeof(raw2) - 1) != NULL,
       "form: raw NUL after an escape rejected, not truncated");
    static const char raw3[] = "username=b%6Fb\0x&message=hi";
    ok(form_n(raw3, sizeof(raw3) - 1) != NULL, "form: raw NUL in the username rejected");
}

static void test_form_limits(void)
{
    char enc[20000];
    snprintf(enc, sizeof(enc), "%s", repeat("%C3%A9", MAX));
    is_str(form_msg(enc), NULL, "form: 280 x U+00E9 accepted");
    is_int((long long)in.message_len, 2 * MAX, "form: 560 bytes");
    snprintf(enc, sizeof(enc), "%s", repeat("%C3%A9", MAX + 1));
    is_str(form_msg(enc), "message is too long: at most 280 characters",
           "form: 281 x U+00E9 rejected, with the limit");
    snprintf(enc, sizeof(enc), "%s", repeat("%F0%9F%98%80", MAX));
    is_str(form_msg(enc), NULL, "form: 280 emoji accepted");
    is_int((long long)in.message_len, 4 * MAX, "form: 1120 bytes");
    snprintf(enc, sizeof(enc), "%s", repeat("%F0%9F%98%80", MAX + 1));
    ok(form_msg(enc) != NULL, "form: 281 emoji rejected");
    snprintf(enc, sizeof(enc), "+++%s%%0D%%0A", repeat("x", MAX));
    is_str(form_msg(enc), NULL, "form: 280 characters plus trimmed blanks accepted");

    char body[200];
    const char *u32 = "abcdefghijklmnopqrstuvwxyz_-0123";
    snprintf(body, sizeof(body), "username=%s&message=hi", u32);
    is_str(form(body), NULL, "form: 32-character username accepted");
    is_str(in.username, u32, "form: 32-character username kept");
    snprintf(body, sizeof(body), "username=%sX&message=hi", u32);
    ok(form(body) != NULL, "form: 33-character username rejected");
    ok(form("username=a+b&message=hi") != NULL, "form: username 'a b' rejected");
    ok(form("username=a%20b&message=hi") != NULL, "form: username 'a%%20b' rejected");
    ok(form("username=%3Cx%3E&message=hi") != NULL, "form: username '<x>' rejected");
    ok(form("username=<x>&message=hi") != NULL, "form: raw username '<x>' rejected");
    ok(form("username=caf%C3%A9&message=hi") != NULL, "form: non-ASCII username rejected");
}

static void test_json(void)
{
    const char *why = json("{\"username\":\"BraveOtter42\",\"message\":\"hi\\nthere\"}");
    is_str(why, NULL, "json: valid object accepted");
    is_str(in.username, "BraveOtter42", "json: username");
    is_int((long long)in.username_len, 12, "json: username_len");
    is_str(in.message, "hi\nthere", "json: message with a newline");
    is_int((long long)in.message_len, 8, "json: message_len");

    why = json(" {\"message\" : \"  a\\r\\nb\\r\\u00e9 \\t\", \"username\":\"bob\"} \n");
    is_str(why, NULL, "json: white space, either order");
    is_str(in.message, "a\nb\n\xc3\xa9", "json: normalised and trimmed, \\u escape decoded");

    why = json("{\"id\":7,\"username\":\"bob\",\"tags\":[1,{\"a\":null}],\"message\":\"hi\","
               "\"more\":{\"username\":5}}");
    is_str(why, NULL, "json: extra members ignored (also nested ones)");
    is_str(in.message, "hi", "json: message read next to extra members");

    is_str(json_msg("\xf0\x9f\x98\x80 \\ud83d\\ude00"), NULL, "json: raw and escaped emoji");
    is_str(in.message, "\xf0\x9f\x98\x80 \xf0\x9f\x98\x80", "json: surrogate pair decoded");

    ok(json("[]") != NULL, "json: array rejected");
    ok(json("[{\"username\":\"bob\",\"message\":\"hi\"}]") != NULL, "json: array of one rejected");
    ok(json("\"username\"") != NULL, "json: string rejected");
    ok(json("42") != NULL, "json: number rejected");
    ok(json("null") != NULL, "json: null rejected");
    ok(json("") != NULL, "json: empty body rejected");
    ok(json("{") != NULL, "json: truncated object rejected");
    ok(json("username=bob&message=hi") != NULL, "json: a form body is not JSON");
    ok(json("{\"username\":\"bob\",\"message\":\"hi\"} x") != NULL, "json: trailing garbage");
    ok(json("{\"username\":\"bob\",\"message\":\"hi\"}{}") != NULL, "json: two values");
    ok(json("{'username':'bob','message':'hi'}") != NULL, "json: single quotes rejected");
    ok(json_n("{\"username\":\"bob\",\"message\":\"hi\"}", 20) != NULL,
       "json: only n bytes are read");

    why = json("{\"username\":42,\"message\":\"hi\"}");
    ok(mentions(why, "username"), "json: number username rejected (%s)", why);
    why = json("{\"username\":\"bob\",\"message\":null}");
    ok(mentions(why, "message"), "json: null message rejected (%s)", why);
    why = json("{\"username\":\"bob\",\"message\":[\"hi\"]}");
    ok(mentions(why, "message"), "json: array message rejected (%s)", why);
    why = json("{\"username\":true,\"message\":\"hi\"}");
    ok(mentions(why, "username"), "json: boolean username rejected (%s)", why);
    why = json("{\"username\":{\"x\":\"y\"},\"message\":\"hi\"}");
    ok(mentions(why, "username"), "json: object username rejected (%s)", why);

    ok(json("{\"username\":\"a\",\"username\":\"b\",\"message\":\"hi\"}") != NULL,
       "json: duplicate username rejected");
    ok(json("{\"username\":\"a\",\"message\":\"hi\",\"message\":\"hi\"}") != NULL,
       "json: duplicate message rejected");
    ok(json("{\"x\":1,\"x\":2,\"username\":\"a\",\"message\":\"hi\"}") != NULL,
       "json: duplicate extra key rejected");

    ok(json_msg("a\\u0000b") != NULL, "json: \\u0000 in the message rejected");
    ok(json("{\"username\":\"bob\\u0000x\",\"message\":\"hi\"}") != NULL,
       "json: \\u0000 in the username rejected");

    is_str(json("{\"message\":\"hi\"}"), NULL, "json: no username accepted");
    ok(in.username == NULL && in.key == NULL, "json: no username, no key given back");
    why = json("{\"username\":\"bob\"}");
    ok(mentions(why, "message"), "json: missing message rejected (%s)", why);
    ok(json("{}") != NULL, "json: empty object rejected");
    ok(json("{\"username\":\"\",\"message\":\"hi\"}") != NULL, "json: empty username rejected");
    ok(json_msg(" \\n\\r\\t ") != NULL, "json: blank message rejected");

    ok(json_msg("a\\u0001b") != NULL, "json: \\u0001 rejected");
    ok(json_msg("a\\u007fb") != NULL, "json: \\u007f rejected");
    ok(json_msg("a\\u0085b") != NULL, "json: \\u0085 rejected");
    ok(json_msg("a\\tb") != NULL, "json: inner tab rejected");
    ok(json_msg("\\ud800") != NULL, "json: lone surrogate escape rejected");
    ok(json_msg("\xed\xa0\x80") != NULL, "json: raw surrogate bytes rejected");
    ok(json_msg("\xc0\xaf") != NULL, "json: overlong bytes rejected");
    ok(json_msg("\xc3\x28") != NULL, "json: invalid UTF-8 rejected");

    is_str(json_msg(repeat("\xc3\xa9", MAX)), NULL, "json: 280 x U+00E9 accepted");
    is_str(json_msg(repeat("\xc3\xa9", MAX + 1)), "message is too long: at most 280 characters",
           "json: 281 x U+00E9 rejected, with the limit");
    is_str(json_msg(repeat("\\ud83d\\ude00", MAX)), NULL, "json: 280 escaped emoji accepted");
    ok(json_msg(repeat("\\ud83d\\ude00", MAX + 1)) != NULL, "json: 281 escaped emoji rejected");

    ok(json("{\"username\":\"a b\",\"message\":\"hi\"}") != NULL, "json: username 'a b'");
    ok(json("{\"username\":\"<x>\",\"message\":\"hi\"}") != NULL, "json: username '<x>'");
    ok(json("{\"username\":\"abcdefghijklmnopqrstuvwxyz0123456\",\"message\":\"hi\"}") != NULL,
       "json: 33-character username rejected");
    is_str(json("{\"username\":\"abcdefghijklmnopqrstuvwxyz012345\",\"message\":\"hi\"}"), NULL,
           "json: 32-character username accepted");
}

/* The Unicode text rules of tw_text.h reach both formats: blanks trimmed and counted as empty,
 * bidirectional controls refused, in the message and in the username. */
static void test_unicode_rules(void)
{
    const char *why;
    why = form_msg("%C2%A0%E2%80%8B%E3%80%80");
    ok(mentions(why, "empty"), "form: only U+00A0, U+200B, U+3000 is empty (%s)", why);
    why = form_msg("%E2%80%8B");
    ok(mentions(why, "empty"), "form: only U+200B is empty (%s)", why);
    why = form_msg("%EF%BB%BF+%C2%A0");
    ok(mentions(why, "empty"), "form: BOM, space, no-break space is empty (%s)", why);
    is_str(form_msg("%C2%A0%E2%80%8Bhi%C2%A0there%E2%80%A9%EF%BB%BF"), NULL,
           "form: Unicode blanks around a message accepted");
    is_str(in.message, "hi\xc2\xa0there", "form: trimmed, the inner no-break space kept");

    why = json_msg("\\u00a0\\u200b\\u3000\\u2060\\ufeff");
    ok(mentions(why, "empty"), "json: only escaped Unicode blanks is empty (%s)", why);
    why = json_msg("\xc2\xa0\xe2\x80\x8b");
    ok(mentions(why, "empty"), "json: only raw U+00A0 U+200B is empty (%s)", why);
    is_str(json_msg("\\u2003hi\\u200dthere\\u00a0"), NULL, "json: escaped blanks trimmed");
    is_str(in.message, "hi\xe2\x80\x8dthere", "json: the inner joiner kept");

    why = form_msg("abc%E2%80%AEdef");
    ok(mentions(why, "bidirectional"), "form: U+202E refused (%s)", why);
    why = form_msg("%E2%81%A6x%E2%81%A9");
    ok(mentions(why, "bidirectional"), "form: an isolate pair refused (%s)", why);
    why = form_msg("%E2%80%8F");
    ok(mentions(why, "bidirectional"), "form: U+200F alone refused, not empty (%s)", why);
    why = json_msg("abc\\u202edef");
    ok(mentions(why, "bidirectional"), "json: escaped U+202E refused (%s)", why);
    why = json_msg("x\xd8\x9c");
    ok(mentions(why, "bidirectional"), "json: raw U+061C refused (%s)", why);

    why = form("username=ab%E2%80%AE&message=hi");
    ok(mentions(why, "username"), "form: U+202E in the username refused (%s)", why);
    why = form("username=%C2%A0bob&message=hi");
    ok(mentions(why, "username"), "form: U+00A0 in the username refused (%s)", why);
    why = json("{\"username\":\"bob\\u200b\",\"message\":\"hi\"}");
    ok(mentions(why, "username"), "json: U+200B in the username refused (%s)", why);
    why = json("{\"username\":\"\\u2066bob\",\"message\":\"hi\"}");
    ok(mentions(why, "username"), "json: U+2066 in the username refused (%s)", why);

    ok(form_msg("%C2%A0%FF%C2%A0") != NULL, "form: invalid UTF-8 between blanks refused");
    ok(json_msg("\\u00a0\xc3\x28") != NULL, "json: invalid UTF-8 after a blank refused");
}

int main(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
    edge_setup(4);
    test_form_ok();
    test_form_bad();
    test_form_limits();
    test_json();
    test_unicode_rules();
    apr_pool_destroy(pool);
    apr_terminate();
    return done_testing();
}
