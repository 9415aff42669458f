# vim:set ft= ts=4 sw=4 et fdm=marker:

# The worker's wait queue in front of a thread pool that refuses a task
# while none of the worker's own is in flight.  With max_queue=0, nginx
# 1.22 refuses a task until the pool's thread is back waiting, which it
# may not be yet when the next request comes right after a completion
# (pipelined here).  Such a request must be posted again a millisecond
# later, not left for its own watch timer: F(20) takes microseconds, so
# a fib_timeout of 500ms is only reached by a request nothing posts.

use Test::Nginx::Socket;

if (`${\($ENV{TEST_NGINX_BINARY} || 'nginx')} -V 2>&1` !~ /--with-threads/) {
    Test::More::plan(skip_all => 'nginx is built without threads');
}

repeat_each(1);

no_shuffle();

# requests on the one connection
our $N = 200;

# per request: its status, its body, and the two error log patterns
plan tests => repeat_each() * (blocks() * $N * 4);

run_tests();

__DATA__

=== TEST 1: cheap requests, one after another, to a pool without a queue
--- main_config
thread_pool noqueue threads=1 max_queue=0;
--- config
    location /fib {
        fib;
        fib_thread_pool noqueue;
        fib_inline_max_cost 0;
        fib_timeout 500ms;
    }
--- pipelined_requests eval
[("GET /fib?num=20") x $::N]
--- error_code eval
[(200) x $::N]
--- response_body eval
[("6765\n") x $::N]
--- timeout: 120s
--- no_error_log
exceeded fib_timeout
[alert]
