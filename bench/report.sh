# make bench's one report writer, sourced by bench/run.sh once the
# sections ran: the Markdown report (the header, the targets of
# bench/targets, then each section that ran) and its two plots.
#
# report FILE: writes FILE and its plots beside it

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

# the targets whose values the sections left, from bench/targets
report_targets() {
    local name t test says words x verdict
    echo "| target | value | |"
    echo "| --- | --- | --- |"
    while IFS='|' read -r name t test says words; do
        name=$(echo $name)
        case $name in ''|'#'*) continue ;; esac
        [ -n "${VALUE[$name]:-}" ] || continue
        t=$(echo $t)
        x=${VALUE[$name]}
        says=$(echo "$says" | sed 's/^ *//; s/ *$//')
        words=$(echo "${words:-met|**missed**}" | sed 's/^ *//; s/ *$//')
        [ "$words" != "" ] || words='met|**missed**'
        if awk -v x="$x" -v t="$t" "BEGIN { exit !($test) }"; then
            verdict=${words%%|*}
        else
            verdict=${words#*|}
        fi
        says=${says//\{t\}/$t}
        verdict=${verdict//\{t\}/$t}
        [ -z "${NOTE[$name]:-}" ] || says+=" (${NOTE[$name]})"
        echo "| $says | ${SHOWN[$name]:-$x} | $verdict |"
    done < "$HERE/targets"
}

report_core() {
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
}

report_cheap() {
    echo "## 1. Cheap: \`num=10\`, \`wrk -t2 -c50\`, keep-alive"
    echo
    echo "Nine alternating 2-second rounds of the baseline and the module; the round"
    echo "with the median ratio is shown (ratios: $(printf '%s\n' "${ratios[@]}" | cut -d' ' -f1 | paste -sd, - | sed 's/,/, /g'))."
    echo
    echo "| server | requests/s | p50 | p99 | max | non-2xx | × return 200 |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
    row cheap_ret 'nginx `return 200 "55\n"` (ceiling)' "$(val cheap_ret rps)"
    row cheap_fib 'fib module' "$(val cheap_ret rps)"
    if [ $have_lua = 1 ]; then
        row cheap_lua 'Lua `content_by_lua` (peer)' "$(val cheap_ret rps)"
    fi
}

report_heavy() {
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

report_isolation() {
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
}

report_big() {
    echo "## 4. Big numbers: \`fast\`, one request at a time (curl, mean of 7)"
    echo
    echo "Overhead: the request's time through nginx (curl's total, body"
    echo "included) against the compute time nginx measured in its threads"
    echo "(\`fib_compute_seconds_total\`), on one thread (\`tasks=1\`: on more, the"
    echo "pieces' times add up past the wall time). \"Core alone\" is the same"
    echo "computation in a separate process (bench/corebench.c, median of 7), for"
    echo "reference."
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
    echo "## 4d. \`fast\` through nginx on two threads against GMP on one"
    echo
    echo "A request to a location on the two-thread pool (\`tasks=2\`, curl's"
    echo "total, body included, the pool idle) against GMP's \`mpz_fib_ui\` +"
    echo "\`mpz_get_str\` on one thread (bench/corebench.c \`gmp N\`, a process"
    echo "each time), in turn, the minimum of 3 rounds of each."
    echo
    echo "| n | digits | GMP, ms | through nginx, ms | GMP / nginx |"
    echo "| --- | --- | --- | --- | --- |"
    printf '%s' "$nginx_rows"
    echo
    echo "The pool busy: \`wrk -t2 -c4\` of recursive F(27) on the same pool,"
    echo "$DUR s alone, then $DUR s beside F(10^7) requests sent one after another:"
    echo "a big request takes the second thread only while no request waits."
    echo
    echo "| load | requests/s | p99, ms | the big ones |"
    echo "| --- | --- | --- | --- |"
    printf '%s' "$busy_rows"
    echo
    echo "Every piece stops: F(10^8) on the two threads under \`fib_timeout 300ms\`"
    echo "(curl's total for its answer), three times, and a client that leaves"
    echo "0.3 to 0.8 s after it asked (from its departure until \`fib_in_flight\`"
    echo "is 0 on the status page, polled every 5 ms)."
    echo
    echo "| what |"
    echo "| --- |"
    printf '%s' "$stop_rows"
}

report_overload() {
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
}

# the plots beside the report: isolation's probe p99, overload's goodput
plot_isolation() {
    local out=$1
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
set output "$out/latest.png"
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
}

plot_overload() {
    local out=$1
    for server in queue refuse; do
        for loc in fib fib_normal; do
            for c in $OV_CONNS; do
                echo "$c $(ov $server $loc $c | cut -d' ' -f1)"
            done > "$WORK/ov_${server}_${loc}.dat"
        done
    done

    gnuplot <<EOF
set terminal png size 800,420
set output "$out/overload.png"
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
}

# report FILE: the report of the sections that ran (RAN), its plots
# beside it
report() {
    local file=$1 s
    {
        echo "# Benchmark results"
        echo
        echo "\`$COMMAND\` on $(date -u +%Y-%m-%d), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')),"
        echo "nginx $("$NGINX" -v 2>&1 | sed 's#.*/##'), wrk on the same machine, ${DUR} s per run,"
        echo "load average $LOAD (1, 5, 15 min) at the start."
        echo "Every server: 1 worker process, \`thread_pool fib threads=2 max_queue=256\`."
        echo "Latencies in ms. Ratios are against baselines of the same run."
        echo
        echo "## Targets"
        echo
        report_targets
        for s in $RAN; do
            echo
            "report_$s"
        done
        echo
        echo "Peers not in Debian 12 (njs's nginx module, FibServ-style servers) are"
        echo "not measured. Raw wrk outputs: build/bench/wrk-*.txt."
        if [[ " $RAN " = *" isolation "* ]]; then
            echo
            echo "![probe p99 latency under saturation](latest.png)"
        fi
    } > "$file"

    [[ " $RAN " != *" isolation "* ]] || plot_isolation "$(dirname "$file")"
    [[ " $RAN " != *" overload "* ]] || plot_overload "$(dirname "$file")"
}
