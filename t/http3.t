# vim:set ft= ts=4 sw=4 et fdm=marker:

# /fib over HTTP/3 (QUIC), where the nginx under test has it (nginx
# 1.25 and later built --with-http_v3_module: `make test-builds` builds
# Debian 13's 1.26, and NGINX_TREE's when it is new enough), with real
# HTTP/3 clients: Debian's gtlsclient (ngtcp2-client) for plain
# requests, and t/h3/h3client.c, on the same libraries, for what must
# happen at a chosen moment: STOP_SENDING, RESET_STREAM, a connection
# closed with streams in flight.
#
# What t/http2.t covers for HTTP/2, here for HTTP/3: inline,
# offloaded well past the first look of the module's timer at the
# client, queued, a full queue's 503, `fast` answers of several MB byte
# for byte, HEAD, Range, If-None-Match, cancellation while queued and
# while running, empty datagrams sent to the port (a source address
# anyone can forge) during a computation, 100 streams on one connection,
# a reload with streams in flight.  After each: the gauges back to 0,
# no worker died, no alert.  Only the order of events is asserted,
# never their timing; the pool computes at normal priority, so that a
# busy machine slows it and nothing else.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/inc";
use NginxBinary;
use FibServer;

use Test::More;
use IO::Socket::INET;
use POSIX ();
use Cwd qw(abs_path);
use File::Path qw(make_path remove_tree);
use Time::HiRes qw(sleep time);

my $srv = FibServer->new('h3');
my $port = $srv->port;
my $plain = pick_port();
my $root = $srv->root;

if (!nginx_configured(qr/--with-http_v3_module/)) {
    plan skip_all => 'nginx is built without HTTP/3 (make test-builds '
                     . 'runs this file on nginx 1.26)';
}

require_threads();

if ($ENV{TEST_NGINX_USE_VALGRIND}) {
    # nginx runs under valgrind only when Test::Nginx starts it
    plan skip_all => 'not under valgrind';
}

if (system('gtlsclient --help >/dev/null 2>&1') != 0) {
    plan skip_all => 'no HTTP/3 client: gtlsclient (Debian\'s '
                     . 'ngtcp2-client) is missing; make deps-quic';
}

# t/h3/h3client.c: built by make (TEST_FIB_H3CLIENT), or here with the
# Makefile's own rule, as t/core-unit.t builds the unit tests
my $h3client = $ENV{TEST_FIB_H3CLIENT};

if (!defined $h3client || $h3client eq '') {
    my $top = abs_path("$FindBin::Bin/..");
    $h3client = "$top/build/h3client";

    if (system("make --no-print-directory -s -C '$top' '$h3client' "
               . '>/dev/null 2>&1') != 0)
    {
        plan skip_all => "cannot build $h3client: its libraries are "
                         . 'missing; make deps-quic';
    }
}

# One HTTP/3 server on $port (QUIC, and TLS over TCP on the same port),
# and the same locations over plain HTTP/1.1 on $plain, where the status
# page is asked.  One pool thread, one task at a time: whatever comes
# while one computes waits in the worker's queue.
sub start_quic {
    my (%o) = @_;

    $srv->{status_port} = $plain;

    my $locations = <<"END";
        location /fib {
            fib;
            fib_thread_pool fib tasks=1;
            fib_thread_priority normal;
            fib_inline_max_cost 0;
            fib_max_num 93;
        }

        location /inline {
            fib;
            fib_thread_pool off;
        }

        location /fast {
            fib;
            fib_algorithm fast;
            fib_thread_pool fib tasks=1;
            fib_thread_priority normal;
            fib_inline_max_cost 0;
            fib_max_num 20000000;
        }

        location = /fib_status {
            fib_status;
        }
END

    start_server(connections => 1024, log_level => 'info',
                 main => 'thread_pool fib threads=1 max_queue=16;',
                 http => <<"END");
    log_format fib '\$server_protocol \$status \$request_uri '
                   '\$fib_mode \$fib_outcome';
    access_log $root/logs/access.log fib;

    fib_max_waiting $o{max_waiting};

    server {
        listen 127.0.0.1:$port ssl;
        listen 127.0.0.1:$port quic;
        http3 on;
        http2 on;

        ssl_certificate $root/conf/cert.pem;
        ssl_certificate_key $root/conf/key.pem;

$locations
    }

    server {
        listen 127.0.0.1:$plain;

$locations
    }
END
}

