#!/usr/bin/env bash
#
# make test-deb: installs the package built by make deb into this
# machine's nginx, checks that /etc/nginx/modules-enabled loads it
# (nginx -t), that it ships the README and the README's Synopsis as an
# example that nginx -t accepts, that examples/cluster/ passes nginx -t
# as installed by an operator (in /etc/nginx, nothing changed), that
# lintian finds nothing, serves /fib from a thread pool of its own
# with the system nginx binary on a test port of 127.0.0.1
# (DEB_TEST_PORT), then removes the package, leaving the machine as it
# was.
#
# usage: debian/tests/run.sh DEB_DIR

set -euo pipefail

DEB_DIR=$1
PORT=${DEB_TEST_PORT:-18087}
PKG=libnginx-mod-http-fib
DOC=/usr/share/doc/$PKG
MODULES=/usr/lib/nginx/modules
REPO=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d)

if [ "$(id -u)" != 0 ]; then
    echo "test-deb: installing a package needs root"
    exit 1
fi

if dpkg-query -W -f='${Status}' $PKG 2>/dev/null | grep -q 'ok installed'; then
    echo "test-deb: $PKG is already installed; not touching it"
    exit 1
fi

deb=$(ls "$DEB_DIR"/${PKG}_*.deb | head -1)
pass=0
fail=0

check() {
    if eval "$2"; then
        echo "ok: $1"
        pass=$((pass + 1))
    else
        echo "FAILED: $1"
        fail=$((fail + 1))
    fi
}

