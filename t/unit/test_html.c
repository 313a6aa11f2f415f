/* Unit tests of src/tw_html: post cards, the feed page and the error page. */
#include "tap.h"
#include "tw_html.h"
#include "tw_render.h"
#include "tw_identity.h"
#include "tw_name.h"

#include <apr_general.h>
#include <stdlib.h>
#include <string.h>

static apr_pool_t *pool;

/* ---- A small scanner of the generated markup ----------------------------------------------
 * It knows the subset tw_html writes: start tags with double-quoted or bare attributes,
 * end tags, void and self-closing elements, <!DOCTYPE>. It records every attribute and
 * checks that tags nest and that no raw '<' or stray quote shows up where it should not. */

#define MAX_ATTRS 256

typedef struct attr {
    int tag;       /* index of the element in document order */
    char elem[16]; /* element name */
    char name[32];
    char value[512]; /* as written (still escaped); "" for a bare attribute */
} attr;

typedef struct scan {
    attr attrs[MAX_ATTRS];
    int nattrs;
    int ntags;
    int scripts_in_body; /* <script> elements after <body> */
    const char *error;   /* NULL if the markup is well formed and balanced */
} scan;

static scan sc;

static int is_void(const char *e)
{
    return !strcmp(e, "meta") || !strcmp(e, "link") || !strcmp(e, "input") || !strcmp(e, "br");
}

static const scan *scan_html(const char *h)
{
    char stack[64][16];
    int depth = 0, in_body = 0;
    memset(&sc, 0, sizeof(sc));
    const char *p = h;
    while ((p = strchr(p, '<'))) {
        if (!strncmp(p, "<!DOCTYPE html>", 15)) {
            p += 15;
            continue;
        }
        int closing = p[1] == '/';
        const char *q = p + 1 + closing;
        size_t n = strspn(q, "abcdefghijklmnopqrstuvwxyz0123456789");
        if (n == 0 || n >= 16) {
            sc.error = "a '<' that does not start a tag";
            return &sc;
        }
        char elem[16];
        memcpy(elem, q, n);
        elem[n] = '\0';
        q += n;
        if (closing) {
            if (*q != '>' || depth == 0 || strcmp(stack[depth - 1], elem)) {
                sc.error = "an end tag that does not match";
                return &sc;
            }
            depth--;
            p = q + 1;
            continue;
        }
        int tag = sc.ntags++;
        if (!strcmp(elem, "body"))
            in_body = 1;
        if (!strcmp(elem, "script") && in_body)
            sc.scripts_in_body++;
        for (;;) {
            q += strspn(q, " \t\n");
            if (*q == '>') {
                q++;
                if (!is_void(elem)) {
                    if (depth == 64) {
                        sc.error = "nesting too deep";
                        return &sc;
                    }
                    strcpy(stack[depth++], elem);
                }
                break;
            }
            if (q[0] == '/' && q[1] == '>') {
                q += 2;
                break;
            }
            size_t an = strcspn(q, " \t\n=>/\"'<");
            if (an == 0 || an >= 32 || sc.nattrs == MAX_ATTRS) {
                sc.error = "a malformed attribute";
                return &sc;
            }
            attr *a = &sc.attrs[sc.nattrs++];
            a->tag = tag;
            strcpy(a->elem, elem);
            memcpy(a->name, q, an);
            a->name[an] = '\0';
            q += an;
            if (*q == '=') {
                if (q[1] != '"') {
                    sc.error = "an unquoted attribute value";
                    return &sc;
                }
                const char *e = strchr(q + 2, '"');
                if (!e || (size_t)(e - (q + 2)) >= sizeof(a->value) ||
                    memchr(q + 2, '<', (size_t)(e - (q + 2)))) {
                    sc.error = "an attribute value that is unterminated, too long or holds '<'";
                    return &sc;
                }
                memcpy(a->value, q + 2, (size_t)(e - (q + 2)));
                a->value[e - (q + 2)] = '\0';
                q = e + 1;
            }
        }
        p = q;
    }
    if (depth)
        sc.error = "an element that is not closed";
    return &sc;
}

/* The value of attribute `want` of the first `elem` whose attribute `key` is `keyval`. */
static const char *attr_of(const scan *s, const char *elem, const char *key, const char *keyval,
                           const char *want)
{
    for (int i = 0; i < s->nattrs; i++) {
        const attr *a = &s->attrs[i];
        if (strcmp(a->elem, elem) || strcmp(a->name, key) || strcmp(a->value, keyval))
            continue;
        for (int j = 0; j < s->nattrs; j++)
            if (s->attrs[j].tag == a->tag && !strcmp(s->attrs[j].name, want))
                return s->attrs[j].value;
        return NULL;
    }
    return NULL;
}

/* No attribute is an event handler (on...) and every URL is relative to the mount point. */
static const char *attrs_safe(const scan *s)
{
    static char why[700];
    for (int i = 0; i < s->nattrs; i++) {
        const attr *a = &s->attrs[i];
        if (!strncmp(a->name, "on", 2)) {
            snprintf(why, sizeof(why), "event handler attribute %s", a->name);
            return why;
        }
        if (!strcmp(a->name, "src") || !strcmp(a->name, "href") || !strcmp(a->name, "action") ||
            !strcmp(a->name, "hx-post") || !strcmp(a->name, "hx-get") ||
            !strcmp(a->name, "sse-connect")) {
            /* The empty icon: a data URL that makes no request at all. */
            if (!strcmp(a->name, "href") && !strcmp(a->value, "data:,"))
                continue;
            if (a->value[0] == '/' || strstr(a->value, "//") || strchr(a->value, ':') ||
                a->value[0] == '\0') {
                snprintf(why, sizeof(why), "%s=\"%s\" is not a relative URL", a->name, a->value);
                return why;
            }
        }
    }
    return NULL;
}

