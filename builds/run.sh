#!/usr/bin/env bash
#
# make test-builds: the module against nginx's own source, as users build
# it outside Debian.  The source is the pristine upstream tarball of
# Debian's nginx source packages, fetched with apt-get source through a
# private apt configuration, so the machine's apt setup is not changed;
# or, with NGINX_TREE=/path, a source tree the user already has (a
# release tarball unpacked, or a git checkout of nginx, which keeps
# configure in auto/), copied before it is configured.  Each build is
# followed by the whole test suite:
#
#   dynamic         ./configure --with-compat --with-threads
#                       --add-dynamic-module
#   static          ./configure --with-threads --add-module
#   nothreads       ./configure --add-module      (no thread pools at all)
#   trixie-dynamic  nginx 1.26 of Debian 13 (trixie), as dynamic
#   tree-dynamic, tree-static, tree-nothreads
#                   NGINX_TREE, as dynamic, static and nothreads
#
# The first three use the version of the machine's own nginx (1.22 on
# Debian 12), trixie-dynamic the version that Debian 13 ships.  Without
# BUILDS, the four Debian builds run, or the three tree builds when
# NGINX_TREE is set.  Every build also has what the suite tests around
# a fib location: HTTP/2 and SSL, HTTP/3 where the source has it (nginx
# 1.25 and later), and the addition, auth_request and sub modules.  The
# last lines say each build's result, one line each.
#
# usage: [NGINX_TREE=/path] builds/run.sh REPO BUILD_DIR [BUILD...]

set -euo pipefail

REPO=$1
BUILD=$2
shift 2
NGINX_TREE=${NGINX_TREE:-}

if [ -n "$NGINX_TREE" ]; then
    NGINX_TREE=$(cd "$NGINX_TREE" && pwd)
    BUILDS=${*:-tree-dynamic tree-static tree-nothreads}
else
    BUILDS=${*:-dynamic static nothreads trixie-dynamic}
fi

WORK=$BUILD/builds
mkdir -p "$WORK"

# The machine's Debian codename: its suites (bookworm, bookworm-security)
# become trixie's when the trixie source is wanted.
CODENAME=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")

# Writes deb-src entries for the Debian archive this machine already uses
# into DIR.  With TO, only the machine's main and security suites are
# kept, renamed to TO and TO-security.
write_sources() {
    local dir=$1 to=${2:-} f

    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk -v from="$CODENAME" -v to="$to" '
            $1 != "deb" || !/debian\.org/ { next }
            {
                $1 = "deb-src"
                i = ($2 ~ /^\[/) ? 4 : 3
                if (to != "") {
                    if ($i == from) $i = to
                    else if ($i == from "-security") $i = to "-security"
                    else next
                }
                print
            }' "$f"
    done > "$dir/src.list"

    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v from="$CODENAME" -v to="$to" '
            BEGIN { RS = ""; ORS = "\n\n" }
            !/URIs:[^\n]*debian\.org/ || !/Types:[^\n]*deb/ { next }
            {
                sub(/Types:[^\n]*/, "Types: deb-src")
                if (to != "") {
                    match($0, /Suites:[^\n]*/)
                    n = split(substr($0, RSTART + 7, RLENGTH - 7), s, " ")
                    keep = ""
                    for (i = 1; i <= n; i++) {
                        if (s[i] == from) keep = keep " " to
                        else if (s[i] == from "-security")
                            keep = keep " " to "-security"
                    }
                    if (keep == "") next
                    sub(/Suites:[^\n]*/, "Suites:" keep)
                }
                print
            }' "$f"
    done > "$dir/src.sources"
}

# Unpacks the upstream source of nginx into $WORK/SERIES/nginx-src, once:
#   installed  the version of the machine's nginx, from its own suites
#   trixie     the newest in trixie and trixie-security
#
# Only the pristine upstream tarball (the .orig.tar.gz) is used: these
# are builds from nginx's own source, without Debian's patches.  The
# archive may lack the .dsc or .debian.tar.xz of a security update (seen:
# 1.26.3-3+deb13u10, 404); the tarball is enough, and apt has checked it
# against the signed Sources index.
fetch_source() {
    local series=$1 dir=$WORK/$1 apt=$WORK/$1/apt want orig

    [ -d "$dir/nginx-src" ] && return 0

    if [ "$series" = tree ]; then
        [ -n "$NGINX_TREE" ] || { echo "test-builds: NGINX_TREE is not set"; exit 2; }
        [ -x "$NGINX_TREE/configure" ] || [ -x "$NGINX_TREE/auto/configure" ] \
            || { echo "test-builds: no configure in $NGINX_TREE"; exit 2; }
        return 0
    fi

    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" \
             "$apt/sources.list.d"

    case $series in
    installed)
        write_sources "$apt/sources.list.d"
        want="nginx=$(dpkg-query -W -f='${source:Version}' nginx)" ;;
    trixie)
        write_sources "$apt/sources.list.d" trixie
        want=nginx ;;
    esac

    apt_private() {
        apt-get -q -o Dir::Etc::SourceList=/dev/null \
            -o Dir::Etc::SourceParts="$apt/sources.list.d" \
            -o Dir::State::Lists="$apt/lists" \
            -o Dir::Cache="$apt/cache" "$@"
    }

    echo "test-builds: fetching the source of $want ($series)"
    apt_private update > "$dir/apt.log" 2>&1 \
        || { cat "$dir/apt.log"; exit 1; }
    (cd "$dir" && apt_private source --download-only "$want" \
        >> "$dir/apt.log" 2>&1) || true

    orig=$(ls "$dir"/nginx_*.orig.tar.* 2>/dev/null | head -1)
    if [ -z "$orig" ]; then
        cat "$dir/apt.log"
        exit 1
    fi

    mkdir -p "$dir/nginx-src"
    tar -xf "$orig" -C "$dir/nginx-src" --strip-components=1
    echo "test-builds: nginx $(sed -n \
        's/^#define NGINX_VERSION *"\(.*\)"/\1/p' \
        "$dir/nginx-src/src/core/nginx.h") from $(basename "$orig")"
}

