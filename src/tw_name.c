#include "tw_name.h"
#include "tw_text.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char *const tw_adjectives[] = {
    "Brave",  "Calm",  "Clever", "Cosy",  "Eager", "Fancy",  "Gentle", "Happy",
    "Jolly",  "Kind",  "Lively", "Lucky", "Merry", "Nimble", "Plucky", "Polite",
    "Proud",  "Quick", "Quiet",  "Rapid", "Shiny", "Silly",  "Sleepy", "Smart",
    "Snappy", "Sunny", "Swift",  "Tidy",  "Witty", "Zany",   "Bold",   "Bright",
};
static const char *const tw_animals[] = {
    "Otter",  "Badger", "Falcon", "Fox",    "Heron", "Koala",  "Lemur",  "Lynx",
    "Marten", "Moose",  "Newt",   "Ocelot", "Panda", "Puffin", "Quokka", "Raven",
    "Robin",  "Seal",   "Sloth",  "Stoat",  "Swan",  "Tapir",  "Tiger",  "Toucan",
    "Walrus", "Whale",  "Wombat", "Yak",    "Zebra", "Gecko",  "Bison",  "Crane",
};

#define TW_COUNT(a) (sizeof(a) / sizeof((a)[0]))

size_t tw_name_generate(const unsigned char rnd[4], char *buf)
{
    unsigned num = ((unsigned)rnd[2] << 8 | rnd[3]) % 1000;
    int n = snprintf(buf, TW_NAME_MAX, "%s%s%u", tw_adjectives[rnd[0] % TW_COUNT(tw_adjectives)],
                     tw_animals[rnd[1] % TW_COUNT(tw_animals)], num);
    return n < 0 ? 0 : (size_t)n;
}

static char tw_upper(char c)
{
    return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
}

void tw_name_initials(const char *name, size_t n, char out[3])
{
    out[0] = n ? tw_upper(name[0]) : '?';
    out[1] = '\0';
    out[2] = '\0';
    for (size_t i = 1; i < n; i++) {
        if (name[i] >= 'A' && name[i] <= 'Z') {
            out[1] = name[i];
            break;
        }
    }
}

unsigned tw_name_hue(const char *name, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)name[i];
        h *= 16777619u;
    }
    return h % 360;
}
