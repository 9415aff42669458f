#!/usr/bin/env bash
#
# make soak: nginx with 2 workers and a small pool under a mixed load
# (wrk, soak/mix.lua), clients that disconnect at random moments,
# `nginx -s reload` every few seconds, requests beyond fib_timeout,
# If-Match requests that end in 412, SSI pages of offloaded includes,
# HTTP/2 clients that grant no flow-control window, all at once, on
# 127.0.0.1 only, for a bounded time; then `nginx -s stop` in the middle
# of a burst.  Then: no crash, no alert, every answer correct or
# documented, bounded worker memory, and the status page's totals
# against what was sent.
#
# usage: soak/run.sh MODULE.so BUILD_DIR [SECONDS]

set -euo pipefail

MODULE=$1
BUILD=$2
SECONDS_TOTAL=${3:-120}
# NGINX_BINARY, not NGINX: nginx takes an NGINX in its environment for
# sockets inherited from an old binary, and would not daemonize
NGINX=${NGINX_BINARY:-/usr/sbin/nginx}
PORT=${SOAK_PORT:-18085}
H2PORT=$((PORT + 1))
HERE=$(cd "$(dirname "$0")" && pwd)
DIR=$BUILD/soak
URL=http://127.0.0.1:$PORT

# HTTP/2 on a cleartext port: "http2 on;" from nginx 1.25.1
version=$("$NGINX" -v 2>&1 | sed -n 's|.*nginx/\([0-9.]*\).*|\1|p')
if printf '%s\n1.25.1\n' "$version" | sort -V -C; then
    H2LISTEN="listen 127.0.0.1:$H2PORT http2;"
else
    H2LISTEN="listen 127.0.0.1:$H2PORT; http2 on;"
fi

. "$HERE/../tools/sandbox.sh"
sandbox_init

rm -rf "$DIR"
mkdir -p "$DIR"
NGX=$(sandbox_new soak)
sandbox_conf "$NGX" "$HERE/nginx.conf" MODULE="$MODULE" PORT="$PORT" \
    H2LISTEN="$H2LISTEN"
sandbox_start "$NGX" "$PORT"
MASTER=$(sandbox_pid "$NGX")

BG=()
cleanup() {
    local p rc=$?
    for p in "${BG[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    sandbox_exit "$rc"
}
trap cleanup EXIT

worker_rss() {
    ps -o rss= --ppid "$MASTER" | awk '{ s += $1 } END { print s + 0 }'
}

echo "soak: ${SECONDS_TOTAL} s, 2 workers, pool threads=2 max_queue=16"

wrk -t2 -c64 -d"${SECONDS_TOTAL}s" --timeout 10s -s "$HERE/mix.lua" "$URL" \
    > "$DIR/wrk.txt" 2>&1 &
WRK=$!

# clients that send a heavy request and leave at a random moment
(
    n=0
    end=$((SECONDS + SECONDS_TOTAL))
    while [ $SECONDS -lt $end ]; do
        curl -s -o /dev/null --max-time "0.0$((RANDOM % 9 + 1))" \
            "$URL/fib?num=$((RANDOM % 6 + 30))" || true
        n=$((n + 1))
    done
    echo "$n" > "$DIR/aborts"
) &
BG+=($!)

# If-Match that cannot match: the not_modified filter answers 412
(
    n=0
    end=$((SECONDS + SECONDS_TOTAL))
    while [ $SECONDS -lt $end ]; do
        code=$(curl -s -o /dev/null -w '%{http_code}' -H 'If-Match: "x"' \
                    "$URL/fib?num=$((RANDOM % 4 + 25))") || true
        [ "$code" = 412 ] || [ "$code" = 503 ] || echo "$code" >> "$DIR/bad412"
        n=$((n + 1))
        sleep 0.05
    done
    echo "$n" > "$DIR/n412"
) &
BG+=($!)

# SSI pages of 12 includes, some left early
(
    done_=0 left=0
    end=$((SECONDS + SECONDS_TOTAL))
    while [ $SECONDS -lt $end ]; do
        if [ $((RANDOM % 4)) = 0 ]; then
            curl -s -o /dev/null --max-time 0.05 "$URL/page" || true
            left=$((left + 1))
        elif curl -s -o "$DIR/page.out" "$URL/page"; then
            done_=$((done_ + 1))
        fi
    done
    echo "$done_ $left" > "$DIR/pages"
) &
BG+=($!)

