# vim:set ft= ts=4 sw=4 et fdm=marker:

use Test::Nginx::Socket;

# only for an nginx built without threads: everything is computed inline
if (`${\($ENV{TEST_NGINX_BINARY} || 'nginx')} -V 2>&1` =~ /--with-threads/) {
    Test::More::plan(skip_all => 'nginx is built with threads');
}

repeat_each(1);

plan tests => repeat_each() * (blocks() * 5);

run_tests();

__DATA__

=== TEST 1: a heavy computation runs inline
--- config
    location /fib {
        fib;
        fib_max_num 30;
    }
--- request
GET /fib?num=30
--- response_body
832040
--- error_log
fib: computing F(30) inline
--- no_error_log
[error]
[alert]



=== TEST 2: a big one too, with fib_thread_pool off accepted
--- config
    location /fib {
        fib;
        fib_algorithm fast;
        fib_thread_pool off;
    }
--- request
GET /fib?num=1000
--- response_body_like: ^4346655768693745\d+875\n$
--- error_log
fib: computing F(1000) inline
--- no_error_log
[error]
[alert]
