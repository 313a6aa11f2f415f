# shellcheck shell=bash
# S7: S7_SUBS concurrent subscribers (100,000) on one Apache (CHILDREN children) and on the
# peer, S7_POSTS posts (30) at S7_RATE/s (1): connected, lost, p50/p99, KB per subscriber,
# server CPU and syscalls per delivered event (perf stat over the posting phase); sseload
# forks S7_PROCS processes. One round. Ours also holds the streams idle for 10 s + S7_HOLD s
# (30) before the posts, to measure what the presence ("N reading now") costs at this scale.

# S7 on both sides.
scenario_s7() {
    local side
    for side in ours peer; do s7_once "$side"; done
}

# The presence's figures, ours (the peer has none), printed as "RING FRAMES CALLS USEC CPU_US":
# the frames the children pushed (tweetsse_ring_head) and wrote to streams
# (tweetsse_frames_delivered_total), summed over the children, and Redis' EVALSHA calls and
# their time (INFO commandstats) and its CPU time (INFO cpu, µs). With no post and no page view
# (the ramp and the hold of S7), every frame is a presence note and every EVALSHA a child's
# report of its readers.
presence_probe() {
    {
        curl -s --max-time 10 "$base/metrics"
        redis-cli -s "$REDIS" info commandstats
        redis-cli -s "$REDIS" info cpu
    } | tr -d '\r' | awk -F'[:,= ]' '
        /^tweetsse_ring_head\{/ { ring += $NF }
        /^tweetsse_frames_delivered_total/ { frames += $NF }
        /^cmdstat_evalsha:/ { calls = $3; usec = $5 }
        /^used_cpu_(sys|user):/ { cpu += $2 * 1e6 }
        END { printf "%d %d %d %d %d\n", ring, frames, calls, usec, cpu }'
}

# Save the presence's figures from the probes ($1: "PROBE SECONDS" at the start, the end of
# the ramp, 10 s later, the end of the hold; $2 the streams): per phase the ramp (the streams
# connecting), the settling (10 s: every child has reported the final number within 5 s and
# heard the sum within 5 s more) and the steady state (S7_HOLD s).
save_presence() {
    local -a p1 p2 probes args=() phases=(ramp settle steady)
    local n=$2 phase i k f
    mapfile -t probes <<<"$1"
    for i in 1 2 3; do
        read -r -a p1 <<<"${probes[i - 1]}"
        read -r -a p2 <<<"${probes[i]}"
        phase=${phases[i - 1]}
        args+=("$phase.s:=$((p2[5] - p1[5]))")
        k=0
        for f in ring frames calls usec cpu_us; do
            args+=("$phase.$f:=$((p2[k] - p1[k]))")
            k=$((k + 1))
        done
        log "S7 presence, $phase ($((p2[5] - p1[5])) s): $((p2[0] - p1[0])) notes pushed, $((p2[1] - p1[1])) written, $((p2[2] - p1[2])) EVALSHA ($((p2[3] - p1[3])) µs), Redis CPU $((p2[4] - p1[4])) µs"
    done
    save S7-presence scenario=S7-presence side=ours streams:="$n" children:="$CHILDREN" "${args[@]}"
}

# S7, one side: the subscribers held idle (memory, once the server counts every stream; ours
# then S7_HOLD s more, for the presence), then the posts: lost, latency, server CPU and
# syscalls per delivery.
s7_once() {
    local side=$1 label=S7-$1 rss0 rss1 n held0 release p per='' probe_lines=''
    local -a sys
    rss0=$(rss_of "$side")
    held0=$(held_by "$side")
    log "S7 $side: $S7_SUBS subscribers from $S7_PROCS processes (baseline RSS $((rss0 / 1024)) MB), $S7_POSTS posts at $S7_RATE/s"
    if [ "$side" = ours ]; then probe_lines="$(presence_probe) $(date +%s)"; fi
    run_sseload "$side" "$label" -c "$S7_SUBS" -P "$S7_PROCS" -k 300 -T 60 -d 0 \
        -g "$RUNDIR/$label.go" -m "$S7_POSTS" -r "$S7_RATE" -w 30 -v
    n=$(wait_ready "$label")
    wait_streams "$side" "$n"
    if [ "$side" = ours ]; then
        probe_lines+=$'\n'"$(presence_probe) $(date +%s)"
        log "S7 ours: $n streams; holding them idle for 10 + $S7_HOLD s (the presence)"
        sleep 10
        probe_lines+=$'\n'"$(presence_probe) $(date +%s)"
        sleep "$S7_HOLD"
        probe_lines+=$'\n'"$(presence_probe) $(date +%s)"
        save_presence "$probe_lines" "$n"
    fi
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
