#!/usr/bin/env bash
# `make test-tsan`, second half: the delivery and fault suites against a real Apache whose
# module is built with ThreadSanitizer (build/tsan/mod_tweetsse.so; Apache itself is not, so
# the TSan runtime is preloaded into it). Every report of every Apache process goes to one
# directory. A report with a frame in the module fails the run; reports entirely inside
# httpd and APR (prefork frees memory in its SIGTERM handler; the event MPM closes the sockets
# of busy workers on an ungraceful stop) are listed, but they are not ours to fix.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
module=$top/build/tsan/mod_tweetsse.so
[ -f "$module" ] || { echo "tsan: build $module first (make test-tsan)" >&2; exit 1; }
runtime=$(cc -print-file-name=libtsan.so)
[ -f "$runtime" ] || { echo "tsan: no ThreadSanitizer runtime ($runtime)" >&2; exit 1; }
reports=$(mktemp -d /tmp/tweetsse-tsan.XXXXXX)
chmod 777 "$reports" # Apache's children (www-data) write their reports here too
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
rc=0
MODULE=$module APACHE_PRELOAD=$runtime \
    TSAN_OPTIONS="log_path=$reports/tsan halt_on_error=0 second_deadlock_stack=1" \
    node --test --test-concurrency=1 t/integration/delivery.test.mjs \
    t/integration/faults.test.mjs || rc=$?
# Split the reports into ours (a frame in the module) and httpd's own.
ours=0 theirs=0
for f in $(find "$reports" -name 'tsan.*' | sort); do
    while IFS= read -r -d '' report; do
        if grep -qE 'mod_tweetsse|/src/tw_' <<<"$report"; then
            ours=$((ours + 1))
            printf 'tsan: a report in the module:\n%s\n' "$report"
        else
            theirs=$((theirs + 1))
            printf 'tsan: outside the module (%s):\n%s\n' "$(basename "$f")" \
                "$(grep -m3 -E '^WARNING|^ +#[0-2] ' <<<"$report")"
        fi
    done < <(awk '/^WARNING: ThreadSanitizer/ { if (r != "") printf "%s%c", r, 0; r = "" }
                  /^WARNING: ThreadSanitizer/, /^SUMMARY/ { r = r $0 "\n" }
                  END { if (r != "") printf "%s%c", r, 0 }' "$f")
done
echo "tsan: $ours reports in the module, $theirs inside httpd/APR only"
[ "$ours" = 0 ] || rc=1
rm -rf "$reports"
exit "$rc"
