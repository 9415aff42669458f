# vim:set ft= ts=4 sw=4 et fdm=marker:

# A real Prometheus (Debian's prometheus package) scrapes the status page
# of a running nginx, master and two workers: what it stored, queried
# through its HTTP API, is what the requests made.  Prometheus listens on
# 127.0.0.1, keeps its data in the servroot and is stopped at the end.

use strict;
use warnings;

use Test::More;
use IO::Socket::INET;
use File::Path qw(make_path remove_tree);
use Time::HiRes qw(sleep time);
use JSON::PP qw(decode_json);
use Cwd qw(cwd);
use FindBin;
use lib "$FindBin::Bin/inc";
use FibServer;
use Promtool;

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my $srv = FibServer->new('prom');
my $port = $srv->port;
my $root = $srv->root;
my ($version) = do {
    open my $config, '<', "$FindBin::Bin/../config" or die $!;
    local $/;
    <$config> =~ /^ngx_http_fib_version=(\S+)/m;
};

my ($prometheus) = grep { -x "$_/prometheus" } split /:/, $ENV{PATH} // '';

if (!$prometheus || !Promtool::path()) {
    plan skip_all => 'prometheus and promtool are not installed '
                     . '(Debian: apt-get install prometheus; make test '
                     . 'installs it)';
}

if ($ENV{TEST_NGINX_USE_VALGRIND}) {
    plan skip_all => 'not under valgrind';
}

my $threads = `$nginx -V 2>&1` =~ /--with-threads/;
my $prom_port = pick_port();
my $prom_pid;

END {
    if ($prom_pid) {
        kill 'TERM', $prom_pid;
        waitpid $prom_pid, 0;
    }
}

remove_tree($root);
make_path("$root/prometheus");

my $pool = $threads ? 'thread_pool fib threads=2 max_queue=16;' : '';
my $use = $threads ? 'fib_thread_pool fib;' : 'fib_thread_pool off;';

$srv->write_conf(workers => 2, connections => 64, log_level => 'notice',
                 main => $pool, http => <<"END");
    $use

    server {
        listen 127.0.0.1:$port;

        location = /fib {
            fib;
            fib_max_num 42;
        }

        location = /fib/fast {
            fib;
            fib_algorithm fast;
            fib_max_num 100000;
        }

        location = /fib_status {
            fib_status;
        }
    }
END

launch_nginx();

# {{{ the requests: what Prometheus must find

my %want = (ok => 0, bad_request => 0, not_modified => 0);
my @asked;

for my $n (5, 10, 20, 25, 30, 30) {
    push @asked, send_req("/fib?num=$n");
    $want{ok}++;
}
for my $n (1000, 100000) {
    push @asked, send_req("/fib/fast?num=$n");
    $want{ok}++;
}
for my $q ('num=x', 'num=94', 'nope=1') {
    push @asked, send_req("/fib?$q");
    $want{bad_request}++;
}
wait_all(\@asked);

my $s = connect_to();
print $s "GET /fib?num=30 HTTP/1.1\r\nHost: localhost\r\n"
         . "If-None-Match: \"fib-30\"\r\nConnection: close\r\n\r\n";
my $nm = { sock => $s, data => '' };
wait_all([$nm]);
$want{not_modified}++;

is(scalar(grep { $_->{status} eq '200' } @asked), $want{ok},
   'the answers: every good request a 200');
is($nm->{status}, '304', 'and the conditional one a 304');

my $page = FibServer::get('/fib_status')->{body};
my ($passed, $out) = Promtool::run($page);
ok($passed, 'promtool check metrics passes the page') or diag($out);

# }}}
# {{{ Prometheus scrapes it

open my $fh, '>', "$root/prometheus/prometheus.yml" or die $!;
print $fh <<"END";
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: fib
    metrics_path: /fib_status
    static_configs:
      - targets: ['127.0.0.1:$port']
END
close $fh;

