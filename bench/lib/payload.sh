# shellcheck shell=bash
# bench/run.sh: the same payload on both sides. The peer's message is padded (sseload -z) to
# the size of the data of one of our events, measured from a frame of our stream at the
# start (PAD overrides it).

ours_data=0 # bytes of the data of one of our events
ours_msg=0  # bytes of the message it carries
peer_data=0 # bytes of the data of one of the peer's events, padded

# frame_data SIDE URL COMMAND...: the data of one event of side, in bytes. Opens a stream at
# URL (curl), publishes a message of the form of sseload's markers with COMMAND (the message
# appended), measures the data line that carries it, and closes the stream again. Prints
# "data-bytes message-bytes".
frame_data() {
    local side=$1 url=$2 msg raw cp n
    shift 2
    msg="slprobeq0t$(date +%s%6N)e"
    raw=$RUNDIR/probe-$RANDOM.sse
    : >"$raw"
    curl -s -N -H 'Accept: text/event-stream' "$url" >"$raw" &
    cp=$!
    # The stream is open once the server counts it.
    wait_until 5 0.05 streams_at_least "$side" 1 || true
    "$@" "$msg" >/dev/null
    wait_until 5 0.05 grep -q "^data: .*$msg" "$raw" || true
    kill "$cp" 2>/dev/null || true
    wait "$cp" 2>/dev/null || true
    # Gone again before anything is measured.
    wait_until 30 0.1 no_streams "$side" || log "$side: the probe's stream is still open after 30 s"
    n=$(awk -v m="$msg" '/^data: / && index($0, m) { print length($0) - 6; exit }' "$raw")
    echo "${n:-0} ${#msg}"
}
# Post message $1 to our feed, as the benchmark's visitor.
post_ours() { curl -s -o /dev/null -H "Cookie: $cookie" --data-urlencode "message=$1" "$base/home"; }
# Publish message $1 on the peer, padded as sseload pads it (-z PAD): a space and PAD - 1 x's.
post_peer_padded() {
    local m=$1
    if [ "$PAD" -gt 0 ]; then m+=" $(head -c $((PAD - 1)) /dev/zero | tr '\0' x)"; fi
    curl -s -o /dev/null --data-binary "$m" "$peer/pub"
}

# Measure our event's data, set PAD (our card around the message: the peer's message gets
# that many bytes of padding, so that the data of its events is as large as ours), and
# measure the peer's padded event.
measure_payload() {
    read -r ours_data ours_msg <<<"$(frame_data ours "$base/home/sse" post_ours)"
    [ "$ours_data" -gt 0 ] || { log "no event of ours on $base/home/sse"; exit 1; }
    PAD=${PAD:-$((ours_data - ours_msg))}
    if ! wants_peer; then
        log "payload: the data of our event $ours_data bytes (a $ours_msg-byte message in its card)"
        return
    fi
    read -r peer_data _ <<<"$(frame_data peer "$peer/sub" post_peer_padded)"
    log "payload: the data of our event $ours_data bytes (a $ours_msg-byte message in its card); the peer's message padded by $PAD bytes: $peer_data bytes"
}
