#!/usr/bin/env bash
# `make deb`: the Debian package libapache2-mod-tweetsse, built from a copy of this tree, into
# dist/ (the .deb, its -dbgsym, and the source package: .dsc, .tar.xz, .buildinfo, .changes),
# then checked by lintian (no error or warning allowed).
#
# The copy (build/deb/libapache2-mod-tweetsse-VERSION/) holds the files git tracks, as they
# are in the work tree (no build products, no node_modules, nothing a run left), plus the
# front-end files of htdocs/lib (make frontend, from npm, which make deb ran first) and their
# unminified sources in debian/missing-sources: the package build itself then needs nothing
# but Debian's packages. The version comes from src/tw_version.h; debian/changelog must name
# the same.
# Environment: FRONTEND_SOURCES (from the Makefile: the sources of the minified files).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
die() { echo "deb: $*" >&2; exit 1; }

version=$(sed -n 's/^#define TW_VERSION[[:space:]]*"\(.*\)"$/\1/p' src/tw_version.h)
[ -n "$version" ] || die "no TW_VERSION in src/tw_version.h"
changelog=$(dpkg-parsechangelog -l debian/changelog -S Version)
[ "$changelog" = "$version" ] ||
    die "src/tw_version.h says $version, debian/changelog $changelog: add a debian/changelog entry"
[ -d htdocs/lib ] || die "no htdocs/lib: make frontend first"
[ -n "${FRONTEND_SOURCES:-}" ] || die "FRONTEND_SOURCES is empty (run it through make deb)"

stage=$top/build/deb
src=$stage/libapache2-mod-tweetsse-$version
rm -rf "$stage"
mkdir -p "$src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z --cached |
        while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
        tar --null -T - -cf - | tar -xf - -C "$src"
else
    tar --exclude-vcs --exclude=./node_modules --exclude=./build --exclude=./dist \
        --exclude=./run --exclude=./run-cluster --exclude=./htdocs/lib -cf - . | tar -xf - -C "$src"
fi
cp -r htdocs/lib "$src/htdocs/"
mkdir -p "$src/debian/missing-sources"
for f in $FRONTEND_SOURCES; do
    [ -f "$f" ] || die "no $f (make frontend)"
    cp "$f" "$src/debian/missing-sources/"
done

echo "deb: building $version in $src"
# Source and binary packages, unsigned; the build's output in build/deb/build.log.
(cd "$src" && dpkg-buildpackage --no-sign) >"$stage/build.log" 2>&1 ||
    { tail -n 40 "$stage/build.log" >&2; die "dpkg-buildpackage failed (all of it: $stage/build.log)"; }
mkdir -p dist
rm -f dist/libapache2-mod-tweetsse[_-]*
for f in "$stage"/libapache2-mod-tweetsse[_-]*; do
    case $f in *.dsc | *.tar.* | *.deb | *.buildinfo | *.changes) cp "$f" dist/ ;; esac
done
changes=$(ls dist/libapache2-mod-tweetsse_"$version"_*.changes)
deb=$(ls dist/libapache2-mod-tweetsse_"$version"_*.deb)
echo "deb: $deb"
# lintian on the source and binary packages; any error or warning fails (overrides, each with
# its reason, in debian/*lintian-overrides).
echo "deb: lintian --allow-root $changes"
lintian --allow-root --fail-on error,warning "$changes" || die "lintian found errors or warnings"
echo "deb: lintian: no errors or warnings"
