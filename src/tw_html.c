#include "tw_html.h"
#include "tw_identity.h"
#include "tw_name.h"
#include "tw_sse.h"

#include <apr_time.h>
#include <stdint.h>
#include <string.h>

/* Authors whose tag and marker each thread remembers, and the longest it remembers ("u:" and
 * a user of up to 62 bytes; an identity "c:<22>" fits). */
#define TW_HTML_SEEN       16
#define TW_HTML_AUTHOR_MAX 64

static const char *const tw_months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* The static files the head names, in the order it names them, each with its version once
 * tw_html_set_asset_version has been told it. */
static struct {
    const char *name;
    const char *version;
    int script; /* 1: a deferred script, 0: a stylesheet */
} tw_assets[] = {
    {"tweetsse.css", NULL, 0},
    {"htmx.min.js", NULL, 1},
    {"sse.js", NULL, 1},
    {"tweetsse.js", NULL, 1},
};
#define TW_NASSETS (sizeof(tw_assets) / sizeof(tw_assets[0]))

int tw_html_set_asset_version(const char *name, const char *version)
{
    for (size_t i = 0; i < TW_NASSETS; i++) {
        if (!strcmp(tw_assets[i].name, name)) {
            tw_assets[i].version = version;
            return 1;
        }
    }
    return 0;
}

/* The avatar: initials on a disc coloured from the tag (or the name, without one); no external
 * request. */
static void tw_html_avatar(tw_buf *b, const char *user, size_t n, const char *tag, size_t tn)
{
    char ini[3];
    tw_name_initials(user, n, ini);
    tw_buf_adds(b, "<svg class=\"tw-avatar\" width=\"48\" height=\"48\" "
                   "viewBox=\"0 0 48 48\" aria-hidden=\"true\"><circle cx=\"24\" cy=\"24\" "
                   "r=\"24\" fill=\"hsl(");
    tw_buf_add_num(b, tw_identity_hue(user, n, tag, tn), 0);
    tw_buf_adds(b, ",55%,40%)\"/><text x=\"24\" y=\"30\" "
                   "text-anchor=\"middle\" font-family=\"sans-serif\" font-size=\"18\" "
                   "fill=\"#fff\">");
    tw_buf_add_escaped(b, ini, strlen(ini));
    tw_buf_adds(b, "</text></svg>");
}

/* The tag beside a name ("#k3f9x2aa"), if it has one. */
static void tw_html_tag(tw_buf *b, const char *tag, size_t n)
{
    if (!n)
        return;
    tw_buf_adds(b, " <span class=\"tw-tag\">#");
    tw_buf_add_escaped(b, tag, n);
    tw_buf_adds(b, "</span>");
}

void tw_html_like(tw_buf *b, const char *id, int liked, long likes, int oob)
{
    tw_buf_adds(b, "<button type=\"submit\" name=\"action\" value=\"toggle\" class=\"tw-like\" "
                   "id=\"like-");
    tw_buf_adds(b, id);
    tw_buf_adds(b, liked ? "\" aria-pressed=\"true\"" : "\" aria-pressed=\"false\"");
    if (oob)
        tw_buf_adds(b, " hx-swap-oob=\"true\"");
    tw_buf_adds(b, ">Like <span class=\"tw-likes\" id=\"likes-");
    tw_buf_adds(b, id);
    tw_buf_adds(b, "\">");
    tw_buf_add_num(b, likes, 0);
    tw_buf_adds(b, "</span></button>");
}

/* One action of a card: a form that posts to the post's URL, plainly or through htmx; its
 * button says which action (name="action"), as the submitter of the form. */
static void tw_html_action_open(tw_buf *b, const char *cls, const char *id, const char *root)
{
    size_t rn = strlen(root);
    tw_buf_adds(b, "<form class=\"");
    tw_buf_adds(b, cls);
    tw_buf_adds(b, "\" method=\"post\" action=\"");
    tw_buf_add_escaped(b, root, rn);
    tw_buf_adds(b, "home/post/");
    tw_buf_adds(b, id);
    tw_buf_adds(b, "\" hx-post=\"");
    tw_buf_add_escaped(b, root, rn);
    tw_buf_adds(b, "home/post/");
    tw_buf_adds(b, id);
    tw_buf_adds(b, "\">");
}

