-- mod_tweetsse: store a post and announce it, atomically (EVALSHA, falling back to EVAL).
-- KEYS[1]  the stream of posts (TweetsseStreamKey)
-- ARGV[1]  history: entries kept, approximately (XADD MAXLEN ~, TweetsseHistory)
-- ARGV[2]  user name;  ARGV[3]  message;  ARGV[4]  the pub/sub channel (TweetsseChannel)
-- The stream id is the post id. The announcement is "<id> <user>\n<message>", the format
-- tw_redis_parse_broadcast (src/tw_redis_wire.c) reads back.
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'u', ARGV[2], 'm', ARGV[3])
redis.call('PUBLISH', ARGV[4], id .. ' ' .. ARGV[2] .. '\n' .. ARGV[3])
return id
