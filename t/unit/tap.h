/* tap.h: a tiny TAP (Test Anything Protocol) producer for the unit tests.
 *
 *   ok(cond, name...)             passes when cond is true
 *   is_int(got, want, name...)    compares two integers (as long long)
 *   is_str(got, want, name...)    compares two strings; NULL only equals NULL
 *   has_str(hay, needle, name...) passes when needle occurs in hay
 *   lacks_str(hay, needle, name...) passes when needle does not occur in hay
 *   diag(fmt...)                  prints a "# " comment line
 *   return done_testing();        prints the plan "1..N"; non-zero exit if any test failed
 *
 * Names are printf formats. Every helper returns 1 on pass, 0 on failure, and a failure
 * prints the file, line and the values compared, as TAP diagnostics. */
#ifndef TAP_H
#define TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define TAP_API static __attribute__((unused))

static int tap_run, tap_failed;

TAP_API void tap_vresult(int pass, const char *file, int line, const char *fmt, va_list ap)
{
    tap_run++;
    if (!pass)
        tap_failed++;
    printf("%sok %d - ", pass ? "" : "not ", tap_run);
    vprintf(fmt, ap);
    printf("\n");
    if (!pass)
        printf("#   Failed test at %s line %d.\n", file, line);
    fflush(stdout);
}

TAP_API void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
TAP_API void tap_diag(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("# ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
}

/* Print a string for a diagnostic with control characters made visible. */
TAP_API void tap_show(const char *label, const char *s)
{
    printf("#   %8s: ", label);
    if (!s) {
        printf("NULL\n");
        return;
    }
    putchar('\'');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\n')
            printf("\\n");
        else if (*p == '\r')
            printf("\\r");
        else if (*p < 0x20 || *p == 0x7f)
            printf("\\x%02x", *p);
        else
            putchar(*p);
    }
    printf("'\n");
}

TAP_API int tap_ok(int pass, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
TAP_API int tap_ok(int pass, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tap_vresult(pass, file, line, fmt, ap);
    va_end(ap);
    return pass;
}

TAP_API int tap_is_int(long long got, long long want, const char *file, int line, const char *fmt,
                       ...) __attribute__((format(printf, 5, 6)));
TAP_API int tap_is_int(long long got, long long want, const char *file, int line, const char *fmt,
                       ...)
{
    va_list ap;
    va_start(ap, fmt);
    tap_vresult(got == want, file, line, fmt, ap);
    va_end(ap);
    if (got != want)
        printf("#        got: %lld\n#   expected: %lld\n", got, want);
    return got == want;
}

TAP_API int tap_is_str(const char *got, const char *want, const char *file, int line,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
TAP_API int tap_is_str(const char *got, const char *want, const char *file, int line,
                       const char *fmt, ...)
{
    int pass = (got && want) ? strcmp(got, want) == 0 : got == want;
    va_list ap;
    va_start(ap, fmt);
    tap_vresult(pass, file, line, fmt, ap);
    va_end(ap);
    if (!pass) {
        tap_show("got", got);
        tap_show("expected", want);
    }
    return pass;
}

TAP_API int tap_has_str(const char *hay, const char *needle, int want, const char *file, int line,
                        const char *fmt, ...) __attribute__((format(printf, 6, 7)));
TAP_API int tap_has_str(const char *hay, const char *needle, int want, const char *file, int line,
                        const char *fmt, ...)
{
    int pass = hay && needle && (strstr(hay, needle) != NULL) == want;
    va_list ap;
    va_start(ap, fmt);
    tap_vresult(pass, file, line, fmt, ap);
    va_end(ap);
    if (!pass) {
        tap_show(want ? "missing" : "found", needle);
        tap_show("in", hay);
    }
    return pass;
}

TAP_API int tap_done(void)
{
    printf("1..%d\n", tap_run);
    if (tap_failed)
        printf("# Looks like you failed %d test%s of %d.\n", tap_failed, tap_failed > 1 ? "s" : "",
               tap_run);
    fflush(stdout);
    return tap_failed ? 1 : 0;
}

#define ok(cond, ...)               tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...)      tap_is_int((got), (want), __FILE__, __LINE__, __VA_ARGS__)
#define is_str(got, want, ...)      tap_is_str((got), (want), __FILE__, __LINE__, __VA_ARGS__)
#define has_str(hay, needle, ...)   tap_has_str((hay), (needle), 1, __FILE__, __LINE__, __VA_ARGS__)
#define lacks_str(hay, needle, ...) tap_has_str((hay), (needle), 0, __FILE__, __LINE__, __VA_ARGS__)
#define diag(...)                   tap_diag(__VA_ARGS__)
#define done_testing()              tap_done()

#endif
