# vim:set ft= ts=4 sw=4 et fdm=marker:

# The worker's wait queue in front of a thread pool, right after each
# completion: the next request (pipelined here) is posted at once.  A
# pool whose max_queue holds the tasks the worker posts (one by default)
# takes it even before its thread is back waiting, so nothing is
# refused, nothing logged, and no request is left for its watch timer:
# F(20) takes microseconds, so a fib_timeout of 500ms is only reached by
# a request nothing posts.  (With max_queue=0 nginx 1.22 refuses such a
# post and logs "queue overflow": a pool too small for what it is told.)

use Test::Nginx::Socket;

use FindBin;
use lib "$FindBin::Bin/inc";
use NginxBinary;

require_threads();

repeat_each(1);

no_shuffle();

# requests on the one connection
our $N = 200;

# per request: its status, its body, and the three error log patterns
plan tests => repeat_each() * (blocks() * $N * 5);

run_tests();

__DATA__

=== TEST 1: cheap requests, one after another, to a pool of one thread
--- no_http2
--- main_config
thread_pool noqueue threads=1 max_queue=1;
--- config
    location /fib {
        fib;
        fib_thread_pool noqueue;
        fib_inline_max_cost 0;
        fib_timeout 500ms;
        # the deadline tells a post refused and retried by the timer a
        # second later; an idle-class thread on a busy machine would
        # meet it too
        fib_thread_priority normal;
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
[error]
