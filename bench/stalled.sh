#!/usr/bin/env bash
# bench/stalled.sh: page and post latency (p50/p99/max of bench/latency.mjs: 50 GETs and 50
# POSTs, one at a time) on an idle server, then with 300 clients that resumed 190 posts back
# and never read (bench/stall: 1 KB receive buffers), for one or two builds of the module in
# the same run, each on a fresh Redis and Apache started by scripts/server.sh as `make run`
# does (event MPM, up to 4 children of 64 threads, default Timeout 60 s), with
# `SendBufferSize $SNDBUF` (4096): on loopback a socket's send buffer grows to megabytes, so
# without it a replay must be megabytes long (thousands of posts back) to fill it; with it the
# 190 posts (about 130 KB) do. Rate limits are off (one visitor makes every post).
#
#   bash bench/stalled.sh [MODULE ...]      (default: .libs/mod_tweetsse.so)
#
# Give an older build first to compare (e.g. one built in a worktree of another commit): a
# module gets the config without the directives it does not know (TweetsseSecretFile, ...).
# Environment: BENCH_PORT (18280), BENCH_REDIS_PORT (16480), STALLED (300), SNDBUF (4096; 0
# leaves the system's), KEEP=1 keeps the run directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
port=${BENCH_PORT:-18280}
rport=${BENCH_REDIS_PORT:-16480}
stalled=${STALLED:-300}
sndbuf=${SNDBUF:-4096}
modules=("$@")
[ ${#modules[@]} -gt 0 ] || modules=("$top/.libs/mod_tweetsse.so")
dir=$(mktemp -d /tmp/tweetsse-stalled.XXXXXX)
chmod 755 "$dir"
make -s -C "$here" stall

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ "${KEEP:-0}" = 1 ] || rm -rf "$dir"
}
trap cleanup EXIT

wait_port() { # port: until something listens on it (up to 15 s)
    for _ in $(seq 150); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "stalled.sh: nothing listens on :$1" >&2
    return 1
}

# run MODULE LABEL: one server, idle then stalled; appends a result line to $dir/results.
run() {
    local module=$1 label=$2 run="$dir/$2"
    mkdir -p "$run/htdocs" "$run/redis"
    cp -r "$top/htdocs/lib" "$run/htdocs/"
    bash "$top/scripts/server.sh" redis "$run/redis" "$rport" >"$run/redis.log" 2>&1 &
    pids+=($!)
    wait_port "$rport"
    RUNDIR=$run PORT=$port REDIS=127.0.0.1:$rport MODULE=$module MPM=event \
        RATE_LIMIT=off ADDRESS_RATE_LIMIT=off \
        bash "$top/scripts/server.sh" conf >"$run/httpd.conf"
    local d # an older build gets the config without the directives it does not know
    for d in $(grep -o '^ *Tweetsse[A-Za-z]*' "$run/httpd.conf" | sort -u); do
        grep -q "$d" "$module" || sed -i "/^ *$d /d" "$run/httpd.conf"
    done
    [ "$sndbuf" = 0 ] || echo "SendBufferSize $sndbuf" >>"$run/httpd.conf"
    setsid bash "$top/scripts/server.sh" apache "$run" 2>"$run/apache.err" &
    local apid=$!
    pids+=("$apid")
    wait_port "$port"
    local base="http://127.0.0.1:$port/" msg first cookie user
    msg=$(printf 'x%.0s' $(seq 200))
    # The posts are the first page view's visitor's (its name cookie, signed or plain).
    cookie=$(curl -sf -D - -o /dev/null "${base}home" | tr -d '\r' |
        sed -n 's/^[Ss]et-[Cc]ookie: \(tw_name=[^;]*\).*/\1/p')
    [ -n "$cookie" ] || { echo "stalled.sh: no name cookie from ${base}home" >&2; return 1; }
    user=${cookie#tw_name=}
    user=${user%.*}
    post() { # message: a JSON post as that visitor; prints the answer
        curl -sf -H 'Content-Type: application/json' -H "Cookie: $cookie" \
            -d "{\"username\":\"$user\",\"message\":\"$1\"}" "${base}home"
    }
    first=$(post "first $msg" | sed 's/.*"id":"\([^"]*\)".*/\1/')
    for i in $(seq 189); do post "$i $msg" >/dev/null; done
    local idle busy ready
    idle=$(node "$here/latency.mjs" "$base" 50)
    coproc STALL { "$here/stall" 127.0.0.1 "$port" /home/sse "$stalled" 1024 "$first"; }
    read -r ready <&"${STALL[0]}"
    busy=$(node "$here/latency.mjs" "$base" 50)
    exec {STALL[1]}>&-
    wait "$STALL_PID" 2>/dev/null || true
    kill -TERM -- "-$apid" 2>/dev/null || true
    printf '%s\t%s\t%s\t%s\n' "$label" "$ready" "$idle" "$busy" >>"$dir/results"
    kill "${pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
    pids=()
}

n=0
for m in "${modules[@]}"; do
    n=$((n + 1))
    run "$(cd "$(dirname "$m")" && pwd)/$(basename "$m")" "build$n"
done

node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n");
console.log("| build | stalled streams (200/other/failed) | GET p50 / p99 / max, idle | GET p50 / p99 / max, stalled | POST p50 / p99 / max, idle | POST p50 / p99 / max, stalled |");
console.log("|---|---|---|---|---|---|");
const f = (s) => `${s.p50} / ${s.p99} / ${s.max} ms${s.failed ? ` (${s.failed} failed)` : ""}`;
for (const l of lines) {
  const [label, ready, idle, busy] = l.split("\t");
  const a = JSON.parse(idle), b = JSON.parse(busy);
  console.log(`| ${label} | ${ready.split(" ").slice(1).join("/")} | ${f(a.get)} | ${f(b.get)} | ${f(a.post)} | ${f(b.post)} |`);
}' "$dir/results"
