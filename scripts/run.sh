#!/usr/bin/env bash
# `make run`: a private redis-server (AOF on, data in $RUNDIR/redis, a unix socket) and a
# private Apache with the module from the build tree, both started by scripts/server.sh and
# kept in the foreground. Ctrl-C stops both.
#   REDIS=host:port | /path.sock | sentinel://host:port,.../name   use that Redis instead of
#                  starting one (TweetsseRedis); only Apache is started then
#   EXTRA_CONF=file  directives added to Apache's config (Include: an error names that file)
#   HOST=addr      the address Apache listens on (127.0.0.1; 0.0.0.0 or :: for every
#                  interface, to reach the feed from another machine, e.g. a VM's host)
#   CHILDREN=n     Apache children (8: each holds streams up to its open-files limit, 19,744
#                  at a limit of 20,000, so 8 hold 100,000 with room to spare)
# The moderators' page is at /moderate, for the user "moderator" whose password is made on the
# first run and kept in $RUNDIR/moderator.password (the htpasswd file: $RUNDIR/moderators).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
server=$top/scripts/server.sh
export PORT=${PORT:-8080}
export HOST=${HOST:-127.0.0.1}
export RUNDIR=${RUNDIR:-$top/run}
export CHILDREN=${CHILDREN:-8}
if [ -n "${EXTRA_CONF:-}" ]; then
    [ -r "$EXTRA_CONF" ] || { echo "run: cannot read EXTRA_CONF $EXTRA_CONF" >&2; exit 1; }
    EXTRA_CONF=$(realpath "$EXTRA_CONF")
    export EXTRA_CONF
fi
mkdir -p "$RUNDIR/htdocs"
chmod 755 "$RUNDIR" # Apache's children run as www-data when root
cp -r "$top/htdocs/lib" "$RUNDIR/htdocs/"
chmod -R a+rX "$RUNDIR/htdocs"
own_redis=1
if [ -n "${REDIS:-}" ]; then
    own_redis=0
else
    REDIS=$RUNDIR/redis.sock
fi
export REDIS

if [ ! -e "$RUNDIR/moderators" ]; then
    (umask 077 && head -c 12 /dev/urandom | base64 >"$RUNDIR/moderator.password")
    htpasswd -cbB "$RUNDIR/moderators" moderator "$(cat "$RUNDIR/moderator.password")" 2>/dev/null
    chmod 644 "$RUNDIR/moderators" # read by the children (www-data)
fi
export MODERATORS=$RUNDIR/moderators

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

if [ "$own_redis" = 1 ]; then
    mkdir -p "$RUNDIR/redis"
    bash "$server" redis "$RUNDIR/redis" "$REDIS" >>"$RUNDIR/redis.log" &
    pids+=($!)
    bash "$server" ping "$REDIS"
    what="Apache and Redis"
else
    # Someone else's Redis: say at once when it does not answer (Apache would start anyway
    # and answer 503). With Sentinel, one answering sentinel will do.
    case $REDIS in
    sentinel://*)
        list=${REDIS#sentinel://}
        list=${list%%/*}
        ok=0
        for s in ${list//,/ }; do
            if bash "$server" ping "$s" 3 2>/dev/null; then ok=1; break; fi
        done
        [ "$ok" = 1 ] || echo "run: warning: no sentinel of $REDIS answers" >&2
        ;;
    /* | *:*) bash "$server" ping "$REDIS" 3 || echo "run: warning: no Redis answers at $REDIS" >&2 ;;
    *) bash "$server" ping "$REDIS:6379" 3 || echo "run: warning: no Redis answers at $REDIS" >&2 ;;
    esac
    what="Apache (Redis: $REDIS)"
fi

case $HOST in
0.0.0.0 | ::) url="http://<this machine's address>:$PORT/" ;;
*:*) url="http://[$HOST]:$PORT/" ;;
*) url="http://$HOST:$PORT/" ;;
esac
echo "feed: $url   (Ctrl-C stops $what; logs in $RUNDIR)"
echo "moderators: ${url}moderate   (user moderator, password in $RUNDIR/moderator.password)"
bash "$server" apache "$RUNDIR" &
pids+=($!)
# Until either server ends (or Ctrl-C): then the trap stops the other one.
wait -n