static int count(const char *hay, const char *needle)
{
    int k = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        k++;
    return k;
}

/* ---- Cards ------------------------------------------------------------------------------ */

static const char *card(uint64_t ms, uint64_t seq, const char *user, const char *msg)
{
    tw_post p = {.id = {ms, seq},
                 .user = user,
                 .user_len = strlen(user),
                 .msg = msg,
                 .msg_len = strlen(msg)};
    tw_buf b;
    tw_buf_init(&b, pool, 0);
    tw_html_card(&b, &p, "");
    return b.data;
}

static void test_card(void)
{
    const char *c = card(1700000000123ULL, 0, "BraveOtter42", "Hello\nworld & <you>");
    const scan *s = scan_html(c);
    is_str(s->error, NULL, "card: well formed and balanced");
    ok(!strncmp(c, "<article", 8) && !strcmp(c + strlen(c) - 10, "</article>"),
       "card: one <article> element");
    is_str(attr_of(s, "article", "id", "post-1700000000123-0", "id"), "post-1700000000123-0",
           "card: id attribute post-<ms>-<seq>");
    is_str(attr_of(s, "time", "datetime", "2023-11-14T22:13:20.123Z", "datetime"),
           "2023-11-14T22:13:20.123Z", "card: <time datetime> in UTC with milliseconds");
    has_str(c, ">14 Nov 2023, 22:13 UTC</time>", "card: readable UTC time");
    has_str(c, "<strong class=\"tw-user\">BraveOtter42</strong>", "card: username");
    has_str(c, ">Hello\nworld &amp; &lt;you&gt;</p>", "card: message escaped, newline kept");
    has_str(c, "<svg", "card: inline SVG avatar");
    has_str(c, ">BO</text></svg>", "card: avatar initials");
    char fill[64];
    snprintf(fill, sizeof(fill), "hsl(%u,55%%,40%%)", tw_name_hue("BraveOtter42", 12));
    is_str(attr_of(s, "circle", "fill", fill, "fill"), fill, "card: avatar colour from the name");
    is_str(attrs_safe(s), NULL, "card: no handlers, URLs relative");
    is_str(attr_of(s, "a", "class", "tw-permalink", "href"), "home/post/1700000000123-0",
           "card: the time links to the post's page");
    is_str(attr_of(s, "article", "id", "post-1700000000123-0", "aria-labelledby"),
           "h-1700000000123-0", "card: the article is named by its header");
    is_str(attr_of(s, "header", "id", "h-1700000000123-0", "class"), "tw-head",
           "card: the header that names it");
    is_str(attr_of(s, "time", "datetime", "2023-11-14T22:13:20.123Z", "title"),
           "14 Nov 2023, 22:13:20 UTC", "card: the time to the second in its title");
    lacks_str(c, "style=", "card: no inline style (the policy refuses it)");
    ok(strstr(c, "<header") && strstr(c, "</header><p class=\"tw-msg\">"),
       "card: the header, then the message");
    has_str(c,
            "href=\"home/post/1700000000123-0\"><time datetime=", "card: the link holds the time");
    has_str(c, "UTC</time></a>", "card: and only the time");
    tw_post rp = {
        .id = {1700000000123ULL, 7}, .user = "a", .user_len = 1, .msg = "b", .msg_len = 1};
    tw_buf rb;
    tw_buf_init(&rb, pool, 0);
    tw_html_card(&rb, &rp, "../../");
    has_str(rb.data, "href=\"../../home/post/1700000000123-7\"",
            "card: the link through the root it is given");

    c = card(1700000000123ULL, 42, "a", "b");
    has_str(c, "id=\"post-1700000000123-42\"", "card: the sequence number in the id");
    c = card(0, 0, "a", "b");
    has_str(c, "datetime=\"1970-01-01T00:00:00.000Z\"", "card: the epoch");
    has_str(c, ">1 Jan 1970, 00:00 UTC<", "card: the epoch, readable");
    c = card(1, 0, "a", "b");
    has_str(c, "datetime=\"1970-01-01T00:00:00.001Z\"", "card: one millisecond");
    c = card(1709251199999ULL, 0, "a", "b");
    has_str(c, "datetime=\"2024-02-29T23:59:59.999Z\"", "card: leap day, last millisecond");
    has_str(c, ">29 Feb 2024, 23:59 UTC<", "card: leap day, readable");
    c = card(1704067199999ULL, 0, "a", "b");
    has_str(c, "datetime=\"2023-12-31T23:59:59.999Z\"", "card: end of a year");
    has_str(c, ">31 Dec 2023, 23:59 UTC<", "card: December");
    c = card(947394367089ULL, 0, "a", "b");
    has_str(c, "datetime=\"2000-01-09T05:06:07.089Z\"", "card: zero padding");
    has_str(c, ">9 Jan 2000, 05:06 UTC<", "card: zero padding, readable");

    /* Hostile text. */
    c = card(5, 1, "<script>alert(1)</script>", "\" onmouseover=\"x");
    s = scan_html(c);
    is_str(s->error, NULL, "card (hostile): still well formed and balanced");
    lacks_str(c, "<script", "card (hostile): no raw <script");
    has_str(c, "&lt;script&gt;alert(1)&lt;/script&gt;", "card (hostile): username escaped");
    has_str(c, "&quot; onmouseover=&quot;x", "card (hostile): message quotes escaped");
    lacks_str(c, "\" onmouseover", "card (hostile): no raw quote before the handler");
    is_str(attrs_safe(s), NULL, "card (hostile): no event handler attribute");
    has_str(c, ">&lt;</text></svg>", "card (hostile): initials escaped");

    c = card(5, 1, "\" onmouseover=\"x", "<img src=x onerror=alert(1)>");
    s = scan_html(c);
    is_str(s->error, NULL, "card (hostile 2): well formed");
    is_str(attrs_safe(s), NULL, "card (hostile 2): no event handler attribute");
    lacks_str(c, "<img", "card (hostile 2): no raw <img");
    has_str(c, ">&quot;</text>", "card (hostile 2): quote initial escaped");

    /* Stored posts are validated on input, but a NUL in one (written by another client)
     * must not turn escaping off for the rest of the text. */
    static const char nul_msg[] = "hi\0<script>alert(1)</script>";
    tw_post np = {.id = {5, 2},
                  .user = "x\0<b>",
                  .user_len = 6,
                  .msg = nul_msg,
                  .msg_len = sizeof(nul_msg) - 1};
    tw_buf nb;
    tw_buf_init(&nb, pool, 0);
    tw_html_card(&nb, &np, "");
    ok(!memmem(nb.data, nb.len, "<script", 7) && !memmem(nb.data, nb.len, "<b>", 3),
       "card (NUL in stored text): no raw markup after the NUL");
}

