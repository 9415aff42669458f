# vim:set ft= ts=4 sw=4 et fdm=marker:

# Hostile clients and operators against a real nginx (master and worker),
# at the socket level: a page with more subrequests than r->main->blocked
# can count and a client that resets it, nginx -s stop with tasks queued,
# results that wait for readers that never read (HTTP/2 with a zero
# window, slow HTTP/1.1 readers), a worker killed with tasks in flight.
# Only outcomes are asserted: statuses, counters, memory, log lines.
# post_action after a client left, and the other client aborts, are in
# t/client-abort-sockets.t.

use strict;
use warnings;

use Test::More;
use IO::Socket::INET;
use IO::Select;
use Socket qw(SOL_SOCKET SO_LINGER SO_RCVBUF);
use File::Path qw(make_path remove_tree);
use Time::HiRes qw(sleep time);
use Cwd qw(cwd);
use FindBin;
use lib "$FindBin::Bin/inc";
use NginxBinary;
use FibServer;

my $srv = FibServer->new('adv');
my $port = $srv->port;
my $plain_port = pick_port();   # HTTP/1.1 beside an HTTP/2 listener

require_threads();

if ($ENV{TEST_NGINX_USE_VALGRIND}) {
    plan skip_all => 'memory and load scenarios say nothing under valgrind';
}

my $h2 = nginx_configured(qr/--with-http_v2_module/);

sub rss_kb {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/status" or return 0;
    my ($kb) = map { /^VmRSS:\s+(\d+)/ ? $1 : () } <$fh>;
    close $fh;
    return $kb // 0;
}

# {{{ 300 offloaded includes on one page, and a client that resets it

# 30 rows of 10 includes: 300 subrequests of one main request (a
# configuration line cannot hold 300); a light page read to its end, a
# heavy one whose clients reset it
my $row = '<!--# include virtual="/fib?num=42" -->' x 10;
my $page = '<!--# include virtual="/row" -->' x 30;
my $light_row = '<!--# include virtual="/fib?num=25" -->' x 10;
my $light_page = '<!--# include virtual="/light_row" -->' x 30;

start_server(log_level => 'info',
             main => 'thread_pool fib threads=1 max_queue=1000;',
             http => <<"END");
    fib_thread_pool fib;
    fib_inline_max_cost 0;

    server {
        listen 127.0.0.1:$port;

        location /fib { fib; }
        location /fib_status { fib_status; }

        location /page {
            ssi on;
            ssi_types text/plain;
            return 200 '$page';
        }

        location /row {
            ssi on;
            ssi_types text/plain;
            return 200 '$row';
        }

        location /light_page {
            ssi on;
            ssi_types text/plain;
            return 200 '$light_page';
        }

        location /light_row {
            ssi on;
            ssi_types text/plain;
            return 200 '$light_row';
        }
    }
END

mark_log();

# read to its end: at most 64 of them computed at once, the others
# refused, each counted once
my %before = map { ($_ => metric($_)) }
             'fib_requests_total{outcome="ok"}',
             'fib_requests_total{outcome="overloaded"}',
             'fib_rejected_total{reason="subrequests"}';

my $light = get('/light_page');
is($light->{status}, 200, 'ssi: the page of 300 includes answers');
like($light->{body},
     qr/\A(?:75025\n|the server is busy: retry later\n){300}\z/,
     'ssi: with 300 answers, each F(25) or the busy page');
ok(log_count(qr/fib: too many computations for one request/),
   'ssi: the refusal is logged');

for my $m ([ 'fib_requests_total{outcome="ok"}', 64 ],
           [ 'fib_requests_total{outcome="overloaded"}', 236 ],
           [ 'fib_rejected_total{reason="subrequests"}', 236 ])
{
    my ($name, $moved) = @$m;
    is(metric($name) - $before{$name}, $moved, "ssi: $name moved by $moved");
}

log_clean('ssi, read to its end');
mark_log();

