# shellcheck shell=bash
# S4: publishing throughput with wrk (50 connections): our form POST /home vs Nchan's raw
# POST /pub.

# S4, both sides, each twice (mirrored).
scenario_s4() {
    log "S4: POST throughput, wrk 50 connections, 2 x ${WRK_SECS}s each"
    wrk_mirrored "S4-ours|form|-s $here/post.lua $base/home" "S4-peer|raw|-s $here/post.lua $peer/pub"
    save S4 scenario=S4 "${wrk_fields[@]}"
}
