/* mod_tweetsse_moderation: SetHandler tweetsse-moderation, in a <Location> under the feed's
 * that Apache guards (AuthType ... and Require): whoever Apache lets in is a moderator and may
 * remove any post. */
#ifndef MOD_TWEETSSE_MODERATION_H
#define MOD_TWEETSSE_MODERATION_H

#include "mod_tweetsse_config.h"

/* GET: the moderators' page (the newest posts, ?before=<id> older ones), each with a Remove
 * form; POST with a form or JSON body whose "post" is a post id: remove it (the answers of
 * mod_tweetsse_action's tw_action_remove; a form goes back to the page). 403 without an
 * authenticated user (r->user): a <Location> without Require protects nothing. */
int tw_handle_moderation(request_rec *r, tw_srv_conf *c, const char *mount);

#endif
