# vim:set ft= ts=4 sw=4 et fdm=marker:

# fast on several pool threads: the largest steps of one F(n) are tasks
# of their own, posted on the places of the worker's queue that nobody
# waits for.  The digits are GMP's whatever the number of places; a
# request is one request (one in flight, one computation counted); a
# request that arrives meanwhile is not starved; a deadline and a
# client that leaves stop every piece.  Only outcomes are asserted.

use strict;
use warnings;

use Test::More;
use Digest::SHA qw(sha256_hex);
use Time::HiRes qw(sleep time);
use FindBin;
use lib "$FindBin::Bin/inc";
use NginxBinary;
use FibServer;

my $srv = FibServer->new('pieces');
my $port = $srv->port;
# nobody may wait there: a big number keeps to one place
my $srv0 = FibServer->new('pieces-nowait');
my $port0 = $srv0->port;

require_threads();

if ($ENV{TEST_NGINX_USE_VALGRIND}) {
    plan skip_all => 'F(10^8) under valgrind takes hours';
}

# sha256 of F(n) and its newline, from GMP: mpz_fib_ui(f, n), then
# mpz_get_str(NULL, 10, f); steps split from F(k) of 2048 limbs of
# 10^16, k about 157000: these n are on both sides of the first split
my %gmp = (
    313591  => '5fea55a0cd2a478b548ad5359478f08cb49ade0e65e5a0713d161d219387cb42',
    313592  => '475a7102c88feefabf9ee4042eba34ce4521e40d90494a1af08c20c40d5f6021',
    313593  => 'b30deebc8fadb5455cb3364ddf8b4899631ccef6c06ae4b615c750b7d3ad9bbe',
    627185  => '46e22c706da38e24f42b88408f5f03f5fa50d032eeacfb3af19ac840072e5b41',
    1000000 => '4910cacc5301426acb02007430c3fc38d210674f0bea972e8d354a831a4af73d',
    3000001 => '9a61f2e4d593f7f3dba6f3f583e9a996b50e1b0bddbbbb0dbb3b5f309ae2230f',
);

$srv->write_conf(workers => 1, connections => 256, log_level => 'debug',
                 main => "thread_pool two threads=2 max_queue=16;\n"
                         . "thread_pool one threads=1 max_queue=16;\n"
                         . 'thread_pool tight threads=1 max_queue=1;',
                 http => <<"END");
    fib_max_memory 256m;

    fib_algorithm fast;
    fib_max_num 100000000;
    fib_timeout 120s;

    server {
        listen 127.0.0.1:$port;

        location = /two { fib; fib_thread_pool two tasks=2; }
        location = /one { fib; fib_thread_pool one tasks=1; }
        location = /two_300ms {
            fib; fib_thread_pool two tasks=2; fib_timeout 300ms;
        }
        location = /small {
            fib; fib_algorithm recursive; fib_thread_pool two tasks=2;
            fib_inline_max_cost 0;
        }
        location = /fib_status { fib_status; }

        # a pool smaller than declared (one thread, a queue of one, three
        # tasks posted): it refuses a piece whenever another waits in it
        location = /tight {
            fib; fib_thread_pool tight tasks=3; fib_thread_priority normal;
        }
        location = /tight_small {
            fib; fib_algorithm recursive; fib_thread_pool tight tasks=3;
            fib_thread_priority normal; fib_inline_max_cost 0;
        }
    }
END

$srv0->write_conf(workers => 1, connections => 64, log_level => 'debug',
                  main => 'thread_pool two threads=2 max_queue=16;',
                  http => <<"END");
    fib_max_memory 256m;
    fib_max_waiting 0;

    server {
        listen 127.0.0.1:$port0;

        location = /two {
            fib; fib_algorithm fast; fib_max_num 100000000;
            fib_thread_pool two tasks=2;
        }
        location = /small {
            fib; fib_thread_pool two tasks=2; fib_inline_max_cost 0;
        }
        location = /fib_status { fib_status; }
    }
END

launch_nginx();

# CPU time of each of the worker's threads, in clock ticks
sub thread_cpu {
    my ($pid) = @_;
    my %t;

    for my $stat (glob("/proc/$pid/task/*/stat")) {
        my ($tid) = $stat =~ m{/task/(\d+)/};
        open my $fh, '<', $stat or next;
        my $line = <$fh>;
        close $fh;
        $line =~ s/^.*\) //;
        my @f = split ' ', $line;
        $t{$tid} = $f[11] + $f[12];
    }

    return \%t;
}

sub computed {
    return metric('fib_computations_total{algorithm="fast",mode="thread"}');
}

sub idle {
    my $deadline = time + 30;
    sleep 0.1 while (metric('fib_in_flight') ne '0'
                     || metric('fib_memory_bytes') ne '0')
                    && time < $deadline;
    return metric('fib_in_flight') eq '0'
           && metric('fib_memory_bytes') eq '0';
}

# {{{ GMP's digits, on two places and on one

mark_log();

for my $n (sort { $a <=> $b } keys %gmp) {
    for my $where (qw(two one)) {
        my $c = get("/$where?num=$n");
        is($c->{status}, '200', "F($n) on /$where: 200");
        is(sha256_hex($c->{body}), $gmp{$n}, "F($n) on /$where: GMP's digits");
    }
}

log_clean('digits');

# }}}

# {{{ a step splits only where a piece may get a second place

