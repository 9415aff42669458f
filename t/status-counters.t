# vim:set ft= ts=4 sw=4 et fdm=marker:

# The status page's counters against a freshly started nginx: every
# series starts at zero, then moves by exactly what was asked.  The
# counters live in shared memory, which a reload keeps (the real
# Test::Nginx's TEST_NGINX_USE_HUP mode reloads between blocks), so
# these checks start their own nginx and compare what moved.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(sleep time);
use FindBin;
use lib "$FindBin::Bin/inc";
use NginxBinary;
use FibServer;

my $srv = FibServer->new('counters');
my $port = $srv->port;

require_threads();

start_server(http => <<"END");
    server {
        listen 127.0.0.1:$port;

        location /fib {
            fib;
        }

        location /fast {
            fib;
            fib_algorithm fast;
        }

        location /fib_status {
            fib_status;
        }

        # an error page's status and a post action's answer come after
        # the module's answer, and do not change how it is counted
        location = /ep404 { error_page 404 /fib?num=10; }
        location = /pa { fib; post_action \@r500; }
        location \@r500 {
            rewrite ^ /r500 break;
            proxy_pass http://127.0.0.1:$port;
        }
        location = /r500 { return 500; }
    }
END

mark_log();

# every series of the page, by name with its labels
sub series {
    my $c = get('/fib_status');
    return { map { /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/ ? ($1 => $2) : () }
             split /\n/, $c->{body} };
}

# {{{ the series and their starting values

