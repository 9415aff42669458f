# vim:set ft= ts=4 sw=4 et fdm=marker:

use Test::Nginx::Socket;

# the default limit of the recursion: 42 with a thread pool, 20 in an
# nginx without threads, where every computation runs in the event loop
our $Limit = `${\($ENV{TEST_NGINX_BINARY} || 'nginx')} -V 2>&1`
             =~ /--with-threads/ ? 42 : 20;

repeat_each(1);

plan tests => repeat_each() * (blocks() * 4);

run_tests();

__DATA__

=== TEST 1: percent-encoded digits
--- config
    location /fib {
        fib;
    }
--- request
GET /fib?num=%31%30
--- response_body
55
--- no_error_log
[error]
[alert]



=== TEST 2: leading zeros
--- config
    location /fib {
        fib;
    }
--- request
GET /fib?num=007
--- response_body
13
--- no_error_log
[error]
[alert]



=== TEST 3: other arguments are ignored
--- config
    location /fib {
        fib;
    }
--- request
GET /fib?a=1&num=12&b=%zz
--- response_body
144
--- no_error_log
[error]
[alert]



=== TEST 4: empty pairs are ignored
--- config
    location /fib {
        fib;
    }
--- request
GET /fib?&&num=11&&
--- response_body
89
--- no_error_log
[error]
[alert]



=== TEST 5: an encoded key
--- config
    location /fib {
        fib;
    }
--- request
GET /fib?nu%6D=9
--- response_body
34
--- no_error_log
[error]
[alert]



=== TEST 6: a long query with padding
--- config
    location /fib {
        fib;
    }
--- request
GET /fib?num=15&pad=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
--- response_body
610
--- no_error_log
[error]
[alert]



=== TEST 7: many leading zeros
--- config
    location /fib {
        fib;
    }
--- request
GET /fib?num=000000000000000000000000000000000000000016
--- response_body
987
--- no_error_log
[error]
[alert]



=== TEST 8: keys are case-sensitive
--- config
    location /fib {
        fib;
    }
--- request
GET /fib?Num=99&num=8
--- response_body
21
--- no_error_log
[error]
[alert]



=== TEST 9: 400 for no query at all
--- config
    location /fib {
        fib;
    }
--- request
GET /fib
--- error_code: 400
--- response_body
num is missing: use ?num=N
--- error_log eval
qr/\[info\] .*fib: \Qnum is missing: use ?num=N\E, client/
--- no_error_log
[error]



=== TEST 10: 400 for num is absent
--- config
    location /fib {
        fib;
    }
--- request
GET /fib?n=5
--- error_code: 400
--- response_body
num is missing: use ?num=N
--- error_log eval
qr/\[info\] .*fib: \Qnum is missing: use ?num=N\E, client/
--- no_error_log
[error]



=== TEST 11: 400 for num without =
--- config
    location /fib {
        fib;
    }
--- request
GET /fib?num
--- error_code: 400
--- response_body
num has no value
--- error_log eval
qr/\[info\] .*fib: \Qnum has no value\E, client/
--- no_error_log
[error]



=== TEST 12: 400 for num with an empty value
--- config
    location /fib {
        fib;
    }
--- request
GET /fib?num=
--- error_code: 400
--- response_body
num has no value
--- error_log eval
qr/\[info\] .*fib: \Qnum has no value\E, client/
--- no_error_log
[error]



=== TEST 13: 400 for num given twice
--- config
    location /fib {
        fib;
    }
--- request
GET /fib?num=1&num=2
--- error_code: 400
--- response_body
num is given more than once
--- error_log eval
qr/\[info\] .*fib: \Qnum is given more than once\E, client/
--- no_error_log
[error]



=== TEST 14: 400 for a sign
--- config
    location /fib {
        fib;
    }
--- request
GET /fib?num=-5
--- error_code: 400
--- response_body
num must be a non-negative decimal integer
--- error_log eval
qr/\[info\] .*fib: \Qnum must be a non-negative decimal integer\E, client/
--- no_error_log
[error]



=== TEST 15: 400 for a plus
--- config
    location /fib {
        fib;
    }
--- request
GET /fib?num=+5
--- error_code: 400
--- response_body
num must be a non-negative decimal integer
--- error_log eval
qr/\[info\] .*fib: \Qnum must be a non-negative decimal integer\E, client/
--- no_error_log
[error]



=== TEST 16: 400 for an encoded plus
--- config
    location /fib {
        fib;
    }
--- request
GET /fib?num=%2B5
--- error_code: 400
--- response_body
num must be a non-negative decimal integer
--- error_log eval
qr/\[info\] .*fib: \Qnum must be a non-negative decimal integer\E, client/
--- no_error_log
[error]



=== TEST 17: 400 for a space
--- config
    location /fib {
        fib;
    }
--- request
GET /fib?num=%205
--- error_code: 400
--- response_body
num must be a non-negative decimal integer
--- error_log eval
qr/\[info\] .*fib: \Qnum must be a non-negative decimal integer\E, client/
--- no_error_log
[error]



=== TEST 18: 400 for a decimal point
--- config
    location /fib {
        fib;
    }
