# vim:set ft= ts=4 sw=4 et fdm=marker:

# fib_status's JSON and dashboard beside its Prometheus text: the JSON
# has every value of the text page fetched at the same idle moment,
# under the names the README's table gives, location names escaped
# into valid JSON; Accept and ?format= choose the format, and what
# scrapers and curl asked for before gets the text it always got; the
# dashboard is ngx_http_fib_dashboard.html byte for byte, and loads
# nothing from elsewhere.  The browser itself is t/dashboard.t.

use strict;
use warnings;

use Test::More;
use JSON::PP ();
use Cwd qw(abs_path);
use FindBin;
use lib "$FindBin::Bin/inc";
use NginxBinary;
use FibServer;

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';

# the scenarios use a pool (capacity, queue waits, fib_pool_tasks)
require_threads();

my $repo = abs_path("$FindBin::Bin/..");
my $readme = slurp("$repo/README.md");

my $srv = FibServer->new('json');
my $port = $srv->port;

# names with what JSON must escape: a quote, a backslash, a control
# byte, a byte that is not UTF-8, a cut sequence; and valid UTF-8 (e
# acute), which stays as it is
my $odd = "/e\\\"s\\\\c\xff\x01\xc3\xa9\xe2\x82!";
my $odd_json = "/e\"s\\c\x{fffd}\x{1}\x{e9}\x{fffd}\x{fffd}!";

# the longest name a place holds, of bytes that escape to six each
my $long = "/" . ("\x01" x 127);

# more locations than the page has places for: 64 at most are shown
my $many = join '', map { "        location = /many/$_ { fib; }\n" } 1 .. 62;

my $pool = 'thread_pool fib threads=2;';
my $use = 'fib_thread_pool fib tasks=2;';

$srv->write_conf(workers => 2, main => $pool, http => <<"END");
    $use

    server {
        listen 127.0.0.1:$port;

        location = /fib {
            fib;
        }

        location = /fib/fast {
            fib;
            fib_algorithm fast;
        }

        location "$odd" {
            fib;
        }

        location "$long" {
            fib;
        }

$many
        location = /fib_status {
            fib_status;
        }
    }
END
$srv->launch_nginx;
mark_log();

for my $uri ('/fib?num=10', '/fib?num=30', '/fib?num=x', '/fib/fast?num=1000',
             "/e%22s%5Cc%FF%01%C3%A9%E2%82!?num=5", '/many/3?num=2')
{
    get($uri);
}

my $json = JSON::PP->new->utf8;

# {{{ the JSON and the text page of the same idle moment

my $text = get('/fib_status');
my $j = get('/fib_status?format=json');

is($j->{status}, 200, 'format=json: 200');
is($j->{headers}{'content-type'}, 'application/json',
   'Content-Type: application/json');
is($j->{headers}{vary}, 'Accept', 'Vary: Accept');
is($j->{headers}{'content-length'}, length $j->{body},
   'Content-Length is the length sent');
like($j->{body}, qr/\n\z/, 'one line, ended');

my $doc = eval { $json->decode($j->{body}) };
ok($doc, 'valid JSON, valid UTF-8') or diag($@, $j->{body});
$doc //= {};

# the text page's series, by name and labels
my %prom = map { /^([a-z_]+(?:\{.*\})?) (\S+)$/ ? ($1 => 0 + $2) : () }
           split /\n/, $text->{body};

