#!/usr/bin/env bash
# `make install` and `make uninstall`: the module into a system Apache (Debian's layout), from
# a built tree.
#
#   install.sh install     the module to apxs' LIBEXECDIR, conf/tweetsse.load and
#                          conf/tweetsse.conf to SYSCONFDIR/mods-available, htdocs/lib to
#                          PREFIX/htdocs/lib; a cookie secret (SYSCONFDIR/tweetsse.secret, 48
#                          random bytes in base64, root only) when there is none and DESTDIR
#                          is empty. tweetsse.conf is a configuration file: one that is absent,
#                          or unchanged since the last install, gets the new one; an edited one
#                          is kept, and the new one goes beside it as tweetsse.conf.dist.
#   install.sh uninstall   disables the module (a2dismod) and removes what install put there,
#                          except an edited tweetsse.conf and the secret (both named).
#
# Environment: DESTDIR (empty: the live system; else a staging root that every path is put
# under, e.g. for a package: nothing is enabled, no secret is written), PREFIX
# (/usr/share/tweetsse), APXS (apxs; asked for LIBEXECDIR and SYSCONFDIR), MODULE
# (.libs/mod_tweetsse.so). What install put there is recorded, with each file's checksum, in
# PREFIX/install.manifest, which uninstall reads.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
umask 022 # what Apache's children (www-data) must read is world-readable, whatever the caller's
DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/usr/share/tweetsse}
APXS=${APXS:-apxs}
MODULE=${MODULE:-.libs/mod_tweetsse.so}

die() { echo "install: $*" >&2; exit 1; }
say() { echo "install: $*"; }

libexec=$("$APXS" -q LIBEXECDIR) || die "cannot ask $APXS for LIBEXECDIR (apache2-dev)"
sysconf=$("$APXS" -q SYSCONFDIR) || die "cannot ask $APXS for SYSCONFDIR (apache2-dev)"
mods=$sysconf/mods-available
conf=$mods/tweetsse.conf
secret=$sysconf/tweetsse.secret
manifest=$PREFIX/install.manifest

sum() { sha256sum "$1" | cut -d' ' -f1; }
# The checksum the manifest recorded for a path (empty: none).
recorded() {
    [ -f "$DESTDIR$manifest" ] || return 0
    awk -v p="$1" '$2 == p { print $1 }' "$DESTDIR$manifest"
}

# `put SRC DEST`: install one file (mode 644) and record it.
put() {
    install -D -m 644 "$1" "$DESTDIR$2"
    echo "$(sum "$DESTDIR$2") $2" >>"$DESTDIR$manifest.new"
}

cmd_install() {
    [ -f "$MODULE" ] || die "no $MODULE: run make first"
    [ -d htdocs/lib ] || die "no htdocs/lib: run make frontend first"
    install -d "$DESTDIR$PREFIX"
    : >"$DESTDIR$manifest.new"
    put "$MODULE" "$libexec/mod_tweetsse.so"
    put conf/tweetsse.load "$mods/tweetsse.load"
    local f
    for f in htdocs/lib/*; do put "$f" "$PREFIX/htdocs/lib/${f##*/}"; done
    # The configuration: an operator's edits survive every install.
    local was
    was=$(recorded "$conf")
    if [ ! -e "$DESTDIR$conf" ] || cmp -s conf/tweetsse.conf "$DESTDIR$conf" ||
        { [ -n "$was" ] && [ "$(sum "$DESTDIR$conf")" = "$was" ]; }; then
        put conf/tweetsse.conf "$conf"
        rm -f "$DESTDIR$conf.dist"
    else
        install -m 644 conf/tweetsse.conf "$DESTDIR$conf.dist"
        # Recorded as it is: unchanged from here on, the next install may replace it.
        echo "${was:-edited} $conf" >>"$DESTDIR$manifest.new"
        echo "- $conf.dist" >>"$DESTDIR$manifest.new"
        say "kept your edited $conf; the new one is $conf.dist (compare them)"
    fi
    mv "$DESTDIR$manifest.new" "$DESTDIR$manifest"
    if [ -n "$DESTDIR" ]; then
        say "staged under $DESTDIR; no secret written there: create $secret on the target" \
            "(head -c 48 /dev/urandom | base64 > $secret; chmod 600), the same on every instance"
        return
    fi
    if [ ! -e "$secret" ]; then
        (umask 077 && head -c 48 /dev/urandom | base64 -w0 >"$secret.new" && echo >>"$secret.new")
        mv "$secret.new" "$secret"
        say "wrote a new secret to $secret (copy it to every instance of the feed)"
    fi
    say "installed; enable it with: a2enmod tweetsse && systemctl restart apache2"
}

cmd_uninstall() {
    [ -f "$DESTDIR$manifest" ] || die "nothing to uninstall: no $DESTDIR$manifest"
    # A module still enabled would stop Apache's next start once its file is gone.
    if [ -z "$DESTDIR" ] && [ -e "$sysconf/mods-enabled/tweetsse.load" ]; then
        if command -v a2dismod >/dev/null; then
            a2dismod -q -f tweetsse
        else
            rm -f "$sysconf/mods-enabled/tweetsse.load" "$sysconf/mods-enabled/tweetsse.conf"
        fi
        say "disabled the module; restart Apache (systemctl restart apache2)"
    fi
    local want path
    while read -r want path; do
        [ -e "$DESTDIR$path" ] || continue
        if [ "$path" = "$conf" ] && [ "$(sum "$DESTDIR$path")" != "$want" ]; then
            say "kept your edited $conf (remove it yourself if you no longer need it)"
            continue
        fi
        rm -f "$DESTDIR$path"
    done <"$DESTDIR$manifest"
    rm -f "$DESTDIR$manifest"
    rmdir "$DESTDIR$PREFIX/htdocs/lib" "$DESTDIR$PREFIX/htdocs" "$DESTDIR$PREFIX" 2>/dev/null || true
    [ ! -e "$DESTDIR$secret" ] ||
        say "kept $secret: the feed's cookie secret (remove it to forget every visitor's name)"
    say "uninstalled"
}

case ${1:-} in
install) cmd_install ;;
uninstall) cmd_uninstall ;;
*) echo "usage: install.sh install|uninstall" >&2; exit 2 ;;
esac
