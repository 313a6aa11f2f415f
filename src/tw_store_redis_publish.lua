-- mod_tweetsse: store a post and announce it, atomically (EVALSHA, falling back to EVAL).
-- KEYS[1]  the stream of posts (TweetsseStreamKey)
-- KEYS[2]  the feed's shared settings (<stream>:settings; see tw_redis_settings_check)
-- KEYS[3]  the post's idempotency key (<stream>:key:<identity>:<key>), or "" for none: it
--          holds the id of the post stored with it, for ARGV[6] ms
-- KEYS[4]  the author's rate limit state (<stream>:rate:user:<identity>)
-- KEYS[5]  the client address's rate limit state (<stream>:rate:addr:<address>), or ""
-- ARGV[1]  history: entries kept, approximately (XADD MAXLEN ~, TweetsseHistory); never below
--          what the fleet recorded, so an instance set lower does not cut the others' history
-- ARGV[2]  the author's name;  ARGV[3]  message;  ARGV[4]  the pub/sub channel (TweetsseChannel)
-- ARGV[5]  replicas that must be online (TweetsseRedisMinReplicas): with fewer, nothing is
--          stored (NOREPLICAS), and a replica refuses (READONLY) before it checks, so a demoted
--          primary says that it is one
-- ARGV[6]  how long an idempotency key is remembered, ms
-- ARGV[7], ARGV[8]   the user's limit: ms between posts (0: off) and burst
-- ARGV[9], ARGV[10]  the address's limit, the same way
-- ARGV[11] the author's identity ("c:<identity>", "u:<user>"); ARGV[12] its tag, or ""
-- Returns {"new", id}, {"replayed", id} (the key had been used: nothing stored) or
-- {"limited", ms} (a limit refuses: nothing stored; retry after ms). The stream id is the post
-- id; the entry holds u (name), m (message), a (identity) and t (tag, when there is one). The
-- announcement is "<id> <prev> post <name> <tag>\n<message>" (<prev>: the id of the entry the
-- stream ended with before this one, "-" when it was empty: so a child knows that no entry
-- another writer added unannounced lies between two posts it heard; <tag>: "-" for none), the
-- format tw_redis_parse_broadcast (src/tw_store_redis_wire.c) reads back.
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
if KEYS[3] ~= '' then
    local earlier = redis.call('GET', KEYS[3])
    if earlier then return {'replayed', earlier} end
end
-- GCRA (the generic cell rate algorithm): each post moves a key's theoretical arrival time on
-- by `interval`; a post is refused while that time is more than burst intervals ahead.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limits = {{KEYS[4], tonumber(ARGV[7]), tonumber(ARGV[8])},
                {KEYS[5], tonumber(ARGV[9]), tonumber(ARGV[10])}}
local wait = 0
for _, l in ipairs(limits) do
    if l[1] ~= '' and l[2] > 0 then
        local tat = tonumber(redis.call('GET', l[1])) or now
        if tat < now then tat = now end
        local allowed_at = tat + l[2] - l[3] * l[2]
        if now < allowed_at and allowed_at - now > wait then wait = allowed_at - now end
        l[4] = tat + l[2]
    end
end
if wait > 0 then return {'limited', math.ceil(wait)} end
for _, l in ipairs(limits) do
    if l[4] then
        redis.call('SET', l[1], string.format('%.3f', l[4]), 'PX', math.ceil(l[4] - now) + 1)
    end
end
local tail = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local id
if ARGV[12] ~= '' then
    id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', keep, '*', 'u', ARGV[2], 'm', ARGV[3],
                    'a', ARGV[11], 't', ARGV[12])
else
    id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', keep, '*', 'u', ARGV[2], 'm', ARGV[3],
                    'a', ARGV[11])
end
local prev = tail[1] and tail[1][1] or '-'
local tag = ARGV[12] ~= '' and ARGV[12] or '-'
redis.call('PUBLISH', ARGV[4], id .. ' ' .. prev .. ' post ' .. ARGV[2] .. ' ' .. tag .. '\n' ..
           ARGV[3])
if KEYS[3] ~= '' then redis.call('SET', KEYS[3], id, 'PX', tonumber(ARGV[6])) end
return {'new', id}
