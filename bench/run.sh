#!/usr/bin/env bash
#
# make bench: the module against same-run baselines and peers, on
# 127.0.0.1 only, every load bounded in time.  Writes
# bench/results/LATEST.md and bench/results/latest.png.
#
# usage: bench/run.sh MODULE.so BUILD_DIR [SECONDS_PER_RUN]
#
# BENCH_ONLY=heavy runs section 2 alone and writes build/bench/HEAVY.md,
# leaving bench/results/ as it is.

set -euo pipefail

MODULE=$1
BUILD=$2
DUR=${3:-6}
# NGINX_BINARY, not NGINX: nginx takes an NGINX in its environment for
# sockets inherited from an old binary, and would not daemonize
NGINX=${NGINX_BINARY:-/usr/sbin/nginx}
LUA_MODULE=/usr/lib/nginx/modules/ngx_http_lua_module.so
NDK_MODULE=/usr/lib/nginx/modules/ndk_http_module.so

HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$BUILD/bench
RESULTS=$HERE/results
# BENCH_PORT moves all six, for a machine where another run holds them
FIB_PORT=${BENCH_PORT:-18081}
LUA_PORT=$((FIB_PORT + 1))
QUEUE_PORT=$((FIB_PORT + 2))
REFUSE_PORT=$((FIB_PORT + 3))
RET_PORT=$((FIB_PORT + 4))
INLINE_PORT=$((FIB_PORT + 5))

only_heavy=0
[ "${BENCH_ONLY:-}" = heavy ] && only_heavy=1

# 800 clients and more
ulimit -n 8192 2>/dev/null || true

mkdir -p "$WORK" "$RESULTS"

# others' work on the machine moves every figure: say how much there was
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)

PIDS=()

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -QUIT "$pid" 2>/dev/null || true
    done
    jobs -p | xargs -r kill 2>/dev/null || true
}
trap cleanup EXIT

# {{{ nginx instances

common_http='
    access_log off;
    default_type text/plain;
    keepalive_requests 1000000;
    gzip off;'

start_nginx() {
    local name=$1 conf=$2 dir=$WORK/$1

    rm -rf "$dir"
    mkdir -p "$dir/conf" "$dir/logs" "$dir/tmp"
    printf '%s\n' "$conf" | sed "s#@DIR@#$dir#g" > "$dir/conf/nginx.conf"

    "$NGINX" -p "$dir/" -c conf/nginx.conf -e "$dir/logs/error.log"

    for _ in $(seq 100); do
        [ -s "$dir/logs/nginx.pid" ] && break
        sleep 0.05
    done

    PIDS+=("$(cat "$dir/logs/nginx.pid")")
}

temp_paths='
    client_body_temp_path @DIR@/tmp;
    proxy_temp_path @DIR@/tmp;
    fastcgi_temp_path @DIR@/tmp;
    uwsgi_temp_path @DIR@/tmp;
    scgi_temp_path @DIR@/tmp;'