$prom_pid = fork // die "fork: $!";
if (!$prom_pid) {
    open STDOUT, '>', "$root/prometheus/log" or die $!;
    open STDERR, '>&', \*STDOUT or die $!;
    exec "$prometheus/prometheus",
         "--config.file=$root/prometheus/prometheus.yml",
         "--storage.tsdb.path=$root/prometheus/data",
         "--web.listen-address=127.0.0.1:$prom_port",
         '--web.console.templates=/nonexistent',
         '--web.console.libraries=/nonexistent';
    die "exec prometheus: $!";
}

sub api {
    my ($path, %args) = @_;
    my $q = join ' ', map { "--data-urlencode '$_=$args{$_}'" }
                      sort keys %args;
    my $json = `curl -s -G --max-time 5 $q 'http://127.0.0.1:$prom_port$path'`;
    my $r = eval { decode_json($json) };
    return $r && $r->{status} eq 'success' ? $r->{data} : undef;
}

sub query {
    my ($expr) = @_;
    my $data = api('/api/v1/query', query => $expr) or return undef;
    return $data->{result};
}

# the value of a query with one series, undef while there is none
sub value {
    my ($expr) = @_;
    my $r = query($expr);
    return $r && @$r == 1 ? $r->[0]{value}[1] : undef;
}

# a scrape that succeeded, and one after it: the counters above are final
my $deadline = time + 60;
my $scrapes;
until (defined($scrapes = value('count_over_time(up{job="fib"}[1m])'))
       && $scrapes >= 2 && value('up{job="fib"}') == 1)
{
    last if time > $deadline || !kill 0, $prom_pid;
    sleep 0.25;
}

ok(defined $scrapes && $scrapes >= 2 && value('up{job="fib"}') == 1,
   'Prometheus scraped the page, more than once, and found it up')
    or diag(`tail -20 $root/prometheus/log`);

# }}}
# {{{ and stored what the requests made

for my $outcome (sort keys %want) {
    is(value(qq{fib_requests_total{job="fib",outcome="$outcome"}}),
       $want{$outcome}, "fib_requests_total{outcome=\"$outcome\"}");
}

is(value('sum(fib_computations_total)'), $want{ok},
   'fib_computations_total: one per 200');
is(value('sum(fib_computations_total{algorithm="fast"})'), 2,
   'two of them fast');
is(value('fib_compute_seconds_count'), $want{ok},
   'the histogram counts them too');
is(value('fib_compute_seconds_bucket{le="+Inf"}'), $want{ok},
   'and its +Inf bucket');
is(value(qq{fib_build_info{version="$version"}}), 1,
   "fib_build_info: version $version");
is(value('fib_in_flight'), 0, 'fib_in_flight: nothing left');

# what Prometheus made of the TYPE lines
my $meta = api('/api/v1/metadata') || {};
is(join(' ', map { $meta->{$_} ? $meta->{$_}[0]{type} : 'missing' }
             qw(fib_requests_total fib_compute_seconds fib_in_flight)),
   'counter histogram gauge', 'the types: counter, histogram, gauge');

# every series of the page, and no other fib_ series
# a series is all but its value: a label may hold a space ("= /fib")
my @page = sort grep { /^fib_/ } map { /^(.+) \S+$/ ? $1 : () }
           split /\n/, FibServer::get('/fib_status')->{body};
my $stored = query('{__name__=~"fib_.*",job="fib"}') || [];
my @series = sort map {
    my %l = %{ $_->{metric} };
    my $name = delete $l{__name__};
    delete @l{qw(job instance)};
    my @k = sort keys %l;
    $name . (@k ? '{' . join(',', map { qq{$_="$l{$_}"} } @k) . '}' : '');
} @$stored;
my @page_sorted = sort map {
    my ($name, $labels) = /^([^{]+)(?:\{(.*)\})?$/;
    my @l = sort split /,(?=[a-z_]+=")/, $labels // '';
    $name . (@l ? '{' . join(',', @l) . '}' : '');
} @page;
is_deeply(\@series, \@page_sorted,
          'Prometheus stored every series of the page');

# }}}

stop_nginx();
log_clean('prometheus scrapes');

done_testing();
