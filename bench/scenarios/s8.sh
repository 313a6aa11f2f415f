# shellcheck shell=bash
# S8: a storm of likes, ours only. S1_SUBS subscribers (1,000), one post, then S8_RATE likes
# a second (1,000) for S8_SECS seconds (10), each from a visitor of its own (signed with the
# feed's secret, lib/cookies.mjs), by sseload (-x 100,0 -o POST: its pacing, one connection
# per like, JSON {"action":"like"}). The server coalesces the post's count events (the first
# at once, then at most one a 250 ms window), so each stream should hear a few a second;
# the stored count must be exact. Reported: the count events each stream heard (in all, per
# second of the storm, and in its busiest second: mean and max over the streams), the
# latency from a like's request to the first count event showing its count, and whether the
# last count every stream heard equals the likes (the highest count a like's answer gave,
# and Redis' own count of the post's likers, SCARD, which must be the likes accepted). One
# round.

scenario_s8() {
    local label=S8-ours-1 n post likes=$((S8_RATE * S8_SECS)) scard held0
    log "S8: $S1_SUBS subscribers, one post, $likes likes at $S8_RATE/s from as many visitors"
    node "$here/lib/cookies.mjs" "$RUNDIR/secret" "$likes" Fan >"$RUNDIR/s8.cookies"
    post=$(curl -s -D - -o /dev/null -H "Cookie: $cookie" --data-urlencode 'message=Like me' \
        "$base/home" | sed -n 's/^[Xx]-[Pp]ost-[Ii]d: *\([0-9-]*\).*/\1/p')
    [ -n "$post" ] || { log "S8: no post id from POST $base/home"; return 1; }
    held0=$(held_by ours)
    run_sseload ours "$label" -c "$S1_SUBS" -m "$likes" -r "$S8_RATE" -w 10 -d 0 \
        -g "$RUNDIR/$label.go" -x 100,0 -o "$post" -I "$RUNDIR/s8.cookies"
    n=$(wait_ready "$label")
    wait_streams ours "$n"
    post_and_wait ours "$label"
    scard=$(redis-cli -s "$REDIS" scard "tweetsse:feed:likes:$post")
    log "S8: Redis counts $scard likers of $post (stored count $(redis-cli -s "$REDIS" hget tweetsse:feed:counts "$post"))"
    save "$label" scenario=S8 side=ours round:=1 post="$post" likes:="$likes" rate:="$S8_RATE" \
        redis_likers:="${scard:-null}" \
        redis_count:="$(redis-cli -s "$REDIS" hget tweetsse:feed:counts "$post" | grep -x '[0-9]*' || echo null)" \
        server_cpu_ns:="$post_cpu_ns" "$(sseload_field sseload "$label")"
    settle_side ours "$held0" >/dev/null
}
