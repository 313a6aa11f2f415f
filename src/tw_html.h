/* tw_html: HTML of the feed page, of one post card (the same markup on the page and in
 * live events) and of the no-JavaScript error page. Every piece of visitor text is
 * escaped; every URL is relative to the mount point. The markup is the page's own
 * (htdocs/tweetsse.css): a banner, one h1, main, a feed (role="feed") of articles. httpd-free. */
#ifndef TW_HTML_H
#define TW_HTML_H

#include "tw_buf.h"
#include "tw_post.h"

typedef struct tw_page {
    const char *username; /* the visitor's name (validated); NULL: not signed in */
    const char *key;      /* the compose form's idempotency key (tw_text_check_key) */
    const tw_post *posts; /* newest first */
    int nposts;
    const char *notice; /* shown above the feed when not NULL (plain text) */
    int live;           /* 1: connect the live stream, resuming after posts[0] */
    int older;          /* 1: a page of older posts: a link to the newest, an end marker */
                        /* even without posts */
    int more;           /* 1: older posts may follow: the "Older posts" control after the */
                        /* feed (before its last card); else the end marker if any card */
    long max_chars;     /* the longest message (code points), told to the page script as */
                        /* the textarea's data-max; 0: not told */
} tw_page;

/* The page's static files (tweetsse.css, htmx.min.js, sse.js, tweetsse.js) are named as
 * <root>lib/<name>?v=<version> once their version (a hash of their bytes) is set here, so that
 * browsers may keep them without asking again; without one, as <root>lib/<name>. Returns 0 for
 * a name the head does not use. Call before rendering, from one thread (post_config): the
 * strings are kept, not copied. */
int tw_html_set_asset_version(const char *name, const char *version);

/* Append the card of one post: an <article id="post-<id>"> named by its header (aria-labelledby
 * "h-<id>"), with an inline SVG avatar, then a body: the header (the username, and a
 * <time datetime> in UTC, with the second in its title, inside a link to the post's own page,
 * `root` + "home/post/<id>"; `root` leads from the document to the mount: "" on the feed,
 * "../../" on a post's page) and the message (line breaks kept by CSS). Controls of a post
 * belong in a <footer class="tw-foot"> after the message, which the stylesheet lays out as a
 * row of buttons. The same bytes for every viewer. About 750 bytes plus the escaped text. */
void tw_html_card(tw_buf *b, const tw_post *p, const char *root);

/* Append the SSE event that carries one post live: id = the post id, event "post", data =
 * its card. Renders into a scratch buffer from `b`'s pool first, so about twice the card's
 * size is allocated. */
void tw_html_post_event(tw_buf *b, const tw_post *p);

/* Append the whole feed page: tw_html_page_top then tw_html_page_feed. O(total size of the
 * posts). */
void tw_html_page(tw_buf *b, const tw_page *pg);

/* The part of the page that depends on the visitor (head, banner, h1, compose form, notice);
 * uses username, key, notice, older and max_chars only. About 2.5 KB. */
void tw_html_page_top(tw_buf *b, const tw_page *pg);

/* The rest: the live-stream container resuming after posts[0], the feed of cards, newest first
 * (role="feed" once it has one), then after it the "Older posts" control or the end marker;
 * uses posts, nposts, live, older and more only, so one rendering can serve every visitor. */
void tw_html_page_feed(tw_buf *b, const tw_page *pg);

/* The answer to an "Older posts" control: the cards, which htmx appends to the feed, then the
 * next control or the end marker, each an out-of-band swap (hx-swap-oob) that replaces the
 * control (posts, nposts, more; older should be 1). O(size of the posts). */
void tw_html_feed_more(tw_buf *b, const tw_page *pg);

/* Append the page of one post, at <mount>home/post/<id>: the banner with `username` (NULL:
 * not signed in), the card and a link back to the feed. About 3.5 KB plus the text. */
void tw_html_post_page(tw_buf *b, const char *username, const tw_post *p);

/* Append a small page that explains why a request was refused, with a link back to the feed;
 * `root` leads from the document to the mount. */
void tw_html_error_page(tw_buf *b, const char *root, const char *title, const char *reason);

#endif
