/* Unit tests of src/tw_name: generated usernames, avatar initials and hue. */
#include "tap.h"
#include "tw_name.h"
#include "tw_text.h"

#include <stdlib.h>
#include <string.h>

static size_t gen(unsigned char a, unsigned char b, unsigned char c, unsigned char d, char *buf)
{
    const unsigned char rnd[4] = {a, b, c, d};
    return tw_name_generate(rnd, buf);
}

/* "Word": one capital letter then one or more lower-case letters; returns its length. */
static size_t word_len(const char *s)
{
    if (!(s[0] >= 'A' && s[0] <= 'Z'))
        return 0;
    size_t i = 1;
    while (s[i] >= 'a' && s[i] <= 'z')
        i++;
    return i > 1 ? i : 0;
}

/* adjective + animal + 1..3 digits with the value `num`, nothing else. */
static int well_formed(const char *name, unsigned num)
{
    size_t a = word_len(name);
    if (!a)
        return 0;
    size_t b = word_len(name + a);
    if (!b)
        return 0;
    const char *d = name + a + b;
    size_t nd = strspn(d, "0123456789");
    if (nd < 1 || nd > 3 || d[nd] != '\0')
        return 0;
    if (nd > 1 && d[0] == '0')
        return 0;
    return (unsigned)strtoul(d, NULL, 10) == num;
}

static void test_generate(void)
{
    char buf[TW_NAME_MAX], again[TW_NAME_MAX];

    size_t n = gen(0, 0, 0, 42, buf);
    is_str(buf, "BraveOtter42", "generate: bytes 0,0,0,42 give BraveOtter42");
    is_int((long long)n, 12, "generate: returns the length");
    gen(31, 31, 0x03, 0xE7, buf);
    is_str(buf, "BrightCrane999", "generate: last adjective, last animal, 999");
    gen(32, 32, 0x03, 0xE8, buf);
    is_str(buf, "BraveOtter0", "generate: indices wrap (32 -> 0) and 1000 -> 0");
    gen(1, 2, 0x01, 0x00, buf);
    is_str(buf, "CalmFalcon256", "generate: the number is big-endian rnd[2..3] mod 1000");

    gen(7, 9, 200, 13, buf);
    gen(7, 9, 200, 13, again);
    is_str(again, buf, "generate: the same bytes give the same name");

    gen(0, 0, 0, 0, buf);
    int differ = 1;
    const unsigned char variants[][4] = {{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 0, 1}, {0, 0, 1, 0}};
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
        tw_name_generate(variants[i], again);
        differ &= strcmp(buf, again) != 0;
    }
    ok(differ, "generate: changing any one byte changes the name");

    /* Every adjective and animal, with short and long numbers. */
    int valid = 1, short_enough = 1, formed = 1, len_ok = 1;
    for (unsigned a = 0; a < 256; a++) {
        for (unsigned b = 0; b < 256; b++) {
            static const unsigned nums[][2] = {{0, 0}, {0, 7}, {0x03, 0xE7}, {0xFF, 0xFF}};
            for (size_t k = 0; k < 4; k++) {
                unsigned num = (nums[k][0] << 8 | nums[k][1]) % 1000;
                memset(buf, 'Z', sizeof(buf));
                n = gen((unsigned char)a, (unsigned char)b, (unsigned char)nums[k][0],
                        (unsigned char)nums[k][1], buf);
                valid &= tw_text_check_username(buf, n) == NULL;
                short_enough &= n < TW_NAME_MAX && n <= TW_USERNAME_MAX;
                len_ok &= n == strlen(buf);
                if (!well_formed(buf, num)) {
                    if (formed)
                        diag("badly formed: %s", buf);
                    formed = 0;
                }
            }
        }
    }
    ok(valid, "generate: every name passes tw_text_check_username");
    ok(short_enough, "generate: every name is shorter than TW_NAME_MAX");
    ok(len_ok, "generate: the returned length is the string length");
    ok(formed, "generate: every name is Adjective + Animal + number");
    /* 32 distinct adjectives and 32 distinct animals. */
    char adj[32][TW_NAME_MAX], ani[32][TW_NAME_MAX];
    for (int i = 0; i < 32; i++) {
        gen((unsigned char)i, 0, 0, 0, adj[i]);
        gen(0, (unsigned char)i, 0, 0, ani[i]);
    }
    int adjectives = 1, animals = 1;
    for (int i = 0; i < 32; i++) {
        for (int j = i + 1; j < 32; j++) {
            adjectives &= strcmp(adj[i], adj[j]) != 0;
            animals &= strcmp(ani[i], ani[j]) != 0;
        }
    }
    ok(adjectives, "generate: 32 different adjectives");
    ok(animals, "generate: 32 different animals");

    char *exact = malloc(TW_NAME_MAX); /* exactly TW_NAME_MAX bytes, so ASan sees an overflow */
    int fits = 1;
    for (unsigned a = 0; a < 32; a++)
        for (unsigned b = 0; b < 32; b++)
            fits &= gen((unsigned char)a, (unsigned char)b, 0x03, 0xE7, exact) < TW_NAME_MAX;
    ok(fits, "generate: the longest names fit a TW_NAME_MAX buffer");
    free(exact);
}

