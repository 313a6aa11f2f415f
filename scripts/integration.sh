#!/usr/bin/env bash
# Integration, abuse, cluster, browser and package tests: node's test runner over
# t/integration, t/abuse (every attack the module must withstand), t/cluster, t/browser and
# t/package (make install into a staging directory, the Debian package in the system's
# Apache, the version and licence files), one file at a time (each starts its own Redis and
# Apache instances on private ports; each cluster file its own scripts/cluster.sh with
# HAProxy and Sentinel).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec node --test --test-concurrency=1 t/integration/*.test.mjs t/abuse/*.test.mjs \
    t/cluster/*.test.mjs t/browser/*.test.mjs t/package/*.test.mjs t/docs/*.test.mjs
