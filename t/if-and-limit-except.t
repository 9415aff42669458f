# vim:set ft= ts=4 sw=4 et fdm=marker:

# The blocks nginx gives a configuration of their own inside a fib
# location ("if", "limit_except"), and a few limits: a malformed chunked
# body, a location without a pool, fib_timeout values that would
# overflow.  Every one of them once gave a wrong answer or killed a
# worker.  Subrequests that carry the main request's conditional headers
# are in t/subrequests.t; error_page and If-Match with If-None-Match
# in t/nginx-around.t.

use Test::Nginx::Socket;

use FindBin;
use lib "$FindBin::Bin/inc";
use NginxBinary;

require_threads();

repeat_each(1);

no_shuffle();

plan 'no_plan';

run_tests();

__DATA__

=== TEST 1: an "if" with add_header, offloaded
--- config
    location = /fib {
        fib;
        fib_inline_max_cost 0;
        if ($arg_debug) {
            add_header X-Debug on;
        }
    }
--- request
GET /fib?num=25&debug=1
--- response_body
75025
--- response_headers
X-Debug: on
--- error_log
fib: offloaded F(25)
--- no_error_log
[alert]
[error]



=== TEST 2: an "if" with add_header, inline
--- config
    location = /fib {
        fib;
        if ($arg_debug) {
            add_header X-Debug on;
        }
    }
--- request
GET /fib?num=10&debug=1
--- response_body
55
--- response_headers
X-Debug: on
--- error_log
fib: computing F(10) inline
--- no_error_log
[alert]
[error]



=== TEST 3: an "if" with set, offloaded to a named pool
--- main_config
    thread_pool fibpool threads=1 max_queue=8;
--- config
    location = /fib {
        fib;
        fib_thread_pool fibpool;
        fib_inline_max_cost 0;
        if ($arg_debug) {
            set $dbg yes;
        }
        add_header X-Dbg $dbg;
    }
--- request
GET /fib?num=25&debug=1
--- response_body
75025
--- response_headers
X-Dbg: yes
--- error_log
fib: offloaded F(25)
--- no_error_log
[alert]
[error]



=== TEST 4: an "if" with limit_rate, offloaded
--- config
    location = /fib {
        fib;
        fib_inline_max_cost 0;
        if ($arg_slow) {
            limit_rate 100k;
        }
    }
--- request
GET /fib?num=25&slow=1
--- response_body
75025
--- error_log
fib: offloaded F(25)
--- no_error_log
[alert]
[error]



=== TEST 5: an "if" that is not taken
--- config
    location = /fib {
        fib;
        fib_inline_max_cost 0;
        if ($arg_debug) {
            add_header X-Debug on;
        }
    }
--- request
GET /fib?num=25
--- response_body
75025
--- response_headers
!X-Debug
--- no_error_log
[alert]
[error]



=== TEST 6: HEAD through an "if"
--- config
    location = /fib {
        fib;
        fib_inline_max_cost 0;
        if ($arg_debug) {
            add_header X-Debug on;
        }
    }
--- request
HEAD /fib?num=25&debug=1
--- response_body
--- response_headers
X-Debug: on
Content-Length: 6
--- no_error_log
[alert]
[error]



=== TEST 7: the limits of the location hold inside its "if"
--- config
    location = /fib {
        fib;
        fib_max_num 30;
        if ($arg_debug) {
            add_header X-Debug on;
        }
    }
--- request
GET /fib?num=31&debug=1
--- error_code: 400
--- response_body
num 31 exceeds fib_max_num 30
--- no_error_log
[alert]
[error]



=== TEST 8: limit_except that does not cover GET: GET is still ours
--- config
    location = /fib {
        fib;
        limit_except POST {
            allow 127.0.0.1;
            deny all;
        }
    }
--- request
GET /fib?num=10
--- response_body
55
--- response_headers
ETag: "fib-10"
--- no_error_log
[alert]
[error]



=== TEST 9: limit_except that does not cover GET, offloaded
--- config
    location = /fib {
        fib;
        fib_inline_max_cost 0;
        limit_except POST {
            allow 127.0.0.1;
            deny all;
        }
    }
--- request
GET /fib?num=25
--- response_body
75025
--- error_log
fib: offloaded F(25)
--- no_error_log
[alert]
[error]



=== TEST 10: limit_except GET lets an allowed POST reach the module's 405
--- config
    location = /fib {
        fib;
        limit_except GET {
            allow 127.0.0.1;
            deny all;
        }
    }
--- request
POST /fib?num=10
--- error_code: 405
--- response_body
method POST is not allowed: use GET or HEAD
--- response_headers
Allow: GET, HEAD
--- no_error_log
[alert]
[error]



=== TEST 11: limit_except GET denies a POST from elsewhere
--- config
    location = /fib {
        fib;
        limit_except GET {
            deny all;
        }
    }
--- request
POST /fib?num=10
--- error_code: 403
--- response_body_like: 403 Forbidden
--- no_error_log
[alert]



=== TEST 12: limit_except in a fib_status location: GET gets the page
--- config
    location = /fib_status {
        fib_status;
        limit_except POST {
            allow 127.0.0.1;
            deny all;
        }
    }
--- request
GET /fib_status
--- response_body_like: ^# HELP fib_build_info
--- response_headers
Content-Type: text/plain; version=0.0.4
--- no_error_log
[alert]
[error]



=== TEST 13: a malformed chunked body is the client's mistake
--- config
    location = /fib {
        fib;
        add_header X-Outcome $fib_outcome always;
    }
--- raw_request eval
"GET /fib?num=10 HTTP/1.1\r
Host: localhost\r
Connection: close\r
Transfer-Encoding: chunked\r
\r
zz\r
"
--- error_code: 400
--- response_headers
X-Outcome: bad_request
--- no_error_log
[alert]



=== TEST 14: without a pool the default limit keeps the event loop short
--- config
    location = /fib {
        fib;
        fib_thread_pool off;
    }
--- request
GET /fib?num=21
--- error_code: 400
--- response_body
num 21 exceeds fib_max_num 20
--- no_error_log
[alert]
[error]



=== TEST 15: without a pool, F(20) is still computed inline
--- config
    location = /fib {
        fib;
        fib_thread_pool off;
    }
--- request
GET /fib?num=20
--- response_body
6765
--- error_log
fib: computing F(20) inline
--- no_error_log
[alert]
[error]



=== TEST 16: a huge fib_timeout is no deadline in the past
--- config
    location = /fib {
        fib;
        fib_inline_max_cost 0;
        fib_timeout 18446744073709ms;
    }
--- request
GET /fib?num=25
--- response_body
75025
--- no_error_log
[alert]
[error]