my $c = get('/fib_status');
is($c->{status}, 200, 'start: the status page answers');
like($c->{body}, qr/\A\Q# HELP fib_build_info The module's version and the nginx it runs in.
# TYPE fib_build_info gauge\E
fib_build_info\{version="\d+\.\d+\.\d+",nginx="\d+\.\d+\.\d+"\} 1\n.*\Q
# TYPE fib_requests_total counter
fib_requests_total{outcome="ok"} 0
fib_requests_total{outcome="not_modified"} 0
fib_requests_total{outcome="bad_request"} 0
fib_requests_total{outcome="overloaded"} 0
fib_requests_total{outcome="timed_out"} 0
fib_requests_total{outcome="cancelled"} 0
fib_requests_total{outcome="filtered"} 0
fib_requests_total{outcome="error"} 0\E\n.*\Q
fib_rejected_total{reason="queue_full"} 0
fib_rejected_total{reason="memory"} 0
fib_rejected_total{reason="subrequests"} 0\E\n.*\Q
fib_computations_total{algorithm="recursive",mode="inline"} 0
fib_computations_total{algorithm="recursive",mode="thread"} 0
fib_computations_total{algorithm="iterative",mode="inline"} 0
fib_computations_total{algorithm="iterative",mode="thread"} 0
fib_computations_total{algorithm="fast",mode="inline"} 0
fib_computations_total{algorithm="fast",mode="thread"} 0\E\n.*\Q
fib_compute_seconds_total{algorithm="recursive"} 0.000000
fib_compute_seconds_total{algorithm="iterative"} 0.000000
fib_compute_seconds_total{algorithm="fast"} 0.000000\E\n.*\Q
fib_abandoned_compute_seconds_total{algorithm="recursive"} 0.000000
fib_abandoned_compute_seconds_total{algorithm="iterative"} 0.000000
fib_abandoned_compute_seconds_total{algorithm="fast"} 0.000000\E\n.*\Q
fib_in_flight 0\E\n.*\Q
fib_waiting 0\E\n.*\Q
fib_memory_bytes 0\E\n.*\Q
fib_workers 1\E\n.*\Q
fib_max_memory_bytes 67108864\E\n.*\Q
fib_max_waiting 1024\E\n.*\Q
# TYPE fib_compute_seconds histogram
fib_compute_seconds_bucket{le="0.00001"} 0\E\n.*\Q
fib_compute_seconds_bucket{le="+Inf"} 0
fib_compute_seconds_sum 0.000000
fib_compute_seconds_count 0
\E.*\Q
# TYPE fib_queue_seconds histogram
fib_queue_seconds_bucket{le="0.00001"} 0\E\n.*\Q
fib_queue_seconds_bucket{le="+Inf"} 0
fib_queue_seconds_sum 0.000000
fib_queue_seconds_count 0
# HELP fib_location_requests_total\E.*\Q
# TYPE fib_location_compute_seconds_total counter
\E(fib_location_compute_seconds_total\{location="[^"]+"\} 0\.000000\n)*\z/s,
     'start: every series, at zero');

# }}}

# {{{ counters move by exactly what was asked

my $before = series();

my @asked = (['/fib?num=10', 200, qr/^55\n$/],
             ['/fib?num=x', 400, qr/^num/],
             ['/fib?num=30', 200, qr/^832040\n$/],
             ['/fast?num=2000000', 400, qr/^num/],
             ['/fast?num=1000', 200, qr/^4346/]);

for my $r (@asked) {
    my ($uri, $status, $body) = @$r;
    $c = get($uri);
    is($c->{status}, $status, "$uri: $status");
    like($c->{body}, $body, "$uri: its body");
}

my $after = series();

sub moved {
    my ($name) = @_;
    return ($after->{$name} // 'missing') - ($before->{$name} // 0);
}

is(moved('fib_requests_total{outcome="ok"}'), 3, 'moved: 3 ok');
is(moved('fib_requests_total{outcome="not_modified"}'), 0,
   'moved: none not modified');
is(moved('fib_requests_total{outcome="bad_request"}'), 2,
   'moved: 2 bad requests');
is(moved('fib_computations_total{algorithm="recursive",mode="inline"}'), 1,
   'moved: one recursive inline');
is(moved('fib_computations_total{algorithm="recursive",mode="thread"}'), 1,
   'moved: one recursive in the pool');
is(moved('fib_computations_total{algorithm="fast",mode="inline"}'), 1,
   'moved: one fast inline');
is($after->{fib_in_flight}, 0, 'moved: none in flight after');
is(moved('fib_compute_seconds_bucket{le="+Inf"}'), 3,
   'moved: three computations in the histogram');
is(moved('fib_compute_seconds_count'), 3, 'moved: and its count');

# }}}

# {{{ what a filter answered instead is what is counted

# A range past the end of F(30) (7 bytes): nginx's range filter answers
# 416, after the number was computed (GET) or without it (HEAD); the
# not-modified filter answers 412 for an If-Match that does not match.
# None of them is "ok": the client got no number.

$before = series();

@asked = (['/fib?num=30', 'GET', "Range: bytes=100-\r\n", 416],
          ['/fib?num=30', 'HEAD', "Range: bytes=100-\r\n", 416],
          ['/fib?num=30', 'GET', "If-Match: \"fib-31\"\r\n", 412],
          ['/fib?num=30', 'GET', "If-None-Match: \"fib-30\"\r\n", 304],
          ['/fib?num=30', 'GET', "Range: bytes=0-2\r\n", 206]);

for my $r (@asked) {
    my ($uri, $method, $headers, $status) = @$r;
    $c = get($uri, method => $method, headers => $headers);
    my $h = $headers =~ s/\r\n//r;
    is($c->{status}, $status, "$method $uri with $h: $status");
}

$after = series();

is(moved('fib_requests_total{outcome="filtered"}'), 3,
   'filtered: the two 416 and the 412');
is(moved('fib_requests_total{outcome="not_modified"}'), 1,
   'filtered: the 304 is not modified');
is(moved('fib_requests_total{outcome="ok"}'), 1,
   'filtered: only the satisfiable range is ok');
is(moved('fib_location_requests_total{location="/fib",outcome="filtered"}'),
   3, 'filtered: the location counts them so too');

# }}}

# {{{ what came after the answer is not what is counted

$before = series();

@asked = (['/ep404', 404, qr/^55\n$/],
          ['/pa?num=20', 200, qr/^6765\n$/],
          ['/pa?num=x', 400, qr/^num/]);

for my $r (@asked) {
    my ($uri, $status, $body) = @$r;
    $c = get($uri);
    is($c->{status}, $status, "$uri: $status");
    like($c->{body}, $body, "$uri: its body");
}

# a request with a post action is counted once that has run too
sub counted {
    my $n = 0;
    $n += moved("fib_requests_total{outcome=\"$_\"}")
        for qw(ok not_modified bad_request overloaded timed_out cancelled
               filtered error);
    return $n;
}

my $deadline = time + 10;
$after = series();
($after = series()), sleep 0.05 while counted() < 3 && time < $deadline;

is(moved('fib_requests_total{outcome="ok"}'), 2,
   'after: the number sent under error_page 404, and before a post action');
is(moved('fib_requests_total{outcome="bad_request"}'), 1,
   'after: the 400 before a post action');
is(moved('fib_requests_total{outcome="error"}'), 0,
   'after: the post action\'s 500 is not the module\'s');
is(moved('fib_requests_total{outcome="filtered"}'), 0,
   'after: nor is the error page\'s 404');

log_clean('counters');

# }}}

done_testing();
