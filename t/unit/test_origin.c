/* Unit tests of src/tw_origin: the same-origin rule for POSTs. */
#include "tap.h"
#include "tw_origin.h"

static void test_fetch_site(void)
{
    ok(!tw_origin_check("same-origin", NULL, "http", "a.example"), "fetch-site: same-origin");
    ok(!tw_origin_check("none", NULL, "http", "a.example"), "fetch-site: none (typed, bookmark)");
    ok(tw_origin_check("cross-site", "http://a.example", "http", "a.example") != NULL,
       "fetch-site: cross-site refused, even with a matching Origin");
    ok(tw_origin_check("same-site", NULL, "http", "a.example") != NULL,
       "fetch-site: same-site (a sibling subdomain) refused");
    ok(tw_origin_check("bogus", NULL, "http", "a.example") != NULL, "fetch-site: unknown value");
    ok(!tw_origin_check("Same-Origin", "http://evil.example", "http", "a.example"),
       "fetch-site decides over Origin when both are sent");
}

static void test_origin(void)
{
    ok(!tw_origin_check(NULL, NULL, "http", "a.example"), "neither header: not a browser");
    ok(!tw_origin_check(NULL, "http://a.example", "http", "a.example"), "origin: same");
    ok(!tw_origin_check(NULL, "HTTP://A.Example", "http", "a.example"), "origin: case");
    ok(!tw_origin_check(NULL, "http://127.0.0.1:8080", "http", "127.0.0.1:8080"),
       "origin: with a port");
    ok(!tw_origin_check(NULL, "http://a.example:80", "http", "a.example"),
       "origin: default port written on one side");
    ok(!tw_origin_check(NULL, "https://a.example", "https", "a.example:443"),
       "origin: https default port on the other side");
    ok(!tw_origin_check(NULL, "http://[::1]:8080", "http", "[::1]:8080"), "origin: IPv6");
    ok(tw_origin_check(NULL, "http://evil.example", "http", "a.example") != NULL,
       "origin: another host");
    ok(tw_origin_check(NULL, "http://a.example.evil", "http", "a.example") != NULL,
       "origin: a longer host");
    ok(tw_origin_check(NULL, "http://a.exampl", "http", "a.example") != NULL,
       "origin: a shorter host");
    ok(tw_origin_check(NULL, "http://a.example:8081", "http", "a.example:8080") != NULL,
       "origin: another port");
    ok(tw_origin_check(NULL, "http://a.example:8080", "http", "a.example") != NULL,
       "origin: a port against the default");
    ok(tw_origin_check(NULL, "https://a.example", "http", "a.example") != NULL,
       "origin: another scheme");
    ok(tw_origin_check(NULL, "null", "http", "a.example") != NULL, "origin: null (sandboxed)");
    ok(tw_origin_check(NULL, "http:/a.example", "http", "a.example") != NULL, "origin: malformed");
    ok(tw_origin_check(NULL, "http://a.example", "http", NULL) != NULL, "origin: no Host");
}

int main(void)
{
    test_fetch_site();
    test_origin();
    return done_testing();
}
