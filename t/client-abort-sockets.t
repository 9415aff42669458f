# vim:set ft= ts=4 sw=4 et fdm=marker:

# Client aborts at the socket level: clients that leave before their
# answer, and what must follow (the computation cancelled, the thread
# free for the next request, the counters and the memory budget right).
#
# * Clients that send a request body and leave while their computation
#   waits or runs, in every way a body reaches nginx: with the headers,
#   after them, chunked, after "100 Continue", and a client that resets
#   the connection instead of closing it; and one whose request line
#   says HTTP/1.5, which nginx serves as HTTP/1.  nginx discards the body and
#   then, with ngx_http_block_reading, stops looking at the connection;
#   the module's watch must still see the client go.  A client that
#   stays, with a request waiting unread behind its body, is answered.
# * A client that leaves while its task waits behind another on a pool
#   of one thread, and three that leave the worker's own queue: no work
#   done for them.
# * post_action to a proxy after a client left mid-computation: nginx
#   runs the post action while the task is still out.
# * An HTTP/2 client that leaves mid-computation.
#
# The aborts Test::Nginx can express (a body being discarded, a running
# computation, SSI includes mid-page) are in
# t/client-abort.t, which also runs under valgrind.
# Aborts that stay inside larger scenarios: the reset of a page of 300
# includes (t/adversity.t), a client that leaves mid F(10^8)
# (t/big-numbers.t), and the aborted request of every configuration
# of t/configuration-matrix.t.
#
# Only outcomes are asserted: the pool takes the next request long
# before the abandoned computations could have ended, and they are
# logged as cancelled, never as answered.

use strict;
use warnings;

use Test::More;
use IO::Socket::INET;
use IO::Select;
use Socket qw(SOL_SOCKET SO_LINGER);
use File::Path qw(make_path remove_tree);
use Time::HiRes qw(sleep time);
use Cwd qw(cwd);
use FindBin;
use lib "$FindBin::Bin/inc";
use NginxBinary;
use FibServer;

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my $srv = FibServer->new('body');
my $port = $srv->port;
my $root = $srv->root;

require_threads();

if ($ENV{TEST_NGINX_USE_VALGRIND}) {
    plan skip_all => 'abandoned computations say nothing under valgrind';
}

END {
    stop_nginx('TERM') if master_pid();
}

# one pool, every /fib offloaded; the access log says how each ended
sub start_offloading {
    remove_tree($root);

    start_server(log_level => 'info', connections => 64,
                 main => 'thread_pool fib threads=1 max_queue=16;',
                 http => <<"END");
    log_format fib '\$request_uri \$status \$fib_outcome';
    access_log $root/logs/access.log fib;

    server {
        listen 127.0.0.1:$port;

        fib_thread_pool fib;
        fib_inline_max_cost 0;
        fib_max_num 60;
        fib_timeout 600s;

        location /fib { fib; }
    }
END
}


# about 900 KB: more than nginx reads with the headers, so the discard
# goes on after the handler has offloaded the computation
my $body = 'x' x 900000;

sub head {
    my ($uri, @headers) = @_;
    return join "\r\n", "GET $uri HTTP/1.1", 'Host: localhost', @headers,
                        '', '';
}

sub chunked {
    my ($data) = @_;
    my $out = '';
    $out .= sprintf("%x\r\n%s\r\n", length $_, $_)
        for unpack '(a65536)*', $data;
    return $out . "0\r\n\r\n";
}

# how each kind of client sends its request; all of it is sent before
# the client leaves
my %send = (
    first => sub {
        my ($s, $uri) = @_;
        print $s head($uri, 'Content-Length: ' . length $body) . $body;
    },
    second => sub {
        my ($s, $uri) = @_;
        print $s head($uri, 'Content-Length: ' . length $body);
        sleep 0.1;
        print $s $body;
    },
    chunked => sub {
        my ($s, $uri) = @_;
        print $s head($uri, 'Transfer-Encoding: chunked');
        sleep 0.1;
        print $s chunked($body);
    },
    continue => sub {
        my ($s, $uri) = @_;
        print $s head($uri, 'Content-Length: ' . length $body,
                      'Expect: 100-continue');
        my $sel = IO::Select->new($s);
        my $got = '';
        while ($got !~ /\r\n\r\n/ && $sel->can_read(5)) {
            sysread($s, my $buf, 4096) or last;
            $got .= $buf;
        }
        print $s $body if $got =~ m{^HTTP/1\.1 100 };
    },
    reset => sub {
        my ($s, $uri) = @_;
        print $s head($uri, 'Content-Length: ' . length $body) . $body;
    },
    # HTTP/1.5: nginx takes any minor version of HTTP/1 as HTTP/1.1
    minor => sub {
        my ($s, $uri) = @_;
        print $s head($uri, 'Content-Length: ' . length $body)
                 =~ s{ HTTP/1\.1\r\n}{ HTTP/1.5\r\n}r . $body;
    },
);

