# Section 5: overload.  Goodput (200s per second) and refusals against
# concurrency, clients that ask again at once (wrk ignores Retry-After),
# with the worker's queue and without it; two alternating rounds, the
# better one kept for each point.

OV_CONNS="8 50 200 800"
for round in 1 2; do
    for server in queue refuse; do
        for loc in fib fib_normal; do
            for c in $OV_CONNS; do
                name=ov_${server}_${loc}_${c}_$round
                out=$WORK/wrk-$name.txt
                wrk -t2 -c"$c" -d3s --timeout 10s \
                    "$(server_url $server)/$loc?num=30" > "$out" 2>&1
                total=$(awk '/requests in/ { print $1 }' "$out")
                non=$(awk '/Non-2xx/ { n = $5 } END { print n + 0 }' "$out")
                echo "$(( (total - non) / 3 )) $(( non / 3 ))" \
                    > "$WORK/$name.ov"
            done
        done
    done
done

# ov SERVER LOC CONNS: "goodput refusals" of the better round
ov() {
    cat "$WORK/ov_$1_$2_$3_1.ov" "$WORK/ov_$1_$2_$3_2.ov" \
        | sort -n | tail -1
}

capacity=$(ov queue fib 8 | cut -d' ' -f1)
for c in 200 800; do
    VALUE[ov$c]=$(ratio "$(ov queue fib $c | cut -d' ' -f1)" "$capacity")
    SHOWN[ov$c]="${VALUE[ov$c]} ×"
done
