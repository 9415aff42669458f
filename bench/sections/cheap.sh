# Section 1: cheap requests, the module against nginx's own `return 200`
# in the same server.  The machine is noisy: the two alternate in short
# runs, the median round decides.

ratios=()
for round in $(seq 9); do
    DUR=2 wrk_run "cheap_ret_$round" 2 50 "$fib/ret"
    DUR=2 wrk_run "cheap_fib_$round" 2 50 "$fib/fib?num=10"
    ratios+=("$(ratio "$(val "cheap_fib_$round" rps)" \
                      "$(val "cheap_ret_$round" rps)") $round")
done
median_round=$(printf '%s\n' "${ratios[@]}" | sort -n | sed -n 5p | cut -d' ' -f2)
keep_round "cheap_ret_$median_round" cheap_ret
keep_round "cheap_fib_$median_round" cheap_fib
[ $have_lua = 1 ] && wrk_run cheap_lua 2 50 "$lua/lua?num=10"

cheap_ratio=$(ratio "$(val cheap_fib rps)" "$(val cheap_ret rps)")
VALUE[cheap]=$cheap_ratio
SHOWN[cheap]="$cheap_ratio ×"
