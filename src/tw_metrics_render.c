/* tw_metrics_render.c: the three ways the metrics are shown (the Prometheus text format,
 * mod_status's ?auto lines and its HTML section), all from one table: a metric is one row of
 * tw_metric_rows, which says how each renderer names it. See tw_metrics.h. */
#include "tw_metrics.h"

#include <apr_strings.h>
#include <apr_time.h>
#include <string.h>

/* The values of one label. */
typedef struct tw_dim {
    const char *label;       /* the Prometheus label's name */
    int n;                   /* how many values */
    const char *const *name; /* label values; also ?auto child keys (cut_%s) */
    const char *const *key;  /* in ?auto instance keys (StreamsCut%s) */
    const char *const *text; /* in the HTML (Streams cut, %s) */
} tw_dim;

static const char *const tw_engine_names[] = {"socket", "thread"};
static const char *const tw_engine_keys[] = {"Socket", "Thread"};
static const tw_dim tw_dim_engine = {"engine", TW_METRICS_ENGINES, tw_engine_names, tw_engine_keys,
                                     tw_engine_names};

static const char *const tw_cut_names[] = {"lagged", "stalled"};
static const char *const tw_cut_keys[] = {"Lagged", "Stalled"};
static const tw_dim tw_dim_cut = {"reason", TW_METRICS_CUTS, tw_cut_names, tw_cut_keys,
                                  tw_cut_names};

static const char *const tw_refusal_names[] = {"rate_limited", "replayed", "bad_input", "forbidden",
                                               "store_failure"};
static const char *const tw_refusal_keys[] = {"RateLimited", "Replayed", "BadInput", "Forbidden",
                                              "StoreFailure"};
static const char *const tw_refusal_texts[] = {"rate limited", "replayed (idempotent)", "bad input",
                                               "cross-origin or identity", "store failure"};
static const tw_dim tw_dim_refusal = {"reason", TW_METRICS_REFUSALS, tw_refusal_names,
                                      tw_refusal_keys, tw_refusal_texts};

static const char *const tw_by_names[] = {"author", "moderator"};
static const char *const tw_by_keys[] = {"Author", "Moderator"};
static const char *const tw_by_texts[] = {"by the author", "by a moderator"};
static const tw_dim tw_dim_by = {"by", TW_METRICS_REMOVERS, tw_by_names, tw_by_keys, tw_by_texts};

static const char *const tw_like_names[] = {"like", "unlike"};
static const char *const tw_like_keys[] = {"Like", "Unlike"};
static const char *const tw_like_texts[] = {"given", "taken back"};
static const tw_dim tw_dim_like = {"change", TW_METRICS_LIKE_CHANGES, tw_like_names, tw_like_keys,
                                   tw_like_texts};

/* How a value is written. */
typedef enum {
    TW_KIND_COUNT, /* a whole number */
    TW_KIND_TIME,  /* a moment: Prometheus in seconds (%.3f), ?auto whole seconds */
    TW_KIND_POST,  /* a post id: Prometheus its time in seconds, elsewhere the id */
    TW_KIND_STATE, /* a child subscribed (1) or reconnecting (0) */
    TW_KIND_HIST,  /* a histogram */
} tw_kind;

typedef struct tw_value {
    long long n;  /* COUNT, STATE */
    apr_time_t t; /* TIME, and STATE's since */
    tw_id id;     /* POST */
    const tw_metrics_hist_view *h;
} tw_value;

/* One metric. `get` reads it from the instance (c NULL) or from child c; `i` is the label's
 * index when it has one. A name or key that is NULL leaves the metric out of that renderer;
 * the *_each forms hold a %s for the label (its key, its name or its text). */