# {{{ clients

my $runs = 0;

# Runs a client to its end (60 s at most), its stdout and stderr to a
# file: returns that file's name.  In the background, returns its pid
# too; finish() waits for it.
sub run_client {
    my ($background, @cmd) = @_;

    my $out = "$root/client" . $runs++ . '.out';
    my $pid = fork;
    die "fork: $!" if !defined $pid;

    if ($pid == 0) {
        open STDOUT, '>', $out or POSIX::_exit(127);
        open STDERR, '>&', \*STDOUT or POSIX::_exit(127);
        { exec 'timeout', '60', @cmd }
        POSIX::_exit(127);
    }

    return ($pid, $out) if $background;

    waitpid $pid, 0;
    return $out;
}

# gtlsclient: every URI a stream of one connection; returns one record
# per URI, in their order: { status, headers, body, code }, code the
# HTTP/3 error code the stream closed with (256 is H3_NO_ERROR).  The
# bodies are downloaded, each under its path's last part: URIs differ.
sub gtls_cmd {
    my ($o, @uris) = @_;

    my $dir = "$root/dl" . $runs;
    make_path($dir);

    return ($dir, 'gtlsclient', '--no-quic-dump', '--no-http-dump',
            '--exit-on-all-streams-close', '--timeout=30s',
            "--download=$dir", ($o->{method} ? ('-m', $o->{method}) : ()),
            '127.0.0.1', $port, map { "https://127.0.0.1:$port$_" } @uris);
}

sub gtls_parse {
    my ($dir, $out, @uris) = @_;

    my @r = map { { uri => $_, status => '', headers => {}, body => '',
                    code => '' } } @uris;

    open my $fh, '<', $out or die "$out: $!";
    while (<$fh>) {
        if (/^http: stream 0x([0-9a-f]+) \[(:?[^:\]]+): (.*)\]$/) {
            my $s = $r[hex($1) / 4] or next;
            if ($2 eq ':status') {
                $s->{status} = $3;
            } else {
                $s->{headers}{$2} = $3;
            }
        } elsif (/^HTTP stream (\d+) closed with error code (\d+)/) {
            my $s = $r[$1 / 4] or next;
            $s->{code} = $2;
        }
    }
    close $fh;

    for my $s (@r) {
        (my $name = $s->{uri}) =~ s{.*/}{};
        $s->{body} = -e "$dir/$name" ? slurp("$dir/$name") : '';
    }

    remove_tree($dir);
    unlink $out;

    return @r;
}

sub gtls {
    my ($o, @uris) = @_;
    my ($dir, @cmd) = gtls_cmd($o, @uris);
    return gtls_parse($dir, run_client(0, @cmd), @uris);
}

# the same in the background: a handle for finish()
sub gtls_background {
    my ($o, @uris) = @_;
    my ($dir, @cmd) = gtls_cmd($o, @uris);
    my ($pid, $out) = run_client(1, @cmd);
    return { pid => $pid, parse => sub { gtls_parse($dir, $out, @uris) } };
}

# h3client: [options] paths; returns { streams => [ { status, length,
# path, reset } in the order of the paths ], closed, out }
sub oncue_cmd {
    my ($opts, @paths) = @_;
    return ($h3client, '--timeout', 40000, @$opts, '127.0.0.1', $port,
            @paths);
}

sub oncue_parse {
    my ($out, @paths) = @_;

    my %r = (streams => [ map { { path => $_, status => '', length => '',
                                  reset => '' } } @paths ],
             closed => '', out => '');

    open my $fh, '<', $out or die "$out: $!";
    while (<$fh>) {
        $r{out} .= $_;
        if (/^STREAM (\d+) (\S+) (\d+)/) {
            @{ $r{streams}[$1] }{qw(status length)} = ($2, $3);
        } elsif (/^RESET (\d+) (\S+)/) {
            $r{streams}[$1]{reset} = $2;
        } elsif (/^CLOSED (\S+)/) {
            $r{closed} = $1;
        }
    }
    close $fh;
    unlink $out;

    return \%r;
}

