#!/usr/bin/env bash
# What TweetsseRedisMinReplicas costs a post: one Redis primary with one replica, two Apache
# instances on it, one with TweetsseRedisMinReplicas 0 and one with 1 (WAIT 1 after every
# post), and wrk posting to each in turn, A B B A, so that drift hits both alike. Prints each
# run's requests/s and median latency, and the ratio of the two. Not part of make test.
#   bash bench/replicas.sh            (WRK_SECS=10 per run; RUNDIR=/tmp/... by default)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
server=$top/scripts/server.sh
WRK_SECS=${WRK_SECS:-10}
RUNDIR=${RUNDIR:-$(mktemp -d /tmp/tweetsse-replicas.XXXXXX)}
chmod 755 "$RUNDIR"
command -v wrk >/dev/null || { echo "replicas: wrk is missing (make deps)" >&2; exit 1; }
[ -f "$top/.libs/mod_tweetsse.so" ] || { echo "replicas: build the module first (make)" >&2; exit 1; }

base=${BASE_PORT:-$((20000 + RANDOM % 10000))}
primary=$base replica=$((base + 1)) plain=$((base + 2)) waiting=$((base + 3))
pids=()
stop() {
    trap - INT TERM EXIT
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill -TERM "${pids[i]}" 2>/dev/null || true
        wait "${pids[i]}" 2>/dev/null || true
    done
}
trap stop INT TERM EXIT

bash "$server" redis "$RUNDIR/primary" "$primary" >"$RUNDIR/primary.log" &
pids+=($!)
bash "$server" ping "$primary"
bash "$server" redis "$RUNDIR/replica" "$replica" --replicaof 127.0.0.1 "$primary" \
    >"$RUNDIR/replica.log" &
pids+=($!)
bash "$server" ping "$replica"
# Until the replica is online: WAIT 1 would time out before.
for _ in $(seq 100); do
    redis-cli -p "$primary" info replication | grep -q 'state=online' && break
    sleep 0.1
done

# One instance per setting, from the private server's template.
for inst in "plain:$plain:0" "waiting:$waiting:1"; do
    IFS=: read -r name port min <<<"$inst"
    dir=$RUNDIR/$name
    mkdir -p "$dir/htdocs"
    chmod 755 "$dir"
    # One secret for both, so that one visitor's cookie posts to either; no rate limits.
    SECRET_FILE=$RUNDIR/secret RUNDIR=$dir PORT=$port REDIS=127.0.0.1:$primary RATE_LIMIT=off \
        ADDRESS_RATE_LIMIT=off bash "$server" conf >"$dir/httpd.conf"
    echo "TweetsseRedisMinReplicas $min" >>"$dir/httpd.conf"
    bash "$server" apache "$dir" >"$dir/out.log" 2>&1 &
    pids+=($!)
done
for port in $plain $waiting; do
    for _ in $(seq 100); do
        curl -sf -o /dev/null "http://127.0.0.1:$port/home/health" && break
        sleep 0.1
    done
done
# Every post as one visitor (bench/post.lua sends this cookie).
BENCH_COOKIE=$(curl -s -D - -o /dev/null "http://127.0.0.1:$plain/home" |
    sed -n 's/^[Ss]et-[Cc]ookie: \(tw_name=[^;]*\).*/\1/p' | tr -d '\r')
[ -n "$BENCH_COOKIE" ] || { echo "replicas: no name cookie from the feed page" >&2; exit 1; }
export BENCH_COOKIE

# requests/s and median latency (ms) of one run.
run() {
    local out
    out=$(wrk -t2 -c50 -d"${WRK_SECS}s" --latency -s "$top/bench/post.lua" "http://127.0.0.1:$1/home")
    echo "$out" >>"$RUNDIR/wrk.log"
    local rps p50
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}' <<<"$out")
    echo "$rps $p50"
}

declare -A sum
for round in plain waiting waiting plain; do
    port=$plain
    [ "$round" = waiting ] && port=$waiting
    read -r rps p50 <<<"$(run "$port")"
    printf '%-8s MinReplicas %s: %10.0f posts/s  p50 %6.2f ms\n' "$round" \
        "$([ "$round" = waiting ] && echo 1 || echo 0)" "$rps" "$p50"
    sum[$round]=$(awk -v a="${sum[$round]:-0}" -v b="$rps" 'BEGIN {print a + b}')
done
awk -v a="${sum[waiting]}" -v b="${sum[plain]}" \
    'BEGIN {printf "throughput with WAIT 1 / without: %.2f\n", a / b}'
errors=$(grep -c 'Non-2xx' "$RUNDIR/wrk.log" || true)
[ "$errors" = 0 ] || echo "replicas: some runs had non-2xx answers (see $RUNDIR/wrk.log)" >&2
