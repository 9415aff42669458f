# vim:set ft= ts=4 sw=4 et fdm=marker:

# What an operator plans capacity with, on the status page: the CPU time
# of computations nobody got their number from, the time requests waited
# for a pool thread, the limits in force, and series per fib location,
# kept across a reload.  Counters are read as deltas where a scenario
# adds to them.

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
my $srv = FibServer->new('cap');
my $port = $srv->port;
my $root = $srv->root;

require_threads();

if ($ENV{TEST_NGINX_USE_VALGRIND}) {
    plan skip_all => 'timing-driven scenarios say nothing under valgrind';
}

# two pools, the locations whose series are checked, and $more
sub write_capacity_conf {
    my ($more) = @_;

    $srv->write_conf(connections => 64, main => <<"MAIN", http => <<"END");
thread_pool one threads=1 max_queue=1;
thread_pool two threads=2 max_queue=2;
MAIN
    fib_max_waiting 100;

    log_format wait '\$request_uri \$fib_outcome q=\$fib_queue_time';
    access_log $root/logs/access.log wait;

    # a cache manager and loader: processes that are no workers
    proxy_cache_path $root/cache keys_zone=cz:1m;

    server {
        listen 127.0.0.1:$port;

        location = /a {
            fib;
            fib_thread_pool one;
            fib_thread_priority normal;
            fib_inline_max_cost 0;
            fib_max_num 93;
            fib_timeout 300ms;
            if (\$arg_debug) {
                add_header X-Debug on;
            }
        }

        # the queue's scenario: no deadline (an idle-class thread, or a
        # sanitized build, on a busy machine may take longer than 300 ms
        # for two F(38)); pool one computes at normal priority, so that
        # its thread gets the CPU while anything else runs
        location = /queue {
            fib;
            fib_thread_pool one;
            fib_thread_priority normal;
            fib_inline_max_cost 0;
        }

        location = /b {
            fib;
            fib_thread_pool two tasks=2;
        }

        # one name, two locations: two series
        location /b {
            fib;
        }

        # a name that is no UTF-8, and one too long for a place
        location = /caf\xe9 {
            fib;
        }

        location = /${\('l' x 200)} {
            fib;
        }

        location = /fib_status {
            fib_status;
        }
        $more
    }
END
}

sub num { my $v = metric($_[0]); return $v eq 'missing' ? 0 : $v }

remove_tree($root);
write_capacity_conf('');
launch_nginx();
mark_log();

# {{{ the limits in force, per worker

is(metric('fib_workers'), 1,
   'limits: one worker, the cache manager and loader aside');
is(metric('fib_max_waiting'), 100, 'limits: fib_max_waiting');
is(metric('fib_pool_tasks{pool="one"}'), 1, 'limits: a pool of one task');
is(metric('fib_pool_tasks{pool="two"}'), 2, 'limits: tasks=2');
is(metric('fib_max_memory_bytes'), 64 * 1024 * 1024,
   'limits: fib_max_memory, one worker\'s');

# }}}

# {{{ CPU time nobody got a number for

my $abandoned = num('fib_abandoned_compute_seconds_total{algorithm="recursive"}');
my $produced = num('fib_compute_seconds_total{algorithm="recursive"}');

my $c = get('/a?num=60');
is($c->{status}, 503, 'abandoned: F(60) ends at fib_timeout');

my $after = num('fib_abandoned_compute_seconds_total{algorithm="recursive"}');
ok($after - $abandoned >= 0.2,
   "abandoned: its 300 ms of CPU are counted ($abandoned to $after)");
is(num('fib_compute_seconds_total{algorithm="recursive"}'), $produced,
   'abandoned: and not as a computation that produced its number');

# a client that leaves mid-computation
$abandoned = $after;
my $gone = send_req('/a?num=60');
my $deadline = time + 10;
sleep 0.02 until metric('fib_in_flight') eq '1' || time > $deadline;
sleep 0.1;
close $gone->{sock};
$deadline = time + 10;
sleep 0.05 until num('fib_abandoned_compute_seconds_total{algorithm="recursive"}')
                 > $abandoned || time > $deadline;
ok(num('fib_abandoned_compute_seconds_total{algorithm="recursive"}')
   > $abandoned, 'abandoned: a cancelled computation is counted too');

# }}}

# {{{ the time requests waited for a pool thread

my $waits = num('fib_queue_seconds_count');
my $slow = num('fib_queue_seconds_bucket{le="0.01"}');

# the first holds the only thread; the second waits for it
my @conns = map { send_req('/queue?num=38') } 1 .. 2;
wait_all(\@conns);
is(scalar(grep { $_->{body} eq "39088169\n" } @conns), 2,
   'queue: both computed');

is(num('fib_queue_seconds_count') - $waits, 2,
   'queue: two waits measured');
