#!/usr/bin/env bash
# `make run-cluster`: several instances behind a balancer, as in production but all on
# loopback, in the foreground. Ctrl-C stops everything: the Apache instances first, then
# HAProxy, the sentinels and Redis.
#
#   Redis primary      127.0.0.1:PORT+100   AOF on, data in RUNDIR/redis-primary
#   Redis replicas     127.0.0.1:PORT+101, then PORT+103.. (REPLICAS of them), replicating
#                      the primary
#   3 Sentinels        127.0.0.1:PORT+110..PORT+112, master name tweetsse, quorum 2
#   Apache instance i  127.0.0.1:PORT+i (i = 1..INSTANCES), the module from the build tree,
#                      TweetsseRedis sentinel://<the three sentinels>/tweetsse; mod_remoteip
#                      with HAProxy (127.0.0.1) as the proxy whose X-Forwarded-For names the
#                      client, so that the per-address limits hold per client, as configured
#                      in production (TweetsseMaxStreamsPerAddress at the module's default)
#   HAProxy            127.0.0.1:PORT, conf/haproxy.cfg.example with the ports substituted;
#                      with TLS=1 also HTTPS (h2 and HTTP/1.1) on 127.0.0.1:PORT+102, with a
#                      self-signed certificate made at start (RUNDIR/tls/feed.pem)
#
# Every server is started by scripts/server.sh, in a session of its own: Ctrl-C reaches
# this script only, which stops them in order. Once everything is ready (the replica in
# sync, every sentinel sees the primary, the replicas and the two other sentinels, every
# instance answers, HAProxy has seen every instance pass its health check) it writes
# RUNDIR/cluster.env (shell variables: TW_BALANCER, TW_INSTANCES, TW_REDIS_PRIMARY,
# TW_REDIS_REPLICA (the first replica), TW_REDIS_REPLICAS (all), TW_SENTINELS, TW_MASTER_NAME, TW_HAPROXY_STATS, TW_RUNDIR; with TLS=1
# also TW_BALANCER_TLS, the feed's https:// URL through HAProxy) and prints
# one line starting with "cluster ready:". A member that exits later is reported and the
# others keep running (a test kills an instance on purpose); RUNDIR/cluster.pids lists
# "name pid" of every member (each pid is also its process group).
#
# Environment: PORT (8080), INSTANCES (3, 1-99), RUNDIR (./run-cluster), REPLICAS (2, 1-7:
# Redis replicas; see README.md, "Redis Sentinel", for why two), MIN_REPLICAS (1:
# TweetsseRedisMinReplicas in every instance; 0 leaves the directive out), EXTRA_CONF (a
# file appended to every instance's config), MOUNT (/), TLS (0; 1: HAProxy's HTTPS front
# end, see above); MPM, LOGLEVEL, KEEPALIVE, HISTORY as for `scripts/server.sh conf`, and
# SECRET_FILE (RUNDIR/secret, one for all instances), RATE_LIMIT, ADDRESS_RATE_LIMIT,
# MAX_STREAMS_PER_ADDRESS, CHILDREN as there; DOWN_AFTER_MS, FAILOVER_TIMEOUT_MS as for
# `scripts/server.sh sentinel`; READY_SECONDS (60), the bound on each start-up wait.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
server=$top/scripts/server.sh

die() { echo "cluster: $*" >&2; exit 1; }
is_num() { [[ $1 =~ ^[0-9]+$ ]]; }

PORT=${PORT:-8080}
INSTANCES=${INSTANCES:-3}
MIN_REPLICAS=${MIN_REPLICAS:-1}
REPLICAS=${REPLICAS:-2}
RUNDIR=${RUNDIR:-$top/run-cluster}
MOUNT=${MOUNT:-/}
READY_SECONDS=${READY_SECONDS:-60}
TLS=${TLS:-0}
master_name=tweetsse
is_num "$INSTANCES" && [ "$INSTANCES" -ge 1 ] && [ "$INSTANCES" -le 99 ] ||
    die "INSTANCES must be 1-99 (instance i listens on PORT+i, Redis from PORT+100): '$INSTANCES'"
