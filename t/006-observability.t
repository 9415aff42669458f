# vim:set ft= ts=4 sw=4 et fdm=marker:

use Test::Nginx::Socket;

# the thread pool tests need an nginx built with threads
if (`${\($ENV{TEST_NGINX_BINARY} || 'nginx')} -V 2>&1` !~ /--with-threads/) {
    Test::More::plan(skip_all => 'nginx is built without threads');
}

repeat_each(1);

no_shuffle();

plan tests => repeat_each() * (blocks() * 2 + 36);

our $HeaderConfig = <<'_EOC_';
        add_header X-Fib-Num $fib_num always;
        add_header X-Fib-Algorithm $fib_algorithm always;
        add_header X-Fib-Mode $fib_mode always;
        add_header X-Fib-Outcome $fib_outcome always;
        add_header X-Fib-Queue-Time $fib_queue_time always;
        add_header X-Fib-Compute-Time $fib_compute_time always;
_EOC_

our $PromLine = qr/(?:# HELP [a-z_]+ [^\n]+|# TYPE [a-z_]+ (?:counter|gauge|histogram)|[a-z_]+(?:\{[a-z_]+="[^"\n]*"(?:,[a-z_]+="[^"\n]*")*\})? [0-9]+(?:\.[0-9]+)?)\n/;

run_tests();

__DATA__

=== TEST 1: variables of an inline computation
--- config eval
"location /fib { fib; $::HeaderConfig }"
--- request
GET /fib?num=10
--- response_headers_like
X-Fib-Num: 10
X-Fib-Algorithm: recursive
X-Fib-Mode: inline
X-Fib-Outcome: ok
X-Fib-Queue-Time: 0\.000
X-Fib-Compute-Time: \d+\.\d{3}
--- response_body
55



=== TEST 2: variables of a computation in the pool
--- config eval
"location /fib { fib; fib_algorithm iterative; $::HeaderConfig }"
--- request
GET /fib?num=20000
--- response_headers_like
X-Fib-Num: 20000
X-Fib-Algorithm: iterative
X-Fib-Mode: thread
X-Fib-Outcome: ok
X-Fib-Queue-Time: \d+\.\d{3}
X-Fib-Compute-Time: \d+\.\d{3}
--- response_body_like: ^253116\d+\n$



=== TEST 3: variables of a 304: nothing computed
--- config eval
"location /fib { fib; $::HeaderConfig }"
--- request
GET /fib?num=10
--- more_headers
If-None-Match: "fib-10"
--- error_code: 304
--- response_headers
X-Fib-Num: 10
X-Fib-Outcome: not_modified
!X-Fib-Mode
!X-Fib-Compute-Time



=== TEST 4: variables of a 400 that could not be parsed
--- config eval
"location /fib { fib; $::HeaderConfig }"
--- request
GET /fib?num=abc
--- error_code: 400
--- response_headers
X-Fib-Outcome: bad_request
X-Fib-Algorithm: recursive
!X-Fib-Num
!X-Fib-Mode



=== TEST 5: variables of a 400 above the limit
--- config eval
"location /fib { fib; fib_algorithm fast; $::HeaderConfig }"
--- request
GET /fib?num=1000001
--- error_code: 400
--- response_headers
X-Fib-Outcome: bad_request
X-Fib-Num: 1000001
X-Fib-Algorithm: fast
!X-Fib-Mode



=== TEST 6: variables of a timeout
--- config eval
"location /fib { fib; fib_max_num 93; fib_timeout 50ms; $::HeaderConfig }"
--- request
GET /fib?num=70
--- error_code: 503
--- response_headers
X-Fib-Outcome: timed_out
X-Fib-Mode: thread
X-Fib-Num: 70



=== TEST 7: every variable in a log_format
--- http_config
    log_format fib '$request_uri n=$fib_num a=$fib_algorithm m=$fib_mode '
                   'o=$fib_outcome q=$fib_queue_time c=$fib_compute_time';
--- config
    location /fib {
        fib;
        access_log $TEST_NGINX_SERVER_ROOT/logs/fib.log fib;
    }

    location /log {
        alias $TEST_NGINX_SERVER_ROOT/logs/fib.log;
    }
--- request
GET /fib?num=30
--- response_body
832040



=== TEST 8: the log line of the previous request
--- request
GET /log
--- response_body_like: ^/fib\?num=30 n=30 a=recursive m=thread o=ok q=\d+\.\d{3} c=\d+\.\d{3}\n$



=== TEST 9: a fresh status page: every series at 0, Prometheus text
--- config
    location /fib_status {
        fib_status;
    }
--- request
GET /fib_status
--- response_headers
Content-Type: text/plain; version=0.0.4
--- response_body_like eval
qr/\A$::PromLine+\z/
--- no_error_log
[error]



=== TEST 10: the series and their starting values
--- request
GET /fib_status
--- response_body_like eval
qr/\A\Q# HELP fib_build_info The module's version and the nginx it runs in.
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
\E(fib_location_compute_seconds_total\{location="[^"]+"\} 0\.000000\n)*\z/s



=== TEST 11: counters move by exactly what was asked
--- config
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
--- pipelined_requests eval
["GET /fib?num=10", "GET /fib?num=x", "GET /fib?num=30", "GET /fast?num=2000000", "GET /fast?num=1000", "GET /fib_status"]
--- error_code eval
[200, 400, 200, 400, 200, 200]
--- response_body_like eval
[qr/^55\n$/, qr/^num/, qr/^832040\n$/, qr/^num/, qr/^4346/,
qr/fib_requests_total\{outcome="ok"\} 3\nfib_requests_total\{outcome="not_modified"\} 0\nfib_requests_total\{outcome="bad_request"\} 2\n.*fib_computations_total\{algorithm="recursive",mode="inline"\} 1\nfib_computations_total\{algorithm="recursive",mode="thread"\} 1\n.*fib_computations_total\{algorithm="fast",mode="inline"\} 1\n.*fib_in_flight 0\n.*fib_compute_seconds_bucket\{le="\+Inf"\} 3\n.*fib_compute_seconds_count 3\n/s]



=== TEST 12: HEAD of the status page
--- config
    location /fib_status {
        fib_status;
    }
--- request
HEAD /fib_status
--- response_headers
Content-Type: text/plain; version=0.0.4
--- response_body



=== TEST 13: other methods on the status page: the module's one-line 405
--- request
DELETE /fib_status
--- error_code: 405
--- response_body_like: ^method DELETE is not allowed: use GET or HEAD\n$



=== TEST 14: fib_build_info carries the version that config declares
--- config
    location /fib_status {
        fib_status;
    }
--- request
GET /fib_status
--- response_body_like eval
my ($v) = (do { local $/; open my $f, '<', 'config' or die; <$f> }
           =~ /^ngx_http_fib_version=(\S+)$/m);
qr/^fib_build_info\{version="\Q$v\E",nginx="\d+\.\d+\.\d+"\} 1$/m
