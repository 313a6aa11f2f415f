# shellcheck shell=bash
# S1M: S1 with a mix, ours only (the peer has no likes or deletions). S1's subscribers
# (S1_SUBS) and S1's requests (S1_POSTS at S1_RATE/s), of which 90 % are posts, 5 % likes and
# 5 % deletions (sseload -x 5,5, spread evenly); against S1 posts-only, ours, in the same
# rounds (mirrored: posts-only, mix, mix, posts-only, ...), with everything else alike: the
# posts are by 16 authors in turn (visitors signed with the feed's secret, lib/cookies.mjs),
# each like is from another of 2,000 visitors and is of the newest post of the run whose id
# the load generator knows (the X-Post-Id of its answer) and that no deletion is aimed at;
# each deletion is of the oldest post of the run that no like or deletion is aimed at, made by
# its author.
#
# What is measured, per subscriber and event, from the moment the load generator wrote the
# request to the moment the event's bytes reached the subscriber's socket (the kernel's
# receive time; "as read" when sseload read them):
#   post      the post event carrying the marker of the post (as in S1);
#   deletion  the delete event naming the post (<article id="post-X" hx-swap-oob="delete">);
#   like      the first count event of the liked post showing at least the count the like's
#             answer gave (count events are coalesced: a like in a post's 250 ms window is
#             announced with the window's last change at its end; here each like is of another
#             post almost always, so announced at once).
# Lost: events that never reached a connected subscriber within 10 s of the last request
# (a deleted post's own post event counts: it was delivered before its deletion was made).
# The table gives posts-only against the mix: all events together, and each kind apart, and
# the ratio of the mix's p99 (all events) to posts-only's.

# Every round of S1M: posts-only and mix, mirrored, after a warm-up.
scenario_s1m() {
    local r kind order
    S1M_COOKIES=$RUNDIR/s1m.cookies
    node "$here/lib/cookies.mjs" "$RUNDIR/secret" 2016 Bench >"$S1M_COOKIES"
    s1m_warmup
    for r in $(seq "$ROUNDS"); do
        if [ $((r % 2)) = 1 ]; then order="posts mix"; else order="mix posts"; fi
        for kind in $order; do s1m_once "$kind" "$r"; done
    done
}

# One unmeasured posts-only run of S1's size for 2 s: the first streams and posts on a fresh
# server (children's memory, Redis connections, the page cache) cost more than the later
# ones, and in a run of S1M alone (S1 runs after S2/S3, on a warm server) they would fall on
# the first round's posts-only and flatter the ratio (measured: p99 247 ms cold, 120 warm).
s1m_warmup() {
    local label=S1M-warmup held0
    log "S1M warm-up: $S1_SUBS subscribers, $((2 * S1_RATE)) posts at $S1_RATE/s, not measured"
    held0=$(held_by ours)
    run_sseload ours "$label" -c "$S1_SUBS" -m $((2 * S1_RATE)) -r "$S1_RATE" -w 10 -d 0 \
        -g "$RUNDIR/$label.go" -x 0,0 -I "$S1M_COOKIES" -a 16
    wait_streams ours "$(wait_ready "$label")"
    post_and_wait ours "$label"
    settle_side ours "$held0" >/dev/null
}

# S1M, one kind (posts or mix), round $2: as S1 ours, with the mix's options.
s1m_once() {
    local kind=$1 r=$2 label=S1M-$1-$2 held0 n mix=0,0
    [ "$kind" = mix ] && mix=5,5
    log "S1M $kind, round $r: $S1_SUBS subscribers, $S1_POSTS requests at $S1_RATE/s (likes,deletions %: $mix)"
    held0=$(held_by ours)
    run_sseload ours "$label" -c "$S1_SUBS" -m "$S1_POSTS" -r "$S1_RATE" -w 10 -d 0 \
        -g "$RUNDIR/$label.go" -x "$mix" -I "$S1M_COOKIES" -a 16
    n=$(wait_ready "$label")
    wait_streams ours "$n"
    post_and_wait ours "$label"
    save "$label" scenario=S1M side=ours kind="$kind" round:="$r" server_cpu_ns:="$post_cpu_ns" \
        "$(sseload_field sseload "$label")"
    settle_side ours "$held0" >/dev/null
}