for my $kind (qw(first second chunked continue reset minor)) {
    start_offloading();
    mark_log();

    # each abandoned computation runs seconds on the only thread, and the
    # two behind it wait for it
    my @gone;
    for my $i (1 .. 3) {
        my $s = connect_to();
        $send{$kind}->($s, "/fib?num=47&gone=$kind$i");
        push @gone, $s;
    }

    # what the clients sent has reached nginx, which discarded it
    sleep 0.5;

    for my $s (@gone) {
        setsockopt($s, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0))
            if $kind eq 'reset';
        close $s;
    }

    # three F(47) take well over five seconds on one thread: the answer
    # comes in time only if the abandoned ones were cancelled
    my $c = send_req("/fib?num=30&next=$kind");
    wait_all([$c], 5);

    is($c->{status}, '200', "$kind: the pool takes the next request");
    is($c->{body}, "832040\n", "$kind: and answers it");

    my $deadline = time + 10;
    sleep 0.05 until access_lines(qr/gone=$kind/) == 3 || time > $deadline;

    my @lines = access_lines(qr/gone=$kind/);
    is(scalar(grep { / 499 cancelled$/ } @lines), 3,
       "$kind: the abandoned requests are logged as cancelled")
        or diag(@lines);
    is(scalar(grep { / 200 / } @lines), 0,
       "$kind: none of them is answered");
    is(log_count(qr/fib: client closed the connection, cancelling F\(47\)/),
       3, "$kind: each computation is cancelled");
    log_clean($kind);

    # fast shutdown: without a fix, the abandoned ones would run on
    stop_nginx('TERM');
}

# {{{ a client that stays is answered: what waits unread is no close

start_offloading();
mark_log();

my $c = { sock => connect_to(), data => '' };
my $s = $c->{sock};
print $s head('/fib?num=42&stays=1', 'Content-Length: ' . length $body)
         . $body . head('/fib?num=10&stays=2', 'Connection: close');

# the second request waits unread in the socket while the first computes
# (a third of a second: the watch looks several times)
wait_all([$c], 30);

my @answers = ($c->{data} =~ m{^HTTP/1\.1 (\d+)}mg);
is("@answers", '200 200', 'stays: both pipelined requests are answered');
like($c->{data}, qr/\r\n\r\n267914296\n.*\r\n\r\n55\n\z/s,
     'stays: with their numbers, in order');
is(log_count(qr/fib: client closed the connection/), 0,
   'stays: nothing is cancelled');
log_clean('stays');
stop_nginx('TERM');

# }}}

# {{{ a client that leaves while its task waits behind another

{
    start_server(connections => 128,
                 main => 'thread_pool fib threads=1 max_queue=16;',
                 http => <<"END");
    server {
        listen 127.0.0.1:$port;

        location /fib {
            fib;
            fib_thread_pool fib;
            fib_max_num 93;
        }
    }
END

    # the task is cancelled and does no work
    mark_log();
    my $heavy = send_req('/fib?num=41');
    sleep 0.05;
    my $gone = send_req('/fib?num=42');
    sleep 0.05;
    close $gone->{sock};
    wait_all([$heavy]);

    is($heavy->{body}, "165580141\n", 'abort: the running request finishes');

    my $deadline = time + 5;
    sleep 0.05 until log_count(qr/fib: F\(42\) finished/) || time > $deadline;

    is(log_count(qr/fib: client closed the connection, cancelling F\(42\)/), 1,
       'abort: the queued computation is cancelled');
    # it ends as soon as a thread takes it (F(42) runs about half a second);
    # the bound leaves room for a loaded machine
    is(log_count(qr/fib: F\(42\) finished: cancelled in [0-9]?[0-9]\.\d+ms/), 1,
       'abort: the queued task did no work');

    my $c = get('/fib?num=20');
    is($c->{body}, "6765\n", 'abort: the next connection is served');
    log_clean('abort');
    stop_nginx();
}

# }}}

# {{{ clients that leave the worker's queue