/* ---- Pages ------------------------------------------------------------------------------ */

static const tw_post posts[] = {
    {.id = {1700000000300ULL, 0}, .user = "Newest", .user_len = 6, .msg = "third", .msg_len = 5},
    {.id = {1700000000200ULL, 5}, .user = "Middle", .user_len = 6, .msg = "second", .msg_len = 6},
    {.id = {1700000000100ULL, 0}, .user = "Oldest", .user_len = 6, .msg = "first", .msg_len = 5},
};

static const char *page(const char *user, const tw_post *ps, int n, const char *notice, int live)
{
    tw_page pg = {.username = user,
                  .key = "Kx_1-9",
                  .posts = ps,
                  .nposts = n,
                  .notice = notice,
                  .live = live};
    tw_buf b;
    tw_buf_init(&b, pool, 0);
    tw_html_page(&b, &pg);
    return b.data;
}

static void test_page(void)
{
    const char *h = page("BraveOtter42", posts, 3, NULL, 1);
    const scan *s = scan_html(h);
    is_str(s->error, NULL, "page: well formed and balanced");
    ok(!strncmp(h, "<!DOCTYPE html>", 15), "page: doctype first");
    has_str(h, "</html>\n", "page: ends the document");
    is_int(count(h, "<article"), 3, "page: one card per post");
    const char *a = strstr(h, "id=\"post-1700000000300-0\"");
    const char *b = strstr(h, "id=\"post-1700000000200-5\"");
    const char *c = strstr(h, "id=\"post-1700000000100-0\"");
    ok(a && b && c && a < b && b < c, "page: newest-first order kept");
    is_str(attr_of(s, "div", "id", "live", "sse-connect"), "home/sse?last_event_id=1700000000300-0",
           "page: live stream resumes after posts[0]");
    is_str(attr_of(s, "div", "id", "live", "hx-ext"), "sse", "page: the htmx SSE extension");
    is_str(attr_of(s, "div", "id", "feed", "sse-swap"), "post,delete,count,presence",
           "page: the feed takes every kind of event");
    is_str(attr_of(s, "div", "id", "feed", "hx-swap"), "afterbegin", "page: new posts on top");

    lacks_str(h, "localhost", "page: no 'localhost'");
    lacks_str(h, "http", "page: no absolute URL (http)");
    lacks_str(h, "//", "page: no protocol-relative or absolute URL (//)");
    is_str(attrs_safe(s), NULL, "page: every src/href/action/hx-post/sse-connect is relative");
    is_int(s->scripts_in_body, 0, "page: no <script> in the body");
    is_str(attr_of(s, "meta", "name", "htmx-config", "content"),
           "{&quot;includeIndicatorStyles&quot;:false}",
           "page: htmx inserts no inline indicator styles (the CSP refuses inline styles)");

    ok(attr_of(s, "input", "name", "username", "type") == NULL,
       "page: no username field (the author is the signed cookie's)");
    is_str(attr_of(s, "input", "name", "key", "type"), "hidden", "page: hidden idempotency key");
    is_str(attr_of(s, "input", "name", "key", "value"), "Kx_1-9", "page: its value");
    is_str(attr_of(s, "form", "id", "compose", "method"), "post", "page: form method post");
    is_str(attr_of(s, "form", "id", "compose", "action"), "home", "page: form action home");
    is_str(attr_of(s, "form", "id", "compose", "hx-post"), "home", "page: form hx-post home");
    ok(attr_of(s, "textarea", "name", "message", "name") != NULL, "page: textarea name=message");
    has_str(h, "<strong id=\"whoami\">BraveOtter42</strong>", "page: who am I");
    lacks_str(h, "tw-notice", "page: no notice when notice is NULL");
    is_int(count(h, "<h1"), 1, "page: one h1");
    has_str(h, "<h1 class=\"tw-h1\">Latest posts</h1>", "page: its heading");
    ok(strstr(h, "<header class=\"tw-top\">") && strstr(h, "<main id=\"main\""),
       "page: landmarks: a banner and main");
    is_str(attr_of(s, "div", "id", "feed", "role"), "feed", "page: the feed is a feed (role)");
    is_str(attr_of(s, "div", "id", "feed", "aria-label"), "Posts", "page: named");
    lacks_str(h, "data-max", "page: no limit told when the page has none");
    lacks_str(h, "style=", "page: no inline style");

    h = page("BraveOtter42", NULL, 0, NULL, 1);
    s = scan_html(h);
    is_str(s->error, NULL, "page (empty): well formed");
    is_str(attr_of(s, "div", "id", "live", "sse-connect"), "home/sse?last_event_id=0-0",
           "page (empty): resumes from 0-0");
    is_int(count(h, "<article"), 0, "page (empty): no cards");
    has_str(h,
            "<div id=\"feed\" sse-swap=\"post,delete,count,presence\" hx-swap=\"afterbegin\"></div>\n"
            "<p id=\"feed-empty\" "
            "class=\"tw-empty\">No posts yet. Write the first one above.</p>\n",
            "page (empty): says so, after the feed, where live cards go");
    h = page("BraveOtter42", NULL, 0, "The feed is unavailable", 1);
    lacks_str(h, "feed-empty", "page (empty, with a notice): no empty note: nothing was read");
    ok(attr_of(s, "div", "id", "feed", "role") == NULL,
       "page (empty): no feed role without an article (the script adds it with the first)");
    ok(attr_of(s, "div", "id", "feed", "aria-label") == NULL, "page (empty): nor its name");

    h = page("BraveOtter42", posts, 3, NULL, 0);
    s = scan_html(h);
    is_str(s->error, NULL, "page (not live): well formed and balanced");
    lacks_str(h, "sse-connect", "page (not live): no sse-connect");
    lacks_str(h, "hx-ext=\"sse\"", "page (not live): no SSE extension");
    is_int(count(h, "<article"), 3, "page (not live): the cards are still there");
    ok(attr_of(s, "div", "id", "feed", "id") != NULL, "page (not live): the feed is there");

    h = page("BraveOtter42", posts, 1, "<b>Saved</b> & \"done\" 'ok'", 1);
    s = scan_html(h);
    is_str(s->error, NULL, "page (notice): well formed");
    has_str(h, ">&lt;b&gt;Saved&lt;/b&gt; &amp; &quot;done&quot; &#39;ok&#39;</div>",
            "page (notice): notice escaped");
    lacks_str(h, "<b>", "page (notice): no raw markup from the notice");
    is_str(attr_of(s, "div", "id", "live", "sse-connect"), "home/sse?last_event_id=1700000000300-0",
           "page (notice): one post, resumes after it");

    /* Hostile username (the module validates it, but escaping must not depend on that). */
    h = page("\" onmouseover=\"x", posts, 1, "<script>alert(1)</script>", 1);
    s = scan_html(h);
    is_str(s->error, NULL, "page (hostile): well formed and balanced");
    is_str(attrs_safe(s), NULL, "page (hostile): no event handler attribute");
    is_int(s->scripts_in_body, 0, "page (hostile): no <script> in the body");
    has_str(h, "<strong id=\"whoami\">&quot; onmouseover=&quot;x</strong>",
            "page (hostile): who am I escaped");

    h = page(NULL, posts, 0, NULL, 1);
    s = scan_html(h);
    is_str(s->error, NULL, "page (not signed in): well formed");
    has_str(h, "<span id=\"whoami\">not signed in</span>", "page (not signed in): says so");
    lacks_str(h, "tw-avatar", "page (not signed in): no avatar");
}

