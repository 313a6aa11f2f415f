#!/usr/bin/env bash
# `make run`: a private redis-server (AOF on, data in $RUNDIR) and a private Apache with the
# module from the build tree, in the foreground. Ctrl-C stops both.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export PORT=${PORT:-8080}
export RUNDIR=${RUNDIR:-$top/run}
mkdir -p "$RUNDIR/redis" "$RUNDIR/htdocs"
chmod 755 "$RUNDIR"
cp -r "$top/htdocs/lib" "$RUNDIR/htdocs/"
chmod -R a+rX "$RUNDIR/htdocs"
sock="$RUNDIR/redis.sock"
export REDIS=$sock

if [ "$(id -u)" = 0 ] && ! su -s /bin/sh www-data -c "test -r '$RUNDIR/htdocs/lib/htmx.min.js'"; then
    echo "run: www-data cannot reach $RUNDIR; set RUNDIR to a directory it can read" >&2
    exit 1
fi

redis-server --port 0 --unixsocket "$sock" --unixsocketperm 777 --dir "$RUNDIR/redis" \
    --appendonly yes --save '' --daemonize yes --pidfile "$RUNDIR/redis.pid" \
    --logfile "$RUNDIR/redis.log"
for _ in $(seq 50); do redis-cli -s "$sock" ping >/dev/null 2>&1 && break; sleep 0.1; done

# Every open stream is a socket held by an Apache child: as many open files as allowed.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
bash "$top/scripts/apache-conf.sh" >"$RUNDIR/httpd.conf"
apache2 -t -f "$RUNDIR/httpd.conf"

stop() {
    trap - INT TERM EXIT
    [ -f "$RUNDIR/httpd.pid" ] && kill -TERM "$(cat "$RUNDIR/httpd.pid")" 2>/dev/null || true
    redis-cli -s "$sock" shutdown >/dev/null 2>&1 || true
    wait 2>/dev/null || true
    echo "stopped"
}
trap stop INT TERM EXIT
echo "feed: http://127.0.0.1:$PORT/   (Ctrl-C stops Apache and Redis; logs in $RUNDIR)"
apache2 -f "$RUNDIR/httpd.conf" -DFOREGROUND &
wait $!
