/* mod_tweetsse_page: GET of the feed page: the visitor's part rendered per request, the feed
 * part served from the child's cache (src/tw_feedcache) while it is current; its older posts
 * and each post's own page, read from the store. */
#ifndef MOD_TWEETSSE_PAGE_H
#define MOD_TWEETSSE_PAGE_H

#include "mod_tweetsse_config.h"

/* post_config: the versions of the page's static files (build/tw_assets.h, a hash of each
 * file's bytes, made by the Makefile from htdocs/lib), so that the page names them as
 * lib/<name>?v=<version>, URLs a browser may cache for good (Cache-Control immutable, set by
 * the configuration). */
void tw_page_assets(void);

/* post_config: the instance's post counter, in anonymous shared memory inherited by every
 * child. */
apr_status_t tw_page_counter_create(apr_pool_t *pconf, server_rec *s);

/* child_init: the feed cache of one virtual host (page sizes may differ). */
apr_status_t tw_page_cache_create(apr_pool_t *p, tw_srv_conf *c);

/* The feed changed through this instance (a post stored, a post deleted, a like a plain form
 * sent): every child's rendering from before is stale, so a visitor who just changed it sees
 * the change on the next page load, whichever child serves it and even before the hubs hear of
 * it. One atomic increment in shared memory. */
void tw_page_changed(tw_srv_conf *c);

/* GET or HEAD of the page under `mount` (the method is the router's to check). The visitor's
 * name cookie is set only on a 200; without the store the page is a 503 with a notice. With
 * ?before=<id> the posts older than <id>: the fragment that replaces the "Older posts" control
 * for an htmx request, else a whole page starting there; a malformed id is a 400. Any other
 * query string is ignored. */
int tw_handle_page(request_rec *r, tw_srv_conf *c, const char *mount);

/* GET or HEAD of <mount>home/post/<id> (`id`: the last path segment): the page of that one
 * post; 400 if `id` is not an id, 404 if no post in the history has it, 410 if it was deleted
 * (and the history still knows), 503 without the store. One round trip to the store. */
int tw_handle_permalink(request_rec *r, tw_srv_conf *c, const char *mount, const char *id);

#endif
