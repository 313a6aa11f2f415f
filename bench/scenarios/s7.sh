# shellcheck shell=bash
# S7: S7_SUBS concurrent subscribers (100,000) on one Apache (CHILDREN children) and on the
# peer, S7_POSTS posts (30) at S7_RATE/s (1): connected, lost, p50/p99, KB per subscriber,
# server CPU and syscalls per delivered event (perf stat over the posting phase); sseload
# forks S7_PROCS processes. One round.

# S7 on both sides.
scenario_s7() {
    local side
    for side in ours peer; do s7_once "$side"; done
}

# S7, one side: the subscribers held idle (memory, once the server counts every stream),
# then the posts: lost, latency, server CPU and syscalls per delivery.
s7_once() {
    local side=$1 label=S7-$1 rss0 rss1 n held0 release p per=
    local -a sys
    rss0=$(rss_of "$side")
    held0=$(held_by "$side")
    log "S7 $side: $S7_SUBS subscribers from $S7_PROCS processes (baseline RSS $((rss0 / 1024)) MB), $S7_POSTS posts at $S7_RATE/s"
    run_sseload "$side" "$label" -c "$S7_SUBS" -P "$S7_PROCS" -k 300 -T 60 -d 0 \
        -g "$RUNDIR/$label.go" -m "$S7_POSTS" -r "$S7_RATE" -w 30 -v
    n=$(wait_ready "$label")
    wait_streams "$side" "$n"
    rss1=$(rss_of "$side")
    log "S7 $side: RSS $((rss0 / 1024)) MB -> $((rss1 / 1024)) MB with $n streams"
    # How evenly the processes took them (TCP sockets held by each).
    for p in $(web_pids "$side"); do per+=" $(held_tcp "$p")"; done
    log "S7 $side: TCP sockets per process:$per"
    start_syscalls "$side" "$RUNDIR/$label.perf"
    post_and_wait "$side" "$label"
    stop_syscalls
    release=$(settle_side "$side" "$held0")
    log "S7 $side: streams released $release s after the clients closed them"
    mapfile -t sys < <(syscall_fields "$RUNDIR/$label.perf")
    save "$label" scenario=S7 side="$side" round:=1 idle.streams:="$n" idle.rss0_kb:="$rss0" \
        idle.rss1_kb:="$rss1" server_cpu_ns:="$post_cpu_ns" "${sys[@]}" release_s:="$release" \
        "$(sseload_field sseload "$label")"
}
