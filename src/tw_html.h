/* tw_html: HTML of the feed page, of one post card (the same markup on the page and in
 * live events) and of the no-JavaScript error page. Every piece of visitor text is
 * escaped; every URL is relative to the mount point. httpd-free. */
#ifndef TW_HTML_H
#define TW_HTML_H

#include "tw_buf.h"
#include "tw_post.h"

typedef struct tw_page {
    const char *username; /* the visitor's name (validated); NULL: not signed in */
    const char *usertag;  /* the tag beside it (src/tw_identity), or NULL */
    const char *key;      /* the compose form's idempotency key (tw_text_check_key) */
    const tw_post *posts; /* newest first */
    int nposts;
    const char *notice; /* shown above the feed when not NULL (plain text) */
    int live;           /* 1: connect the live stream, resuming after posts[0] */
    int older;          /* 1: a page of older posts: a link to the newest, an end marker */
                        /* even without posts */
    int more;           /* 1: older posts may follow: the "Older posts" control after the */
                        /* cards (before the last one); else the end marker if any card */
} tw_page;

/* Append the card of one post: an <article id="post-<id>"> with an inline SVG avatar, the
 * username and its tag, the message (line breaks kept by CSS) and a <time datetime> in UTC inside a
 * link to the post's own page, `root` + "home/post/<id>" (`root` leads from the document to the
 * mount: "" on the feed, "../../" on a post's page). About 650 bytes plus the escaped text. */
void tw_html_card(tw_buf *b, const tw_post *p, const char *root);

/* Append the SSE event that carries one post live: id = the post id, event "post", data =
 * its card. Renders into a scratch buffer from `b`'s pool first, so about twice the card's
 * size is allocated. */
void tw_html_post_event(tw_buf *b, const tw_post *p);

/* Append the whole feed page: tw_html_page_top then tw_html_page_feed. O(total size of the
 * posts). */
void tw_html_page(tw_buf *b, const tw_page *pg);

/* The part of the page that depends on the visitor (head, navbar, compose form, notice);
 * uses username, key and notice only. About 2.5 KB. */
void tw_html_page_top(tw_buf *b, const tw_page *pg);

/* The rest: the live-stream container resuming after posts[0], and the cards, newest first,
 * then the "Older posts" control or the end marker, or on a first page without posts a note
 * that the feed is empty (not with a notice: then the store could not be read); uses posts,
 * nposts, live, older, more and notice only, so one rendering can serve every visitor. */
void tw_html_page_feed(tw_buf *b, const tw_page *pg);

/* The fragment that replaces an "Older posts" control: the cards, then the next control or
 * the end marker (posts, nposts, more; older should be 1). O(size of the posts). */
void tw_html_feed_more(tw_buf *b, const tw_page *pg);

/* Append the page of one post, at <mount>home/post/<id>: the navbar with `username` (NULL:
 * not signed in) and its `usertag` (or NULL), the card and a link back to the feed. About
 * 3.5 KB plus the text. */
void tw_html_post_page(tw_buf *b, const char *username, const char *usertag, const tw_post *p);

/* Append a small page that explains why a request was refused, with a link back to the feed;
 * `root` leads from the document to the mount. */
void tw_html_error_page(tw_buf *b, const char *root, const char *title, const char *reason);

#endif
