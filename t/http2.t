# vim:set ft= ts=4 sw=4 et fdm=marker:

# /fib over HTTP/2 (cleartext, prior knowledge) with curl, on whatever
# nginx runs the suite: the server's HTTP/2 syntax comes from
# t/inc/NginxBinary.pm (`listen ... http2` before 1.25.1, `http2 on;`
# after).  Inline and offloaded computations, several streams on one
# connection, reload and graceful shutdown with a stream in flight, and
# fib_timeout during a shutdown.  Only the order of events is asserted,
# never their timing.  A client that leaves mid-computation is in
# t/client-abort-sockets.t.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/inc";
use NginxBinary;
use FibServer;

use Test::More;
use IO::Socket::INET;
use POSIX ();
use File::Path qw(make_path remove_tree);
use Time::HiRes qw(sleep time);
use Cwd qw(cwd);

my $srv = FibServer->new('h2');
my $port = $srv->port;
my $root = $srv->root;

if (!nginx_configured(qr/--with-http_v2_module/)) {
    plan skip_all => 'nginx is built without HTTP/2';
}

require_threads();

if (`curl -V 2>&1` !~ /^Features:.*\bHTTP2\b/m) {
    plan skip_all => 'curl cannot speak HTTP/2';
}

if ($ENV{TEST_NGINX_USE_VALGRIND}) {
    # nginx runs under valgrind only when Test::Nginx starts it
    plan skip_all => 'not under valgrind';
}

# one HTTP/2 server: inline, offloaded, with a deadline, in an "if"
sub start_h2 {
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

        location /deadline {
            fib;
            fib_thread_pool fib;
            fib_inline_max_cost 0;
            fib_timeout 300ms;
            fib_max_num 93;
        }

        location /inline {
            fib;
            fib_thread_pool off;
        }

        # an "if" block makes a configuration of its own
        location /if {
            fib;
            fib_thread_pool fib;
            fib_inline_max_cost 0;
            if (\$arg_debug) {
                add_header X-Debug on;
            }
        }
    }
END
}

# one request over HTTP/2 with curl; returns { code, version, body }
sub fetch_h2 {
    my ($opts, $uri) = @_;

    open my $fh, '-|', 'curl', '-sS', '--http2-prior-knowledge',
         '--max-time', 30, @$opts, '-o', "$root/body$$",
         '-w', '%{http_code} %{http_version}', "http://127.0.0.1:$port$uri"
        or die "curl: $!";
    my ($code, $version) = split ' ', <$fh> // '';
    close $fh;

    my $body = '';
    if (open my $b, '<', "$root/body$$") {
        local $/;
        $body = <$b> // '';
        close $b;
        unlink "$root/body$$";
    }

    return { code => $code // '', version => $version // '',
             body => $body };
}

# several requests at once as streams of one HTTP/2 connection, with
# nghttp (curl 7.88 cannot reuse a prior-knowledge connection); returns
# the bodies, and "code size uri" of each stream in the order they ended
sub streams_h2 {
    my @uris = @_;

    open my $fh, '-|', 'nghttp', '-s', '-t', 30,
         map { "http://127.0.0.1:$port$_" } @uris
        or die "nghttp: $!";
    my @out = <$fh>;
    close $fh;

    my (@bodies, @streams);
    for (@out) {
        last if /^\*{5} Statistics/;
        push @bodies, $_;
    }
    for (@out) {
        push @streams, "$1 $2 $3"
            if /^\s*\d+\s+\S+\s+\S+\s+\S+\s+(\d+)\s+(\d+)\s+(\S+)$/;
    }

    return (\@bodies, \@streams);
}

# the same in the background: returns the pid of curl
sub background_h2 {
    my ($uri) = @_;

    my $pid = fork;
    die "fork: $!" if !defined $pid;

    if ($pid == 0) {
        my $r = fetch_h2([], $uri);
        open my $fh, '>', "$root/bg.tmp" or POSIX::_exit(1);
        print $fh "$r->{code} $r->{version} $r->{body}";
        close $fh;
        rename "$root/bg.tmp", "$root/bg";
        POSIX::_exit(0);
    }

    return $pid;
}

sub wait_background {
    my ($pid) = @_;
    waitpid $pid, 0;
    open my $fh, '<', "$root/bg" or return { code => '', body => '' };
    my ($code, $version, $body) = split / /, do { local $/; <$fh> }, 3;
    close $fh;
    unlink "$root/bg";
    return { code => $code, version => $version, body => $body };
}

my ($r, $pid);