typedef struct tw_metric {
    const char *name;  /* Prometheus family */
    const char *type;  /* gauge, counter, histogram */
    const char *help;  /* its HELP */
    int per_child;     /* Prometheus: one series per child ({child="<pid>"}) */
    const tw_dim *dim; /* its label, or NULL */
    tw_kind kind;
    tw_value (*get)(const tw_metrics_view *v, const tw_metrics_child_view *c, int i);
    const char *auto_key;  /* ?auto "Tweetsse<key>: " line (with a label: the sum) */
    const char *auto_each; /* ?auto line per label */
    const char *child_key; /* "<key>=" in each "TweetsseChild:" line */
    const char *child_each;
    const char *html; /* a row of the HTML instance table */
    const char *html_each;
    const char *col_each; /* a column per label of the HTML children table */
    const char *col;      /* a column of the HTML children table */
} tw_metric;

#define TW_N(x) ((tw_value){.n = (long long)(x)})

static tw_value tw_get_children(const tw_metrics_view *v, const tw_metrics_child_view *c, int i)
{
    (void)c, (void)i;
    return TW_N(v->nchildren);
}

static tw_value tw_get_streams(const tw_metrics_view *v, const tw_metrics_child_view *c, int i)
{
    const long *s = c ? c->streams : v->streams;
    return TW_N(i < 0 ? s[TW_METRICS_SOCKET] + s[TW_METRICS_THREAD] : s[i]);
}

static tw_value tw_get_subscribed(const tw_metrics_view *v, const tw_metrics_child_view *c, int i)
{
    (void)i;
    if (!c)
        return TW_N(v->subscribed_children);
    return (tw_value){.n = tw_metrics_child_subscribed(c), .t = c->sub_since};
}

static tw_value tw_get_reconnecting(const tw_metrics_view *v, const tw_metrics_child_view *c, int i)
{
    (void)c, (void)i;
    return TW_N(v->nchildren - v->subscribed_children);
}

static tw_value tw_get_since(const tw_metrics_view *v, const tw_metrics_child_view *c, int i)
{
    (void)v, (void)i;
    return (tw_value){.t = c->sub_since};
}

static tw_value tw_get_last_post(const tw_metrics_view *v, const tw_metrics_child_view *c, int i)
{
    (void)v, (void)i;
    return (tw_value){.id = c->last};
}

static tw_value tw_get_ring_head(const tw_metrics_view *v, const tw_metrics_child_view *c, int i)
{
    (void)v, (void)i;
    return TW_N(c->ring_head);
}

static tw_value tw_get_redis(const tw_metrics_view *v, const tw_metrics_child_view *c, int i)
{
    (void)v, (void)i;
    return TW_N(c->redis_in_use);
}

static tw_value tw_get_delivered(const tw_metrics_view *v, const tw_metrics_child_view *c, int i)
{
    (void)i;
    return TW_N(c ? c->delivered : v->delivered);
}

static tw_value tw_get_cut(const tw_metrics_view *v, const tw_metrics_child_view *c, int i)
{
    return TW_N(c ? c->cut[i] : v->cut[i]);
}

static tw_value tw_get_accepted(const tw_metrics_view *v, const tw_metrics_child_view *c, int i)
{
    (void)c, (void)i;
    return TW_N(v->accepted);
}

static tw_value tw_get_refused(const tw_metrics_view *v, const tw_metrics_child_view *c, int i)
{
    (void)c;
    return TW_N(v->refused[i]);
}

static tw_value tw_get_removed(const tw_metrics_view *v, const tw_metrics_child_view *c, int i)
{
    (void)c;
    return TW_N(v->removed[i]);
}

static tw_value tw_get_likes(const tw_metrics_view *v, const tw_metrics_child_view *c, int i)
{
    (void)c;
    return TW_N(v->likes[i]);
}

static tw_value tw_get_acts_refused(const tw_metrics_view *v, const tw_metrics_child_view *c, int i)
{
    (void)c;
    return TW_N(v->acts_refused[i]);
}

static tw_value tw_get_publish(const tw_metrics_view *v, const tw_metrics_child_view *c, int i)
{
    (void)c, (void)i;
    return (tw_value){.h = &v->publish};
}

static tw_value tw_get_lag(const tw_metrics_view *v, const tw_metrics_child_view *c, int i)
{
    (void)c, (void)i;
    return (tw_value){.h = &v->lag};
}