/* The live event of a post carries exactly the card the page shows, one data line per line. */
static void test_post_event(void)
{
    const char *want = card(1700000000123ULL, 7, "BraveOtter42", "two\nlines <b>");
    tw_post p = {.id = {1700000000123ULL, 7},
                 .user = "BraveOtter42",
                 .user_len = 12,
                 .msg = "two\nlines <b>",
                 .msg_len = 13};
    tw_event ev = {.kind = TW_EVENT_POST, .id = p.id, .post = p};
    tw_buf b;
    tw_buf_init(&b, pool, 0);
    tw_html_event(&b, &ev);
    const char *e = b.data;
    static const char head[] = "id: 1700000000123-7\nevent: post\ndata: <article";
    ok(!strncmp(e, head, sizeof(head) - 1),
       "post event: id line, event name, then the card as data");
    ok(b.len > 2 && !strcmp(e + b.len - 2, "\n\n"), "post event: ends with a blank line");
    /* Join the data lines back as an EventSource would. */
    tw_buf joined;
    tw_buf_init(&joined, pool, 0);
    for (const char *l = e; *l;) {
        const char *nl = strchr(l, '\n');
        if (!strncmp(l, "data: ", 6)) {
            if (joined.len)
                tw_buf_add(&joined, "\n", 1);
            tw_buf_add(&joined, l + 6, (size_t)(nl - l - 6));
        }
        l = nl + 1;
    }
    is_str(joined.data, want, "post event: data lines join to the page's card");
}

static void test_error_page(void)
{
    tw_buf b;
    tw_buf_init(&b, pool, 0);
    tw_html_error_page(&b, "", "Post <refused>", "message is too long & \"bad\"");
    const char *h = b.data;
    const scan *s = scan_html(h);
    is_str(s->error, NULL, "error page: well formed and balanced");
    has_str(h, "<title>Post &lt;refused&gt;</title>", "error page: title escaped");
    has_str(h, ">Post &lt;refused&gt;</h1>", "error page: heading escaped");
    has_str(h, "<p>message is too long &amp; &quot;bad&quot;</p>", "error page: reason escaped");
    is_str(attr_of(s, "a", "href", "home", "href"), "home", "error page: link back to the feed");
    is_int(count(h, "<h1"), 1, "error page: one h1");
    has_str(h, "<main id=\"main\"", "error page: in main");
    lacks_str(h, "http", "error page: no absolute URL");
    lacks_str(h, "localhost", "error page: no 'localhost'");
    is_str(attrs_safe(s), NULL, "error page: URLs relative");

    tw_buf_init(&b, pool, 0);
    tw_html_error_page(&b, "../../", "Not Found", "gone");
    s = scan_html(b.data);
    is_str(s->error, NULL, "error page (post): well formed");
    is_str(attr_of(s, "a", "href", "../../home", "href"), "../../home",
           "error page (post): the link back through the root");
    is_str(attr_of(s, "script", "src", "../../lib/htmx.min.js", "src"), "../../lib/htmx.min.js",
           "error page (post): scripts through the root");
    is_str(attr_of(s, "link", "href", "../../lib/tweetsse.css", "rel"), "stylesheet",
           "error page (post): styles through the root");
}