--- request
GET /fib?num=5.0
--- error_code: 400
--- response_body
num must be a non-negative decimal integer
--- error_log eval
qr/\[info\] .*fib: \Qnum must be a non-negative decimal integer\E, client/
--- no_error_log
[error]



=== TEST 19: 400 for an exponent
--- config
    location /fib {
        fib;
    }
--- request
GET /fib?num=1e1
--- error_code: 400
--- response_body
num must be a non-negative decimal integer
--- error_log eval
qr/\[info\] .*fib: \Qnum must be a non-negative decimal integer\E, client/
--- no_error_log
[error]



=== TEST 20: 400 for hex
--- config
    location /fib {
        fib;
    }
--- request
GET /fib?num=0x10
--- error_code: 400
--- response_body
num must be a non-negative decimal integer
--- error_log eval
qr/\[info\] .*fib: \Qnum must be a non-negative decimal integer\E, client/
--- no_error_log
[error]



=== TEST 21: 400 for letters
--- config
    location /fib {
        fib;
    }
--- request
GET /fib?num=ten
--- error_code: 400
--- response_body
num must be a non-negative decimal integer
--- error_log eval
qr/\[info\] .*fib: \Qnum must be a non-negative decimal integer\E, client/
--- no_error_log
[error]



=== TEST 22: 400 for an encoded NUL after the digits
--- config
    location /fib {
        fib;
    }
--- request
GET /fib?num=5%00x
--- error_code: 400
--- response_body
num must be a non-negative decimal integer
--- error_log eval
qr/\[info\] .*fib: \Qnum must be a non-negative decimal integer\E, client/
--- no_error_log
[error]



=== TEST 23: 400 for an incomplete escape
--- config
    location /fib {
        fib;
    }
--- request
GET /fib?num=%3
--- error_code: 400
--- response_body
num must be a non-negative decimal integer
--- error_log eval
qr/\[info\] .*fib: \Qnum must be a non-negative decimal integer\E, client/
--- no_error_log
[error]



=== TEST 24: 400 for invalid UTF-8
--- config
    location /fib {
        fib;
    }
--- request
GET /fib?num=%C3%28
--- error_code: 400
--- response_body
num must be a non-negative decimal integer
--- error_log eval
qr/\[info\] .*fib: \Qnum must be a non-negative decimal integer\E, client/
--- no_error_log
[error]



=== TEST 25: 400 for a semicolon does not separate
--- config
    location /fib {
        fib;
    }
--- request
GET /fib?num=5;x=1
--- error_code: 400
--- response_body
num must be a non-negative decimal integer
--- error_log eval
qr/\[info\] .*fib: \Qnum must be a non-negative decimal integer\E, client/
--- no_error_log
[error]



=== TEST 26: 400 for above 64 bits
--- config
    location /fib {
        fib;
    }
--- request
GET /fib?num=18446744073709551616
--- error_code: 400
--- response_body
num does not fit in 64 bits
--- error_log eval
qr/\[info\] .*fib: \Qnum does not fit in 64 bits\E, client/
--- no_error_log
[error]



=== TEST 27: 400 for far above 64 bits
--- config
    location /fib {
        fib;
    }
--- request
GET /fib?num=999999999999999999999999999999
--- error_code: 400
--- response_body
num does not fit in 64 bits
--- error_log eval
qr/\[info\] .*fib: \Qnum does not fit in 64 bits\E, client/
--- no_error_log
[error]



=== TEST 28: 400 for above fib_max_num
--- config
    location /fib {
        fib;
    }
--- request
GET /fib?num=43
--- error_code: 400
--- response_body eval
"num 43 exceeds fib_max_num $::Limit\n"
--- error_log eval
qr/\[info\] .*fib: \Qnum 43 exceeds fib_max_num $::Limit\E, client/
--- no_error_log
[error]



=== TEST 29: 400 for 2^64-1 is parsed, then limited
--- config
    location /fib {
        fib;
    }
--- request
GET /fib?num=18446744073709551615
--- error_code: 400
--- response_body eval
"num 18446744073709551615 exceeds fib_max_num $::Limit\n"
--- error_log eval
qr/\[info\] .*fib: \Qnum 18446744073709551615 exceeds fib_max_num $::Limit\E, client/
--- no_error_log
[error]


=== TEST 30: 8 KB of leading zeros
--- config
    location /fib {
        fib;
        fib_max_num 42;
    }
--- request eval
"GET /fib?num=" . ("0" x 8100) . "30"
--- timeout: 20
--- response_body
832040
--- no_error_log
[error]
[alert]



=== TEST 31: a raw NUL byte: nginx refuses the request line itself
--- config
    location /fib {
        fib;
    }
--- raw_request eval
"GET /fib?num=5\0x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
--- error_code: 400
--- response_body_like: 400 Bad Request
--- no_error_log
[alert]
fib: 



=== TEST 32: a request line over 8 KB: nginx answers 414 before the module
--- no_http2
--- config
    location /fib {
        fib;
    }
--- request eval
"GET /fib?num=1&pad=" . ("x" x 9000)
--- error_code: 414
--- response_body_like: 414 Request-URI Too Large
--- no_error_log
[alert]
fib: 