# HTTP/2 clients with a zero window: their bodies wait in the worker
(
    n=0
    end=$((SECONDS + SECONDS_TOTAL))
    while [ $SECONDS -lt $end ]; do
        timeout 2 nghttp -n -w 0 -W 0 -m 20 \
            "http://127.0.0.1:$H2PORT/fast?num=100000" \
            >/dev/null 2>&1 || true
        n=$((n + 1))
    done
    echo "$n" > "$DIR/h2"
) &
BG+=($!)

# a reload every few seconds
(
    n=0
    end=$((SECONDS + SECONDS_TOTAL - 2))
    while [ $SECONDS -lt $end ]; do
        sleep 4
        kill -HUP "$MASTER"
        n=$((n + 1))
    done
    echo "$n" > "$DIR/reloads"
) &
BG+=($!)

sleep $((SECONDS_TOTAL < 120 ? SECONDS_TOTAL / 2 : 60))
rss_first=$(worker_rss)
held=$(curl -s "$URL/fib_status" | awk '/^fib_memory_bytes/ { print $2 }')

wait "$WRK"
wait "${BG[@]}" 2>/dev/null || true
BG=()
sleep 1
rss_last=$(worker_rss)

status=$(curl -s "$URL/fib_status")
counted=$(printf '%s\n' "$status" \
          | awk '/^fib_requests_total/ { s += $2 } END { print s + 0 }')

# nginx -s stop in the middle of a burst of heavy requests: queued tasks
# give up at once, no worker has to be killed by its master
for _ in $(seq 40); do
    curl -s -o /dev/null --max-time 5 "$URL/fib?num=$((RANDOM % 4 + 38))" &
done
sleep 0.5
sandbox_stop "$NGX" TERM
wait
# the logs stay with the run's other outputs
cp -r "$NGX/logs" "$DIR/"

cat "$DIR/wrk.txt" | grep -E "requests in|Requests/sec|Socket errors|mix:"

sent=$(awk '/requests in/ { print $1 }' "$DIR/wrk.txt")
aborts=$(cat "$DIR/aborts")
reloads=$(cat "$DIR/reloads")
n412=$(cat "$DIR/n412")
read -r pages pages_left < "$DIR/pages"
h2=$(cat "$DIR/h2")
# what else reached fib locations: at least the 412s and the includes of
# the pages read whole; at most also those of pages left early and every
# stream the HTTP/2 clients may have opened
extra_min=$((n412 + 12 * pages))
extra_max=$((extra_min + 12 * pages_left + 20 * h2))
mix=$(grep '^mix:' "$DIR/wrk.txt")
wrong=$(echo "$mix" | awk '{ print $10 }')

echo "soak: $aborts clients left early, $reloads reloads, $n412 If-Match (412)"
echo "soak: $pages SSI pages of 12 includes read, $pages_left left early; $h2 zero-window HTTP/2 clients of 20 streams"
echo "soak: results held in the middle of the load: $held bytes"
echo "soak: worker RSS $rss_first kB after the first part, $rss_last kB at the end"
echo "soak: status page counted $counted requests; wrk completed $sent, curl sent $aborts"
echo "soak: error log lines by level:"
grep -oE '\[(debug|info|notice|warn|error|crit|alert|emerg)\]' \
    "$DIR/logs/error.log" | sort | uniq -c

fail=0
check() {
    if eval "$2"; then
        echo "ok: $1"
    else
        echo "FAILED: $1"
        fail=1
    fi
}

check "every answer correct or documented" '[ "$wrong" = 0 ]'
check "no worker crashed" \
      '! grep -q "exited on signal" "$DIR/logs/error.log"'
check "no alert, crit or emerg (open sockets are alerts)" \
      '! grep -qE "\[(alert|crit|emerg)\]" "$DIR/logs/error.log"'
check "worker RSS grew less than 2x + 16 MB" \
      '[ "$rss_last" -le $((rss_first * 2 + 16384)) ]'
check "the status page counted at least what was completed" \
      '[ "$counted" -ge $((sent + extra_min)) ]'
check "and at most that, the clients that left and wrk's 64 in flight" \
      '[ "$counted" -le $((sent + aborts + 64 + extra_max)) ]'
check "every If-Match answered 412 (or 503 when busy)" '[ ! -e "$DIR/bad412" ]'
check "the results held stay within fib_max_memory (64m per worker)" \
      '[ "$held" -le $((2 * 64 * 1024 * 1024)) ]'
check "nginx -s stop mid-burst: no worker killed by its master" \
      '! grep -q "exited on signal 9" "$DIR/logs/error.log"'

[ $fail = 0 ] && echo "soak: 9 passed, 0 failed" || exit 1
