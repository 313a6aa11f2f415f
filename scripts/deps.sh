#!/usr/bin/env bash
# Install what building, running and testing need, if missing: Debian packages (one
# apt-get update, only when something is missing) and the pinned npm packages.
#   deps.sh        everything make run, make test and make bench need
#   deps.sh fuzz   clang and its runtimes (libFuzzer, ASan + UBSan), for make fuzz and
#                  make test-asan
#   deps.sh deb    the Debian packaging tools, the Build-Depends of debian/control and npm,
#                  for make deb (and the package test of make test)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
pkgs=(apache2 apache2-dev apache2-utils libhiredis-dev libjansson-dev libssl-dev redis-server nodejs npm chromium
      curl pkg-config openssl util-linux wrk iproute2 haproxy)
if [ "${1:-}" = fuzz ]; then pkgs=(clang libclang-rt-14-dev); fi
if [ "${1:-}" = deb ]; then pkgs=(dpkg-dev debhelper fakeroot lintian nodejs npm); fi
missing=()
for p in "${pkgs[@]}"; do
    # nodejs/npm may come from elsewhere (e.g. a newer Node.js already on PATH).
    case $p in
        nodejs) command -v node >/dev/null && continue ;;
        npm) command -v npm >/dev/null && continue ;;
    esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "deps: missing packages: ${missing[*]} (run as root, or install them)" >&2
        exit 1
    fi
    echo "deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
[ "${1:-}" = fuzz ] && exit 0
if [ "${1:-}" = deb ]; then
    # What debian/control's Build-Depends names and is missing (dpkg-checkbuilddeps says).
    if ! (cd "$top" && dpkg-checkbuilddeps >/dev/null 2>&1); then
        [ "$(id -u)" = 0 ] || { (cd "$top" && dpkg-checkbuilddeps) || true; echo "deps: run as root" >&2; exit 1; }
        echo "deps: installing the Build-Depends of debian/control"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q >/dev/null
        apt-get build-dep -y -q --no-install-recommends "$top" >/dev/null
    fi
fi
cd "$top"
if [ ! -f node_modules/.installed ] || [ package-lock.json -nt node_modules/.installed ]; then
    npm ci --no-audit --no-fund --loglevel=error
    touch node_modules/.installed
fi
