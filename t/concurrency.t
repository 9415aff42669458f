# vim:set ft= ts=4 sw=4 et fdm=marker:

# What Test::Nginx cannot express: several connections at once against a
# real nginx (master and worker), queue overflow, isolation of cheap
# requests from heavy ones, reload and graceful shutdown while tasks run.
# Only the order of events is asserted, never their timing.  Clients
# that leave while their task waits are in t/client-abort-sockets.t.

use strict;
use warnings;

use Test::More;
use IO::Socket::INET;
use File::Path qw(make_path remove_tree);
use Time::HiRes qw(sleep time);
use Cwd qw(cwd);
use FindBin;
use lib "$FindBin::Bin/inc";
use NginxBinary;
use FibServer;

my $srv = FibServer->new('conc');
my $root = $srv->root;
my $port = $srv->port;

require_threads();

if ($ENV{TEST_NGINX_USE_VALGRIND}) {
    # timing-driven scenarios say nothing under valgrind's slowdown
    plan skip_all => 'not under valgrind';
}

# one pool, /fib on it with what the scenario adds, and a status page
sub start_fib {
    my ($pool, $location, $workers, $listen, $http) = @_;

    $workers //= 1;
    $listen //= '';
    $http //= '';

    $srv->write_conf(workers => $workers, connections => 128,
                     main => "thread_pool fib $pool;", http => <<"END");
    $http

    server {
        listen 127.0.0.1:$port $listen;

        location /fib_status {
            fib_status;
        }

        location /fib {
            fib;
            fib_thread_pool fib;
            fib_max_num 93;
            $location
        }

        location /dflt {
            fib;
            fib_thread_pool default;
        }

        location \@busy {
            return 200 "busy page\\n";
        }
    }
END

    launch_nginx();
}

my ($c, @conns, @order);

# The worker posts one task at a time to each pool unless told more
# (fib_thread_pool tasks=), and a pool takes it without a word when its
# max_queue is at least that: a pool without a queue refuses a task
# posted right after a completion, before its thread is back waiting,
# and nginx logs that as the misconfiguration it is.  So the pools of
# one thread here have a queue of one.

# {{{ overflow: a pool without a queue answers 503 beyond its threads

# nothing waits in the worker's own queue either
start_fib('threads=1 max_queue=1', '', 1, '', 'fib_max_waiting 0;');

# until its thread waits for work, a pool without a queue takes nothing
for (1 .. 50) {
    last if get('/fib?num=25')->{status} eq '200';
    sleep 0.05;
}

# past the window of a warning the warm-up may have logged
sleep 1.1;
mark_log();

@conns = map { send_req('/fib?num=40') } 1 .. 6;
wait_all(\@conns);

my @ok = grep { $_->{status} eq '200' } @conns;
my @busy = grep { $_->{status} eq '503' } @conns;

ok(@ok >= 1, 'overflow: at least one computed');
ok(@busy >= 1, 'overflow: at least one rejected with 503');
is(@ok + @busy, 6, 'overflow: nothing but 200 and 503');
is(scalar(grep { $_->{body} ne "102334155\n" } @ok), 0,
   'overflow: every 200 is F(40)');
is(scalar(grep { $_->{data} !~ /\r\nRetry-After: 1\r\n/ } @busy), 0,
   'overflow: every 503 has Retry-After: 1');
is(scalar(grep { $_->{body} ne "the server is busy: retry later\n" } @busy),
   0, 'overflow: every 503 says why');
is(log_count(qr/\[warn\].*fib: thread pool and fib_max_waiting are full/), 1,
   'overflow: one warning for the burst, not one per request');
ok(log_count(qr/thread pool "fib" queue overflow/) <= 1,
   "overflow: at most one of nginx's own overflow errors, not one per 503");

# a post right after a task ends may still find the thread busy in
# nginx's books: a moment later it is free again
for (1 .. 20) {
    $c = get('/fib?num=30');
    last if $c->{status} eq '200';
    sleep 0.05;
}
is($c->{body}, "832040\n", 'overflow: the pool takes work again after it');
log_clean('overflow');

# }}}

stop_nginx();

# {{{ a burst the configuration can serve: answered, and nothing logged

start_fib('threads=1 max_queue=1', '');
mark_log();

@conns = map { send_req('/fib?num=32') } 1 .. 5;
wait_all(\@conns);

