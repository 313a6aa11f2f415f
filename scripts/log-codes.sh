#!/usr/bin/env bash
# The module's log codes ("TW0601: ..."), each of which must lead an operator to one line of
# code and to one row of the README's table of codes. Fails, naming the places, when a code
# starts the message of more than one call site in mod_tweetsse*.c or src/*.c, when a code in
# the code has no row in the README's table, or when a row names a code the code no longer
# uses. A row of that table is a Markdown table line whose first cell is the code (`TW0601`).
#
#   scripts/log-codes.sh          the check (make check-codes, part of make test)
#   scripts/log-codes.sh --list   every code with its place, one a line
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

# "CODE FILE:LINE" for every message that starts with a code (a string literal "TWnnnn: ").
sites=$(grep -noE '"TW[0-9]{4}: ' mod_tweetsse*.c src/*.c |
    sed -E 's/^([^:]+):([0-9]+):"(TW[0-9]{4}): $/\3 \1:\2/' | sort)
if [ "${1:-}" = --list ]; then
    echo "$sites"
    exit 0
fi
rc=0
dups=$(echo "$sites" | awk '{n[$1]++; at[$1] = at[$1] " " $2} END {
    for (c in n) if (n[c] > 1) print c " is used at" at[c] }' | sort)
if [ -n "$dups" ]; then
    echo "log-codes: a code starts more than one message:" >&2
    echo "$dups" | sed 's/^/  /' >&2
    rc=1
fi
used=$(echo "$sites" | awk '{print $1}' | sort -u)
listed=$( (grep -oE '^\| *`?TW[0-9]{4}`? *\|' README.md || true) | grep -oE 'TW[0-9]{4}' | sort || true)
listed_dups=$(echo "$listed" | uniq -d | grep . || true)
if [ -n "$listed_dups" ]; then
    echo "log-codes: the README lists a code twice: $(echo $listed_dups)" >&2
    rc=1
fi
missing=$(comm -23 <(echo "$used") <(echo "$listed" | sort -u))
stale=$(comm -13 <(echo "$used") <(echo "$listed" | sort -u))
if [ -n "$missing" ]; then
    echo "log-codes: used in the code but not in the README's table of codes:" >&2
    for c in $missing; do echo "$sites" | grep "^$c " | sed 's/^/  /' >&2; done
    rc=1
fi
if [ -n "$stale" ]; then
    echo "log-codes: in the README's table but used nowhere: $(echo $stale)" >&2
    rc=1
fi
[ "$rc" = 0 ] && echo "log-codes: $(echo "$used" | wc -l) codes, one call site each, all in the README"
exit "$rc"
