# Section 4: big numbers.  4: `fast` through nginx on one thread
# (tasks=1: the compute time is then the wall time of the computation)
# against the compute time nginx measured in its thread; 4b: the split
# decimal conversion against one mpz_get_str(); 4c: `fast` against GMP
# alone; 4d: `fast` through nginx on a two-thread pool against GMP on
# one thread, the pool idle and then busy with other requests.

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
                 curl -s -o /dev/null -w '%{time_total}\n' "$fib/fast_one?num=$n"
             done | awk '{ s += $1 } END { printf "%.6f", s / NR }')
    after=$(fast_seconds)
    inner_s=$(awk -v a="$after" -v b="$before" \
                  'BEGIN { printf "%.6f", (a - b) / 7 }')
    over=$(awk -v h="$http_s" -v c="$inner_s" \
               'BEGIN { printf "%.1f", (h / c - 1) * 100 }')
    digits=$(curl -s "$fib/fast_one?num=$n" | tr -d '\n' | wc -c)
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

echo "bench: 4d. through nginx on two threads against GMP on one"

# one request, curl's total: the pool's two threads idle
big_once() {
    curl -s -o "$WORK/big.out" -w '%{time_total}\n' "$fib/fast_big?num=$1" \
        | awk '{ printf "%.0f", $1 * 1e9 }'
}

# GMP (corebench gmp, a process of its own as a request is) and nginx
# in turn, three rounds, the minimum of each
nginx_rows=""
for n in 100000 1000000 10000000 100000000; do
    g=""
    h=""
    for _ in 1 2 3; do
        g+=" $(core gmp $n)"
        h+=" $(big_once $n)"
    done
    g=$(printf '%s\n' $g | sort -n | head -1)
    h=$(printf '%s\n' $h | sort -n | head -1)
    digits=$(tr -d '\n' < "$WORK/big.out" | wc -c)
    r=$(ratio "$g" "$h")
    nginx_rows+="| $n | $digits | $(ms "$g" 2) | $(ms "$h" 2) | $r × |"$'\n'
    case $n in
        10000000) VALUE[big_nginx7]=$r; SHOWN[big_nginx7]="$r ×" ;;
        100000000) VALUE[big_nginx8]=$r; SHOWN[big_nginx8]="$r ×" ;;
    esac
done

# The pool busy: recursive F(27) on the same pool from wrk, 4 clients,
# alone and then beside F(10^7) requests one after another; the others'
# requests per second and p99 in each, and the big ones' own time
wrk_run big_alone 2 4 "$fib/fib_normal?num=27"
(
    end=$(( $(date +%s) + DUR ))
    : > "$WORK/big-busy.times"
    while [ "$(date +%s)" -lt "$end" ]; do
        big_once 10000000 >> "$WORK/big-busy.times"
        echo >> "$WORK/big-busy.times"
    done
) &
big_pid=$!
wrk_run big_busy 2 4 "$fib/fib_normal?num=27"
wait "$big_pid"
busy_big=$(sort -n "$WORK/big-busy.times" | awk 'NF { a[n++] = $1 }
    END { printf "%.0f", n ? a[int((n - 1) / 2)] : 0 }')
busy_n=$(awk 'NF' "$WORK/big-busy.times" | wc -l)
kept=$(ratio "$(val big_busy rps)" "$(val big_alone rps)")
VALUE[big_kept]=$kept
SHOWN[big_kept]="$kept ×"
busy_rows="| recursive F(27), 4 clients, alone | $(val big_alone rps) | $(val big_alone p99) | |"$'\n'
busy_rows+="| the same beside F(10^7) on the pool | $(val big_busy rps) | $(val big_busy p99) | $busy_n F(10^7), median $(ms "$busy_big" 0) ms |"$'\n'

# Every piece stops: F(10^8) under fib_timeout 300ms, curl's total for
# its 503; and a client that leaves at moments spread over the
# computation, the time from its departure until nothing is in flight
# (the status page, polled).  The targets take the slowest of each.
stop_rows=""
worst=0
for _ in 1 2 3; do
    t=$(curl -s -o /dev/null -w '%{http_code} %{time_total}\n' \
            "$fib/fast_300ms?num=100000000")
    t_ms=$(awk -v t="${t#* }" 'BEGIN { printf "%.0f", t * 1000 }')
    [ "${t%% *}" = 503 ] || t_ms=99999
    worst=$(( t_ms > worst ? t_ms : worst ))
    stop_rows+="| fib_timeout 300ms: ${t%% *}, after $t_ms ms |"$'\n'
done
VALUE[big_timeout]=$worst
SHOWN[big_timeout]="$worst ms"
worst=0
for after in 0.3 0.4 0.5 0.6 0.7 0.8; do
    curl -s -o /dev/null --max-time $after "$fib/fast_big?num=100000000" || true
    left=$(date +%s%N)
    until curl -s "$fib/status" | grep -q '^fib_in_flight 0$'; do
        sleep 0.005
    done
    idle=$(( ($(date +%s%N) - left) / 1000000 ))
    worst=$(( idle > worst ? idle : worst ))
    stop_rows+="| a client that leaves after $after s: idle $idle ms after |"$'\n'
done
VALUE[big_leave]=$worst
SHOWN[big_leave]="$worst ms"