is(scalar(grep { $_->{status} eq '200' && $_->{body} eq "2178309\n" }
          @conns), 5, 'burst: five requests on one thread all answered');
is(log_count(qr/\[error\]/), 0,
   "burst: no error logged, nginx's queue overflow least of all");
log_clean('burst');
stop_nginx();

# }}}

# {{{ an error_page answers for the 503s: with its headers, not ours

start_fib('threads=1 max_queue=1', 'error_page 503 = @busy;', 1, '',
            'fib_max_waiting 0;');
for (1 .. 50) {
    last if get('/fib?num=25')->{status} eq '200';
    sleep 0.05;
}
mark_log();

@conns = map { send_req('/fib?num=40') } 1 .. 6;
wait_all(\@conns);

@ok = grep { $_->{body} eq "102334155\n" } @conns;
@busy = grep { $_->{body} eq "busy page\n" } @conns;

ok(@busy >= 1, 'error_page 503: at least one refusal answered by it');
is(@ok + @busy, 6, 'error_page 503: F(40) or the page, nothing else');
is(scalar(grep { $_->{data} =~ /\r\nRetry-After:/i } @busy), 0,
   "error_page 503: its answers carry no Retry-After of the module's");
log_clean('error_page 503');

# }}}

stop_nginx();

# {{{ isolation, with one thread and a queue

start_fib('threads=1 max_queue=16', '');
mark_log();

# a heavy request occupies the only thread; a cheap one on another
# connection is answered before it
my $heavy = send_req('/fib?num=42');
sleep 0.1;
my $cheap = send_req('/fib?num=10');
@order = wait_all([$heavy, $cheap]);

is($cheap->{body}, "55\n", 'isolation: the cheap request is answered');

