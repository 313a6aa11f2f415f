-- mod_tweetsse: store a post and announce it, atomically (EVALSHA, falling back to EVAL).
-- KEYS[1]  the stream of posts (TweetsseStreamKey)
-- KEYS[2]  the feed's shared settings (<stream>:settings; see tw_redis_settings_check)
-- ARGV[1]  history: entries kept, approximately (XADD MAXLEN ~, TweetsseHistory); never below
--          what the fleet recorded, so an instance set lower does not cut the others' history
-- ARGV[2]  user name;  ARGV[3]  message;  ARGV[4]  the pub/sub channel (TweetsseChannel)
-- ARGV[5]  replicas that must be online (TweetsseRedisMinReplicas): with fewer, nothing is
--          stored (NOREPLICAS), and a replica refuses (READONLY) before it checks, so a demoted
--          primary says that it is one
-- The stream id is the post id. The announcement is "<id> <user>\n<message>", the format
-- tw_redis_parse_broadcast (src/tw_redis_wire.c) reads back.
local keep = tonumber(ARGV[1])
local fleet = tonumber(redis.call('HGET', KEYS[2], 'history'))
if fleet and fleet > keep then keep = fleet end
local need = tonumber(ARGV[5])
if need > 0 then
    local info = redis.call('INFO', 'replication')
    if string.find(info, 'role:slave', 1, true) then
        return redis.error_reply('READONLY this server is a replica')
    end
    local online = 0
    for _ in string.gmatch(info, 'slave%d+:[^\r\n]*state=online') do online = online + 1 end
    if online < need then
        return redis.error_reply('NOREPLICAS ' .. online .. ' of the ' .. need ..
                                 ' replicas required are online')
    end
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', keep, '*', 'u', ARGV[2], 'm', ARGV[3])
redis.call('PUBLISH', ARGV[4], id .. ' ' .. ARGV[2] .. '\n' .. ARGV[3])
return id
