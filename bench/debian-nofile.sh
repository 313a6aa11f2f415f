#!/usr/bin/env bash
# How many open streams one child of Debian's own Apache holds at its open-files limit: at
# Debian's default (apache2ctl runs "ulimit -n 8192" when APACHE_ULIMIT_MAX_FILES is unset) and
# with APACHE_ULIMIT_MAX_FILES raised in /etc/apache2/envvars.
#
#   bash bench/debian-nofile.sh [LIMIT...]     (LIMITs: "default" and numbers; default:
#                                               "default 20000", 20000 being this machine's
#                                               hard limit)
#
# Needs dist/libapache2-mod-tweetsse_*.deb (make deb). It installs the package, runs a
# redis-server on 6379, gives Apache one child (StartServers 1, ServerLimit 1, Debian's
# ThreadsPerChild 25) and TweetsseMaxStreamsPerAddress off, opens more streams than the child
# can hold from two processes (bench/open-streams.mjs) and prints, for each limit, what the
# child held (server-status?auto) and its TW0606 line. It restores envvars, purges the package
# and stops what it started; it refuses to run when Apache runs, port 80 or 6379 is taken, or
# the package is installed (as t/package/deb.test.mjs does).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
die() { echo "debian-nofile: $*" >&2; exit 1; }
limits=("$@")
[ ${#limits[@]} -gt 0 ] || limits=(default 20000)

deb=$(ls dist/libapache2-mod-tweetsse_*_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || die "no dist/libapache2-mod-tweetsse_*.deb: make deb first"
[ "$(id -u)" = 0 ] || die "run as root"
pidfile=/var/run/apache2/apache2.pid
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then die "Apache is running"; fi
[ -z "$(ss -Hltn 'sport = :80')" ] || die "port 80 is taken"
[ -z "$(ss -Hltn 'sport = :6379')" ] || die "port 6379 is taken"
! dpkg-query -W -f='${Status}' libapache2-mod-tweetsse 2>/dev/null | grep -q "ok installed" ||
    die "libapache2-mod-tweetsse is installed already"

work=$(mktemp -d)
cp /etc/apache2/envvars "$work/envvars"
redis_pid=
openers=()
cleanup() {
    set +e
    for p in "${openers[@]}"; do kill "$p" 2>/dev/null; done
    if [ -f "$pidfile" ]; then
        p=$(cat "$pidfile")
        apache2ctl stop 2>/dev/null
        while kill -0 "$p" 2>/dev/null; do sleep 0.2; done
    fi
    cp "$work/envvars" /etc/apache2/envvars
    rm -f /etc/apache2/conf-enabled/zz-tweetsse-nofile.conf
    DEBIAN_FRONTEND=noninteractive apt-get -y -q purge libapache2-mod-tweetsse >/dev/null 2>&1
    [ -z "$redis_pid" ] || { kill "$redis_pid"; wait "$redis_pid"; }
    rm -rf "$work"
}
trap cleanup EXIT

DEBIAN_FRONTEND=noninteractive apt-get -y -q install "./$deb" >/dev/null
bash scripts/server.sh redis "$work/redis" 6379 >"$work/redis.log" 2>&1 &
redis_pid=$!
bash scripts/server.sh ping 6379
cat >/etc/apache2/conf-enabled/zz-tweetsse-nofile.conf <<'EOF'
# bench/debian-nofile.sh: one child holds every stream; every stream comes from this machine.
TweetsseMaxStreamsPerAddress off
<IfModule mpm_event_module>
    StartServers 1
    ServerLimit 1
    ThreadsPerChild 25
    MaxRequestWorkers 25
    MinSpareThreads 1
    MaxSpareThreads 25
</IfModule>
EOF
ulimit -n "$(ulimit -Hn)"

# `until_ok SECONDS COMMAND...`: run COMMAND every 0.2 s until it succeeds.
until_ok() {
    local secs=$1 k
    shift
    for ((k = 0; k < secs * 5; k++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
    die "timed out: $*"
}
healthy() { [ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1/feed/home/health)" = 200 ]; }

for limit in "${limits[@]}"; do
    cp "$work/envvars" /etc/apache2/envvars
    if [ "$limit" != default ]; then
        echo "export APACHE_ULIMIT_MAX_FILES='ulimit -n $limit'" >>/etc/apache2/envvars
    fi
    from=$(stat -c %s /var/log/apache2/error.log 2>/dev/null || echo 0)
    apache2ctl start
    until_ok 20 healthy
    child=$(pgrep -P "$(cat "$pidfile")" | head -1)
    nofile=$(awk '/^Max open files/ { print $4 }' "/proc/$child/limits")
    # Enough attempts that the child fills up: its limit and 1,000 more, in two processes.
    per=$(((${nofile} + 1000) / 2))
    rm -f "$work"/open.*
    openers=()
    for first in 127.0.0.2 127.0.0.4; do
        node bench/open-streams.mjs http://127.0.0.1/feed/home/sse "$per" "$first" \
            >"$work/open.$first" < <(sleep 600) &
        openers+=($!)
    done
    until_ok 660 bash -c "[ \$(cat $work/open.* 2>/dev/null | wc -l) = 2 ]"
    held=$(curl -s 'http://127.0.0.1/server-status?auto' |
        sed -n 's/^TweetsseChild: pid=\([0-9]*\) streams=\([0-9]*\) .*/pid \1: \2/p' | paste -sd,)
    log=$(tail -c +"$((from + 1))" /var/log/apache2/error.log)
    tw0606=$(grep -m1 TW0606 <<<"$log" || true)
    echo "limit $limit: the child's open-files limit $nofile; streams held (server-status):" \
        "$held; openers: $(cat "$work"/open.* | tr '\n' ';')"
    echo "  ${tw0606:-no TW0606 logged}"
    echo "  accept failures for want of a descriptor (AH02179): $(grep -c AH02179 <<<"$log" || true)"
    for p in "${openers[@]}"; do kill "$p" 2>/dev/null || true; done
    openers=()
    p=$(cat "$pidfile")
    apache2ctl stop
    while kill -0 "$p" 2>/dev/null; do sleep 0.2; done
done
