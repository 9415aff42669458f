# vim:set ft= ts=4 sw=4 et fdm=marker:

# The matrix: the blocks and directives operators put in or around a fib
# location, crossed with the kinds of request.  Each configuration that
# broke once (an `if` that crashed a worker, a `limit_except` that handed
# GET to the static handler, an SSI include answered 304) was one cell of
# this table; the next such path should be found here, not by a user.
#
# Rows: one location each, all in one nginx (master and one worker, one
# pool thread, so that heavy requests really wait).  Kinds:
#
#   inline    GET of a cheap N (10), computed in the event loop
#   offload   GET of a heavy N (27), computed in the pool
#   queued    three heavy GETs while F(42) holds the pool's only thread:
#             one waits in the pool's queue, the others in the worker's
#   head      HEAD of the heavy N: the headers of the GET, no body
#   inm       GET with If-None-Match "fib-27": 304 where the fib location
#             answers, the whole body where it is a subrequest's
#   range     GET with Range: bytes=0-2: a 206 of the first three bytes
#             where the fib location answers, the whole body where it is
#             a subrequest's
#   abort     GET of F(45); the client closes while it computes, and
#             the computation is cancelled
#   post      POST (where the location's own answer is the module's 405)
#
# After each row: no worker died, no alert, and fib_in_flight,
# fib_waiting and fib_memory_bytes are back to 0.  Only answers and the
# order of events are asserted, never their timing.

use strict;
use warnings;

use Test::More;
use IO::Socket::INET;
use IO::Select;
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use File::Path qw(make_path remove_tree);
use Time::HiRes qw(sleep time);
use Cwd qw(cwd);
use FindBin;
use lib "$FindBin::Bin/inc";
use NginxBinary;
use FibServer;

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my $srv = FibServer->new('matrix');
my $port = $srv->port;
my $root = $srv->root;

require_threads();

if ($ENV{TEST_NGINX_USE_VALGRIND}) {
    # the queued cells need a computation that outlasts three requests
    plan skip_all => 'not under valgrind';
}

my %F = (5 => 5, 10 => 55, 27 => 196418, 29 => 514229, 42 => 267914296,
         45 => 1134903170);

my $CHEAP = 10;
my $HEAVY = 27;
# long enough that it still computes when the client's close arrives,
# however slow the machine: F(40) was done first now and then
my $ABORT = 45;
my $BLOCKER = 42;

my $POST_BODY = "method POST is not allowed: use GET or HEAD\n";
my $ERR_PAGE = "error page\n";

# {{{ the rows

# name, location(s), the URI of N, and what differs from a plain fib
# location's answer:
#   body     the GET's body for N (default F(N) and "\n")
#   page     the main request is not the fib location: no ETag of ours,
#            and If-None-Match "fib-N" is not the page's (200, full body)
#   headers  response headers every 200 and 304 carries
#   accept   Accept-Encoding sent with every request
#   no_etag  a filter drops the ETag of a changed body (sub_filter
#            without sub_filter_last_modified)
#   whole    a filter changes the body and its length: nginx's range
#            filter steps aside, as for a static file (a 200, no 206)
#   post     the expected POST answer, when the row has one
#   max      the location's fib_max_num, above which the error page
#            answers
#   over     an extra GET of N = 29, above the location's limit

my %post405 = (status => 405, body => $POST_BODY, allow => 1);

