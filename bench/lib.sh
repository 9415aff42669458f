# make bench's measuring helpers, sourced by bench/run.sh: wrk and its
# numbers, the event loop's CPU, others' CPU, ratios.  Results are small
# files in $WORK named NAME.rps, NAME.p50, ...

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

# keep_round FROM TO: the figures of run FROM become TO's
keep_round() {
    local x
    for x in rps p50 p99 max errors; do
        cp "$WORK/$1.$x" "$WORK/$2.$x"
    done
}

val() { cat "$WORK/$1.$2"; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }
ratio3() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0) ? a / b : 0 }'; }
median3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
list() { printf '%s\n' "$@" | paste -sd, - | sed 's/,/, /g'; }
# ms NS [DECIMALS]: nanoseconds as milliseconds
ms() { awk -v c="$1" -v d="${2:-3}" 'BEGIN { printf "%.*f", d, c / 1e6 }'; }

# check URL ANSWER: a server answers as it should before it is measured
check() {
    local got
    got=$(curl -s "$1")
    if [ "$got" != "$2" ]; then
        echo "bench: $1 answered '$got', expected '$2'" >&2
        exit 1
    fi
}

# pinned to one core: one thread's worth, nothing else
core() { taskset -c 0 "$BUILD/corebench" "$@"; }

# The event loop: the worker's main thread (one worker per instance),
# its CPU time in ns (schedstat, else the clock ticks of stat) and its
# voluntary context switches (it slept: epoll_wait, a lock)
worker_of() { pgrep -P "$(server_pid "$1")" | head -1; }
workers_of() { pgrep -P "$(server_pid "$1")" | paste -sd' ' -; }

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
