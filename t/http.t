# vim:set ft= ts=4 sw=4 et fdm=marker:

use Test::Nginx::Socket;

repeat_each(1);

plan tests => repeat_each() * (blocks() * 4 + 32 + 8);

run_tests();

__DATA__

=== TEST 1: POST is not allowed
--- config
    location /fib {
        fib;
    }
--- request
POST /fib?num=10
--- error_code: 405
--- response_headers
Allow: GET, HEAD
Content-Type: text/plain
--- response_body
method POST is not allowed: use GET or HEAD
--- error_log
fib: method POST is not allowed
--- no_error_log
[error]



=== TEST 2: POST with a body: the body is discarded, the answer is still 405
--- config
    location /fib {
        fib;
    }
--- request
POST /fib?num=10
num=20&padding=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
--- error_code: 405
--- response_body
method POST is not allowed: use GET or HEAD
--- no_error_log
[error]
[alert]



=== TEST 3: DELETE is not allowed
--- config
    location /fib {
        fib;
    }
--- request
DELETE /fib?num=10
--- error_code: 405
--- response_headers
Allow: GET, HEAD
--- response_body
method DELETE is not allowed: use GET or HEAD
--- no_error_log
[error]



=== TEST 4: HEAD has the headers of GET and computes nothing
--- config
    location /fib {
        fib;
    }
--- request
HEAD /fib?num=20
--- response_headers
Content-Length: 5
Content-Type: text/plain
ETag: "fib-20"
Cache-Control: public, max-age=31536000, immutable
--- response_body
--- no_error_log
fib: computing
fib: offloaded
[error]



=== TEST 5: HEAD of a huge number: the length is known beforehand
--- config
    location /fib {
        fib;
        fib_algorithm fast;
        fib_max_num 1000000;
    }
--- request
HEAD /fib?num=1000000
--- response_headers
Content-Length: 208989
ETag: "fib-1000000"
--- response_body
--- no_error_log
fib: computing
fib: offloaded
[error]



=== TEST 6: HEAD above the limit is a 400 without a body
--- config
    location /fib {
        fib;
    }
--- request
HEAD /fib?num=50
--- error_code: 400
--- response_headers
Content-Length: 30
--- response_body
--- no_error_log
[error]



=== TEST 7: If-None-Match with our tag: 304, nothing computed
--- config
    location /fib {
        fib;
        fib_max_num 42;
    }
--- request
GET /fib?num=40
--- more_headers
If-None-Match: "fib-40"
--- error_code: 304
--- response_headers
ETag: "fib-40"
Cache-Control: public, max-age=31536000, immutable
!Content-Length
--- response_body
--- no_error_log
fib: computing
fib: offloaded
[error]



=== TEST 8: If-None-Match with a list and a weak tag
--- config
    location /fib {
        fib;
    }
--- request
GET /fib?num=12
--- more_headers
If-None-Match: "fib-1", W/"fib-12" , "x"
--- error_code: 304
--- response_headers
ETag: "fib-12"
--- response_body
--- no_error_log
fib: computing
[error]



=== TEST 9: If-None-Match: *
--- config
    location /fib {
        fib;
    }
--- request
GET /fib?num=12
--- more_headers
If-None-Match: *
--- error_code: 304
--- response_body
--- no_error_log
[error]



=== TEST 10: If-None-Match with another tag: computed as usual
--- config
    location /fib {
        fib;
    }
--- request
GET /fib?num=12
--- more_headers
If-None-Match: "fib-120", "fib-1"
--- response_headers
ETag: "fib-12"
--- response_body
144
--- no_error_log
[error]



=== TEST 11: keep-alive: pipelined requests on one connection, errors included
--- no_http2
--- config
    location /fib {
        fib;
    }
--- pipelined_requests eval
["GET /fib?num=1", "GET /fib?num=2", "GET /fib?num=x", "GET /fib?num=3"]
--- error_code eval
[200, 200, 400, 200]
--- response_body eval
["1\n", "1\n", "num must be a non-negative decimal integer\n", "2\n"]
--- no_error_log
[error]



=== TEST 12: keep-alive: a 405 between GETs
--- no_http2
--- config
    location /fib {
        fib;
    }
--- pipelined_requests eval
["GET /fib?num=4", "DELETE /fib?num=5", "GET /fib?num=6"]
--- error_code eval
[200, 405, 200]
--- response_body eval
["3\n", "method DELETE is not allowed: use GET or HEAD\n", "8\n"]
--- no_error_log
[error]



=== TEST 13: keep-alive: an offloaded request keeps its place in the pipeline
--- no_http2
--- config
    location /fib {
        fib;
        fib_max_num 32;
    }
--- pipelined_requests eval
["GET /fib?num=32", "GET /fib?num=7", "GET /fib?num=31"]
--- error_code eval
[200, 200, 200]
--- response_body eval
["2178309\n", "13\n", "1346269\n"]
--- no_error_log
[error]



=== TEST 14: expires replaces the module's Cache-Control
--- config
    location = /fib {
        fib;
        expires 1h;
    }
--- request
GET /fib?num=10
--- response_headers
Cache-Control: max-age=3600
--- response_body
55
--- no_error_log
[error]
[alert]



=== TEST 15: expires -1 for a load-testing endpoint no cache absorbs
--- config
    location = /fib {
        fib;
        fib_inline_max_cost 0;
        fib_max_num 25;
        expires -1;
    }
--- request
GET /fib?num=25
--- response_headers
Cache-Control: no-cache
--- response_body
75025
--- no_error_log
[error]
[alert]



=== TEST 16: expires off keeps the module's own
--- config
    location = /fib {
        fib;
        expires off;
    }
--- request
GET /fib?num=10
--- response_headers
Cache-Control: public, max-age=31536000, immutable
!Expires
--- response_body
55
--- no_error_log
[error]
[alert]



=== TEST 17: expires on a 304
--- config
    location = /fib {
        fib;
        expires 1h;
    }
--- request
GET /fib?num=10
--- more_headers
If-None-Match: "fib-10"
--- error_code: 304
--- response_headers
Cache-Control: max-age=3600
--- response_body
--- no_error_log
[error]
[alert]



=== TEST 18: fib_status answers POST as fib does
--- config
    location = /fib_status {
        fib_status;
    }
--- request
POST /fib_status
--- error_code: 405
--- response_headers
Allow: GET, HEAD
Content-Type: text/plain
--- response_body
method POST is not allowed: use GET or HEAD
--- no_error_log
[error]
[alert]



=== TEST 19: and OPTIONS
--- config
    location = /fib_status {
        fib_status;
    }
--- request
OPTIONS /fib_status
--- error_code: 405
--- response_headers
Allow: GET, HEAD
--- response_body
method OPTIONS is not allowed: use GET or HEAD
--- no_error_log
[error]
[alert]