my @rows = (
    {
        name => 'plain',
        conf => 'location = /m/plain { fib; }',
        uri => '/m/plain?num=%d',
        post => \%post405,
    },
    {
        name => 'if set',
        conf => 'location = /m/if_set { fib; '
                . 'if ($arg_x) { set $matrix_x 1; } }',
        uri => '/m/if_set?num=%d&x=1',
        post => \%post405,
    },
    {
        name => 'if add_header',
        conf => 'location = /m/if_header { fib; '
                . 'if ($arg_x) { add_header X-Matrix if; } }',
        uri => '/m/if_header?num=%d&x=1',
        headers => { 'x-matrix' => 'if' },
        post => \%post405,
    },
    {
        name => 'if limit_rate',
        conf => 'location = /m/if_rate { fib; '
                . 'if ($arg_x) { limit_rate 1k; } }',
        uri => '/m/if_rate?num=%d&x=1',
        post => \%post405,
    },
    {
        # GET is not among the methods it names: the block applies
        name => 'limit_except covering GET',
        conf => 'location = /m/lex_cover { fib; '
                . 'limit_except POST { allow 127.0.0.1; deny all; } }',
        uri => '/m/lex_cover?num=%d',
        post => \%post405,
    },
    {
        # the block applies to POST only: GET and HEAD pass by it
        name => 'limit_except not covering GET',
        conf => 'location = /m/lex_nocover { fib; '
                . 'limit_except GET { allow 127.0.0.1; deny all; } }',
        uri => '/m/lex_nocover?num=%d',
        post => \%post405,
    },
    {
        name => 'rewrite break',
        conf => 'location /m/rw/ { '
                . 'rewrite ^/m/rw/(\d+)$ /fib_rw?num=$1? break; fib; }',
        uri => '/m/rw/%d',
        post => \%post405,
    },
    {
        # every N is above 5: each request goes to @fib_any
        name => 'error_page to a named fib location',
        conf => 'location = /m/ep_named { fib; fib_max_num 5; '
                . 'error_page 400 405 = @fib_any; }',
        uri => '/m/ep_named?num=%d',
        post => \%post405,
    },
    {
        name => 'error_page to a static page',
        conf => 'location = /m/ep_static { fib; fib_max_num 28; '
                . 'error_page 400 405 /err.html; }',
        uri => '/m/ep_static?num=%d',
        max => 28,
        over => { status => 400, body => $ERR_PAGE },
        # the error page answers: none of the module's headers
        post => { status => 405, body => $ERR_PAGE, allow => 'none' },
    },
    {
        name => 'try_files to a named location',
        conf => 'location = /m/try { try_files /nothing @fib_any; }',
        uri => '/m/try?num=%d',
        post => \%post405,
    },
    {
        # the subrequest computes the same N before the main request
        name => 'auth_request into a fib location',
        conf => 'location = /m/auth { set $matrix_n $arg_num; '
                . 'auth_request /fib_var; fib; }',
        uri => '/m/auth?num=%d',
    },
    {
        name => 'ssi include of /fib',
        conf => 'location = /m/ssi { ssi on; ssi_types text/plain; '
                . q[return 200 'F=<!--# include virtual="/fib?num=$arg_num"]
                . q[ -->.'; }],
        uri => '/m/ssi?num=%d',
        body => sub { "F=$F{$_[0]}\n." },
        page => 1,
    },
    {
        name => 'addition add_before_body',
        conf => 'location = /m/add { set $matrix_n $arg_num; '
                . 'addition_types text/plain; add_before_body /fib_var; '
                . 'return 200 "main\n"; }',
        uri => '/m/add?num=%d',
        body => sub { "$F{$_[0]}\nmain\n" },
        page => 1,
    },
    {
        name => 'sub_filter',
        conf => 'location = /m/sub { fib; sub_filter_types text/plain; '
                . 'sub_filter 1 one; }',
        uri => '/m/sub?num=%d',
        body => sub { (my $b = "$F{$_[0]}\n") =~ s/1/one/; $b },
        no_etag => 1,
        whole => 1,
        post => \%post405,
    },
    {
        name => 'gzip',
        conf => 'location = /m/gzip { fib; gzip on; gzip_types text/plain; '
                . 'gzip_min_length 1; }',
        uri => '/m/gzip?num=%d',
        accept => 'gzip',
        whole => 1,
        post => \%post405,
    },
    {
        # the mirror computes the same N, in the background
        name => 'mirror',
        conf => 'location = /m/mirror { mirror /fib_mirror; fib; }',
        uri => '/m/mirror?num=%d',
        post => \%post405,
    },
    {
        # requests beyond 50/s are delayed, not refused
        name => 'limit_req',
        conf => 'location = /m/limit_req { fib; '
                . 'limit_req zone=matrix burst=50; }',
        uri => '/m/limit_req?num=%d',
        post => \%post405,
    },
);

# }}}

# {{{ nginx

make_path("$root/html");

open my $fh, '>', "$root/html/err.html" or die $!;
print $fh $ERR_PAGE;
close $fh;

# root runs its workers as nobody, who may not reach the servroot
my $locations = join "\n", map { "        $_->{conf}" } @rows;

$srv->write_conf(workers => 1, connections => 256, log_level => 'info',
                 main => 'thread_pool fib threads=1 max_queue=1;',
                 http => <<"END");
    default_type text/plain;

    fib_thread_pool fib;
    fib_max_num 45;

    limit_req_zone \$binary_remote_addr zone=matrix:1m rate=50r/s;

    server {
        listen 127.0.0.1:$port;
        root $root/html;

        location = /fib_status { fib_status; }
        location = /fib { fib; }

        # fib_status behind a limit_except that covers GET, and one that
        # covers POST
        location = /m/status_lex {
            fib_status;
            limit_except POST { allow 127.0.0.1; deny all; }
        }

        location = /m/status_lex_get {
            fib_status;
            limit_except GET { allow 127.0.0.1; deny all; }
        }

        location \@fib_any { fib; }
        location = /fib_mirror { internal; fib; }

        # N from the main request, for subrequests that carry no query
        location = /fib_var { internal; set \$args num=\$matrix_n; fib; }

$locations
    }
END

# }}}

# {{{ requests

sub request {
    my ($method, $uri, $headers) = @_;

    my $s = connect_to();
    my $req = "$method $uri HTTP/1.1\r\nHost: localhost\r\n"
              . "Connection: close\r\n";

    for my $k (sort keys %{ $headers || {} }) {
        $req .= "$k: $headers->{$k}\r\n";
    }

    $req .= "Content-Length: 3\r\n\r\nx=1" if $method eq 'POST';
    $req .= "\r\n" if $method ne 'POST';

    print $s $req;

    return { sock => $s, data => '', uri => $uri, method => $method };
}

# headers (lower-case names, every value), body without chunked framing
# and gzip
sub decode_answer {
    my ($c) = @_;

    my ($head, $body) = split /\r\n\r\n/, $c->{data}, 2;
    $head //= '';
    $body //= '';

    my %h;
    for my $line (split /\r\n/, $head) {
        next if $line !~ /^([^:]+):\s*(.*)$/;
        push @{ $h{lc $1} }, $2;
    }

    if (join('', @{ $h{'transfer-encoding'} || [] }) eq 'chunked') {
        my $plain = '';
        while ($body =~ s/^([0-9a-fA-F]+)\r\n//) {
            my $len = hex $1;
            last if $len == 0;
            $plain .= substr $body, 0, $len, '';
            $body =~ s/^\r\n//;
        }
        $body = $plain;
    }

    if (join('', @{ $h{'content-encoding'} || [] }) eq 'gzip') {
        my $plain;
        gunzip(\$body => \$plain) or $plain = "gunzip: $GunzipError";
        $body = $plain;
    }

    $c->{headers} = \%h;
    $c->{plain} = $body;
}

sub header {
    my ($c, $name) = @_;
    return $c->{headers}{$name} ? $c->{headers}{$name}[0] // '' : '';
}

sub gauges_zero {
    my ($name) = @_;

    my @g = qw(fib_in_flight fib_waiting fib_memory_bytes);
    my %v;
    my $deadline = time + 15;

    for (;;) {
        %v = map { ($_ => metric($_)) } @g;
        last if !grep { $v{$_} ne '0' } @g;
        last if time > $deadline;
        sleep 0.05;
    }

    is("@v{@g}", '0 0 0',
       "$name: fib_in_flight, fib_waiting, fib_memory_bytes back to 0");
}

# a gauge's value, 0 while the status page cannot say (a worker died)
sub gauge {
    my $v = metric($_[0]);
    return $v =~ /^\d+$/ ? $v : 0;
}

# until $cond is true or one of the connections has an answer
sub until_busy {
    my ($cond, $conns) = @_;

    my $sel = IO::Select->new(map { $_->{sock} } @$conns);
    my $deadline = time + 10;

    while (time < $deadline) {
        return 1 if $cond->();
        return 0 if $sel->can_read(0);
        sleep 0.005;
    }

    return 0;
}

# }}}

# {{{ what a cell expects

sub expect {
    my ($row, $kind, $n) = @_;

    if ($kind eq 'post') {
        return $row->{post};
    }

    if ($kind eq 'over') {
        return $row->{over};
    }

    # above its limit the row's error page answers, whatever the kind
    if ($row->{max} && $n > $row->{max}) {
        return { status => 400, body => $kind eq 'head' ? '' : $ERR_PAGE };
    }

    my $body = $row->{body} ? $row->{body}->($n) : "$F{$n}\n";

    if ($kind eq 'head') {
        return { status => 200, body => '',
                 etag => $row->{page} ? 0 : $row->{no_etag} ? 'none' : 1,
                 length => $row->{page} || $row->{body} || $row->{accept}
                           ? undef : length $body };
    }

    if ($kind eq 'inm') {
        return $row->{page} ? { status => 200, body => $body }
                            : { status => 304, body => '', etag => 1 };
    }

    if ($kind eq 'range' && !$row->{page} && !$row->{whole}) {
        return { status => 206, body => substr($body, 0, 3),
                 range => 'bytes 0-2/' . length $body };
    }

    return { status => 200, body => $body,
             etag => $row->{page} ? 0 : $row->{no_etag} ? 'none' : 1 };
}

sub check_cell {
    my ($row, $kind, $c, $n) = @_;

    my $name = "$row->{name} / $kind";
    my $want = expect($row, $kind, $n);

    decode_answer($c);

    is($c->{status}, $want->{status}, "$name: status $want->{status}");
    is($c->{plain}, $want->{body}, "$name: body");

    if ($want->{etag} && $want->{etag} eq 'none') {
        is(header($c, 'etag'), '', "$name: no ETag");

    } elsif ($want->{etag}) {
        # gzip's compressed answer carries the weak form of the tag
        my $tag = header($c, 'content-encoding') eq 'gzip'
                  ? qq{W/"fib-$n"} : qq{"fib-$n"};
        is(header($c, 'etag'), $tag, "$name: ETag $tag");
    }

    if ($want->{range}) {
        is(header($c, 'content-range'), $want->{range},
           "$name: Content-Range $want->{range}");
    }

    if (defined $want->{length}) {
        is(header($c, 'content-length'), $want->{length},
           "$name: Content-Length of the GET");
    }

    if ($row->{accept} && $kind !~ /head|inm|post/) {
        is(header($c, 'content-encoding'), 'gzip', "$name: gzipped");
    }

    if ($want->{status} =~ /^(200|304)$/) {
        for my $k (sort keys %{ $row->{headers} || {} }) {
            is(header($c, $k), $row->{headers}{$k}, "$name: $k header");
        }
    }

    if ($want->{allow}) {
        my @allow = @{ $c->{headers}{allow} || [] };
        if ($want->{allow} eq 'none') {
            is(join('|', @allow), '', "$name: no Allow");
        } else {
            is(join('|', @allow), 'GET, HEAD', "$name: one Allow: GET, HEAD");
        }
    }
}

# }}}

# {{{ the cells

sub cell {
    my ($row, $kind) = @_;

    my %hdr = $row->{accept} ? ('Accept-Encoding' => $row->{accept}) : ();
    my $uri = sub { sprintf $row->{uri}, $_[0] };

    if ($kind eq 'inline' || $kind eq 'offload' || $kind eq 'over') {
        my $n = { inline => $CHEAP, offload => $HEAVY, over => 29 }->{$kind};
        my $c = request('GET', $uri->($n), \%hdr);
        wait_all([$c], 30);
        check_cell($row, $kind, $c, $n);

    } elsif ($kind eq 'head') {
        my $c = request('HEAD', $uri->($HEAVY), \%hdr);
        wait_all([$c], 30);
        check_cell($row, $kind, $c, $HEAVY);

    } elsif ($kind eq 'inm') {
        my $c = request('GET', $uri->($HEAVY),
                        { %hdr, 'If-None-Match' => qq{"fib-$HEAVY"} });
        wait_all([$c], 30);
        check_cell($row, $kind, $c, $HEAVY);

    } elsif ($kind eq 'range') {
        my $c = request('GET', $uri->($HEAVY),
                        { %hdr, 'Range' => 'bytes=0-2' });
        wait_all([$c], 30);
        check_cell($row, $kind, $c, $HEAVY);

    } elsif ($kind eq 'post') {
        my $c = request('POST', $uri->($CHEAP), \%hdr);
        wait_all([$c], 30);
        check_cell($row, $kind, $c, $CHEAP);

    } elsif ($kind eq 'queued') {
        my $blocker = request('GET', "/fib?num=$BLOCKER");

        until_busy(sub { gauge('fib_in_flight') >= 1 }, [$blocker]);

        my @c = map { request('GET', $uri->($HEAVY), \%hdr) } 1 .. 3;

        my $waited = until_busy(sub { gauge('fib_waiting') >= 1 },
                                [$blocker, @c]);

        wait_all([$blocker, @c], 60);

        ok($waited, "$row->{name} / queued: requests waited for the pool");
        is($blocker->{body}, "$F{$BLOCKER}\n",
           "$row->{name} / queued: the request that held the pool");
        check_cell($row, $kind, $_, $HEAVY) for @c;

    } elsif ($kind eq 'abort') {
        my $c = request('GET', $uri->($ABORT), \%hdr);

        if (until_busy(sub { gauge('fib_in_flight') >= 1 }, [$c])) {
            close $c->{sock};
            pass("$row->{name} / abort: closed while F($ABORT) computes");

            # the module sees the client go and stops computing for it
            my $cancelled = qr/cancelling F\($ABORT\)/;
            my $deadline = time + 10;
            sleep 0.02 until log_count($cancelled) || time > $deadline;
            ok(log_count($cancelled) >= 1,
               "$row->{name} / abort: the computation is cancelled");

        } else {
            # answered without computing: that answer is the cell's
            wait_all([$c], 30);
            check_cell($row, $kind, $c, $ABORT);
        }

        # whatever happened to it, the worker answers the next one
        my $next = request('GET', $uri->($CHEAP), \%hdr);
        wait_all([$next], 30);
        check_cell($row, 'after abort', $next, $CHEAP);
    }
}

# }}}

launch_nginx();
log_clean('start');

for my $row (@rows) {
    mark_log();

    my @kinds = qw(inline offload queued head inm range abort);
    push @kinds, 'over' if $row->{over};
    push @kinds, 'post' if $row->{post};

    cell($row, $_) for @kinds;

    gauges_zero($row->{name});
    log_clean($row->{name});
}

# {{{ fib_status behind limit_except

mark_log();

my $c = get('/m/status_lex');
is($c->{status}, 200, 'fib_status in limit_except: 200');
like($c->{body}, qr/^fib_in_flight \d+$/m,
     'fib_status in limit_except: the status page');
$c = request('POST', '/m/status_lex_get');
wait_all([$c], 30);
decode_answer($c);
is($c->{status}, 405, 'fib_status in limit_except GET: POST is a 405');
is(join('|', @{ $c->{headers}{allow} || [] }), 'GET, HEAD',
   'fib_status in limit_except GET: one Allow: GET, HEAD');

log_clean('fib_status in limit_except');

# }}}

gauges_zero('the end');

mark_log();
ok(stop_nginx(), 'nginx quits');
log_clean('quit');

done_testing();
