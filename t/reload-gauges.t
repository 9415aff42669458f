# vim:set ft= ts=4 sw=4 et fdm=marker:

# The status page's gauges after a reload with many workers: the new
# generation starts while the old one still holds its gauge slots, so
# the slots must be enough for both (and for every generation a reload
# storm leaves behind).  40 workers, one reload, then requests spread
# over the new workers by reuseport, each holding an idle-class pool
# thread; a second reload while they run, and as many requests again on
# the newest generation: the page must show every one of them in
# fib_in_flight + fib_waiting, and 0 once their clients left.

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

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my $srv = FibServer->new('gauges');
my $port = $srv->port;
my $root = $srv->root;

my $workers = 40;
my $requests = 20;

require_threads();

if ($ENV{TEST_NGINX_USE_VALGRIND}) {
    plan skip_all => "$workers workers under valgrind say nothing more";
}

END {
    stop_nginx('TERM') if master_pid();
}

$srv->write_conf(workers => $workers, connections => 64, log_level => 'info',
                 main => 'thread_pool fib threads=1 max_queue=16;',
                 http => <<"END");
    server {
        listen 127.0.0.1:$port reuseport;

        fib_thread_pool fib;
        fib_max_num 60;
        fib_timeout 600s;

        location /fib { fib; }
        location /fib_status { fib_status; }
    }
END

sub in_queue {
    my $in_flight = metric('fib_in_flight');
    my $waiting = metric('fib_waiting');
    return $in_flight =~ /^\d+$/ && $waiting =~ /^\d+$/
           ? $in_flight + $waiting : -1;
}

launch_nginx();

my $deadline = time + 20;
sleep 0.05 until worker_pids() == $workers || time > $deadline;
my %old = map { ($_ => 1) } worker_pids();
is(scalar keys %old, $workers, "$workers workers run");

# the new generation starts while the old one still runs
kill 'HUP', master_pid();

$deadline = time + 30;
sleep 0.1 until (worker_pids() == $workers && !grep { $old{$_} } worker_pids())
                || time > $deadline;
is(scalar(grep { !$old{$_} } worker_pids()), $workers,
   "reload: $workers new workers, the old ones gone");

# F(50) runs for minutes: every request stays in a pool until it leaves
my @conns = map { send_req("/fib?num=50&i=$_") } 1 .. $requests;

$deadline = time + 15;
sleep 0.1 until in_queue() == $requests || time > $deadline;

is(in_queue(), $requests,
   'the page shows every outstanding request after the reload');
is(log_count(qr/no free slot/), 0, 'every worker has a gauge slot');

# a second reload while those requests run: their workers go on until
# they end, beside a whole new generation
my %second = map { ($_ => 1) } worker_pids();
kill 'HUP', master_pid();

$deadline = time + 30;
sleep 0.1 until (grep { !$second{$_} } worker_pids()) == $workers
                || time > $deadline;
is(scalar(grep { !$second{$_} } worker_pids()), $workers,
   "second reload: $workers new workers beside the old ones");

push @conns, map { send_req("/fib?num=50&j=$_") } 1 .. $requests;

$deadline = time + 15;
sleep 0.1 until in_queue() == 2 * $requests || time > $deadline;

is(in_queue(), 2 * $requests,
   'the page shows the requests of both generations');
is(log_count(qr/no free slot/), 0, 'every worker of both has a slot');

close $_->{sock} for @conns;

$deadline = time + 15;
sleep 0.1 until in_queue() == 0 || time > $deadline;

is(in_queue(), 0, 'the gauges are back to 0 when the clients left');
is(metric('fib_memory_bytes'), 0, 'and so is the memory gauge');

$deadline = time + 30;
sleep 0.1 until worker_pids() == $workers || time > $deadline;
is(scalar(worker_pids()), $workers, 'the old workers exit once theirs end');
log_clean('reload gauges');

ok(stop_nginx(), 'nginx quits');

done_testing();
