#!/usr/bin/env bash
#
# make run: examples/nginx.conf, the README's Synopsis, in the
# foreground with the module just built, on 127.0.0.1:PORT, its logs,
# pid and temporary files in DIR (build/run): nothing outside the build
# folder is written.  Ctrl-C stops it.
#
# usage: tools/run.sh MODULE.so DIR PORT

set -euo pipefail

MODULE=$1
DIR=$2
PORT=$3
HERE=$(cd "$(dirname "$0")" && pwd)

. "$HERE/sandbox.sh"

sandbox_new run "$DIR" > /dev/null

# the example's paths are Debian's: the module just built, PORT, and
# the logs, pid and temporary files in the prefix instead
sed -e 's|^load_module .*/ngx_http_fib_module\.so;|load_module @MODULE@;|' \
    -e 's|^\( *listen 127\.0\.0\.1:\)8080;|\1@PORT@;|' \
    -e 's|/var/log/nginx/|@PREFIX@/logs/|g' \
    -e 's|^worker_processes .*|&\npid @PREFIX@/logs/nginx.pid;|' \
    -e 's|^http {$|&\n    access_log @PREFIX@/logs/access.log;\n    include @PREFIX@/conf/temp_paths.conf;|' \
    "$HERE/../examples/nginx.conf" \
    | sandbox_conf "$DIR" - MODULE="$MODULE" PORT="$PORT"

trap 'sandbox_stop "$DIR" TERM; exit 0' INT TERM
trap sandbox_stop_all EXIT

echo "$SANDBOX_NGINX -p $DIR/ -c conf/nginx.conf -g 'daemon off;'"
sandbox_start "$DIR" "$PORT"
# what nginx said while starting (the warnings of examples/nginx.conf)
cat "$DIR/logs/stderr"
echo "serving on http://127.0.0.1:$PORT/fib?num=10 (Ctrl-C stops)"
wait "$(sandbox_pid "$DIR")"
