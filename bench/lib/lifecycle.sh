# shellcheck shell=bash
# bench/run.sh: the run's private directory, and stopping everything the run started,
# whatever happens (the EXIT trap).

bg_pids=() # load generators still running

# The run's directory (BENCH_DIR, else a new one under /tmp): RUNDIR, with the results in
# RESULTS and a copy of the page's static files that Apache's children (www-data) can read.
make_rundir() {
    RUNDIR=${BENCH_DIR:-$(mktemp -d /tmp/tweetsse-bench.XXXXXX)}
    RESULTS=$RUNDIR/results
    mkdir -p "$RUNDIR/redis" "$RUNDIR/htdocs" "$RESULTS"
    chmod 755 "$RUNDIR" # Apache's children run as www-data
    cp -r "$top/htdocs/lib" "$RUNDIR/htdocs/"
    chmod -R a+rX "$RUNDIR/htdocs"
    export RUNDIR PORT
}

# stop_pid PID SECONDS: SIGTERM a server we started (scripts/server.sh execs it, so the pid
# is the server's), wait up to SECONDS for it to go, then SIGKILL it.
stop_pid() {
    local p=$1 max=$2
    [ -n "$p" ] || return 0
    kill -TERM "$p" 2>/dev/null || return 0
    wait_until "$max" 0.2 gone "$p" || kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
}

# The EXIT trap: stop the load generators, the cluster, our Apache and Redis and the peer;
# remove the run's directory unless KEEP=1 or the run failed.
cleanup() {
    local rc=$? p
    trap - INT TERM EXIT
    for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null || true; done
    stop_cluster
    stop_pid "$apache_pid" 20
    stop_pid "$redis_pid" 20
    bash "$here/nchan-peer.sh" stop "$RUNDIR/peer" || true
    wait 2>/dev/null || true
    if [ "${KEEP:-0}" = 1 ] || [ "$rc" != 0 ]; then
        log "files kept in $RUNDIR"
    else
        rm -rf "$RUNDIR"
    fi
    exit "$rc"
}
