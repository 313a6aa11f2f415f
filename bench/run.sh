#!/usr/bin/env bash
# `make bench`: the feed side by side with nginx + Nchan (Debian's libnginx-mod-nchan, through
# its own Redis), both on loopback in one run, and a Markdown table of the figures.
#
#   bench/run.sh [-q|--quick] [S1 S2 S3 S4 S5 S6 S7]   (default: S1-S5)
#
#   S1  1,000 subscribers, 100 posts/s for 10 s: lost, latency p50/p99, server CPU
#   S2  10,000 concurrent subscribers on one Apache, 100 posts at 10/s: connected, lost,
#       p50/p99; then all 10,000 close and come back at once (time to a new stream), and how
#       long the server keeps the closed streams
#   S3  memory per idle subscriber at 10,000 (RSS with the streams open minus without), and
#       the server's CPU while they are idle
#   S4  POST throughput with wrk (50 connections) vs Nchan's POST /pub
#   S5  GET /home with 50 posts vs the same Apache serving the same page as a static file
#   XC  S2's load measured by a second load generator, ssebench (bench/ssebench.c), to check
#       sseload's S2 figures against a tool of another design (a blocking publisher, latency
#       stamped when epoll_wait returns: compare with sseload's "as read"); ROUNDS mirrored
#       rounds, each summary line logged and kept in BENCH_DIR/crosscheck.txt. Not in the
#       default set.
#   S6  the cluster of `make run-cluster` (scripts/cluster.sh: HAProxy, S6_INSTANCES Apache
#       instances, Redis primary + replica + 3 Sentinels) on ports S6_PORT..S6_PORT+112:
#       S6_SUBS subscribers through HAProxy (leastconn spreads them over the instances), S1's
#       posts at S1's rate through HAProxy (so through any instance): connected, lost, p50/p99,
#       streams per instance, against S1 of the same run (S6 implies S1; one round). Every
#       instance as the single one (CHILDREN children, rate limits off), and
#       TweetsseRedisMinReplicas S6_MIN_REPLICAS (0: left out, as for the single instance,
#       whose Redis has no replica; 1 adds a WAIT for the replica to every post). Not in the
#       default set: it needs HAProxy, and starts a cluster (about 40 s).
#   S7  100,000 concurrent subscribers on one Apache (CHILDREN children), 30 posts at 1/s:
#       connected, lost, p50/p99, KB per subscriber, server CPU and syscalls per delivered
#       event (perf stat over the posting phase); sseload forks S7_PROCS processes. Not in
#       the default set (`make bench-100k` runs it alone, about 2 minutes).
#
# Both sides publish the same payload: the peer's message is padded (sseload -z) to the size
# of the data of one of our events, measured from a frame of our stream at the start (PAD
# overrides it). Every latency is measured twice: when sseload reads the bytes, and at the
# kernel's receive time of the segment (sseload -K); the table gives the second, which does
# not depend on how soon the load generator gets a core. Server CPU per delivered event is
# the servers' CPU time (web server + Redis, from /proc) over the posting phase divided by
# the events delivered; bytes per event are what the subscribers read over the posting
# phase (HTTP body: SSE framing and payload) divided by the events delivered.
# S1 and S2/S3 run ROUNDS times (2; quick mode 1) in mirrored order (ours, peer, peer, ours, ...)
# and the table gives the median (the mean of two) with the range; lost and dropped are the
# worst round. Everything (S1-S5) took about 4 minutes on 2 cores.
# Our side is started by scripts/server.sh exactly as `make run` starts it. Each round's
# measurements are saved as JSON in BENCH_DIR/results (sseload's result and the server-side
# figures); bench/report.mjs turns them into the table (`node bench/report.mjs DIR` again
# on a kept directory). wrk comes from scripts/deps.sh (`make deps`).
# Environment: BENCH_PORT (18080), PEER_PORT (18090), PEER_REDIS_PORT (16390), BENCH_DIR (a
# new directory under /tmp), KEEP=1 keeps it (logs, configs) afterwards, LOADGEN_NICE (-10),
# LOADGEN_CPUS (a taskset CPU list for sseload; unset: any CPU), CHILDREN (8, as `make run`;
# the peer gets as many nginx workers), PEER_REUSEPORT (1 when S7 runs, else 0), PAD; ROUNDS and the sizes below (S1_SUBS, S1_RATE,
# S1_SECS, S2_SUBS, S2_POSTS, S2_RATE, WRK_SECS, S7_SUBS, S7_POSTS, S7_RATE, S7_PROCS, SRCS, S6_SUBS,
# S6_INSTANCES, S6_MIN_REPLICAS, S6_PORT) override the defaults.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)

# ---- options --------------------------------------------------------------------------------
quick=0
want=()
for a in "$@"; do
    case $a in
    -q | --quick) quick=1 ;;
    S[1-7] | s[1-7] | XC | xc) want+=("${a^^}") ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;p}' "$0"; exit 0 ;;
    *) echo "bench: unknown argument '$a' (try --help)" >&2; exit 2 ;;
    esac