/* Every metric, in the order each renderer shows them. */
static const tw_metric tw_metric_rows[] = {
    {.name = "tweetsse_children",
     .type = "gauge",
     .help = "Child processes reporting metrics (those with a slot and alive).",
     .get = tw_get_children,
     .auto_key = "Children",
     .html = "Children reporting"},
    {.name = "tweetsse_streams",
     .type = "gauge",
     .help = "Open event streams of a child, by delivery engine (socket: the child's socket "
             "engine thread; thread: a worker thread per stream).",
     .per_child = 1,
     .dim = &tw_dim_engine,
     .get = tw_get_streams,
     .auto_key = "Streams",
     .auto_each = "Streams%s",
     .child_key = "streams",
     .child_each = "%s",
     .html = "Open streams",
     .col_each = "Streams (%s)"},
    {.name = "tweetsse_subscribed",
     .type = "gauge",
     .help = "1 while every Redis subscription of a child is up, 0 while one is "
             "(re)connecting.",
     .per_child = 1,
     .kind = TW_KIND_STATE,
     .get = tw_get_subscribed,
     .auto_key = "Subscribed",
     .child_key = "subscriber",
     .html = "Children subscribed to Redis",
     .col = "Subscriber"},
    {.get = tw_get_reconnecting, .auto_key = "Reconnecting"},
    {.name = "tweetsse_subscription_changed_timestamp_seconds",
     .type = "gauge",
     .help = "When a child's Redis subscription last went up or down (Unix time; 0: not yet).",
     .per_child = 1,
     .kind = TW_KIND_TIME,
     .get = tw_get_since,
     .child_key = "since"},
    {.name = "tweetsse_last_post_timestamp_seconds",
     .type = "gauge",
     .help = "Time part of the id of the last post a child's hub took (Unix time; 0: none "
             "yet).",
     .per_child = 1,
     .kind = TW_KIND_POST,
     .get = tw_get_last_post,
     .child_key = "last_post",
     .col = "Last post"},
    {.name = "tweetsse_ring_head",
     .type = "gauge",
     .help = "Sequence number of a child's next ring frame: frames its hub pushed since the "
             "child started.",
     .per_child = 1,
     .get = tw_get_ring_head,
     .child_key = "ring_head",
     .col = "Ring head"},
    {.name = "tweetsse_redis_connections_in_use",
     .type = "gauge",
     .help = "Connections of a child's Redis pool lent to a request now.",
     .per_child = 1,
     .get = tw_get_redis,
     .child_key = "redis_in_use",
     .col = "Redis in use"},
    {.name = "tweetsse_frames_delivered_total",
     .type = "counter",
     .help = "Frames (events) written to open streams, summed over every stream and child.",
     .get = tw_get_delivered,
     .auto_key = "FramesDelivered",
     .child_key = "frames_delivered",
     .html = "Frames delivered",
     .col = "Frames delivered"},
    {.name = "tweetsse_streams_cut_total",
     .type = "counter",
     .help = "Streams the server closed so that their clients resume: lagged (more than a "
             "ring of frames behind), stalled (the socket took nothing for a keepalive "
             "interval).",
     .dim = &tw_dim_cut,
     .get = tw_get_cut,
     .auto_each = "StreamsCut%s",
     .child_each = "cut_%s",
     .html_each = "Streams cut, %s",
     .col_each = "Cut (%s)"},
    {.name = "tweetsse_posts_accepted_total",
     .type = "counter",
     .help = "Posts stored through this instance.",
     .get = tw_get_accepted,
     .auto_key = "PostsAccepted",
     .html = "Posts accepted"},
    {.name = "tweetsse_posts_refused_total",
     .type = "counter",
     .help = "Posts this instance did not store, by reason: rate_limited (429), replayed (an "
             "idempotent retry, answered with the first post), bad_input (400, 413, 415), "
             "forbidden (403: cross-site or identity), store_failure (503).",
     .dim = &tw_dim_refusal,
     .get = tw_get_refused,
     .auto_each = "PostsRefused%s",
     .html_each = "Posts refused, %s"},
    {.name = "tweetsse_posts_removed_total",
     .type = "counter",
     .help = "Posts deleted through this instance, by whom: author (their own post), moderator "
             "(a post of anyone, through the tweetsse-moderation handler).",
     .dim = &tw_dim_by,
     .get = tw_get_removed,
     .auto_each = "PostsRemoved%s",
     .html_each = "Posts removed, %s"},
    {.name = "tweetsse_likes_total",
     .type = "counter",
     .help = "Likes changed through this instance: like (given), unlike (taken back).",
     .dim = &tw_dim_like,
     .get = tw_get_likes,
     .auto_each = "Likes%s",
     .html_each = "Likes %s"},
    {.name = "tweetsse_actions_refused_total",
     .type = "counter",
     .help = "Deletions and likes this instance did not do, by reason: rate_limited (429), "
             "replayed (a deletion done before, answered as the first), bad_input (400, 404, "
             "410, 413, 415), forbidden (403: cross-site, identity, another's post), "
             "store_failure (503).",
     .dim = &tw_dim_refusal,
     .get = tw_get_acts_refused,
     .auto_each = "ActionsRefused%s",
     .html_each = "Deletions and likes refused, %s"},
    {.name = "tweetsse_publish_latency_seconds",
     .type = "histogram",
     .help = "Round trip of the store's publish (the Redis script, and WAIT with replicas), "
             "measured in the publish handler, for every post that reached the store.",
     .kind = TW_KIND_HIST,
     .get = tw_get_publish,
     .auto_key = "Publish",
     .html = "Publish round trip, mean"},
    {.name = "tweetsse_delivery_lag_seconds",
     .type = "histogram",
     .help = "Time from a post's id (the time Redis stored it) to its frame entering a "
             "child's ring for that child's streams: one observation per post per child, not "
             "per stream.",
     .kind = TW_KIND_HIST,
     .get = tw_get_lag,
     .auto_key = "DeliveryLag",
     .html = "Delivery lag, mean"},
};

