# vim:set ft= ts=4 sw=4 et fdm=marker:

# examples/cluster/ as operators would run it: one front nginx (cache,
# load balancing, retries) and two fib backends, real processes on
# 127.0.0.1, started from the example configurations with only ports,
# paths and the module's location changed.  What is checked comes from
# the answers, the front's access log and the backends' fib_status
# counters.  The counters live in shared memory and survive reloads:
# only their changes are compared.  Only the order of events is
# asserted, never their timing.

use strict;
use warnings;

use Test::More;
use IO::Socket::INET;
use IO::Select;
use File::Path qw(make_path remove_tree);
use Time::HiRes qw(sleep time);
use Cwd qw(cwd);
use FindBin;
use lib "$FindBin::Bin/inc";
use NginxBinary;
use FibServer;

my %srv = map { ($_ => FibServer->new("cluster/$_")) } qw(front a b);
my %ports = map { ($_ => $srv{$_}->port) } keys %srv;
my $root = ($ENV{TEST_NGINX_SERVROOT} || cwd() . '/t/servroot') . '-cluster';
my $examples = cwd() . '/examples/cluster';

require_threads();

if ($ENV{TEST_NGINX_USE_VALGRIND}) {
    # three servers and bounded loads: nothing valgrind adds here that
    # the other files do not check
    plan skip_all => 'not under valgrind';
}

# {{{ the example configurations, templated

# Each substitution must apply: an example that drifted from what the
# test expects fails here rather than being tested half-changed.
sub template {
    my ($file, $name, @subs) = @_;

    my $dir = "$root/$name";
    my $conf = slurp($file);

    while (my ($re, $to) = splice @subs, 0, 2) {
        $conf =~ s/$re/$to/g
            or BAIL_OUT("$file: nothing matches $re");
    }

    make_path("$dir/conf", "$dir/logs", "$dir/tmp");

    open my $fh, '>', "$dir/conf/nginx.conf" or die $!;
    print $fh $conf;
    close $fh;
}

