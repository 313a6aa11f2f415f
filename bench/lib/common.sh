# shellcheck shell=bash
# bench/run.sh: the log, the clock and the one loop that waits for an event.

# A line of the run's log on stderr, stamped with the time of day.
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

# Microseconds since the epoch, from bash's own clock (no process started).
now_us() {
    local t=$EPOCHREALTIME
    echo "${t//[.,]/}"
}

# Seconds since $1 (a now_us reading), with three decimals (report.mjs rounds them).
seconds_since() {
    local d=$(($(now_us) - $1))
    printf '%d.%03d\n' $((d / 1000000)) $((d / 1000 % 1000))
}

# wait_until SECONDS STEP COMMAND...: run COMMAND every STEP seconds until it succeeds, and
# fail once SECONDS (a whole number) have passed without. Every wait of the benchmark for an
# event (a server answering, a count reached, a line logged, a process gone) goes through
# it; the cost is one COMMAND per STEP.
wait_until() {
    local max=$1 step=$2 t0
    shift 2
    t0=$(now_us)
    until "$@"; do
        [ $(($(now_us) - t0)) -le $((max * 1000000)) ] || return 1
        sleep "$step"
    done
}

# Whether the process $1 has ended.
gone() { ! kill -0 "$1" 2>/dev/null; }
