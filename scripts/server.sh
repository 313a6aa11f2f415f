#!/usr/bin/env bash
# The one place that knows how to start the project's private servers: `make run`
# (scripts/run.sh), the node tests (t/lib/harness.mjs) and the benchmark (bench/run.sh) all
# go through it.
#
#   server.sh redis DIR ADDR [redis-server options...]
#       Exec redis-server in the foreground: AOF on, no RDB snapshots (--save ''), data in
#       DIR (created if missing), the log on stdout. ADDR is a TCP port (bound to 127.0.0.1)
#       or an absolute unix socket path (mode 777, TCP off). Further options are passed on.
#       SIGTERM stops it cleanly (the AOF is flushed).
#   server.sh sentinel DIR PORT MASTER-PORT
#       Exec a Redis Sentinel (redis-server --sentinel) on 127.0.0.1:PORT in the foreground,
#       watching the primary on 127.0.0.1:MASTER-PORT. Its config is written fresh into
#       DIR/sentinel.conf on every start (Sentinel rewrites that file with what it learns).
#       Environment: MASTER_NAME (tweetsse), QUORUM (2), DOWN_AFTER_MS (1000),
#       FAILOVER_TIMEOUT_MS (3000).
#   server.sh ping ADDR [SECONDS]
#       Wait until the Redis (or Sentinel) at ADDR answers PING; at most SECONDS (10). ADDR
#       is a port on 127.0.0.1, host:port or a socket path. For shell callers; the tests
#       wait for the server's "Ready" line.
#   server.sh haproxy CFG
#       Exec HAProxy in the foreground on CFG, the open-files limit raised as for `apache`
#       (HAProxy needs two descriptors per proxied connection, and refuses to start when
#       the limit is below what its maxconn needs).
#   server.sh conf
#       Print the private Apache config, conf/httpd.conf.in filled in from the environment:
#       RUNDIR PORT REDIS (required; host:port, host, /socket or sentinel://...); HOST
#       (127.0.0.1: the address Apache listens on; 0.0.0.0 or :: for every interface, e.g. to
#       reach `make run` from outside a VM), MPM
#       (worker), CHILDREN (2: the worker and event MPMs' StartServers; each child holds
#       streams up to its open-files limit, so `make run` and the benchmark start 8 for
#       100,000; ServerLimit is twice that), MOUNT (/), LOGLEVEL (warn), KEEPALIVE (15),
#       HISTORY (1000), MODULE (the
#       build tree's .libs/mod_tweetsse.so), HTDOCS ($RUNDIR/htdocs), SECRET_FILE (the
#       name cookie's secret; $RUNDIR/secret, generated when missing: instances that share a
#       feed must share it). MIN_REPLICAS=n (n > 0) adds TweetsseRedisMinReplicas n;
#       RATE_LIMIT and ADDRESS_RATE_LIMIT (e.g. "5/10s burst=10" or off) set
#       TweetsseRateLimit and TweetsseAddressRateLimit (else the module's defaults hold);
#       TRUSTED_PROXY=addr (a balancer in front, e.g. 127.0.0.1) loads mod_remoteip, which
#       takes the client's address from the X-Forwarded-For that proxy sets
#       (RemoteIPInternalProxy), and sets TweetsseTrustedProxy to it;
#       MAX_STREAMS_PER_ADDRESS (n or off) sets TweetsseMaxStreamsPerAddress: off by default,
#       as every client of a private server comes from loopback, but the module's default
#       (64) with TRUSTED_PROXY, where each client is known by its own address;
#       MODERATORS=file (an htpasswd file) adds the moderators' page at <MOUNT>moderate,
#       behind Basic authentication against that file (SetHandler tweetsse-moderation);
#       EXTRA_CONF=file includes that file (Include, so that a configuration error names
#       the file and its line) after everything else.
#       Children run as www-data when root, else as the caller.
#   server.sh check DIR
#       Configuration test of DIR/httpd.conf (apache2 -t; the verdict on stderr), after the
#       same readability check as `apache` below.
#   server.sh apache DIR [apache2 options...]
#       Exec Apache in the foreground (-DFOREGROUND) on DIR/httpd.conf. First the open-files
#       limit goes up to the hard limit (every open stream is a socket; NOFILE=n sets soft
#       and hard limit to n instead), and, as root, it checks that the children's user can
#       read the DocumentRoot. Prefork signals its whole process group on stop and graceful
#       restart: a caller that must not get those signals starts it in a group of its own.
#       APACHE_PRELOAD=lib.so is preloaded into Apache, here and in `check` (the runtime of
#       a sanitizer the module was built with).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
apache2=/usr/sbin/apache2

