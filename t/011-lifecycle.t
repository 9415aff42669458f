# vim:set ft= ts=4 sw=4 et fdm=marker:

# The paths nginx takes around an offloaded request that the module's own
# flow never shows: filters that finalize (412), error_page to a URI
# and to a named location, post_action.  Each of these crashed a worker
# or lied in the counters once.  A client that leaves while its body is
# being discarded is in t/027-client-abort-declarative.t, with the other
# client aborts.  A master runs, so a crash is a line in the error
# log, and the runner fails the file on it.

use Test::Nginx::Socket;

use FindBin;
use lib "$FindBin::Bin/inc";
use NginxBinary;

require_threads();

repeat_each(1);

no_shuffle();

master_on();
workers(1);

plan tests => repeat_each() * (blocks() * 3 + 4);

# every computation goes to the pool
our $Fib = <<'_EOC_';
    location /fib {
        fib;
        fib_inline_max_cost 0;
        fib_max_num 93;
    }

    location /fib_status {
        fib_status;
    }
_EOC_

run_tests();

__DATA__

=== TEST 1: If-Match that does not match: a 412 from the not_modified filter
--- config eval: $::Fib
--- request
GET /fib?num=30
--- more_headers
If-Match: "x"
--- error_code: 412
--- error_log
fib: offloaded F(30)
--- no_error_log
[alert]



=== TEST 2: If-Unmodified-Since: a 412 as well
--- request
GET /fib?num=30
--- more_headers
If-Unmodified-Since: Thu, 01 Jan 1970 00:00:01 GMT
--- error_code: 412
--- error_log
fib: offloaded F(30)
--- no_error_log
[alert]



=== TEST 3: a Range is cut by nginx's range filter, counted ok
--- request
GET /fib?num=30
--- more_headers
Range: bytes=2-
--- error_code: 206
--- response_body
2040
--- error_log
fib: offloaded F(30)
--- no_error_log
[alert]



=== TEST 4: the two 412s are counted as filtered, not ok
--- request
GET /fib_status
--- response_body_like eval
qr{fib_requests_total\{outcome="ok"\} 1\n.*fib_requests_total\{outcome="filtered"\} 2\n}s
--- no_error_log
[alert]



=== TEST 5: post_action after an offloaded computation
--- config
    location /fib {
        fib;
        fib_inline_max_cost 0;
        post_action @after;
    }

    location @after {
        return 204;
    }
--- request
GET /fib?num=30
--- response_body
832040
--- error_log
fib: offloaded F(30)
--- no_error_log
[alert]



=== TEST 6: error_page for fib_timeout's 503, to a URI
--- config
    location /fib {
        fib;
        fib_max_num 93;
        fib_timeout 100ms;
        error_page 503 = /busy;
    }

    location /busy {
        return 200 "busy page\n";
    }
--- request
GET /fib?num=80
--- response_body
busy page
--- error_log
fib: the computation exceeded fib_timeout 100ms
--- no_error_log
[alert]



=== TEST 7: error_page for a 400, to a named location
--- config
    location /fib {
        fib;
        error_page 400 = @bad;
    }

    location @bad {
        return 200 "bad page\n";
    }
--- request
GET /fib?num=x
--- response_body
bad page
--- error_log
fib: num must be a non-negative decimal integer
--- no_error_log
[alert]



=== TEST 8: error_page without "=": the status stays, nginx's page goes
--- config
    location /fib {
        fib;
        fib_inline_max_cost 0;
        fib_max_num 93;
        fib_timeout 100ms;
        error_page 503 /busy.txt;
    }

    location = /busy.txt {
        return 200 "try later\n";
    }
--- request
GET /fib?num=80
--- error_code: 503
--- response_body
try later
--- no_error_log
[alert]



=== TEST 9: an error_page for another status changes nothing
--- config
    location /fib {
        fib;
        error_page 404 = /nope;
    }
--- request
GET /fib?num=x
--- error_code: 400
--- response_body
num must be a non-negative decimal integer
--- no_error_log
[alert]
