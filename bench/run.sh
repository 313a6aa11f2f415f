#!/usr/bin/env bash
# `make bench`: the feed side by side with nginx + Nchan (Debian's libnginx-mod-nchan, through
# its own Redis), both on loopback in one run, and a Markdown table of the figures.
#
#   bench/run.sh [-q|--quick] [S1 S1M S2 S3 S4 S5 S6 S7 S8]   (default: S1-S5)
#
#   S1  1,000 subscribers, 100 posts/s for 10 s: lost, latency p50/p99, server CPU
#   S1M S1 with a mix, ours only (scenarios/s1m.sh): S1's subscribers and requests, 90 % posts,
#       5 % likes, 5 % deletions, against posts-only in the same rounds (mirrored): lost and
#       p50/p99 of every event (a post, a deletion, a like's count), each kind and all
#       together, and the ratio of the p99s. Not in the default set.
#   S2  10,000 concurrent subscribers on one Apache, 100 posts at 10/s: connected, lost,
#       p50/p99; then all 10,000 close and come back at once (time to a new stream), and how
#       long the server keeps the closed streams
#   S3  memory per idle subscriber at 10,000 (RSS with the streams open minus without), and
#       the server's CPU while they are idle
#   S4  POST throughput with wrk (50 connections) vs Nchan's POST /pub: requests/s, CPU per
#       post of the web server and of its Redis, POST latency p50/p99; then again with our
#       per-client limits at the module's defaults, posting as S4_VISITORS visitors from as
#       many addresses (none reaches its limit)
#   S5  GET /home with 50 posts vs the same Apache serving the same page as a static file
#   XC  S2's load measured by a second load generator, ssebench (bench/ssebench.c), to check
#       sseload's S2 figures against a tool of another design (a blocking publisher, latency
#       stamped when epoll_wait returns: compare with sseload's "as read"); ROUNDS mirrored
#       rounds, each summary line logged and kept in BENCH_DIR/crosscheck.txt. Not in the
#       default set.
#   S6  the cluster of `make run-cluster` (scripts/cluster.sh: HAProxy, S6_INSTANCES Apache
#       instances, Redis primary + 2 replicas + 3 Sentinels) on ports S6_PORT..S6_PORT+112:
#       S6_SUBS subscribers through HAProxy (leastconn spreads them over the instances), S1's
#       posts at S1's rate through HAProxy (so through any instance): connected, lost, p50/p99,
#       streams per instance, against S1 of the same run (S6 implies S1; one round). Every
#       instance as the single one (CHILDREN children, rate limits off), and
#       TweetsseRedisMinReplicas S6_MIN_REPLICAS (0: left out, as for the single instance,
#       whose Redis has no replica; 1 adds a WAIT for the replicas to every post). Not in the
#       default set: it needs HAProxy, and starts a cluster (about 40 s).
#   S7  100,000 concurrent subscribers on one Apache (CHILDREN children), 30 posts at 1/s:
#       connected, lost, p50/p99, KB per subscriber, server CPU and syscalls per delivered
#       event (perf stat over the posting phase); sseload forks S7_PROCS processes. Ours
#       first holds the streams idle for 10 s + S7_HOLD s (30): what the presence costs (the
#       notes a stream gets, Redis' script calls and their time). Not in
#       the default set (`make bench-100k` runs it alone, about 3 minutes).
#   S8  a storm of likes, ours only (scenarios/s8.sh): S1_SUBS subscribers, one post, S8_RATE
#       likes/s (1,000) for S8_SECS s (10), each from a visitor of its own: the count events
#       each stream heard per second (mean, max), and whether every stream's last count is
#       the number of likers. Not in the default set.
#
# Both sides publish the same payload: the peer's message is padded (sseload -z) to the size
# of the data of one of our events, measured from a frame of our stream at the start (PAD
# overrides it). Every latency is measured twice: when sseload reads the bytes, and at the
# kernel's receive time of the segment (sseload -K); the table gives the second, which does
# not depend on how soon the load generator gets a core. Server CPU per delivered event is
# the servers' CPU time (web server + Redis, from /proc) over the posting phase divided by
# the events delivered; bytes per event are what the subscribers read over the posting
# phase (HTTP body: SSE framing and payload) divided by the events delivered.
# S1 and S2/S3 run ROUNDS times (2; quick mode 1) in mirrored order (ours, peer, peer, ours, ...)
# and the table gives the median (the mean of two) with the range; lost and dropped are the
# worst round. Everything (S1-S5) took about 4 minutes on 2 cores.
# Our side is started by scripts/server.sh exactly as `make run` starts it. Each round's
# measurements are saved as JSON in BENCH_DIR/results (sseload's result and the server-side
# figures); bench/report.mjs turns them into the table (`node bench/report.mjs DIR` again
# on a kept directory). wrk comes from scripts/deps.sh (`make deps`).
# Environment: BENCH_PORT (18080), PEER_PORT (18090), PEER_REDIS_PORT (16390), BENCH_DIR (a
# new directory under /tmp), KEEP=1 keeps it (logs, configs) afterwards, LOADGEN_NICE (-10),
# LOADGEN_CPUS (a taskset CPU list for sseload; unset: any CPU), CHILDREN (8, as `make run`;
# the peer gets as many nginx workers), PEER_REUSEPORT (1 when S7 runs, else 0), PAD; ROUNDS and the sizes below (S1_SUBS, S1_RATE,
# S1_SECS, S2_SUBS, S2_POSTS, S2_RATE, WRK_SECS, S4_VISITORS (20000), S7_SUBS, S7_POSTS, S7_RATE,
# S7_PROCS, S7_HOLD, SRCS, S6_SUBS, S6_INSTANCES, S6_MIN_REPLICAS, S6_PORT, S8_RATE, S8_SECS)
# override the defaults.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)

