#!/usr/bin/env bash
# `make soak`: does the server's memory level off? One Apache + Redis started by
# scripts/server.sh as `make run` starts them (CHILDREN children, rate limits off, a small
# history so that it fills early), under bench/soak.mjs's load for SOAK_MINUTES: rounds of
# SOAK_STREAMS streams opening and closing, posts, likes and deletions, 1 s of page GETs and
# 1 s of POSTs. Every SOAK_SAMPLE seconds it reads each child's resident memory (VmRSS of
# /proc/PID/status) and open files (entries of /proc/PID/fd), and Redis' INFO memory
# (used_memory) with the lengths of the log and of its list of posts. At the end,
# bench/soak-report.mjs prints the table: each figure at the start, after the warm-up and at
# the end, and its least-squares slope per hour over the time after the warm-up (the first
# SOAK_WARMUP percent) and over the last half alone (a slope that falls towards 0 is memory
# that levels off); and Redis' memory from the moment the history is full.
#
#   bench/soak.sh            (make soak)
#
# The load is kept moderate (SOAK_PAUSE s between rounds, SOAK_CONC requests at a time): about
# half a core on average, server, Redis and load generator together (the report says how much).
#
# Environment: SOAK_MINUTES (30), SOAK_SAMPLE (10 s), SOAK_WARMUP (20 %), SOAK_STREAMS
# (1000, S1's subscribers), SOAK_POSTS (30 a round), SOAK_LIKES (30 a round), SOAK_DELETES
# (5 a round), SOAK_PAUSE (10 s), SOAK_CONC (4),
# SOAK_HISTORY (2000: TweetsseHistory), CHILDREN (8), SOAK_PORT (18480; Redis on
# SOAK_PORT+1), EXTRA_CONF (a file of directives to add), KEEP=1 keeps the run directory
# (the samples, each round's line, the logs), SOAK_DIR (the run directory; default a new one
# under /tmp).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
server=$top/scripts/server.sh
minutes=${SOAK_MINUTES:-30}
every=${SOAK_SAMPLE:-10}
port=${SOAK_PORT:-18480}
rport=$((port + 1))
export CHILDREN=${CHILDREN:-8}
for n in "$minutes" "$every" "$port"; do
    case $n in '' | *[!0-9]*) echo "soak: not a whole number: '$n'" >&2; exit 2 ;; esac
done
[ -f "$top/.libs/mod_tweetsse.so" ] || { echo "soak: build the module first (make)" >&2; exit 1; }
command -v node >/dev/null || { echo "soak: node is missing (scripts/deps.sh)" >&2; exit 1; }
if ss -Htln "sport = :$port or sport = :$rport" | grep -q .; then
    echo "soak: port $port or $rport is in use (set SOAK_PORT)" >&2
    exit 1
fi

RUNDIR=${SOAK_DIR:-$(mktemp -d /tmp/tw-soak.XXXXXX)}
mkdir -p "$RUNDIR/htdocs" "$RUNDIR/redis"
chmod 755 "$RUNDIR" # Apache's children run as www-data when root
cp -r "$top/htdocs/lib" "$RUNDIR/htdocs/"
chmod -R a+rX "$RUNDIR/htdocs"
apache_pid='' redis_pid='' load_pid=''
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

# Stop what this script started (the load first, Apache before Redis); keep the directory
# when asked or when the run failed.
cleanup() {
    local rc=$? p
    trap - INT TERM EXIT
    for p in $load_pid $apache_pid $redis_pid; do
        kill -TERM "$p" 2>/dev/null || continue
        for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$p" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    if [ "${KEEP:-0}" = 1 ] || [ "$rc" != 0 ]; then log "files kept in $RUNDIR"; else rm -rf "$RUNDIR"; fi
    exit "$rc"
}
trap cleanup INT TERM EXIT

ulimit -n "$(ulimit -Hn)" # the streams are sockets of the load generator too
bash "$server" redis "$RUNDIR/redis" "$rport" >"$RUNDIR/redis.log" &
redis_pid=$!
bash "$server" ping "$rport"
RUNDIR=$RUNDIR PORT=$port REDIS=127.0.0.1:$rport RATE_LIMIT=off ADDRESS_RATE_LIMIT=off \
    HISTORY=${SOAK_HISTORY:-2000} bash "$server" conf >"$RUNDIR/httpd.conf"
bash "$server" apache "$RUNDIR" 2>"$RUNDIR/apache-stderr.log" &
apache_pid=$!
base=http://127.0.0.1:$port/
for _ in $(seq 150); do
    curl -fs -o /dev/null "${base}home/health" && break
    kill -0 "$apache_pid" 2>/dev/null || { log "Apache exited; see $RUNDIR/error.log"; exit 1; }
    sleep 0.2
done
log "soak: Apache on $base ($CHILDREN children), Redis on $rport, history ${SOAK_HISTORY:-2000}; $minutes min, a sample every $every s; files in $RUNDIR"

