-- wrk script for S4: every request publishes a post. BENCH_BODY=form (default) sends the
-- urlencoded form of our POST /home, as the visitor of the name cookie in BENCH_COOKIE
-- ("tw_name=...", from a first page view); BENCH_BODY=raw sends the message as the raw body
-- of Nchan's POST /pub. The message is the same in both.
-- BENCH_COOKIES=FILE (one name cookie a line) posts as many visitors instead, each request
-- as the next one, and from as many client addresses (X-Forwarded-For 10.a.b.c, which the
-- instance trusts from loopback): the per-client limits are then on but none is reached.
local message = "Benchmark post: the quick brown fox jumps over the lazy dog, "
    .. "and every open page should see it at once."
wrk.method = "POST"
if (os.getenv("BENCH_BODY") or "form") == "raw" then
    wrk.body = message
    wrk.headers["Content-Type"] = "text/plain"
else
    wrk.headers["Cookie"] = os.getenv("BENCH_COOKIE")
    wrk.body = "message=" .. message:gsub("[^%w%-%.]", function(c)
        return c == " " and "+" or string.format("%%%02X", string.byte(c))
    end)
    wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

local file = os.getenv("BENCH_COOKIES")
if file and file ~= "" then
    local cookies = {}
    for line in io.lines(file) do cookies[#cookies + 1] = line end
    local next_id = 0
    -- Each wrk thread starts at its own place in the list (its id, set by setup).
    function setup(thread)
        thread:set("id", next_id)
        next_id = next_id + 1
    end
    local i
    function request()
        i = (i or (id or 0) * math.floor(#cookies / 2)) % #cookies + 1
        wrk.headers["Cookie"] = cookies[i]
        wrk.headers["X-Forwarded-For"] = string.format("10.%d.%d.%d",
            math.floor(i / 65536) % 256, math.floor(i / 256) % 256, i % 256)
        return wrk.format()
    end
end
