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

static int tw_is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n';
}

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
    size_t start = 0, end = w;
    while (start < end && tw_is_blank(s[start]))
        start++;
    while (end > start && tw_is_blank(s[end - 1]))
        end--;
    memmove(s, s + start, end - start);
    *n = end - start;
    s[*n] = '\0';

    if (*n == 0)
        return "message is empty";
    const unsigned char *p = (const unsigned char *)s;
    size_t left = *n;
    long count = 0;
    unsigned long cp;
    while (left) {
        size_t len = tw_utf8_next(p, left, &cp);
        if (!len)
            return "message is not valid UTF-8";
        if ((cp < 0x20 && cp != '\n') || (cp >= 0x7F && cp <= 0x9F))
            return "message contains control characters";
        p += len;
        left -= len;
        count++;
    }
    if (count > max_chars)
        return "message is too long";
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