# The comment above, as help text: on stdout when asked for, else on stderr with status 2.
usage() {
    local text
    text=$(sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//')
    if [ "${1:-}" = help ]; then echo "$text"; exit 0; fi
    echo "$text" >&2
    exit 2
}

# redis-server options for an address: a port on loopback, or a unix socket only.
redis_addr() {
    case $1 in
    /*) echo --port 0 --unixsocket "$1" --unixsocketperm 777 ;;
    *[!0-9]* | '') echo "server.sh: not a port or an absolute socket path: '$1'" >&2; exit 2 ;;
    *) echo --port "$1" --bind 127.0.0.1 ;;
    esac
}

cmd_redis() {
    [ $# -ge 2 ] || usage
    local dir=$1 addr=$2
    shift 2
    local -a where
    read -r -a where <<<"$(redis_addr "$addr")"
    mkdir -p "$dir"
    exec redis-server "${where[@]}" --dir "$dir" --appendonly yes --save '' \
        --daemonize no --logfile '' "$@"
}

cmd_ping() {
    [ $# -ge 1 ] || usage
    local addr=$1 secs=${2:-10} i
    local -a to
    case $addr in
    /*) to=(-s "$addr") ;;
    *:*) to=(-h "${addr%:*}" -p "${addr##*:}") ;;
    *) to=(-p "$addr") ;;
    esac
    for ((i = 0; i < secs * 10; i++)); do
        [ "$(redis-cli "${to[@]}" ping 2>/dev/null)" = PONG ] && return 0
        sleep 0.1
    done
    echo "server.sh: no Redis answering at $addr after $secs s" >&2
    exit 1
}

cmd_conf() {
    : "${RUNDIR:?}" "${PORT:?}" "${REDIS:?}"
    local mpm=${MPM:-worker} mount=${MOUNT:-/} loglevel=${LOGLEVEL:-warn}
    local keepalive=${KEEPALIVE:-15} history=${HISTORY:-1000}
    local module=${MODULE:-$top/.libs/mod_tweetsse.so} htdocs=${HTDOCS:-$RUNDIR/htdocs}
    local secret=${SECRET_FILE:-$RUNDIR/secret} children=${CHILDREN:-2}
    local host=${HOST:-127.0.0.1} listen per_addr=${MAX_STREAMS_PER_ADDRESS:-}
    case $host in
    '' | *[!0-9A-Za-z.:-]*) echo "server.sh: HOST must be an address or a host name: '$host'" >&2; exit 2 ;;
    *:*) listen="[$host]:$PORT" ;; # an IPv6 address
    *) listen="$host:$PORT" ;;
    esac
    if [ -z "$per_addr" ]; then
        per_addr=off
        [ -z "${TRUSTED_PROXY:-}" ] || per_addr=64
    fi
    case $children in
    '' | 0 | *[!0-9]*) echo "server.sh: CHILDREN must be a number above 0: '$children'" >&2; exit 2 ;;
    esac
    # Slots for as many children again (their replacements), 64 threads each (ThreadsPerChild).
    local serverlimit=$((2 * children))
    if [ ! -e "$secret" ]; then
        # Read by Apache's parent, as root, before the children drop privileges.
        (umask 077 && head -c 48 /dev/urandom | base64 -w0 >"$secret" && echo >>"$secret")
    fi
    local user group
    if [ "$(id -u)" = 0 ]; then user=www-data group=www-data; else user=$(id -un) group=$(id -gn); fi
    sed -e "s|@RUNDIR@|$RUNDIR|g" -e "s|@LISTEN@|$listen|g" -e "s|@REDIS@|$REDIS|g" \
        -e "s|@MPM@|$mpm|g" -e "s|@MOUNT@|$mount|g" -e "s|@LOGLEVEL@|$loglevel|g" \
        -e "s|@KEEPALIVE@|$keepalive|g" -e "s|@HISTORY@|$history|g" -e "s|@MODULE@|$module|g" \
        -e "s|@HTDOCS@|$htdocs|g" -e "s|@USER@|$user|g" -e "s|@GROUP@|$group|g" \
        -e "s|@SECRET_FILE@|$secret|g" -e "s|@CHILDREN@|$children|g" \
        -e "s|@SERVERLIMIT@|$serverlimit|g" -e "s|@MAXWORKERS@|$((64 * serverlimit))|g" \
        -e "s|@MAX_STREAMS_PER_ADDRESS@|$per_addr|g" \
        "$top/conf/httpd.conf.in"
    # A directive the module knows only from a version on, so written only when asked for:
    # without MIN_REPLICAS the config stays valid for every build.
    case ${MIN_REPLICAS:-0} in
    0) ;;
    *[!0-9]*) echo "server.sh: MIN_REPLICAS must be a number: '$MIN_REPLICAS'" >&2; exit 2 ;;
    *) printf '\nTweetsseRedisMinReplicas %s\n' "$MIN_REPLICAS" ;;
    esac
    [ -z "${RATE_LIMIT:-}" ] || printf 'TweetsseRateLimit %s\n' "$RATE_LIMIT"
    [ -z "${ADDRESS_RATE_LIMIT:-}" ] || printf 'TweetsseAddressRateLimit %s\n' "$ADDRESS_RATE_LIMIT"
    if [ -n "${TRUSTED_PROXY:-}" ]; then
        # RemoteIPInternalProxy, not RemoteIPTrustedProxy: the latter refuses a private or
        # loopback client address in the header, and clients on an intranet have one.
        printf '%s\n' '' "# Clients behind the balancer at $TRUSTED_PROXY (TRUSTED_PROXY)." \
            'LoadModule remoteip_module /usr/lib/apache2/modules/mod_remoteip.so' \
            'RemoteIPHeader X-Forwarded-For' "RemoteIPInternalProxy $TRUSTED_PROXY" \
            "TweetsseTrustedProxy $TRUSTED_PROXY"
    fi
    if [ -n "${MODERATORS:-}" ]; then
        [ -r "$MODERATORS" ] || { echo "server.sh: cannot read MODERATORS $MODERATORS" >&2; exit 1; }
        printf '%s\n' '' '# The moderators (MODERATORS): whoever Apache lets in may remove any post.' \
            'LoadModule auth_basic_module /usr/lib/apache2/modules/mod_auth_basic.so' \
            'LoadModule authn_core_module /usr/lib/apache2/modules/mod_authn_core.so' \
            'LoadModule authn_file_module /usr/lib/apache2/modules/mod_authn_file.so' \
            'LoadModule authz_user_module /usr/lib/apache2/modules/mod_authz_user.so' \
            "<Location ${MOUNT:-/}moderate>" '    SetHandler tweetsse-moderation' \
            '    AuthType Basic' '    AuthName "Moderators"' '    AuthBasicProvider file' \
            "    AuthUserFile \"$(realpath "$MODERATORS")\"" '    Require valid-user' '</Location>'
    fi
    if [ -n "${EXTRA_CONF:-}" ]; then
        [ -r "$EXTRA_CONF" ] || { echo "server.sh: cannot read EXTRA_CONF $EXTRA_CONF" >&2; exit 1; }
        printf '\n# EXTRA_CONF\nInclude "%s"\n' "$(realpath "$EXTRA_CONF")"
    fi
}

# A TCP port on loopback: a number in 1..65535.
check_port() {
    case $1 in
    '' | *[!0-9]*) echo "server.sh: not a port: '$1'" >&2; exit 2 ;;
    esac
    [ "$1" -ge 1 ] && [ "$1" -le 65535 ] || { echo "server.sh: not a port: '$1'" >&2; exit 2; }
}

cmd_sentinel() {
    [ $# -eq 3 ] || usage
    local dir=$1 port=$2 master=$3 name=${MASTER_NAME:-tweetsse}
    check_port "$port"
    check_port "$master"
    mkdir -p "$dir"
    # Written fresh: Sentinel records in this file the replicas, the other sentinels and the
    # epoch it has learned, and a record from an earlier run would name that run's primary
    # (after a failover, the old replica). On loopback every address is announced as it
    # is, so neither announce-ip nor resolve-hostnames is needed.
    # The timing: a primary that has not answered for DOWN_AFTER_MS (1 s) is down; with
    # FAILOVER_TIMEOUT_MS 3 s a failover that stalls is given up and tried again after
    # 2 x 3 s (the sentinel log says "Next failover delay"; Sentinel's default, 180 s,
    # retries a stalled failover only after 6 minutes). Measured here (cluster of scripts/cluster.sh, kill -9 of the primary, 3
    # runs): the replica was promoted after 1.40-1.43 s and the sentinels announced
    # +switch-master after 2.26-2.31 s.
    printf '%s\n' \
        "port $port" \
        "bind 127.0.0.1" \
        "dir \"$dir\"" \
        "sentinel monitor $name 127.0.0.1 $master ${QUORUM:-2}" \
        "sentinel down-after-milliseconds $name ${DOWN_AFTER_MS:-1000}" \
        "sentinel failover-timeout $name ${FAILOVER_TIMEOUT_MS:-3000}" \
        "sentinel parallel-syncs $name 1" >"$dir/sentinel.conf"
    exec redis-server "$dir/sentinel.conf" --sentinel --daemonize no --logfile ''
}

cmd_haproxy() {
    [ $# -eq 1 ] || usage
    [ -f "$1" ] || { echo "server.sh: no HAProxy config $1" >&2; exit 1; }
    raise_nofile
    # -db: in the foreground, without a master process; SIGTERM stops it at once.
    exec haproxy -db -f "$1"
}

# The open-files limit up to the hard limit (every open stream is a socket), or to NOFILE.
raise_nofile() {
    if [ -n "${NOFILE:-}" ]; then
        ulimit -n "$NOFILE"
    else
        ulimit -n "$(ulimit -Hn)"
    fi
}

cmd_check() {
    [ $# -eq 1 ] || usage
    check_readable "$1/httpd.conf"
    preload
    exec "$apache2" -t -f "$1/httpd.conf"
}

# A sanitizer runtime for a module built with it (scripts/sanitizer.sh): preloaded into Apache
# only, never into the caller.
preload() {
    if [ -n "${APACHE_PRELOAD:-}" ]; then export LD_PRELOAD=$APACHE_PRELOAD; fi
}

# The children's user (User directive) must be able to list the DocumentRoot, which also
# proves it can reach it through every parent directory.
check_readable() {
    local conf=$1 user docroot
    [ "$(id -u)" = 0 ] || return 0
    user=$(sed -n 's/^User[[:space:]]\{1,\}\([^[:space:]]*\).*/\1/p' "$conf" | head -1)
    docroot=$(sed -n 's/^DocumentRoot[[:space:]]\{1,\}"\{0,1\}\([^"]*\)"\{0,1\}.*/\1/p' "$conf" | head -1)
    [ -n "$user" ] && [ "$user" != root ] && [ -n "$docroot" ] || return 0
    if ! runuser -u "$user" -- test -r "$docroot" -a -x "$docroot"; then
        echo "server.sh: $user cannot read $docroot; use a directory it can reach" >&2
        exit 1
    fi
}

cmd_apache() {
    [ $# -ge 1 ] || usage
    local dir=$1
    shift
    local conf=$dir/httpd.conf
    [ -f "$conf" ] || { echo "server.sh: no $conf (write it with: server.sh conf)" >&2; exit 1; }
    check_readable "$conf"
    raise_nofile
    preload
    exec "$apache2" -f "$conf" -DFOREGROUND "$@"
}

[ $# -ge 1 ] || usage
sub=$1
shift
case $sub in
redis) cmd_redis "$@" ;;
sentinel) cmd_sentinel "$@" ;;
haproxy) cmd_haproxy "$@" ;;
ping) cmd_ping "$@" ;;
conf) cmd_conf "$@" ;;
check) cmd_check "$@" ;;
apache) cmd_apache "$@" ;;
-h | --help | help) usage help ;;
*) echo "server.sh: unknown command '$sub'" >&2; usage ;;
esac
