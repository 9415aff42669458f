# vim:set ft= ts=4 sw=4 et fdm=marker:

use Test::Nginx::Socket;

use FindBin;
use lib "$FindBin::Bin/inc";
use NginxBinary;

require_threads();

repeat_each(1);

no_shuffle();

plan tests => repeat_each() * (blocks() * 4 + 11);

run_tests();

__DATA__

=== TEST 1: a heavy computation goes to the default pool
--- config
    location /fib {
        fib;
    }
--- request
GET /fib?num=30
--- response_body
832040
--- error_log
fib: offloaded F(30) with recursive to the thread pool
--- no_error_log
[error]
[alert]



=== TEST 2: a cheap one is computed inline
--- config
    location /fib {
        fib;
    }
--- request
GET /fib?num=10
--- response_body
55
--- error_log
fib: computing F(10) inline
--- no_error_log
fib: offloaded
[error]



=== TEST 3: fib_thread_pool off computes everything inline
--- config
    location /fib {
        fib;
        fib_thread_pool off;
        fib_max_num 30;
    }
--- request
GET /fib?num=30
--- response_body
832040
--- error_log
fib: computing F(30) inline
--- no_error_log
fib: offloaded
[error]



=== TEST 4: a declared pool, named at the http level, declared after it
--- http_config
    fib_thread_pool fibpool;
--- main_config
    thread_pool fibpool threads=1 max_queue=8;
--- config
    location /fib {
        fib;
        fib_algorithm iterative;
    }
--- request
GET /fib?num=50000
--- timeout: 20
--- response_body_like: ^1077773489307297478027903885\d+\n$
--- error_log
fib: offloaded F(50000) with iterative to the thread pool
--- no_error_log
[error]
[alert]



=== TEST 5: fib_inline_max_cost 0 sends even F(1) to the pool
--- config
    location /fib {
        fib;
        fib_inline_max_cost 0;
    }
--- request
GET /fib?num=1
--- response_body
1
--- error_log
fib: offloaded F(1)
--- no_error_log
[error]
[alert]



=== TEST 6: fib_inline_max_cost 1s keeps F(30) inline
--- config
    location /fib {
        fib;
        fib_inline_max_cost 1s;
    }
--- request
GET /fib?num=30
--- response_body
832040
--- error_log
fib: computing F(30) inline
--- no_error_log
fib: offloaded
[error]



=== TEST 7: fib_timeout cancels a long computation with a 503
--- config
    location /fib {
        fib;
        fib_max_num 93;
        fib_timeout 100ms;
    }
--- request
GET /fib?num=60
--- error_code: 503
--- response_body
the computation exceeded fib_timeout 100ms
--- error_log
fib: the computation exceeded fib_timeout 100ms
--- no_error_log
[alert]
[error]



=== TEST 8: F(93), the documented maximum, is offloaded and meets fib_timeout
--- config
    location /fib {
        fib;
        fib_max_num 93;
        fib_timeout 300ms;
    }
--- request
GET /fib?num=93
--- error_code: 503
--- response_body
the computation exceeded fib_timeout 300ms
--- error_log
fib: offloaded F(93) with recursive to the thread pool
fib: the computation exceeded fib_timeout 300ms
--- no_error_log
fib: computing F(93) inline
[alert]
[error]



=== TEST 9: the recursion above F(40) leaves the event loop whatever the estimate
--- config
    location /fib {
        fib;
        fib_inline_max_cost 4s;
        fib_timeout 100ms;
    }
--- request
GET /fib?num=41
--- error_code: 503
--- response_body
the computation exceeded fib_timeout 100ms
--- error_log
fib: offloaded F(41) with recursive to the thread pool
--- no_error_log
fib: computing F(41) inline
[error]



=== TEST 10: without a pool the deadline still ends an inline computation
--- config
    location /fib {
        fib;
        fib_thread_pool off;
        fib_max_num 93;
        fib_timeout 200ms;
    }
--- request
GET /fib?num=93
--- error_code: 503
--- response_body
the computation exceeded fib_timeout 200ms
--- error_log
fib: computing F(93) inline
--- no_error_log
[alert]
[error]



=== TEST 11: an outer limit above 93 applies as 93 to a recursive location
--- http_config
    fib_max_num 1000;
--- config
    location /fib {
        fib;
        fib_algorithm recursive;
    }
--- request
GET /fib?num=94
--- error_code: 400
--- response_body
num 94 exceeds fib_max_num 93
--- error_log
fib: num 94 exceeds fib_max_num 93