/* The card's actions, in its footer below the message: the like toggle with the count, and the
 * delete control, which the viewer's stylesheet shows on the viewer's own posts only
 * (tw_html_viewer_css). The same for every viewer: the page's script marks what the viewer
 * likes. */
static void tw_html_actions(tw_buf *b, const tw_post *p, const char *id, const char *root)
{
    /* hx-swap here, for both forms: nothing but what the answer marks out of band (the feed
     * around it swaps its events in at the top). */
    tw_buf_adds(b, "<footer class=\"tw-foot tw-actions\" hx-swap=\"none\">");
    tw_html_action_open(b, "tw-like-form", id, root);
    tw_html_like(b, id, 0, p->likes, 0);
    tw_buf_adds(b, "</form>");
    if (p->author_len) {
        tw_html_action_open(b, "tw-own", id, root);
        tw_buf_adds(b, "<button type=\"submit\" name=\"action\" value=\"delete\" "
                       "class=\"tw-delete\">Delete</button></form>");
    }
    tw_buf_adds(b, "</footer>");
}

/* "hh:mm", and ":ss" with `secs`. */
static void tw_html_clock(tw_buf *b, const apr_time_exp_t *t, int secs)
{
    tw_buf_add_num(b, t->tm_hour, 2);
    tw_buf_add(b, ":", 1);
    tw_buf_add_num(b, t->tm_min, 2);
    if (secs) {
        tw_buf_add(b, ":", 1);
        tw_buf_add_num(b, t->tm_sec, 2);
    }
}

/* "D Mon YYYY, " */
static void tw_html_date(tw_buf *b, const apr_time_exp_t *t)
{
    tw_buf_add_num(b, t->tm_mday, 0);
    tw_buf_add(b, " ", 1);
    tw_buf_adds(b, tw_months[t->tm_mon]);
    tw_buf_add(b, " ", 1);
    tw_buf_add_num(b, t->tm_year + 1900, 4);
    tw_buf_add(b, ", ", 2);
}

/* The card's <time>: the instant in datetime (UTC, milliseconds), to the second in the title,
 * to the minute as text; the page script turns the text into a relative time in the reader's
 * language and zone, and the title into the exact time in their zone. */
static void tw_html_time(tw_buf *b, tw_id id)
{
    apr_time_exp_t t;
    /* Ids of this module are milliseconds since 1970; a foreign id beyond year 9999 is
     * clamped rather than overflowing. */
    uint64_t ms = id.ms < 253402300799999ULL ? id.ms : 253402300799999ULL;
    apr_time_exp_gmt(&t, (apr_time_t)ms * 1000);
    int year = t.tm_year + 1900;
    /* <time datetime="YYYY-MM-DDThh:mm:ss.mmmZ" title="D Mon YYYY, hh:mm:ss UTC">D Mon YYYY,
     * hh:mm UTC</time>, without printf. */
    tw_buf_adds(b, "<time datetime=\"");
    tw_buf_add_num(b, year, 4);
    tw_buf_add(b, "-", 1);
    tw_buf_add_num(b, t.tm_mon + 1, 2);
    tw_buf_add(b, "-", 1);
    tw_buf_add_num(b, t.tm_mday, 2);
    tw_buf_add(b, "T", 1);
    tw_html_clock(b, &t, 1);
    tw_buf_add(b, ".", 1);
    tw_buf_add_num(b, t.tm_usec / 1000, 3);
    tw_buf_adds(b, "Z\" title=\"");
    tw_html_date(b, &t);
    tw_html_clock(b, &t, 1);
    tw_buf_adds(b, " UTC\">");
    tw_html_date(b, &t);
    tw_html_clock(b, &t, 0);
    tw_buf_adds(b, " UTC</time>");
}

/* An author's tag and marker, as tw_html_marks remembers them. */
typedef struct tw_html_marked {
    char author[TW_HTML_AUTHOR_MAX];
    size_t n; /* 0: an empty slot */
    char tag[TW_IDENTITY_TAG_LEN + 1];
    size_t tn;
    char by[TW_IDENTITY_BY_LEN + 1];
} tw_html_marked;

/* The authors seen last by this thread, by a hash of the author: a child renders every post's
 * card in its subscriber's thread, and the same authors post again and again. */
static _Thread_local tw_html_marked tw_html_seen[TW_HTML_SEEN];