#define TW_NROWS (sizeof(tw_metric_rows) / sizeof(tw_metric_rows[0]))

/* ---- Prometheus text format 0.0.4 ---- */

static const int64_t tw_bounds[TW_METRICS_BUCKETS - 1] = {TW_METRICS_BOUNDS};

static void tw_prom_hist(tw_buf *b, const char *name, const tw_metrics_hist_view *h)
{
    for (int i = 0; i < TW_METRICS_BUCKETS - 1; i++)
        tw_buf_addf(b, "%s_bucket{le=\"%g\"} %llu\n", name, (double)tw_bounds[i] / 1e6,
                    (unsigned long long)h->count[i]);
    unsigned long long n = h->count[TW_METRICS_BUCKETS - 1];
    tw_buf_addf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name, n);
    tw_buf_addf(b, "%s_sum %.6f\n", name, (double)h->sum_us / 1e6);
    tw_buf_addf(b, "%s_count %llu\n", name, n);
}

/* One sample: the name, the labels "{...}" (or ""), the value as Prometheus reads it. */
static void tw_prom_sample(tw_buf *b, const tw_metric *m, const char *labels, tw_value x)
{
    tw_buf_addf(b, "%s%s ", m->name, labels);
    if (m->kind == TW_KIND_TIME)
        tw_buf_addf(b, "%.3f\n", (double)x.t / 1e6);
    else if (m->kind == TW_KIND_POST)
        tw_buf_addf(b, "%.3f\n", (double)x.id.ms / 1e3);
    else
        tw_buf_addf(b, "%lld\n", x.n);
}

/* The samples of one metric for the child `c` (or the instance, c NULL, with child label
 * `child` ""), one per label value. */
