# vim:set ft= ts=4 sw=4 et fdm=marker:

# The fib_status dashboard in a real browser: Debian's chromium,
# headless, driven through chromium-driver by python3-selenium
# (t/inc/dashboard.py, which only looks and reports; this file asserts).
# The page a browser gets at /fib_status is the dashboard; after
# requests to the fib locations it shows them, at 1280x900 and at a
# phone's 390x844, with the values of the JSON; an nginx without fib
# locations or pools shows zeros and empty lists; the browser's console
# has no error.  TEST_FIB_SCREENSHOT=examples/dashboard.png keeps the
# screenshot the README shows.

use strict;
use warnings;

use Test::More;
use JSON::PP ();
use File::Copy qw(copy);
use FindBin;
use lib "$FindBin::Bin/inc";
use NginxBinary;
use FibServer;

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';

# the scenarios use a pool (capacity, queue waits, fib_pool_tasks)
require_threads();

sub on_path {
    my ($name) = @_;
    my ($dir) = grep { -x "$_/$name" } split /:/, $ENV{PATH} // '';
    return $dir ? "$dir/$name" : undef;
}

# Debian's python3-selenium is Debian's python3's: a python3 of its
# own earlier on PATH (pyenv, a venv) may not have it
my ($python) = grep { system("$_ -c 'import selenium' 2>/dev/null") == 0 }
               grep { -x } '/usr/bin/python3', on_path('python3') // ();
my $chromium = on_path('chromium');
my $driver = on_path('chromedriver');

if (!$chromium || !$driver || !$python) {
    plan skip_all => 'chromium, chromium-driver and python3-selenium are '
                     . 'not installed (Debian: apt-get install chromium '
                     . 'chromium-driver python3-selenium; make test '
                     . 'installs them)';
}

if ($ENV{TEST_NGINX_USE_VALGRIND}) {
    plan skip_all => 'not under valgrind: the browser polls for as long '
                     . 'as it takes';
}


my $srv = FibServer->new('dash');
my $empty = FibServer->new('dash-empty');
my ($port, $empty_port) = ($srv->port, $empty->port);

my $pool = 'thread_pool fib threads=2;';
my $use = 'fib_thread_pool fib tasks=2;';

$srv->write_conf(workers => 2, main => $pool, http => <<"END");
    $use
    fib_max_waiting 16;

    server {
        listen 127.0.0.1:$port;

        location = /fib {
            fib;
        }

        location = /fast {
            fib;
            fib_algorithm fast;
        }

        location = /fib_status {
            fib_status;
        }
    }
END
$srv->launch_nginx;

$empty->write_conf(http => <<"END");
    server {
        listen 127.0.0.1:$empty_port;

        location = /fib_status {
            fib_status;
        }
    }
END
$empty->launch_nginx;

$srv->mark_log;
$empty->mark_log;

my $out = $srv->root;
# chromedriver and the browser listen too: on the suite's ports
my ($driver_port, $devtools_port) = (pick_port(), pick_port());
my $raw = `CHROMIUM='$chromium' CHROMEDRIVER='$driver' \\
           DRIVER_PORT=$driver_port DEVTOOLS_PORT=$devtools_port '$python' \\
           '$FindBin::Bin/inc/dashboard.py' http://127.0.0.1:$port \\
           http://127.0.0.1:$empty_port '$out' 2>'$out/dashboard.err'`;
my $seen = eval { JSON::PP->new->decode($raw) };

ok($seen, 'the browser ran the page and reported') or do {
    diag($raw, slurp("$out/dashboard.err"));
    $seen = {};
};

my ($before, $after, $json) = map { $_ || {} }
                              @$seen{qw(before after json_after)};

# {{{ the page a browser gets, and its first answer

is($seen->{content_type}, 'text/html',
   'a browser at /fib_status gets the dashboard');
ok($seen->{first_poll}, 'which shows the JSON it fetched');
is($before->{state}, 'live, every second', 'and says it is live');
is($before->{version}, $json->{version}, 'the module\'s version');
is($before->{workers}, 2, 'two workers');
is($before->{capacity}, 4,
   'capacity: tasks=2 times two workers');
is($before->{'waiting-limit'}, 32, 'queue: fib_max_waiting 16 times two');
is($before->{'memory-limit'}, '128.0 MiB',
   'memory: the default 64m times two');

