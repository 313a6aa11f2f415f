#!/usr/bin/env bash
# `make test-tsan` and `make test-asan`, second half: integration suites against a real Apache
# whose module is built with a sanitizer, beside the normal build (build/KIND/mod_tweetsse.so).
# Apache itself is not instrumented, so the sanitizer's runtime is preloaded into it. Every
# report of every Apache process goes to one directory. SAN_CC is the compiler that built the
# module (the Makefile passes it; else cc for tsan, clang for asan), asked for its runtime.
#
#   sanitizer.sh tsan   ThreadSanitizer; the delivery and fault suites. A report with a frame in
#                       the module fails the run; reports entirely inside httpd and APR (prefork
#                       frees memory in its SIGTERM handler; the event MPM closes the sockets of
#                       busy workers on an ungraceful stop) are listed, but not ours to fix.
#   sanitizer.sh asan   AddressSanitizer + UndefinedBehaviorSanitizer; the integration and abuse
#                       suites. Any report fails the run: httpd and APR are not instrumented (the
#                       runtime sees them only through malloc and the libc calls it
#                       intercepts), so a report inside them is most likely bad memory the
#                       module handed over, and is read rather than filtered. Leak detection
#                       is off: a child never frees what its threads touch, and httpd leaves
#                       its pools and the libraries' allocations to the process exit (see
#                       docs/architecture.md, "The stop model").
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
kind=${1:-}
case $kind in
tsan) runtime_lib=libtsan.so cc=${SAN_CC:-cc}
      suites=(t/integration/delivery.test.mjs t/integration/faults.test.mjs) ;;
asan) runtime_lib=libclang_rt.asan-$(uname -m).so cc=${SAN_CC:-clang}
      suites=(t/integration/*.test.mjs t/abuse/*.test.mjs) ;;
*) echo "usage: sanitizer.sh tsan|asan" >&2; exit 2 ;;
esac
module=$top/build/$kind/mod_tweetsse.so
[ -f "$module" ] || { echo "$kind: build $module first (make test-$kind)" >&2; exit 1; }
runtime=$("$cc" -print-file-name="$runtime_lib")
[ -f "$runtime" ] || { echo "$kind: no sanitizer runtime ($runtime)" >&2; exit 1; }
reports=$(mktemp -d "/tmp/tweetsse-$kind.XXXXXX")
chmod 777 "$reports" # Apache's children (www-data) write their reports here too
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
export MODULE=$module APACHE_PRELOAD=$runtime
case $kind in
tsan) export TSAN_OPTIONS="log_path=$reports/tsan halt_on_error=0 second_deadlock_stack=1" ;;
asan) export ASAN_OPTIONS="log_path=$reports/asan detect_leaks=0"
      export UBSAN_OPTIONS="print_stacktrace=1" ;; # UBSan writes to ASan's log_path
esac
rc=0
node --test --test-concurrency=1 "${suites[@]}" || rc=$?
# One report a record: from a sanitizer's first line to its SUMMARY line.
split_reports() {
    awk '/^(WARNING|ERROR): ThreadSanitizer|^==[0-9]+==ERROR: |: runtime error: / {
             if (r != "") printf "%s%c", r, 0; r = ""; on = 1 }
         on { r = r $0 "\n" }
         /^SUMMARY: / { if (r != "") printf "%s%c", r, 0; r = ""; on = 0 }
         END { if (r != "") printf "%s%c", r, 0 }' "$1"
}
ours=0 theirs=0
for f in $(find "$reports" -type f | sort); do
    found=0
    while IFS= read -r -d '' report; do
        found=1
        if [ "$kind" != tsan ] || grep -qE 'mod_tweetsse|/src/tw_' <<<"$report"; then
            ours=$((ours + 1))
            # A bug on a hot path repeats thousands of times: the first ones say it all.
            [ "$ours" -gt 20 ] && continue
            printf '%s: a report (%s):\n%s\n' "$kind" "$(basename "$f")" "$report"
        else
            theirs=$((theirs + 1))
            printf '%s: outside the module (%s):\n%s\n' "$kind" "$(basename "$f")" \
                "$(grep -m3 -E '^WARNING|^ +#[0-2] ' <<<"$report")"
        fi
    done < <(split_reports "$f")
    # A file without a recognisable report is still the runtime speaking: shown, and it fails.
    if [ "$found" = 0 ] && [ -s "$f" ]; then
        ours=$((ours + 1))
        printf '%s: unrecognised output (%s):\n%s\n' "$kind" "$(basename "$f")" "$(head -40 "$f")"
    fi
done
if [ "$kind" = tsan ]; then
    echo "tsan: $ours reports in the module, $theirs inside httpd/APR only"
else
    echo "$kind: $ours reports"
fi
[ "$ours" = 0 ] || rc=1
rm -rf "$reports"
exit "$rc"
