# shellcheck shell=bash
# bench/run.sh: the load generators. sseload (subscribers and posts) is started by one
# function for every side; wrk (requests/s) by another.

lp=          # pid of the sseload run_sseload started last
post_cpu_ns= # server CPU over the last posting phase (post_and_wait)

# The sides of round $1: ours first in odd rounds, the peer first in even ones.
sides_of() { if [ $(($1 % 2)) = 1 ]; then echo ours peer; else echo peer ours; fi; }

# run_sseload SIDE LABEL OPTION...: start sseload against side (ours, peer or cluster) in
# the background, with the label and the given options: its pid in $lp, its JSON result in
# $RUNDIR/LABEL.out, its summary and progress in LABEL.err. Its go file (-g) is
# $RUNDIR/LABEL.go, removed here and created by post_and_wait. The scenarios pass -d 0
# with it: the posts start when the server counts every stream (wait_streams), not after a
# fixed settle time.
run_sseload() {
    local side=$1 label=$2
    shift 2
    local -a target
    case $side in
    ours) target=(-s "$base/home/sse" -p "$base/home" -F 'message=%s' -H "Cookie: $cookie") ;;
    peer) target=(-s "$peer/sub" -p "$peer/pub" -B '%s' -z "$PAD") ;;
    cluster) target=(-s "${cluster_url}home/sse" -p "${cluster_url}home" -F 'message=%s' -H "Cookie: $cluster_cookie") ;;
    esac
    rm -f "$RUNDIR/$label.go"
    timeout 900 "${loadgen[@]}" "$sseload" -l "$label" "${target[@]}" -n "$SRCS" -K "$@" \
        >"$RUNDIR/$label.out" 2>"$RUNDIR/$label.err" &
    lp=$!
    bg_pids+=("$lp")
}

# wait_ready LABEL: wait until the sseload of label has every subscriber connected (or
# failed), or has ended; log its "ready" line and print how many connected.
wait_ready() {
    local label=$1 n
    wait_until 300 0.1 sseload_ready "$label" || true
    grep -h 'ready' "$RUNDIR/$label.err" | sed 's/^/    /' >&2 || true
    n=$(sed -n 's/.*ready connected=\([0-9]*\).*/\1/p' "$RUNDIR/$label.err")
    echo "${n:-0}"
}
# Whether the sseload of label $1 said "ready", or has ended.
sseload_ready() { grep -q 'ready' "$RUNDIR/$1.err" 2>/dev/null || gone "$lp"; }

# post_and_wait SIDE LABEL: let the sseload of label post (create its go file) and wait
# until it has ended; post_cpu_ns is side's server CPU over that time (posting and drain).
post_and_wait() {
    local side=$1 label=$2 c0
    c0=$(server_cpu "$side")
    touch "$RUNDIR/$label.go"
    wait "$lp" || true
    post_cpu_ns=$(($(server_cpu "$side") - c0))
}

# sseload_field NAME LABEL: the result field NAME for the finished sseload of label: its
# JSON result (NAME:=@file), or NAME:=null when it printed none; its summary goes to the log.
sseload_field() {
    local name=$1 label=$2 out=$RUNDIR/$2.out
    grep "^$label: " "$RUNDIR/$label.err" | sed 's/^/    /' >&2 || true
    if [[ $(cat "$out" 2>/dev/null) == "{"*"}" ]]; then
        echo "$name:=@$out"
    else
        log "$label: sseload failed: $(tail -3 "$RUNDIR/$label.err")"
        echo "$name:=null"
    fi
}

# The processes of side $1's web server (comma-separated) and of its Redis, for cpu_ns.
side_redis_pid() {
    case $1 in
    ours) echo "$redis_pid" ;;
    peer) cat "$RUNDIR/peer/redis.pid" ;;
    esac
}

# A wrk latency ("812.00us", "7.13ms", "1.02s") in ms.
wrk_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) printf "%.3f", v / 1000; else if (v ~ /ms$/) printf "%.3f", v + 0;
        else if (v ~ /s$/) printf "%.3f", v * 1000; else print "null" }'
}

wrk_result=() # the result fields of the last run_wrk: rps, CPU per request, latencies

# One wrk run of side $2 (ours or peer; 50 connections, 2 threads, WRK_SECS) with label $1:
# its requests/s, the CPU time per request of the side's web server and of its Redis (µs,
# from /proc over the run: the time on a CPU of every thread), and the latency p50 and p99
# (ms, wrk --latency) into wrk_result; errors go to the log.
run_wrk() {
    local label=$1 side=$2 out rps n bad w0 w1 r0 r1 rp
    shift 2
    local -a wp
    mapfile -t wp < <(web_pids "$side")
    rp=$(side_redis_pid "$side")
    w0=$(cpu_ns "${wp[@]}") r0=$(cpu_ns "$rp")
    out=$(timeout $((WRK_SECS + 30)) wrk -t2 -c50 -d"${WRK_SECS}s" --latency "$@" 2>&1) || true
    w1=$(cpu_ns "${wp[@]}") r1=$(cpu_ns "$rp")
    echo "$out" >>"$RUNDIR/$label.wrk"
    rps=$(awk '/^Requests\/sec:/ { print int($2) }' <<<"$out")
    n=$(awk '/ requests in / { print $1 }' <<<"$out")
    bad=$(awk '/Non-2xx or 3xx responses:/ { print $NF } /Socket errors:/ { print }' <<<"$out")
    wrk_result=("rps.${label}[]:=${rps:-0}")
    if [ "${n:-0}" -gt 0 ]; then
        wrk_result+=("web_us.${label}[]:=$(((w1 - w0) / 1000 / n))"
            "redis_us.${label}[]:=$(((r1 - r0) / 1000 / n))"
            "p50.${label}[]:=$(wrk_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")"
            "p99.${label}[]:=$(wrk_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")")
    fi
    log "$label: ${rps:-?} requests/s${bad:+ (errors: $bad)}"
}

wrk_fields=() # the result fields of the last wrk_mirrored: rps.LABEL[]:=n, two per target

# wrk_mirrored "label|side|BENCH_BODY|wrk args..."...: wrk over several targets, each twice,
# in the order A B C ... C B A so that drift hits them alike, after a 2 s warm-up of each (a
# fixed load, not a wait); the figures of both runs of each target (run_wrk) in wrk_fields.
wrk_mirrored() {
    local i n=$# label side body args
    local -a specs=("$@")
    wrk_fields=()
    for i in $(seq 0 $((n - 1))); do
        IFS='|' read -r label side body args <<<"${specs[$i]}"
        # shellcheck disable=SC2086 # args are words
        BENCH_BODY=$body timeout 30 wrk -t2 -c50 -d2s $args >/dev/null 2>&1 || true
    done
    for i in $(seq 0 $((n - 1))) $(seq $((n - 1)) -1 0); do
        IFS='|' read -r label side body args <<<"${specs[$i]}"
        # shellcheck disable=SC2086 # args are words
        BENCH_BODY=$body run_wrk "$label" "$side" $args
        wrk_fields+=("${wrk_result[@]}")
    done
}