/* A page of older posts, its fragment, and the control that leads from one to the next. */
static void test_older(void)
{
    tw_page pg = {
        .username = "BraveOtter42", .key = "k", .posts = posts, .nposts = 3, .live = 1, .more = 1};
    tw_buf b;
    tw_buf_init(&b, pool, 0);
    tw_html_page(&b, &pg);
    const scan *s = scan_html(b.data);
    is_str(s->error, NULL, "older: the first page with a control is well formed");
    is_str(attr_of(s, "a", "id", "older", "href"), "home?before=1700000000100-0",
           "older: the control links to the page before the oldest card");
    is_str(attr_of(s, "a", "id", "older", "hx-get"), "home?before=1700000000100-0",
           "older: htmx gets the same");
    is_str(attr_of(s, "a", "id", "older", "hx-trigger"), "revealed",
           "older: once scrolled into view");
    is_str(attr_of(s, "a", "id", "older", "hx-target"), "#feed", "older: into the feed");
    is_str(attr_of(s, "a", "id", "older", "hx-swap"), "beforeend", "older: after its cards");
    ok(attr_of(s, "a", "id", "older", "hx-swap-oob") == NULL,
       "older: on the page, no out-of-band swap");
    const char *feed = strstr(b.data, "<div id=\"feed\"");
    const char *last = strstr(b.data, "id=\"post-1700000000100-0\"");
    const char *closed = strstr(b.data, "</article>\n</div>\n<a id=\"older\"");
    const char *ctl = strstr(b.data, "<a id=\"older\"");
    const char *end = strstr(b.data, "</div></main>");
    ok(feed && last && closed && ctl && end && feed < last && last < closed && ctl < end,
       "older: the control follows the feed (a feed owns articles only), in the live part");
    lacks_str(b.data, "That's all.", "older: no end marker while there is more");
    lacks_str(b.data, "Newest posts", "older: the first page needs no link to the newest");

    pg.more = 0;
    tw_buf_init(&b, pool, 0);
    tw_html_page(&b, &pg);
    lacks_str(b.data, "id=\"older\"", "older: no control at the end of the history");
    has_str(b.data,
            "</article>\n</div>\n<p id=\"feed-end\" class=\"tw-end\">That's all.</p>\n</div>",
            "older: the end marker, after the feed");
    pg.nposts = 0;
    tw_buf_init(&b, pool, 0);
    tw_html_page(&b, &pg);
    lacks_str(b.data, "That's all.", "older: an empty feed has no end marker");
    has_str(b.data, "No posts yet.", "older: an empty first page says so");

    tw_page more = {.posts = posts + 1, .nposts = 2, .older = 1, .more = 1};
    tw_buf_init(&b, pool, 0);
    tw_html_feed_more(&b, &more);
    s = scan_html(b.data);
    is_str(s->error, NULL, "older fragment: well formed");
    ok(!strncmp(b.data, "<article", 8), "older fragment: starts with the cards");
    is_int(count(b.data, "<article"), 2, "older fragment: one card per post");
    is_str(attr_of(s, "a", "id", "older", "hx-get"), "home?before=1700000000100-0",
           "older fragment: ends with the next control");
    is_str(attr_of(s, "a", "id", "older", "hx-swap-oob"), "true",
           "older fragment: which replaces the one that asked (out of band)");
    lacks_str(b.data, "<html", "older fragment: no document around it");
    lacks_str(b.data, "whoami", "older fragment: no navbar");
    more.more = 0;
    more.nposts = 0;
    tw_buf_init(&b, pool, 0);
    tw_html_feed_more(&b, &more);
    is_str(b.data,
           "<p id=\"feed-end\" class=\"tw-end\" hx-swap-oob=\"outerHTML:#older\">"
           "That's all.</p>\n",
           "older fragment: nothing older: only the end marker");
    more.older = 1;
    tw_buf_init(&b, pool, 0);
    tw_html_page_feed(&b, &more);
    lacks_str(b.data, "feed-empty", "older page: nothing older is the end, not an empty feed");

    tw_page full = {.username = "BraveOtter42",
                    .key = "k",
                    .posts = posts + 1,
                    .nposts = 2,
                    .older = 1,
                    .more = 1};
    tw_buf_init(&b, pool, 0);
    tw_html_page(&b, &full);
    s = scan_html(b.data);
    is_str(s->error, NULL, "older page: well formed");
    lacks_str(b.data, "sse-connect", "older page: no live stream");
    has_str(b.data, "<strong id=\"whoami\">BraveOtter42</strong>", "older page: the navbar");
    ok(attr_of(s, "form", "id", "compose", "action") != NULL, "older page: the form");
    is_str(attr_of(s, "a", "href", "home", "href"), "home", "older page: a link to the newest");
    is_int(count(b.data, "<article"), 2, "older page: its cards");
    is_str(attr_of(s, "a", "id", "older", "href"), "home?before=1700000000100-0",
           "older page: the next control");
    is_str(attrs_safe(s), NULL, "older page: URLs relative");
    has_str(b.data, "<h1 class=\"tw-h1\">Older posts</h1>", "older page: its heading");
    has_str(b.data, "<title>Older posts on TweetSSE</title>", "older page: its title");
}

