# The one way a shell script here starts a throw-away nginx (Perl's is
# t/inc/NginxSandbox.pm): a prefix of its own, a configuration written from
# a template, nginx started, waited for until its port answers, stopped
# by its pid.  Sourced by bash scripts:
#
#   . tools/sandbox.sh
#   dir=$(sandbox_new NAME)              # or sandbox_new NAME DIR
#   sandbox_conf "$dir" TEMPLATE [NAME=VALUE...]   # TEMPLATE or - (stdin)
#   sandbox_copy "$dir" FILE...          # into $dir/files, for the worker
#   sandbox_start "$dir" PORT            # returns once PORT answers
#   sandbox_pid "$dir"                   # the master's pid
#   sandbox_stop "$dir"                  # graceful; sandbox_stop_all too
#
# Templates say @PREFIX@ for the prefix and @NAME@ for each NAME=VALUE;
# one left unreplaced is an error.  Every template writes
# `pid @PREFIX@/logs/nginx.pid;` and, in http, `include
# @PREFIX@/conf/temp_paths.conf;` (Debian's nginx keeps its temporary
# files in /var/lib/nginx otherwise), and listens on 127.0.0.1 only.
#
# Prefixes live under one directory of TMPDIR per script, not in the
# clone: run as root, nginx's workers run as nobody, who cannot reach
# into a clone under /root (0700).  What a worker reads (a Lua module, a
# cache directory it writes) goes into the prefix, which they can read.
# SANDBOX_KEEP=1 keeps the prefixes after the script.

SANDBOX_NGINX=${SANDBOX_NGINX:-${NGINX_BINARY:-/usr/sbin/nginx}}
SANDBOX_BASE=""
declare -A SANDBOX_PIDS=()

# sandbox_new NAME [DIR]: an empty prefix (DIR, or one in this script's
# directory of TMPDIR) with conf/, logs/, tmp/ and files/; prints it
sandbox_new() {
    local name=$1 dir=${2:-} t

    if [ -z "$dir" ]; then
        if [ -z "$SANDBOX_BASE" ]; then
            echo "sandbox_new: call sandbox_init first" >&2
            return 1
        fi
        dir=$SANDBOX_BASE/$name
    fi
    rm -rf "$dir"
    mkdir -p "$dir/conf" "$dir/logs" "$dir/tmp" "$dir/files"
    # the workers write temporary files and read files/
    chmod 0755 "$dir" "$dir/conf" "$dir/files"
    chmod 0777 "$dir/tmp"
    for t in client_body proxy fastcgi uwsgi scgi; do
        printf '%s_temp_path %s/tmp/%s;\n' "$t" "$dir" "$t"
    done > "$dir/conf/temp_paths.conf"
    echo "$dir"
}

# sandbox_init: this script's directory of prefixes, removed at exit
# with every nginx still running stopped (unless SANDBOX_KEEP=1)
sandbox_init() {
    SANDBOX_BASE=$(mktemp -d "${TMPDIR:-/tmp}/fib-sandbox.XXXXXX")
    chmod 0755 "$SANDBOX_BASE"
    trap sandbox_exit EXIT
}

# sandbox_exit [RC]: the EXIT trap's work; a trap of the caller's own
# that calls it hands over the script's status
sandbox_exit() {
    local rc=${1:-$?}
    sandbox_stop_all
    if [ -n "$SANDBOX_BASE" ]; then
        if [ "${SANDBOX_KEEP:-0}" = 1 ] || [ $rc != 0 ]; then
            echo "sandbox: prefixes kept in $SANDBOX_BASE" >&2
        else
            rm -rf "$SANDBOX_BASE"
        fi
    fi
    return $rc
}

# sandbox_conf DIR TEMPLATE [NAME=VALUE...]: DIR/conf/nginx.conf
sandbox_conf() {
    local dir=$1 template=$2 kv conf=$1/conf/nginx.conf left
    shift 2

    if [ "$template" = - ]; then
        cat > "$conf.in"
    else
        cp "$template" "$conf.in"
    fi
    for kv in "PREFIX=$dir" "$@"; do
        # values may hold / and &: escape them for sed
        sed -i "s|@${kv%%=*}@|$(printf '%s' "${kv#*=}" \
                                | sed 's/[|&\\]/\\&/g')|g" "$conf.in"
    done
    left=$(grep -o '@[A-Z_][A-Z0-9_]*@' "$conf.in" | sort -u \
           | paste -sd' ' - || true)
    if [ -n "$left" ]; then
        echo "sandbox: $template: no value for $left" >&2
        return 1
    fi
    # a server here listens on 127.0.0.1 only
    if grep -E '^\s*listen\s' "$conf.in" | grep -vqE '^\s*listen\s+127\.0\.0\.1:'
    then
        echo "sandbox: $template listens beyond 127.0.0.1" >&2
        return 1
    fi
    mv "$conf.in" "$conf"
}

# sandbox_copy DIR FILE...: into DIR/files/, readable by the workers
sandbox_copy() {
    local dir=$1
    shift
    cp "$@" "$dir/files/"
    chmod -R a+rX "$dir/files"
}

# sandbox_start DIR PORT [ARG...]: nginx on DIR's configuration, as a
# child of this shell (daemon off: its pid is ours to stop); returns once
# it has written its pid (it has bound its sockets) and PORT answers.
# ARGs go to nginx.  Its stderr is DIR/logs/stderr, shown on failure.
sandbox_start() {
    local dir=$1 port=$2 pid i
    shift 2

    rm -f "$dir/logs/nginx.pid"
    "$SANDBOX_NGINX" -p "$dir/" -c conf/nginx.conf -e logs/error.log \
        -g 'daemon off;' "$@" > "$dir/logs/stderr" 2>&1 &
    pid=$!
    SANDBOX_PIDS[$dir]=$pid

    for i in $(seq 200); do
        if ! kill -0 "$pid" 2>/dev/null; then
            unset "SANDBOX_PIDS[$dir]"
            echo "sandbox: nginx in $dir did not start:" >&2
            cat "$dir/logs/stderr" >&2
            return 1
        fi
        if [ -s "$dir/logs/nginx.pid" ] \
           && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
        then
            return 0
        fi
        sleep 0.05
    done
    echo "sandbox: nginx in $dir does not answer on 127.0.0.1:$port" >&2
    cat "$dir/logs/stderr" >&2
    return 1
}

sandbox_pid() {
    echo "${SANDBOX_PIDS[$1]}"
}

# sandbox_stop DIR [SIGNAL]: QUIT (graceful) by default, TERM (fast);
# waits until the master has exited
sandbox_stop() {
    local dir=$1 pid=${SANDBOX_PIDS[$1]:-}

    [ -n "$pid" ] || return 0
    kill -"${2:-QUIT}" "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset "SANDBOX_PIDS[$dir]"
}

sandbox_stop_all() {
    local dir
    for dir in "${!SANDBOX_PIDS[@]}"; do
        sandbox_stop "$dir"
    done
}