is_num "$PORT" && [ "$PORT" -ge 1 ] && [ $((PORT + 112)) -le 65535 ] ||
    die "PORT must be 1-65423 (the cluster uses PORT..PORT+112): '$PORT'"
is_num "$MIN_REPLICAS" || die "MIN_REPLICAS must be a number: '$MIN_REPLICAS'"
is_num "$REPLICAS" && [ "$REPLICAS" -ge 1 ] && [ "$REPLICAS" -le 7 ] ||
    die "REPLICAS must be 1-7 (PORT+101, then PORT+103..PORT+108): '$REPLICAS'"
[[ $MOUNT == /* && $MOUNT == */ ]] || die "MOUNT must start and end with /: '$MOUNT'"
[[ $TLS == [01] ]] || die "TLS must be 0 or 1: '$TLS'"
if [ -n "${EXTRA_CONF:-}" ]; then
    [ -r "$EXTRA_CONF" ] || die "cannot read EXTRA_CONF $EXTRA_CONF"
    EXTRA_CONF=$(realpath "$EXTRA_CONF")
fi

primary_port=$((PORT + 100))
tls_port=$((PORT + 102))
# The first replica on PORT+101, the others from PORT+103 (PORT+102 is HTTPS).
replica_ports=($((PORT + 101)))
for ((k = 2; k <= REPLICAS; k++)); do replica_ports+=($((PORT + 101 + k))); done
sentinel_ports=($((PORT + 110)) $((PORT + 111)) $((PORT + 112)))
web_ports=()
for ((i = 1; i <= INSTANCES; i++)); do web_ports+=($((PORT + i))); done
sentinels=()
for p in "${sentinel_ports[@]}"; do sentinels+=("127.0.0.1:$p"); done
# What every instance is told: the sentinels, which name the primary of the moment.
instance_redis="sentinel://$(IFS=,; echo "${sentinels[*]}")/$master_name"

# A port already taken would only show as a member dying at start; say which one instead.
taken=("$PORT" "${web_ports[@]}" "$primary_port" "${replica_ports[@]}" "${sentinel_ports[@]}")
[ "$TLS" = 0 ] || taken+=("$tls_port")
for p in "${taken[@]}"; do
    [ -z "$(ss -Htln "sport = :$p")" ] || die "port $p is in use (PORT=$PORT uses PORT..PORT+112)"
done

mkdir -p "$RUNDIR"
RUNDIR=$(cd "$RUNDIR" && pwd) # absolute: it becomes each instance's ServerRoot
htdocs=$RUNDIR/htdocs # one copy, shared by the instances
mkdir -p "$htdocs"
chmod 755 "$RUNDIR" # Apache's children run as www-data when root
cp -r "$top/htdocs/lib" "$htdocs/"
chmod -R a+rX "$htdocs"
rm -f "$RUNDIR/cluster.env" "$RUNDIR/cluster.pids"
# One secret signs every instance's name cookie: a visitor keeps its name on all of them.
secret=${SECRET_FILE:-$RUNDIR/secret}

# ---- configs first: nothing starts if one is wrong ------------------------------------------
for ((i = 1; i <= INSTANCES; i++)); do
    dir=$RUNDIR/web$i
    mkdir -p "$dir"
    chmod 755 "$dir"
    RUNDIR=$dir PORT=${web_ports[i - 1]} REDIS=$instance_redis HTDOCS=$htdocs MOUNT=$MOUNT \
        MIN_REPLICAS=$MIN_REPLICAS SECRET_FILE=$secret TRUSTED_PROXY=127.0.0.1 \
        bash "$server" conf >"$dir/httpd.conf"
    out=$(bash "$server" check "$dir" 2>&1) || die "web$i: the configuration test failed: $out"
done

# HTTPS: a self-signed certificate for 127.0.0.1 and localhost, made fresh at every start
# (a P-256 key: quick to make), the certificate and its key in one PEM file for HAProxy.
pem=
if [ "$TLS" = 1 ]; then
    mkdir -p "$RUNDIR/tls"
    chmod 700 "$RUNDIR/tls"
    pem=$RUNDIR/tls/feed.pem
    out=$(openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
        -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
        -keyout "$RUNDIR/tls/feed.key" -out "$RUNDIR/tls/feed.crt" 2>&1) ||
        die "openssl: cannot make a self-signed certificate: $out"
    cat "$RUNDIR/tls/feed.crt" "$RUNDIR/tls/feed.key" >"$pem"