/* The author's tag (tw_identity_author_tag; its length returned) and marker (tw_identity_by)
 * into `tag` and `by`. Each is a SHA-256, so they are remembered per thread for the last
 * TW_HTML_SEEN authors (one slot each by a hash of the author); O(author) on a hit. */
static size_t tw_html_marks(const char *author, size_t n, char *tag, char *by)
{
    if (!n || n >= TW_HTML_AUTHOR_MAX) {
        tw_identity_by(author, n, by);
        return tw_identity_author_tag(author, n, tag);
    }
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)author[i]) * 16777619u;
    tw_html_marked *m = &tw_html_seen[h % TW_HTML_SEEN];
    if (m->n != n || memcmp(m->author, author, n) != 0) {
        m->tn = tw_identity_author_tag(author, n, m->tag);
        tw_identity_by(author, n, m->by);
        memcpy(m->author, author, n);
        m->n = n;
    }
    memcpy(tag, m->tag, sizeof(m->tag));
    memcpy(by, m->by, sizeof(m->by));
    return m->tn;
}

void tw_html_card(tw_buf *b, const tw_post *p, const char *root)
{
    char id[TW_ID_MAX], tag[TW_IDENTITY_TAG_LEN + 1], by[TW_IDENTITY_BY_LEN + 1];
    tw_id_format(p->id, id);
    size_t tn = tw_html_marks(p->author, p->author_len, tag, by);
    tw_buf_adds(b, "<article class=\"card tw-post\" id=\"post-");
    tw_buf_adds(b, id);
    tw_buf_add(b, "\"", 1);
    if (*by) {
        tw_buf_adds(b, " data-by=\"");
        tw_buf_adds(b, by);
        tw_buf_add(b, "\"", 1);
    }
    /* The article is named by its header (the author and the time), as the feed pattern of
     * WAI-ARIA asks; its id carries no "post-" prefix, so that post-<id> stays unique. */
    tw_buf_adds(b, " aria-labelledby=\"h-");
    tw_buf_adds(b, id);
    tw_buf_adds(b, "\">");
    tw_html_avatar(b, p->user, p->user_len, tag, tn);
    tw_buf_adds(b, "<div class=\"tw-body\"><header class=\"tw-head\" id=\"h-");
    tw_buf_adds(b, id);
    tw_buf_adds(b, "\"><strong class=\"tw-user\">");
    tw_buf_add_escaped(b, p->user, p->user_len);
    tw_html_tag(b, tag, tn);
    tw_buf_adds(b, "</strong> <a class=\"tw-permalink\" href=\"");
    tw_buf_add_escaped(b, root, strlen(root));
    tw_buf_adds(b, "home/post/");
    tw_buf_adds(b, id);
    tw_buf_adds(b, "\">");
    tw_html_time(b, p->id);
    tw_buf_adds(b, "</a></header><p class=\"tw-msg\">");
    tw_buf_add_escaped(b, p->msg, p->msg_len);
    tw_buf_adds(b, "</p>");
    tw_html_actions(b, p, id, root);
    tw_buf_adds(b, "</div></article>");
}

void tw_html_event(tw_buf *b, const tw_event *ev)
{
    tw_buf data;
    char id[TW_ID_MAX], target[TW_ID_MAX];
    tw_id_format(ev->id, id);
    tw_id_format(ev->target, target);
    tw_buf_init(&data, b->pool, 1024);
    switch (ev->kind) {
    case TW_EVENT_POST:
        tw_html_card(&data, &ev->post, "");
        tw_sse_event(b, id, "post", data.data, data.len);
        return;
    case TW_EVENT_DELETE:
        tw_buf_addf(&data, "<article id=\"post-%s\" hx-swap-oob=\"delete\"></article>", target);
        tw_sse_event(b, id, "delete", data.data, data.len);
        return;
    case TW_EVENT_COUNT:
        tw_buf_adds(&data, "<span class=\"tw-likes\" id=\"likes-");
        tw_buf_adds(&data, target);
        tw_buf_adds(&data, "\" hx-swap-oob=\"true\">");
        tw_buf_add_num(&data, ev->count, 0);
        tw_buf_adds(&data, "</span>");
        tw_sse_event(b, id, "count", data.data, data.len);
        return;
    }
}

