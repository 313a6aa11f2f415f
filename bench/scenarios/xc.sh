# shellcheck shell=bash
# XC: S2's load measured by a second load generator, ssebench (bench/ssebench.c), against
# either side, ROUNDS mirrored rounds; each summary line is logged and kept in
# $RUNDIR/crosscheck.txt. ssebench sends username= with every post: the module takes it
# only when it is the name the cookie signs (tw_name=NAME.SIGNATURE). It stamps its markers
# "bm<seq>x<usec>y" itself; the peer's get the same padding as sseload's (-z). It runs at
# the default priority (no LOADGEN_NICE).

# XC: build ssebench, then every round on both sides.
scenario_xc() {
    local r side held0 line name=${cookie#tw_name=}
    local -a args
    name=${name%%.*}
    cc -O2 -o "$RUNDIR/ssebench" "$here/ssebench.c"
    for r in $(seq "$ROUNDS"); do
        for side in $(sides_of "$r"); do
            if [ "$side" = ours ]; then
                args=(-s "127.0.0.1:$PORT" -S /home/sse -P /home -f message -u "$name" -C "$cookie")
            else
                args=(-s "127.0.0.1:$PEER_PORT" -S /sub -P /pub -z "$PAD")
            fi
            held0=$(held_by "$side")
            log "XC $side, round $r: ssebench -c $S2_SUBS -n $SRCS -k 500 -m $S2_POSTS -r $S2_RATE -w 10 ${args[*]}"
            line=$("$RUNDIR/ssebench" -c "$S2_SUBS" -n "$SRCS" -k 500 -m "$S2_POSTS" \
                -r "$S2_RATE" -w 10 "${args[@]}" 2>>"$RUNDIR/XC-$side-$r.err") || true
            log "XC $side, round $r: $line"
            echo "$side $r $line" >>"$RUNDIR/crosscheck.txt"
            settle_side "$side" "$held0" >/dev/null
        done
    done
}