static void tw_prom_samples(tw_buf *b, const tw_metric *m, const tw_metrics_view *v,
                            const tw_metrics_child_view *c)
{
    apr_pool_t *p = b->pool;
    const char *child = c ? apr_psprintf(p, "child=\"%d\"", c->pid) : "";
    if (!m->dim) {
        tw_prom_sample(b, m, c ? apr_pstrcat(p, "{", child, "}", NULL) : "", m->get(v, c, -1));
        return;
    }
    for (int i = 0; i < m->dim->n; i++)
        tw_prom_sample(
            b, m,
            apr_psprintf(p, "{%s%s%s=\"%s\"}", child, c ? "," : "", m->dim->label, m->dim->name[i]),
            m->get(v, c, i));
}

void tw_metrics_prometheus(tw_buf *b, const tw_metrics_view *v)
{
    for (size_t k = 0; k < TW_NROWS; k++) {
        const tw_metric *m = &tw_metric_rows[k];
        if (!m->name)
            continue;
        tw_buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name, m->type);
        if (m->kind == TW_KIND_HIST)
            tw_prom_hist(b, m->name, m->get(v, NULL, -1).h);
        else if (!m->per_child)
            tw_prom_samples(b, m, v, NULL);
        else
            for (int i = 0; i < v->nchildren; i++)
                tw_prom_samples(b, m, v, &v->child[i]);
    }
}

/* ---- mod_status ?auto ---- */

/* A child's value as "key=value" after a space. */
static void tw_auto_child_value(tw_buf *b, const tw_metric *m, const char *key, tw_value x)
{
    char id[TW_ID_MAX];
    if (m->kind == TW_KIND_STATE) {
        tw_buf_addf(b, " %s=%s", key, x.n ? "subscribed" : "reconnecting");
    } else if (m->kind == TW_KIND_TIME) {
        tw_buf_addf(b, " %s=%lld", key, (long long)apr_time_sec(x.t));
    } else if (m->kind == TW_KIND_POST) {
        tw_id_format(x.id, id);
        tw_buf_addf(b, " %s=%s", key, id);
    } else {
        tw_buf_addf(b, " %s=%lld", key, x.n);
    }
}

/* The instance lines of one metric. */
static void tw_auto_instance(tw_buf *b, const tw_metric *m, const tw_metrics_view *v)
{
    if (m->kind == TW_KIND_HIST) {
        const tw_metrics_hist_view *h = m->get(v, NULL, -1).h;
        tw_buf_addf(b, "Tweetsse%sCount: %llu\nTweetsse%sSeconds: %.6f\n", m->auto_key,
                    (unsigned long long)h->count[TW_METRICS_BUCKETS - 1], m->auto_key,
                    (double)h->sum_us / 1e6);
        return;
    }
    if (m->auto_key)
        tw_buf_addf(b, "Tweetsse%s: %lld\n", m->auto_key, m->get(v, NULL, -1).n);
    for (int i = 0; m->auto_each && i < m->dim->n; i++) {
        tw_buf_addf(b, "Tweetsse");
        tw_buf_addf(b, m->auto_each, m->dim->key[i]);
        tw_buf_addf(b, ": %lld\n", m->get(v, NULL, i).n);
    }
}

void tw_metrics_status_auto(tw_buf *b, const tw_metrics_view *v)
{
    for (size_t k = 0; k < TW_NROWS; k++)
        if (tw_metric_rows[k].auto_key || tw_metric_rows[k].auto_each)
            tw_auto_instance(b, &tw_metric_rows[k], v);
    for (int c = 0; c < v->nchildren; c++) {
        const tw_metrics_child_view *child = &v->child[c];
        tw_buf_addf(b, "TweetsseChild: pid=%d", child->pid);
        for (size_t k = 0; k < TW_NROWS; k++) {
            const tw_metric *m = &tw_metric_rows[k];
            if (m->child_key)
                tw_auto_child_value(b, m, m->child_key, m->get(v, child, -1));
            for (int i = 0; m->child_each && i < m->dim->n; i++)
                tw_auto_child_value(b, m, apr_psprintf(b->pool, m->child_each, m->dim->name[i]),
                                    m->get(v, child, i));
        }
        tw_buf_adds(b, "\n");
    }
}