/* Two authors with one name but two identities look different: the tag, and the avatar's
 * colour from it; a post from before identities keeps its colour from the name. */
static void test_card_identity(void)
{
    static const char ida[] = "c:AAAAAAAAAAAAAAAAAAAAAA", idb[] = "c:BBBBBBBBBBBBBBBBBBBBBB";
    tw_post a = {.id = {1700000000123ULL, 1},
                 .user = "BraveOtter42",
                 .user_len = 12,
                 .msg = "x",
                 .msg_len = 1,
                 .author = ida,
                 .author_len = sizeof(ida) - 1};
    tw_post b2 = a, old = a;
    b2.author = idb;
    old.author = "", old.author_len = 0;
    tw_buf x, y, z;
    tw_buf_init(&x, pool, 0);
    tw_buf_init(&y, pool, 0);
    tw_buf_init(&z, pool, 0);
    tw_html_card(&x, &a, "");
    tw_html_card(&y, &b2, "");
    tw_html_card(&z, &old, "");
    const char *fx = strstr(x.data, "fill=\"hsl("), *fy = strstr(y.data, "fill=\"hsl(");
    ok(fx && fy && strncmp(fx, fy, 16) != 0, "identity: another identity, another colour");
    char tag[TW_IDENTITY_TAG_LEN + 1], want[64];
    tw_identity_tag(ida + 2, tag);
    snprintf(want, sizeof(want), "#%s", tag);
    has_str(x.data, want, "identity: the tag of the author's identity shown");
    lacks_str(x.data, ida + 2, "identity: but never the identity itself");
    char by[TW_IDENTITY_BY_LEN + 1];
    tw_identity_by(ida, sizeof(ida) - 1, by);
    snprintf(want, sizeof(want), "data-by=\"%s\"", by);
    has_str(x.data, want, "identity: the author's marker on the card");
    lacks_str(z.data, "tw-tag", "identity: a post from before identities: no tag");
    lacks_str(z.data, "data-by", "identity: nor a marker");
    lacks_str(z.data, "tw-own", "identity: nor a delete control (only a moderator can)");
    snprintf(want, sizeof(want), "fill=\"hsl(%u,", tw_name_hue("BraveOtter42", 12));
    has_str(z.data, want, "identity: and its colour from the name, as before");
}

/* A card's actions: a like toggle with the count and a delete control, both plain forms that
 * htmx posts without leaving the page; the events that change a card on open pages. */
static void test_card_actions(void)
{
    static const char ida[] = "c:AAAAAAAAAAAAAAAAAAAAAA";
    tw_post p = {.id = {1700000000123ULL, 2},
                 .user = "a",
                 .user_len = 1,
                 .msg = "m",
                 .msg_len = 1,
                 .author = ida,
                 .author_len = sizeof(ida) - 1,
                 .likes = 42};
    tw_buf b;
    tw_buf_init(&b, pool, 0);
    tw_html_card(&b, &p, "../../");
    const scan *s = scan_html(b.data);
    is_str(s->error, NULL, "actions: the card is well formed");
    is_str(attr_of(s, "form", "class", "tw-like-form", "action"), "../../home/post/1700000000123-2",
           "actions: like posts to the post's URL");
    is_str(attr_of(s, "form", "class", "tw-like-form", "hx-post"),
           "../../home/post/1700000000123-2", "actions: through htmx too");
    is_str(attr_of(s, "button", "id", "like-1700000000123-2", "aria-pressed"), "false",
           "actions: the like button is a toggle, not pressed for everyone");
    has_str(b.data, "id=\"likes-1700000000123-2\">42</span>", "actions: the count");
    is_str(attr_of(s, "form", "class", "tw-own", "action"), "../../home/post/1700000000123-2",
           "actions: the delete control");
    has_str(b.data, "name=\"action\" value=\"delete\"", "actions: which deletes");
    has_str(b.data, "name=\"action\" value=\"toggle\"", "actions: and toggles the like");

    tw_event del = {.kind = TW_EVENT_DELETE, .id = {1700000000999ULL, 0}, .target = p.id};
    tw_buf_init(&b, pool, 0);
    tw_html_event(&b, &del);
    is_str(b.data,
           "id: 1700000000999-0\nevent: delete\ndata: <article id=\"post-1700000000123-2\" "
           "hx-swap-oob=\"delete\"></article>\n\n",
           "delete event: its id, and a swap that removes the card");
    tw_event cnt = {
        .kind = TW_EVENT_COUNT, .id = {1700000001000ULL, 3}, .target = p.id, .count = 7};
    tw_buf_init(&b, pool, 0);
    tw_html_event(&b, &cnt);
    is_str(b.data,
           "id: 1700000001000-3\nevent: count\ndata: <span class=\"tw-likes\" "
           "id=\"likes-1700000000123-2\" hx-swap-oob=\"true\">7</span>\n\n",
           "count event: the count alone, swapped in place");
    tw_buf_init(&b, pool, 0);
    tw_html_like(&b, "1700000000123-2", 1, 8, 1);
    s = scan_html(b.data);
    is_str(s->error, NULL, "like answer: well formed");
    is_str(attr_of(s, "button", "id", "like-1700000000123-2", "aria-pressed"), "true",
           "like answer: pressed for the one who liked");
    is_str(attr_of(s, "button", "id", "like-1700000000123-2", "hx-swap-oob"), "true",
           "like answer: swapped out of band");
    tw_buf_init(&b, pool, 0);
    tw_html_viewer_css(&b, "0123456789abc");
    is_str(b.data, ".tw-post[data-by=\"0123456789abc\"] .tw-own{display:inline-block}\n",
           "viewer stylesheet: shows the viewer's own delete controls");
}

