/* Unit tests of src/tw_sign: the signed cookie, "<name>.<identity>.<mac>", and the first
 * version's "<name>.<mac>", which still verifies (without an identity). The expected MACs were
 * computed independently (Python's hmac module: HMAC-SHA-256, base64url without padding). */
#include "tap.h"
#include "tw_sign.h"

#include <string.h>

#define KEY        "0123456789abcdef0123456789abcdef"
#define PREV       "previous-secret-previous-secret-!"
#define ID1        "AAECAwQFBgcICQoLDA0ODw" /* bytes 0..15 */
#define ID2        "EBESExQVFhcYGRobHB0eHw" /* bytes 16..31 */
#define OTTER      "BraveOtter42." ID1 ".uHkjnnG8skDbMlOf9OlGEof4sY6rwWbtOlZDOadQsEw"
#define FOX        "Kind_Fox-7." ID2 ".HJkMcEPWKmAMvDtMl-iaV5pnPdQ8Fg848avLIRjoEFo"
#define OTTER_PREV "BraveOtter42." ID1 ".iuJLYd4FtqdRm59xy1WEDVAISSKGb0Qz2khx-ZBdg00"
/* The first version: a name and the MAC of "tweetsse-name-v1:" and the name. */
#define OTTER_V1 "BraveOtter42.82w5EvtB75E6YkcbygfS4zWKncm4KSijXpNEPXjvF_A"

static const tw_keys keys = {{(const unsigned char *)KEY, 32}, {NULL, 0}};
static const tw_keys rotated = {{(const unsigned char *)"a-brand-new-secret-of-32-bytes!!", 32},
                                {(const unsigned char *)KEY, 32}};

static void test_sign(void)
{
    char out[TW_SIGNED_MAX];
    is_int((long long)tw_sign_visitor(&keys, ID1, "BraveOtter42", 12, out),
           (long long)strlen(OTTER), "sign: length");
    is_str(out, OTTER, "sign: the known answer");
    tw_sign_visitor(&keys, ID2, "Kind_Fox-7", 10, out);
    is_str(out, FOX, "sign: another identity and name");
    is_int((long long)tw_sign_visitor(&keys, ID1, "a b", 3, out), 0, "sign: not a username");
    is_int((long long)tw_sign_visitor(&keys, ID1, "", 0, out), 0, "sign: empty name");
    is_int((long long)tw_sign_visitor(&keys, "short", "Fox1", 4, out), 0, "sign: not an identity");
    tw_keys none = {{NULL, 0}, {NULL, 0}};
    is_int((long long)tw_sign_visitor(&none, ID1, "Fox1", 4, out), 0, "sign: no secret, no value");
    char longest[TW_USERNAME_MAX];
    memset(longest, 'x', sizeof(longest));
    is_int((long long)tw_sign_visitor(&keys, ID1, longest, TW_USERNAME_MAX, out), TW_SIGNED_MAX - 1,
           "sign: the longest name fits TW_SIGNED_MAX");
}

