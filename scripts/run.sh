#!/usr/bin/env bash
# `make run`: a private redis-server (AOF on, data in $RUNDIR/redis, a unix socket) and a
# private Apache with the module from the build tree, both started by scripts/server.sh and
# kept in the foreground. Ctrl-C stops both.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
server=$top/scripts/server.sh
export PORT=${PORT:-8080}
export RUNDIR=${RUNDIR:-$top/run}
mkdir -p "$RUNDIR/redis" "$RUNDIR/htdocs"
chmod 755 "$RUNDIR" # Apache's children run as www-data when root
cp -r "$top/htdocs/lib" "$RUNDIR/htdocs/"
chmod -R a+rX "$RUNDIR/htdocs"
sock=$RUNDIR/redis.sock
export REDIS=$sock

bash "$server" conf >"$RUNDIR/httpd.conf"
bash "$server" check "$RUNDIR"

# Both servers run as children of this script (server.sh execs them, so $! is the server).
pids=()
stop() {
    trap - INT TERM EXIT
    local p
    # Apache first: its children hold Redis connections until they go.
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        p=${pids[i]}
        kill -TERM "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    echo "stopped"
}
trap stop INT TERM EXIT

bash "$server" redis "$RUNDIR/redis" "$sock" >>"$RUNDIR/redis.log" &
pids+=($!)
bash "$server" ping "$sock"

echo "feed: http://127.0.0.1:$PORT/   (Ctrl-C stops Apache and Redis; logs in $RUNDIR)"
bash "$server" apache "$RUNDIR" &
pids+=($!)
# Until either server ends (or Ctrl-C): then the trap stops the other one.
wait -n