for my $i (1 .. 3) {
    my $s = connect_to();
    print $s "GET /page HTTP/1.1\r\nHost: localhost\r\n\r\n";
    sleep 0.15;

    # a reset, not a close: no lingering, nothing more to read
    setsockopt($s, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
    close $s;
}

# the queued tasks see their clients gone and end without computing
my $deadline = time + 30;
sleep 0.1 until metric('fib_in_flight') eq '0' || time > $deadline;

is(metric('fib_in_flight'), 0, 'ssi: every task came back');
ok(metric('fib_rejected_total{reason="subrequests"}') >= 3 * (300 - 64),
   'ssi: beyond 64 tasks on one request, the includes are refused');
ok(metric('fib_requests_total{outcome="cancelled"}') >= 3,
   'ssi: the tasks of the pages that were reset are cancelled');
is(get('/fib?num=20')->{body}, "6765\n", 'ssi: the worker serves');
log_clean('ssi');

stop_nginx();

# }}}

# {{{ nginx -s stop with tasks queued: they give up, nobody is killed

# the worker posts all 20 (tasks=20), so that 19 sit in the pool's own
# queue, which ngx_thread_pool_destroy() runs on a fast shutdown; F(45)
# so that the first is still running when the twentieth is posted
start_server(log_level => 'info',
             main => 'thread_pool fib threads=1 max_queue=64;',
             http => <<"END");
    fib_thread_pool fib tasks=20;

    server {
        listen 127.0.0.1:$port;
        location /fib { fib; fib_max_num 93; }
        location /fib_status { fib_status; }
    }
END

my @conns = map { send_req('/fib?num=45') } 1 .. 20;
$deadline = time + 10;
sleep 0.05 until metric('fib_in_flight') eq '20' || time > $deadline;
is(metric('fib_in_flight'), 20, 'stop: 20 tasks queued or running');

mark_log();
ok(stop_nginx('TERM'), 'stop: nginx exits');
wait_all(\@conns, 5);
is(log_count(qr/exited on signal 9/), 0,
   'stop: the worker was not killed by its master');
log_clean('stop');

# }}}

# {{{ finished results waiting for readers: bounded by fib_max_memory

# the syntax of the nginx under test (t/inc/NginxBinary.pm)
my $listen = "listen 127.0.0.1:$port $ENV{TEST_NGINX_HTTP2_LISTEN};\n"
             . "        $ENV{TEST_NGINX_HTTP2}";

SKIP: {
    skip 'nginx without HTTP/2', 5 if !$h2;
    skip 'nghttp (nghttp2-client) is not installed', 5
        if system('nghttp --version >/dev/null 2>&1') != 0;

    start_server(log_level => 'info',
                 main => 'thread_pool fib threads=2 max_queue=1000;',
                 http => <<"END");
    fib_thread_pool fib;
    fib_max_memory 16m;

    server {
        $listen
        location /fib { fib; fib_algorithm fast; }
    }

    server {
        listen 127.0.0.1:$plain_port;
        location /fib { fib; fib_algorithm fast; }
        location /fib_status { fib_status; }
    }
END
    $srv->{status_port} = $plain_port;

    my $worker = (worker_pids())[0];
    get('/fib?num=1000000');
    my $before = rss_kb($worker);

    # 8 connections of 120 streams of F(10^6), 209 kB each, that grant
    # no flow-control window: every finished body stays in the worker
    my @clients;
    for (1 .. 8) {
        my $pid = fork();
        die "fork: $!" if !defined $pid;
        if ($pid == 0) {
            open STDOUT, '>', '/dev/null';
            open STDERR, '>', '/dev/null';
            exec('timeout', '20', 'nghttp', '-n', '-w', '0', '-W', '0',
                 '-m', '120', "http://127.0.0.1:$port/fib?num=1000000");
            exit 127;
        }
        push @clients, $pid;
    }

    # until every stream has been answered or refused
    $deadline = time + 15;
    while (time < $deadline) {
        my $done = metric('fib_computations_total{algorithm="fast",'
                          . 'mode="thread"}')
                   + metric('fib_rejected_total{reason="memory"}');
        last if $done >= 960 + 1;
        sleep 0.2;
    }

    my $grown = rss_kb($worker) - $before;
    my $held = metric('fib_memory_bytes');
    my $refused = metric('fib_rejected_total{reason="memory"}');

    ok($refused > 0, "h2: streams beyond the budget are refused ($refused)");
    ok($held <= 16 * 1024 * 1024,
       "h2: the results held stay within fib_max_memory ($held bytes)");
    # 218 MB before the budget existed; under ASan freed memory waits in
    # its quarantine and RSS says nothing
    SKIP: {
        skip 'RSS means nothing under AddressSanitizer', 1
            if $ENV{ASAN_OPTIONS};
        ok($grown < 64 * 1024, "h2: the worker grew by $grown kB, not "
                               . "hundreds of MB");
    }

    kill 'TERM', @clients;
    waitpid($_, 0) for @clients;

    $deadline = time + 10;
    sleep 0.1 until metric('fib_memory_bytes') eq '0' || time > $deadline;
    is(metric('fib_memory_bytes'), 0, 'h2: all of it is given back');
    log_clean('h2');

    stop_nginx();
    delete $srv->{status_port};
}

# slow HTTP/1.1 readers: 2 MB bodies, small socket buffers, never read
start_server(log_level => 'info',
             main => 'thread_pool fib threads=2 max_queue=100;',
             http => <<"END");
    fib_thread_pool fib;
    fib_max_memory 16m;

    server {
        listen 127.0.0.1:$port sndbuf=32k;
        location /fib { fib; fib_algorithm fast; fib_max_num 10000000; }
        location /fib_status { fib_status; }
    }
END

my @slow;
for (1 .. 20) {
    my $s = IO::Socket::INET->new(Proto => 'tcp') or die $!;
    setsockopt($s, SOL_SOCKET, SO_RCVBUF, pack('i', 4096));
    $s->connect(Socket::pack_sockaddr_in($port,
                                         Socket::inet_aton('127.0.0.1')))
        or die "connect: $!";
    $s->autoflush(1);
    push @slow, send_req('/fib?num=10000000', $s);
}

# read the status line of each, and no more
my %status;
for my $c (@slow) {
    my $sel = IO::Select->new($c->{sock});
    my $head = '';
    my $until = time + 20;
    while ($head !~ /\r\n\r\n/ && time < $until) {
        last if !$sel->can_read($until - time);
        last if !sysread($c->{sock}, my $buf, 1);
        $head .= $buf;
    }
    my ($code) = ($head =~ m{^HTTP/1\.1 (\d+)});
    $status{$code // 'none'}++;
}

ok(($status{200} // 0) >= 1, 'slow: some are answered');
ok(($status{503} // 0) >= 1, 'slow: the others are refused with 503');
ok(metric('fib_memory_bytes') <= 16 * 1024 * 1024,
   'slow: the results held stay within fib_max_memory');

close $_->{sock} for @slow;

$deadline = time + 10;
sleep 0.1 until metric('fib_memory_bytes') eq '0' || time > $deadline;
is(metric('fib_memory_bytes'), 0, 'slow: all of it is given back');
log_clean('slow');

stop_nginx();

# }}}

# {{{ a worker killed with tasks in flight: its gauges go with it

start_server(log_level => 'info',
             main => 'thread_pool fib threads=1 max_queue=64;',
             http => <<"END");
    fib_thread_pool fib;

    server {
        listen 127.0.0.1:$port;
        location /fib { fib; fib_max_num 93; }
        location /fib_status { fib_status; }
    }
END

my $victim = (worker_pids())[0];
@conns = map { send_req('/fib?num=45') } 1 .. 3;
$deadline = time + 10;
sleep 0.05 until metric('fib_in_flight') eq '3' || time > $deadline;

# SIGKILL as for a crash: AddressSanitizer would catch a SIGSEGV
mark_log();
kill_worker($victim);
wait_all(\@conns, 10);

$deadline = time + 10;
sleep 0.05 until ((worker_pids())[0] // $victim) != $victim
                 || time > $deadline;

is(metric('fib_in_flight'), 0, 'crash: a dead worker leaves no task behind');
is(log_count(qr/worker process $victim exited on signal 9/), 1,
   'crash: the worker was killed by the test');
log_clean('crash', qr/worker process $victim exited on signal 9/);

stop_nginx();

# }}}

done_testing();
