#!/usr/bin/env bash
# S2's load measured by a second load generator, ssebench (bench/ssebench.c), so that
# sseload's S2 figures can be checked against a tool with another design: a blocking
# publisher, the latency stamped in user space when epoll_wait returns (sseload's "as read";
# ssebench has no kernel receive time), markers "bm<seq>x<usec>y" found by a byte scan.
#
#   bench/crosscheck.sh [ours|peer ...]   (default: ours peer peer ours)
#
# Both sides are started as bench/run.sh starts them: ours by scripts/server.sh (rate limits
# off, CHILDREN children), the peer by bench/nchan-peer.sh with as many workers; the peer's
# messages are padded (ssebench -z) to the size of the data of one of our events, measured
# from a frame of our stream. Each round: ssebench -c SUBS -m POSTS -r RATE, then a wait until
# the server has let go of the streams. One summary line per round on stdout, as ssebench
# prints it, prefixed by the side. Environment: BENCH_PORT (18080), PEER_PORT (18090),
# PEER_REDIS_PORT (16390), CHILDREN (8), SUBS (10000), POSTS (100), RATE (10), SRCS (8),
# PAD, KEEP=1 keeps the run directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
sides=("$@")
[ ${#sides[@]} -gt 0 ] || sides=(ours peer peer ours)
export CHILDREN=${CHILDREN:-8}
PORT=${BENCH_PORT:-18080}
PEER_PORT=${PEER_PORT:-18090}
PEER_REDIS_PORT=${PEER_REDIS_PORT:-16390}
SUBS=${SUBS:-10000} POSTS=${POSTS:-100} RATE=${RATE:-10} SRCS=${SRCS:-8}
[ -f "$top/.libs/mod_tweetsse.so" ] || { echo "crosscheck: build the module first (make)" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"

RUNDIR=$(mktemp -d /tmp/tweetsse-crosscheck.XXXXXX)
mkdir -p "$RUNDIR/redis" "$RUNDIR/htdocs"
chmod 755 "$RUNDIR"
cp -r "$top/htdocs/lib" "$RUNDIR/htdocs/"
chmod -R a+rX "$RUNDIR/htdocs"
sock=$RUNDIR/redis.sock
export RUNDIR PORT REDIS=$sock
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
cc -O2 -o "$RUNDIR/ssebench" "$here/ssebench.c"

server=$top/scripts/server.sh
apache_pid=''
redis_pid=''
stop_server() {
    local p=$1
    [ -n "$p" ] || return 0
    kill -TERM "$p" 2>/dev/null || return 0
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
}
cleanup() {
    local rc=$?
    trap - INT TERM EXIT
    stop_server "$apache_pid"
    stop_server "$redis_pid"
    bash "$here/nchan-peer.sh" stop "$RUNDIR/peer" || true
    if [ "${KEEP:-0}" = 1 ] || [ "$rc" != 0 ]; then log "files kept in $RUNDIR"; else rm -rf "$RUNDIR"; fi
    exit "$rc"
}
trap cleanup INT TERM EXIT

bash "$server" redis "$RUNDIR/redis" "$sock" >>"$RUNDIR/redis.log" &
redis_pid=$!
bash "$server" ping "$sock"
RATE_LIMIT=off ADDRESS_RATE_LIMIT=off bash "$server" conf >"$RUNDIR/httpd.conf"
bash "$server" apache "$RUNDIR" 2>>"$RUNDIR/apache-stderr.log" &
apache_pid=$!
base=http://127.0.0.1:$PORT
for i in $(seq 300); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/")" = 200 ] && break
    [ "$i" = 300 ] && { log "Apache did not come up; see $RUNDIR/error.log"; exit 1; }
    sleep 0.1
done
sleep 2 # every child up (StartServers)
cookie=$(curl -s -D - -o /dev/null "$base/home" | sed -n 's/^[Ss]et-[Cc]ookie: \(tw_name=[^;]*\).*/\1/p' | tr -d '\r')
[ -n "$cookie" ] || { log "no name cookie from $base/home"; exit 1; }
# ssebench sends username= with every post: the module takes it only when it is the name the
# cookie signs (tw_name=NAME.SIGNATURE).
name=${cookie#tw_name=}
name=${name%%.*}
PEER_WORKERS=$CHILDREN PEER_REUSEPORT=0 bash "$here/nchan-peer.sh" start "$RUNDIR/peer" "$PEER_PORT" "$PEER_REDIS_PORT" >&2

# The padding: the data line of one of our events minus its message.
if [ -z "${PAD:-}" ]; then
    msg=bm0x$(date +%s%6N)y
    curl -s -N -H 'Accept: text/event-stream' "$base/home/sse" >"$RUNDIR/probe.sse" &
    cp=$!
    for _ in $(seq 100); do [ -s "$RUNDIR/probe.sse" ] && break; sleep 0.05; done
    curl -s -o /dev/null -H "Cookie: $cookie" --data-urlencode "message=$msg" "$base/home"
    for _ in $(seq 100); do grep -q "^data: .*$msg" "$RUNDIR/probe.sse" && break; sleep 0.05; done
    kill "$cp" 2>/dev/null || true
    wait "$cp" 2>/dev/null || true
    n=$(awk -v m="$msg" '/^data: / && index($0, m) { print length($0) - 6; exit }' "$RUNDIR/probe.sse")
    PAD=$((${n:-0} - ${#msg}))
fi
log "ours on $base, the peer on :$PEER_PORT; the peer's messages padded by $PAD bytes"

# Until at most 5 connections to port $1 are established (the streams released), 60 s at most.
settle() {
    for _ in $(seq 120); do
        [ "$(ss -Htn state established "sport = :$1" | wc -l)" -le 5 ] && return 0
        sleep 0.5
    done
    log "port $1: streams still open after 60 s"
}

for side in "${sides[@]}"; do
    if [ "$side" = ours ]; then
        args=(-s "127.0.0.1:$PORT" -S /home/sse -P /home -f message -u "$name" -C "$cookie")
        p=$PORT
    else
        args=(-s "127.0.0.1:$PEER_PORT" -S /sub -P /pub -z "$PAD")
        p=$PEER_PORT
    fi
    log "$side: ssebench -c $SUBS -n $SRCS -k 500 -m $POSTS -r $RATE -w 10 ${args[*]}"
    line=$("$RUNDIR/ssebench" -c "$SUBS" -n "$SRCS" -k 500 -m "$POSTS" -r "$RATE" -w 10 "${args[@]}" \
        2>>"$RUNDIR/ssebench.err") || true
    tail -2 "$RUNDIR/ssebench.err" >&2
    echo "$side $line"
    settle "$p"
done