sub common_subs {
    my ($name) = @_;
    my $dir = "$root/$name";

    # Test::Nginx's preamble (load_module lines, user root when root) in
    # place of the example's error_log and pid
    return (
        qr{^error_log /var/log/nginx/\S+ warn;\npid /run/\S+\.pid;\n}m
            => $srv{$name}->preamble('warn'),
        qr{/var/log/nginx/} => "$dir/logs/",
        # the default temporary paths are Debian's, under /var/lib/nginx
        qr{^http \{$}m => "http {\n"
            . join('', map { "    ${_}_temp_path $dir/tmp;\n" }
                           qw(client_body proxy fastcgi uwsgi scgi)),
    );
}

sub backend_conf {
    my ($name, $pool, @more) = @_;

    # the worker posts as many tasks as the pool has threads
    my ($threads) = $pool =~ /threads=(\d+)/;

    template("$examples/backend/nginx.conf", $name,
        # the preamble loads the module under test
        qr{^load_module \S+;\n}m => '',
        qr{^    fib_thread_pool fib tasks=2;$}m =>
            "    fib_thread_pool fib tasks=$threads;",
        qr{^        listen 8081;$}m =>
            "        listen 127.0.0.1:$ports{$name};",
        qr{^thread_pool fib threads=2 max_queue=2;$}m =>
            "thread_pool fib $pool;",
        common_subs($name), @more);
}

sub front_conf {
    template("$examples/front/nginx.conf", 'front',
        qr{^        listen 80;$}m => "        listen 127.0.0.1:$ports{front};",
        qr{server 10\.0\.0\.11:8081 } => "server 127.0.0.1:$ports{a} ",
        qr{server 10\.0\.0\.12:8081 } => "server 127.0.0.1:$ports{b} ",
        qr{/var/cache/nginx-fib } => "$root/front/cache ",
        common_subs('front'));
}

# }}}

# {{{ processes and logs

# the lines of the logs whose names end in $suffix (the example's own
# and the one given with -e)
sub logs_of {
    my ($name, $suffix) = @_;
    my @lines;
    for my $file (glob "$root/$name/logs/*$suffix") {
        open my $fh, '<', $file or next;
        push @lines, <$fh>;
        close $fh;
    }
    return @lines;
}

# }}}

# {{{ HTTP

sub cache_status {
    my ($c) = @_;
    return $c->{headers}{'x-cache-status'} // '';
}

# Requests for every URI through the front, $width at a time; after
# $after answers, $action runs once while the others are in flight.
sub load {
    my ($uris, $width, $after, $action) = @_;

    my @todo = @$uris;
    my (@done, %by);
    my $sel = IO::Select->new();
    my $in_flight_at_action;
    my $deadline = time + 120;

    my $start = sub {
        my $c = $srv{front}->send_req(shift @todo);
        $sel->add($c->{sock});
        $by{fileno $c->{sock}} = $c;
    };

    $start->() while @todo && $sel->count < $width;

    while ($sel->count && time < $deadline) {
        for my $s ($sel->can_read($deadline - time)) {
            my $c = $by{fileno $s};
            my $n = sysread($s, my $buf, 65536);
            if ($n) {
                $c->{data} .= $buf;
                next;
            }
            $sel->remove($s);
            delete $by{fileno $s};
            close $s;
            FibServer::parse_answer($c);
            push @done, $c;

            if (@done == $after) {
                $in_flight_at_action = $sel->count;
                $action->();
            }

            $start->() if @todo;
        }
    }

    return (\@done, $in_flight_at_action);
}

# the decimal length of F(n), n >= 2
sub digits {
    my ($n) = @_;
    my $phi = (1 + sqrt 5) / 2;
    return int($n * log($phi) / log(10) - log(sqrt 5) / log(10)) + 1;
}

sub metrics {
    my ($name) = @_;
    # get() has it pass promtool check metrics
    my $c = $srv{$name}->get('/fib_status');
    my %m = map { /^(\S+) (\S+)$/ ? ($1 => $2) : () }
            split /\n/, $c->{body};
    return \%m;
}

# the sum of every series of a metric, over the given backends
sub total {
    my ($family, @names) = @_;
    my $sum = 0;
    for my $name (@names) {
        my $m = metrics($name);
        $sum += $m->{$_} for grep { /^\Q$family\E\{/ } keys %$m;
    }
    return $sum;
}

# }}}

my ($c, @conns, $before, $done, $in_flight);

# a cache left by an earlier run would turn misses into hits
remove_tree($root);

# {{{ the configurations pass nginx -t

# backend a starts with a pool of one thread and lets nothing wait: one
# computation fills it (a pool queue of one, so that the task posted
# right after a completion finds room before the thread is back waiting)
backend_conf('a', 'threads=1 max_queue=1',
             qr{^    fib_max_waiting 16;$}m => '    fib_max_waiting 0;');
backend_conf('b', 'threads=2 max_queue=2');
front_conf();

for my $name (qw(a b front)) {
    my ($ok, $out) = $srv{$name}->nginx_t;
    ok($ok, "$name: nginx -t accepts the example") or diag($out);
}

$srv{$_}->launch_nginx for qw(a b front);

# }}}

# {{{ a backend whose pool is full answers 503; the front asks the other

# a's only thread takes a long computation, asked of a directly
my $occupant = $srv{a}->send_req('/fib?num=42');
my $deadline = time + 10;
sleep 0.02 until $srv{a}->metric('fib_in_flight') == 1 || time > $deadline;

my $refused = $srv{a}->metric('fib_rejected_total{reason="queue_full"}');
my @refusal;

# least_conn sees two idle backends and alternates: some go to a
for my $i (1 .. 10) {
    push @refusal, $srv{front}->get('/fib/iterative?num=' . (20000 + $i));
    last if $srv{a}->metric('fib_rejected_total{reason="queue_full"}') > $refused
            || $srv{a}->metric('fib_in_flight') == 0;
}

ok($srv{a}->metric('fib_rejected_total{reason="queue_full"}') > $refused,
   'refusal: the full backend refused a request of the front');
is(scalar(grep { $_->{status} ne '200' } @refusal), 0,
   'refusal: every client got a 200');
is(scalar(grep {
       my ($n) = $_->{uri} =~ /num=(\d+)/;
       $_->{body} !~ /\A\d+\n\z/ || length($_->{body}) != digits($n) + 1
   } @refusal), 0, 'refusal: with its number');
ok((grep { /up_status=503, 200 / } logs_of('front', 'access.log')) >= 1,
   'refusal: the front log shows a 503 from one and a 200 from the other');

wait_all([$occupant], 60);
is($occupant->{body}, "267914296\n", 'refusal: the occupant is answered');
$srv{a}->log_clean('a');

# a gets the example's pool for the rest
$srv{a}->stop_nginx;
backend_conf('a', 'threads=2 max_queue=2');
$srv{a}->launch_nginx;

# }}}

# {{{ N concurrent misses for one N: one computation

my @backends = qw(a b);

$before = total('fib_computations_total', @backends);
my $requests = total('fib_requests_total', @backends);

@conns = map { $srv{front}->send_req('/fib?num=40') } 1 .. 20;
wait_all(\@conns, 60);

is(scalar(grep { $_->{status} ne '200' || $_->{body} ne "102334155\n" }
          @conns), 0, 'coalescing: 20 clients got F(40)');
is(total('fib_computations_total', @backends) - $before, 1,
   'coalescing: the backends computed it once');
is(total('fib_requests_total', @backends) - $requests, 1,
   'coalescing: one request reached a backend');
is(scalar(grep { cache_status($_) eq 'MISS' } @conns), 1,
   'coalescing: one MISS at the front');

# }}}

# {{{ what is cached is never asked of a backend again

$requests = total('fib_requests_total', @backends);

@conns = map { $srv{front}->get($_) }
         ('/fib?num=40', '/fib?num=040', '/fib?num=40&x=1',
          '/fib?x=1&num=0040', '/fib?a=1&num=40&b=2') x 3;

is(scalar(grep { $_->{status} ne '200' || $_->{body} ne "102334155\n" }
          @conns), 0, 'hits: 15 answers of F(40)');
is(scalar(grep { cache_status($_) ne 'HIT' } @conns), 0,
   'hits: every one a HIT, leading zeros and other arguments aside');

$c = $srv{front}->get('/fib?num=40',
                     headers => qq{If-None-Match: "fib-40"\r\n});
is($c->{status}, '304', 'hits: If-None-Match is answered by the front');

$c = $srv{front}->get('/fib?num=40', method => 'HEAD');
ok($c->{status} eq '200' && cache_status($c) eq 'HIT' && $c->{body} eq ''
   && $c->{data} =~ /\r\nContent-Length: 10\r\n/,
   'hits: HEAD gets the headers of the cached answer');

is(total('fib_requests_total', @backends) - $requests, 0,
   'hits: no request reached a backend');

# what the backend may read differently from a plain num=N is never
# served from the cache: it goes to a backend every time
$requests = total('fib_requests_total', @backends);

$c = $srv{front}->get('/fib?num=40&num=40');
is($c->{body}, "num is given more than once\n",
   'bypass: a repeated num is the backend\'s 400, not the cached F(40)');
$c = $srv{front}->get('/fib?NUM=40');
is($c->{body}, "num is missing: use ?num=N\n",
   'bypass: NUM is not num to the backend, nor to the cache');

@conns = map { $srv{front}->get('/fib?nu%6D=%34%30') } 1 .. 2;
is(scalar(grep { $_->{body} ne "102334155\n" || cache_status($_) ne 'BYPASS' }
          @conns), 0, 'bypass: a percent-encoded query is answered uncached');
is(total('fib_requests_total', @backends) - $requests, 4,
   'bypass: each of those reached a backend');

$c = $srv{front}->get('/fib/fast?num=40');
is(cache_status($c), 'MISS', 'hits: another location is another entry');

# an error is not cached, even under a key of the cache
$requests = total('fib_requests_total', @backends);
@conns = map { $srv{front}->get('/fib?num=43') } 1 .. 2;
is(scalar(grep { $_->{status} ne '400' || cache_status($_) ne 'MISS' } @conns),
   0, 'errors: a 400 is a MISS every time');
is(total('fib_requests_total', @backends) - $requests, 2,
   'errors: each reached a backend');

# }}}

# {{{ gzip turned on at the backends: the cache keeps the encodings apart

# what an operator does who wants small answers compressed; the
# example's gzip_vary stays as it is
for my $name (@backends) {
    $srv{$name}->stop_nginx;
    backend_conf($name, 'threads=2 max_queue=2',
                 qr{^    gzip off;$}m => "    gzip on;\n"
                     . "    gzip_types text/plain;\n"
                     . "    gzip_min_length 1;");
    $srv{$name}->launch_nginx;
}

$c = $srv{front}->get('/fib/iterative?num=500',
                     headers => "Accept-Encoding: gzip\r\n");
ok($c->{status} eq '200' && cache_status($c) eq 'MISS'
   && $c->{data} =~ /\r\nContent-Encoding: gzip\r\n/i,
   'gzip: a gzip client gets a compressed answer, now in the cache');
like($c->{data}, qr/\r\nVary: Accept-Encoding\r\n/i,
     'gzip: which says it varies with Accept-Encoding');

$c = $srv{front}->get('/fib/iterative?num=500');
unlike($c->{data}, qr/\r\nContent-Encoding:/i,
       'gzip: a plain client after it is not sent the compressed copy');
ok($c->{status} eq '200' && $c->{body} =~ /\A\d+\n\z/
   && length($c->{body}) == digits(500) + 1,
   'gzip: but F(500) in plain digits');

$c = $srv{front}->get('/fib/iterative?num=500',
                     headers => "Accept-Encoding: gzip\r\n");
like($c->{data}, qr/\r\nContent-Encoding: gzip\r\n/i,
     'gzip: and a gzip client still gets a compressed one');

# the example's backends again
for my $name (@backends) {
    $srv{$name}->stop_nginx;
    backend_conf($name, 'threads=2 max_queue=2');
    $srv{$name}->launch_nginx;
}

# }}}

# {{{ a graceful reload of a backend under load loses no request

$requests = total('fib_requests_total', @backends);
my @old_workers = $srv{b}->worker_pids;

($done, $in_flight) = load(
    [ map { '/fib/iterative?num=' . (100000 - $_) } 1 .. 60 ], 6, 10,
    sub { kill 'HUP', $srv{b}->master_pid });

ok($in_flight > 0, "reload: requests were in flight at the reload");
is(scalar @$done, 60, 'reload: 60 answers');
is(scalar(grep { $_->{status} ne '200' } @$done), 0,
   'reload: every one a 200')
    or diag(join ' ', map { $_->{status} } @$done);
is(scalar(grep {
       my ($n) = $_->{uri} =~ /num=(\d+)/;
       length($_->{body}) != digits($n) + 1
   } @$done), 0, 'reload: with its number');
ok(total('fib_requests_total', @backends) - $requests >= 60,
   'reload: every one was computed by a backend');
ok((grep { /conn_req=([2-9]|\d\d)/ } logs_of('a', 'access.log'),
                                     logs_of('b', 'access.log')) >= 1,
   'keepalive: the front sends several requests on one connection');

$deadline = time + 30;
sleep 0.05 until !grep { alive($_) } @old_workers or time > $deadline;
is(scalar(grep { alive($_) } @old_workers), 0,
   'reload: the old workers of b exited');
$srv{b}->log_clean('b');

# }}}

# {{{ a killed backend costs the clients nothing

$requests = $srv{a}->metric('fib_requests_total{outcome="ok"}');

($done, $in_flight) = load(
    [ map { '/fib/iterative?num=' . (90000 - $_) } 1 .. 60 ], 6, 10,
    sub {
        $srv{b}->stop_nginx('KILL');
    });

ok($in_flight > 0, "kill: requests were in flight at the kill");
is(scalar @$done, 60, 'kill: 60 answers');
is(scalar(grep { $_->{status} ne '200' } @$done), 0,
   'kill: every one a 200')
    or diag(join ' ', map { $_->{status} } @$done);
is(scalar(grep {
       my ($n) = $_->{uri} =~ /num=(\d+)/;
       length($_->{body}) != digits($n) + 1
   } @$done), 0, 'kill: with its number');
ok($srv{a}->metric('fib_requests_total{outcome="ok"}') - $requests >= 50,
   'kill: the other backend answered the rest');

$c = $srv{front}->get('/fib?num=41');
is($c->{body}, "165580141\n", 'kill: and goes on answering alone');

$srv{a}->log_clean('a');

# }}}

# {{{ a computation past fib_timeout is tried on two backends, no more

# a new front: the old one leaves b out for a while after its death
$srv{$_}->stop_nginx for qw(a front);
for my $name (@backends) {
    backend_conf($name, 'threads=2 max_queue=2',
                 qr{^    fib_timeout 30s;$}m => '    fib_timeout 100ms;');
    $srv{$name}->launch_nginx;
}
$srv{front}->launch_nginx;

# the backends are fresh: their counters start from zero
$c = $srv{front}->get('/fib?num=42');
is($c->{status}, '503', 'timeout: the client gets the 503');
is($c->{body}, "the computation exceeded fib_timeout 100ms\n",
   'timeout: which says why');
is(total('fib_requests_total', @backends), 2,
   'timeout: one retry, on the other backend');
is($srv{$_}->metric('fib_requests_total{outcome="timed_out"}'), 1,
   "timeout: $_ timed out once") for @backends;

$srv{$_}->log_clean($_) for @backends;

# }}}

# {{{ no backend at all: the client is told to retry later

$srv{$_}->stop_nginx for @backends;

@conns = map { $srv{front}->get('/fib?num=39') } 1 .. 3;
is(scalar(grep { $_->{status} ne '503' } @conns), 0,
   'none: every client gets a 503');
is(scalar(grep { $_->{data} !~ /\r\nRetry-After: 1\r\n/ } @conns), 0,
   'none: with Retry-After: 1');
is(scalar(grep { $_->{body} ne "no backend can answer: retry later\n" }
          @conns), 0, 'none: which says why');

$srv{front}->log_clean('front');

# }}}

done_testing();
