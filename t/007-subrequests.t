# vim:set ft= ts=4 sw=4 et fdm=marker:

# /fib as the target of subrequests: nginx's own SSI includes, with
# computations inline and in the pool.  A client that leaves mid-page is
# in t/027-client-abort-declarative.t, with the other client aborts.

use Test::Nginx::Socket;

use FindBin;
use lib "$FindBin::Bin/inc";
use NginxBinary;

require_threads();

repeat_each(2);

no_shuffle();

plan tests => repeat_each() * (blocks() * 4 + 2);

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
