# shellcheck shell=bash
# bench/run.sh: what the machine must have before anything starts, the load generator built,
# and the limits raised.

sseload= # the load generator (bench/sseload.c)
loadgen=() # the command prefix every load generator runs under (priority, CPUs)

# Stop with a message when a port, the module or a tool is missing; warn when a system limit
# is too low for the sizes asked for. Builds sseload and raises the open-files limit.
check_preconditions() {
    local p c
    for p in "$PORT" "$PEER_PORT" "$PEER_REDIS_PORT"; do
        if ss -Htln "sport = :$p" | grep -q .; then
            echo "bench: port $p is in use (set BENCH_PORT / PEER_PORT / PEER_REDIS_PORT)" >&2
            exit 1
        fi
    done
    [ -f "$top/.libs/mod_tweetsse.so" ] || { echo "bench: build the module first (make)" >&2; exit 1; }
    if ! command -v wrk >/dev/null; then
        echo "bench: wrk is missing; install it with scripts/deps.sh (make deps)" >&2
        exit 1
    fi
    command -v node >/dev/null || { echo "bench: node is missing (scripts/deps.sh)" >&2; exit 1; }
    if has S6; then
        for c in haproxy redis-server; do
            command -v "$c" >/dev/null || { echo "bench: S6 needs $c (scripts/deps.sh)" >&2; exit 1; }
        done
    fi
    make -s -C "$here" sseload
    sseload=$here/sseload
    # The load generator shares the two cores with the servers: a higher priority keeps it
    # from being the one that falls behind (the same for both sides). LOADGEN_NICE=0 turns
    # it off.
    if [ "$(id -u)" = 0 ] && [ "${LOADGEN_NICE:--10}" != 0 ]; then loadgen=(nice -n "${LOADGEN_NICE:--10}"); fi
    if [ -n "${LOADGEN_CPUS:-}" ]; then loadgen+=(taskset -c "$LOADGEN_CPUS"); fi
    # Every stream is a socket: as many open files as allowed, for us and what we start.
    ulimit -n "$(ulimit -Hn)"
    if [ "$(ulimit -n)" -lt $((S2_SUBS + 500)) ]; then
        echo "bench: open-files limit $(ulimit -n) is too low for $S2_SUBS subscribers" >&2
    fi
    if has S7; then check_s7_limits; fi
}

# S7 holds twice S7_SUBS sockets on loopback (both ends) at once: say which system limit
# would stop it before it starts.
check_s7_limits() {
    [ "$(cat /proc/sys/fs/file-max)" -gt $((3 * S7_SUBS)) ] ||
        echo "bench: fs.file-max $(cat /proc/sys/fs/file-max) is low for S7" >&2
    if [ -r /proc/sys/net/netfilter/nf_conntrack_max ] &&
        [ "$(cat /proc/sys/net/netfilter/nf_conntrack_max)" -lt $((2 * S7_SUBS)) ]; then
        echo "bench: nf_conntrack_max $(cat /proc/sys/net/netfilter/nf_conntrack_max) is below 2 x S7_SUBS (connections may be dropped when conntrack tracks loopback)" >&2
    fi
    [ "$(cat /proc/sys/net/core/somaxconn)" -ge 4096 ] ||
        echo "bench: net.core.somaxconn $(cat /proc/sys/net/core/somaxconn) caps the accept queue below ListenBacklog 4096" >&2
}