# a servroot kept by TEST_NGINX_NO_CLEAN holds an older log
remove_tree($root);
start_h2();

# {{{ inline and offloaded, one stream each

$r = fetch_h2([], '/inline?num=10');
is($r->{version}, '2', 'inline: spoken over HTTP/2');
is($r->{code}, 200, 'inline: 200');
is($r->{body}, "55\n", 'inline: F(10)');

$r = fetch_h2([], '/fib?num=30');
is($r->{version}, '2', 'pool: spoken over HTTP/2');
is($r->{code}, 200, 'pool: 200');
is($r->{body}, "832040\n", 'pool: F(30)');
ok(log_count(qr/fib: offloaded F\(30\)/),
   'pool: F(30) was computed in the pool');

log_clean('single');

# }}}

# {{{ offloaded through an "if" block that is taken

$r = fetch_h2(['-D', "$root/headers$$"], '/if?num=25&debug=1');
is($r->{code}, 200, 'if: 200');
is($r->{body}, "75025\n", 'if: F(25)');
open my $hfh, '<', "$root/headers$$" or die $!;
like(do { local $/; <$hfh> }, qr/^x-debug: on\r$/mi, 'if: its header');
close $hfh;
unlink "$root/headers$$";
ok(log_count(qr/fib: offloaded F\(25\)/), 'if: F(25) was computed in the pool');

log_clean('if');

# }}}

# {{{ several streams at once on one connection, inline and offloaded

SKIP: {
skip 'nghttp (nghttp2-client) is not installed', 4
    if system('nghttp --version >/dev/null 2>&1') != 0;

mark_log();

my ($bodies, $streams) = streams_h2(map({ "/fib?num=$_" } 24 .. 27),
                                    map({ "/inline?num=$_" } 10 .. 13));
is_deeply([sort @$bodies],
          [sort map { "$_\n" } 46368, 75025, 121393, 196418, 55, 89, 144,
                                233],
          'streams: every answer');
is_deeply([sort @$streams],
          [sort '200 6 /fib?num=24', '200 6 /fib?num=25',
                '200 7 /fib?num=26', '200 7 /fib?num=27',
                '200 3 /inline?num=10', '200 3 /inline?num=11',
                '200 4 /inline?num=12', '200 4 /inline?num=13'],
          'streams: each on its own stream, complete');

# a cheap stream is not held behind a computation on the same
# connection: F(38) runs a few hundred milliseconds in the pool
($bodies, $streams) = streams_h2('/fib?num=38', '/inline?num=10');
is_deeply($streams, ['200 3 /inline?num=10', '200 9 /fib?num=38'],
          'streams: the cheap one ends first');

log_clean('streams');
}

# }}}

# {{{ reload while an offloaded stream runs: it still gets its answer

mark_log();

$pid = background_h2('/fib?num=38');
ok(wait_log(qr/fib: offloaded F\(38\)/),
   'reload: the task is posted');
kill 'HUP', master_pid();
$r = wait_background($pid);
is("$r->{code} $r->{body}", "200 39088169\n",
   'reload: the stream in flight is answered');
ok(wait_log(qr/worker process \d+ exited with code 0/),
   'reload: the old worker leaves');

$r = fetch_h2([], '/fib?num=21');
is($r->{body}, "10946\n", 'reload: the new worker serves');
log_clean('reload');

# }}}

# {{{ graceful shutdown while an offloaded stream runs

mark_log();

$pid = background_h2('/fib?num=38');
ok(wait_log(qr/fib: offloaded F\(38\)/),
   'quit: the task is posted');
stop_nginx('QUIT');
$r = wait_background($pid);
is("$r->{code} $r->{body}", "200 39088169\n",
   'quit: the stream in flight is answered');
ok(!-e "$root/logs/nginx.pid", 'quit: nginx exited');
log_clean('quit');

# }}}

# {{{ graceful shutdown while a computation overruns fib_timeout

# the module's own timer on the task is what ends the computation; the
# exiting worker waits for it and answers 503 before it leaves
start_h2();
mark_log();

$pid = background_h2('/deadline?num=46');
ok(wait_log(qr/fib: offloaded F\(46\)/), 'deadline: the task is posted');
stop_nginx('QUIT');
$r = wait_background($pid);
is("$r->{code} $r->{body}",
   "503 the computation exceeded fib_timeout 300ms\n",
   'deadline: the stream gets 503');
ok(!-e "$root/logs/nginx.pid", 'deadline: nginx exited');
log_clean('deadline');

# }}}

done_testing();
