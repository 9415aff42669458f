# Section 3: isolation, a cheap probe (one connection) while eight ask
# for heavy work, the module against itself without a pool and the peer.

wrk_run iso_floor 1 1 "$fib/fib?num=10"
isolation iso_fib "$fib/fib?num=32" "$fib/fib?num=10"
isolation iso_fib_normal "$fib/fib_normal?num=32" "$fib/fib_normal?num=10"
isolation iso_fib_off "$fib/fib_off?num=32" "$fib/fib_off?num=10"
if [ $have_lua = 1 ]; then
    isolation iso_lua_thread "$lua/lua_thread?num=32" "$lua/lua_thread?num=10"
    isolation iso_lua "$lua/lua?num=32" "$lua/lua?num=10"
fi

iso_p99=$(val iso_fib p99)
VALUE[iso_p99]=$iso_p99
SHOWN[iso_p99]="$iso_p99 ms"
if [ $have_lua = 1 ]; then
    best_peer=$(awk -v a="$(val iso_lua_thread p99)" -v b="$(val iso_lua p99)" \
                    'BEGIN { print (a < b) ? a : b }')
    # a peer whose probe got no answer at all (p99 0) is not beaten
    VALUE[iso_peer]=$(awk -v a="$iso_p99" -v b="$best_peer" \
                          'BEGIN { printf "%.6f", (b > 0) ? a / b : 1e9 }')
    SHOWN[iso_peer]="$(ratio "$iso_p99" "$best_peer") ×"
    NOTE[iso_peer]="$best_peer ms"
fi
