#!/usr/bin/env bash
#
# make sizing: the figures of the README's "Scaling out" section.  One
# backend and one front from examples/cluster/ (ports, paths and the
# module's location changed, nothing else but the front's worker count)
# on 127.0.0.1, wrk against each for a bounded time (12 figures, each
# SECONDS_PER_RUN long, SIZING_ROUNDS=2 times).  Writes
# bench/results/SIZING.md.
#
# usage: bench/sizing.sh MODULE.so BUILD_DIR [SECONDS_PER_RUN]

set -euo pipefail

MODULE=$1
BUILD=$2
DUR=${3:-2}
ROUNDS=${SIZING_ROUNDS:-2}
# NGINX_BINARY, not NGINX: nginx takes an NGINX in its environment for
# sockets inherited from an old binary, and would not daemonize
NGINX=${NGINX_BINARY:-/usr/sbin/nginx}
BASE=${SIZING_PORT:-18090}
# a backend is sized to run at this share of its capacity: beyond it,
# bursts fill the pool's queue and turn into 503s
TARGET_UTIL=0.7

HERE=$(cd "$(dirname "$0")" && pwd)
EXAMPLES=$HERE/../examples/cluster
WORK=$BUILD/sizing
RESULTS=$HERE/results
BACKEND_PORT=$BASE
FRONT_PORT=$((BASE + 1))
CORES=$(nproc)

. "$HERE/../tools/sandbox.sh"
sandbox_init

rm -rf "$WORK"
mkdir -p "$WORK" "$RESULTS"

# {{{ the example configurations, templated as t/cluster.t does

# sub FILE PATTERN REPLACEMENT: fails when the example no longer has it
sub() {
    if ! grep -q -- "$2" "$1"; then
        echo "sizing: '$2' not in the example" >&2
        exit 1
    fi
    sed -i "s#$2#$3#" "$1"
}

# prepare NAME: a copy of the example's configuration to change, its
# paths (logs, pid, temporary files) moved into its sandbox's prefix
prepare() {
    conf=$WORK/$1.conf
    cp "$EXAMPLES/$1/nginx.conf" "$conf"

    sub "$conf" '/var/log/nginx/' "@PREFIX@/logs/"
    sub "$conf" "/run/nginx-fib-$1.pid" "@PREFIX@/logs/nginx.pid"
    # the default temporary paths are Debian's, under /var/lib/nginx
    sub "$conf" '^http {$' "http {\n    include @PREFIX@/conf/temp_paths.conf;"
}

# start NAME PORT: the changed example in a sandbox
start() {
    local dir
    dir=$(sandbox_new "$1")
    sandbox_conf "$dir" "$WORK/$1.conf"
    sandbox_start "$dir" "$2"
}

prepare backend
sub "$conf" '^load_module .*;$' "load_module $MODULE;"
sub "$conf" '^        listen 8081;$' "        listen 127.0.0.1:$BACKEND_PORT;"
# a pool thread per core of this machine, as the example says
sub "$conf" '^thread_pool fib threads=2 ' "thread_pool fib threads=$CORES "
sub "$conf" 'fib_thread_pool fib tasks=2;' "fib_thread_pool fib tasks=$CORES;"
# one line per request would measure the disk
sub "$conf" '^    access_log .*;$' '    access_log off;'

prepare front
sub "$conf" '^        listen 80;$' "        listen 127.0.0.1:$FRONT_PORT;"
sub "$conf" 'server 10.0.0.11:8081 ' "server 127.0.0.1:$BACKEND_PORT "
sub "$conf" '^        server 10.0.0.12:8081 .*;$' ''
# the cache in the prefix: its workers write there
sub "$conf" '/var/cache/nginx-fib ' "@PREFIX@/cache "
# one worker: the front's figures are per core
sub "$conf" '^worker_processes auto;$' 'worker_processes 1;'
sub "$conf" '^    access_log .*;$' '    access_log off;'

start backend "$BACKEND_PORT"
start front "$FRONT_PORT"

# others' work on the machine lowers every figure: the report says how
# busy it was
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

backend=http://127.0.0.1:$BACKEND_PORT
front=http://127.0.0.1:$FRONT_PORT

# }}}

# {{{ wrk

# wrk_run NAME CONNS URL: leaves NAME.rps, NAME.p99 (ms), NAME.errors
wrk_run() {
    local name=$1 out=$WORK/wrk-$1.txt
    wrk -t1 -c"$2" -d"${DUR}s" --latency "$3" > "$out"

    awk '/Requests\/sec/ { printf "%.0f\n", $2 }' "$out" > "$WORK/$name.rps"
    awk '$1 == "99%" {
        v = $2; n = v + 0
        if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n *= 1;
        else if (v ~ /s$/) n *= 1000
        printf "%.2f\n", n }' "$out" > "$WORK/$name.p99"
    # wrk counts non-2xx answers and socket errors apart
    awk '/Non-2xx/ { e += $5 }
         /Socket errors/ { gsub(/,/, ""); e += $4 + $6 + $8 + $10 }
         END { print e + 0 }' "$out" > "$WORK/$name.errors"
}

val() { cat "$WORK/$1.$2"; }

calc() { awk "BEGIN { printf \"$1\", $2 }"; }

# }}}

