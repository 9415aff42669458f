package NginxBinary;

# What the nginx under test is: its version and configure arguments, and
# the configuration syntax that depends on them, so that one t/ runs on
# nginx 1.22 and on 1.26.
#
# Loading it puts these into the environment; both the real Test::Nginx
# and t/lib replace $TEST_NGINX_* in config sections with them:
#
#   TEST_NGINX_HTTP2_LISTEN   "http2" before nginx 1.25.1, else empty
#   TEST_NGINX_HTTP2          "http2 on;" from nginx 1.25.1, else empty
#
# A server that speaks HTTP/2 (cleartext h2c here) is then, on any
# version and without a "deprecated" warning on 1.25.1 and later:
#
#   server {
#       listen 127.0.0.1:PORT $TEST_NGINX_HTTP2_LISTEN;
#       $TEST_NGINX_HTTP2
#       ...
#   }
#
# Use, before run_tests():
#
#   use FindBin;
#   use lib "$FindBin::Bin/inc";
#   use NginxBinary;
#
# nginx_version() is the number nginx's own nginx_version macro has
# (1026003 for 1.26.3); nginx_configured(qr/.../) tells whether
# `nginx -V` matches; require_threads() skips the file when nginx has
# no threads.

use strict;
use warnings;

use Exporter 'import';

our @EXPORT = qw(nginx_version nginx_configured require_threads);

my $binary = $ENV{TEST_NGINX_BINARY} || 'nginx';
my $V = `$binary -V 2>&1`;

$V =~ m{nginx version: \S+/(\d+)\.(\d+)\.(\d+)}
    or die "cannot tell the version of $binary: $V";

my $version = $1 * 1000000 + $2 * 1000 + $3;

sub nginx_version {
    return $version;
}

sub nginx_configured {
    my ($re) = @_;
    return $V =~ $re;
}

# The whole file is skipped, before its plan, when nginx has no threads:
# every file of the offload calls this first.  t/without-threads.t is the
# one that runs in their place.
sub require_threads {
    return if nginx_configured(qr/--with-threads/);
    require Test::More;
    Test::More::plan(skip_all => 'nginx is built without threads');
}

# nginx 1.25.1 made HTTP/2 a server directive and deprecated the listen
# parameter
if ($version >= 1025001) {
    $ENV{TEST_NGINX_HTTP2_LISTEN} = '';
    $ENV{TEST_NGINX_HTTP2} = 'http2 on;';

} else {
    $ENV{TEST_NGINX_HTTP2_LISTEN} = 'http2';
    $ENV{TEST_NGINX_HTTP2} = '';
}

1;