void tw_html_viewer_css(tw_buf *b, const char *by)
{
    tw_buf_addf(b, ".tw-post[data-by=\"%s\"] .tw-own{display:inline-block}\n", by);
}

/* Everything up to and including <body>; `root` leads from the document to the mount;
 * `viewer`, when not NULL, the viewer's marker: its stylesheet (tw_html_viewer_css). */
static void tw_html_head(tw_buf *b, const char *root, const char *title, const char *viewer)
{
    size_t rn = strlen(root);
    tw_buf_adds(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                   "<meta name=\"color-scheme\" content=\"light dark\">"
                   /* htmx would insert its indicator styles inline, which the page's
                    * Content-Security-Policy (style-src 'self') refuses; none are used. */
                   "<meta name=\"htmx-config\" "
                   "content=\"{&quot;includeIndicatorStyles&quot;:false}\">"
                   "<title>");
    tw_buf_add_escaped(b, title, strlen(title));
    tw_buf_adds(b, "</title><link rel=\"icon\" href=\"data:,\">");
    for (size_t i = 0; i < TW_NASSETS; i++) {
        tw_buf_adds(b, tw_assets[i].script ? "<script src=\"" : "<link rel=\"stylesheet\" href=\"");
        tw_buf_add_escaped(b, root, rn);
        tw_buf_addf(b, "lib/%s", tw_assets[i].name);
        if (tw_assets[i].version) {
            tw_buf_adds(b, "?v=");
            tw_buf_add_escaped(b, tw_assets[i].version, strlen(tw_assets[i].version));
        }
        tw_buf_adds(b, tw_assets[i].script ? "\" defer></script>" : "\">");
        if (viewer && !tw_assets[i].script) { /* after the page's own stylesheet */
            tw_buf_adds(b, "<link rel=\"stylesheet\" href=\"");
            tw_buf_add_escaped(b, root, rn);
            tw_buf_adds(b, "home/viewer.css?by=");
            tw_buf_add_escaped(b, viewer, strlen(viewer));
            tw_buf_adds(b, "\">");
        }
    }
    tw_buf_adds(b, "</head>\n<body>");
}

/* The banner: the name of the feed (a link to it) and the visitor's name and avatar. The page
 * script adds the live status between them. */
static void tw_html_banner(tw_buf *b, const char *root, const char *username, const char *usertag)
{
    size_t tn = usertag ? strlen(usertag) : 0;
    tw_buf_adds(b, "<header class=\"tw-top\"><div class=\"tw-wrap tw-bar\"><a class=\"tw-brand\" "
                   "href=\"");
    tw_buf_add_escaped(b, root, strlen(root));
    tw_buf_adds(b, "home\">TweetSSE</a><span class=\"tw-me\">");
    if (username) {
        size_t ulen = strlen(username);
        tw_html_avatar(b, username, ulen, usertag, tn);
        tw_buf_adds(b, "<strong id=\"whoami\">");
        tw_buf_add_escaped(b, username, ulen);
        tw_buf_adds(b, "</strong>");
        tw_html_tag(b, usertag, tn);
    } else {
        tw_buf_adds(b, "<span id=\"whoami\">not signed in</span>");
    }
    tw_buf_adds(b, "</span></div></header>\n");
}

/* The compose form. The limit is the server's (data-max, in code points), for the counter of
 * the page script; without the script the server's refusal says it. */
static void tw_html_compose(tw_buf *b, const tw_page *pg)
{
    tw_buf_adds(b, "<form id=\"compose\" class=\"tw-compose\" method=\"post\" action=\"home\" "
                   "hx-post=\"home\" hx-swap=\"none\">");
    if (pg->key) {
        tw_buf_adds(b, "<input type=\"hidden\" name=\"key\" value=\"");
        tw_buf_add_escaped(b, pg->key, strlen(pg->key));
        tw_buf_adds(b, "\">");
    }
    tw_buf_adds(b, "<label class=\"tw-sr\" for=\"message\">Message</label>"
                   "<textarea id=\"message\" name=\"message\" rows=\"3\" required "
                   "placeholder=\"What&#39;s happening?\" "
                   "aria-describedby=\"compose-count compose-error\"");
    if (pg->max_chars > 0)
        tw_buf_addf(b, " data-max=\"%ld\"", pg->max_chars);
    tw_buf_adds(b, "></textarea><div class=\"tw-compose-foot\"><div id=\"compose-error\" "
                   "class=\"tw-error\" role=\"alert\" aria-live=\"polite\"></div><span "
                   "id=\"compose-count\" class=\"tw-count\"></span><button type=\"submit\" "
                   "class=\"tw-btn\">Tweet</button></div></form>\n");
}

