#!/usr/bin/env bash
# Reconnect storms against one Apache + Redis started by scripts/server.sh (as `make run`),
# driven by bench/storm.mjs. Prints storm.mjs's JSON (for `resume` with Redis' command counts
# during the storm, from INFO commandstats).
#
#   bench/storm.sh resume  [N=10000] [BACK=50]    N streams come back at once, BACK posts back
#   bench/storm.sh restart [N=2000] [SECONDS=12]  N streams, a graceful restart, the reconnects
#
# Environment: MODULE (the module to load; default this tree's .libs/mod_tweetsse.so),
# STORM_PORT (18380; Redis on STORM_PORT+1), EXTRA_CONF (a file of directives to add),
# KEEP=1 keeps the run directory. Hold the machine lock for big runs:
#   flock /work/heavy.lock bash bench/storm.sh resume
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
server=$top/scripts/server.sh
mode=${1:?usage: storm.sh resume|restart [N] [BACK|SECONDS]}
case $mode in
resume) n=${2:-10000} x=${3:-50} ;;
restart) n=${2:-2000} x=${3:-12} ;;
*) echo "storm: unknown mode $mode" >&2; exit 2 ;;
esac
port=${STORM_PORT:-18380}
rport=$((port + 1))
RUNDIR=$(mktemp -d /tmp/tw-storm.XXXXXX)
chmod 755 "$RUNDIR"
mkdir "$RUNDIR/htdocs"
cp -r "$top/htdocs/lib" "$RUNDIR/htdocs/lib"
apache_pid= redis_pid=
cleanup() {
    for p in $apache_pid $redis_pid; do
        kill -TERM "$p" 2>/dev/null || continue
        for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$p" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    [ "${KEEP:-0}" = 1 ] && echo "storm: files in $RUNDIR" >&2 || rm -rf "$RUNDIR"
}
trap cleanup EXIT INT TERM
bash "$server" redis "$RUNDIR/redis" "$rport" >"$RUNDIR/redis.log" &
redis_pid=$!
bash "$server" ping "$rport"
RUNDIR=$RUNDIR PORT=$port REDIS=127.0.0.1:$rport RATE_LIMIT=off ADDRESS_RATE_LIMIT=off \
    bash "$server" conf >"$RUNDIR/httpd.conf"
bash "$server" apache "$RUNDIR" 2>"$RUNDIR/apache-stderr.log" &
apache_pid=$!
for _ in $(seq 100); do
    curl -fs -o /dev/null "http://127.0.0.1:$port/home/health" && break
    sleep 0.2
done
if [ "$mode" = resume ]; then
    STORM_REDIS_PORT=$rport node "$here/storm.mjs" resume "http://127.0.0.1:$port/" "$n" "$x"
else
    coproc STORM { node "$here/storm.mjs" restart "http://127.0.0.1:$port/" "$n" "$x" 2>&1; }
    while IFS= read -r line <&"${STORM[0]}"; do
        if [ "$line" = ready ]; then kill -USR1 "$apache_pid"; else echo "$line"; fi
    done
fi