# a JSON location name as the text page labels it: U+FFFD was a byte
# that is not UTF-8, "?" there; \, " and newlines escaped
sub label {
    my ($s) = @_;
    $s =~ s/\x{fffd}/?/g;
    $s =~ s/([\\"])/\\$1/g;
    $s =~ s/\n/\\n/g;
    utf8::encode($s);
    return $s;
}

# the same series, from the JSON
my %from;
$from{qq(fib_build_info{version="$doc->{version}",nginx="$doc->{nginx}"})}
    = 1;
$from{qq(fib_requests_total{outcome="$_"})} = $doc->{requests}{$_}
    for keys %{ $doc->{requests} };
$from{qq(fib_rejected_total{reason="$_"})} = $doc->{rejected}{$_}
    for keys %{ $doc->{rejected} };
for my $a (keys %{ $doc->{computations} }) {
    $from{qq(fib_computations_total{algorithm="$a",mode="$_"})}
        = $doc->{computations}{$a}{$_} for keys %{ $doc->{computations}{$a} };
    $from{qq(fib_compute_seconds_total{algorithm="$a"})}
        = $doc->{compute_seconds}{$a};
    $from{qq(fib_abandoned_compute_seconds_total{algorithm="$a"})}
        = $doc->{abandoned_compute_seconds}{$a};
}
$from{"fib_$_"} = $doc->{$_}
    for qw(in_flight waiting memory_bytes workers max_memory_bytes
           max_waiting);
$from{qq(fib_pool_tasks{pool="$_->{pool}"})} = $_->{tasks}
    for @{ $doc->{pools} || [] };
for my $h (qw(compute queue)) {
    my $hist = $doc->{"${h}_histogram"};
    $from{qq(fib_${h}_seconds_bucket{le="$_->{le}"})} = $_->{count}
        for @{ $hist->{buckets} || [] };
    $from{"fib_${h}_seconds_sum"} = $hist->{sum};
    $from{"fib_${h}_seconds_count"} = $hist->{count};
}
for my $l (@{ $doc->{locations} || [] }) {
    my $name = label($l->{location});
    $from{qq(fib_location_requests_total{location="$name",outcome="$_"})}
        = $l->{requests}{$_} for keys %{ $l->{requests} };
    $from{qq(fib_location_compute_seconds_total{location="$name"})}
        = $l->{compute_seconds};
}
$_ = 0 + $_ for values %from;

is_deeply(\%from, \%prom,
          'every series of the text page, with its value, is in the JSON');
cmp_ok(scalar keys %prom, '>', 600, 'of a page of many series');

is($doc->{requests}{ok}, 5, 'the requests as asked: 5 ok');
is($doc->{requests}{bad_request}, 1, 'and one bad request');
is($doc->{workers}, 2, 'two workers');
is(scalar @{ $doc->{pools} || [] }, 1,
   'the pools, an array');
is(scalar @{ $doc->{locations} || [] }, 64, 'at most 64 locations');

my %loc = map { ($_->{location} => $_) } @{ $doc->{locations} || [] };
ok($loc{$odd_json}, 'a name with a quote, a backslash, a control byte '
                    . 'and bytes that are not UTF-8, escaped')
    or diag(join "\n", map { $json->encode([$_]) } sort keys %loc);
is($loc{$odd_json} && $loc{$odd_json}{requests}{ok}, 1,
   'with its request');
like($j->{body},
     qr/"location":"\/e\\"s\\\\c\\ufffd\\u0001\xc3\xa9\\ufffd\\ufffd!"/,
     'escaped as \\" \\\\ \\u0001 \\ufffd, UTF-8 as it is');
ok($loc{"/" . ("\x01" x 127)}, 'the longest name, all of it escaped');
is($json->encode([$doc->{version}]), qq(["$doc->{version}"]),
   'the version, a string');

# }}}
# {{{ the README's table names every field, and the JSON has each

# a path for each field, with the keys that are values (outcomes,
# reasons, algorithms) as the README writes them
my %generic = (requests => '<outcome>', rejected => '<reason>',
               computations => '<algorithm>',
               compute_seconds => '<algorithm>',
               abandoned_compute_seconds => '<algorithm>',
               'locations[].requests' => '<outcome>');
my %paths;

sub walk {
    my ($v, $path) = @_;

    if (ref $v eq 'HASH') {
        for my $k (keys %$v) {
            my $name = $generic{$path} // $k;
            walk($v->{$k}, $path eq '' ? $name : "$path.$name");
        }
    } elsif (ref $v eq 'ARRAY') {
        walk($_, "$path\[]") for @$v;
    } else {
        $paths{$path} = 1;
    }
}
walk($doc, '');

my ($table) = $readme
              =~ /^### JSON and the dashboard\n.*?^(\| field .*?)\n\n/ms;
my %documented = map { ($_ => 1) }
                 map { /`([^`]+)`/g } map { (split /\|/)[1] // '' }
                 grep { !/^\| (?:field|---)/ } split /\n/, $table // '';

cmp_ok(scalar keys %documented, '>=', 25, 'the README has the table');
is_deeply([sort keys %paths], [sort keys %documented],
          'it names every field of the JSON, and no other');

# }}}
# {{{ Accept and ?format=: the text unless JSON or HTML is preferred

my $chrome = 'text/html,application/xhtml+xml,application/xml;q=0.9,'
           . 'image/avif,image/webp,image/apng,*/*;q=0.8,'
           . 'application/signed-exchange;v=b3;q=0.7';
my $firefox = 'text/html,application/xhtml+xml,application/xml;q=0.9,'
            . '*/*;q=0.8';
my $prometheus = 'application/openmetrics-text;version=1.0.0,'
               . 'application/openmetrics-text;version=0.0.1;q=0.75,'
               . 'text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

my @cases = (
    ['no Accept', '/fib_status', undef, 'text'],
    ['*/*', '/fib_status', ['*/*'], 'text'],
    ['Prometheus\'s Accept', '/fib_status', [$prometheus], 'text'],
    ['text/plain', '/fib_status', ['text/plain'], 'text'],
    ['an axios-like tie', '/fib_status',
     ['application/json, text/plain, */*'], 'text'],
    ['text/*', '/fib_status', ['text/*'], 'text'],
    ['a type it has not', '/fib_status', ['image/png'], 'text'],
    ['a q that is no qvalue', '/fib_status', ['application/json;q=2'],
     'text'],
    ['application/json', '/fib_status', ['application/json'], 'json'],
    ['application/*', '/fib_status', ['application/*'], 'json'],
    ['JSON preferred by q', '/fib_status',
     ['text/plain;q=0.4, application/json;q=0.5'], 'json'],
    ['JSON over a wildcard', '/fib_status',
     ['application/json, */*;q=0.1'], 'json'],
    ['two Accept lines, one list', '/fib_status',
     ['text/plain;q=0.1', 'APPLICATION/JSON'], 'json'],
    ['text/html', '/fib_status', ['text/html'], 'html'],
    ['Chromium\'s Accept', '/fib_status', [$chrome], 'html'],
    ['Firefox\'s Accept', '/fib_status', [$firefox], 'html'],
    ['HTML on a tie with JSON', '/fib_status',
     ['application/json;q=0.5, text/html;q=0.5'], 'html'],
    ['format=json over a browser\'s Accept', '/fib_status?format=json',
     [$chrome], 'json'],
    ['format=html over curl\'s', '/fib_status?format=html', ['*/*'],
     'html'],
    ['format=prometheus over JSON', '/fib_status?format=prometheus',
     ['application/json'], 'text'],
    ['format among other arguments', '/fib_status?x=1&format=json&y',
     undef, 'json'],
);

my %type = (text => 'text/plain; version=0.0.4', json => 'application/json',
            html => 'text/html; charset=utf-8');
my %seen;

for my $case (@cases) {
    my ($what, $uri, $accept, $format) = @$case;
    my $headers = join '', map { "Accept: $_\r\n" } @{ $accept || [] };
    my $c = get($uri, headers => $headers);

    is($c->{headers}{'content-type'} // 'none', $type{$format},
       "$what: $format");
    is($c->{headers}{vary}, 'Accept', "$what: Vary: Accept");
    push @{ $seen{$format} }, $c->{body};
}

# idle all along: every text answer is the same page
is_deeply([grep { $_ ne $text->{body} } @{ $seen{text} }], [],
          'every text answer is the page that was there before');
is_deeply([grep { $_ ne $j->{body} } @{ $seen{json} }], [],
          'every JSON answer the same JSON');

my $bad = get('/fib_status?format=yaml');
is($bad->{status}, 400, 'format=yaml: 400');
is($bad->{body}, "format must be prometheus, json or html\n",
   'saying what it takes');
is($bad->{headers}{vary}, 'Accept', 'with Vary: Accept');

my $post = get('/fib_status', method => 'POST');
is($post->{status}, 405, 'POST: 405');
is($post->{headers}{vary}, 'Accept', 'with Vary: Accept too');

# }}}
# {{{ HEAD: the headers of GET, no body

for my $case (['format=json', '/fib_status?format=json', '', $j],
              ['a browser', '/fib_status', "Accept: $chrome\r\n",
               get('/fib_status?format=html')],
              ['no Accept', '/fib_status', '', $text])
{
    my ($what, $uri, $headers, $full) = @$case;
    my $h = get($uri, method => 'HEAD', headers => $headers);

    is($h->{status}, 200, "HEAD, $what: 200");
    is($h->{headers}{'content-type'}, $full->{headers}{'content-type'},
       "HEAD, $what: the type of GET");
    is($h->{headers}{'content-length'}, length $full->{body},
       "HEAD, $what: the length of GET's body");
    is($h->{body}, '', "HEAD, $what: no body");
}

# }}}
# {{{ the dashboard: the file in the repository, self-contained

my $html = get('/fib_status?format=html');
my $file = slurp("$repo/ngx_http_fib_dashboard.html");

is($html->{status}, 200, 'format=html: 200');
ok($html->{body} eq $file,
   'the page is ngx_http_fib_dashboard.html, byte for byte');
like($html->{headers}{'content-security-policy'} // '',
     qr/^default-src 'none';/, 'a Content-Security-Policy that allows '
                               . 'nothing from elsewhere');
unlike($file, qr/\b(?:src|href)\s*=\s*["']?(?:https?:)?\/\//i,
       'no script, style or font from another host');
unlike($file, qr/\@import|url\(\s*["']?(?!data:)/i,
       'no style that fetches');
unlike($file, qr/[^\x09\x0a\x20-\x7e]/, 'ASCII: the C string holds it '
                                        . 'as it is');
like($file, qr/\?format=json/, 'it polls the JSON');

# }}}
# {{{ the text page is the one the README shows

# the README's page and ours, numbers and versions left out: the same
# lines in the same order for the README's two locations and pool
sub shape {
    my ($page) = @_;
    return [map { s/ \S+$/ N/r =~ s/version="[^"]*",nginx="[^"]*"/V/r }
            grep { !/location="(?!= \/fib")(?!= \/fib\/fast")/
                   && !/^fib_pool_tasks/ }
            split /\n/, $page];
}

my ($shown) = $readme =~ /^\$ curl 127\.0\.0\.1:8080\/fib_status\n(.*?)^```/ms;
is_deeply(shape($text->{body}), shape($shown // ''),
          'the text page has the README\'s lines, in its order');
is($text->{headers}{'content-type'}, 'text/plain; version=0.0.4',
   'and its Content-Type');

log_clean('json');

# }}}

done_testing();