# }}}
# {{{ requests change what it shows, to the right values

is_deeply($seen->{asked}, [(200) x 6, 400, 200],
          'seven numbers and a bad request asked');
ok($seen->{changed}, 'the page shows them');

sub shown_total {
    my ($view, $outcome) = @_;
    my $row = $view->{outcomes}{$outcome} || [];
    return $row->[2] // 'none';
}

is(shown_total($after, 'ok') - shown_total($before, 'ok'), 7, 'ok: 7 more');
is(shown_total($after, 'bad_request') - shown_total($before, 'bad_request'), 1,
   'bad request: 1 more');

for my $outcome (sort keys %{ $json->{requests} || {} }) {
    is(shown_total($after, $outcome), $json->{requests}{$outcome},
       "$outcome: the JSON's total");
}

is($after->{'requests-total'}, 8, 'every request counted once');
is($after->{'compute-count'} - $before->{'compute-count'}, 7,
   'seven computations in the compute time histogram');
is($after->{'compute-count'}, $json->{compute_histogram}{count},
   'as the JSON has it');
is($after->{'queue-count'}, 1,
   'F(30) waited for the pool, F(20) ran inline');
cmp_ok($seen->{max_rate} // 0, '>', 0, 'the rate went above 0');
is($after->{'in-flight'}, 0, 'nothing in flight after');
is_deeply($after->{bars}, { 'compute-chart' => 8, 'queue-chart' => 8 },
          'both histograms as bar charts of 8 buckets');

my %rows = map { ($_->[0] => $_) } @{ $after->{locations} || [] };
is(scalar keys %rows, 2, 'a row for each location');
is_deeply([@{ $rows{'= /fib'} || [] }[2, 4]], [6, 1],
          '= /fib: 6 ok, 1 bad request');
is(($rows{'= /fast'} || [])->[2], 1, '= /fast: 1 ok');
is(scalar @{ $rows{'= /fib'} || [] }, 11,
   'with a column for each outcome');

# }}}
# {{{ desktop and phone widths

cmp_ok($before->{overflow} // 1, '<=', 0, '1280 wide: nothing overflows');
is($seen->{phone_width}, 390, 'a phone\'s width');
cmp_ok($seen->{phone}{overflow} // 1, '<=', 0,
       '390 wide: nothing wider than the screen');
is($seen->{phone}{state}, 'live, every second', 'still live');
is(shown_total($seen->{phone}, 'ok'), shown_total($after, 'ok'), 'the same values');

# }}}
# {{{ an nginx with nothing to show

my $none = $seen->{empty} || {};
ok($seen->{empty_first_poll}, 'an nginx without fib locations: polled');
is($none->{state}, 'live, every second', 'live');
is_deeply($none->{locations}, [['no fib location yet']],
          'no location: said so');
is($none->{pools}, 'no thread pool', 'no pool: said so');
is($none->{capacity}, 0, 'capacity 0');
is($none->{'rate-total'}, '0.0', 'no requests a second');
is(shown_total($none, 'ok'), 0, 'no request');
is($none->{'compute-mean'}, '-', 'no mean of no computation');

# }}}
# {{{ the console, the screenshots

my @errors = map { $_->{message} }
             grep { $_->{level} eq "SEVERE" } @{ $seen->{console} || [] };
is_deeply(\@errors, [], 'no error in the browser\'s console');
ok($seen->{console}, 'whose log was read');

sub png_size {
    my ($file) = @_;
    my $png = -f $file ? slurp($file) : '';
    return 'not a PNG' if substr($png, 0, 8) ne "\x89PNG\r\n\x1a\n";
    return join 'x', unpack 'NN', substr($png, 16, 8);
}

is(png_size("$out/desktop.png"), '1280x900', 'a desktop screenshot');
is(png_size("$out/phone.png"), '390x844', 'a phone screenshot');

if ($ENV{TEST_FIB_SCREENSHOT}) {
    copy("$out/desktop.png", $ENV{TEST_FIB_SCREENSHOT})
        or die "$ENV{TEST_FIB_SCREENSHOT}: $!";
}

$srv->log_clean('dash');
$empty->log_clean('dash-empty');

# }}}

done_testing();