void tw_html_page_top(tw_buf *b, const tw_page *pg)
{
    tw_html_head(b, "", pg->older ? "Older posts on TweetSSE" : "TweetSSE", pg->viewer);
    tw_html_banner(b, "", pg->username, pg->usertag);
    tw_buf_adds(b, pg->older ? "<main id=\"main\" class=\"tw-wrap\"><h1 class=\"tw-h1\">Older "
                               "posts</h1>"
                             : "<main id=\"main\" class=\"tw-wrap\"><h1 class=\"tw-h1\">Latest "
                               "posts</h1>");
    tw_html_compose(b, pg);
    if (pg->presence) /* the page script keeps the number current (presence events) */
        tw_buf_addf(b,
                    "<p id=\"readers-line\" class=\"tw-readers\"%s><span id=\"readers\">%ld</span> "
                    "reading now</p>\n",
                    pg->readers < 0 ? " hidden" : "", pg->readers < 0 ? 0L : pg->readers);
    if (pg->notice) {
        tw_buf_adds(b, "<div class=\"tw-notice\" role=\"status\">");
        tw_buf_add_escaped(b, pg->notice, strlen(pg->notice));
        tw_buf_adds(b, "</div>\n");
    }
}

/* The "Older posts" control that follows the feed: a link to the page that starts before
 * `oldest`; with htmx, once scrolled into view, it appends the next cards to the feed. In a
 * fragment (`oob`) it replaces the control that asked for it. */
static void tw_html_older(tw_buf *b, tw_id oldest, int oob)
{
    char id[TW_ID_MAX];
    tw_id_format(oldest, id);
    tw_buf_addf(b,
                "<a id=\"older\" class=\"tw-older\"%s href=\"home?before=%s\" "
                "hx-get=\"home?before=%s\" hx-trigger=\"revealed\" hx-target=\"#feed\" "
                "hx-swap=\"beforeend\">Older posts</a>\n",
                oob ? " hx-swap-oob=\"true\"" : "", id, id);
}

/* The end of the history, after the feed; in a fragment it replaces the control. */
static void tw_html_end(tw_buf *b, int oob)
{
    tw_buf_addf(b, "<p id=\"feed-end\" class=\"tw-end\"%s>That's all.</p>\n",
                oob ? " hx-swap-oob=\"outerHTML:#older\"" : "");
}

static void tw_html_cards(tw_buf *b, const tw_page *pg)
{
    for (int i = 0; i < pg->nposts; i++) {
        tw_html_card(b, &pg->posts[i], "");
        tw_buf_add(b, "\n", 1);
    }
}

/* What follows the cards: the control, the end marker, or on a first page without posts (and
 * without a notice that the store is unreachable) a note that the feed is empty, which the
 * page's stylesheet hides once a live card arrives. */
static void tw_html_feed_tail(tw_buf *b, const tw_page *pg, int oob)
{
    if (pg->more && pg->nposts > 0)
        tw_html_older(b, pg->posts[pg->nposts - 1].id, oob);
    else if (pg->nposts > 0 || pg->older)
        tw_html_end(b, oob);
    else if (!oob && !pg->notice)
        tw_buf_adds(b, "<p id=\"feed-empty\" class=\"tw-empty\">No posts yet. Write the first one "
                       "above.</p>\n");
}

void tw_html_page_feed(tw_buf *b, const tw_page *pg)
{
    if (pg->live) {
        char id[TW_ID_MAX] = "0-0";
        if (pg->nposts > 0)
            tw_id_format(pg->posts[0].id, id);
        tw_buf_addf(b,
                    "<div id=\"live\" hx-ext=\"sse\" "
                    "sse-connect=\"home/sse?last_event_id=%s\">",
                    id);
    }
    if (pg->older)
        tw_buf_adds(b, "<p class=\"tw-newest\"><a href=\"home\">Newest posts</a></p>\n");
    /* A feed (role) owns articles only, so the control and the end marker follow it; an empty
     * feed is no feed yet (the page script gives it the role with its first card). */
    tw_buf_adds(b, pg->nposts > 0
                       ? "<div id=\"feed\" role=\"feed\" aria-label=\"Posts\" "
                         "sse-swap=\"post,delete,count,presence\" hx-swap=\"afterbegin\">"
                       : "<div id=\"feed\" sse-swap=\"post,delete,count,presence\" "
                         "hx-swap=\"afterbegin\">");
    tw_html_cards(b, pg);
    tw_buf_adds(b, "</div>\n");
    tw_html_feed_tail(b, pg, 0);
    tw_buf_adds(b, pg->live ? "</div></main></body></html>\n" : "</main></body></html>\n");
}

