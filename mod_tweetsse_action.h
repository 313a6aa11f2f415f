/* mod_tweetsse_action: POST to a post's URL (home/post/<id>): its author deletes it, anyone
 * likes it or takes the like back; and the removal a moderator asks for
 * (mod_tweetsse_moderation), answered the same way. */
#ifndef MOD_TWEETSSE_ACTION_H
#define MOD_TWEETSSE_ACTION_H

#include "mod_tweetsse_config.h"
#include "mod_tweetsse_reply.h"
#include "src/tw_store.h"

/* POST <mount>home/post/<id> (`id`: the last path segment) with a form or JSON body whose
 * "action" is delete, like, unlike or toggle, by the verified visitor. Answers 200 (JSON: the
 * new state; htmx: out-of-band fragments), a form's 303 back to the feed, or 400, 403, 404,
 * 410, 413, 415, 429, 503 with a reason in the request's format; nothing changes unless every
 * check passes. One round trip to the store (two with replicas). */
int tw_handle_action(request_rec *r, tw_srv_conf *c, const char *mount, const char *id);

/* Delete `a->target` as `a` says (`a->moderator`: any post, for moderator `user`) and answer
 * in `fmt`: the deletion's event (JSON), an empty 200 (htmx), a 303 to `back` (a form);
 * or the refusal (error pages lead through `root` to the mount). Logs and counts it. */
int tw_action_remove(request_rec *r, tw_srv_conf *c, tw_format fmt, const char *root,
                     const char *back, const tw_action *a, const char *user);

#endif
