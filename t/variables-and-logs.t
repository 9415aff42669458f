# vim:set ft= ts=4 sw=4 et fdm=marker:

use Test::Nginx::Socket;

use FindBin;
use lib "$FindBin::Bin/inc";
use NginxBinary;

require_threads();

repeat_each(1);

no_shuffle();

plan tests => repeat_each() * (blocks() * 2 + 26);

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



=== TEST 10: HEAD of the status page
--- config
    location /fib_status {
        fib_status;
    }
--- request
HEAD /fib_status
--- response_headers
Content-Type: text/plain; version=0.0.4
--- response_body



=== TEST 11: other methods on the status page: the module's one-line 405
--- request
DELETE /fib_status
--- error_code: 405
--- response_body_like: ^method DELETE is not allowed: use GET or HEAD\n$



=== TEST 12: fib_build_info carries the version that config declares
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