start_nginx fib "
load_module $MODULE;
worker_processes 1;
error_log @DIR@/logs/error.log warn;
pid @DIR@/logs/nginx.pid;
thread_pool fib threads=2 max_queue=256;
thread_pool fibn threads=2 max_queue=256;
events { worker_connections 1024; }
http {
    $common_http
    $temp_paths
    server {
        listen 127.0.0.1:$FIB_PORT;
        location = /ret { return 200 \"55\n\"; }
        location = /fib { fib; fib_thread_pool fib tasks=2; }
        location = /fib_off { fib; fib_thread_pool off; }
        location = /fib_normal {
            fib;
            fib_thread_pool fibn tasks=2;
            fib_thread_priority normal;
        }
        location = /fast {
            fib;
            fib_algorithm fast;
            fib_thread_pool fib tasks=2;
            fib_max_num 10000000;
        }
        location = /status { fib_status; }
    }
}"

# overload: the configuration of `make run`, with requests waiting in the
# worker's queue (the default) and without it (fib_max_waiting 0)
overload_conf() {
    echo "
load_module $MODULE;
worker_processes 1;
error_log @DIR@/logs/error.log error;
pid @DIR@/logs/nginx.pid;
thread_pool fib threads=2 max_queue=64;
thread_pool fibn threads=2 max_queue=64;
events { worker_connections 4096; }
http {
    $common_http
    $temp_paths
    fib_max_waiting $2;
    server {
        listen 127.0.0.1:$1 backlog=4096;
        location = /fib { fib; fib_thread_pool fib tasks=2; }
        location = /fib_normal {
            fib;
            fib_thread_pool fibn tasks=2;
            fib_thread_priority normal;
        }
    }
}"
}

# nginx alone, no module: the HTTP traffic of section 2's ceiling
start_nginx ret "
worker_processes 1;
error_log @DIR@/logs/error.log warn;
pid @DIR@/logs/nginx.pid;
events { worker_connections 1024; }
http {
    $common_http
    $temp_paths
    server {
        listen 127.0.0.1:$RET_PORT;
        location = /ret { return 200 \"832040\\n\"; }
    }
}"

# no pool, a worker per core: heavy work in the event loops, no hand-off
start_nginx inline "
load_module $MODULE;
worker_processes 2;
error_log @DIR@/logs/error.log warn;
pid @DIR@/logs/nginx.pid;
events { worker_connections 1024; }
http {
    $common_http
    $temp_paths
    server {
        # reuseport: the kernel spreads wrk's 8 connections over both
        # workers (without it one worker may accept them all, and compute
        # on one core)
        listen 127.0.0.1:$INLINE_PORT reuseport;
        location = /fib { fib; fib_thread_pool off; fib_inline_max_cost 3ms; }
    }
}"

start_nginx queue "$(overload_conf $QUEUE_PORT 1024)"
start_nginx refuse "$(overload_conf $REFUSE_PORT 0)"

have_lua=0
if [ -f "$LUA_MODULE" ] && [ -f "$NDK_MODULE" ]; then
    start_nginx lua "
load_module $NDK_MODULE;
load_module $LUA_MODULE;
worker_processes 1;
error_log @DIR@/logs/error.log warn;
pid @DIR@/logs/nginx.pid;
thread_pool fib threads=2 max_queue=256;
events { worker_connections 1024; }
http {
    $common_http
    $temp_paths
    lua_package_path '$HERE/lua/?.lua;;';
    server {
        listen 127.0.0.1:$LUA_PORT;
        location = /lua {
            content_by_lua_block {
                local n = tonumber(ngx.var.arg_num)
                ngx.say(require('fibmod').fib(n))
            }
        }
        location = /lua_thread {
            content_by_lua_block {
                local n = tonumber(ngx.var.arg_num)
                if n <= 20 then
                    ngx.say(require('fibmod').fib(n))
                    return
                end
                local ok, v = ngx.run_worker_thread('fib', 'fibmod', 'fib', n)
                ngx.say(v)
            }
        }
    }
}" && have_lua=1
fi

fib=http://127.0.0.1:$FIB_PORT
lua=http://127.0.0.1:$LUA_PORT
ret=http://127.0.0.1:$RET_PORT
inline=http://127.0.0.1:$INLINE_PORT

check() {
    local got
    got=$(curl -s "$1")
    if [ "$got" != "$2" ]; then
        echo "bench: $1 answered '$got', expected '$2'" >&2
        exit 1
    fi
}

check "$fib/fib?num=30" 832040
check "$fib/fib_off?num=10" 55
check "$ret/ret" 832040
check "$inline/fib?num=30" 832040
if [ $have_lua = 1 ]; then
    check "$lua/lua?num=30" 832040
    check "$lua/lua_thread?num=30" 832040
fi

# }}}

# {{{ wrk and its numbers

to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) n /= 1000
        else if (v ~ /ms$/) n *= 1
        else if (v ~ /m$/) n *= 60000
        else if (v ~ /s$/) n *= 1000
        printf "%.3f", n
    }'
}

# wrk_run NAME THREADS CONNS URL: leaves NAME.rps .p50 .p99 .max .errors
wrk_run() {
    local name=$1 out=$WORK/wrk-$1.txt
    wrk -t"$2" -c"$3" -d"${DUR}s" --latency "$4" > "$out"

    awk '/Requests\/sec/ { print $2 }' "$out" > "$WORK/$name.rps"
    to_ms "$(awk '$1 == "50%" { print $2 }' "$out")" > "$WORK/$name.p50"
    to_ms "$(awk '$1 == "99%" { print $2 }' "$out")" > "$WORK/$name.p99"
    to_ms "$(awk '$1 == "Latency" { print $4; exit }' "$out")" \
        > "$WORK/$name.max"
    awk '/Non-2xx/ { n = $5 } END { print n + 0 }' "$out" \
        > "$WORK/$name.errors"
}

val() { cat "$WORK/$1.$2"; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }
ratio3() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0) ? a / b : 0 }'; }

# The event loop: the worker's main thread (one worker per instance),
# its CPU time in ns (schedstat, else the clock ticks of stat) and its
# voluntary context switches (it slept: epoll_wait, a lock)
worker_of() { pgrep -P "$(cat "$WORK/$1/logs/nginx.pid")" | head -1; }
workers_of() { pgrep -P "$(cat "$WORK/$1/logs/nginx.pid")" | paste -sd' ' -; }

loop_snapshot() {
    local t=/proc/$1/task/$1 ns
    if [ -r "$t/schedstat" ]; then
        ns=$(cut -d' ' -f1 "$t/schedstat")
    else
        ns=$(awk -v hz="$(getconf CLK_TCK)" \
                 '{ printf "%.0f", ($14 + $15) * 1e9 / hz }' "$t/stat")
    fi
    echo "$ns $(awk '/^voluntary_ctxt_switches/ { print $2 }' "$t/status")"
}

# loop_per_request NAME WORKER BEFORE: leaves NAME.loop, "µs switches"
# per request of the event loop since BEFORE, the requests from wrk's
# output wrk-NAME.txt
loop_per_request() {
    local requests
    requests=$(awk '/requests in/ { print $1 }' "$WORK/wrk-$1.txt")
    echo "$3 $(loop_snapshot "$2") $requests" | awk '{
        printf "%.1f %.2f\n", ($3 - $1) / 1000 / $5, ($4 - $2) / $5 }' \
        > "$WORK/$1.loop"
}

