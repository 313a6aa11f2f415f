# shellcheck shell=bash
# S6: S6_INSTANCES instances behind HAProxy, started as `make run-cluster` starts them
# (lib/cluster.sh); S6_SUBS subscribers and S1's posts at S1's rate, both through HAProxy;
# one round, read against S1 of the same run. The server CPU is that of the instances,
# Redis (primary and replica) and HAProxy over the posting phase; HAProxy's share is saved
# too. Streams per instance: HAProxy's count of current connections to each instance once
# every subscriber is connected.

# S6: start the cluster, measure, stop the cluster.
scenario_s6() {
    local label=S6-ours-1 n h0 streams
    local -a per_instance
    log "S6: $S6_INSTANCES instances behind HAProxy (scripts/cluster.sh on :$S6_PORT, MIN_REPLICAS=$S6_MIN_REPLICAS), rate limits off"
    start_cluster
    log "S6: $S6_SUBS subscribers through HAProxy, $S1_POSTS posts at $S1_RATE/s through HAProxy"
    run_sseload cluster "$label" -c "$S6_SUBS" -T 30 -m "$S1_POSTS" -r "$S1_RATE" -w 10 -d 0 \
        -g "$RUNDIR/$label.go"
    n=$(wait_ready "$label")
    wait_streams cluster "$n"
    streams=$(cluster_stream_list)
    log "S6: streams per instance (HAProxy's current connections): $streams"
    IFS=, read -r -a per_instance <<<"$streams"
    h0=$(cpu_ns "$(cluster_member_pids haproxy)")
    post_and_wait cluster "$label"
    save "$label" scenario=S6 side=ours round:=1 instances:="$S6_INSTANCES" \
        min_replicas:="$S6_MIN_REPLICAS" 'streams:=[]' "${per_instance[@]/#/streams[]:=}" \
        server_cpu_ns:="$post_cpu_ns" haproxy_cpu_ns:="$(($(cpu_ns "$(cluster_member_pids haproxy)") - h0))" \
        "$(sseload_field sseload "$label")"
    stop_cluster
}
