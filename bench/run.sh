#!/usr/bin/env bash
#
# make bench: the module against same-run baselines and peers, on
# 127.0.0.1 only, every load bounded in time.  Each section of the
# report is a file of bench/sections/, the servers they ask are
# templates of bench/conf/, the targets are bench/targets, and
# bench/report.sh writes the report.  All sections write
# bench/results/LATEST.md and its plots; SECTIONS="heavy ..." runs those
# alone and writes build/bench/REPORT.md, leaving bench/results/ as it is.
#
# usage: [SECTIONS="..."] bench/run.sh MODULE.so BUILD_DIR [SECONDS_PER_RUN]

set -euo pipefail

MODULE=$1
BUILD=$2
DUR=${3:-6}
# NGINX_BINARY, not NGINX: nginx takes an NGINX in its environment for
# sockets inherited from an old binary, and would not daemonize
NGINX=${NGINX_BINARY:-/usr/sbin/nginx}
LUA_MODULE=/usr/lib/nginx/modules/ngx_http_lua_module.so
NDK_MODULE=/usr/lib/nginx/modules/ndk_http_module.so

HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$BUILD/bench
RESULTS=$HERE/results
# BENCH_PORT moves all six, for a machine where another run holds them
BASE_PORT=${BENCH_PORT:-18081}

# section (bench/sections/NAME.sh, in the report's order): the servers
# it measures
SECTION_TABLE='
core
cheap      fib lua
heavy      fib ret inline lua
isolation  fib lua
big        fib
overload   queue refuse
'

# server: its port (BENCH_PORT + offset), its template in bench/conf/,
# the template's values beyond MODULE, PORT and CONF
SERVER_TABLE="
fib     0  fib.conf
lua     1  lua.conf       NDK_MODULE=$NDK_MODULE LUA_MODULE=$LUA_MODULE
queue   2  overload.conf  MAX_WAITING=1024
refuse  3  overload.conf  MAX_WAITING=0
ret     4  ret.conf
inline  5  inline.conf
"

ALL=$(echo "$SECTION_TABLE" | awk 'NF { print $1 }' | paste -sd' ' -)
# BENCH_ONLY=heavy, the old way to say SECTIONS=heavy
SECTIONS=${SECTIONS:-${BENCH_ONLY:-$ALL}}
for s in $SECTIONS; do
    if [[ " $ALL " != *" $s "* ]]; then
        echo "bench: no section '$s' (sections: $ALL)" >&2
        exit 2
    fi
done
# the sections asked, in the report's order
RAN=$(for s in $ALL; do
          [[ " $SECTIONS " != *" $s "* ]] || echo "$s"
      done | paste -sd' ' -)

if [ "$RAN" = "$ALL" ]; then
    REPORT=$RESULTS/LATEST.md
    COMMAND="make bench"
else
    REPORT=$WORK/REPORT.md
    COMMAND="make bench SECTIONS=\"$RAN\""
fi

# 800 clients and more
ulimit -n 8192 2>/dev/null || true

mkdir -p "$WORK" "$RESULTS"

# others' work on the machine moves every figure: say how much there was
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)

. "$HERE/../tools/sandbox.sh"
. "$HERE/lib.sh"
. "$HERE/report.sh"
sandbox_init

# what the sections measure for the targets (bench/targets)
declare -A VALUE=() SHOWN=() NOTE=()

# {{{ the servers

server_port() {
    echo $((BASE_PORT + $(echo "$SERVER_TABLE" | awk -v s="$1" '$1 == s { print $2 }')))
}
server_url() { echo "http://127.0.0.1:$(server_port "$1")"; }
server_pid() { sandbox_pid "$SANDBOX_BASE/$1"; }

# start_server NAME: its template in a sandbox of its own
start_server() {
    local name=$1 dir template values
    read -r _ _ template values <<< "$(echo "$SERVER_TABLE" \
                                       | awk -v s="$name" '$1 == s')"
    dir=$(sandbox_new "$name")
    # shellcheck disable=SC2086
    sandbox_conf "$dir" "$HERE/conf/$template" MODULE="$MODULE" \
        PORT="$(server_port "$name")" CONF="$HERE/conf" $values
    # what a worker reads must be in its prefix: it runs as nobody
    [ "$name" != lua ] || sandbox_copy "$dir" "$HERE/lua/fibmod.lua"
    sandbox_start "$dir" "$(server_port "$name")"
}

servers=$(for s in $RAN; do
              echo "$SECTION_TABLE" | awk -v s="$s" '$1 == s { $1 = ""; print }'
          done | tr ' ' '\n' | awk 'NF && !seen[$0]++' | paste -sd' ' -)

have_lua=0
for server in $servers; do
    if [ $server = lua ]; then
        [ -f "$LUA_MODULE" ] && [ -f "$NDK_MODULE" ] || continue
        have_lua=1
    fi
    start_server "$server"
done

fib=$(server_url fib)
lua=$(server_url lua)
ret=$(server_url ret)
inline=$(server_url inline)

for server in $servers; do
    case $server in
    fib) check "$fib/fib?num=30" 832040
         check "$fib/fib_off?num=10" 55 ;;
    ret) check "$ret/ret" 832040 ;;
    inline) check "$inline/fib?num=30" 832040 ;;
    lua) if [ $have_lua = 1 ]; then
             check "$lua/lua?num=30" 832040
             check "$lua/lua_thread?num=30" 832040
         fi ;;
    esac
done

# }}}

for s in $RAN; do
    echo "bench: $s"
    . "$HERE/sections/$s.sh"
done

report "$REPORT"
cat "$REPORT"
