/* Unit tests of src/tw_sign: the signed name cookie. The expected MACs were computed
 * independently (Python's hmac module: HMAC-SHA-256, base64url without padding). */
#include "tap.h"
#include "tw_sign.h"

#include <string.h>

#define KEY        "0123456789abcdef0123456789abcdef"
#define PREV       "previous-secret-previous-secret-!"
#define OTTER      "BraveOtter42.82w5EvtB75E6YkcbygfS4zWKncm4KSijXpNEPXjvF_A"
#define FOX        "Kind_Fox-7.zw4ulSHhh67lcawsj1neKAevstdawfTpM5WeVZ8n7XY"
#define OTTER_PREV "BraveOtter42.UOfLRt-FuUhEwrzEfXOIPq_QHXpluI6sIap4PjjBO8s"

static const tw_keys keys = {{(const unsigned char *)KEY, 32}, {NULL, 0}};
static const tw_keys rotated = {{(const unsigned char *)"a-brand-new-secret-of-32-bytes!!", 32},
                                {(const unsigned char *)KEY, 32}};

static void test_sign(void)
{
    char out[TW_SIGNED_MAX];
    is_int((long long)tw_sign_name(&keys, "BraveOtter42", 12, out), (long long)strlen(OTTER),
           "sign: length");
    is_str(out, OTTER, "sign: the known answer");
    tw_sign_name(&keys, "Kind_Fox-7", 10, out);
    is_str(out, FOX, "sign: another name");
    is_int((long long)tw_sign_name(&keys, "a b", 3, out), 0, "sign: not a username");
    is_int((long long)tw_sign_name(&keys, "", 0, out), 0, "sign: empty");
    tw_keys none = {{NULL, 0}, {NULL, 0}};
    is_int((long long)tw_sign_name(&none, "Fox1", 4, out), 0, "sign: no secret, no value");
    char longest[TW_USERNAME_MAX];
    memset(longest, 'x', sizeof(longest));
    is_int((long long)tw_sign_name(&keys, longest, TW_USERNAME_MAX, out),
           TW_USERNAME_MAX + 1 + TW_SIGN_MAC_LEN, "sign: the longest name fits TW_SIGNED_MAX");
}

static void test_verify(void)
{
    char name[TW_NAME_MAX];
    int stale = -1;
    is_int((long long)tw_sign_verify(&keys, OTTER, strlen(OTTER), name, &stale), 12,
           "verify: a good value");
    is_str(name, "BraveOtter42", "verify: its name");
    is_int(stale, 0, "verify: signed with the current key");

    char bad[sizeof(OTTER)];
    memcpy(bad, OTTER, sizeof(OTTER));
    bad[sizeof(OTTER) - 2] ^= 1;
    is_int((long long)tw_sign_verify(&keys, bad, strlen(bad), name, NULL), 0,
           "verify: one MAC bit flipped");
    memcpy(bad, OTTER, sizeof(OTTER));
    bad[0] = 'C'; /* CraveOtter42 with BraveOtter42's MAC */
    is_int((long long)tw_sign_verify(&keys, bad, strlen(bad), name, NULL), 0,
           "verify: another name with this MAC");
    is_int((long long)tw_sign_verify(&keys, "BraveOtter42", 12, name, NULL), 0,
           "verify: an unsigned name");
    is_int((long long)tw_sign_verify(&keys, OTTER, strlen(OTTER) - 1, name, NULL), 0,
           "verify: a truncated MAC");
    is_int((long long)tw_sign_verify(&keys, OTTER_PREV, strlen(OTTER_PREV), name, NULL), 0,
           "verify: signed with a key it does not know");

    tw_keys with_prev = {{(const unsigned char *)KEY, 32},
                         {(const unsigned char *)PREV, sizeof(PREV) - 1}};
    stale = -1;
    is_int((long long)tw_sign_verify(&with_prev, OTTER_PREV, strlen(OTTER_PREV), name, &stale), 12,
           "verify: the previous key still verifies");
    is_int(stale, 1, "verify: and says so");
    stale = -1;
    tw_sign_verify(&rotated, OTTER, strlen(OTTER), name, &stale);
    is_int(stale, 1, "verify: after a rotation, the old current key is the previous one");
}

static void test_cookies(void)
{
    char name[TW_NAME_MAX];
    is_int((long long)tw_sign_from_cookies(&keys, "tw_name=" OTTER, "tw_name", name, NULL), 12,
           "cookie: the only cookie");
    is_str(name, "BraveOtter42", "cookie: its name");
    tw_sign_from_cookies(&keys, "a=1; tw_name=" FOX " ; b=2", "tw_name", name, NULL);
    is_str(name, "Kind_Fox-7", "cookie: among others, blanks trimmed");
    tw_sign_from_cookies(&keys, "tw_name=" FOX "; tw_name=" OTTER, "tw_name", name, NULL);
    is_str(name, "Kind_Fox-7", "cookie: twice (two paths): the first");
    tw_sign_from_cookies(&keys, "tw_name=BraveOtter42; tw_name=" FOX, "tw_name", name, NULL);
    is_str(name, "Kind_Fox-7", "cookie: an unsigned value is skipped for a later signed one");
    is_int((long long)tw_sign_from_cookies(&keys, "xtw_name=" OTTER "; tw_namex=" FOX, "tw_name",
                                           name, NULL),
           0, "cookie: only the exact name matches");
    is_int((long long)tw_sign_from_cookies(&keys, "tw_name=", "tw_name", name, NULL), 0,
           "cookie: empty value");
    is_int((long long)tw_sign_from_cookies(&keys, NULL, "tw_name", name, NULL), 0,
           "cookie: no header");
}

int main(void)
{
    test_sign();
    test_verify();
    test_cookies();
    return done_testing();
}
