#!/usr/bin/env bash
#
# make soak: nginx with 2 workers and a small pool under a mixed load
# (wrk, t/soak/mix.lua), clients that disconnect at random moments,
# `nginx -s reload` every few seconds and requests beyond fib_timeout,
# all at once, on 127.0.0.1 only, for a bounded time.  Then: no crash, no
# alert, every answer correct or documented, bounded worker memory, and
# the status page's totals against what was sent.
#
# usage: t/soak/run.sh MODULE.so BUILD_DIR [SECONDS]

set -euo pipefail

MODULE=$1
BUILD=$2
SECONDS_TOTAL=${3:-120}
NGINX=${NGINX:-/usr/sbin/nginx}
PORT=${SOAK_PORT:-18085}
HERE=$(cd "$(dirname "$0")" && pwd)
DIR=$BUILD/soak
URL=http://127.0.0.1:$PORT

rm -rf "$DIR"
mkdir -p "$DIR/conf" "$DIR/logs" "$DIR/tmp"

cat > "$DIR/conf/nginx.conf" <<EOF
load_module $MODULE;
worker_processes 2;
error_log $DIR/logs/error.log info;
pid $DIR/logs/nginx.pid;
thread_pool fib threads=2 max_queue=16;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $DIR/tmp;
    proxy_temp_path $DIR/tmp;
    fastcgi_temp_path $DIR/tmp;
    uwsgi_temp_path $DIR/tmp;
    scgi_temp_path $DIR/tmp;
    fib_thread_pool fib;
    server {
        listen 127.0.0.1:$PORT;
        location = /fib { fib; }
        location = /fast { fib; fib_algorithm fast; }
        location = /slow { fib; fib_max_num 93; fib_timeout 200ms; }
        location = /fib_status { fib_status; }
    }
}
EOF

"$NGINX" -p "$DIR/" -c conf/nginx.conf -e "$DIR/logs/error.log"
sleep 0.5
MASTER=$(cat "$DIR/logs/nginx.pid")

BG=()
cleanup() {
    local p
    for p in "${BG[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    kill -QUIT "$MASTER" 2>/dev/null || true
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

wait "$WRK"
wait "${BG[@]}" 2>/dev/null || true
BG=()
sleep 1
rss_last=$(worker_rss)

status=$(curl -s "$URL/fib_status")
counted=$(printf '%s\n' "$status" \
          | awk '/^fib_requests_total/ { s += $2 } END { print s + 0 }')

kill -QUIT "$MASTER"
for _ in $(seq 100); do
    [ -e "$DIR/logs/nginx.pid" ] || break
    sleep 0.1
done

cat "$DIR/wrk.txt" | grep -E "requests in|Requests/sec|Socket errors|mix:"

sent=$(awk '/requests in/ { print $1 }' "$DIR/wrk.txt")
aborts=$(cat "$DIR/aborts")
reloads=$(cat "$DIR/reloads")
mix=$(grep '^mix:' "$DIR/wrk.txt")
wrong=$(echo "$mix" | awk '{ print $10 }')

echo "soak: $aborts clients left early, $reloads reloads"
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
check "the status page counted at least what wrk completed" \
      '[ "$counted" -ge "$sent" ]'
check "and at most that, the clients that left and wrk's 64 in flight" \
      '[ "$counted" -le $((sent + aborts + 64)) ]'

[ $fail = 0 ] && echo "soak: 6 passed, 0 failed" || exit 1