is(num('fib_queue_seconds_bucket{le="+Inf"}'), num('fib_queue_seconds_count'),
   'queue: the +Inf bucket is the count');
is(num('fib_queue_seconds_bucket{le="0.01"}') - $slow, 1,
   'queue: one waited hardly at all, the other for a computation');

# a request that meets its deadline while it waits behind one without a
# deadline: its wait is logged as the status page counts it
$waits = num('fib_queue_seconds_count');
@conns = (send_req('/queue?num=42&w=0'));
$deadline = time + 10;
sleep 0.02 until metric('fib_in_flight') eq '1' || time > $deadline;
push @conns, send_req('/a?num=30&w=1');
wait_all(\@conns);
is(join(' ', map { $_->{status} } @conns), '200 503',
   'queue deadline: the waiting one ends at fib_timeout');
is(num('fib_queue_seconds_count') - $waits, 2,
   'queue deadline: both waits counted');
my ($logged) = map { m{w=1 timed_out q=(\S+)$} ? $1 : () }
               split /\n/, slurp("$root/logs/access.log");
like($logged // 'none', qr/^\d+\.\d{3}$/,
     'queue deadline: and its wait is logged in $fib_queue_time');

# an inline computation waits for nothing, and is not in the histogram
$waits = num('fib_queue_seconds_count');
is(get('/b?num=10')->{body}, "55\n", 'queue: an inline one');
is(num('fib_queue_seconds_count'), $waits, 'queue: is no wait');

# }}}

# {{{ series per location, an if block counted with its location

my %before = map {
    my $l = $_;
    ($l => { map { ($_ => num("fib_location_requests_total{location=\"= $l\","
                               . "outcome=\"$_\"}")) }
             qw(ok bad_request timed_out) })
} qw(/a /b);

get('/a?num=20&debug=1');
get('/a?num=21');
get('/b?num=30');
get('/b?num=x');
get('/b?num=50');

is(num('fib_location_requests_total{location="= /a",outcome="ok"}')
   - $before{'/a'}{ok}, 2, 'locations: /a, its if block included');
is(num('fib_location_requests_total{location="= /b",outcome="ok"}')
   - $before{'/b'}{ok}, 1, 'locations: /b');
is(num('fib_location_requests_total{location="= /b",outcome="bad_request"}')
   - $before{'/b'}{bad_request}, 2, 'locations: /b, its 400s');
ok(num('fib_location_compute_seconds_total{location="= /a"}') >= 0.3,
   'locations: /a computed for its timeouts too');

# one name in two locations
my $prefix = num('fib_location_requests_total{location="/b",outcome="ok"}');
get('/b/x?num=3');
is(num('fib_location_requests_total{location="/b",outcome="ok"}') - $prefix,
   1, 'locations: the prefix /b is not the exact = /b');

# a name of any bytes is still a valid label, a long one has no series
is(get("/caf\xe9?num=4")->{body}, "3\n", 'locations: a name that is no UTF-8');
ok(metric('fib_location_requests_total{location="= /caf?",outcome="ok"}')
   >= 1, 'locations: its label has a ? for the byte');