sub oncue {
    my ($opts, @paths) = @_;
    return oncue_parse(run_client(0, oncue_cmd($opts, @paths)), @paths);
}

sub oncue_background {
    my ($opts, @paths) = @_;
    my ($pid, $out) = run_client(1, oncue_cmd($opts, @paths));
    return { pid => $pid, parse => sub { oncue_parse($out, @paths) } };
}

sub finish {
    my ($h) = @_;
    waitpid $h->{pid}, 0;
    return $h->{parse}->();
}

# }}}
# {{{ what the server saw

# the access log's lines since mark_log() (access_lines(), in
# t/inc/FibServer.pm) read "protocol status uri mode outcome"

# waits (30 s at most) until the access log has a line for each pattern
sub wait_access {
    my @want = @_;
    my $deadline = time + 30;
    while (time < $deadline) {
        my @l = access_lines();
        return 1 if !grep { my $re = $_; !grep { /$re/ } @l } @want;
        sleep 0.05;
    }
    return 0;
}

# the gauges go back to 0 once the pool and the queue are empty; then
# no worker died and nothing was logged above error
sub settled {
    my ($name) = @_;
    my $deadline = time + 30;
    my ($in_flight, $waiting);
    do {
        $in_flight = metric('fib_in_flight');
        $waiting = metric('fib_waiting');
    } until ("$in_flight $waiting" eq '0 0' || time > $deadline
             || !sleep 0.05);
    is("$in_flight $waiting", '0 0', "$name: the gauges are back to 0");
    log_clean($name);
}

# waits (30 s at most) until a gauge reads the value
sub wait_gauge {
    my ($name, $value) = @_;
    my $deadline = time + 30;
    while (time < $deadline) {
        return 1 if metric($name) eq $value;
        sleep 0.02;
    }
    return 0;
}

sub cancelled {
    my ($n) = @_;
    return log_count(qr/fib: client closed the connection, cancelling F\($n\)/);
}

# }}}

my ($r, @r, $h, $bg);

# a servroot kept by TEST_NGINX_NO_CLEAN holds an older log
remove_tree($root);
make_path("$root/conf", "$root/logs");

# a self-signed certificate: QUIC is always TLS
system("openssl req -x509 -newkey rsa:2048 -nodes -days 2 "
       . "-subj /CN=localhost -keyout '$root/conf/key.pem' "
       . "-out '$root/conf/cert.pem' 2>/dev/null") == 0
    or die "openssl cannot make a certificate\n";

start_quic(max_waiting => 1024);

# {{{ inline, offloaded well past the timer's first look, HEAD

mark_log();
@r = gtls({}, '/inline?num=10');
is("$r[0]{status} $r[0]{body}", "200 55\n", 'inline: F(10)');
is($r[0]{code}, 256, 'inline: the stream ended with H3_NO_ERROR');

# F(45) computes for seconds: the module's timer looks at the client
# while it runs, and the request's FIN was read long before
@r = gtls({}, '/fib?num=45');
is("$r[0]{status} $r[0]{body}", "200 1134903170\n", 'offloaded: F(45)');
is($r[0]{headers}{'content-length'}, 11, 'offloaded: its length');
is($r[0]{headers}{etag}, '"fib-45"', 'offloaded: its ETag');
ok(wait_access(qr{^HTTP/3.0 200 /fib\?num=45 thread ok$}),
   'offloaded: computed in the pool, over HTTP/3');
ok(!cancelled(45), 'offloaded: nothing cancelled it');

@r = gtls({ method => 'HEAD' }, '/fib?num=40');
is($r[0]{status}, 200, 'HEAD: 200');
is($r[0]{headers}{'content-length'}, 10, 'HEAD: the length of F(40)');
is($r[0]{body}, '', 'HEAD: no body');

settled('single');

# }}}
# {{{ Range and If-None-Match

$r = oncue(['-H', 'range: bytes=0-3', '-o', "$root"], '/fib?num=40');
is($r->{streams}[0]{status}, 206, 'range: 206');
is(slurp("$root/0"), '1023', 'range: the first four digits of F(40)');

