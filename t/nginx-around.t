# vim:set ft= ts=4 sw=4 et fdm=marker:

# nginx around us: the machinery nginx runs around a fib location, other
# than subrequests, which the module's own flow never shows.  Filters
# that finalize (412 from If-Match, If-Match before If-None-Match; not
# from If-Unmodified-Since, which a number without a modification date
# ignores), "etag off", a Range cut by the range filter, post_action,
# error_page to a URI, to a named location and to another fib location,
# for the module's 400, 405 and fib_timeout's 503.  Each of these
# crashed a worker, lied in the counters or doubled a header once.  A
# master runs, so a crash is a line in the error log, and the runner
# fails the file on it.
#
# Elsewhere: subrequests into a fib location (SSI, add_before_body,
# auth_request) are t/subrequests.t; post_action after a client
# left mid-computation is t/client-abort-sockets.t, with the other client
# aborts; an error_page for the 503s of a full pool needs concurrency and
# is t/concurrency.t; the "if" and "limit_except" blocks are
# t/if-and-limit-except.t; every such directive crossed with every kind of
# request is t/configuration-matrix.t.

use Test::Nginx::Socket;

use FindBin;
use lib "$FindBin::Bin/inc";
use NginxBinary;

require_threads();

repeat_each(1);

no_shuffle();

master_on();
workers(1);

plan tests => repeat_each() * (blocks() * 3 + 9);

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

# nginx's "etag off", as a static file's location would have it
our $EtagOff = <<'_EOC_';
    location /fib {
        fib;
        etag off;
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



=== TEST 2: If-Unmodified-Since is ignored: F(N) has no modification date
RFC 9110 (13.1.4); nginx's not-modified filter would answer 412 to any
date, after computing
--- request
GET /fib?num=30
--- more_headers
If-Unmodified-Since: Thu, 01 Jan 1970 00:00:01 GMT
--- error_code: 200
--- response_body
832040
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



=== TEST 4: the 412 is counted as filtered, not ok
--- request
GET /fib_status
--- response_body_like eval
qr{fib_requests_total\{outcome="ok"\} 2\n.*fib_requests_total\{outcome="filtered"\} 1\n}s
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



=== TEST 10: error_page 405 to a page of the operator's: no Allow of ours
--- config
    location = /fib {
        fib;
        error_page 405 = @refused;
    }
    location @refused {
        return 200 'see the docs';
    }
--- request
POST /fib?num=10
--- response_body chomp
see the docs
--- response_headers
!Allow
--- no_error_log
[alert]
[error]



=== TEST 11: error_page 405 to a fib location: one Allow, not two
--- config
    location = /fib {
        fib;
        error_page 405 = @fib;
    }
    location @fib {
        fib;
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



=== TEST 12: If-Match is evaluated before If-None-Match: 412, not 304
--- config
    location = /fib {
        fib;
    }
--- request
GET /fib?num=10
--- more_headers
If-None-Match: "fib-10"
If-Match: "x"
--- error_code: 412
--- no_error_log
[alert]
[error]



=== TEST 13: both match: 304
--- config
    location = /fib {
        fib;
    }
--- request
GET /fib?num=10
--- more_headers
If-None-Match: "fib-10"
If-Match: "fib-10"
--- error_code: 304
--- response_body
--- no_error_log
[alert]
[error]



=== TEST 14: If-Unmodified-Since of any date and If-None-Match: 304, nothing computed
--- config eval: $::Fib
--- request
GET /fib?num=30
--- more_headers
If-Unmodified-Since: Fri, 01 Jan 2100 00:00:00 GMT
If-None-Match: "fib-30"
--- error_code: 304
--- response_headers
ETag: "fib-30"
--- no_error_log
fib: offloaded



=== TEST 15: etag off: no ETag, as for a static file
--- config eval: $::EtagOff
--- request
GET /fib?num=10
--- response_headers
!ETag
--- response_body
55



=== TEST 16: etag off: If-None-Match with the tag the module would send is no 304
--- config eval: $::EtagOff
--- request
GET /fib?num=10
--- more_headers
If-None-Match: "fib-10"
--- error_code: 200
--- response_body
55
--- no_error_log
[alert]



=== TEST 17: etag off: If-None-Match: * is a 304 still
--- config eval: $::EtagOff
--- request
GET /fib?num=10
--- more_headers
If-None-Match: *
--- error_code: 304
--- response_headers
!ETag
--- no_error_log
[alert]