is(get('/' . ('l' x 200) . '?num=4')->{body}, "3\n", 'locations: a long name');
is(scalar(grep { /location="= \/lll/ } split /\n/, get('/fib_status')->{body}),
   0, 'locations: which has no series, rather than a cut one');

# a 304 that nginx's not-modified filter gives, after If-Match
my $nm = num('fib_location_requests_total{location="= /b",'
             . 'outcome="not_modified"}');
$c = send_req('/b?num=10');
close $c->{sock};
$c = connect_to();
print $c "GET /b?num=10 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
         . "If-Match: \"fib-10\"\r\nIf-None-Match: \"fib-10\"\r\n\r\n";
wait_all([{ sock => $c, data => '' }]);
is(num('fib_location_requests_total{location="= /b",outcome="not_modified"}')
   - $nm, 1, 'outcomes: the filter\'s 304 counts as not_modified');

# }}}

# {{{ a reload keeps every location's series and adds the new one's

my $ok_a = num('fib_location_requests_total{location="= /a",outcome="ok"}');

write_capacity_conf('location = /c { fib; }');
kill 'HUP', master_pid();

# until a new worker answers /c (an old one knows no such location)
$deadline = time + 10;
sleep 0.05 until get('/c?num=5')->{status} eq '200' || time > $deadline;

is(num('fib_location_requests_total{location="= /a",outcome="ok"}'), $ok_a,
   'reload: /a goes on from where it was');
get('/a?num=5');
is(num('fib_location_requests_total{location="= /c",outcome="ok"}'), 1,
   'reload: the new location counts');
is(num('fib_location_requests_total{location="= /a",outcome="ok"}'), $ok_a + 1,
   'reload: and so does the old one, in its place');

# }}}

# {{{ places that two configurations in a row left unnamed are taken again

sub reload_with {
    my ($more, $probe) = @_;
    write_capacity_conf($more);
    kill 'HUP', master_pid();
    my $deadline = time + 10;
    sleep 0.05 until get($probe)->{status} eq '200' || time > $deadline;
}

sub names {
    my %n = map { /^fib_location_compute_seconds_total\{location="([^"]*)"/
                  ? ($1 => 1) : () } split /\n/, get('/fib_status')->{body};
    return scalar keys %n;
}

reload_with(join(' ', map { "location = /p$_ { fib; }" } 10 .. 73),
            '/p73?num=1');
is(names(), 64, 'places: 64 names at most');

# the /p places were named by the last configuration: they stay; /c
# was last named two configurations ago: its place is free again
reload_with('location = /q { fib; }', '/q?num=1');
get('/q?num=1');
ok(num('fib_location_requests_total{location="= /q",outcome="ok"}') >= 1,
   'places: a new location after a reload gets a place');
is(metric('fib_location_requests_total{location="= /c",outcome="ok"}'),
   'missing', 'places: the one a location left two reloads ago');
ok(metric('fib_location_requests_total{location="= /p10",outcome="ok"}')
   ne 'missing', 'places: not one the last configuration named');

# }}}

is(metric('fib_in_flight'), 0, 'gauges: nothing in flight at the end');
is(metric('fib_waiting'), 0, 'gauges: nothing waits');
log_clean('capacity');
stop_nginx();

# {{{ places change only when a configuration serves

# a fresh zone: no place left over from the scenarios above
my $d = time + 30;
sleep 0.05 while -e "$root/logs/nginx.pid" && time < $d;
# /keep in a second server too: one name, one series
my $second = pick_port();
write_capacity_conf("location = /live { fib; } location = /keep { fib; }\n"
                    . "    }\n    server {\n"
                    . "        listen 127.0.0.1:$second;\n"
                    . "        location = /keep { fib; }");
launch_nginx();
mark_log();

get('/live?num=1');
get('/keep?num=1') for 1 .. 2;
wait_all([send_req('/keep?num=1', $second)]);
is(scalar(grep { /^fib_location_requests_total\{location="= \/keep",outcome="ok"\} / }
          split /\n/, get('/fib_status')->{body}), 1,
   'two servers: one series for one name');
is(num('fib_location_requests_total{location="= /keep",outcome="ok"}'), 3,
   'two servers: counting both');

# two reloads that fail when nginx binds a port someone else holds,
# after the zone was set up for them: each names a new location, and
# not /live, which the running configuration still serves
# (a listener: SO_REUSEADDR does not let nginx share it)
my $held = pick_port();
my $taken = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => $held, ReuseAddr => 1)
    or die "127.0.0.1:$held: $!";

for my $n (1, 2) {
    write_capacity_conf("location = /b$n { fib; }\n    }\n    server {\n"
                        . "        listen 127.0.0.1:$held;");
    kill 'HUP', master_pid();
    # after five tries, 2.5 s
    ok(wait_log(qr/still could not bind\(\)/),
       "failed reload $n: nginx could not bind");
    mark_log();
}

get('/live?num=2');
is(num('fib_location_requests_total{location="= /live",outcome="ok"}'), 2,
   'failed reloads: /live keeps its series');
is(metric('fib_location_requests_total{location="= /b2",outcome="ok"}'),
   'missing', 'failed reloads: a name no running nginx serves has none');
undef $taken;

# /keep left out of one configuration and put back, after a new location
# written before it: it finds its series again.  Each configuration is
# probed at a location only it has, so that its own worker answers.
reload_with('location = /live { fib; } location = /mid { fib; }',
            '/mid?num=1');
reload_with('location = /new { fib; } location = /keep { fib; }',
            '/new?num=1');

# once the old worker, which has no /keep, takes no more connections
$d = time + 10;
sleep 0.05 until get('/keep?num=1')->{status} eq '200' || time > $d;

is(num('fib_location_requests_total{location="= /keep",outcome="ok"}'), 4,
   'put back: /keep has its counts');
is(num('fib_location_requests_total{location="= /new",outcome="ok"}'), 1,
   'put back: and /new a place of its own');

# /live and /mid are now left out by two configurations in a row: their
# places may be taken, but only once no unused place is left
reload_with('location = /keep { fib; } location = /other { fib; }',
            '/other?num=1');
ok(metric('fib_location_requests_total{location="= /live",outcome="ok"}')
   ne 'missing'
   && metric('fib_location_requests_total{location="= /mid",outcome="ok"}')
      ne 'missing',
   'aged places: kept while unused ones are left');
is(num('fib_location_requests_total{location="= /other",outcome="ok"}'), 1,
   'aged places: the new location has one of those');

log_clean('places',
          qr/bind\(\) to 127\.0\.0\.1:\d+ failed|still could not bind/);
stop_nginx();

# }}}

done_testing();
