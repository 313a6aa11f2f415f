# shellcheck shell=bash
# S1: S1_SUBS subscribers (1,000), S1_RATE posts/s (100) for S1_SECS s (10): lost, latency
# p50/p99, server CPU over the posting phase. ROUNDS mirrored rounds.

# Every round of S1, on both sides.
scenario_s1() {
    local r side
    for r in $(seq "$ROUNDS"); do
        for side in $(sides_of "$r"); do s1_once "$side" "$r"; done
    done
}

# S1, one side, round $2. The posts start once the server counts every stream; CPU of the
# server side over the posting phase (from the go to the end of the drain).
s1_once() {
    local side=$1 r=$2 label=S1-$1-$2 held0 n
    log "S1 $side, round $r: $S1_SUBS subscribers, $S1_POSTS posts at $S1_RATE/s"
    held0=$(held_by "$side")
    run_sseload "$side" "$label" -c "$S1_SUBS" -m "$S1_POSTS" -r "$S1_RATE" -w 10 -d 0 \
        -g "$RUNDIR/$label.go"
    n=$(wait_ready "$label")
    wait_streams "$side" "$n"
    post_and_wait "$side" "$label"
    save "$label" scenario=S1 side="$side" round:="$r" server_cpu_ns:="$post_cpu_ns" \
        "$(sseload_field sseload "$label")"
    settle_side "$side" "$held0" >/dev/null
}
