# shellcheck shell=bash
# S4: publishing throughput with wrk (50 connections): our form POST /home vs Nchan's raw
# POST /pub; per post the CPU time of each side's web server and of its Redis, and the POST
# latency. Twice: with our per-client limits off (as everywhere in the benchmark), then at the
# module's defaults but never reached (S4_VISITORS visitors posting in turn, each from its
# own address).

# S4, both sides, each twice (mirrored); then the same with our limits on.
scenario_s4() {
    log "S4: POST throughput, wrk 50 connections, 2 x ${WRK_SECS}s each"
    wrk_mirrored "S4-ours|ours|form|-s $here/post.lua $base/home" \
        "S4-peer|peer|raw|-s $here/post.lua $peer/pub"
    local -a off=("${wrk_fields[@]}")
    log "S4: again with the per-client limits on (module defaults), $S4_VISITORS visitors"
    restart_apache on
    # One page view (HEAD) per visitor: each answer sets a new name cookie.
    curl -s -I "$base/home?[1-$S4_VISITORS]" |
        sed -n 's/^[Ss]et-[Cc]ookie: \(tw_name=[^;]*\).*/\1/p' | tr -d '\r' >"$RUNDIR/cookies"
    log "S4: $(wc -l <"$RUNDIR/cookies") visitors' cookies"
    BENCH_COOKIES=$RUNDIR/cookies wrk_mirrored "S4L-ours|ours|form|-s $here/post.lua $base/home" \
        "S4L-peer|peer|raw|-s $here/post.lua $peer/pub"
    save S4 scenario=S4 "${off[@]}" "${wrk_fields[@]}" visitors:="$S4_VISITORS"
    restart_apache off
}