# nginx's own count of the tasks posted to a pool (a debug line of
# ngx_thread_task_post())
sub tasks_posted {
    my ($srv, $pool) = @_;
    return $srv->log_count(qr/task #\d+ added to thread pool "\Q$pool\E"/);
}

mark_log();
is(get('/two?num=1000000')->{status}, '200', 'F(10^6) on /two: 200');
ok(tasks_posted($srv, 'two') > 1, 'F(10^6) on /two: its steps split');

mark_log();
is(get('/one?num=1000000')->{status}, '200', 'F(10^6) on /one: 200');
is(tasks_posted($srv, 'one'), 1, 'F(10^6) on tasks=1: one task, not split');

# }}}

# {{{ one request, whatever its pieces: in flight once, counted once

mark_log();

my $computed = computed();
my $count = metric('fib_compute_seconds_count');
my $worker = (worker_pids())[0];
my $cpu = thread_cpu($worker);

my $big = send_req('/two?num=100000000');
my (%seen, $small);

# while it computes: a request for the same pool gets a place
sleep 0.2;
$seen{metric('fib_in_flight')}++;
$small = get('/small?num=27');
my $big_left = metric('fib_in_flight') eq '1';
$seen{metric('fib_in_flight')}++ for 1 .. 3;

wait_all([$big], 300);

is($small->{status}, '200', 'beside it: a request for the pool is served');
is($small->{body}, "196418\n", 'beside it: with F(27)');
ok($big_left, 'beside it: while F(10^8) still computes');
is(join(' ', sort keys %seen), '1', 'while it computes: one in flight');
is($big->{status}, '200', 'F(10^8) on two places: 200');
ok(length($big->{body}) == 20898765 && $big->{body} =~ /\A[1-9]\d*\n\z/,
   'F(10^8) on two places: all its digits');
is(computed() - $computed, 1, 'F(10^8) is one computation');

# the worker's threads that took a tenth of its CPU time or more: the
# two threads of the pool, not the event loop
my $after = thread_cpu($worker);
my %grew = map { $_ => $after->{$_} - ($cpu->{$_} // 0) } keys %$after;
my $total = 0;
$total += $_ for values %grew;
my @busy = grep { $_ != $worker && $grew{$_} * 10 >= $total } keys %grew;
is(scalar(@busy), 2, 'F(10^8) on two places: both pool threads computed');
is(metric('fib_compute_seconds_count') - $count, 2,
   'the histogram: it and F(27)');
ok(idle(), 'after it: nothing in flight, no memory held');

log_clean('one request');

# }}}

# {{{ every piece stops: a deadline, a client that leaves

mark_log();

my $c = send_req('/two_300ms?num=100000000');
wait_all([$c], 120);

is($c->{status}, '503', 'fib_timeout 300ms: F(10^8) on two places is a 503');
ok($c->{body} eq "the computation exceeded fib_timeout 300ms\n",
   'fib_timeout 300ms: and says why') or diag(substr($c->{body}, 0, 80));
ok(idle(), 'fib_timeout 300ms: nothing left in flight');

$computed = computed();
my $abandoned = metric('fib_abandoned_compute_seconds_total{algorithm="fast"}');

my $gone = send_req('/two?num=100000000');
sleep 0.5;
close $gone->{sock};

ok(wait_log(qr/client closed the connection, cancelling F\(100000000\)/),
   'leave: the departure is noticed');
ok(idle(), 'leave: nothing left in flight, no memory held');
is(computed() - $computed, 0, 'leave: not computed to its end');
ok(metric('fib_abandoned_compute_seconds_total{algorithm="fast"}')
   > $abandoned, 'leave: its CPU time is counted abandoned');

my $next = get('/two?num=313592');
is(sha256_hex($next->{body}), $gmp{313592}, 'leave: the pool serves on');

log_clean('stops');

# }}}

# {{{ fib_max_waiting 0: a big number leaves the second place to others

$srv0->launch_nginx;
$srv0->mark_log;

my $big2 = $srv0->send_req('/two?num=100000000');
sleep 0.3;

my @small = map { $srv0->get('/small?num=22') } 1 .. 5;

is(join(' ', map { $_->{status} } @small), '200 200 200 200 200',
   'fib_max_waiting 0: beside F(10^8), the others are served, not 503');

wait_all([$big2], 300);
is($big2->{status}, '200', 'fib_max_waiting 0: F(10^8) too');
is($srv0->metric('fib_in_flight'), 0, 'fib_max_waiting 0: none in flight');

$srv0->mark_log;
is($srv0->get('/two?num=1000000')->{status}, '200',
   'fib_max_waiting 0: F(10^6) 200');
is(tasks_posted($srv0, 'two'), 1,
   'fib_max_waiting 0: F(10^6) one task, not split');

$srv0->log_clean('max_waiting 0');
ok($srv0->stop_nginx, 'fib_max_waiting 0: nginx quits');

# }}}

# {{{ a pool that refuses posts: clients that leave still end

# Small requests keep the one-place pool queue full, so that the big
# ones' pieces are refused now and then; their clients leave at once
# and at other moments.  Each must end: the gauges back to 0, and
# nginx quits without waiting for a request nobody finishes.

mark_log();

for my $round (1 .. 12) {
    my $gone = send_req('/tight?num=' . (3000000 + $round));
    my $until = time + 0.1 + 0.1 * ($round % 6);

    while (time < $until) {
        my @load = map { send_req('/tight_small?num=25') } 1 .. 3;
        wait_all(\@load, 60);
    }

    close $gone->{sock};
}

ok(idle(), 'refused posts: every abandoned request ended');

log_clean('refused posts');

# }}}

ok(stop_nginx(), 'nginx quits');

done_testing();
