# Section 2: heavy requests.  The machine's limit for this work: the
# plain recursion's F(30) on as many threads as the pool has, in rounds
# alternating with the module's, each round its own ratio; the median
# round decides.
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
keep_round "heavy_fib_$median_round" heavy_fib
plain_rate=$(cat "$WORK/heavy_plain_$median_round.rate")
normal_round=$(printf '%s\n' "${heavy_normal[@]}" | sort -n | sed -n 2p | cut -d' ' -f2)
keep_round "heavy_fib_normal_$normal_round" heavy_fib_normal
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
ceiling=$(median3 "${ceilings[@]}")
inline_limit=$(median3 "${inlines[@]}")
heavy_ceiling=$(median3 "${against_ceiling[@]}")

if [ $have_lua = 1 ]; then
    wrk_run heavy_lua 2 8 "$lua/lua?num=30"
    wrk_run heavy_lua_thread 2 8 "$lua/lua_thread?num=30"
fi

heavy_limit=$(ratio3 "$(val heavy_fib rps)" "$plain_rate")
heavy_normal_limit=$(ratio3 "$(val heavy_fib_normal rps)" "$normal_plain_rate")
VALUE[heavy]=$heavy_limit
SHOWN[heavy]="$heavy_limit × (\`fib_thread_priority normal\`: $heavy_normal_limit ×)"
VALUE[ceiling]=$ceiling
NOTE[ceiling]="the plain recursion under \`return 200\` traffic at the module's rate: $ceiling × the limit, rounds $(list "${ceilings[@]}")"
SHOWN[ceiling]="$heavy_ceiling × the ceiling (rounds $(list "${against_ceiling[@]}"))"
