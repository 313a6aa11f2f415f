/* mod_tweetsse_viewer: what differs per viewer on cards rendered once for everyone: the
 * stylesheet that shows the delete control on the viewer's own posts (no JavaScript needed),
 * and which posts the viewer likes (the page's script marks them). */
#ifndef MOD_TWEETSSE_VIEWER_H
#define MOD_TWEETSSE_VIEWER_H

#include "mod_tweetsse_config.h"

/* GET <mount>home/viewer.css?by=<marker> (src/tw_identity: tw_identity_by): one rule, the same
 * for everyone who asks, so cached for a year (the URL names it); 400 for another by=. */
int tw_handle_viewer_css(request_rec *r);

/* GET <mount>home/liked?ids=<id>,<id>...: {"liked": [the ids the visitor likes]}, at most
 * TW_VIEWER_MAX_IDS ids; [] for a visitor without an identity; 400 for a malformed list, 503
 * without the store. Never cached. One round trip to the store. */
int tw_handle_liked(request_rec *r, tw_srv_conf *c, const char *mount);

#define TW_VIEWER_MAX_IDS 100

#endif