fi

# HAProxy: the example itself, with this run's addresses. Each substitution must match
# exactly once, so a change of the example's shape fails here rather than silently.
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] && hard=1048576
awk -v port="$PORT" -v mount="$MOUNT" -v n="$INSTANCES" -v first="${web_ports[0]}" \
    -v stats="$RUNDIR/haproxy-stats.sock" -v nofile="$hard" -v pem="$pem" -v tls="$tls_port" '
    function done(what) { seen[what]++ }
    # maxconn within what the open-files limit allows (two descriptors per connection).
    /^[ \t]*maxconn [0-9]+$/ && !("maxconn" in seen) {
        want = $2; max = int((nofile - 100) / 2)
        if (want > max) want = max
        sub(/[0-9]+$/, want); done("maxconn"); print; next }
    /^[ \t]*log \/dev\/log / { sub(/\/dev\/log/, "stdout format raw"); done("log"); print; next }
    /^[ \t]*bind :80$/ { sub(/:80$/, "127.0.0.1:" port); done("bind"); print; next }
    # The HTTPS line, commented out in the example: enabled with TLS=1.
    /^[ \t]*# bind :443 ssl crt \/etc\/haproxy\/certs\/feed\.pem alpn h2,http\/1\.1$/ {
        if (pem != "") {
            sub(/# bind :443/, "bind 127.0.0.1:" tls)
            sub(/\/etc\/haproxy\/certs\/feed\.pem/, pem)
        }
        done("tls"); print; next }
    /^[ \t]*bind 127\.0\.0\.1:8404$/ { sub(/127\.0\.0\.1:8404$/, "unix@" stats " mode 600")
        done("stats"); print; next }
    /^[ \t]*option httpchk GET \/feed\/home\/health$/ { sub(/\/feed\//, mount); done("check")
        print; next }
    /^[ \t]*server web1 127\.0\.0\.1:8081 check$/ {
        for (i = 1; i <= n; i++) {
            line = $0; sub(/web1 127\.0\.0\.1:8081/, "web" i " 127.0.0.1:" (first + i - 1), line)
            print line
        }
        done("server"); next }
    /^[ \t]*server web[0-9]+ / { next }
    { print }
    END {
        split("maxconn log bind tls stats check server", need, " ")
        for (k in need) if (seen[need[k]] != 1) {
            print "cluster: conf/haproxy.cfg.example: no single line for " need[k] > "/dev/stderr"
            exit 1
        }
    }' "$top/conf/haproxy.cfg.example" >"$RUNDIR/haproxy.cfg"
haproxy -c -q -f "$RUNDIR/haproxy.cfg" || die "HAProxy: the configuration test failed"

# ---- start and stop -------------------------------------------------------------------------
names=() pids=()
# Start a member: `start NAME LOG server.sh-arguments...`, in a session of its own (setsid
# execs, and server.sh execs the server, so $! is the server's pid and process group).
start() {
    local name=$1 log=$2
    shift 2
    setsid bash "$server" "$@" >>"$log" 2>&1 </dev/null &
    names+=("$name")
    pids+=($!)
    echo "$name $!" >>"$RUNDIR/cluster.pids"
}

# Exited or never started: not in the process table, or a zombie waiting for us.
gone() {
    local state
    state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 0
    [ "$state" = Z ]
}

# Stop the members whose names match the pattern: SIGTERM all, then wait for each, at most
# 20 s, then SIGKILL its whole process group (an Apache parent and its children).
stop_members() {
    local pattern=$1 i k
    local -a mine=()
    for ((i = 0; i < ${#names[@]}; i++)); do
        # shellcheck disable=SC2053 # a glob on purpose
        [[ ${names[i]} == $pattern ]] && mine+=("$i")
    done
    for i in "${mine[@]}"; do kill -TERM "${pids[i]}" 2>/dev/null || true; done
    for i in "${mine[@]}"; do
        for ((k = 0; k < 200; k++)); do gone "${pids[i]}" && break; sleep 0.1; done
        gone "${pids[i]}" || kill -KILL -- "-${pids[i]}" 2>/dev/null || true
        wait "${pids[i]}" 2>/dev/null || true
    done
}

stopping=0
stop() {
    [ "$stopping" = 0 ] || return 0
    stopping=1
    trap - INT TERM HUP EXIT
    echo "cluster: stopping" >&2
    # The instances first (their children hold Redis connections and the streams); the
    # sentinels before Redis, so that no failover starts while Redis goes.
    stop_members 'web*'
    stop_members haproxy
    stop_members 'sentinel*'
    stop_members 'redis-replica*'
    stop_members redis-primary
    echo "cluster: stopped" >&2
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
trap 'stop; exit 129' HUP
trap 'rc=$?; stop; exit $rc' EXIT

# `wait_for WHAT PID COMMAND...`: run COMMAND every 0.1 s until it succeeds; give up after
# READY_SECONDS, or as soon as member PID has exited (then with its log's end).
wait_for() {
    local what=$1 pid=$2 log=$3 k
    shift 3
    for ((k = 0; k < READY_SECONDS * 10; k++)); do
        "$@" >/dev/null 2>&1 && return 0
        if gone "$pid"; then
            echo "cluster: $what: the server exited; the end of $log:" >&2
            tail -n 15 "$log" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "cluster: timed out after $READY_SECONDS s waiting for $what; the end of $log:" >&2
    tail -n 15 "$log" >&2
    exit 1
}

redis_field() { # PORT SECTION FIELD: one field of INFO
    redis-cli -p "$1" info "$2" | tr -d '\r' | sed -n "s/^$3://p"
}
replica_in_sync() { # PORT
    [ "$(redis_field "$1" replication master_link_status)" = up ] &&
        redis-cli -p "$primary_port" info replication | grep -q "port=$1,state=online"
}
# A sentinel that watches the primary and knows every replica and both other sentinels.
sentinel_sees_all() {
    local info
    info=$(redis-cli -p "$1" sentinel master "$master_name" | paste - - | tr -d '\r')
    grep -qx $'port\t'"$primary_port" <<<"$info" &&
        grep -qx $'flags\tmaster' <<<"$info" &&
        grep -qx $'num-slaves\t'"$REPLICAS" <<<"$info" &&
        grep -qx $'num-other-sentinels\t2' <<<"$info"
}
answers() { # URL: 200
    [ "$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$1")" = 200 ]
}
# HAProxy's stats (CSV) say every instance is UP after a passed check (L7OK).
haproxy_sees_all() {
    curl -s -m 5 --unix-socket "$RUNDIR/haproxy-stats.sock" 'http://stats/stats;csv' |
        awk -F, -v n="$INSTANCES" '
            NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
            $1 == "apaches" && $2 ~ /^web[0-9]+$/ &&
                $col["status"] == "UP" && $col["check_status"] == "L7OK" { up++ }
            END { exit !(up == n) }'
}

# ---- Redis, the sentinels, the instances, HAProxy -------------------------------------------
# Every Redis server starts a full resynchronisation at once (repl-diskless-sync-delay 0):
# Redis' default waits 5 s for more replicas to share it, and in a failover the other replica,
# ahead of the one promoted, needs one before the new primary can confirm a post.
redis_opts=(--repl-diskless-sync-delay 0)
start redis-primary "$RUNDIR/redis-primary.log" redis "$RUNDIR/redis-primary" "$primary_port" \
    "${redis_opts[@]}"
wait_for "the Redis primary on :$primary_port" "${pids[-1]}" "$RUNDIR/redis-primary.log" \
    bash "$server" ping "$primary_port" 1
# The first is redis-replica (RUNDIR/redis-replica), the others redis-replica2...
replica_names=()
for ((k = 1; k <= REPLICAS; k++)); do
    name=redis-replica
    [ "$k" = 1 ] || name+=$k
    replica_names+=("$name")
    start "$name" "$RUNDIR/$name.log" redis "$RUNDIR/$name" "${replica_ports[k - 1]}" \
        "${redis_opts[@]}" --replicaof 127.0.0.1 "$primary_port"
done
for ((k = 1; k <= REPLICAS; k++)); do
    wait_for "the Redis replica on :${replica_ports[k - 1]} to be in sync" "${pids[k]}" \
        "$RUNDIR/${replica_names[k - 1]}.log" replica_in_sync "${replica_ports[k - 1]}"
done

for ((k = 0; k < 3; k++)); do
    start "sentinel$((k + 1))" "$RUNDIR/sentinel$((k + 1)).log" \
        sentinel "$RUNDIR/sentinel$((k + 1))" "${sentinel_ports[k]}" "$primary_port"
done
for ((k = 0; k < 3; k++)); do
    # The sentinels find each other through hello messages on the primary (every 2 s).
    wait_for "sentinel$((k + 1)) on :${sentinel_ports[k]} to see the primary, the replica and the other sentinels" \
        "${pids[k + 1 + REPLICAS]}" "$RUNDIR/sentinel$((k + 1)).log" sentinel_sees_all "${sentinel_ports[k]}"
done

for ((i = 1; i <= INSTANCES; i++)); do
    start "web$i" "$RUNDIR/web$i/stderr.log" apache "$RUNDIR/web$i"
done
for ((i = 1; i <= INSTANCES; i++)); do
    wait_for "web$i on :${web_ports[i - 1]} to answer" "${pids[i + 3 + REPLICAS]}" "$RUNDIR/web$i/error.log" \
        answers "http://127.0.0.1:${web_ports[i - 1]}$MOUNT"
done

start haproxy "$RUNDIR/haproxy.log" haproxy "$RUNDIR/haproxy.cfg"
wait_for "HAProxy on :$PORT to see every instance pass its health check" "${pids[-1]}" \
    "$RUNDIR/haproxy.log" haproxy_sees_all

instances=()
for p in "${web_ports[@]}"; do instances+=("http://127.0.0.1:$p$MOUNT"); done
{
    printf "%s='%s'\n" \
        TW_BALANCER "http://127.0.0.1:$PORT$MOUNT" \
        TW_INSTANCES "${instances[*]}" \
        TW_REDIS_PRIMARY "127.0.0.1:$primary_port" \
        TW_REDIS_REPLICA "127.0.0.1:${replica_ports[0]}" \
        TW_REDIS_REPLICAS "$(printf '127.0.0.1:%s ' "${replica_ports[@]}" | sed 's/ $//')" \
        TW_SENTINELS "${sentinels[*]}" \
        TW_MASTER_NAME "$master_name" \
        TW_HAPROXY_STATS "$RUNDIR/haproxy-stats.sock" \
        TW_RUNDIR "$RUNDIR"
    [ "$TLS" = 0 ] || printf "%s='%s'\n" TW_BALANCER_TLS "https://127.0.0.1:$tls_port$MOUNT"
} >"$RUNDIR/cluster.env.new"
mv "$RUNDIR/cluster.env.new" "$RUNDIR/cluster.env"
webs=":${web_ports[0]}"
[ "$INSTANCES" = 1 ] || webs+="-:${web_ports[-1]}"
https=
[ "$TLS" = 0 ] || https=" and https://127.0.0.1:$tls_port$MOUNT (h2)"
echo "cluster ready: feed on http://127.0.0.1:$PORT$MOUNT$https through HAProxy, $INSTANCES" \
    "instance(s) ($webs), Redis :$primary_port + replica(s) :${replica_ports[*]}," \
    "sentinels :${sentinel_ports[0]}-:${sentinel_ports[2]}; $RUNDIR/cluster.env; Ctrl-C stops it"

# Until Ctrl-C (or SIGTERM): report members that exit; the others keep running.
while :; do
    who=
    rc=0
    wait -n -p who || rc=$?
    [ -n "$who" ] || break # no member left
    for ((i = 0; i < ${#pids[@]}; i++)); do
        [ "${pids[i]}" = "$who" ] && echo "cluster: ${names[i]} (pid $who) exited with status $rc" >&2
    done
done
echo "cluster: every member has exited" >&2