$r = oncue(['-H', 'if-none-match: "fib-40"'], '/fib?num=40');
is("$r->{streams}[0]{status} $r->{streams}[0]{length}", '304 0',
   'if-none-match: 304, no body');

unlink "$root/0";
settled('conditional');

# }}}
# {{{ queued: every stream of one connection is answered

# one computes, the others wait in the worker's queue, the last ones
# for longer than the timer's first look at them
mark_log();
my @queued = map { "/fib?num=41&s=$_" } 1 .. 6;
@r = gtls({}, @queued);
is_deeply([map { "$_->{status} $_->{body}" } @r],
          [("200 165580141\n") x 6], 'queued: all six answered');
ok(wait_access(map { qr{^HTTP/3.0 200 /fib\?num=41&s=$_ thread ok$} }
                   1 .. 6),
   'queued: each computed in the pool');
ok(!cancelled(41), 'queued: none cancelled');
settled('queued');

# }}}
# {{{ fast: several MB, byte for byte as HTTP/1.1 has them

my $c = $srv->send_req('/fast?num=20000000', $plain);
wait_all([$c], 60);
my $big = $c->{body};

# F(n) has floor(n log10(phi) - log10(sqrt 5)) + 1 digits
like($big, qr/^[1-9]\d*\n\z/, 'fast: F(2*10^7) over HTTP/1.1: digits');
is(length $big, 4179753 + 1, 'fast: all 4179753 of them');
@r = gtls({}, '/fast?num=20000000');
is($r[0]{status}, 200, 'fast: 200 over HTTP/3');
is($r[0]{headers}{'content-length'}, length $big, 'fast: its length');
ok($r[0]{body} eq $big, 'fast: the same bytes over HTTP/3')
    or diag(length $r[0]{body});
settled('fast');

# }}}
# {{{ STOP_SENDING: while running, while queued

# F(47) computes for several seconds; its client stops reading at
# 300 ms, as browsers and ngtcp2 clients cancel once a request is
# acknowledged, and keeps its connection open for longer than F(47)
# takes: the request must end cancelled while the connection is still
# there, not run to its end or wait for the connection to close
sub stop_while_open {
    my ($name, @opts) = @_;

    mark_log();
    my $h = oncue_background([@opts, '--linger', 30000], '/fib?num=47');
    my $deadline = time + 30;
    my @l;
    sleep 0.05 until (@l = grep { m{ /fib\?num=47 } } access_lines())
                     || time > $deadline;
    kill 'TERM', $h->{pid};
    finish($h);
    is($l[0], 'HTTP/3.0 499 /fib?num=47 thread cancelled',
       "$name: cancelled while the connection is open");
    ok(cancelled(47), "$name: the computation stops");
    settled($name);
}

stop_while_open('stop-sending running', '--stop-sending', 300);

# the same while the request's body is still open (no FIN): nginx is
# discarding it, and the module's timer looks at the client every
# 100 ms
stop_while_open('stop-sending body open', '--no-fin', '--stop-sending',
                300);

# one computes; another waits behind it, and its client leaves on cue
sub leave_queue {
    my ($name, @opts) = @_;

    mark_log();
    my $bg = gtls_background({}, '/fib?num=44&first='
                                 . ($name =~ s/\W+/-/gr));
    ok(wait_gauge('fib_in_flight', 1), "$name: one computes");
    oncue([@opts, '--linger', 1000], '/fib?num=45');
    ok(wait_log(qr/cancelling F\(45\)/),
       "$name: the waiting request leaves the queue");
    my @r = finish($bg);
    is("$r[0]{status} $r[0]{body}", "200 701408733\n",
       "$name: the running one is answered");
    ok(wait_access(qr{^HTTP/3.0 499 /fib\?num=45 thread cancelled$}),
       "$name: 499, cancelled");
    settled($name);
}

leave_queue('stop-sending queued', '--stop-sending', 300);

# }}}
# {{{ RESET_STREAM: while running, while queued

# the request's stream is left open (no FIN: a body may follow), then
# reset
stop_while_open('reset running', '--reset', 300);

leave_queue('reset queued', '--reset', 300);

# }}}
# {{{ a connection closed with streams in flight