# the pool thread that computed runs in the idle class (policy 5), the
# worker's own thread does not
my ($worker) = map { /\[debug\] (\d+)#\d+: \*\d+ fib: offloaded/ ? $1 : () }
               log_lines();
my %policy;
for my $stat (glob "/proc/$worker/task/*/stat") {
    open my $fh, '<', $stat or next;
    my @f = split ' ', (<$fh> =~ s/^.*\) //sr);
    close $fh;
    my ($tid) = ($stat =~ m{task/(\d+)/});
    $policy{$tid} = $f[38];
}
is($policy{$worker}, 0, 'priority: the event loop keeps the normal class');
ok((grep { $_ == 5 } values %policy) >= 1,
   'priority: the computing pool thread is in the idle class');
is($heavy->{body}, "267914296\n", 'isolation: the heavy one too');
is($order[0], $cheap, 'isolation: the cheap answer came first');

# }}}

# {{{ reload while a heavy request runs: it still gets its answer

mark_log();
$heavy = send_req('/fib?num=42');
sleep 0.1;
kill 'HUP', master_pid();
wait_all([$heavy]);

is($heavy->{body}, "267914296\n", 'reload: the request in flight is answered');

my $deadline = time + 10;
sleep 0.05 until log_count(qr/exit$/) || time > $deadline;
$c = get('/fib?num=21');
is($c->{body}, "10946\n", 'reload: the new worker serves');
log_clean('reload');

# }}}

# {{{ graceful shutdown while a heavy request runs

mark_log();
$heavy = send_req('/fib?num=42');
sleep 0.1;
kill 'QUIT', master_pid();
wait_all([$heavy]);

is($heavy->{body}, "267914296\n", 'quit: the request in flight is answered');
stop_nginx();
ok(!-e "$root/logs/nginx.pid", 'quit: nginx exited');
log_clean('quit');

# }}}

# {{{ fib_timeout reaches queued tasks as well as running ones

start_fib('threads=1 max_queue=16', 'fib_timeout 200ms;');
mark_log();

@conns = map { send_req('/fib?num=60') } 1 .. 2;
wait_all(\@conns);

is(scalar(grep { $_->{status} eq '503' } @conns), 2,
   'timeout: both the running and the queued task end in 503');
is(scalar(grep {
       $_->{body} ne "the computation exceeded fib_timeout 200ms\n"
   } @conns), 0, 'timeout: with the message');
log_clean('timeout');

# }}}

stop_nginx();

# {{{ the worker's queue: a flood of clients, leavers, deadlines

# a short queue: the accepted requests complete, the others are refused
start_fib('threads=1 max_queue=1', '', 1, '', 'fib_max_waiting 4;');
for (1 .. 50) {
    last if get('/fib?num=25')->{status} eq '200';
    sleep 0.05;
}
mark_log();

@conns = map { send_req('/fib?num=36') } 1 .. 20;
wait_all(\@conns);

@ok = grep { $_->{status} eq '200' } @conns;
@busy = grep { $_->{status} eq '503' } @conns;

ok(@ok >= 5, 'flood: the running one and the 4 waiting ones are answered');
ok(@busy >= 1, 'flood: beyond fib_max_waiting, 503');
is(@ok + @busy, 20, 'flood: nothing but 200 and 503');
is(scalar(grep { $_->{body} ne "14930352\n" } @ok), 0,
   'flood: every 200 is F(36)');
is(scalar(grep { $_->{data} !~ /\r\nRetry-After: 1\r\n/ } @busy), 0,
   'flood: every 503 has Retry-After: 1');
log_clean('flood');
stop_nginx();

# the default queue: with one thread and no pool queue, nobody is refused
start_fib('threads=1 max_queue=1', '');
mark_log();

@conns = map { send_req('/fib?num=30') } 1 .. 40;
wait_all(\@conns);

is(scalar(grep { $_->{status} eq '200' && $_->{body} eq "832040\n" }
          @conns), 40, 'queue: 40 requests on one thread all answered');

log_clean('queue');
stop_nginx();

# a waiting request meets its deadline while the task before it runs
start_fib('threads=1 max_queue=1', 'fib_timeout 300ms;');
mark_log();

@conns = map { send_req('/fib?num=60') } 1 .. 3;
wait_all(\@conns);

is(scalar(grep { $_->{status} eq '503' } @conns), 3,
   'deadline: running and waiting requests end in 503');
# the running one computed until its deadline; the waiting ones, whose
# deadlines passed while they waited, at most for the moment between
# the two (they arrived within it)
my @ms = sort { $a <=> $b }
         map { /fib: F\(60\) finished: timed out in (\d+\.\d+)ms/ ? $1 : () }
         log_lines();
is(scalar @ms, 3, 'deadline: three timed out');
ok(@ms == 3 && $ms[2] >= 200 && $ms[1] < 100,
   "deadline: only the running one computed (ms: @ms)");
log_clean('deadline');
stop_nginx();

# }}}

# {{{ nginx's default pool, which aio threads shares, keeps the normal class

start_fib('threads=1 max_queue=16', '');
mark_log();
is(get('/dflt?num=32')->{body}, "2178309\n", 'default pool: computed');

($worker) = map { /\[debug\] (\d+)#\d+: \*\d+ fib: offloaded/ ? $1 : () }
            log_lines();
my @classes;
for my $stat (glob "/proc/$worker/task/*/stat") {
    open my $fh, '<', $stat or next;
    my @f = split ' ', (<$fh> =~ s/^.*\) //sr);
    close $fh;
    push @classes, $f[38];
}
ok(@classes > 1, 'default pool: the worker has pool threads');
is(scalar(grep { $_ == 5 } @classes), 0,
   'default pool: no thread of it is in the idle class');
stop_nginx();

# }}}

# {{{ the status page sums every worker and survives a reload

# reuseport spreads connections over both workers by their ports
start_fib('threads=1 max_queue=64', '', 2, 'reuseport');
mark_log();

@conns = map { send_req('/fib?num=' . (10 + $_ % 5)) } 1 .. 20;
push @conns, map { send_req('/fib?num=x') } 1 .. 3;
wait_all(\@conns);

my %pids = map { /\[debug\] (\d+)#\d+: \*\d+ fib: computing/ ? ($1 => 1) : () }
           log_lines();
is(scalar keys %pids, 2, 'status: both workers computed');
is(metric('fib_requests_total{outcome="ok"}'), 20,
   'status: the ok total of both workers');
is(metric('fib_requests_total{outcome="bad_request"}'), 3,
   'status: the bad_request total of both workers');
is(metric('fib_computations_total{algorithm="recursive",mode="inline"}'), 20,
   'status: the computations of both workers');

kill 'HUP', master_pid();
$deadline = time + 10;
sleep 0.05 until log_count(qr/reconfiguring/) || time > $deadline;
sleep 0.3;

is(metric('fib_requests_total{outcome="ok"}'), 20,
   'status: the totals survive a reload');
get('/fib?num=12');
is(metric('fib_requests_total{outcome="ok"}'), 21,
   'status: and go on counting after it');
log_clean('status');

# }}}

stop_nginx();

done_testing();
