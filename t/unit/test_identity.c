/* Unit tests of src/tw_identity: identities, their tags and starting names. The expected tag
 * and name were computed independently (Python's hashlib: SHA-256 of the context and the
 * identity; the tag its first 40 bits in base32, the name from bytes 8..11). */
#include "tap.h"
#include "tw_identity.h"
#include "tw_name.h"

#include <stdlib.h>
#include <string.h>

#define ID1 "AAECAwQFBgcICQoLDA0ODw" /* bytes 0..15 */

static void test_make(void)
{
    unsigned char rnd[16];
    for (int i = 0; i < 16; i++)
        rnd[i] = (unsigned char)i;
    char id[TW_IDENTITY_LEN + 1];
    tw_identity_make(rnd, id);
    is_str(id, ID1, "make: base64url of the 16 bytes, no padding");
    ok(tw_identity_valid(id, strlen(id)), "make: valid");
    memset(rnd, 0xff, sizeof(rnd));
    tw_identity_make(rnd, id);
    is_str(id, "_____________________w", "make: all ones");
    ok(tw_identity_valid(id, strlen(id)), "make: valid too");
}

static void test_valid(void)
{
    ok(!tw_identity_valid("AAECAwQFBgcICQoLDA0OD", 21), "valid: too short");
    ok(!tw_identity_valid("AAECAwQFBgcICQoLDA0ODwA", 23), "valid: too long");
    ok(!tw_identity_valid("AAECAwQFBgcICQoLDA0OD.", 22), "valid: not base64url");
    ok(!tw_identity_valid("AAECAwQFBgcICQoLDA0ODx", 22), "valid: not canonical (spare bits)");
    ok(!tw_identity_valid("AAECAwQFBgcI\0QoLDA0ODw", 22), "valid: a NUL inside");
    ok(tw_identity_valid("AAECAwQFBgcICQoLDA0ODw", 22), "valid: canonical");
}

static void test_tag_and_name(void)
{
    char tag[TW_IDENTITY_TAG_LEN + 1], name[TW_NAME_MAX];
    tw_identity_tag(ID1, tag);
    is_str(tag, "vem2q2k7", "tag: the known answer");
    is_int((long long)tw_identity_name(ID1, name), 14, "name: its length");
    is_str(name, "SmartFalcon956", "name: the known answer");
    /* 100 random identities: distinct tags, each of the alphabet, 8 characters. */
    char tags[100][TW_IDENTITY_TAG_LEN + 1];
    int distinct = 1, alphabet = 1;
    srand(42);
    for (int i = 0; i < 100; i++) {
        unsigned char rnd[16];
        char id[TW_IDENTITY_LEN + 1];
        for (int k = 0; k < 16; k++)
            rnd[k] = (unsigned char)rand();
        tw_identity_make(rnd, id);
        tw_identity_tag(id, tags[i]);
        alphabet &= strspn(tags[i], "0123456789abcdefghjkmnpqrstvwxyz") == TW_IDENTITY_TAG_LEN;
        for (int j = 0; j < i; j++)
            distinct &= strcmp(tags[i], tags[j]) != 0;
    }
    ok(distinct, "tag: 100 identities, 100 tags");
    ok(alphabet, "tag: base32 without look-alike letters");
}

static void test_hue(void)
{
    is_int(tw_identity_hue("BraveOtter42", 12, "", 0), tw_name_hue("BraveOtter42", 12),
           "hue: without a tag, the name's");
    is_int(tw_identity_hue("BraveOtter42", 12, "vem2q2k7", 8), tw_name_hue("vem2q2k7", 8),
           "hue: with one, the tag's");
}

int main(void)
{
    test_make();
    test_valid();
    test_tag_and_name();
    test_hue();
    return done_testing();
}
