# Section 4: big numbers.  4: `fast` through nginx against the compute
# time nginx measured in its threads; 4b: the split decimal conversion
# against one mpz_get_str(); 4c: `fast` against GMP alone.

# the compute time nginx measured in its threads, from the status page
fast_seconds() {
    curl -s "$fib/status" \
        | awk '/^fib_compute_seconds_total\{algorithm="fast"\}/ { print $2 }'
}

big_rows=""
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
    big_rows+="| $n | $digits | $(ms "$core_ns" 2) | $(awk -v c="$inner_s" 'BEGIN { printf "%.2f", c * 1000 }') | $(awk -v h="$http_s" 'BEGIN { printf "%.2f", h * 1000 }') | $over% |"$'\n'
    if [ $n = 1000000 ]; then
        VALUE[big]=$over
        SHOWN[big]="$over%"
    fi
done

echo "bench: 4b. the split decimal conversion"

# the conversion the module makes (pieces, a poll between them) against
# one mpz_get_str() of the same F(n), alternating in one process pinned
# to one core; three runs, the median of the rounds' ratios of each
split_rows=""
for n in 1000000 10000000; do
    rounds=21
    [ $n = 10000000 ] && rounds=9
    runs=$(for _ in 1 2 3; do core decimal $n $rounds; done | sort -k3 -n)
    read -r split_ns plain_ns r <<< "$(printf '%s\n' "$runs" | sed -n 2p)"
    split_rows+="| $n | $(ms "$plain_ns" 2) | $(ms "$split_ns" 2) | $(awk -v r="$r" 'BEGIN { printf "%.3f", r }') × | $(printf '%s\n' "$runs" | cut -d' ' -f3 | paste -sd, - | sed 's/,/, /g') |"$'\n'
    if [ $n = 10000000 ]; then
        VALUE[split]=$r
        SHOWN[split]="$(awk -v r="$r" 'BEGIN { printf "%.3f", r }') ×"
    fi
done

echo "bench: 4c. fast against GMP alone"

# fast, decimal from FIB_FAST_DECIMAL_MIN on, against GMP alone and the
# binary path, alternating in one process: the ratios are the point
vs_gmp_rows=$(core fast-vs-gmp 3 | awk 'NR > 1 {
    printf "| %s | %.2f | %.2f | %.2f | %s × | %s × |\n",
           $1, $2 / 1e6, $3 / 1e6, $4 / 1e6, $5, $6 }')
