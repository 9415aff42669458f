# vim:set ft= ts=4 sw=4 et fdm=marker:

use Test::Nginx::Socket;

repeat_each(2);

plan tests => repeat_each() * (blocks() * 4 + 8);

run_tests();

__DATA__

=== TEST 1: F(10), the default recursive algorithm
--- config
    location /fib {
        fib;
    }
--- request
GET /fib?num=10
--- response_body
55
--- no_error_log
[error]
[alert]



=== TEST 2: F(0) and F(1)
--- no_http2
--- config
    location /fib {
        fib;
    }
--- pipelined_requests eval
["GET /fib?num=0", "GET /fib?num=1"]
--- response_body eval
["0\n", "1\n"]
--- error_code eval
[200, 200]
--- no_error_log
[alert]



=== TEST 3: the response headers
--- config
    location /fib {
        fib;
    }
--- request
GET /fib?num=20
--- response_headers
Content-Type: text/plain
Content-Length: 5
ETag: "fib-20"
Cache-Control: public, max-age=31536000, immutable
--- response_body
6765
--- no_error_log
[error]
[alert]



=== TEST 4: recursive with a raised limit
--- config
    location /fib {
        fib;
        fib_max_num 93;
    }
--- request
GET /fib?num=30
--- response_body
832040
--- no_error_log
[error]
[alert]



=== TEST 5: iterative, exact past 64 bits
--- config
    location /fib {
        fib;
        fib_algorithm iterative;
    }
--- request
GET /fib?num=100
--- response_body
354224848179261915075
--- no_error_log
[error]
[alert]



=== TEST 6: fast, F(93) and F(94) around the 64-bit edge
--- no_http2
--- config
    location /fib {
        fib;
        fib_algorithm fast;
    }
--- pipelined_requests eval
["GET /fib?num=93", "GET /fib?num=94"]
--- response_body eval
["12200160415121876738\n", "19740274219868223167\n"]
--- error_code eval
[200, 200]
--- no_error_log
[alert]



=== TEST 7: fast, F(1000) in full
--- config
    location /fib {
        fib;
        fib_algorithm fast;
    }
--- request
GET /fib?num=1000
--- response_body
43466557686937456435688527675040625802564660517371780402481729089536555417949051890403879840079255169295922593080322634775209689623239873322471161642996440906533187938298969649928516003704476137795166849228875
--- no_error_log
[error]
[alert]



=== TEST 8: the algorithm is inherited from the server level
--- config
    fib_algorithm iterative;

    location /fib {
        fib;
    }
--- request
GET /fib?num=94
--- response_body
19740274219868223167
--- no_error_log
[error]
[alert]



=== TEST 9: a prefix location
--- config
    location /fib/ {
        fib;
    }
--- request
GET /fib/sub/?num=10
--- response_body
55
--- no_error_log
[error]
[alert]



=== TEST 10: a big number through the thread pool: F(100000) has 20899 digits
--- config
    location /fib {
        fib;
        fib_algorithm fast;
        fib_max_num 100000;
    }
--- request
GET /fib?num=100000
--- response_body_like: ^259740693472217241661550340212\d{20839}289236362349895374653428746875\n$
--- no_error_log
[error]
[alert]
