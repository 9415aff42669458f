# vim:set ft= ts=4 sw=4 et fdm=marker:

# What the README tells operators about configurations around the module:
# why every example uses exact locations, where the variables have values
# (not in `return`, which runs before the module), and gzip in front of
# the ETag.

use Test::Nginx::Socket;

repeat_each(1);

plan tests => repeat_each() * (blocks() * 4 + 13);

run_tests();

__DATA__

=== TEST 1: an exact location answers its own URI
--- config
    location = /fib {
        fib;
    }
--- request
GET /fib?num=5
--- response_body
5
--- no_error_log
[error]
[alert]



=== TEST 2: and nothing else that starts with it
--- config
    location = /fib {
        fib;
    }
--- request
GET /fibonacci?num=5
--- error_code: 404
--- response_body_like: 404 Not Found
--- no_error_log
[alert]
[crit]



=== TEST 3: a prefix location also answers /fibonacci
--- config
    location /fib {
        fib;
    }
--- request
GET /fibonacci?num=5
--- response_body
5
--- no_error_log
[error]
[alert]



=== TEST 4: and takes /fib_status when no exact location claims it
--- config
    location /fib {
        fib;
    }
--- request
GET /fib_status
--- error_code: 400
--- response_body
num is missing: use ?num=N
--- no_error_log
[error]
[alert]



=== TEST 5: exact locations side by side: /fib_status stays the status page
--- config
    location = /fib {
        fib;
    }

    location = /fib_status {
        fib_status;
    }
--- request
GET /fib_status
--- response_body_like: ^# HELP fib_build_info
--- no_error_log
[error]
[alert]



=== TEST 6: return in a fib location answers first: the variables are empty
--- config
    location = /fib {
        fib;
        return 200 "n=$fib_num a=$fib_algorithm o=$fib_outcome\n";
    }
--- request
GET /fib?num=10
--- response_body
n= a= o=
--- no_error_log
[error]
[alert]



=== TEST 7: set runs before the module too, add_header after it
--- config
    location = /fib {
        fib;
        set $early "[$fib_num]";
        add_header X-Early $early always;
        add_header X-Late "[$fib_num]" always;
    }
--- request
GET /fib?num=10
--- response_headers
X-Early: []
X-Late: [10]
--- response_body
55
--- no_error_log
[error]
[alert]



=== TEST 8: log_format sees them, for answers and for errors
--- no_http2
--- http_config
    log_format fib '$fib_num $fib_algorithm $fib_mode $fib_outcome';
--- config
    location = /fib {
        fib;
        access_log logs/fib.log fib;
    }

    location = /fib.log {
        root logs;
    }
--- pipelined_requests eval
["GET /fib?num=10", "GET /fib?num=ten", "GET /fib.log"]
--- response_body eval
["55\n", "num must be a non-negative decimal integer\n",
 "10 recursive inline ok\n- recursive - bad_request\n"]
--- error_code eval
[200, 400, 200]
--- no_error_log
[error]
[alert]



=== TEST 9: gzip in front: the ETag becomes weak
--- config
    gzip on;
    gzip_types text/plain;
    gzip_min_length 1;

    location = /fib {
        fib;
        fib_max_num 42;
    }
--- request
GET /fib?num=30
--- more_headers
Accept-Encoding: gzip
--- response_headers
Content-Encoding: gzip
ETag: W/"fib-30"
--- no_error_log
[error]
[alert]



=== TEST 10: and a client that does not take gzip still gets the strong one
--- config
    gzip on;
    gzip_types text/plain;
    gzip_min_length 1;

    location = /fib {
        fib;
        fib_max_num 42;
    }
--- request
GET /fib?num=30
--- response_headers
!Content-Encoding
ETag: "fib-30"
--- response_body
832040
--- no_error_log
[error]
[alert]



=== TEST 11: the weak tag gives a 304
--- config
    gzip on;
    gzip_types text/plain;
    gzip_min_length 1;

    location = /fib {
        fib;
        fib_max_num 42;
    }
--- request
GET /fib?num=30
--- more_headers
Accept-Encoding: gzip
If-None-Match: W/"fib-30"
--- error_code: 304
--- response_body
--- no_error_log
[error]
[alert]



=== TEST 12: and so does the strong one under gzip
--- config
    gzip on;
    gzip_types text/plain;
    gzip_min_length 1;

    location = /fib {
        fib;
        fib_max_num 42;
    }
--- request
GET /fib?num=30
--- more_headers
Accept-Encoding: gzip
If-None-Match: "fib-30"
--- error_code: 304
--- response_body
--- no_error_log
[error]
[alert]
