#!/usr/bin/env bash
# The reference peer for bench/run.sh: Debian's nginx + libnginx-mod-nchan, every message
# going through a private redis-server (like our posts), on loopback, files in one directory.
#
#   bench/nchan-peer.sh start DIR [HTTP_PORT] [REDIS_PORT]   (defaults 18090 16390)
#   bench/nchan-peer.sh stop DIR
#
# Endpoints: POST /pub (the raw body is the message), GET /sub (EventSource), GET
# /nchan_status (Nchan's stub status: "subscribers: N" is the open streams, which
# bench/run.sh waits on).
# Environment: PEER_WORKERS (2): worker_processes; each worker may hold its open-files
# limit (the hard limit, like an Apache child) less 1,000 connections, so bench/run.sh gives
# it as many workers as our Apache has children. PEER_REUSEPORT=1: one listening socket per
# worker (reuseport) instead of one shared by all (nginx's default).
set -euo pipefail

cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
    echo "usage: $0 start|stop DIR [HTTP_PORT] [REDIS_PORT]" >&2
    exit 2
fi
port=${3:-18090}
rport=${4:-16390}
module=/usr/lib/nginx/modules/ngx_nchan_module.so

# Stop what `start` left in DIR, by its pid files only.
stop() {
    local pid
    if [ -f "$dir/nginx.pid" ]; then
        pid=$(cat "$dir/nginx.pid")
        kill -QUIT "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        rm -f "$dir/nginx.pid"
    fi
    if [ -f "$dir/redis.pid" ]; then
        pid=$(cat "$dir/redis.pid")
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        rm -f "$dir/redis.pid"
    fi
}

case $cmd in
stop) stop; exit 0 ;;
start) ;;
*) echo "usage: $0 start|stop DIR [HTTP_PORT] [REDIS_PORT]" >&2; exit 2 ;;
esac

# Install the peer if it is missing (Debian packages only).
if ! command -v nginx >/dev/null || [ ! -f "$module" ]; then
    echo "nchan-peer: installing nginx and libnginx-mod-nchan" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx libnginx-mod-nchan >/dev/null
fi

mkdir -p "$dir/tmp" "$dir/redis"
chmod 755 "$dir"

# nginx: PEER_WORKERS workers, each up to the open-files limit (raised to the hard limit
# below) less 1,000 connections, every temp path and log in DIR so nothing of the system's
# nginx is used. With PEER_REUSEPORT=1 each worker has its own listening socket, which the
# kernel fills evenly: with one shared socket the worker that wakes first takes the
# connections, and at 100,000 one of 8 workers reached its 19,000 and dropped the rest
# ("worker_connections are not enough"). The channel keeps 1,000 messages in Redis (nchan_message_buffer_length), as
# our feed keeps 1,000 posts; a new subscriber starts with the next message
# (nchan_subscriber_first_message newest), as our stream without Last-Event-ID does.
workers=${PEER_WORKERS:-2}
reuseport=
[ "${PEER_REUSEPORT:-0}" = 1 ] && reuseport=' reuseport'
nofile=$(ulimit -Hn)
[ "$nofile" = unlimited ] && nofile=1048576
cat >"$dir/nginx.conf" <<CONF
load_module $module;
worker_processes $workers;
worker_rlimit_nofile $nofile;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections $((nofile - 1000)); multi_accept on; }
http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    upstream peer_redis { nchan_redis_server redis://127.0.0.1:$rport; }
    server {
        listen 127.0.0.1:$port backlog=4096$reuseport;
        location = /pub {
            nchan_publisher;
            nchan_channel_id feed;
            nchan_redis_pass peer_redis;
            nchan_message_buffer_length 1000;
        }
        location = /sub {
            nchan_subscriber eventsource;
            nchan_channel_id feed;
            nchan_redis_pass peer_redis;
            nchan_subscriber_first_message newest;
        }
        location = /nchan_status {
            nchan_stub_status;
        }
    }
}
CONF

# Redis for the peer: TCP on loopback (Nchan's redis upstream), no persistence needed.
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --dir "$dir/redis" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
for _ in $(seq 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$rport" ping >/dev/null

# nginx with DIR as its prefix; the open-files limit must allow worker_rlimit_nofile.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"
# Until a publish is accepted: nginx may answer (with an error) before Nchan reaches Redis.
for _ in $(seq 50); do
    curl -sf -o /dev/null -X POST --data-binary 'peer up' "http://127.0.0.1:$port/pub" && break
    sleep 0.1
done
curl -sf -o /dev/null -X POST --data-binary 'peer up' "http://127.0.0.1:$port/pub"
echo "nchan-peer: http://127.0.0.1:$port/sub, POST /pub, redis 127.0.0.1:$rport, files in $dir"
