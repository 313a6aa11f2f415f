# shellcheck shell=bash
# bench/run.sh: the syscalls of one side's server processes over a phase, counted by perf
# stat. Without perf, or without the right to trace, nothing is counted and the figures stay
# out of the table.

perf_pid= # perf stat, counting

# start_syscalls SIDE FILE: perf stat in the background over every thread of side's server
# processes (web server + Redis), its counts to FILE at stop_syscalls.
start_syscalls() {
    local side=$1 out=$2 pids
    perf_pid=
    command -v perf >/dev/null || return 0
    pids=$(server_pids "$side" | paste -sd,)
    perf stat -x, -o "$out" \
        -e raw_syscalls:sys_enter,syscalls:sys_enter_sendmsg,syscalls:sys_enter_writev,syscalls:sys_enter_write,syscalls:sys_enter_sendto,syscalls:sys_enter_epoll_wait \
        -p "$pids" 2>/dev/null &
    perf_pid=$!
    sleep 0.5 # attached to every thread
}

# Stop the count of start_syscalls (in this shell: perf is its child) and wait for its report.
stop_syscalls() {
    [ -n "$perf_pid" ] || return 0
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" 2>/dev/null || true
    perf_pid=
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
