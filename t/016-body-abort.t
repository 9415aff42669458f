# vim:set ft= ts=4 sw=4 et fdm=marker:

# Clients that send a request body and leave while their computation
# waits or runs, in every way a body reaches nginx: with the headers,
# after them, chunked, after "100 Continue", and a client that resets
# the connection instead of closing it.  nginx discards the body and
# then, with ngx_http_block_reading, stops looking at the connection;
# the module's watch must still see the client go.  Only outcomes are
# asserted: the pool (one thread) takes the next request long before the
# abandoned computations could have ended, and they are logged as
# cancelled, never as answered.

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

sub access_lines {
    my ($re) = @_;
    open my $fh, '<', "$root/logs/access.log" or return ();
    my @lines = grep { /$re/ } <$fh>;
    close $fh;
    return @lines;
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
);

for my $kind (qw(first second chunked continue reset)) {
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

done_testing();
