#!/usr/bin/env bash
#
# make test-builds: the module against nginx's own source, as users build
# it outside Debian.  The source is Debian's nginx source package (the
# same version as the installed nginx), fetched with apt-get source
# through a private apt configuration, so the machine's apt setup is not
# changed.  Three builds, each followed by the whole test suite:
#
#   dynamic   ./configure --with-compat --with-threads --add-dynamic-module
#   static    ./configure --with-threads --add-module
#   nothreads ./configure --add-module            (no thread pools at all)
#
# usage: t/builds/run.sh REPO BUILD_DIR [BUILD...]

set -euo pipefail

REPO=$1
BUILD=$2
shift 2
BUILDS=${*:-dynamic static nothreads}

WORK=$BUILD/builds
APT=$WORK/apt

mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" \
         "$APT/sources.list.d"

# deb-src entries for the Debian archive this machine already uses
{
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk '$1 == "deb" && /debian\.org/ { $1 = "deb-src"; print }' "$f"
    done
} > "$APT/sources.list.d/src.list"

for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'BEGIN { RS = ""; ORS = "\n\n" }
         /URIs:[^\n]*debian\.org/ && /Types:[^\n]*deb/ {
             sub(/Types:[^\n]*/, "Types: deb-src"); print }' "$f"
done > "$APT/sources.list.d/src.sources"

apt_private() {
    apt-get -q -o Dir::Etc::SourceList=/dev/null \
        -o Dir::Etc::SourceParts="$APT/sources.list.d" \
        -o Dir::State::Lists="$APT/lists" \
        -o Dir::Cache="$APT/cache" "$@"
}

version=$(dpkg-query -W -f='${source:Version}' nginx)

# Only the pristine upstream tarball (the .orig.tar.gz) is used: these
# are builds from nginx's own source, without Debian's patches.  The
# archive may lack the .dsc of a security update; the tarball is enough.
if [ ! -d "$WORK/nginx-src" ]; then
    echo "test-builds: fetching the source of nginx $version"
    apt_private update > "$WORK/apt.log" 2>&1 \
        || { cat "$WORK/apt.log"; exit 1; }
    (cd "$WORK" && apt_private source --download-only "nginx=$version" \
        >> "$WORK/apt.log" 2>&1) || true

    orig=$(ls "$WORK"/nginx_*.orig.tar.* 2>/dev/null | head -1)
    if [ -z "$orig" ]; then
        cat "$WORK/apt.log"
        exit 1
    fi

    mkdir -p "$WORK/nginx-src"
    tar -xf "$orig" -C "$WORK/nginx-src" --strip-components=1
fi

echo "test-builds: nginx $(sed -n 's/^#define NGINX_VERSION *"\(.*\)"/\1/p' \
    "$WORK/nginx-src/src/core/nginx.h") from $(basename "$(ls "$WORK"/nginx_*.orig.tar.* | head -1)")"

failed=0

for b in $BUILDS; do
    case $b in
    dynamic)
        flags="--with-compat --with-threads --add-dynamic-module=$REPO" ;;
    static)
        flags="--with-threads --add-module=$REPO" ;;
    nothreads)
        flags="--add-module=$REPO" ;;
    *)
        echo "test-builds: unknown build $b"; exit 2 ;;
    esac

    dir=$WORK/$b
    rm -rf "$dir"
    cp -r "$WORK/nginx-src" "$dir"

    start=$SECONDS
    echo "test-builds: $b: ./configure $flags"

    (cd "$dir" && ./configure --with-debug --with-cc-opt="-O2" $flags \
        > "$dir/configure.log" 2>&1 \
        && make -j"$(nproc)" > "$dir/make.log" 2>&1) \
        || { tail -30 "$dir/make.log" "$dir/configure.log" 2>/dev/null;
             exit 1; }

    modules=""
    [ $b = dynamic ] && modules=$dir/objs/ngx_http_fib_module.so

    echo "test-builds: $b: built in $((SECONDS - start)) s; running the suite"

    if (cd "$REPO" && TEST_NGINX_BINARY="$dir/objs/nginx" \
            TEST_NGINX_LOAD_MODULES="$modules" \
            TEST_NGINX_SERVROOT="$dir/servroot" \
            PERL5LIB=$(perl -MTest::Nginx::Socket -e1 2>/dev/null \
                       && echo "${PERL5LIB:-}" \
                       || echo "$REPO/t/lib${PERL5LIB:+:$PERL5LIB}") \
            prove -r t)
    then
        echo "test-builds: $b: passed in $((SECONDS - start)) s"
    else
        echo "test-builds: $b: FAILED"
        failed=1
    fi
done

exit $failed