/* The moderators' page: every card with a removal form that posts its id to the page. */
static void test_moderation_page(void)
{
    tw_page pg = {.posts = posts, .nposts = 3, .more = 1};
    tw_buf b;
    tw_buf_init(&b, pool, 0);
    tw_html_moderation_page(&b, "../", "<root>", &pg);
    const scan *s = scan_html(b.data);
    is_str(s->error, NULL, "moderation page: well formed");
    has_str(b.data, "<strong id=\"moderator\">&lt;root&gt;</strong>",
            "moderation page: the moderator's name, escaped");
    is_int(count(b.data, "class=\"tw-remove-form\""), 3, "moderation page: a removal each");
    has_str(b.data, "name=\"post\" value=\"1700000000300-0\"", "moderation page: by id");
    is_str(attr_of(s, "a", "id", "older", "href"), "?before=1700000000100-0",
           "moderation page: older posts");
    has_str(b.data, "href=\"../home/post/1700000000300-0\"",
            "moderation page: cards link up to the mount");
}

/* The page of one post, at <mount>home/post/<id>: every URL goes up to the mount. */
static void test_post_page(void)
{
    tw_post p = {.id = {1700000000123ULL, 4},
                 .user = "Brave<Otter>",
                 .user_len = 12,
                 .msg = "hello & bye",
                 .msg_len = 11,
                 .author = "c:AAAAAAAAAAAAAAAAAAAAAA",
                 .author_len = 24};
    char tag[TW_IDENTITY_TAG_LEN + 1], want[96];
    tw_identity_tag("AAAAAAAAAAAAAAAAAAAAAA", tag);
    tw_buf b;
    tw_buf_init(&b, pool, 0);
    tw_page who = {.username = "CalmHeron7", .usertag = "zx2b7qm1", .viewer = "0123456789abc"};
    tw_html_post_page(&b, &who, &p);
    const scan *s = scan_html(b.data);
    is_str(s->error, NULL, "post page: well formed and balanced");
    ok(!strncmp(b.data, "<!DOCTYPE html>", 15), "post page: a document");
    has_str(b.data, "<title>Brave&lt;Otter&gt; on TweetSSE</title>", "post page: title escaped");
    has_str(b.data, "<strong id=\"whoami\">CalmHeron7</strong> <span class=\"tw-tag\">#zx2b7qm1",
            "post page: the navbar, with the visitor's tag");
    snprintf(want, sizeof(want), "Brave&lt;Otter&gt; <span class=\"tw-tag\">#%s</span></strong>",
             tag);
    has_str(b.data, want, "post page: the author's tag beside the name");
    is_str(attr_of(s, "link", "href", "../../home/viewer.css?by=0123456789abc", "href"),
           "../../home/viewer.css?by=0123456789abc", "post page: the viewer's stylesheet");
    is_int(count(b.data, "<article"), 1, "post page: one card");
    has_str(b.data, ">hello &amp; bye</p>", "post page: the message escaped");
    is_str(attr_of(s, "a", "id", "back", "href"), "../../home", "post page: back to the feed");
    is_str(attr_of(s, "a", "class", "tw-brand", "href"), "../../home",
           "post page: the brand leads to the feed");
    is_str(attr_of(s, "a", "class", "tw-permalink", "href"), "../../home/post/1700000000123-4",
           "post page: the time links to this page");
    is_str(attr_of(s, "script", "src", "../../lib/tweetsse.js", "src"), "../../lib/tweetsse.js",
           "post page: scripts from the mount's lib/");
    lacks_str(b.data, "\"lib/", "post page: nothing relative to home/post/");
    lacks_str(b.data, "sse-connect", "post page: no live stream");
    lacks_str(b.data, "id=\"compose\"", "post page: no compose form");
    is_int(count(b.data, "<h1"), 1, "post page: one h1");
    is_int(s->scripts_in_body, 0, "post page: no <script> in the body");
    is_str(attrs_safe(s), NULL, "post page: URLs relative");
    tw_buf_init(&b, pool, 0);
    tw_page nobody = {.username = NULL};
    tw_html_post_page(&b, &nobody, &p);
    has_str(b.data, "not signed in", "post page: without a name");
    lacks_str(b.data, "#zx2b7qm1", "post page: nor a tag");
}

/* How many read the feed: a line on the live page, hidden until the count is known. */
static void test_readers(void)
{
    tw_page pg = {.username = "a", .presence = 1, .readers = 12};
    tw_buf b;
    tw_buf_init(&b, pool, 0);
    tw_html_page_top(&b, &pg);
    has_str(b.data,
            "<p id=\"readers-line\" class=\"tw-readers\"><span id=\"readers\">12</span> reading "
            "now</p>",
            "readers: the count on the page");
    pg.readers = -1;
    tw_buf_init(&b, pool, 0);
    tw_html_page_top(&b, &pg);
    has_str(b.data, "<p id=\"readers-line\" class=\"tw-readers\" hidden>",
            "readers: unknown yet: the line waits, hidden, for the first count");
    pg.presence = 0;
    tw_buf_init(&b, pool, 0);
    tw_html_page_top(&b, &pg);
    lacks_str(b.data, "readers", "readers: not on a page without the live stream");
}

/* The page in two parts: the top depends on the visitor only, the feed on the posts only, so
 * one rendering of the feed can serve every visitor. */
