/* tw_html: HTML of the feed page, of one post card (the same markup on the page and in
 * live events) and of the no-JavaScript error page. Every piece of visitor text is
 * escaped; every URL is relative to the mount point. The markup is the page's own
 * (htdocs/tweetsse.css): a banner, one h1, main, a feed (role="feed") of articles. httpd-free. */
#ifndef TW_HTML_H
#define TW_HTML_H

#include "tw_buf.h"
#include "tw_event.h"

typedef struct tw_page {
    const char *username; /* the visitor's name (validated); NULL: not signed in */
    const char *usertag;  /* the tag beside it (src/tw_identity), or NULL */
    const char *viewer;   /* the visitor's marker (tw_identity_by): its stylesheet; or NULL */
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
    int presence;       /* 1: say how many read the feed (the live page); readers < 0: not */
    long readers;       /* known yet (the line is there, hidden, for the page script) */
} tw_page;

/* The page's static files (tweetsse.css, htmx.min.js, sse.js, tweetsse.js) are named as
 * <root>lib/<name>?v=<version> once their version (a hash of their bytes) is set here, so that
 * browsers may keep them without asking again; without one, as <root>lib/<name>. Returns 0 for
 * a name the head does not use. Call before rendering, from one thread (post_config): the
 * strings are kept, not copied. */
int tw_html_set_asset_version(const char *name, const char *version);

/* Append the card of one post: an <article id="post-<id>" data-by="<author marker>"> named by
 * its header (aria-labelledby "h-<id>"), with an inline SVG avatar, then a body: the header
 * (the username and its tag, and a <time datetime> in UTC, with the second in its title, inside
 * a link to the post's own page, `root` + "home/post/<id>"; `root` leads from the document to
 * the mount: "" on the feed, "../../" on a post's page), the message (line breaks kept by CSS)
 * and a footer of actions (class tw-foot tw-actions: like, and delete for the author). The same
 * bytes for every viewer. About 1.3 KB plus the escaped text. */
void tw_html_card(tw_buf *b, const tw_post *p, const char *root);

/* Append the SSE event that carries one event of the log live, with the event's id: "post"
 * with the post's card; "delete" with an out-of-band swap that removes the post's card; "count"
 * with an out-of-band swap of the post's count alone (so that the viewer's own state of the
 * card, whether it likes it, stays). Renders into a scratch buffer from `b`'s pool first. */
void tw_html_event(tw_buf *b, const tw_event *ev);

/* Append the like toggle of post `id` (formatted) as the viewer sees it: the button
 * (id="like-<id>", aria-pressed per `liked`) with the count in it (id="likes-<id>", so that the
 * count is part of the button's name and a count event replaces it alone); with `oob`, the
 * button marked as an htmx out-of-band swap, for the answer to the viewer's own like. */
void tw_html_like(tw_buf *b, const char *id, int liked, long likes, int oob);

/* Append the stylesheet that names the viewer: it shows the delete control of the posts whose
 * author marker is `by` (src/tw_identity: TW_IDENTITY_BY_LEN characters of its alphabet).
 * Cards are rendered once for every viewer; this rule makes them the viewer's, without
 * JavaScript. */
void tw_html_viewer_css(tw_buf *b, const char *by);

/* Append the whole feed page: tw_html_page_top then tw_html_page_feed. O(total size of the
 * posts). */
void tw_html_page(tw_buf *b, const tw_page *pg);

/* The part of the page that depends on the visitor (head, banner, h1, compose form, notice,
 * how many read the feed); uses username, usertag, viewer, key, notice, older, max_chars,
 * presence and readers only. About 2.5 KB. */
void tw_html_page_top(tw_buf *b, const tw_page *pg);

/* The rest: the live-stream container resuming after posts[0], the feed of cards, newest first
 * (role="feed" once it has one), then after it the "Older posts" control or the end marker, or
 * on a first page without posts a note that the feed is empty (not with a notice: then the
 * store could not be read); uses posts, nposts, live, older, more and notice only, so one
 * rendering can serve every visitor. */
void tw_html_page_feed(tw_buf *b, const tw_page *pg);

/* The answer to an "Older posts" control: the cards, which htmx appends to the feed, then the
 * next control or the end marker, each an out-of-band swap (hx-swap-oob) that replaces the
 * control (posts, nposts, more; older should be 1). O(size of the posts). */
void tw_html_feed_more(tw_buf *b, const tw_page *pg);

/* Append the page of one post, at <mount>home/post/<id>: the banner with the visitor of `who`
 * (username, usertag, viewer; the rest unused), the card and a link back to the feed. About
 * 3.5 KB plus the text. */
void tw_html_post_page(tw_buf *b, const tw_page *who, const tw_post *p);

/* Append the moderators' page: moderator `user`, the cards of `pg` (posts, nposts, more) each
 * with a plain form that posts its id to the page's own URL (the removal), and a link to older
 * posts (?before=). `root` leads from the page to the mount. */
void tw_html_moderation_page(tw_buf *b, const char *root, const char *user, const tw_page *pg);

/* Append a small page that explains why a request was refused, with a link back to the feed;
 * `root` leads from the document to the mount. */
void tw_html_error_page(tw_buf *b, const char *root, const char *title, const char *reason);

#endif
