# vim:set ft= ts=4 sw=4 et fdm=marker:

# Client aborts, the half that Test::Nginx can express: a client that
# leaves while its body is being discarded, while its computation runs,
# and while the SSI includes of its page compute; each is cancelled, and
# the same nginx serves the next request.  Declarative, so that these
# run in every mode of the runners, under valgrind and with a reload
# between blocks included.  The other half (a body sent in every way,
# clients that leave a queue, a reset, post_action, HTTP/2), which needs
# sockets and timing, is t/client-abort-sockets.t, whose header also names
# the aborts that stay inside larger scenarios elsewhere.
#
# A master runs, so a crash is a line in the error log, and the runner
# fails the file on it.  Each block's requests are made twice against
# the nginx the block started (repeat_each(2)): a second abort after a
# first one.

use Test::Nginx::Socket;

use FindBin;
use lib "$FindBin::Bin/inc";
use NginxBinary;

require_threads();

repeat_each(2);

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

our $Page = <<'_EOC_';
    location /fib {
        fib;
        fib_max_num 93;
    }

    location /fast {
        fib;
        fib_algorithm fast;
    }
_EOC_

run_tests();

__DATA__

=== TEST 1: a client that leaves while its body is being discarded
--- no_http2
--- config eval: $::Fib
--- raw_request eval
"GET /fib?num=46 HTTP/1.1\r
Host: localhost\r
Content-Length: 100000\r
\r
abc"
--- timeout: 300ms
--- abort
--- wait: 0.5
--- ignore_response
--- error_log
fib: offloaded F(46)
fib: client closed the connection, cancelling F(46)
--- no_error_log
[alert]



=== TEST 2: both are counted as cancelled
--- request
GET /fib_status
--- response_body_like eval
qr{fib_requests_total\{outcome="cancelled"\} 2\n}s
--- no_error_log
[alert]



=== TEST 3: a client that goes away cancels its computation
--- no_http2
--- config
    location /fib {
        fib;
        fib_max_num 93;
    }
--- request
GET /fib?num=80
--- abort
--- timeout: 1
--- wait: 0.5
--- ignore_response
--- error_log
fib: client closed the connection, cancelling F(80)
--- no_error_log
[alert]
[error]
exceeded fib_timeout



=== TEST 4: the same nginx answers the next connection
--- request
GET /fib?num=31
--- response_body
1346269
--- no_error_log
[alert]
[error]



=== TEST 5: the client leaves while two SSI includes compute: both cancelled
--- no_http2
--- config eval
"$::Page
    location /page {
        ssi on;
        ssi_types text/plain;
        return 200 '<!--# include virtual=\"/fib?num=80\" --><!--# include virtual=\"/fib?num=81\" -->';
    }"
--- request
GET /page
--- abort
--- timeout: 1
--- wait: 0.5
--- ignore_response
--- error_log
cancelling F(80)
cancelling F(81)
--- no_error_log
[alert]
[crit]



=== TEST 6: the same nginx serves the next page
--- request
GET /other
--- error_code: 404
--- response_body_like: 404 Not Found
--- no_error_log
[alert]
[crit]
