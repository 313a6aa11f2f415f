# shellcheck shell=bash
# bench/run.sh: the syscalls of one side's server processes over a phase, counted by perf
# stat. Without perf, or without the right to trace, nothing is counted and the figures stay
# out of the table.

perf_pid=  # perf stat, counting
perf_ctl=  # its control fifo (we write "enable")
perf_ack=  # its acknowledgement fifo (it writes "ack")

# start_syscalls SIDE FILE: perf stat in the background over every thread of side's server
# processes (web server + Redis), its counts to FILE at stop_syscalls. It attaches with
# its counters disabled and counts from the moment it acknowledges "enable" on its control
# fifo, so the count starts exactly when this returns, whatever attaching to thousands of
# threads takes.
start_syscalls() {
    local side=$1 out=$2 pids
    perf_pid=
    command -v perf >/dev/null || return 0
    pids=$(server_pids "$side" | paste -sd,)
    rm -f "$RUNDIR/perf.ctl" "$RUNDIR/perf.ack"
    mkfifo "$RUNDIR/perf.ctl" "$RUNDIR/perf.ack"
    exec {perf_ctl}<>"$RUNDIR/perf.ctl" {perf_ack}<>"$RUNDIR/perf.ack"
    perf stat -x, -o "$out" -D -1 --control "fifo:$RUNDIR/perf.ctl,$RUNDIR/perf.ack" \
        -e raw_syscalls:sys_enter,syscalls:sys_enter_sendmsg,syscalls:sys_enter_writev,syscalls:sys_enter_write,syscalls:sys_enter_sendto,syscalls:sys_enter_epoll_wait \
        -p "$pids" 2>/dev/null &
    perf_pid=$!
    echo enable >&"$perf_ctl"
    wait_until 60 0 perf_counting || { log "perf did not start counting in 60 s"; stop_syscalls; }
}

# Whether perf has acknowledged "enable" (waits up to 0.1 s for it); true as well when perf
# has ended (not allowed to trace: there is nothing to wait for).
perf_counting() {
    local line
    if read -r -t 0.1 line <&"$perf_ack" && [ "$line" = ack ]; then return 0; fi
    gone "$perf_pid"
}

# Stop the count of start_syscalls (in this shell: perf is its child) and wait for its report.
stop_syscalls() {
    [ -n "$perf_pid" ] || return 0
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" 2>/dev/null || true
    perf_pid=
    exec {perf_ctl}>&- {perf_ack}>&-
}

# The counts perf wrote to $1 as fields of the result: syscalls.total:=n,
# syscalls.sendmsg:=n, ..., one a line; syscalls:=null when it counted nothing.
syscall_fields() {
    [ -s "$1" ] || { echo 'syscalls:=null'; return 0; }
    awk -F, '$3 ~ /sys_enter/ && $1 ~ /^[0-9]+$/ {
            n = $3; sub(/.*:sys_enter_?/, "", n); if (n == "") n = "total";
            print "syscalls." n ":=" $1; c++ }
        END { if (!c) print "syscalls:=null" }' "$1"
}
