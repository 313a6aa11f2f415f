#include "tw_text.h"

#include <string.h>

/* Decode one code point at s[0..n); returns its length or 0 if invalid. */
static size_t tw_utf8_next(const unsigned char *s, size_t n, unsigned long *cp)
{
    unsigned char c = s[0];
    size_t len;
    unsigned long v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        len = 2, v = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, v = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

long tw_utf8_count(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    long count = 0;
    unsigned long cp;
    while (n) {
        size_t len = tw_utf8_next(p, n, &cp);
        if (!len)
            return -1;
        p += len;
        n -= len;
        count++;
    }
    return count;
}

/* Blank at the ends of a message (trimmed) and in a message of nothing else (empty): the
 * Unicode White_Space code points, and the invisible format characters typed or pasted as
 * blanks: U+200B zero-width space, U+200C/U+200D zero-width (non-)joiner, U+2060 word joiner,
 * U+FEFF zero-width no-break space (byte order mark). Inside a message they are kept: a
 * joiner shapes an emoji sequence or a Persian word there. */
static int tw_is_blank(unsigned long cp)
{
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200D) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x2060 || cp == 0x3000 || cp == 0xFEFF;
}

/* The explicit bidirectional formatting characters: embeddings and overrides (U+202A..202E),
 * isolates (U+2066..2069) and the invisible marks (U+200E, U+200F, U+061C). */
static int tw_is_bidi_control(unsigned long cp)
{
    return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200E ||
           cp == 0x200F || cp == 0x061C;
}

/* C0 controls but LF, DEL and the C1 controls. */
static int tw_is_control(unsigned long cp)
{
    return (cp < 0x20 && cp != '\n') || (cp >= 0x7F && cp <= 0x9F);
}

const char tw_text_too_long[] = "message is too long";

const char *tw_text_check_message(char *s, size_t *n, long max_chars)
{
    /* CRLF / CR -> LF, in place (the text only shrinks). */
    size_t w = 0;
    for (size_t r = 0; r < *n; r++) {
        if (s[r] == '\r') {
            s[w++] = '\n';
            if (r + 1 < *n && s[r + 1] == '\n')
                r++;
        } else {
            s[w++] = s[r];
        }
    }
    s[w] = '\0';
    *n = w;

    /* The whole text: strict UTF-8 and no bidi control; [start, end) runs from the first code
     * point that is not blank to the end of the last one. */
    const unsigned char *p = (const unsigned char *)s;
    size_t start = w, end = 0, len;
    unsigned long cp;
    for (size_t r = 0; r < w; r += len) {
        len = tw_utf8_next(p + r, w - r, &cp);
        if (!len)
            return "message is not valid UTF-8";
        if (tw_is_bidi_control(cp))
            return "message contains bidirectional control characters";
        if (tw_is_blank(cp))
            continue;
        if (start == w)
            start = r;
        end = r + len;
    }
    if (start == w) {
        s[0] = '\0';
        *n = 0;
        return "message is empty";
    }
    memmove(s, s + start, end - start);
    *n = end - start;
    s[*n] = '\0';

    /* What is kept: controls refused (blanks among them too: tab, VT, FF, NEL), counted. */
    long count = 0;
    for (size_t r = 0; r < *n; r += len, count++) {
        len = tw_utf8_next(p + r, *n - r, &cp);
        if (tw_is_control(cp))
            return "message contains control characters";
    }
    if (count > max_chars)
        return tw_text_too_long;
    return NULL;
}

/* Are all `n` bytes from [A-Za-z0-9_-]? */
static int tw_text_word(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

const char *tw_text_check_username(const char *s, size_t n)
{
    if (n == 0)
        return "username is empty";
    if (n > TW_USERNAME_MAX)
        return "username is too long";
    if (!tw_text_word(s, n))
        return "username may only contain letters, digits, '_' and '-'";
    return NULL;
}

const char *tw_text_check_key(const char *s, size_t n)
{
    if (n == 0 || n > TW_KEY_MAX || !tw_text_word(s, n))
        return "the idempotency key must be 1 to 64 letters, digits, '_' or '-'";
    return NULL;
}
