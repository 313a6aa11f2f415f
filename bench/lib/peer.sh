# shellcheck shell=bash
# bench/run.sh: the peer, nginx + Nchan through its own Redis (bench/nchan-peer.sh).

peer= # the peer's URL

# Start the peer with as many nginx workers as we have Apache children. One listening socket
# per worker (reuseport) only when S7 runs: there one shared socket let a worker take 19,000
# connections and refuse the rest, and at S2 (one round each) reuseport measured the peer's
# p99 at 120 ms against 80 without it. PEER_REUSEPORT overrides.
start_peer() {
    wants_peer || return 0
    if has S7; then : "${PEER_REUSEPORT:=1}"; else : "${PEER_REUSEPORT:=0}"; fi
    export PEER_REUSEPORT
    PEER_WORKERS=$CHILDREN bash "$here/nchan-peer.sh" start "$RUNDIR/peer" "$PEER_PORT" "$PEER_REDIS_PORT" >&2
    peer=http://127.0.0.1:$PEER_PORT
}

# Pids of the nginx master and its workers.
peer_web_pids() {
    local mp
    mp=$(cat "$RUNDIR/peer/nginx.pid" 2>/dev/null) || return 0
    echo "$mp"
    pgrep -P "$mp" || true
}
# Pids whose CPU is the peer's: nginx and its Redis.
peer_server_pids() {
    peer_web_pids
    cat "$RUNDIR/peer/redis.pid"
}
# Open streams, as Nchan counts its subscribers (nchan_stub_status); 0 when unreadable.
peer_streams() {
    curl -s -m 5 "$peer/nchan_status" | awk -F': ' '$1 == "subscribers" { n = $2 } END { print n + 0 }'
}
