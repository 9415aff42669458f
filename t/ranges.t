# vim:set ft= ts=4 sw=4 et fdm=marker:

# Range requests, with curl, against the same bytes served two ways by
# one nginx: the module's answer, and a static file holding it.  Every
# range, If-Range and resumed download must come back as the static
# file's does, the ETag aside.

use strict;
use warnings;

use Test::More;
use IO::Socket::INET;
use File::Path qw(make_path remove_tree);
use Cwd qw(cwd);
use FindBin;
use lib "$FindBin::Bin/inc";
use FibServer;

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my $srv = FibServer->new('ranges');
my $port = $srv->port;
my $root = $srv->root;

if (system('curl --version >/dev/null 2>&1') != 0) {
    plan skip_all => 'curl is not installed';
}

remove_tree($root);
make_path("$root/html");

$srv->write_conf(connections => 64, log_level => 'info', http => <<"END");
    default_type text/plain;

    server {
        listen 127.0.0.1:$port;
        root $root/html;

        location = /fib {
            fib;
            fib_algorithm fast;
            fib_max_num 1000000;
        }

        location = /page {
            ssi on;
            ssi_types text/plain;
            return 200 'F(30)=<!--# include virtual="/fib?num=30" -->';
        }
    }
END

launch_nginx();

my $fib = "http://127.0.0.1:$port/fib?num=1000000";
my $static = "http://127.0.0.1:$port/f.txt";

# status, the headers that matter, the body with multipart boundaries
# made alike
sub fetch {
    my ($url, @args) = @_;

    my $out = "$root/out";
    unlink $out;
    my $head = `curl -s -D - -o $out @args '$url'`;
    my ($status) = $head =~ m{^HTTP/\S+ (\d+)}m;
    my (%h, @kv);
    @kv = $head =~ /^([\w-]+): (.*?)\r$/mg;
    while (my ($k, $v) = splice @kv, 0, 2) {
        $h{lc $k} = $v;
    }

    open my $b, '<', $out or return { status => $status // '', h => \%h,
                                      body => '' };
    my $body = do { local $/; <$b> };
    close $b;

    $body =~ s/\b\d{20}\b/BOUNDARY/g if ($h{'content-type'} // '')
                                        =~ /multipart/;
    $h{'content-type'} =~ s/\d{20}/BOUNDARY/ if $h{'content-type'};

    return { status => $status // '', h => \%h, body => $body };
}

my $full = fetch($fib);
is($full->{status}, 200, 'the whole F(10^6)');
is(length $full->{body}, 208989, 'its 208988 digits and a newline');
is($full->{h}{'accept-ranges'}, 'bytes', 'a 200 says it takes ranges');

open my $fh, '>', "$root/html/f.txt" or die $!;
print $fh $full->{body};
close $fh;

my $etag = $full->{h}{etag};
my $static_etag = fetch($static)->{h}{etag};

is(fetch($fib, '-I')->{h}{'accept-ranges'}, 'bytes',
   'HEAD says it takes ranges');

for my $range ('0-2', '-5', '208980-', '100000-', '0-1,4-5,208985-',
               '208989-', '300000-400000', '5-2', '0-0,0-0')
{
    my $f = fetch($fib, '-H', "'Range: bytes=$range'");
    my $s = fetch($static, '-H', "'Range: bytes=$range'");

    is($f->{status}, $s->{status}, "bytes=$range: the static file's status");
    is($f->{h}{'content-range'} // '', $s->{h}{'content-range'} // '',
       "bytes=$range: its Content-Range");
    is($f->{h}{'content-type'}, $s->{h}{'content-type'},
       "bytes=$range: its Content-Type");
    ok($f->{body} eq $s->{body}, "bytes=$range: its bytes");
}

my $f = fetch($fib, '-r', '208980-', '-H', "'If-Range: $etag'");
is($f->{status}, 206, 'If-Range with the ETag: the range');
is($f->{body}, substr($full->{body}, 208980), 'If-Range: its bytes');

$f = fetch($fib, '-r', '208980-', '-H', "'If-Range: \"fib-999\"'");
is($f->{status}, 200, 'If-Range with another ETag: the whole number');
ok($f->{body} eq $full->{body}, 'If-Range with another ETag: its bytes');

$f = fetch($fib, '-r', '208980-', '-H', "'If-Range: W/$etag'");
my $s = fetch($static, '-r', '208980-', '-H', "'If-Range: W/$static_etag'");
is($f->{status}, $s->{status}, 'a weak If-Range: as for the static file');

# an interrupted download, resumed by curl
my $part = "$root/part";
system("curl -s -r 0-99999 -o $part '$fib'") == 0 or die 'curl';
is(-s $part, 100000, 'resume: the first 100000 bytes');
system("curl -s -C - -o $part '$fib'") == 0 or die 'curl';
open my $p, '<', $part or die $!;
my $resumed = do { local $/; <$p> };
close $p;
ok($resumed eq $full->{body}, 'resume: curl -C - gets the exact bytes');

# ranges are the main request's, never a subrequest's
$f = fetch("http://127.0.0.1:$port/page", '-r', '0-1');
is($f->{status}, 200, 'an SSI page with a Range: the page is whole');
is($f->{body}, "F(30)=832040\n", 'its include is whole');

log_clean('ranges');
stop_nginx();

done_testing();