static void test_initials(void)
{
    char ini[3];
    tw_name_initials("BraveOtter42", 12, ini);
    is_str(ini, "BO", "initials: BraveOtter42 -> BO");
    tw_name_initials("alice", 5, ini);
    is_str(ini, "A", "initials: alice -> A (one letter, upper-cased)");
    tw_name_initials("bob_Smith", 9, ini);
    is_str(ini, "BS", "initials: bob_Smith -> BS");
    tw_name_initials("x", 1, ini);
    is_str(ini, "X", "initials: one character");
    tw_name_initials("ABC", 3, ini);
    is_str(ini, "AB", "initials: the next capital right after the first");
    tw_name_initials("42Zed", 5, ini);
    is_str(ini, "4Z", "initials: a digit first");
    tw_name_initials("_-x", 3, ini);
    is_str(ini, "_", "initials: no capital after a symbol");
    tw_name_initials("", 0, ini);
    is_str(ini, "?", "initials: empty name");
    tw_name_initials("aBcD", 2, ini);
    is_str(ini, "AB", "initials: only n bytes are read");
    tw_name_initials("abcD", 3, ini);
    is_str(ini, "A", "initials: a capital past n is not used");
}

static void test_hue(void)
{
    /* FNV-1a 32-bit reference values: "" 0x811c9dc5, "a" 0xe40c292c, "foobar" 0xbf9cf968. */
    is_int(tw_name_hue("", 0), 0x811c9dc5u % 360, "hue: empty name (FNV-1a offset basis)");
    is_int(tw_name_hue("a", 1), 0xe40c292cu % 360, "hue: 'a'");
    is_int(tw_name_hue("foobar", 6), 0xbf9cf968u % 360, "hue: 'foobar'");
    is_int(tw_name_hue("BraveOtter42", 12), 11, "hue: BraveOtter42 (stable across releases)");
    is_int(tw_name_hue("foobarXYZ", 6), tw_name_hue("foobar", 6), "hue: only n bytes are read");
    ok(tw_name_hue("BraveOtter42", 12) != tw_name_hue("BraveOtter43", 12),
       "hue: a different name gives (here) a different hue");
    int range = 1;
    char buf[TW_NAME_MAX];
    for (unsigned i = 0; i < 4096; i++) {
        size_t n = gen((unsigned char)i, (unsigned char)(i >> 4), (unsigned char)(i >> 8),
                       (unsigned char)i, buf);
        range &= tw_name_hue(buf, n) < 360;
    }
    ok(range, "hue: always 0..359");
    is_int(tw_name_hue("\xff\xfe", 2), 0xd01ebb10u % 360, "hue: bytes >= 0x80 taken as unsigned");
}

int main(void)
{
    test_generate();
    test_initials();
    test_hue();
    return done_testing();
}
