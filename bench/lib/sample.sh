# shellcheck shell=bash
# bench/run.sh: what is read off the servers (CPU time, memory, threads, sockets, open
# streams), for any side: ours, peer or cluster. A side provides SIDE_web_pids (the web
# server's processes), SIDE_server_pids (every process whose CPU is the server's: the web
# server, its Redis, HAProxy) and SIDE_streams (the open streams, as the server counts them).

# The processes of the web server of side $1.
web_pids() { "$1_web_pids"; }
# The processes whose CPU counts as the server's for side $1.
server_pids() { "$1_server_pids"; }
# The open streams of side $1, as its server counts them.
streams() { "$1_streams"; }

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
# Resident memory of side $1's web server, in KB.
rss_of() {
    local -a p
    mapfile -t p < <(web_pids "$1")
    sum_status VmRSS "${p[@]}"
}
# Threads of the process $1 and its children (an Apache parent and its children).
threads_under() {
    local -a p
    mapfile -t p < <(pgrep -P "$1" || true)
    sum_status Threads "$1" "${p[@]}"
}
# Whether the Apache parent $1 and its children run every worker thread (want_threads).
threads_up() { [ "$(threads_under "$1")" -ge "$want_threads" ]; }

# CPU time used so far by the given pids, in ns: the time on a CPU of each of their threads
# (schedstat), read in one pass; exact, where /proc/PID/stat counts clock ticks.
cpu_ns() {
    local p files=()
    for p in "$@"; do files+=(/proc/"$p"/task/*/schedstat); done
    cat "${files[@]}" 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }'
}
# CPU ns used so far by side $1's server: the web server and its Redis (and HAProxy).
server_cpu() {
    local -a p
    mapfile -t p < <(server_pids "$1")
    cpu_ns "${p[@]}"
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
# TCP sockets held open by side $1's web server.
held_by() {
    local -a p
    mapfile -t p < <(web_pids "$1")
    held_tcp "${p[@]}"
}

# After a side's run: wait until its server has let go of every stream (holds no more TCP
# sockets than $2, the count before the run), so that the next measurement starts from a
# quiet server: at most 2 x TweetsseKeepalive + 10 s for ours, 30 s for the peer. Prints
# how many seconds that took: the figure "seconds until the server lets go of closed
# streams" (sockets counted every 0.5 s).
settle_side() {
    local side=$1 held0=$2 max=30 t0
    [ "$side" = ours ] && max=$((2 * BENCH_KEEPALIVE + 10))
    t0=$(now_us)
    wait_until "$max" 0.5 held_at_most "$side" "$held0" ||
        log "$side: $(($(held_by "$side") - held0)) connections still held after $max s"
    seconds_since "$t0"
}
# Whether side $1's web server holds at most $2 TCP sockets.
held_at_most() { [ "$(held_by "$1")" -le "$2" ]; }

# wait_streams SIDE N: wait (at most 60 s) until side's server counts at least N open
# streams: it has taken every subscriber the load generator connected. Says so when not.
wait_streams() {
    local side=$1 n=$2
    wait_until 60 0.1 streams_at_least "$side" "$n" ||
        log "$side: $(streams "$side") of $n streams counted after 60 s"
}
# Whether side $1's server counts at least $2 open streams.
streams_at_least() { [ "$(streams "$1")" -ge "$2" ]; }
# Whether side $1's server counts no open stream.
no_streams() { [ "$(streams "$1")" = 0 ]; }
