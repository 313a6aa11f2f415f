-- mod_tweetsse: every write to a feed, atomically (EVALSHA, falling back to EVAL): a post, a
-- deletion, a like, and the count of likes announced late (see "flush"). Each stores its event
-- in the feed's log and announces it in the same step, or does neither.
--
-- The log is the Redis stream KEYS[1] (TweetsseStreamKey): one order for every event. A post is
-- an entry with u (name), m (message) and a (the author's identity: "c:<identity>" or
-- "u:<user>"); a deletion an entry with e=delete, p (the post), by (author or moderator) and w
-- (who); a count an entry with e=count, p and n. Beside it, keys named after it:
--   <log>:posts       the ids of the posts kept, oldest first: the history is a number of posts
--                     (deletions and counts never push a post out), and when it overflows the
--                     log is trimmed (XTRIM MINID) up to its oldest post
--   <log>:likes:<id>  who likes post <id> (a set: one like per identity)
--   <log>:counts      post id -> its number of likes (a hash; the pages read it)
--   <log>:countev     post id -> the id of its count event in the log: a new one replaces it,
--                     so the log holds one count event a post
--   <log>:countat     post id -> when its count was last announced (ms)
--   <log>:dirty       post ids whose count changed since it was announced
--   <log>:gone        deleted post id -> "<by> <event id> <author>": a permalink answers 410,
--                     and a repeated deletion answers like the first
--   <log>:floor       the oldest post the history holds or held last (the log's MINID): an
--                     entry missing at or after it was deleted, not trimmed
-- Everything that belongs to a post leaves with it when the history lets it go, so the keys are
-- bounded by the history (and the rate limits), not by time.
-- KEYS[2] the feed's shared settings (<log>:settings; see tw_redis_settings_check).
--
-- ARGV[1] the action, ARGV[2] the channel (TweetsseChannel), ARGV[3] the replicas that must be
-- online (TweetsseRedisMinReplicas): with fewer nothing is stored (NOREPLICAS), and a replica
-- refuses (READONLY) before it checks, so a demoted primary says that it is one. Then:
--   post   ARGV[4] history (posts kept; never below what the fleet recorded), [5] name,
--          [6] message, [7] identity, [8] idempotency key or "" (remembered [9] ms),
--          [10] client address or "", [11] [12] the author's limit (ms between actions, 0: off;
--          burst), [13] [14] the address's
--          -> {"new", id} | {"replayed", id} | {"limited", ms}
--   delete ARGV[4] post id, [5] who (identity), [6] "author" or "moderator", [7] address or "",
--          [8]..[11] the limits
--          -> {"deleted" | "again", event id, the post's author or "-"} | {"forbidden", why}
--             | {"gone", ""}
--             | {"missing", ""} | {"limited", ms}
--   like   ARGV[4] post id, [5] who, [6] "on", "off" or "toggle", [7] address or "",
--          [8]..[11] the limits, [12] the window: a count is announced at most once in it (ms)
--          -> {"liked" | "unliked", count, flush at (ms; 0: announced now; -1: unchanged)}
--             | {"gone", ""} | {"missing", ""} | {"limited", ms}
--   flush  ARGV[4] post id, [5] the window (ms) -> {"flushed", event id} | {"clean", ""}
--          | {"later", due (ms)}: the count was announced within the window (every child
--          that took a like of it in the window flushes at its end; the first announces)
--   presence ARGV[4] the reporting process ("<host>:<pid>:<n>"), [5] its readers, [6] how old
--          (ms) a report may be to count -> the readers of every process that reported in
--          time; older reports are forgotten (<log>:presence: process -> "<readers> <ms>")
-- An announcement is "<id> <prev> <kind> ...\n...": "post <name> <identity>\n<message>",
-- "delete <post> <by>\n", "count <post> <n>\n"; <prev> is the entry the log ended with before
-- this one ("-" when it was empty: a child so knows that no entry another writer added
-- unannounced lies between two events it heard); "-" stands for a missing identity. The format
-- tw_redis_parse_broadcast (src/tw_store_redis_wire.c) reads back.
local log, channel, action = KEYS[1], ARGV[2], ARGV[1]

local need = tonumber(ARGV[3])
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

-- Redis' clock in ms, read when first needed: a post with the limits off needs none.
local now
local function clock()
    if not now then
        local t = redis.call('TIME')
        now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    end
    return now
end

-- GCRA (the generic cell rate algorithm) over the author's and the address's keys of `kind`:
-- each action moves a key's theoretical arrival time on by its interval; an action is refused
-- while that time is more than burst intervals ahead. Returns the wait (ms, 0: allowed) and
-- the keys to update once the action is done.
local function limited(kind, who, addr, ui, ub, ai, ab)
    local limits = {{log .. ':rate:' .. kind .. 'user:' .. who, tonumber(ui), tonumber(ub)}}
    if addr ~= '' then
        limits[2] = {log .. ':rate:' .. kind .. 'addr:' .. addr, tonumber(ai), tonumber(ab)}
    end
    local wait = 0
    for _, l in ipairs(limits) do
        if l[2] > 0 then
            clock()
            local tat = tonumber(redis.call('GET', l[1])) or now
            if tat < now then tat = now end
            local allowed_at = tat + l[2] - l[3] * l[2]
            if now < allowed_at and allowed_at - now > wait then wait = allowed_at - now end
            l[4] = tat + l[2]
        end
    end
    return wait, limits
end

local function charge(limits)
    for _, l in ipairs(limits) do
        if l[4] then
            redis.call('SET', l[1], string.format('%.3f', l[4]), 'PX', math.ceil(l[4] - now) + 1)
        end
    end
end

-- Add an entry to the log and announce it: `fields` for XADD, `head` and `body` for the
-- announcement after "<id> <prev> ".
local function append(fields, head, body)
    local tail = redis.call('XREVRANGE', log, '+', '-', 'COUNT', 1)
    local id = redis.call('XADD', log, '*', unpack(fields))
    local prev = tail[1] and tail[1][1] or '-'
    redis.call('PUBLISH', channel, id .. ' ' .. prev .. ' ' .. head .. '\n' .. body)
    return id
end

-- The post's entry: its fields as a table, or nil when the log does not hold it.
local function entry(id)
    local r = redis.call('XRANGE', log, id, id)
    if not r[1] then return nil end
    local f = {}
    for i = 1, #r[1][2], 2 do f[r[1][2][i]] = r[1][2][i + 1] end
    if not f.u or not f.m then return nil end -- an entry of another writer, or an event
    return f
end

-- Announce the post's count of likes now, replacing its previous count event in the log.
local function announce_count(id)
    local n = redis.call('SCARD', log .. ':likes:' .. id)
    local eid = append({'e', 'count', 'p', id, 'n', n}, 'count ' .. id .. ' ' .. n, '')
    local old = redis.call('HGET', log .. ':countev', id)
    if old then redis.call('XDEL', log, old) end
    redis.call('HSET', log .. ':countev', id, eid)
    redis.call('HSET', log .. ':countat', id, clock())
    redis.call('HDEL', log .. ':dirty', id)
    return eid
end

-- Forget everything that belongs to post `id` but its entries in the log.
local function forget(id)
    redis.call('DEL', log .. ':likes:' .. id)
    redis.call('HDEL', log .. ':counts', id)
    redis.call('HDEL', log .. ':countev', id)
    redis.call('HDEL', log .. ':countat', id)
    redis.call('HDEL', log .. ':dirty', id)
end

if action == 'post' then
    local keep = tonumber(ARGV[4])
    local fleet = tonumber(redis.call('HGET', KEYS[2], 'history'))
    if fleet and fleet > keep then keep = fleet end
    local name, msg, who, key, addr = ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[10]
    local idem = key ~= '' and (log .. ':key:' .. who .. ':' .. key) or nil
    if idem then
        local earlier = redis.call('GET', idem)
        if earlier then return {'replayed', earlier} end
    end
    local wait, limits = limited('', who, addr, ARGV[11], ARGV[12], ARGV[13], ARGV[14])
    if wait > 0 then return {'limited', math.ceil(wait)} end
    charge(limits)
    local fields = {'u', name, 'm', msg}
    if who ~= '' then fields[5], fields[6] = 'a', who end
    local id = append(fields, 'post ' .. name .. ' ' .. (who ~= '' and who or '-'), msg)
    if idem then redis.call('SET', idem, id, 'PX', tonumber(ARGV[9])) end
    local posts = log .. ':posts'
    local trimmed = false
    local kept = redis.call('RPUSH', posts, id)
    if kept == 1 then redis.call('SET', log .. ':floor', id) end
    while kept > keep do
        local old = redis.call('LPOP', posts)
        -- A post that was ever liked has its time of announcement (a like announces or waits
        -- for one, and only a count announced within the window marks it dirty): without
        -- one it has no likes, count or count event to forget.
        if redis.call('HEXISTS', log .. ':countat', old) == 1 then forget(old) end
        redis.call('HDEL', log .. ':gone', old)
        kept = kept - 1
        trimmed = true
    end
    if trimmed then
        local floor = redis.call('LINDEX', posts, 0)
        redis.call('XTRIM', log, 'MINID', floor)
        redis.call('SET', log .. ':floor', floor)
    end
    return {'new', id}
end

if action == 'delete' then
    local id, who, by, addr = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
    local gone = redis.call('HGET', log .. ':gone', id)
    if gone then
        local gby, geid, gwho = string.match(gone, '^(%S+) (%S+) (.*)$')
        if by == 'moderator' or gwho == who then return {'again', geid, gwho} end
        return {'gone', ''}
    end
    local f = entry(id)
    if not f then return {'missing', ''} end
    if by ~= 'moderator' and f.a ~= who then
        return {'forbidden', f.a and 'it is not your post' or
                'it was posted before identities: only a moderator can remove it'}
    end
    if by ~= 'moderator' then -- moderators are Apache's to trust: no limit
        local wait, limits = limited('delete:', who, addr, ARGV[8], ARGV[9], ARGV[10], ARGV[11])
        if wait > 0 then return {'limited', math.ceil(wait)} end
        charge(limits)
    end
    redis.call('XDEL', log, id)
    local old = redis.call('HGET', log .. ':countev', id)
    if old then redis.call('XDEL', log, old) end
    forget(id)
    local eid = append({'e', 'delete', 'p', id, 'by', by, 'w', who}, 'delete ' .. id .. ' ' .. by,
                       '')
    redis.call('HSET', log .. ':gone', id, by .. ' ' .. eid .. ' ' .. (f.a or '-'))
    return {'deleted', eid, f.a or '-'}
end

if action == 'like' then
    local id, who, mode, addr, window = ARGV[4], ARGV[5], ARGV[6], ARGV[7], tonumber(ARGV[12])
    if redis.call('HEXISTS', log .. ':gone', id) == 1 then return {'gone', ''} end
    if not entry(id) then return {'missing', ''} end
    local set = log .. ':likes:' .. id
    local has = redis.call('SISMEMBER', set, who) == 1
    local want = mode == 'on' or (mode == 'toggle' and not has)
    local n = redis.call('SCARD', set)
    if want == has then return {want and 'liked' or 'unliked', n, -1} end
    local wait, limits = limited('like:', who, addr, ARGV[8], ARGV[9], ARGV[10], ARGV[11])
    if wait > 0 then return {'limited', math.ceil(wait)} end
    charge(limits)
    if want then redis.call('SADD', set, who) else redis.call('SREM', set, who) end
    n = redis.call('SCARD', set)
    if n > 0 then redis.call('HSET', log .. ':counts', id, n)
    else redis.call('HDEL', log .. ':counts', id) end
    local at = tonumber(redis.call('HGET', log .. ':countat', id))
    if not at or clock() - at >= window then
        announce_count(id)
        return {want and 'liked' or 'unliked', n, 0}
    end
    redis.call('HSET', log .. ':dirty', id, 1)
    return {want and 'liked' or 'unliked', n, at + window}
end

if action == 'presence' then
    local key, stale = log .. ':presence', tonumber(ARGV[6])
    redis.call('HSET', key, ARGV[4], ARGV[5] .. ' ' .. clock())
    local all, total = redis.call('HGETALL', key), 0
    for i = 1, #all, 2 do
        local n, at = string.match(all[i + 1], '^(%d+) (%d+)$')
        if at and now - tonumber(at) <= stale then
            total = total + tonumber(n)
        else
            redis.call('HDEL', key, all[i])
        end
    end
    return total
end

if action == 'flush' then
    local id, window = ARGV[4], tonumber(ARGV[5])
    if redis.call('HEXISTS', log .. ':dirty', id) == 0 then return {'clean', ''} end
    if not entry(id) then
        redis.call('HDEL', log .. ':dirty', id)
        return {'clean', ''}
    end
    local at = tonumber(redis.call('HGET', log .. ':countat', id))
    if at and clock() - at < window then return {'later', at + window} end
    return {'flushed', announce_count(id)}
end

return redis.error_reply('ERR unknown action ' .. tostring(action))