void tw_html_feed_more(tw_buf *b, const tw_page *pg)
{
    tw_html_cards(b, pg);
    tw_html_feed_tail(b, pg, 1);
}

void tw_html_page(tw_buf *b, const tw_page *pg)
{
    tw_html_page_top(b, pg);
    tw_html_page_feed(b, pg);
}

void tw_html_post_page(tw_buf *b, const tw_page *who, const tw_post *p)
{
    const char *root = "../../";
    tw_buf title;
    tw_buf_init(&title, b->pool, 64);
    tw_buf_add(&title, p->user, p->user_len);
    tw_buf_adds(&title, " on TweetSSE");
    tw_html_head(b, root, title.data, who->viewer);
    tw_html_banner(b, root, who->username, who->usertag);
    tw_buf_adds(b, "<main id=\"main\" class=\"tw-wrap\"><h1 class=\"tw-h1\">Post</h1><div "
                   "id=\"post\">");
    tw_html_card(b, p, root);
    tw_buf_adds(b, "</div><p class=\"tw-back\"><a id=\"back\" href=\"../../home\">Back to the "
                   "feed</a></p></main></body></html>\n");
}

void tw_html_moderation_page(tw_buf *b, const char *root, const char *user, const tw_page *pg)
{
    tw_html_head(b, root, "Moderation - TweetSSE", NULL);
    tw_buf_adds(b, "<main id=\"main\" class=\"tw-wrap tw-error-page\"><h1 class=\"tw-h1\">"
                   "Moderation</h1><p>Signed in as <strong id=\"moderator\">");
    tw_buf_add_escaped(b, user, strlen(user));
    tw_buf_adds(b, "</strong>. Removing a post takes it off every open page and out of the "
                   "feed for good.</p>\n");
    for (int i = 0; i < pg->nposts; i++) {
        char id[TW_ID_MAX];
        tw_id_format(pg->posts[i].id, id);
        tw_buf_adds(b, "<div class=\"tw-mod\">");
        tw_html_card(b, &pg->posts[i], root);
        tw_buf_addf(b,
                    "<form class=\"tw-remove-form\" method=\"post\"><input type=\"hidden\" "
                    "name=\"post\" value=\"%s\"><button type=\"submit\" class=\"tw-btn "
                    "tw-btn-danger\" aria-describedby=\"post-%s\">Remove</button>"
                    "</form></div>\n",
                    id, id);
    }
    if (pg->more && pg->nposts > 0) {
        char id[TW_ID_MAX];
        tw_id_format(pg->posts[pg->nposts - 1].id, id);
        tw_buf_addf(b,
                    "<p class=\"tw-back\"><a id=\"older\" href=\"?before=%s\">Older "
                    "posts</a></p>\n",
                    id);
    } else if (!pg->nposts) {
        tw_buf_adds(b, "<p id=\"feed-end\">No posts.</p>\n");
    }
    tw_buf_adds(b, "</main></body></html>\n");
}

void tw_html_error_page(tw_buf *b, const char *root, const char *title, const char *reason)
{
    tw_html_head(b, root, title, NULL);
    tw_buf_adds(b, "<main id=\"main\" class=\"tw-wrap tw-error-page\"><h1 class=\"tw-h1\">");
    tw_buf_add_escaped(b, title, strlen(title));
    tw_buf_adds(b, "</h1><p>");
    tw_buf_add_escaped(b, reason, strlen(reason));
    tw_buf_adds(b, "</p><p class=\"tw-back\"><a href=\"");
    tw_buf_add_escaped(b, root, strlen(root));
    tw_buf_adds(b, "home\">Back to the feed</a></p></main></body></html>\n");
}