mark_log();
$r = oncue(['--close', 300], '/fib?num=47', '/fib?num=46', '/fib?num=45');
ok(wait_log(qr/cancelling F\(47\)/), 'close: the running one stops');
ok(wait_log(qr/cancelling F\(46\)/) && wait_log(qr/cancelling F\(45\)/),
   'close: the waiting ones leave the queue');
settled('close');

# }}}
# {{{ empty datagrams to the port cancel nobody

# anyone can send them, from any source address; the module must never
# read the socket every client shares
mark_log();
$bg = gtls_background({}, '/fib?num=45&d=1');
ok(wait_gauge('fib_in_flight', 1), 'datagrams: one computes');
my $udp = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                Proto => 'udp')
    or die "udp: $!";
while (!waitpid($bg->{pid}, POSIX::WNOHANG())) {
    $udp->send('') for 1 .. 500;
}
close $udp;
@r = $bg->{parse}->();
is("$r[0]{status} $r[0]{body}", "200 1134903170\n",
   'datagrams: the computation is answered');
ok(!cancelled(45), 'datagrams: nothing cancelled');
settled('datagrams');

# the same while the request's body is still open: the module's timer
# looks at the client every 100 ms then
mark_log();
$h = oncue_background(['--no-fin', '-o', $root], '/fib?num=45&d=2');
ok(wait_gauge('fib_in_flight', 1), 'datagrams, body open: one computes');
$udp = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Proto => 'udp')
    or die "udp: $!";
while (!waitpid($h->{pid}, POSIX::WNOHANG())) {
    $udp->send('') for 1 .. 500;
}
close $udp;
$r = $h->{parse}->();
is("$r->{streams}[0]{status} " . slurp("$root/0"), "200 1134903170\n",
   'datagrams, body open: the computation is answered');
ok(!cancelled(45), 'datagrams, body open: nothing cancelled');
unlink "$root/0";
settled('datagrams body open');

# }}}
# {{{ 100 streams on one connection

mark_log();
my @hundred = map { $_ % 2 ? "/inline?num=" . ($_ % 21) . "&s=$_"
                            : "/fib?num=" . (20 + $_ % 7) . "&s=$_" }
              1 .. 100;
my %fib = (0 => 0, 1 => 1);
$fib{$_} = $fib{$_ - 1} + $fib{$_ - 2} for 2 .. 26;
@r = gtls({}, @hundred);
is_deeply([map { "$_->{status} $_->{body}" } @r],
          [map { my ($n) = /num=(\d+)/; "200 $fib{$n}\n" } @hundred],
          '100 streams: every answer');
settled('100 streams');

# }}}
# {{{ a full queue: 503 on HTTP/3 too

stop_nginx();
my $deadline = time + 30;
sleep 0.05 while -e "$root/logs/nginx.pid" && time < $deadline;
start_quic(max_waiting => 2);

mark_log();
@r = gtls({}, map { "/fib?num=40&q=$_" } 1 .. 6);
my %codes;
$codes{$_->{status}}++ for @r;
is(($codes{200} // 0) + ($codes{503} // 0), 6, 'full queue: 200s and 503s only');
ok(($codes{200} // 0) >= 3 && ($codes{503} // 0) >= 1,
   'full queue: one running, two waiting, the rest refused')
    or diag(explain(\%codes));
is((grep { $_->{status} == 503 && $_->{headers}{'retry-after'} } @r),
   $codes{503}, 'full queue: each 503 says Retry-After');
settled('full queue');

# }}}
# {{{ a reload with streams in flight

mark_log();
$bg = gtls_background({}, '/fib?num=42&reload=1', '/fib?num=41&reload=1');
sleep 0.3;
kill 'HUP', master_pid();
@r = finish($bg);
is_deeply([map { "$_->{status} $_->{body}" } @r],
          ["200 267914296\n", "200 165580141\n"],
          'reload: the streams in flight are answered');
ok(wait_log(qr/worker process \d+ exited with code 0/),
   'reload: the old worker leaves');
@r = gtls({}, '/fib?num=21');
is("$r[0]{status} $r[0]{body}", "200 10946\n", 'reload: the new worker serves');
settled('reload');

# }}}

done_testing();
