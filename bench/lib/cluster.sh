# shellcheck shell=bash
# bench/run.sh: the cluster of S6, started by scripts/cluster.sh as `make run-cluster`
# starts it: HAProxy, S6_INSTANCES Apache instances, Redis primary + replica, 3 Sentinels.

cluster_pid=    # scripts/cluster.sh, in a session of its own
cluster_dir=    # its RUNDIR
cluster_url=    # the feed through HAProxy
cluster_cookie= # a visitor's name cookie, from a page view through HAProxy

# Start the cluster (every instance configured as our single one, rate limits off) and wait
# until scripts/cluster.sh says it is ready and every instance's children and worker
# threads are up; then take a visitor's cookie through HAProxy.
start_cluster() {
    local out=$RUNDIR/cluster.out wp
    cluster_dir=$RUNDIR/cluster
    # A session of its own: stop_cluster stops it (and so its members) in order.
    PORT=$S6_PORT RUNDIR=$cluster_dir INSTANCES=$S6_INSTANCES MIN_REPLICAS=$S6_MIN_REPLICAS \
        RATE_LIMIT=off ADDRESS_RATE_LIMIT=off KEEPALIVE=$BENCH_KEEPALIVE LOGLEVEL=warn \
        setsid bash "$top/scripts/cluster.sh" >"$out" 2>&1 </dev/null &
    cluster_pid=$!
    wait_until 120 0.1 cluster_ready "$out" ||
        { log "S6: the cluster was not ready within 120 s; see $out"; exit 1; }
    # shellcheck disable=SC1091 # written by scripts/cluster.sh
    . "$cluster_dir/cluster.env"
    cluster_url=$TW_BALANCER
    for wp in $(cluster_instance_pids); do
        wait_until 30 0.1 threads_up "$wp" ||
            log "S6: instance $wp has $(threads_under "$wp") of $want_threads threads after 30 s"
    done
    log "S6: $(grep '^cluster ready:' "$out")"
    cluster_cookie=$(curl -s -D - -o /dev/null "${cluster_url}home" | sed -n 's/^[Ss]et-[Cc]ookie: \(tw_name=[^;]*\).*/\1/p' | tr -d '\r')
    [ -n "$cluster_cookie" ] || { log "S6: no name cookie from ${cluster_url}home"; exit 1; }
}

# Whether scripts/cluster.sh has said "cluster ready:" in file $1; exits when it has ended.
cluster_ready() {
    grep -q '^cluster ready:' "$1" && return 0
    gone "$cluster_pid" && { log "S6: scripts/cluster.sh exited: $(tail -5 "$1")"; exit 1; }
    return 1
}

# SIGTERM scripts/cluster.sh (it stops its members in order) and wait up to 60 s for it.
stop_cluster() {
    local p=$cluster_pid
    cluster_pid=
    stop_pid "$p" 60
}

# The pid of a member of the cluster by its name in cluster.pids (haproxy, web1, ...), or
# the pids of every member whose name matches the awk pattern $1.
cluster_member_pids() { awk -v n="$1" '$1 ~ "^(" n ")$" { print $2 }' "$cluster_dir/cluster.pids"; }
# Pids of each instance's Apache parent.
cluster_instance_pids() { cluster_member_pids 'web[0-9]+'; }
# Pids of every instance's Apache parent and children.
cluster_web_pids() {
    local p
    for p in $(cluster_instance_pids); do
        echo "$p"
        pgrep -P "$p" || true
    done
}
# Pids whose CPU is the cluster's: the instances, Redis primary and replica, and HAProxy.
cluster_server_pids() {
    cluster_web_pids
    cluster_member_pids 'redis-.*|haproxy'
}
# HAProxy's current connections to each instance, comma-separated: the open streams.
cluster_stream_list() {
    curl -s -m 5 --unix-socket "$TW_HAPROXY_STATS" 'http://stats/stats;csv' |
        awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
            $1 == "apaches" && $2 ~ /^web[0-9]+$/ { printf "%s%s", (n++ ? "," : ""), $col["scur"] }'
}
# Open streams of the cluster: HAProxy's current connections to the instances, summed.
cluster_streams() { cluster_stream_list | awk -F, '{ for (i = 1; i <= NF; i++) n += $i } END { print n + 0 }'; }