done
[ ${#want[@]} -gt 0 ] || want=(S1 S2 S3 S4 S5)
has() { [[ " ${want[*]} " == *" $1 "* ]]; }
# S6 is read against S1 of the same run.
if has S6 && ! has S1; then want+=(S1); fi

# Scenario sizes; quick mode keeps every scenario but makes it short and small.
if [ "$quick" = 1 ]; then
    : "${S1_SUBS:=1000}" "${S1_RATE:=100}" "${S1_SECS:=3}"
    : "${S2_SUBS:=2000}" "${S2_POSTS:=30}" "${S2_RATE:=10}" "${WRK_SECS:=3}" "${ROUNDS:=1}"
else
    : "${S1_SUBS:=1000}" "${S1_RATE:=100}" "${S1_SECS:=10}"
    : "${S2_SUBS:=10000}" "${S2_POSTS:=100}" "${S2_RATE:=10}" "${WRK_SECS:=10}" "${ROUNDS:=2}"
fi
: "${S7_SUBS:=100000}" "${S7_POSTS:=30}" "${S7_RATE:=1}" "${S7_PROCS:=7}"
: "${S6_SUBS:=3000}" "${S6_INSTANCES:=3}" "${S6_MIN_REPLICAS:=0}" "${S6_PORT:=18200}"
: "${SRCS:=8}" # source addresses 127.0.0.2..(SRCS+1) for the subscribers
# Apache children, as `make run` starts them (scripts/run.sh); nginx gets as many workers.
export CHILDREN=${CHILDREN:-8}
PORT=${BENCH_PORT:-18080}
PEER_PORT=${PEER_PORT:-18090}
PEER_REDIS_PORT=${PEER_REDIS_PORT:-16390}
S1_POSTS=$((S1_RATE * S1_SECS))
BENCH_KEEPALIVE=${KEEPALIVE:-15} # TweetsseKeepalive of the instance (scripts/server.sh conf)

# ---- preconditions --------------------------------------------------------------------------
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
# The load generator shares the two cores with the servers: a higher priority keeps it from
# being the one that falls behind (the same for both sides). LOADGEN_NICE=0 turns it off.
nice=()
if [ "$(id -u)" = 0 ] && [ "${LOADGEN_NICE:--10}" != 0 ]; then nice=(nice -n "${LOADGEN_NICE:--10}"); fi
if [ -n "${LOADGEN_CPUS:-}" ]; then nice+=(taskset -c "$LOADGEN_CPUS"); fi
# Every stream is a socket: as many open files as allowed, for us and what we start.
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt $((S2_SUBS + 500)) ]; then
    echo "bench: open-files limit $(ulimit -n) is too low for $S2_SUBS subscribers" >&2
fi
# S7 holds twice S7_SUBS sockets on loopback (both ends) at once: say which system limit
# would stop it before it starts.
if [[ " ${want[*]} " == *" S7 "* ]]; then
    [ "$(cat /proc/sys/fs/file-max)" -gt $((3 * S7_SUBS)) ] ||
        echo "bench: fs.file-max $(cat /proc/sys/fs/file-max) is low for S7" >&2
    if [ -r /proc/sys/net/netfilter/nf_conntrack_max ] &&
        [ "$(cat /proc/sys/net/netfilter/nf_conntrack_max)" -lt $((2 * S7_SUBS)) ]; then
        echo "bench: nf_conntrack_max $(cat /proc/sys/net/netfilter/nf_conntrack_max) is below 2 x S7_SUBS (connections may be dropped when conntrack tracks loopback)" >&2
    fi
    [ "$(cat /proc/sys/net/core/somaxconn)" -ge 4096 ] ||
        echo "bench: net.core.somaxconn $(cat /proc/sys/net/core/somaxconn) caps the accept queue below ListenBacklog 4096" >&2
fi

# ---- private run directory ------------------------------------------------------------------
RUNDIR=${BENCH_DIR:-$(mktemp -d /tmp/tweetsse-bench.XXXXXX)}
RESULTS=$RUNDIR/results
mkdir -p "$RUNDIR/redis" "$RUNDIR/htdocs" "$RESULTS"
chmod 755 "$RUNDIR" # Apache's children run as www-data
cp -r "$top/htdocs/lib" "$RUNDIR/htdocs/"
chmod -R a+rX "$RUNDIR/htdocs"
sock=$RUNDIR/redis.sock
export RUNDIR PORT REDIS=$sock
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

# ---- stop everything we started, whatever happens -------------------------------------------
server=$top/scripts/server.sh
bg_pids=() # load generators
apache_pid=
redis_pid_=
cluster_pid= # scripts/cluster.sh of S6
# SIGTERM a server we started (server.sh execs it: the pid is the server's) and wait up to
# 20 s for it to go, then SIGKILL.
stop_server() {
    local p=$1
    [ -n "$p" ] || return 0
    kill -TERM "$p" 2>/dev/null || return 0
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
}
# SIGTERM scripts/cluster.sh (it stops its members in order) and wait up to 60 s for it.
stop_cluster() {
    local p=$cluster_pid
    [ -n "$p" ] || return 0
    cluster_pid=
    kill -TERM "$p" 2>/dev/null || return 0
    for _ in $(seq 300); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
}
cleanup() {
    local rc=$?
    trap - INT TERM EXIT
    for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null || true; done
    stop_cluster
    stop_server "$apache_pid"
    stop_server "$redis_pid_"
    bash "$here/nchan-peer.sh" stop "$RUNDIR/peer" || true
    wait 2>/dev/null || true
    if [ "${KEEP:-0}" = 1 ] || [ "$rc" != 0 ]; then
        log "files kept in $RUNDIR"
    else
        rm -rf "$RUNDIR"
    fi
    exit "$rc"
}
trap cleanup INT TERM EXIT

# ---- our side: Redis and Apache exactly as `make run` starts them ---------------------------
# scripts/server.sh, as for scripts/run.sh; bench/httpd-bench.conf only adds the static
# copies of the page that S5 compares with.
bash "$server" redis "$RUNDIR/redis" "$sock" >>"$RUNDIR/redis.log" &
redis_pid_=$!
bash "$server" ping "$sock"
# The rate limits are off: the benchmark posts far faster than any visitor may.
{
    RATE_LIMIT=off ADDRESS_RATE_LIMIT=off bash "$server" conf
    echo
    cat "$here/httpd-bench.conf"
} >"$RUNDIR/httpd.conf"
bash "$server" check "$RUNDIR" 2>&1 | grep -v 'Syntax OK' >&2 || true
bash "$server" apache "$RUNDIR" 2>>"$RUNDIR/apache-stderr.log" &
apache_pid=$!
base=http://127.0.0.1:$PORT

# Pids of the Apache parent and its children.
apache_pids() {
    echo "$apache_pid"
    pgrep -P "$apache_pid" || true
}
# Sum of a field of /proc/PID/status (VmRSS in KB, Threads) over the given pids.
sum_status() {
    local field=$1 total=0 v p
    shift
    for p in "$@"; do
        v=$(awk -v f="$field:" '$1 == f { print $2 }' "/proc/$p/status" 2>/dev/null || true)
        total=$((total + ${v:-0}))
    done
    echo "$total"
}
# CPU time used so far by the given pids, in ns: the time on a CPU of each of their threads
# (schedstat), read in one pass; exact, where /proc/PID/stat counts clock ticks.
cpu_ns() {
    local p files=()
    for p in "$@"; do files+=(/proc/"$p"/task/*/schedstat); done
    cat "${files[@]}" 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }'
}

# TCP sockets held open by the given processes (listeners and client connections; Redis
# connections too when Redis is reached over TCP). A stream whose client has gone stays
# counted until the server closes it, whatever its TCP state.
held_tcp() {
    local p
    awk 'NR > 1 { print $7 }' /proc/net/unix | sort -u >"$RUNDIR/unix.inodes"
    for p in "$@"; do ls -l "/proc/$p/fd" 2>/dev/null || true; done |
        sed -n 's/.*socket:\[\([0-9]*\)\]$/\1/p' | sort -u | comm -23 - "$RUNDIR/unix.inodes" | wc -l
}
# After a load run: wait (at most $2 s) until the processes listed by function $1 hold no
# more TCP sockets than $3 (the count before the run); prints how many seconds that took
# (three decimals: report.mjs rounds).
wait_released() {
    local pids=$1 max=$2 base=$3 t0 n
    t0=$(date +%s.%N)
    while :; do
        # shellcheck disable=SC2046
        n=$(held_tcp $($pids))
        [ "$n" -le "$base" ] && break
        if awk -v a="$t0" -v b="$(date +%s.%N)" -v m="$max" 'BEGIN { exit !(b - a > m) }'; then
            log "$pids: $((n - base)) connections still held after $max s"
            break
        fi
        sleep 0.5
    done
    awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }'
}

# Wait until every child and its worker threads are up and the feed answers.
want_threads=$(awk '/<IfModule mpm_event_module>/ { e = 1 } /<\/IfModule>/ { e = 0 }
    e && /^ *ThreadsPerChild/ { t = $2 } e && /^ *StartServers/ { s = $2 }
    END { print t * s }' "$RUNDIR/httpd.conf")
for i in $(seq 300); do
    kill -0 "$apache_pid" 2>/dev/null || { log "Apache exited; see $RUNDIR/error.log"; exit 1; }
    if [ -f "$RUNDIR/httpd.pid" ] && curl -s -o /dev/null -w '%{http_code}' "$base/" | grep -q 200; then
        # shellcheck disable=SC2046
        [ "$(sum_status Threads $(apache_pids))" -ge "$want_threads" ] && break
    fi
    [ "$i" = 300 ] && { log "Apache did not come up; see $RUNDIR/error.log"; exit 1; }
    sleep 0.1
done
# shellcheck disable=SC2046
log "ours: Apache on $base ($(apache_pids | wc -l) processes, $(sum_status Threads $(apache_pids)) threads), rate limits off"
# A visitor's signed name cookie, from a first page view: every post is made as that visitor.
cookie=$(curl -s -D - -o /dev/null "$base/home" | sed -n 's/^[Ss]et-[Cc]ookie: \(tw_name=[^;]*\).*/\1/p' | tr -d '\r')
[ -n "$cookie" ] || { log "no name cookie from $base/home"; exit 1; }
export BENCH_COOKIE=$cookie

# ---- the peer -------------------------------------------------------------------------------
# One listening socket per nginx worker (reuseport) only when S7 runs: there one shared
# socket let a worker take 19,000 connections and refuse the rest, and at S2 (one round each)
# reuseport measured the peer's p99 at 120 ms against 80 without it. PEER_REUSEPORT overrides.
if has S7; then : "${PEER_REUSEPORT:=1}"; else : "${PEER_REUSEPORT:=0}"; fi
export PEER_REUSEPORT
PEER_WORKERS=$CHILDREN bash "$here/nchan-peer.sh" start "$RUNDIR/peer" "$PEER_PORT" "$PEER_REDIS_PORT" >&2
peer=http://127.0.0.1:$PEER_PORT

# ---- the payload ----------------------------------------------------------------------------
# The data of one event, in bytes: open a stream at $1 (curl), publish a message of the form
# of sseload's markers with the command in $2.. (the message appended), and measure the data
# line that carries it. Prints "data-bytes message-bytes".
frame_data() {
    local url=$1 msg raw cp n
    shift
    msg="slprobeq0t$(date +%s%6N)e"
    raw=$RUNDIR/probe-$RANDOM.sse
    : >"$raw"
    curl -s -N -H 'Accept: text/event-stream' "$url" >"$raw" &
    cp=$!
    # The stream is open once its first bytes (retry: or a comment) have come.
    for _ in $(seq 100); do [ -s "$raw" ] && break; sleep 0.05; done
    "$@" "$msg" >/dev/null
    for _ in $(seq 100); do grep -q "^data: .*$msg" "$raw" && break; sleep 0.05; done
    kill "$cp" 2>/dev/null || true
    wait "$cp" 2>/dev/null || true
    n=$(awk -v m="$msg" '/^data: / && index($0, m) { print length($0) - 6; exit }' "$raw")
    echo "${n:-0} ${#msg}"
}
post_ours() { curl -s -o /dev/null -H "Cookie: $cookie" --data-urlencode "message=$1" "$base/home"; }
post_peer() { curl -s -o /dev/null --data-binary "$1" "$peer/pub"; }
# Our card around the message: the peer's message gets that many bytes of padding, so that
# the data of its events is as large as ours.
read -r ours_data ours_msg <<<"$(frame_data "$base/home/sse" post_ours)"
[ "$ours_data" -gt 0 ] || { log "no event of ours on $base/home/sse"; exit 1; }
PAD=${PAD:-$((ours_data - ours_msg))}
# sseload's padding is a space and PAD - 1 x's after the marker.
pad_with() {
    if [ "$PAD" -gt 0 ]; then printf '%s %s' "$1" "$(head -c $((PAD - 1)) /dev/zero | tr '\0' x)"; else printf '%s' "$1"; fi
}
post_peer_padded() { post_peer "$(pad_with "$1")"; }
read -r peer_data _ <<<"$(frame_data "$peer/sub" post_peer_padded)"
log "payload: the data of our event $ours_data bytes (a $ours_msg-byte message in its card); the peer's message padded by $PAD bytes: $peer_data bytes"

nginx_pids() {
    local mp
    mp=$(cat "$RUNDIR/peer/nginx.pid" 2>/dev/null) || return 0
    echo "$mp"
    pgrep -P "$mp" || true
}
redis_pid() { echo "$redis_pid_"; }
peer_redis_pid() { cat "$RUNDIR/peer/redis.pid"; }
# CPU ns used so far by one side: the web server and its Redis.
server_cpu() {
    # shellcheck disable=SC2046
    if [ "$1" = ours ]; then cpu_ns $(apache_pids) $(redis_pid); else cpu_ns $(nginx_pids) $(peer_redis_pid); fi
}

# ---- results --------------------------------------------------------------------------------
# One JSON object per measurement in $RESULTS, written by bench/lib/record.mjs from fields
# (name=text, name:=json, name:=@file; see there): the numbers as measured, sseload's own
# result embedded as it printed it. bench/report.mjs reads them all.

# sseload_field NAME LABEL: the result field NAME for the finished sseload of label: its
# JSON result (NAME:=@file), or NAME:=null when it printed none; its summary goes to the log.
sseload_field() {
    local name=$1 label=$2 out=$RUNDIR/$2.out
    grep "^$label: " "$RUNDIR/$label.err" | sed 's/^/    /' >&2 || true
    if [[ $(cat "$out" 2>/dev/null) == "{"*"}" ]]; then
        echo "$name:=@$out"
    else
        log "$label: sseload failed: $(tail -3 "$RUNDIR/$label.err")"
        echo "$name:=null"
    fi
}
# save NAME FIELD...: the result file NAME.json of one measurement.
save() {
    local name=$1
    shift
    node "$here/lib/record.mjs" "$RESULTS/$name.json" "$@"
}

# The sides of round $1: ours first in odd rounds, the peer first in even ones.
sides_of() { if [ $(($1 % 2)) = 1 ]; then echo ours peer; else echo peer ours; fi; }
web_pids() { if [ "$1" = ours ]; then apache_pids; else nginx_pids; fi; }

# After a side's run: wait until its server has let go of every stream, so the next
# measurement starts from a quiet server. Prints the seconds it took.
settle_side() {
    local side=$1 held0=$2
    if [ "$side" = ours ]; then
        wait_released apache_pids $((2 * BENCH_KEEPALIVE + 10)) "$held0"
    else
        wait_released nginx_pids 30 "$held0"
    fi
}

our_sse=(-s "$base/home/sse" -p "$base/home" -F 'message=%s' -H "Cookie: $cookie")
peer_sse=(-s "$peer/sub" -p "$peer/pub" -B '%s' -z "$PAD")

# Start sseload for one side with a label and extra options, in the background: its pid is
# in $lp, its JSON result in $RUNDIR/LABEL.out, its summary and progress in .err.
lp=
run_sseload() {
    local side=$1 label=$2
    shift 2
    local -a target
    if [ "$side" = ours ]; then target=("${our_sse[@]}"); else target=("${peer_sse[@]}"); fi
    timeout 900 "${nice[@]}" "$sseload" -l "$label" "${target[@]}" -n "$SRCS" -K "$@" \
        >"$RUNDIR/$label.out" 2>"$RUNDIR/$label.err" &
    lp=$!
    bg_pids+=("$lp")
}
# Wait until the sseload of $label has every subscriber connected (or failed), or has ended.
wait_ready() {
    local label=$1
    for _ in $(seq 3000); do
        grep -q 'ready' "$RUNDIR/$label.err" 2>/dev/null && break
        kill -0 "$lp" 2>/dev/null || break
        sleep 0.1
    done
    grep -h 'ready' "$RUNDIR/$label.err" | sed 's/^/    /' >&2 || true
}

# S1, one side, round $2: 1,000 subscribers, 100 posts/s; CPU of the server side over the
# posting phase (from the go to the end of the drain).
s1_once() {
    local side=$1 r=$2 label=S1-$1-$2 c0 c1 held0 go
    log "S1 $side, round $r: $S1_SUBS subscribers, $S1_POSTS posts at $S1_RATE/s"
    # shellcheck disable=SC2046
    held0=$(held_tcp $(web_pids "$side"))
    go=$RUNDIR/$label.go
    rm -f "$go"
    run_sseload "$side" "$label" -c "$S1_SUBS" -m "$S1_POSTS" -r "$S1_RATE" -w 10 -g "$go"
    wait_ready "$label"
    c0=$(server_cpu "$side")
    touch "$go"
    wait "$lp" || true
    c1=$(server_cpu "$side")
    save "$label" scenario=S1 side="$side" round:="$r" server_cpu_ns:="$((c1 - c0))" \
        "$(sseload_field sseload "$label")"
    settle_side "$side" "$held0" >/dev/null
}

# S2 + S3, one side, round $2. sseload connects every subscriber and holds them idle until
# told to go on (S3 samples CPU and memory then), then publishes (S2). The baseline RSS is
# taken just before it starts.
s23_once() {
    local side=$1 r=$2 label=S2-$1-$2 posts=0 go rss0 rss1 n c0 c1 t0 t1 held0 idle_ns idle_s
    local run back=back:=null release
    has S2 && posts=$S2_POSTS
    # shellcheck disable=SC2046
    rss0=$(sum_status VmRSS $(web_pids "$side"))
    # shellcheck disable=SC2046
    held0=$(held_tcp $(web_pids "$side"))
    log "S2/S3 $side, round $r: $S2_SUBS subscribers (baseline RSS $((rss0 / 1024)) MB), $posts posts at $S2_RATE/s"
    go=$RUNDIR/$label.go # created once the idle samples are taken
    rm -f "$go"
    run_sseload "$side" "$label" -c "$S2_SUBS" -k 500 -T 30 -d 2 -g "$go" -m "$posts" \
        -r "$S2_RATE" -w 10 -v
    wait_ready "$label"
    # Idle streams: the server's CPU over 3 s, then its memory.
    sleep 1
    t0=$(date +%s.%N)
    c0=$(server_cpu "$side")
    sleep 3
    t1=$(date +%s.%N)
    c1=$(server_cpu "$side")
    # shellcheck disable=SC2046
    rss1=$(sum_status VmRSS $(web_pids "$side"))
    n=$(sed -n 's/.*ready connected=\([0-9]*\).*/\1/p' "$RUNDIR/$label.err")
    n=${n:-0}
    idle_ns=$((c1 - c0))
    idle_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    log "S3 $side: RSS $((rss0 / 1024)) MB -> $((rss1 / 1024)) MB with $n idle streams; server CPU $(awk -v c="$idle_ns" -v t="$idle_s" 'BEGIN { printf "%.0f", c / 1e9 / t * 100 }')% of a core while idle"
    # The posts: server CPU from the go to the end of the run.
    c0=$(server_cpu "$side")
    touch "$go"
    wait "$lp" || true
    c1=$(server_cpu "$side")
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
        server_cpu_ns:="$((c1 - c0))" release_s:="$release" "$run" "$back"
}

# Syscalls of one side's server processes (web server + Redis, every thread) while they run:
# perf stat in the background, its pid in $perf_pid, until stop_syscalls. Without perf (or
# allowed to trace) nothing is counted and the figures stay out of the table.
perf_pid=
start_syscalls() {
    local side=$1 out=$2 pids
    perf_pid=
    command -v perf >/dev/null || return 0
    # shellcheck disable=SC2046
    pids=$(echo $(web_pids "$side") $(if [ "$side" = ours ]; then redis_pid; else peer_redis_pid; fi) | tr ' ' ,)
    perf stat -x, -o "$out" -e raw_syscalls:sys_enter,syscalls:sys_enter_sendmsg,syscalls:sys_enter_writev,syscalls:sys_enter_write,syscalls:sys_enter_sendto,syscalls:sys_enter_epoll_wait \
        -p "$pids" 2>/dev/null &
    # shellcheck disable=SC2034 # read by stop_syscalls
    perf_pid=$!
    sleep 0.5 # attached to every thread
}
# Stop the count of start_syscalls (in this shell: perf is its child) and wait for its report.
stop_syscalls() {
    [ -n "$perf_pid" ] || return 0
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" 2>/dev/null || true
}
# The counts perf wrote to $1 as fields of the result: syscalls.total:=n,
# syscalls.sendmsg:=n, ..., one a line; syscalls:=null when it counted nothing.
syscall_fields() {
    [ -s "$1" ] || { echo 'syscalls:=null'; return 0; }
    awk -F, '$3 ~ /sys_enter/ && $1 ~ /^[0-9]+$/ {
            n = $3; sub(/.*:sys_enter_?/, "", n); if (n == "") n = "total";
            print "syscalls." n ":=" $1; c++ }
        END { if (!c) print "syscalls:=null" }' "$1"
}

# S7, one side: S7_SUBS subscribers from S7_PROCS sseload processes, held idle (memory),
# then S7_POSTS posts at S7_RATE/s: lost, latency, server CPU and syscalls per delivery.
s7_once() {
    local side=$1 label=S7-$1 go rss0 rss1 n c0 c1 held0 release
    local -a sys
    # shellcheck disable=SC2046
    rss0=$(sum_status VmRSS $(web_pids "$side"))
    # shellcheck disable=SC2046
    held0=$(held_tcp $(web_pids "$side"))
    log "S7 $side: $S7_SUBS subscribers from $S7_PROCS processes (baseline RSS $((rss0 / 1024)) MB), $S7_POSTS posts at $S7_RATE/s"
    go=$RUNDIR/$label.go
    rm -f "$go"
    run_sseload "$side" "$label" -c "$S7_SUBS" -P "$S7_PROCS" -k 300 -T 60 -d 2 -g "$go" \
        -m "$S7_POSTS" -r "$S7_RATE" -w 30 -v
    wait_ready "$label"
    sleep 2
    # shellcheck disable=SC2046
    rss1=$(sum_status VmRSS $(web_pids "$side"))
    n=$(sed -n 's/.*ready connected=\([0-9]*\).*/\1/p' "$RUNDIR/$label.err")
    n=${n:-0}
    log "S7 $side: RSS $((rss0 / 1024)) MB -> $((rss1 / 1024)) MB with $n streams"
    # How evenly the processes took them (TCP sockets held by each).
    local p per=
    for p in $(web_pids "$side"); do per+=" $(held_tcp "$p")"; done
    log "S7 $side: TCP sockets per process:$per"
    start_syscalls "$side" "$RUNDIR/$label.perf"
    c0=$(server_cpu "$side")
    touch "$go"
    wait "$lp" || true
    c1=$(server_cpu "$side")
    stop_syscalls
    mapfile -t sys < <(syscall_fields "$RUNDIR/$label.perf")
    release=$(settle_side "$side" "$held0")
    log "S7 $side: streams released $release s after the clients closed them"
    save "$label" scenario=S7 side="$side" round:=1 idle.streams:="$n" idle.rss0_kb:="$rss0" \
        idle.rss1_kb:="$rss1" server_cpu_ns:="$((c1 - c0))" "${sys[@]}" release_s:="$release" \
        "$(sseload_field sseload "$label")"
}

# Requests/s of one wrk run (50 connections, 2 threads); errors go to the log.
run_wrk() {
    local label=$1 out rps bad
    shift
    out=$(timeout $((WRK_SECS + 30)) wrk -t2 -c50 -d"${WRK_SECS}s" --latency "$@" 2>&1) || true
    echo "$out" >>"$RUNDIR/$label.wrk"
    rps=$(awk '/^Requests\/sec:/ { print int($2) }' <<<"$out")
    bad=$(awk '/Non-2xx or 3xx responses:/ { print $NF } /Socket errors:/ { print }' <<<"$out")
    log "$label: ${rps:-?} requests/s${bad:+ (errors: $bad)}"
    echo "${rps:-0}"
}

wrk_fields=() # the result fields of the last wrk_mirrored: rps.LABEL[]:=n, two per target

# wrk_mirrored "label|BENCH_BODY|wrk args..."...: wrk over several targets, each twice, in
# the order A B C ... C B A so that drift hits them alike, after a 2 s warm-up of each (a
# fixed load, not a wait); the requests/s of both runs of each target in wrk_fields.
wrk_mirrored() {
    local i n=$# label body args v
    local -a specs=("$@")
    wrk_fields=()
    for i in $(seq 0 $((n - 1))); do
        IFS='|' read -r label body args <<<"${specs[$i]}"
        # shellcheck disable=SC2086
        BENCH_BODY=$body timeout 30 wrk -t2 -c50 -d2s $args >/dev/null 2>&1 || true
    done
    for i in $(seq 0 $((n - 1))) $(seq $((n - 1)) -1 0); do
        IFS='|' read -r label body args <<<"${specs[$i]}"
        # shellcheck disable=SC2086
        v=$(BENCH_BODY=$body run_wrk "$label" $args)
        wrk_fields+=("rps.${label}[]:=$v")
    done
}

# S4: publishing throughput: our form POST /home vs Nchan's raw POST /pub.
scenario_s4() {
    log "S4: POST throughput, wrk 50 connections, 2 x ${WRK_SECS}s each"
    wrk_mirrored "S4-ours|form|-s $here/post.lua $base/home" "S4-peer|raw|-s $here/post.lua $peer/pub"
    save S4 scenario=S4 "${wrk_fields[@]}"
}

# S5: the rendered page (50 posts) vs a static copy of it on the same Apache: page.html
# with Apache's defaults, page-sendfile.html with EnableSendfile On (bench/httpd-bench.conf).
scenario_s5() {
    local i dyn static
    log "S5: GET /home with 50 posts vs the same page as a static file"
    for i in $(seq 50); do
        curl -s -o /dev/null -X POST -H "Cookie: $cookie" \
            --data-urlencode "message=Post $i of the page benchmark: a message of ordinary length, with <markup> & \"quotes\" to escape." \
            "$base/home"
    done
    # A returning visitor: the name cookie of the first visit, sent with every request.
    curl -s -H "Cookie: $cookie" -o "$RUNDIR/htdocs/lib/page.html" "$base/home"
    cp "$RUNDIR/htdocs/lib/page.html" "$RUNDIR/htdocs/lib/page-sendfile.html"
    chmod 644 "$RUNDIR/htdocs/lib/page.html" "$RUNDIR/htdocs/lib/page-sendfile.html"
    dyn=$(curl -s -H "Cookie: $cookie" -o /dev/null -w '%{size_download}' "$base/home")
    static=$(curl -s -H "Cookie: $cookie" -o /dev/null -w '%{size_download}' "$base/lib/page.html")
    local posts
    posts=$(grep -o 'class="card tw-post' "$RUNDIR/htdocs/lib/page.html" | wc -l)
    log "S5: page $dyn bytes, static copy $static bytes, $posts posts on the page"
    # The cookie has no spaces ("tw_name=..."), so it can travel as one word.
    wrk_mirrored "S5-page|form|-H Cookie:$cookie $base/home" \
        "S5-static|form|-H Cookie:$cookie $base/lib/page.html" \
        "S5-static-sendfile|form|-H Cookie:$cookie $base/lib/page-sendfile.html"
    save S5 scenario=S5 "${wrk_fields[@]}" posts:="$posts" page_bytes:="$dyn" static_bytes:="$static"
}

# S6: S6_INSTANCES instances behind HAProxy, started by scripts/cluster.sh as `make
# run-cluster` starts them; S6_SUBS subscribers and S1's posts, both through HAProxy. The
# server CPU is that of the instances, Redis (primary and replica) and HAProxy over the
# posting phase; HAProxy's share is saved too. Streams per instance: HAProxy's count of
# current connections to each instance once every subscriber is connected.
scenario_s6() {
    local dir=$RUNDIR/cluster out=$RUNDIR/cluster.out label=S6-ours-1 go i c0 c1 h0 h1 c6
    local streams wp pids=
    local -a per_instance
    log "S6: $S6_INSTANCES instances behind HAProxy (scripts/cluster.sh on :$S6_PORT, MIN_REPLICAS=$S6_MIN_REPLICAS), rate limits off"
    # A session of its own: stop_cluster stops it (and so its members) in order.
    PORT=$S6_PORT RUNDIR=$dir INSTANCES=$S6_INSTANCES MIN_REPLICAS=$S6_MIN_REPLICAS \
        RATE_LIMIT=off ADDRESS_RATE_LIMIT=off KEEPALIVE=$BENCH_KEEPALIVE LOGLEVEL=warn \
        setsid bash "$top/scripts/cluster.sh" >"$out" 2>&1 </dev/null &
    cluster_pid=$!
    for i in $(seq 1200); do
        grep -q '^cluster ready:' "$out" && break
        kill -0 "$cluster_pid" 2>/dev/null || { log "S6: scripts/cluster.sh exited: $(tail -5 "$out")"; return 1; }
        [ "$i" = 1200 ] && { log "S6: the cluster was not ready within 120 s; see $out"; return 1; }
        sleep 0.1
    done
    # shellcheck disable=SC1091
    . "$dir/cluster.env"
    # Every instance's children and their worker threads are up, as for the single instance.
    for i in $(seq "$S6_INSTANCES"); do
        wp=$(awk -v n="web$i" '$1 == n { print $2 }' "$dir/cluster.pids")
        pids+=" $wp"
        for _ in $(seq 300); do
            # shellcheck disable=SC2046
            [ "$(sum_status Threads "$wp" $(pgrep -P "$wp"))" -ge "$want_threads" ] && break
            sleep 0.1
        done
    done
    cluster_web_pids() {
        local p
        for p in $pids; do echo "$p"; pgrep -P "$p" || true; done
    }
    cluster_other_pids() { awk '$1 ~ /^redis-/ { print $2 }' "$dir/cluster.pids"; }
    haproxy_pid() { awk '$1 == "haproxy" { print $2 }' "$dir/cluster.pids"; }
    log "S6: $(grep '^cluster ready:' "$out")"
    c6=$(curl -s -D - -o /dev/null "${TW_BALANCER}home" | sed -n 's/^[Ss]et-[Cc]ookie: \(tw_name=[^;]*\).*/\1/p' | tr -d '\r')
    [ -n "$c6" ] || { log "S6: no name cookie from ${TW_BALANCER}home"; return 1; }
    log "S6: $S6_SUBS subscribers through HAProxy, $S1_POSTS posts at $S1_RATE/s through HAProxy"
    go=$RUNDIR/$label.go
    rm -f "$go"
    timeout 900 "${nice[@]}" "$sseload" -l "$label" -s "${TW_BALANCER}home/sse" -p "${TW_BALANCER}home" \
        -F 'message=%s' -H "Cookie: $c6" -n "$SRCS" -K -c "$S6_SUBS" -T 30 -m "$S1_POSTS" \
        -r "$S1_RATE" -w 10 -g "$go" >"$RUNDIR/$label.out" 2>"$RUNDIR/$label.err" &
    lp=$!
    bg_pids+=("$lp")
    wait_ready "$label"
    sleep 1
    # HAProxy's current connections to each instance: the open streams.
    streams=$(curl -s -m 5 --unix-socket "$TW_HAPROXY_STATS" 'http://stats/stats;csv' |
        awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
            $1 == "apaches" && $2 ~ /^web[0-9]+$/ { printf "%s%s", (n++ ? "," : ""), $col["scur"] }')
    log "S6: streams per instance (HAProxy's current connections): $streams"
    IFS=, read -r -a per_instance <<<"$streams"
    # shellcheck disable=SC2046
    c0=$(cpu_ns $(cluster_web_pids) $(cluster_other_pids) $(haproxy_pid))
    h0=$(cpu_ns "$(haproxy_pid)")
    touch "$go"
    wait "$lp" || true
    # shellcheck disable=SC2046
    c1=$(cpu_ns $(cluster_web_pids) $(cluster_other_pids) $(haproxy_pid))
    h1=$(cpu_ns "$(haproxy_pid)")
    save "$label" scenario=S6 side=ours round:=1 instances:="$S6_INSTANCES" \
        min_replicas:="$S6_MIN_REPLICAS" 'streams:=[]' "${per_instance[@]/#/streams[]:=}" \
        server_cpu_ns:="$((c1 - c0))" haproxy_cpu_ns:="$((h1 - h0))" \
        "$(sseload_field sseload "$label")"
    stop_cluster
}

# XC: S2's load by ssebench against either side, ROUNDS mirrored rounds. ssebench sends
# username= with every post: the module takes it only when it is the name the cookie signs
# (tw_name=NAME.SIGNATURE). It stamps its markers "bm<seq>x<usec>y" itself; the peer's get
# the same padding as sseload's (-z). It runs at the default priority (no LOADGEN_NICE).
scenario_xc() {
    local r side held0 line name=${cookie#tw_name=} args
    name=${name%%.*}
    cc -O2 -o "$RUNDIR/ssebench" "$here/ssebench.c"
    for r in $(seq "$ROUNDS"); do
        for side in $(sides_of "$r"); do
            if [ "$side" = ours ]; then
                args=(-s "127.0.0.1:$PORT" -S /home/sse -P /home -f message -u "$name" -C "$cookie")
            else
                args=(-s "127.0.0.1:$PEER_PORT" -S /sub -P /pub -z "$PAD")
            fi
            # shellcheck disable=SC2046
            held0=$(held_tcp $(web_pids "$side"))
            log "XC $side, round $r: ssebench -c $S2_SUBS -n $SRCS -k 500 -m $S2_POSTS -r $S2_RATE -w 10 ${args[*]}"
            line=$("$RUNDIR/ssebench" -c "$S2_SUBS" -n "$SRCS" -k 500 -m "$S2_POSTS" \
                -r "$S2_RATE" -w 10 "${args[@]}" 2>>"$RUNDIR/XC-$side-$r.err") || true
            log "XC $side, round $r: $line"
            echo "$side $r $line" >>"$RUNDIR/crosscheck.txt"
            settle_side "$side" "$held0" >/dev/null
        done
    done
}

# ---- run ------------------------------------------------------------------------------------
# What the report needs to know about the run itself.
q=false
[ "$quick" = 1 ] && q=true
save run date="$(date -u +%F)" cores:="$(nproc)" quick:=$q rounds:="$ROUNDS" \
    "${want[@]/#/scenarios[]=}" S1_SUBS:="$S1_SUBS" S1_RATE:="$S1_RATE" S1_SECS:="$S1_SECS" \
    S1_POSTS:="$S1_POSTS" S2_SUBS:="$S2_SUBS" S2_POSTS:="$S2_POSTS" S2_RATE:="$S2_RATE" \
    WRK_SECS:="$WRK_SECS" S7_SUBS:="$S7_SUBS" S7_POSTS:="$S7_POSTS" S7_RATE:="$S7_RATE" \
    S7_PROCS:="$S7_PROCS" S6_SUBS:="$S6_SUBS" S6_INSTANCES:="$S6_INSTANCES" \
    S6_MIN_REPLICAS:="$S6_MIN_REPLICAS" children:="$CHILDREN" pad:="$PAD" \
    ours_data:="$ours_data" peer_data:="${peer_data:-0}"

# S2/S3 go first so that the memory baseline is not inflated by earlier streams.
t_start=$(date +%s)
if has S2 || has S3; then
    for r in $(seq "$ROUNDS"); do
        for side in $(sides_of "$r"); do s23_once "$side" "$r"; done
    done
fi
if has S1; then
    for r in $(seq "$ROUNDS"); do
        for side in $(sides_of "$r"); do s1_once "$side" "$r"; done
    done
fi
# S6 right after S1, on the same machine state.
if has S6; then scenario_s6; fi
if has S4; then scenario_s4; fi
if has S5; then scenario_s5; fi
if has XC; then scenario_xc; fi
# S7 last: 100,000 streams leave the most behind (memory, TIME_WAIT sockets).
if has S7; then
    for side in ours peer; do s7_once "$side"; done
fi

# ---- table ----------------------------------------------------------------------------------
if printf '%s\n' "${want[@]}" | grep -q '^S'; then node "$here/report.mjs" "$RESULTS"; fi
if [ -s "$RUNDIR/crosscheck.txt" ]; then
    echo; echo "XC (ssebench, side round summary):"; cat "$RUNDIR/crosscheck.txt"
fi
log "done in $(($(date +%s) - t_start)) s"
