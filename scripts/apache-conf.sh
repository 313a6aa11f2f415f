#!/usr/bin/env bash
# Write a private Apache config from conf/httpd.conf.in to stdout.
# Environment: RUNDIR PORT REDIS (required); MPM (event), MOUNT (/), LOGLEVEL, KEEPALIVE,
# HISTORY, MODULE, HTDOCS (defaults below). Used by `make run` and the tests.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
: "${RUNDIR:?}" "${PORT:?}" "${REDIS:?}"
MPM=${MPM:-worker}
MOUNT=${MOUNT:-/}
LOGLEVEL=${LOGLEVEL:-warn}
KEEPALIVE=${KEEPALIVE:-15}
HISTORY=${HISTORY:-1000}
MODULE=${MODULE:-$top/.libs/mod_tweetsse.so}
HTDOCS=${HTDOCS:-$RUNDIR/htdocs}
if [ "$(id -u)" = 0 ]; then USER_=www-data GROUP_=www-data; else USER_=$(id -un) GROUP_=$(id -gn); fi
sed -e "s|@RUNDIR@|$RUNDIR|g" -e "s|@PORT@|$PORT|g" -e "s|@REDIS@|$REDIS|g" \
    -e "s|@MPM@|$MPM|g" -e "s|@MOUNT@|$MOUNT|g" -e "s|@LOGLEVEL@|$LOGLEVEL|g" \
    -e "s|@KEEPALIVE@|$KEEPALIVE|g" -e "s|@HISTORY@|$HISTORY|g" -e "s|@MODULE@|$MODULE|g" \
    -e "s|@HTDOCS@|$HTDOCS|g" -e "s|@USER@|$USER_|g" -e "s|@GROUP@|$GROUP_|g" \
    "$top/conf/httpd.conf.in"
