-- wrk script for S4: every request publishes a post. BENCH_BODY=form (default) sends the
-- urlencoded form of our POST /home, as the visitor of the name cookie in BENCH_COOKIE
-- ("tw_name=...", from a first page view); BENCH_BODY=raw sends the message as the raw body
-- of Nchan's POST /pub. The message is the same in both.
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
