# shellcheck shell=bash
# bench/run.sh: what to run (the command line) and how big (the environment, else the
# defaults). The help text is the comment at the top of run.sh.

quick=0 # -q: every scenario short and small
want=() # the scenarios to run: S1..S8, S1M, XC

# Read the command line into quick and want; --help prints the help and exits.
parse_options() {
    local a
    for a in "$@"; do
        case $a in
        -q | --quick) quick=1 ;;
        S[1-8] | s[1-8] | S1M | s1m | XC | xc) want+=("${a^^}") ;;
        -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;p}' "$0"; exit 0 ;;
        *) echo "bench: unknown argument '$a' (try --help)" >&2; exit 2 ;;
        esac
    done
    [ ${#want[@]} -gt 0 ] || want=(S1 S2 S3 S4 S5)
    # S6 is read against S1 of the same run.
    if has S6 && ! has S1; then want+=(S1); fi
}

# Whether scenario $1 is to run.
has() { [[ " ${want[*]} " == *" $1 "* ]]; }
# Whether a scenario of the run is side by side with the peer (S1M and S8 are ours only: a run
# of them alone starts no peer).
wants_peer() { has S1 || has S2 || has S3 || has S4 || has S5 || has S7 || has XC; }

# The sizes of every scenario, the ports and the children: each from the environment when
# set there, else its default; quick mode keeps every scenario but makes it short and small.
set_sizes() {
    if [ "$quick" = 1 ]; then
        : "${S1_SUBS:=1000}" "${S1_RATE:=100}" "${S1_SECS:=3}"
        : "${S2_SUBS:=2000}" "${S2_POSTS:=30}" "${S2_RATE:=10}" "${WRK_SECS:=3}" "${ROUNDS:=1}"
    else
        : "${S1_SUBS:=1000}" "${S1_RATE:=100}" "${S1_SECS:=10}"
        : "${S2_SUBS:=10000}" "${S2_POSTS:=100}" "${S2_RATE:=10}" "${WRK_SECS:=10}" "${ROUNDS:=2}"
    fi
    : "${S7_SUBS:=100000}" "${S7_POSTS:=30}" "${S7_RATE:=1}" "${S7_PROCS:=7}" "${S7_HOLD:=30}"
    : "${S4_VISITORS:=20000}" # S4 with limits on: enough that none reaches its limit
    : "${S6_SUBS:=3000}" "${S6_INSTANCES:=3}" "${S6_MIN_REPLICAS:=0}" "${S6_PORT:=18200}"
    : "${S8_RATE:=1000}" "${S8_SECS:=10}"
    : "${SRCS:=8}" # source addresses 127.0.0.2..(SRCS+1) for the subscribers
    # Apache children, as `make run` starts them (scripts/run.sh); nginx gets as many workers.
    export CHILDREN=${CHILDREN:-8}
    PORT=${BENCH_PORT:-18080}
    PEER_PORT=${PEER_PORT:-18090}
    PEER_REDIS_PORT=${PEER_REDIS_PORT:-16390}
    S1_POSTS=$((S1_RATE * S1_SECS))
    BENCH_KEEPALIVE=${KEEPALIVE:-15} # TweetsseKeepalive of the instance (scripts/server.sh conf)
}