# What others ran on the machine meanwhile, in cores: the machine's busy
# time (user, nice, system, steal) less this script's children (wrk,
# corebench: bash's times) and the nginx workers named (all threads).
# Softirqs are left out: loopback TCP's are this script's own.  The
# kernel's ticks and the processes' times are counted apart, so a tenth
# of a core either side of 0 is nobody else.
# cpu_mark WORKERS... sets MARK; in this shell, not in $(...), where
# times would see a new process's children: none.
HZ=$(getconf CLK_TCK)
cpu_mark() {
    local ours=0 w
    for w in "$@"; do
        ours=$((ours + $(awk '{ print $14 + $15 }' "/proc/$w/stat")))
    done
    times > "$WORK/times"
    MARK="$(date +%s.%N) $(awk '/^cpu / { print $2 + $3 + $4 + $9 }' /proc/stat) $ours $(sed -n 2p "$WORK/times" | tr 'ms' '  ')"
}
# others_since MARK WORKERS...: prints the cores others used since MARK
others_since() {
    local mark=$1
    shift
    cpu_mark "$@"
    echo "$mark $MARK" | awk -v hz="$HZ" '{
        ours0 = $3 / hz + $4 * 60 + $5 + $6 * 60 + $7
        ours1 = $10 / hz + $11 * 60 + $12 + $13 * 60 + $14
        others = ($9 - $2) / hz - (ours1 - ours0)
        printf "%.2f", others / ($8 - $1) }'
}

# isolation NAME HEAVY_URL CHEAP_URL: the probe while heavy load runs
isolation() {
    wrk -t1 -c8 -d"$((DUR + 2))s" "$2" > "$WORK/wrk-$1-load.txt" &
    local load=$!
    sleep 1
    wrk_run "$1" 1 1 "$3"
    wait "$load"
}

# }}}

# pinned to one core: one thread's worth, nothing else
core() { taskset -c 0 "$BUILD/corebench" "$@"; }