# One sample: for every child "rss TIME PID KB", "fds TIME PID N" (every open file) and
# "kinds TIME PID CONNS REDIS FILES GONE": of its open files, the descriptors of clients'
# connections (TCP sockets on our port, streams included; a socket the delivery engine holds a
# duplicate of counts twice), of Redis connections (TCP to Redis' port), those that are no
# socket (logs, pipes, eventfds, epoll), and sockets the TCP table no longer lists (closed by
# their client, not yet by the child; also the listener and unix sockets); and "redis TIME
# used_memory used_memory_rss log_length posts_kept keys", and "cpu TIME SERVER REDIS LOAD":
# the CPU time (clock ticks) Apache (its children, living and reaped), Redis and the load
# generator have used so far.
sample() {
    local t=$1 p rss fds links info hex rhex
    hex=$(printf '%04X' "$port")
    rhex=$(printf '%04X' "$rport")
    # The inodes of the connections to our port (not the listener: state 0A), and to Redis.
    awk -v h=":$hex" 'NR > 1 && substr($2, length($2) - 4) == h && $4 != "0A" { print $10 }' \
        /proc/net/tcp | sort -u >"$RUNDIR/conns.inodes"
    awk -v h=":$rhex" 'NR > 1 && substr($3, length($3) - 4) == h { print $10 }' /proc/net/tcp |
        sort -u >"$RUNDIR/redis.inodes"
    for p in $(pgrep -P "$apache_pid"); do
        rss=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$p/status" 2>/dev/null) || continue
        links=$(find "/proc/$p/fd" -mindepth 1 -maxdepth 1 -printf '%l\n' 2>/dev/null) || continue
        fds=$(grep -c . <<<"$links" || true)
        [ -n "$rss" ] || continue
        echo "rss $t $p $rss"
        echo "fds $t $p $fds"
        awk -v conns="$RUNDIR/conns.inodes" -v redis="$RUNDIR/redis.inodes" -v t="$t" -v p="$p" '
            BEGIN { while ((getline l <conns) > 0) c[l] = 1; while ((getline l <redis) > 0) r[l] = 1 }
            /^socket:/ { i = $0; gsub(/[^0-9]/, "", i); if (i in c) nc++; else if (i in r) nr++; else ng++; next }
            NF { nf++ }
            END { printf "kinds %s %s %d %d %d %d\n", t, p, nc, nr, nf, ng }' <<<"$links"
    done
    echo "cpu $t $(cputicks "$apache_pid" 1) $(cputicks "$redis_pid" 1) $(cputicks "$load_pid" 0)"
    info=$(redis-cli -p "$rport" info memory | tr -d '\r')
    echo "redis $t $(awk -F: '$1 == "used_memory" || $1 == "used_memory_rss" { printf "%s ", $2 }' <<<"$info")$(redis-cli -p "$rport" xlen tweetsse:feed) $(redis-cli -p "$rport" llen tweetsse:feed:posts) $(redis-cli -p "$rport" dbsize)"
}

# The CPU ticks of process $1 and of its living children, and with $2 = 1 of its reaped
# children and their descendants (cutime, cstime) and of its children's children: Apache's
# children, Redis (server.sh execs it: its children are redis-server's own), the load.
cputicks() {
    local p=$1 deep=$2 sum=0 c
    if [ -z "$p" ] || [ ! -r "/proc/$p/stat" ]; then
        echo 0
        return
    fi
    sum=$(awk -v d="$deep" '{ sub(/^.*\) /, ""); print $12 + $13 + (d ? $14 + $15 : 0) }' "/proc/$p/stat")
    for c in $(pgrep -P "$p"); do
        sum=$((sum + $(cputicks "$c" "$deep")))
    done
    echo "$sum"
}

node "$here/soak.mjs" "$base" "$RUNDIR/secret" $((minutes * 60)) "${SOAK_STREAMS:-1000}" \
    "${SOAK_POSTS:-30}" "${SOAK_LIKES:-30}" "${SOAK_DELETES:-5}" "${SOAK_PAUSE:-10}" \
    "${SOAK_CONC:-4}" >"$RUNDIR/rounds.jsonl" 2>"$RUNDIR/soak-load.err" &
load_pid=$!
t0=$(date +%s)
: >"$RUNDIR/samples.txt"
next=$t0
while kill -0 "$load_pid" 2>/dev/null; do
    now=$(date +%s)
    if [ "$now" -ge "$next" ]; then
        sample $((now - t0)) >>"$RUNDIR/samples.txt"
        next=$((next + every))
        if [ $(((now - t0) % 300)) -lt "$every" ]; then
            log "soak: $((now - t0)) s, $(wc -l <"$RUNDIR/rounds.jsonl") rounds; $(tail -1 "$RUNDIR/rounds.jsonl")"
        fi
    fi
    sleep 1
done
wait "$load_pid" || { log "the load generator failed: $(tail -5 "$RUNDIR/soak-load.err")"; exit 1; }
load_pid=
# (The load generator is gone: its figure in the last sample is 0, which the report skips.)
sample $(($(date +%s) - t0)) >>"$RUNDIR/samples.txt"
node "$here/soak-report.mjs" "$RUNDIR" "${SOAK_WARMUP:-20}" "${SOAK_HISTORY:-2000}"