# with one thread and a pool queue of one, the worker's own queue holds
# the others: they leave it, no work done (the one running takes long
# enough for them all to leave before it ends, or the next would be
# posted first)
{
    start_server(connections => 128,
                 main => 'thread_pool fib threads=1 max_queue=1;',
                 http => <<"END");
    server {
        listen 127.0.0.1:$port;

        location /fib_status {
            fib_status;
        }

        location /fib {
            fib;
            fib_thread_pool fib;
            fib_max_num 93;
        }
    }
END

    mark_log();
    my $heavy = send_req('/fib?num=43');
    my $deadline = time + 10;
    sleep 0.02 until metric('fib_in_flight') eq '1' || time > $deadline;

    my @gone = map { send_req('/fib?num=' . (36 + $_)) } 1 .. 3;
    $deadline = time + 10;
    sleep 0.02 until log_count(qr/fib: offloaded F\(39\)/) || time > $deadline;
    is(metric('fib_waiting'), 3, 'queue: three requests wait');
    close $_->{sock} for @gone;

    wait_all([$heavy]);
    is($heavy->{body}, "433494437\n", 'queue: the running request finishes');

    $deadline = time + 5;
    sleep 0.05 until log_count(qr/fib: F\(3[789]\) finished/) == 3
                     || time > $deadline;

    is(log_count(qr/fib: client closed the connection, cancelling F\(3[789]\)/),
       3, 'queue: the waiting requests of clients that left are cancelled');
    is(log_count(qr/fib: F\(3[789]\) finished: cancelled in 0\.000ms/), 3,
       'queue: without computing');
    is(metric('fib_waiting'), 0, 'queue: and none waits any more');
    log_clean('queue');
    stop_nginx();
}

# }}}

# {{{ post_action to a proxy, and a client that leaves mid-computation

# nginx runs the post action at once (ngx_http_finalize_request() with
# 499 calls ngx_http_post_action() before terminating), while the task
# is still out; the request must still end, and its socket be closed
{
    start_server(log_level => 'info',
                 main => 'thread_pool fib threads=1 max_queue=8;',
                 http => <<"END");
    fib_thread_pool fib;

    server {
        listen 127.0.0.1:$port;

        location = /fib {
            fib;
            fib_max_num 93;
            fib_timeout 10s;
            post_action /after;
        }

        location = /after {
            proxy_pass http://127.0.0.1:$port/ok;
        }

        location = /ok {
            return 204;
        }

        location = /fib_status { fib_status; }
    }
END

    mark_log();

    my $left = send_req('/fib?num=70');
    my $deadline = time + 10;
    sleep 0.05 until metric('fib_in_flight') eq '1' || time > $deadline;
    is(metric('fib_in_flight'), 1, 'post_action: the computation is in flight');

    close $left->{sock};

    $deadline = time + 8;
    sleep 0.1 until metric('fib_requests_total{outcome="cancelled"}') eq '1'
                    || time > $deadline;
    is(metric('fib_requests_total{outcome="cancelled"}'), 1,
       'post_action: the request ended and was counted cancelled');
    is(metric('fib_memory_bytes'), 0,
       'post_action: its memory went back to the budget');

    ok(stop_nginx('QUIT'), 'post_action: nginx exits gracefully');
    is(log_count(qr/open socket #\d+ left/), 0, 'post_action: no socket left');
    log_clean('post_action');
}

# }}}

# {{{ an HTTP/2 client that leaves while its computation runs

SKIP: {
    skip 'nginx is built without HTTP/2', 4
        if !nginx_configured(qr/--with-http_v2_module/);
    skip 'curl cannot speak HTTP/2', 4
        if `curl -V 2>&1` !~ /^Features:.*\bHTTP2\b/m;

    # the syntax of the nginx under test (t/inc/NginxBinary.pm)
    start_server(connections => 128,
                 main => 'thread_pool fib threads=1 max_queue=16;',
                 http => <<"END");
    server {
        listen 127.0.0.1:$port $ENV{TEST_NGINX_HTTP2_LISTEN};
        $ENV{TEST_NGINX_HTTP2}

        location /fib {
            fib;
            fib_thread_pool fib;
            fib_inline_max_cost 0;
            fib_max_num 93;
        }
    }
END

    mark_log();

    my @curl = ('curl', '-sS', '--http2-prior-knowledge', '-o', '-');

    # F(46) takes seconds: curl gives up long before and closes the
    # connection, which cancels the computation
    open my $fh, '-|', @curl, '--max-time', 1, '--no-show-error',
         '-w', '%{http_code}', "http://127.0.0.1:$port/fib?num=46"
        or die "curl: $!";
    my $code = do { local $/; <$fh> } // '';
    close $fh;
    is($code, '000', 'h2 abort: the client left without an answer');
    ok(wait_log(qr/cancelling F\(46\)/),
       'h2 abort: the computation is cancelled');

    open $fh, '-|', @curl, '--max-time', 30,
         "http://127.0.0.1:$port/fib?num=20"
        or die "curl: $!";
    my $body = do { local $/; <$fh> } // '';
    close $fh;
    is($body, "6765\n", 'h2 abort: the next stream is served');
    log_clean('h2 abort');
    stop_nginx();
}

# }}}

done_testing();