static void test_verify(void)
{
    tw_signed v;
    memset(&v, 0x55, sizeof(v));
    is_int(tw_sign_verify(&keys, OTTER, strlen(OTTER), &v), 1, "verify: a good value");
    is_str(v.name, "BraveOtter42", "verify: its name");
    is_int((long long)v.name_len, 12, "verify: its length");
    is_str(v.id, ID1, "verify: its identity");
    is_int(v.stale, 0, "verify: signed with the current key");

    char bad[sizeof(OTTER)];
    memcpy(bad, OTTER, sizeof(OTTER));
    bad[sizeof(OTTER) - 2] ^= 1;
    is_int(tw_sign_verify(&keys, bad, strlen(bad), &v), 0, "verify: one MAC bit flipped");
    memcpy(bad, OTTER, sizeof(OTTER));
    bad[0] = 'C'; /* CraveOtter42 with BraveOtter42's MAC */
    is_int(tw_sign_verify(&keys, bad, strlen(bad), &v), 0, "verify: another name with this MAC");
    memcpy(bad, OTTER, sizeof(OTTER));
    bad[13] = 'B'; /* another identity with this MAC */
    is_int(tw_sign_verify(&keys, bad, strlen(bad), &v), 0, "verify: another identity");
    const char *swapped = "BraveOtter42." ID2 ".uHkjnnG8skDbMlOf9OlGEof4sY6rwWbtOlZDOadQsEw";
    is_int(tw_sign_verify(&keys, swapped, strlen(swapped), &v), 0,
           "verify: a name signed with one identity claimed with another");
    is_int(tw_sign_verify(&keys, "BraveOtter42", 12, &v), 0, "verify: an unsigned name");
    is_int(tw_sign_verify(&keys, OTTER, strlen(OTTER) - 1, &v), 0, "verify: a truncated MAC");
    is_int(tw_sign_verify(&keys, OTTER_PREV, strlen(OTTER_PREV), &v), 0,
           "verify: signed with a key it does not know");

    tw_keys with_prev = {{(const unsigned char *)KEY, 32},
                         {(const unsigned char *)PREV, sizeof(PREV) - 1}};
    is_int(tw_sign_verify(&with_prev, OTTER_PREV, strlen(OTTER_PREV), &v), 1,
           "verify: the previous key still verifies");
    is_int(v.stale, 1, "verify: and says so");
    tw_sign_verify(&rotated, OTTER, strlen(OTTER), &v);
    is_int(v.stale, 1, "verify: after a rotation, the old current key is the previous one");
}

/* A cookie of the first version: still the visitor's name, without an identity. */
static void test_first_version(void)
{
    tw_signed v;
    is_int(tw_sign_verify(&keys, OTTER_V1, strlen(OTTER_V1), &v), 1, "v1: verifies");
    is_str(v.name, "BraveOtter42", "v1: its name");
    is_str(v.id, "", "v1: no identity");
    is_int(v.stale, 1, "v1: to be signed again, with an identity");
    char bad[sizeof(OTTER_V1)];
    memcpy(bad, OTTER_V1, sizeof(OTTER_V1));
    bad[0] = 'C';
    is_int(tw_sign_verify(&keys, bad, strlen(bad), &v), 0, "v1: another name with its MAC");
    /* The v1 MAC of a name does not sign that name with any identity. */
    const char *mixed = "BraveOtter42." ID1 ".82w5EvtB75E6YkcbygfS4zWKncm4KSijXpNEPXjvF_A";
    is_int(tw_sign_verify(&keys, mixed, strlen(mixed), &v), 0, "v1: its MAC for a v2 value");
}

static void test_cookies(void)
{
    tw_signed v;
    is_int(tw_sign_from_cookies(&keys, "tw_name=" OTTER, "tw_name", &v), 1,
           "cookie: the only cookie");
    is_str(v.name, "BraveOtter42", "cookie: its name");
    tw_sign_from_cookies(&keys, "a=1; tw_name=" FOX " ; b=2", "tw_name", &v);
    is_str(v.name, "Kind_Fox-7", "cookie: among others, blanks trimmed");
    is_str(v.id, ID2, "cookie: and its identity");
    tw_sign_from_cookies(&keys, "tw_name=" FOX "; tw_name=" OTTER, "tw_name", &v);
    is_str(v.name, "Kind_Fox-7", "cookie: twice (two paths): the first");
    tw_sign_from_cookies(&keys, "tw_name=BraveOtter42; tw_name=" FOX, "tw_name", &v);
    is_str(v.name, "Kind_Fox-7", "cookie: an unsigned value is skipped for a later signed one");
    is_int(tw_sign_from_cookies(&keys, "xtw_name=" OTTER "; tw_namex=" FOX, "tw_name", &v), 0,
           "cookie: only the exact name matches");
    is_int(tw_sign_from_cookies(&keys, "tw_name=", "tw_name", &v), 0, "cookie: empty value");
    is_int(tw_sign_from_cookies(&keys, NULL, "tw_name", &v), 0, "cookie: no header");
}

int main(void)
{
    test_sign();
    test_verify();
    test_first_version();
    test_cookies();
    return done_testing();
}
