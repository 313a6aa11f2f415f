# shellcheck shell=bash
# S2 and S3, measured in one run of the load generator. S2: S2_SUBS concurrent subscribers
# (10,000), S2_POSTS posts (100) at S2_RATE/s (10): connected, lost, p50/p99; then all
# close and come back at once (time to a new stream), and how long the server keeps the
# closed streams. S3: memory per idle subscriber (RSS with the streams open minus without)
# and the server's CPU while they are idle. ROUNDS mirrored rounds.

# Every round of S2/S3, on both sides.
scenario_s23() {
    local r side
    for r in $(seq "$ROUNDS"); do
        for side in $(sides_of "$r"); do s23_once "$side" "$r"; done
    done
}

# S2 + S3, one side, round $2. sseload connects every subscriber and holds them idle until
# told to go on (S3 samples CPU and memory once the server counts every stream), then
# publishes (S2). The baseline RSS is taken just before it starts.
s23_once() {
    local side=$1 r=$2 label=S2-$1-$2 posts=0 rss0 rss1 n held0 idle_ns t0 idle_s c0
    local run back=back:=null release
    has S2 && posts=$S2_POSTS
    rss0=$(rss_of "$side")
    held0=$(held_by "$side")
    log "S2/S3 $side, round $r: $S2_SUBS subscribers (baseline RSS $((rss0 / 1024)) MB), $posts posts at $S2_RATE/s"
    run_sseload "$side" "$label" -c "$S2_SUBS" -k 500 -T 30 -d 0 -g "$RUNDIR/$label.go" \
        -m "$posts" -r "$S2_RATE" -w 10 -v
    n=$(wait_ready "$label")
    wait_streams "$side" "$n"
    # Idle streams: the server's CPU over 3 s (the sleep is the measurement), then its memory.
    t0=$(now_us)
    c0=$(server_cpu "$side")
    sleep 3
    idle_s=$(seconds_since "$t0")
    idle_ns=$(($(server_cpu "$side") - c0))
    rss1=$(rss_of "$side")
    log "S3 $side: RSS $((rss0 / 1024)) MB -> $((rss1 / 1024)) MB with $n idle streams; server CPU $(awk -v c="$idle_ns" -v t="$idle_s" 'BEGIN { printf "%.0f", c / 1e9 / t * 100 }')% of a core while idle"
    # The posts: server CPU from the go to the end of the run.
    post_and_wait "$side" "$label"
    run=$(sseload_field sseload "$label")
    # Every client just closed its stream at once (as when a proxy restarts or a network
    # drops) and all come back right away: how long until they have a stream again.
    if has S2; then
        run_sseload "$side" "$label-back" -c "$S2_SUBS" -k 2000 -T 60 -d 0 -m 0 -R -1
        wait "$lp" || true
        back=$(sseload_field back "$label-back")
    fi
    # The clients are gone: how long until the server has let go of their streams.
    release=$(settle_side "$side" "$held0")
    log "S2 $side: streams released $release s after the clients closed them"
    save "$label" scenario=S2 side="$side" round:="$r" idle.streams:="$n" idle.rss0_kb:="$rss0" \
        idle.rss1_kb:="$rss1" idle.cpu_ns:="$idle_ns" idle.wall_s:="$idle_s" \
        server_cpu_ns:="$post_cpu_ns" release_s:="$release" "$run" "$back"
}