static void test_page_parts(void)
{
    tw_page pg = {.username = "BraveOtter42", .key = "k1", .posts = posts, .nposts = 3, .live = 1};
    tw_buf whole, top, feed;
    tw_buf_init(&whole, pool, 0);
    tw_buf_init(&top, pool, 0);
    tw_buf_init(&feed, pool, 0);
    tw_html_page(&whole, &pg);
    tw_html_page_top(&top, &pg);
    tw_html_page_feed(&feed, &pg);
    ok(whole.len == top.len + feed.len && !memcmp(whole.data, top.data, top.len) &&
           !memcmp(whole.data + top.len, feed.data, feed.len),
       "page parts: top then feed is the whole page");
    ok(!memmem(feed.data, feed.len, "BraveOtter42", 12), "page parts: no visitor name in the feed");
    ok(!memmem(top.data, top.len, "<article", 8), "page parts: no card in the top");

    tw_page other = {.username = "CalmHeron7", .key = "k2", .posts = posts, .nposts = 3, .live = 1};
    tw_buf feed2;
    tw_buf_init(&feed2, pool, 0);
    tw_html_page_feed(&feed2, &other);
    ok(feed2.len == feed.len && !memcmp(feed2.data, feed.data, feed.len),
       "page parts: the same feed for another visitor");
}

/* The hub's renderer makes the same bytes, as blobs, and a reload event. */
static void test_renderer(void)
{
    tw_hub_renderer r;
    ok(tw_render_init(&r) == APR_SUCCESS, "renderer: made");
    tw_post p = {
        .id = {1700000000123ULL, 4}, .user = "ann", .user_len = 3, .msg = "a<b", .msg_len = 3};
    tw_buf b;
    tw_buf_init(&b, pool, 0);
    tw_event ev = {.kind = TW_EVENT_POST, .id = p.id, .post = p};
    tw_html_event(&b, &ev);
    tw_blob *blob = r.event(r.ctx, &ev);
    ok(blob && blob->len == b.len && memcmp(blob->data, b.data, b.len) == 0,
       "renderer: a post's frame is its live event");
    tw_blob_release(blob);
    tw_blob *reload = r.reload(r.ctx);
    is_str(reload ? reload->data : NULL, "event: reload\ndata: \n\n", "renderer: the reload event");
    tw_blob_release(reload);
    for (int i = 0; i < 1000; i++)
        tw_blob_release(r.event(r.ctx, &ev));
    ok(1, "renderer: its scratch pool is cleared after each frame (ASan sees no leak)");
    apr_pool_destroy(r.ctx);
}

/* The compose form tells the page script the server's limit; the counter has its place. */
static void test_compose(void)
{
    tw_page pg = {.username = "BraveOtter42", .key = "k", .max_chars = 280};
    tw_buf b;
    tw_buf_init(&b, pool, 0);
    tw_html_page(&b, &pg);
    const scan *s = scan_html(b.data);
    is_str(s->error, NULL, "compose: well formed");
    is_str(attr_of(s, "textarea", "id", "message", "data-max"), "280",
           "compose: the limit in code points, from the server");
    is_str(attr_of(s, "textarea", "id", "message", "aria-describedby"),
           "compose-count compose-error", "compose: described by the counter and the error");
    ok(attr_of(s, "span", "id", "compose-count", "id") != NULL, "compose: the counter's place");
    ok(attr_of(s, "textarea", "id", "message", "maxlength") == NULL,
       "compose: no maxlength (it counts UTF-16 units, the server code points)");
    is_str(attr_of(s, "label", "for", "message", "class"), "tw-sr", "compose: a label");
    pg.max_chars = 1000;
    pg.notice = "down";
    tw_buf_init(&b, pool, 0);
    tw_html_page(&b, &pg);
    s = scan_html(b.data);
    is_str(attr_of(s, "textarea", "id", "message", "data-max"), "1000", "compose: another limit");
    has_str(b.data, "<div class=\"tw-notice\" role=\"status\">down</div>",
            "compose: the notice below it, a status");
}

/* Versioned asset URLs: lib/<name>?v=<version> once a version is set, escaped. */
static void test_assets(void)
{
    ok(tw_html_set_asset_version("htmx.min.js", "0123456789ab"), "assets: htmx is named");
    ok(tw_html_set_asset_version("tweetsse.css", "a\"b<c"), "assets: the stylesheet is named");
    ok(!tw_html_set_asset_version("bootstrap.min.css", "x"), "assets: an unknown name is not");
    tw_buf b;
    tw_buf_init(&b, pool, 0);
    tw_html_error_page(&b, "../../", "Not Found", "gone");
    const scan *s = scan_html(b.data);
    is_str(s->error, NULL, "assets: well formed");
    has_str(b.data, "<script src=\"../../lib/htmx.min.js?v=0123456789ab\" defer></script>",
            "assets: the version as a query, through the root");
    has_str(b.data, "<link rel=\"stylesheet\" href=\"../../lib/tweetsse.css?v=a&quot;b&lt;c\">",
            "assets: the version escaped");
    has_str(b.data, "<script src=\"../../lib/sse.js\" defer></script>",
            "assets: a file without a version keeps its plain name");
    lacks_str(b.data, "bootstrap", "assets: no framework stylesheet");
    tw_html_set_asset_version("htmx.min.js", NULL);
    tw_html_set_asset_version("tweetsse.css", NULL);
    tw_buf_init(&b, pool, 0);
    tw_html_error_page(&b, "", "x", "y");
    has_str(b.data, "<script src=\"lib/htmx.min.js\" defer></script>", "assets: unset again");
}

int main(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
    test_card();
    test_page();
    test_page_parts();
    test_post_event();
    test_error_page();
    test_older();
    test_post_page();
    test_compose();
    test_assets();
    test_card_identity();
    test_card_actions();
    test_readers();
    test_moderation_page();
    test_renderer();
    apr_pool_destroy(pool);
    apr_terminate();
    return done_testing();
}
