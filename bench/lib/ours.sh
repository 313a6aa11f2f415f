# shellcheck shell=bash
# bench/run.sh: our side, Redis and Apache exactly as `make run` starts them
# (scripts/server.sh); bench/httpd-bench.conf only adds the static copies of the page that
# S5 compares with.

server=$top/scripts/server.sh
apache_pid=    # Apache's parent
redis_pid=     # our Redis
base=          # our feed's URL
cookie=        # the name cookie of the benchmark's visitor: every post is made as that visitor
want_threads=0 # worker threads of every child together, once all are up

# Start our Redis and Apache, wait until the feed is ready and take a visitor's cookie.
start_ours() {
    REDIS=$RUNDIR/redis.sock
    export REDIS
    bash "$server" redis "$RUNDIR/redis" "$REDIS" >>"$RUNDIR/redis.log" &
    redis_pid=$!
    bash "$server" ping "$REDIS"
    # The rate limits are off: the benchmark posts far faster than any visitor may.
    start_apache off
    # A visitor's signed name cookie, from a first page view.
    cookie=$(curl -s -D - -o /dev/null "$base/home" | sed -n 's/^[Ss]et-[Cc]ookie: \(tw_name=[^;]*\).*/\1/p' | tr -d '\r')
    [ -n "$cookie" ] || { log "no name cookie from $base/home"; exit 1; }
    export BENCH_COOKIE=$cookie # bench/post.lua posts with it
}

# Start our Apache as `make run` does, with the per-client rate limits off ($1 = off) or at
# the module's defaults ($1 = on; the client's address then comes from X-Forwarded-For, sent
# by loopback, as behind a balancer), and wait until the feed is ready.
start_apache() {
    {
        if [ "$1" = off ]; then
            RATE_LIMIT=off ADDRESS_RATE_LIMIT=off bash "$server" conf
        else
            TRUSTED_PROXY=127.0.0.1 bash "$server" conf
        fi
        echo
        cat "$here/httpd-bench.conf"
    } >"$RUNDIR/httpd.conf"
    bash "$server" check "$RUNDIR" 2>&1 | grep -v 'Syntax OK' >&2 || true
    bash "$server" apache "$RUNDIR" 2>>"$RUNDIR/apache-stderr.log" &
    apache_pid=$!
    base=http://127.0.0.1:$PORT
    want_threads=$(awk '/<IfModule mpm_event_module>/ { e = 1 } /<\/IfModule>/ { e = 0 }
        e && /^ *ThreadsPerChild/ { t = $2 } e && /^ *StartServers/ { s = $2 }
        END { print t * s }' "$RUNDIR/httpd.conf")
    wait_until 30 0.1 ours_ready || { log "Apache did not come up; see $RUNDIR/error.log"; exit 1; }
    log "ours: Apache on $base ($(ours_web_pids | wc -l) processes, $(threads_under "$apache_pid") threads), rate limits $1"
}

# Restart our Apache (the same Redis) with the rate limits $1 (off or on, as start_apache).
restart_apache() {
    stop_pid "$apache_pid" 20
    rm -f "$RUNDIR/httpd.pid"
    start_apache "$1"
}

# Whether our feed is ready: the feed answers, every child and its worker threads are up,
# and every child's Redis subscription is up. Exits when Apache has.
ours_ready() {
    gone "$apache_pid" && { log "Apache exited; see $RUNDIR/error.log"; exit 1; }
    [ -f "$RUNDIR/httpd.pid" ] &&
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/")" = 200 ] &&
        [ "$(threads_under "$apache_pid")" -ge "$want_threads" ] &&
        [ "$(ours_status TweetsseSubscribed)" = "$CHILDREN" ]
}

# A figure of our server-status?auto (TweetsseSubscribed, TweetsseStreams, ...); 0 when it
# cannot be read.
ours_status() {
    curl -s -m 5 "$base/server-status?auto" | awk -F': ' -v f="$1" '$1 == f { n = $2 } END { print n + 0 }'
}

# Pids of the Apache parent and its children.
ours_web_pids() {
    echo "$apache_pid"
    pgrep -P "$apache_pid" || true
}
# Pids whose CPU is our server's: Apache and its Redis.
ours_server_pids() {
    ours_web_pids
    echo "$redis_pid"
}
# Open streams, as our instance counts them (handed over to a delivery engine).
ours_streams() { ours_status TweetsseStreams; }