if [ $only_heavy = 0 ]; then
    echo "bench: 0. the core against the plain recursion"

    # Instruction counts do not move with the machine's noise: the core's
    # recursion (fib_rec_poll() and all below it) against plain.c's, both
    # compiled with the module's flags.  Timings, one computation of each in
    # turn in one process, say the same where the noise allows; they also
    # see where the code lies, which counts do not.
    CORE_NS="30 31 32 33 34 35"
    have_callgrind=0
    command -v valgrind > /dev/null && have_callgrind=1

    instructions() {
        # instructions FUNCTION ARGS...: counted inside FUNCTION only
        local f=$1
        shift
        valgrind --tool=callgrind --callgrind-out-file=/dev/null \
            --toggle-collect="$f" "$BUILD/corebench" "$@" 2>&1 \
            | awk '/Collected/ { print $4 }'
    }

    core_rows=""
    core_ir=()
    for n in $CORE_NS; do
        ir_core="" ir_plain="" ir_ratio="–"
        if [ $have_callgrind = 1 ]; then
            ir_core=$(instructions fib_rec_poll recursive "$n" 1)
            ir_plain=$(instructions plain_fib compare "$n" 1)
            ir_ratio=$(awk -v a="$ir_core" -v b="$ir_plain" \
                           'BEGIN { printf "%.3f", a / b }')
            core_ir+=("$ir_ratio")
        fi
        # three alternating runs of 51 pairs, the median ratio
        runs=$(for _ in 1 2 3; do core compare "$n" 51; done | sort -k3 -n)
        t_core=$(echo "$runs" | sed -n 2p | cut -d' ' -f1)
        t_plain=$(echo "$runs" | sed -n 2p | cut -d' ' -f2)
        t_ratio=$(echo "$runs" | sed -n 2p | cut -d' ' -f3)
        t_all=$(echo "$runs" | cut -d' ' -f3 \
                | awk '{ printf "%s%.3f", (NR > 1) ? ", " : "", $1 }')
        core_rows+="| $n | $ir_core | $ir_plain | $ir_ratio | $(awk -v c="$t_core" 'BEGIN { printf "%.3f", c / 1e6 }') | $(awk -v c="$t_plain" 'BEGIN { printf "%.3f", c / 1e6 }') | $(awk -v r="$t_ratio" 'BEGIN { printf "%.3f", r }') ($t_all) |"$'\n'
    done

    if [ ${#core_ir[@]} -gt 0 ]; then
        core_ir_mean=$(printf '%s\n' "${core_ir[@]}" \
                       | awk '{ s += $1 } END { printf "%.3f", s / NR }')
        core_ir_min=$(printf '%s\n' "${core_ir[@]}" | sort -n | head -1)
        core_ir_max=$(printf '%s\n' "${core_ir[@]}" | sort -n | tail -1)
    fi

    echo "bench: 1. cheap requests"
    # the machine is noisy: alternate the two in short runs, the median
    # round decides
    ratios=()
    for round in $(seq 9); do
        DUR=2 wrk_run "cheap_ret_$round" 2 50 "$fib/ret"
        DUR=2 wrk_run "cheap_fib_$round" 2 50 "$fib/fib?num=10"
        ratios+=("$(ratio "$(val "cheap_fib_$round" rps)" \
                          "$(val "cheap_ret_$round" rps)") $round")
    done
    median_round=$(printf '%s\n' "${ratios[@]}" | sort -n | sed -n 5p | cut -d' ' -f2)
    for x in rps p50 p99 max errors; do
        cp "$WORK/cheap_ret_$median_round.$x" "$WORK/cheap_ret.$x"
        cp "$WORK/cheap_fib_$median_round.$x" "$WORK/cheap_fib.$x"
    done
    [ $have_lua = 1 ] && wrk_run cheap_lua 2 50 "$lua/lua?num=10"
fi

echo "bench: 2. heavy requests"
# The machine's limit for this work: the plain recursion's F(30) on as
# many threads as the pool has, in rounds alternating with the module's,
# each round its own ratio; the median round decides.
#
# The ceiling HTTP itself leaves: the same plain recursion while wrk
# drives nginx's own `return 200 "832040\n"` (no module) at the rate the
# module served in that round, on the same cores; the plain rate under
# that load against the plain rate alone.  No server that answers over
# HTTP on the cores its client shares can do better than the ceiling.
heavy=()
heavy_normal=()
fib_worker=$(worker_of fib)
ret_worker=$(worker_of ret)
# the benchmark's own nginx workers in this section, for others' CPU
read -ra ours <<< "$fib_worker $ret_worker $(workers_of inline)"
for round in 1 2 3; do
    cpu_mark "${ours[@]}"
    mark=$MARK
    "$BUILD/corebench" plain 2 30 "$DUR" > "$WORK/heavy_plain_$round.rate"
    before=$(loop_snapshot "$fib_worker")
    wrk_run "heavy_fib_$round" 2 8 "$fib/fib?num=30"
    loop_per_request "heavy_fib_$round" "$fib_worker" "$before"
    # the pool's threads in the normal class, as the plain ones are:
    # idle ones give way to whatever else runs on the machine
    wrk_run "heavy_fib_normal_$round" 2 8 "$fib/fib_normal?num=30"
    # no hand-off at all: a worker per core computing in its event loop,
    # the isolation of section 3 given up
    wrk_run "heavy_inline_$round" 2 8 "$inline/fib?num=30"
    # the ceiling: wrk paced to the module's rate (bench/lua/pace.lua),
    # a second longer on each side than the plain recursion it loads
    rate=$(val "heavy_fib_$round" rps)
    before=$(loop_snapshot "$ret_worker")
    wrk -t2 -c8 -d"$((DUR + 2))s" -s "$HERE/lua/pace.lua" "$ret/ret" \
        -- "$rate" 2 > "$WORK/wrk-heavy_ret_$round.txt" &
    load=$!
    sleep 1
    "$BUILD/corebench" plain 2 30 "$DUR" > "$WORK/heavy_ceiling_$round.rate"
    wait "$load"
    loop_per_request "heavy_ret_$round" "$ret_worker" "$before"
    awk '/Requests\/sec/ { print $2 }' "$WORK/wrk-heavy_ret_$round.txt" \
        > "$WORK/heavy_ret_$round.rps"
    others_since "$mark" "${ours[@]}" \
        > "$WORK/heavy_others_$round.cores"
    heavy+=("$(ratio3 "$(val "heavy_fib_$round" rps)" \
                     "$(cat "$WORK/heavy_plain_$round.rate")") $round")
    heavy_normal+=("$(ratio3 "$(val "heavy_fib_normal_$round" rps)" \
                     "$(cat "$WORK/heavy_plain_$round.rate")") $round")
done
median_round=$(printf '%s\n' "${heavy[@]}" | sort -n | sed -n 2p | cut -d' ' -f2)
for x in rps p50 p99 max errors; do
    cp "$WORK/heavy_fib_$median_round.$x" "$WORK/heavy_fib.$x"
done
plain_rate=$(cat "$WORK/heavy_plain_$median_round.rate")
normal_round=$(printf '%s\n' "${heavy_normal[@]}" | sort -n | sed -n 2p | cut -d' ' -f2)
for x in rps p50 p99 max errors; do
    cp "$WORK/heavy_fib_normal_$normal_round.$x" "$WORK/heavy_fib_normal.$x"
done
normal_plain_rate=$(cat "$WORK/heavy_plain_$normal_round.rate")

# each round: "module ratio, ceiling, module / ceiling, HTTP rate of the
# ceiling, event loop µs and switches per request: module, return 200"
ceiling_rows=""
ceilings=()
against_ceiling=()
inlines=()
for round in 1 2 3; do
    plain=$(cat "$WORK/heavy_plain_$round.rate")
    m=$(ratio3 "$(val "heavy_fib_$round" rps)" "$plain")
    c=$(ratio3 "$(cat "$WORK/heavy_ceiling_$round.rate")" "$plain")
    mc=$(ratio3 "$m" "$c")
    ceilings+=("$c")
    against_ceiling+=("$mc")
    read -r fib_us fib_sw < "$WORK/heavy_fib_$round.loop"
    read -r ret_us ret_sw < "$WORK/heavy_ret_$round.loop"
    inl=$(ratio3 "$(val "heavy_inline_$round" rps)" "$plain")
    inlines+=("$inl")
    ceiling_rows+="| $round | $plain | $(val "heavy_fib_$round" rps) | $m | $(cat "$WORK/heavy_ceiling_$round.rate") | $(val "heavy_ret_$round" rps) | $c | $mc | $fib_us / $fib_sw | $ret_us / $ret_sw | $inl ($(ratio3 "$inl" "$c")) | $(cat "$WORK/heavy_others_$round.cores") |"$'\n'
done
median3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
ceiling=$(median3 "${ceilings[@]}")
inline_limit=$(median3 "${inlines[@]}")
heavy_ceiling=$(median3 "${against_ceiling[@]}")
list() { printf '%s\n' "$@" | paste -sd, - | sed 's/,/, /g'; }

if [ $have_lua = 1 ]; then
    wrk_run heavy_lua 2 8 "$lua/lua?num=30"
    wrk_run heavy_lua_thread 2 8 "$lua/lua_thread?num=30"
fi

# a table row of wrk's numbers, with a ratio to BASE if given
row() {
    local name=$1 label=$2 base=${3:-}
    local r
    r="| $label | $(val "$name" rps) | $(val "$name" p50) | $(val "$name" p99) | $(val "$name" max) | $(val "$name" errors) |"
    if [ -n "$base" ]; then
        r+=" $(ratio "$(val "$name" rps)" "$base") |"
    fi
    echo "$r"
}

# section 2 of the report, also the whole of BENCH_ONLY=heavy's
heavy_section() {
echo "## 2. Heavy: recursive \`num=30\`, \`wrk -t2 -c8\`"
echo
echo "The limit: the plain recursion's F(30) on 2 threads, as many as the"
echo "pool has (\`corebench plain 2 30 $DUR\`), in three rounds alternating with"
echo "the module's; each round's ratio, the median round shown (ratios, idle:"
echo "$(printf '%s\n' "${heavy[@]}" | cut -d' ' -f1 | paste -sd, - | sed 's/,/, /g'); normal: $(printf '%s\n' "${heavy_normal[@]}" | cut -d' ' -f1 | paste -sd, - | sed 's/,/, /g');"
echo "limits/s: $(for r in 1 2 3; do cat "$WORK/heavy_plain_$r.rate"; done | paste -sd, - | sed 's/,/, /g'))."
echo
echo "| server | requests/s | p50 | p99 | max | non-2xx | × the limit |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
row heavy_fib 'fib module, pool (`fib_thread_priority idle`)' "$plain_rate"
row heavy_fib_normal 'fib module, pool, `fib_thread_priority normal`' "$normal_plain_rate"
if [ $have_lua = 1 ]; then
    row heavy_lua 'Lua inline (peer)' "$plain_rate"
    row heavy_lua_thread 'Lua `ngx.run_worker_thread` (peer)' "$plain_rate"
fi
echo
echo "The ceiling HTTP itself leaves: in each round, after the module's run,"
echo "the same \`corebench plain 2 30 $DUR\` while wrk (\`-t2 -c8\`, paced by"
echo "bench/lua/pace.lua to the module's rate of the round) asks nginx without"
echo "the module for \`return 200 \"832040\\n\"\`: the plain rate under that load"
echo "against the plain rate alone. wrk, nginx's event loop and loopback TCP"
echo "take from the recursion what they take from the module's pool, so no"
echo "module answering over HTTP on these cores can beat it; the module's ratio"
echo "divided by the ceiling is the share of what HTTP leaves that the module"
echo "keeps, the rest going to what it adds to \`return 200\`, chiefly the"
echo "hand-off to the pool and back. Event loop: the worker's main thread over each"
echo "wrk run (/proc, CPU time and voluntary context switches), per request."
echo "No pool, 2 workers: the same requests to nginx with \`worker_processes 2\`"
echo "and \`fib_thread_pool off\`, each F(30) in an event loop: no hand-off and no"
echo "wake-up per computation, but every other request of that worker waits"
echo "for it (section 3's isolation given up)."
echo "Others' CPU: what processes not of this benchmark used during the round"
echo "(/proc/stat's busy time less the benchmark's own), in cores of $(nproc):"
echo "within about a tenth of a core either side of 0, nobody else ran; a round"
echo "well above it measured the neighbours too."
echo
echo "| round | limit/s | module/s | module × the limit | limit under HTTP/s | HTTP requests/s | ceiling | module × the ceiling | event loop, module: µs / switches | event loop, \`return 200\`: µs / switches | no pool, 2 workers: × the limit (× the ceiling) | others' CPU, cores |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
printf '%s' "$ceiling_rows"
echo
echo "Median ceiling $ceiling × the limit; the module $heavy_ceiling × the ceiling; no pool, 2 workers: $inline_limit × the limit (medians of the rounds)."
}

if [ $only_heavy = 1 ]; then
    {
        echo "# \`BENCH_ONLY=heavy\` on $(date -u +%Y-%m-%d), $(nproc) cores, ${DUR} s per run"
        echo
        echo "Load average at the start (1, 5, 15 min): $LOAD."
        echo
        heavy_section
    } > "$WORK/HEAVY.md"
    cat "$WORK/HEAVY.md"
    exit 0
fi

echo "bench: 3. isolation"
wrk_run iso_floor 1 1 "$fib/fib?num=10"
isolation iso_fib "$fib/fib?num=32" "$fib/fib?num=10"
isolation iso_fib_normal "$fib/fib_normal?num=32" "$fib/fib_normal?num=10"
isolation iso_fib_off "$fib/fib_off?num=32" "$fib/fib_off?num=10"
if [ $have_lua = 1 ]; then
    isolation iso_lua_thread "$lua/lua_thread?num=32" "$lua/lua_thread?num=10"
    isolation iso_lua "$lua/lua?num=32" "$lua/lua?num=10"
fi

echo "bench: 4. big numbers"

# the compute time nginx measured in its threads, from the status page
fast_seconds() {
    curl -s "$fib/status" \
        | awk '/^fib_compute_seconds_total\{algorithm="fast"\}/ { print $2 }'
}

big_rows=""
big_1e6=""
for n in 100000 1000000 10000000; do
    core_ns=$(core fast $n 7)
    before=$(fast_seconds)
    http_s=$(for _ in $(seq 7); do
                 curl -s -o /dev/null -w '%{time_total}\n' "$fib/fast?num=$n"
             done | awk '{ s += $1 } END { printf "%.6f", s / NR }')
    after=$(fast_seconds)
    inner_s=$(awk -v a="$after" -v b="$before" \
                  'BEGIN { printf "%.6f", (a - b) / 7 }')
    over=$(awk -v h="$http_s" -v c="$inner_s" \
               'BEGIN { printf "%.1f", (h / c - 1) * 100 }')
    digits=$(curl -s "$fib/fast?num=$n" | tr -d '\n' | wc -c)
    big_rows+="| $n | $digits | $(awk -v c="$core_ns" 'BEGIN { printf "%.2f", c / 1e6 }') | $(awk -v c="$inner_s" 'BEGIN { printf "%.2f", c * 1000 }') | $(awk -v h="$http_s" 'BEGIN { printf "%.2f", h * 1000 }') | $over% |"$'\n'
    [ $n = 1000000 ] && big_1e6=$over
done

echo "bench: 4b. the split decimal conversion"

# the conversion the module makes (pieces, a poll between them) against
# one mpz_get_str() of the same F(n), alternating in one process pinned
# to one core; three runs, the median of the rounds' ratios of each
split_rows=""
split_1e7=""
for n in 1000000 10000000; do
    rounds=21
    [ $n = 10000000 ] && rounds=9
    runs=$(for _ in 1 2 3; do core decimal $n $rounds; done | sort -k3 -n)
    row=$(printf '%s\n' "$runs" | sed -n 2p)
    split_ns=$(echo "$row" | cut -d' ' -f1)
    plain_ns=$(echo "$row" | cut -d' ' -f2)
    r=$(echo "$row" | cut -d' ' -f3)
    split_rows+="| $n | $(awk -v c="$plain_ns" 'BEGIN { printf "%.2f", c / 1e6 }') | $(awk -v c="$split_ns" 'BEGIN { printf "%.2f", c / 1e6 }') | $(awk -v r="$r" 'BEGIN { printf "%.3f", r }') × | $(printf '%s\n' "$runs" | cut -d' ' -f3 | paste -sd, - | sed 's/,/, /g') |"$'\n'
    [ $n = 10000000 ] && split_1e7=$r
done

echo "bench: 4c. fast against GMP alone"

# fast, decimal from FIB_FAST_DECIMAL_MIN on, against GMP alone and the
# binary path, alternating in one process: the ratios are the point
vs_gmp_rows=$(core fast-vs-gmp 3 | awk 'NR > 1 {
    printf "| %s | %.2f | %.2f | %.2f | %s × | %s × |\n",
           $1, $2 / 1e6, $3 / 1e6, $4 / 1e6, $5, $6 }')

echo "bench: 5. overload"

# goodput (200s per second) and refusals against concurrency, clients
# that ask again at once (wrk ignores Retry-After); two alternating
# rounds, the better one kept for each point
OV_CONNS="8 50 200 800"
for round in 1 2; do
    for server in queue refuse; do
        port=$QUEUE_PORT
        [ $server = refuse ] && port=$REFUSE_PORT
        for loc in fib fib_normal; do
            for c in $OV_CONNS; do
                name=ov_${server}_${loc}_${c}_$round
                out=$WORK/wrk-$name.txt
                wrk -t2 -c"$c" -d3s --timeout 10s \
                    "http://127.0.0.1:$port/$loc?num=30" > "$out" 2>&1
                total=$(awk '/requests in/ { print $1 }' "$out")
                non=$(awk '/Non-2xx/ { n = $5 } END { print n + 0 }' "$out")
                echo "$(( (total - non) / 3 )) $(( non / 3 ))" \
                    > "$WORK/$name.ov"
            done
        done
    done
done

ov() {
    # ov SERVER LOC CONNS: "goodput refusals" of the better round
    cat "$WORK/ov_$1_$2_$3_1.ov" "$WORK/ov_$1_$2_$3_2.ov" \
        | sort -n | tail -1
}

# {{{ the report

pass() { if awk "BEGIN { exit !($1) }"; then echo met; else echo "**missed**"; fi; }

cheap_ratio=$(ratio "$(val cheap_fib rps)" "$(val cheap_ret rps)")
heavy_limit=$(ratio3 "$(val heavy_fib rps)" "$plain_rate")
heavy_normal_limit=$(ratio3 "$(val heavy_fib_normal rps)" "$normal_plain_rate")
iso_p99=$(val iso_fib p99)

capacity=$(ov queue fib 8 | cut -d' ' -f1)
ov200=$(ratio "$(ov queue fib 200 | cut -d' ' -f1)" "$capacity")
ov800=$(ratio "$(ov queue fib 800 | cut -d' ' -f1)" "$capacity")

best_peer=""
if [ $have_lua = 1 ]; then
    best_peer=$(awk -v a="$(val iso_lua_thread p99)" -v b="$(val iso_lua p99)" \
                    'BEGIN { print (a < b) ? a : b }')
fi

{
echo "# Benchmark results"
echo
echo "\`make bench\` on $(date -u +%Y-%m-%d), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')),"
echo "nginx $("$NGINX" -v 2>&1 | sed 's#.*/##'), wrk on the same machine, ${DUR} s per run,"
echo "load average $LOAD (1, 5, 15 min) at the start."
echo "Every server: 1 worker process, \`thread_pool fib threads=2 max_queue=256\`."
echo "Latencies in ms. Ratios are against baselines of the same run."
echo
echo "## Targets"
echo
echo "| target | value | |"
echo "| --- | --- | --- |"
if [ -n "${core_ir_mean:-}" ]; then
echo "| core: recursive F(30)…F(35) within ±2 % of the plain recursion's instructions | mean $core_ir_mean × ($core_ir_min to $core_ir_max) | $(pass "$core_ir_mean >= 0.98 && $core_ir_mean <= 1.02") |"
fi
echo "| cheap: ≥ 0.98 × \`return 200\` requests/s | $cheap_ratio × | $(pass "$cheap_ratio >= 0.98") |"
echo "| heavy: ≥ 0.93 × the plain recursion on 2 threads, same run | $heavy_limit × (\`fib_thread_priority normal\`: $heavy_normal_limit ×) | $(pass "$heavy_limit >= 0.93") |"
echo "| heavy against the ceiling HTTP leaves (the plain recursion under \`return 200\` traffic at the module's rate: $ceiling × the limit, rounds $(list "${ceilings[@]}")) | $heavy_ceiling × the ceiling (rounds $(list "${against_ceiling[@]}")) | $(if awk "BEGIN { exit !($ceiling < 0.93) }"; then echo "ceiling below 0.93"; else echo "ceiling at 0.93 or above"; fi) |"
echo "| overload: goodput at 25× (\`-c200\`) ≥ 0.9 × capacity (\`-c8\`) | $ov200 × | $(pass "$ov200 >= 0.9") |"
echo "| overload: goodput at 100× (\`-c800\`) ≥ 0.9 × capacity | $ov800 × | $(pass "$ov800 >= 0.9") |"
echo "| isolation: probe p99 < 2 ms under saturation | $iso_p99 ms | $(pass "$iso_p99 < 2") |"
if [ -n "$best_peer" ]; then
echo "| isolation: ≤ 0.5 × best peer's probe p99 ($best_peer ms) | $(ratio "$iso_p99" "$best_peer") × | $(pass "$iso_p99 <= 0.5 * $best_peer") |"
fi
echo "| big numbers: nginx-path overhead at n = 10^6 < 10% | $big_1e6% | $(pass "$big_1e6 < 10") |"
echo "| big numbers: split conversion at n = 10^7 ≤ 1.05 × one \`mpz_get_str\` | $(awk -v r="$split_1e7" 'BEGIN { printf "%.3f", r }') × | $(pass "$split_1e7 <= 1.05") |"
echo
echo "## 0. The core against the plain recursion"
echo
echo "The core's recursive F(N) against bench/plain.c, both compiled with the"
echo "module's flags. Instructions: callgrind, inside \`fib_rec_poll()\` and"
echo "\`plain_fib()\`. Time: \`corebench compare N 51\` pinned to one core, one"
echo "computation of each in turn (the core's as the module runs it, decimal"
echo "conversion included); the median of three runs' ratios, all three in"
echo "brackets. Below N = 30 the core runs the plain code in one call: equal."
echo
echo "| N | core, instructions | plain, instructions | ratio | core, ms | plain, ms | time ratio |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
printf '%s' "$core_rows"
echo
echo "## 1. Cheap: \`num=10\`, \`wrk -t2 -c50\`, keep-alive"
echo
echo "Nine alternating 2-second rounds of the baseline and the module; the round"
echo "with the median ratio is shown (ratios: $(printf '%s\n' "${ratios[@]}" | cut -d' ' -f1 | paste -sd, - | sed 's/,/, /g'))."
echo
echo "| server | requests/s | p50 | p99 | max | non-2xx | × return 200 |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
row cheap_ret 'nginx `return 200 "55\n"` (ceiling)' "$(val cheap_ret rps)"
row cheap_fib 'fib module' "$(val cheap_ret rps)"
[ $have_lua = 1 ] && row cheap_lua 'Lua `content_by_lua` (peer)' "$(val cheap_ret rps)"
echo
heavy_section
echo
echo "## 3. Isolation: probe \`num=10\` (\`wrk -t1 -c1\`) while \`wrk -c8\` asks for recursive \`num=32\`"
echo
echo "| server | probe requests/s | p50 | p99 | max | non-2xx |"
echo "| --- | --- | --- | --- | --- | --- |"
row iso_floor 'fib module, the probe alone: no heavy load (the floor)'
row iso_fib 'fib module, heavy in the pool (`fib_thread_priority idle`)'
row iso_fib_normal 'fib module, heavy in the pool, `fib_thread_priority normal`'
row iso_fib_off 'fib module, `fib_thread_pool off`'
if [ $have_lua = 1 ]; then
    row iso_lua_thread 'Lua, cheap inline, heavy in worker threads (peer)'
    row iso_lua 'Lua inline (peer)'
fi
echo
echo "## 4. Big numbers: \`fast\`, one request at a time (curl, mean of 7)"
echo
echo "Overhead: the request's time through nginx (curl's total, body"
echo "included) against the compute time nginx measured in its threads"
echo "(\`fib_compute_seconds_total\`). \"Core alone\" is the same computation"
echo "in a separate process (bench/corebench.c, median of 7), for reference."
echo
echo "| n | digits | core alone, ms | compute in nginx, ms | through nginx, ms | overhead |"
echo "| --- | --- | --- | --- | --- | --- |"
printf '%s' "$big_rows"
echo
echo "## 4b. The split decimal conversion: F(n) to digits, one core"
echo
echo "What lets \`iterative\` (and \`fast\` below n = 20000) stop at"
echo "\`fib_timeout\` or when its client leaves: the"
echo "conversion divides F(n) into pieces of at most $(grep -o 'FIB_DECIMAL_PIECE *(1 << [0-9]*)' "$HERE/../fib_core.h" | sed 's/.*(1 << \([0-9]*\))/2^\1/') digits and polls between"
echo "them. Against one \`mpz_get_str\` of the same number, in alternating rounds"
echo "of one process (bench/corebench.c \`decimal\`, 21 rounds at 10^6, 9 at 10^7),"
echo "three runs, the run with the median ratio shown; ms are that run's medians."
echo
echo "| n | one mpz_get_str, ms | split, ms | split / one | ratios of the runs |"
echo "| --- | --- | --- | --- | --- |"
printf '%s' "$split_rows"
echo
echo "## 4c. \`fast\` against GMP alone, one core"
echo
echo "\`fast\` as the module runs it (decimal throughout from n = 20000)"
echo "against GMP's own \`mpz_fib_ui\` + \`mpz_get_str\` and against \`fast\`'s"
echo "binary path (\`mpz_fib_ui\` and the split conversion), alternating in"
echo "one process pinned to one core, the best of 3 rounds"
echo "(bench/corebench.c \`fast-vs-gmp 3\`)."
echo
echo "| n | GMP, ms | fast, ms | binary path, ms | GMP / fast | binary / fast |"
echo "| --- | --- | --- | --- | --- | --- |"
printf '%s\n' "$vs_gmp_rows"
echo
echo "## 5. Overload: recursive \`num=30\`, \`wrk -t2 -cN\`, clients that ask again at once"
echo
echo "The configuration of \`make run\`: 1 worker, \`thread_pool threads=2 max_queue=64\`."
echo "\"Queue\": requests the pool cannot take wait in the worker's queue"
echo "(\`fib_max_waiting 1024\`, the default); \"refuse\": \`fib_max_waiting 0\`, a 503 at"
echo "once. Two alternating rounds of 3 s per point, the better one shown;"
echo "200s per second / 503s per second."
echo
echo "| configuration | -c8 | -c50 | -c200 | -c800 |"
echo "| --- | --- | --- | --- | --- |"
for server in queue refuse; do
    for loc in fib fib_normal; do
        label="$server, \`fib_thread_priority idle\`"
        [ $loc = fib_normal ] && label="$server, \`fib_thread_priority normal\`"
        line="| $label |"
        for c in $OV_CONNS; do
            line+=" $(ov $server $loc $c | sed 's# # / #') |"
        done
        echo "$line"
    done
done
echo
echo "![goodput against concurrency](overload.png)"
echo
echo "Peers not in Debian 12 (njs's nginx module, FibServ-style servers) are"
echo "not measured. Raw wrk outputs: build/bench/wrk-*.txt."
echo
echo "![probe p99 latency under saturation](latest.png)"
} > "$RESULTS/LATEST.md"

{
    echo "\"fib, pool\" $(val iso_fib p99)"
    echo "\"fib, pool, normal prio\" $(val iso_fib_normal p99)"
    echo "\"fib, pool off\" $(val iso_fib_off p99)"
    if [ $have_lua = 1 ]; then
        echo "\"Lua, threads\" $(val iso_lua_thread p99)"
        echo "\"Lua, inline\" $(val iso_lua p99)"
    fi
} > "$WORK/iso.dat"

gnuplot <<EOF
set terminal png size 800,420
set output "$RESULTS/latest.png"
set title "Cheap-request p99 latency while heavy requests saturate the server"
set ylabel "probe p99, ms (log scale)"
set logscale y
set style fill solid 0.8
set boxwidth 0.6
set grid ytics
set yrange [0.01:*]
unset key
plot "$WORK/iso.dat" using 0:2:xtic(1) with boxes lc rgb "#3070b0", \
     "" using 0:(\$2 * 1.3):(sprintf("%.2f", \$2)) with labels
EOF

for server in queue refuse; do
    for loc in fib fib_normal; do
        for c in $OV_CONNS; do
            echo "$c $(ov $server $loc $c | cut -d' ' -f1)"
        done > "$WORK/ov_${server}_${loc}.dat"
    done
done

gnuplot <<EOF
set terminal png size 800,420
set output "$RESULTS/overload.png"
set title "Goodput of recursive F(30) against concurrency (capacity: -c8)"
set xlabel "concurrent clients (wrk -c)"
set ylabel "200 responses per second"
set logscale x
set xtics ("8" 8, "50" 50, "200" 200, "800" 800)
set yrange [0:*]
set grid
set key bottom left
plot "$WORK/ov_queue_fib.dat" with linespoints lw 2 title "queue, idle (default)", \
     "$WORK/ov_queue_fib_normal.dat" with linespoints lw 2 title "queue, normal", \
     "$WORK/ov_refuse_fib.dat" with linespoints lw 2 title "refuse at once, idle", \
     "$WORK/ov_refuse_fib_normal.dat" with linespoints lw 2 title "refuse at once, normal"
EOF

# }}}

cat "$RESULTS/LATEST.md"