# Every figure is measured in ROUNDS rounds, apart in time, and the
# fastest is kept: others' work on the shared cores only ever slows a
# measurement down, and the capacity of a core of one's own is what a
# plan needs.

backend_specs="recursive:25 recursive:30 recursive:35
               iterative:1000 iterative:10000 iterative:100000
               fast:10000 fast:100000 fast:1000000"
front_specs="recursive:30 fast:100000 fast:1000000"

# keep NAME ROUND: NAME.* becomes round ROUND's figures when it is faster
keep() {
    local x
    if [ ! -f "$WORK/$1.rps" ] \
       || [ "$(val "$1-$2" rps)" -gt "$(val "$1" rps)" ]
    then
        for x in rps p99 errors; do
            cp "$WORK/$1-$2.$x" "$WORK/$1.$x"
        done
    fi
}

corebench=$BUILD/corebench

for round in $(seq "$ROUNDS"); do
    echo "sizing: round $round of $ROUNDS, backend (${DUR} s a figure)"

    for spec in $backend_specs; do
        algo=${spec%%:*}
        n=${spec#*:}
        name=$algo-$n

        curl -sf -o /dev/null "$backend/fib/$algo?num=$n"

        # enough in flight to keep every pool thread busy, fewer than
        # the pool's queue holds
        wrk_run "$name-$round" $((CORES * 4)) "$backend/fib/$algo?num=$n"
        keep "$name" "$round"

        "$corebench" "$algo" "$n" 5 >> "$WORK/$name.core"
    done

    echo "sizing: round $round of $ROUNDS, front cache hits"

    for spec in $front_specs; do
        algo=${spec%%:*}
        n=${spec#*:}
        name=hit-$algo-$n
        url="$front/fib/$algo?num=$n"

        curl -sf -o /dev/null "$url"
        cache=$(curl -s -o /dev/null -D - "$url" \
                | awk 'tolower($1) == "x-cache-status:" { print $2 }' \
                | tr -d '\r')
        if [ "$cache" != HIT ]; then
            echo "sizing: $url is not a cache hit at the front ($cache)" >&2
            exit 1
        fi

        wrk_run "$name-$round" 50 "$url"
        keep "$name" "$round"
    done
done

rows=""
for spec in $backend_specs; do
    algo=${spec%%:*}
    n=${spec#*:}
    name=$algo-$n

    core_ns=$(sort -n "$WORK/$name.core" | head -1)
    rps=$(val "$name" rps)
    per_core=$(calc %.0f "$rps / $CORES")
    rows+="| $algo | $n | $(calc %.0f "1e9 / $core_ns") | $rps | $per_core"
    rows+=" | $(val "$name" p99) | $(val "$name" errors)"
    rows+=" | $(calc %.1f "1000 / ($rps / $CORES * $TARGET_UTIL)") |"$'\n'
done

hit_rows=""
for spec in $front_specs; do
    algo=${spec%%:*}
    n=${spec#*:}
    name=hit-$algo-$n

    bytes=$(curl -s "$front/fib/$algo?num=$n" | wc -c)
    rps=$(val "$name" rps)
    hit_rows+="| $algo | $n | $bytes | $rps"
    hit_rows+=" | $(calc %.0f "$rps * $bytes * 8 / 1e6")"
    hit_rows+=" | $(val "$name" p99) | $(val "$name" errors) |"$'\n'
done

# {{{ the report

{
echo "# Sizing figures"
echo
echo "\`make sizing\` on $(date -u +%Y-%m-%d), $CORES cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')),"
echo "nginx $("$NGINX" -v 2>&1 | sed 's#.*/##'), wrk on the same machine (one thread), ${DUR} s per run,"
echo "the fastest of $ROUNDS rounds kept for each figure (\"core alone\": of $ROUNDS medians of 5)."
echo "The configurations are examples/cluster/ with ports and paths changed;"
echo "the backend's pool has one thread per core (\`threads=$CORES\`), the front"
echo "one worker. Latencies in ms. The machine is shared and wrk runs on it:"
echo "figures are a floor, and vary by tens of percent between runs."
echo "Load average (1, 5, 15 min) before the runs: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg)."
echo
echo "## Backend: computations through nginx"
echo
echo "wrk -c$((CORES * 4)) against the backend alone (no cache). \"Core alone\" is"
echo "bench/corebench.c, one computation at a time in one thread: the"
echo "ceiling of a core. \"Per core\" divides the backend's rate by its $CORES"
echo "cores. The last column is what a workload of only that request"
echo "needs: backend cores per 1000 uncached requests/s, each core run at"
echo "$(calc %.0f "$TARGET_UTIL * 100") % of its measured rate."
echo
echo "| algorithm | n | core alone, /s | backend, requests/s | per core, requests/s | p99 | errors | cores per 1000/s |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
printf '%s' "$rows"
echo
echo "## Front: cache hits"
echo
echo "wrk -c50 against the front (one worker: one core) for an N it has"
echo "cached; no request reaches the backend."
echo
echo "| algorithm | n | answer, bytes | hits/s per front core | Mbit/s | p99 | errors |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
printf '%s' "$hit_rows"
echo
echo "Raw wrk outputs: build/sizing/wrk-*.txt."
} > "$RESULTS/SIZING.md"

# }}}

cat "$RESULTS/SIZING.md"
