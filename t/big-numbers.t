# vim:set ft= ts=4 sw=4 et fdm=marker:

# F(10^8), the largest number the module computes (almost 21 million
# digits), in a real worker at the socket level: fib_max_memory is a
# bound of what GMP really takes, fib_timeout stops fast between its
# steps, and a client that leaves frees its pool thread.
# Only outcomes are asserted: statuses, bodies, counters, the worker's
# peak memory (VmHWM), log lines.

use strict;
use warnings;

use Test::More;
use File::Path qw(make_path remove_tree);
use Time::HiRes qw(sleep time);
use Cwd qw(cwd);
use FindBin;
use lib "$FindBin::Bin/inc";
use NginxBinary;
use FibServer;

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my $srv = FibServer->new('big');
my $port = $srv->port;
my $root = $srv->root;

# F(10^8) has 20898764 digits
my $digits = 20898764;

my $f1000 = '434665576869374564356885276750406258025646605173717804024817'
            . '290895365554179490518904038798400792551692959225930803226347'
            . '752096896232398733224711616429964409065331879382989696499285'
            . '16003704476137795166849228875';

require_threads();

if ($ENV{TEST_NGINX_USE_VALGRIND}) {
    plan skip_all => 'F(10^8) under valgrind takes hours';
}

$srv->write_conf(workers => 1, connections => 64, log_level => 'info',
                 main => "thread_pool two threads=2 max_queue=16;\n"
                         . 'thread_pool one threads=1 max_queue=16;',
                 http => <<"END");
    # one F(10^8) fits (its result and what it computes with: about
    # 140 MiB), two do not
    fib_max_memory 256m;

    fib_algorithm fast;
    fib_max_num 100000000;
    fib_timeout 120s;

    server {
        listen 127.0.0.1:$port;

        location = /fast { fib; fib_thread_pool two; }
        location = /fast_100ms {
            fib; fib_thread_pool two; fib_timeout 100ms;
        }
        location = /one { fib; fib_thread_pool one; fib_inline_max_cost 0; }
        location = /fib_status { fib_status; }
    }
END

launch_nginx();

sub hwm_kb {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/status" or return 0;
    my ($kb) = map { /^VmHWM:\s+(\d+)/ ? $1 : () } <$fh>;
    close $fh;
    return $kb // 0;
}

sub fast_computed {
    return metric('fib_computations_total{algorithm="fast",mode="thread"}');
}

# {{{ fib_max_memory 256m: one F(10^8) at a time, and the worker's peak

mark_log();

# the master listens before its worker is forked
my $worker;
my $deadline = time + 10;
sleep 0.05 until ($worker = (worker_pids())[0]) || time > $deadline;
get('/fast?num=10');
my $before = hwm_kb($worker);

my @two = map { send_req('/fast?num=100000000') } 1 .. 2;
wait_all(\@two, 120);

my @status = sort map { $_->{status} } @two;
is("@status", '200 503', 'memory: of two F(10^8), the budget admits one');

my ($ok) = grep { $_->{status} eq '200' } @two;
ok(defined $ok && length($ok->{body}) == $digits + 1
   && $ok->{body} =~ /\A[1-9][0-9]*\n\z/,
   'memory: the one admitted has all its digits');

my ($refused) = grep { $_->{status} eq '503' } @two;
like($refused ? $refused->{data} : '', qr/\r\nRetry-After: 1\r\n/i,
     'memory: the other is refused before computing, with Retry-After');

# one computation grows it by about 80 MB; under ASan freed
# memory waits in its quarantine and the peak says nothing
SKIP: {
    skip 'the peak of a worker under ASan says nothing', 1
        if $ENV{ASAN_OPTIONS};

    my $grown = hwm_kb($worker) - $before;
    ok($grown <= 256 * 1024,
       "memory: the worker's peak grew by $grown kB, within fib_max_memory");
}

is(metric('fib_memory_bytes'), 0, 'memory: all given back');

# }}}

# {{{ fib_timeout 100ms: F(10^8) fast stops between its steps
#
# F(10^8) takes a second or more (decimal throughout): ten times the
# deadline, so that the test holds on a fast machine too

my $c = send_req('/fast_100ms?num=100000000');
wait_all([$c], 120);

is($c->{status}, '503', 'fib_timeout 100ms: F(10^8) fast is a 503');
# (not is(): a 200 would print 21 MB)
ok($c->{body} eq "the computation exceeded fib_timeout 100ms\n",
   'fib_timeout 100ms: and says why')
    or diag(substr($c->{body}, 0, 80));

# }}}

log_clean('memory and fib_timeout');

# {{{ a client that leaves mid F(10^8) frees the thread of a 1-thread pool

mark_log();

my $computed = fast_computed();

# in the middle of its steps: F(10^8) takes a second or more, five
# times this, so that it cannot end before the departure is seen
my $gone = send_req('/one?num=100000000');
sleep 0.2;
close $gone->{sock};

my $next = send_req('/one?num=1000');
wait_all([$next], 120);

is($next->{status}, '200', 'leave: the next request on the pool is served');
is($next->{body}, "$f1000\n", 'leave: with F(1000)');
is(fast_computed() - $computed, 1,
   'leave: the departed F(10^8) was not computed to its end');
ok(log_count(qr/client closed the connection, cancelling F\(100000000\)/),
   'leave: the departure was noticed');

# }}}

$deadline = time + 10;
sleep 0.1 while (metric('fib_in_flight') ne '0'
                 || metric('fib_memory_bytes') ne '0') && time < $deadline;

is(metric('fib_in_flight'), 0, 'the gauges are back to 0: in flight');
is(metric('fib_memory_bytes'), 0, 'the gauges are back to 0: memory');

log_clean('leave');

ok(stop_nginx(), 'nginx quits');

done_testing();