cleanup() {
    # the sandbox's nginx, once started
    declare -F sandbox_stop_all > /dev/null && sandbox_stop_all
    # shellcheck disable=SC2046
    [ -s "$WORK/created" ] && rm -rf $(cat "$WORK/created")
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq $PKG \
        < /dev/null > /dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "test-deb: $deb"
dpkg-deb -I "$deb" | grep -E '^ (Package|Version|Depends):'

# packagers run lintian first
if command -v lintian > /dev/null; then
    check "lintian finds no error and no warning" \
          "lintian --fail-on error,warning '$deb' > '$WORK/lintian.log' 2>&1 \
           || { cat '$WORK/lintian.log'; false; }"
else
    echo "skipped: lintian is not installed"
fi

DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" \
    < /dev/null > "$WORK/install.log" 2>&1 \
    || { cat "$WORK/install.log"; exit 1; }

check "the package is installed" \
      "dpkg-query -W -f='\${Status}' $PKG | grep -q 'ok installed'"
check "it depends on the nginx ABI it was built against" \
      "dpkg-query -W -f='\${Depends}' $PKG | grep -q 'nginx-abi-'"
check "the module is in nginx's module directory" \
      "[ -f /usr/lib/nginx/modules/ngx_http_fib_module.so ]"
cp /usr/lib/nginx/modules/ngx_http_fib_module.so "$WORK/packaged.so"
check "modules-enabled loads it" \
      "grep -qs 'ngx_http_fib_module.so' /etc/nginx/modules-enabled/*fib*.conf"
check "nginx -t accepts the system configuration with it" \
      "nginx -t -q 2> '$WORK/t.log'"

# the README as shipped is the project's, line for line; only lines with
# a link may differ (debian/package-readme unlinks what is not shipped)
check "it ships the README" \
      "zcat -f $DOC/README.md* | perl -e '
           open my \$src, q(<), shift or die;
           my @src = <\$src>; my @deb = <STDIN>;
           exit 1 unless @src == @deb;
           for my \$i (0 .. \$#src) {
               exit 1 unless \$src[\$i] eq \$deb[\$i] || \$src[\$i] =~ /\]\(/;
           }' '$REPO/README.md'"
check "and examples/nginx.conf, the README's Synopsis" \
      "cmp -s $DOC/examples/nginx.conf '$REPO/examples/nginx.conf'"
check "and the Prometheus rules of examples/prometheus/" \
      "cmp -s $DOC/examples/prometheus/fib.rules.yml \
           '$REPO/examples/prometheus/fib.rules.yml'"

# its logs go to the test's directory, not to /var/log/nginx
check "nginx -t accepts the example with the installed module" \
      "sed 's|/var/log/nginx/|$WORK/|g' $DOC/examples/nginx.conf \
           > '$WORK/example.conf' \
       && grep -qx 'load_module $MODULES/ngx_http_fib_module.so;' \
           '$WORK/example.conf' \
       && nginx -t -q -c '$WORK/example.conf' -e '$WORK/example.log' \
              2> '$WORK/t.log'"

# examples/cluster/ as its files' headers tell an operator to install
# them: copied to /etc/nginx, nginx -t -c with nothing changed.  What
# nginx -t creates (the cache directory, the log files) is removed again
# unless it was there before.
created=()
for f in /etc/nginx/fib-front.conf /etc/nginx/fib-backend.conf \
         /var/cache/nginx-fib /var/log/nginx/fib-front-error.log \
         /var/log/nginx/fib-front-access.log \
         /var/log/nginx/fib-backend-error.log \
         /var/log/nginx/fib-backend-access.log; do
    [ -e "$f" ] || created+=("$f")
done
echo "${created[@]}" > "$WORK/created"

for role in front backend; do
    conf=/etc/nginx/fib-$role.conf
    check "it ships examples/cluster/$role/nginx.conf" \
          "cmp -s $DOC/examples/cluster/$role/nginx.conf \
               '$REPO/examples/cluster/$role/nginx.conf'"
    if [ -e "$conf" ] && ! grep -qx "$conf" <(tr ' ' '\n' < "$WORK/created")
    then
        echo "FAILED: $conf exists already; not touching it"
        fail=$((fail + 1))
        continue
    fi
    check "nginx -t -c $conf, the $role example as installed" \
          "cp $DOC/examples/cluster/$role/nginx.conf $conf \
           && nginx -t -q -c $conf 2> '$WORK/t-$role.log' \
           || { cat '$WORK/t-$role.log'; false; }"
done

# the system binary with the enabled modules, on a test port, in the
# project's shell sandbox (the workers must reach its prefix)
. "$REPO/tools/sandbox.sh"
SANDBOX_NGINX=/usr/sbin/nginx
chmod 0755 "$WORK"
NGX=$(sandbox_new system "$WORK/nginx")
# modules-enabled's snippets name modules/… relative to the prefix,
# Debian's /usr/share/nginx
ln -s /usr/share/nginx/modules "$NGX/modules"
sandbox_conf "$NGX" - PORT="$PORT" <<'CONF'
include /etc/nginx/modules-enabled/*.conf;
error_log @PREFIX@/logs/error.log;
pid @PREFIX@/logs/nginx.pid;
thread_pool fib threads=2 max_queue=64;
events {}
http {
    fib_thread_pool fib tasks=2;
    access_log off;
    include @PREFIX@/conf/temp_paths.conf;
    server {
        listen 127.0.0.1:@PORT@;
        location = /fib { fib; }
    }
}
CONF

sandbox_start "$NGX" "$PORT"

check "make install leaves the package's module alone" \
      "! make -s -C '$REPO' install >/dev/null 2>&1 \
       && cmp -s /usr/lib/nginx/modules/ngx_http_fib_module.so \
                 '$WORK/packaged.so'"
check "and so does make uninstall" \
      "! make -s -C '$REPO' uninstall >/dev/null 2>&1 \
       && [ -e /usr/lib/nginx/modules/ngx_http_fib_module.so ]"

check "the system nginx serves /fib?num=10" \
      "[ \"\$(curl -s http://127.0.0.1:$PORT/fib?num=10)\" = 55 ]"
check "and an offloaded F(30)" \
      "[ \"\$(curl -s http://127.0.0.1:$PORT/fib?num=30)\" = 832040 ]"

sandbox_stop "$NGX"

DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq $PKG \
    < /dev/null > /dev/null 2>&1

check "the package is gone again" \
      "! dpkg-query -W -f='\${Status}' $PKG 2>/dev/null | grep -q 'ok installed'"
check "and so are its module and snippet" \
      "[ ! -e /usr/lib/nginx/modules/ngx_http_fib_module.so ] \
       && ! ls /etc/nginx/modules-enabled/*fib* >/dev/null 2>&1"

check "its documents link only what it ships" \
      "'$REPO/debian/tests/doc-links' '$deb'"

echo "test-deb: $pass passed, $fail failed"
[ $fail = 0 ]
