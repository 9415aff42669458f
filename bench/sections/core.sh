# Section 0: the core's recursion against the plain one (bench/plain.c),
# no nginx.  Instruction counts do not move with the machine's noise: the
# core's recursion (fib_rec_poll() and all below it) against plain.c's,
# both compiled with the module's flags.  Timings, one computation of
# each in turn in one process, say the same where the noise allows; they
# also see where the code lies, which counts do not.

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
        ir_ratio=$(ratio3 "$ir_core" "$ir_plain")
        core_ir+=("$ir_ratio")
    fi
    # three alternating runs of 51 pairs, the median ratio
    runs=$(for _ in 1 2 3; do core compare "$n" 51; done | sort -k3 -n)
    read -r t_core t_plain t_ratio <<< "$(echo "$runs" | sed -n 2p)"
    t_all=$(echo "$runs" | cut -d' ' -f3 \
            | awk '{ printf "%s%.3f", (NR > 1) ? ", " : "", $1 }')
    core_rows+="| $n | $ir_core | $ir_plain | $ir_ratio | $(ms "$t_core") | $(ms "$t_plain") | $(awk -v r="$t_ratio" 'BEGIN { printf "%.3f", r }') ($t_all) |"$'\n'
done

if [ ${#core_ir[@]} -gt 0 ]; then
    core_ir_mean=$(printf '%s\n' "${core_ir[@]}" \
                   | awk '{ s += $1 } END { printf "%.3f", s / NR }')
    core_ir_min=$(printf '%s\n' "${core_ir[@]}" | sort -n | head -1)
    core_ir_max=$(printf '%s\n' "${core_ir[@]}" | sort -n | tail -1)
    VALUE[core_ir]=$core_ir_mean
    SHOWN[core_ir]="mean $core_ir_mean × ($core_ir_min to $core_ir_max)"
fi