# The parts, each a file of functions: lib/ the jobs every scenario shares, scenarios/ one
# file per scenario (S2 and S3 are one run: s23.sh).
# shellcheck source=lib/common.sh
. "$here/lib/common.sh"
# shellcheck source=lib/options.sh
. "$here/lib/options.sh"
# shellcheck source=lib/preconditions.sh
. "$here/lib/preconditions.sh"
# shellcheck source=lib/lifecycle.sh
. "$here/lib/lifecycle.sh"
# shellcheck source=lib/ours.sh
. "$here/lib/ours.sh"
# shellcheck source=lib/peer.sh
. "$here/lib/peer.sh"
# shellcheck source=lib/cluster.sh
. "$here/lib/cluster.sh"
# shellcheck source=lib/sample.sh
. "$here/lib/sample.sh"
# shellcheck source=lib/perf.sh
. "$here/lib/perf.sh"
# shellcheck source=lib/payload.sh
. "$here/lib/payload.sh"
# shellcheck source=lib/load.sh
. "$here/lib/load.sh"
# shellcheck source=lib/results.sh
. "$here/lib/results.sh"
# shellcheck source=scenarios/s1.sh
. "$here/scenarios/s1.sh"
# shellcheck source=scenarios/s1m.sh
. "$here/scenarios/s1m.sh"
# shellcheck source=scenarios/s23.sh
. "$here/scenarios/s23.sh"
# shellcheck source=scenarios/s4.sh
. "$here/scenarios/s4.sh"
# shellcheck source=scenarios/s5.sh
. "$here/scenarios/s5.sh"
# shellcheck source=scenarios/s6.sh
. "$here/scenarios/s6.sh"
# shellcheck source=scenarios/s7.sh
. "$here/scenarios/s7.sh"
# shellcheck source=scenarios/s8.sh
. "$here/scenarios/s8.sh"
# shellcheck source=scenarios/xc.sh
. "$here/scenarios/xc.sh"

parse_options "$@"
set_sizes
check_preconditions
make_rundir
trap cleanup INT TERM EXIT
start_ours
start_peer
measure_payload
save_run

t_start=$(date +%s)
# S2/S3 go first so that the memory baseline is not inflated by earlier streams.
if has S2 || has S3; then scenario_s23; fi
if has S1; then scenario_s1; fi
# S1M (posts-only and the mix) and the storm of likes right after it.
if has S1M; then scenario_s1m; fi
if has S8; then scenario_s8; fi
# S6 right after S1, on the same machine state.
if has S6; then scenario_s6; fi
if has S4; then scenario_s4; fi
if has S5; then scenario_s5; fi
if has XC; then scenario_xc; fi
# S7 last: 100,000 streams leave the most behind (memory, TIME_WAIT sockets).
if has S7; then scenario_s7; fi
print_report
log "done in $(($(date +%s) - t_start)) s"
