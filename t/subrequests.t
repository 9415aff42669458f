# vim:set ft= ts=4 sw=4 et fdm=marker:

# /fib as the target of subrequests: nginx's own SSI includes, with
# computations inline and in the pool, several in a page, one that
# fails; SSI, add_before_body and auth_request subrequests that carry
# the main request's If-None-Match (they are answered, the main request
# alone gets its 304), and an auth_request subrequest that computes
# nothing.  A client that leaves mid-page is in
# t/client-abort.t, with the other client aborts;
# mirror and the rest crossed with every kind of request are in
# t/configuration-matrix.t.

use Test::Nginx::Socket;

use FindBin;
use lib "$FindBin::Bin/inc";
use NginxBinary;

require_threads();

repeat_each(2);

no_shuffle();

plan tests => repeat_each() * (blocks() * 4 + 5);

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

=== TEST 1: an inline include
--- config eval
"$::Page
    location /page {
        ssi on;
        ssi_types text/plain;
        return 200 'a<!--# include virtual=\"/fib?num=10\" -->b';
    }"
--- request
GET /page
--- response_body chomp
a55
b
--- no_error_log
[error]
[alert]



=== TEST 2: an offloaded include
--- config eval
"$::Page
    location /page {
        ssi on;
        ssi_types text/plain;
        return 200 'a<!--# include virtual=\"/fib?num=30\" -->b';
    }"
--- request
GET /page
--- response_body chomp
a832040
b
--- error_log
fib: offloaded F(30)
--- no_error_log
[error]
[alert]



=== TEST 3: two offloaded includes and an inline one, in page order
--- config eval
"$::Page
    location /page {
        ssi on;
        ssi_types text/plain;
        return 200 '<!--# include virtual=\"/fib?num=32\" -->-<!--# include virtual=\"/fib?num=5\" -->-<!--# include virtual=\"/fast?num=1000\" -->-<!--# include virtual=\"/fib?num=31\" -->.';
    }"
--- request
GET /page
--- response_body_like: ^2178309\n-5\n-4346655768693745\d+875\n-1346269\n\.$
--- no_error_log
[error]
[alert]
[crit]



=== TEST 4: an include that fails: its 400 body takes its place
--- config eval
"$::Page
    location /page {
        ssi on;
        ssi_types text/plain;
        return 200 '[<!--# include virtual=\"/fib?num=x\" -->]';
    }"
--- request
GET /page
--- response_body chomp
[num must be a non-negative decimal integer
]
--- no_error_log
[error]
[alert]



=== TEST 5: an SSI include with the main request's If-None-Match, inline
--- config
    location = /fib {
        fib;
    }
    location = /page {
        ssi on;
        ssi_types text/plain;
        return 200 'F(10)=<!--# include virtual="/fib?num=10" -->';
    }
--- request
GET /page
--- more_headers
If-None-Match: "fib-10"
--- response_body
F(10)=55
--- no_error_log
[alert]
[error]



=== TEST 6: an SSI include with the main request's If-None-Match, offloaded
--- config
    location = /fib {
        fib;
        fib_inline_max_cost 0;
    }
    location = /page {
        ssi on;
        ssi_types text/plain;
        return 200 'F(25)=<!--# include virtual="/fib?num=25" -->';
    }
--- request
GET /page
--- more_headers
If-None-Match: "fib-25"
--- response_body
F(25)=75025
--- error_log
fib: offloaded F(25)
--- no_error_log
[alert]
[error]



=== TEST 7: add_before_body with the main request's If-None-Match
--- config
    location = /ten {
        set $args num=10;
        fib;
    }
    location = /page {
        addition_types text/plain;
        add_before_body /ten;
        return 200 'page';
    }
--- request
GET /page
--- more_headers
If-None-Match: "fib-10"
--- response_body chomp
55
page
--- no_error_log
[alert]
[error]



=== TEST 8: auth_request into a fib location with If-None-Match
--- config
    location = /auth {
        internal;
        set $args num=10;
        fib;
    }
    location = /page {
        auth_request /auth;
        fib;
    }
--- request
GET /page?num=12
--- more_headers
If-None-Match: "fib-10"
--- response_body
144
--- no_error_log
[alert]
[error]



=== TEST 9: the main request itself still gets its 304
--- config
    location = /fib {
        fib;
    }
--- request
GET /fib?num=10
--- more_headers
If-None-Match: "fib-10"
--- error_code: 304
--- response_body
--- no_error_log
[alert]
[error]



=== TEST 10: an auth_request subrequest computes nothing
--- config
    location = /auth {
        internal;
        set $args num=35;
        fib;
    }
    location = /page {
        auth_request /auth;
        fib;
    }
--- request
GET /page?num=12
--- response_body
144
--- no_error_log
fib: offloaded F(35)
fib: computing F(35)
[alert]
[error]
