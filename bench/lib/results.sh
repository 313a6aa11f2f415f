# shellcheck shell=bash
# bench/run.sh: the results, one JSON file per measurement in $RESULTS, written by
# bench/lib/record.mjs from fields (name=text, name:=json, name:=@file; see there), and the
# table that bench/report.mjs makes of them.

# save NAME FIELD...: the result file NAME.json of one measurement.
save() {
    local name=$1
    shift
    node "$here/lib/record.mjs" "$RESULTS/$name.json" "$@"
}

# run.json: what the report needs to know about the run itself.
save_run() {
    local q=false
    [ "$quick" = 1 ] && q=true
    save run date="$(date -u +%F)" cores:="$(nproc)" quick:=$q rounds:="$ROUNDS" \
        "${want[@]/#/scenarios[]=}" S1_SUBS:="$S1_SUBS" S1_RATE:="$S1_RATE" S1_SECS:="$S1_SECS" \
        S1_POSTS:="$S1_POSTS" S2_SUBS:="$S2_SUBS" S2_POSTS:="$S2_POSTS" S2_RATE:="$S2_RATE" \
        WRK_SECS:="$WRK_SECS" S7_SUBS:="$S7_SUBS" S7_POSTS:="$S7_POSTS" S7_RATE:="$S7_RATE" \
        S7_PROCS:="$S7_PROCS" S6_SUBS:="$S6_SUBS" S6_INSTANCES:="$S6_INSTANCES" \
        S6_MIN_REPLICAS:="$S6_MIN_REPLICAS" S8_RATE:="$S8_RATE" S8_SECS:="$S8_SECS" \
        children:="$CHILDREN" pad:="$PAD" \
        ours_data:="$ours_data" peer_data:="$peer_data"
}

# The table of the run (when a scenario of the table ran), and XC's summary lines.
print_report() {
    if printf '%s\n' "${want[@]}" | grep -q '^S'; then node "$here/report.mjs" "$RESULTS"; fi
    if [ -s "$RUNDIR/crosscheck.txt" ]; then
        echo
        echo "XC (ssebench, side round summary):"
        cat "$RUNDIR/crosscheck.txt"
    fi
}