# the source of a series: the tree as given, or what fetch_source unpacked
source_of() {
    if [ "$1" = tree ]; then
        echo "$NGINX_TREE"
    else
        echo "$WORK/$1/nginx-src"
    fi
}

failed=0
results=()

for b in $BUILDS; do
    case $b in
    dynamic|static|nothreads)
        series=installed; kind=$b ;;
    trixie-dynamic|tree-dynamic|tree-static|tree-nothreads)
        series=${b%%-*}; kind=${b#*-} ;;
    *)
        echo "test-builds: unknown build $b"; exit 2 ;;
    esac

    add=--add-dynamic-module
    case $kind in
    dynamic)
        flags="--with-compat --with-threads" ;;
    static)
        flags="--with-threads"; add=--add-module ;;
    nothreads)
        flags=""; add=--add-module ;;
    esac

    fetch_source $series
    src=$(source_of $series)

    # what the suite tests beyond the default modules: HTTP/2 over TLS
    # and cleartext, HTTP/3 where the source has it, and the modules
    # around a fib location
    flags="$flags --with-http_v2_module --with-http_ssl_module"
    [ -d "$src/src/http/v3" ] && flags="$flags --with-http_v3_module"
    flags="$flags --with-http_addition_module --with-http_auth_request_module"
    flags="$flags --with-http_sub_module"

    dir=$WORK/$b
    version=$(sed -n 's/^#define NGINX_VERSION *"\(.*\)"/\1/p' \
        "$src/src/core/nginx.h")

    start=$SECONDS
    echo "test-builds: $b: nginx $version: ./configure --with-debug $flags" \
         "$add=$REPO"

    # the Makefile's configure recipe, on the upstream source, then the
    # whole nginx
    make --no-print-directory -C "$REPO" configure \
        NGINX_SRC="$src" NGX_BUILD="$dir" \
        NGX_CONFIGURE="--with-debug $flags" NGX_MODULE_ADD=$add \
        CC_OPT=-O2 LD_OPT= > "$WORK/$b.configure.log" 2>&1 \
        || { tail -30 "$WORK/$b.configure.log"; exit 1; }
    (cd "$dir" && make -j"$(nproc)" > "$dir/make.log" 2>&1) \
        || { tail -30 "$dir/make.log"; exit 1; }

    modules=""
    [ -e "$dir/objs/ngx_http_fib_module.so" ] \
        && modules=$dir/objs/ngx_http_fib_module.so

    echo "test-builds: $b: built in $((SECONDS - start)) s; running the suite"

    if (cd "$REPO" && TEST_NGINX_BINARY="$dir/objs/nginx" \
            TEST_NGINX_LOAD_MODULES="$modules" \
            TEST_NGINX_SERVROOT="$dir/servroot" \
            PERL5LIB=$(perl -MTest::Nginx::Socket -e1 2>/dev/null \
                       && echo "${PERL5LIB:-}" \
                       || echo "$REPO/t/lib${PERL5LIB:+:$PERL5LIB}") \
            prove -r t)
    then
        result="passed in $((SECONDS - start)) s"
    else
        result="FAILED"
        failed=1
    fi
    echo "test-builds: $b: $result"
    results+=("test-builds: $b (nginx $version): $result")
done

printf '%s\n' "${results[@]}"

exit $failed