/* ---- mod_status HTML ---- */

/* Append text escaped for HTML. */
static void tw_metrics_html_text(tw_buf *b, const char *s)
{
    tw_buf_add_escaped(b, s, strlen(s));
}

/* "subscribed since <date>" or "reconnecting since <date>" ("" when never). */
static void tw_metrics_html_state(tw_buf *b, tw_value x)
{
    tw_metrics_html_text(b, x.n ? "subscribed" : "reconnecting");
    char date[APR_RFC822_DATE_LEN];
    if (x.t && apr_rfc822_date(date, x.t) == APR_SUCCESS) {
        tw_metrics_html_text(b, " since ");
        tw_metrics_html_text(b, date);
    }
}

/* One row of the instance table: its label and value. */
static void tw_metrics_html_row(tw_buf *b, const char *label, const tw_metric *m, tw_value x)
{
    tw_buf_adds(b, "<tr><th>");
    tw_metrics_html_text(b, label);
    tw_buf_adds(b, "</th><td>");
    if (m->kind == TW_KIND_HIST) {
        uint64_t n = x.h->count[TW_METRICS_BUCKETS - 1];
        tw_buf_addf(b, "%.3f ms over %llu", n ? (double)x.h->sum_us / 1e3 / (double)n : 0.0,
                    (unsigned long long)n);
    } else {
        tw_buf_addf(b, "%lld", x.n);
    }
    tw_buf_adds(b, "</td></tr>\n");
}

/* One cell of the children table. */
static void tw_metrics_html_cell(tw_buf *b, const tw_metric *m, tw_value x)
{
    char id[TW_ID_MAX];
    tw_buf_adds(b, "<td>");
    if (m->kind == TW_KIND_STATE) {
        tw_metrics_html_state(b, x);
    } else if (m->kind == TW_KIND_POST) {
        tw_id_format(x.id, id);
        tw_metrics_html_text(b, id);
    } else {
        tw_buf_addf(b, "%lld", x.n);
    }
    tw_buf_adds(b, "</td>");
}

/* The children table's header, or one child's row (c not NULL). */
static void tw_metrics_html_child(tw_buf *b, const tw_metrics_view *v,
                                  const tw_metrics_child_view *c)
{
    if (c)
        tw_buf_addf(b, "<tr><td>%d</td>", c->pid);
    else
        tw_buf_adds(b, "<tr><th>PID</th>");
    for (size_t k = 0; k < TW_NROWS; k++) {
        const tw_metric *m = &tw_metric_rows[k];
        for (int i = 0; m->col_each && i < m->dim->n; i++) {
            if (c)
                tw_metrics_html_cell(b, m, m->get(v, c, i));
            else
                tw_buf_addf(b, "<th>%s</th>", apr_psprintf(b->pool, m->col_each, m->dim->text[i]));
        }
        if (m->col && c)
            tw_metrics_html_cell(b, m, m->get(v, c, -1));
        else if (m->col)
            tw_buf_addf(b, "<th>%s</th>", m->col);
    }
    tw_buf_adds(b, "</tr>\n");
}

void tw_metrics_status_html(tw_buf *b, const tw_metrics_view *v)
{
    tw_buf_adds(b, "<hr>\n<h2>mod_tweetsse</h2>\n<table>\n");
    for (size_t k = 0; k < TW_NROWS; k++) {
        const tw_metric *m = &tw_metric_rows[k];
        if (m->html)
            tw_metrics_html_row(b, m->html, m, m->get(v, NULL, -1));
        for (int i = 0; m->html_each && i < m->dim->n; i++)
            tw_metrics_html_row(b, apr_psprintf(b->pool, m->html_each, m->dim->text[i]), m,
                                m->get(v, NULL, i));
    }
    tw_buf_adds(b, "</table>\n<table border=\"1\">\n");
    tw_metrics_html_child(b, v, NULL);
    for (int i = 0; i < v->nchildren; i++)
        tw_metrics_html_child(b, v, &v->child[i]);
    tw_buf_adds(b, "</table>\n");
}
