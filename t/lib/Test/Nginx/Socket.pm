package Test::Nginx::Socket;

# A small runner for Test::Nginx::Socket test files, used when the real
# Test::Nginx (CPAN, openresty/test-nginx) is not installed.  It implements
# the subset that t/README.md describes ("The local runner"), with the same
# assertion counts, so that every t/*.t file runs unchanged under either.
#
# It speaks HTTP/1 only: `--- no_http2`, which keeps a block that is
# HTTP/1 by nature (pipelining, request-line limits, a client abort
# through the client's timeout) out of the real one's TEST_NGINX_USE_HTTP2
# mode, changes nothing here.

use strict;
use warnings;

use Test::Base;
use Test::More ();
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(sleep time);
use File::Path qw(make_path);
use File::Basename qw(dirname);
use Cwd qw(abs_path);
use Exporter ();

# the servroot, the configuration's top, start, stop and the ports are
# t/inc/NginxSandbox.pm's, as they are for the socket-level files
use lib abs_path(dirname(__FILE__) . '/../../../inc');
use NginxSandbox ();

our $VERSION = '0.01';

our @EXPORT = qw(
    plan blocks run_tests repeat_each no_shuffle log_level workers
    master_on master_off worker_connections no_long_string
    server_port server_root timeout
);

my $RepeatEach = 1;
my $LogLevel = 'debug';
my $Workers = 1;
my $MasterOn = 0;
my $WorkerConnections = 64;

my $Port = NginxSandbox::suite_port();
my $ServRoot = NginxSandbox::servroot();
my $UseValgrind = $ENV{TEST_NGINX_USE_VALGRIND};

$ENV{TEST_NGINX_SERVER_PORT} = $Port;
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

# the one nginx of the file, started again for each block with a config
my $Nginx;

sub sandbox {
    $Nginx //= NginxSandbox->new(name => 'servroot', root => $ServRoot,
                                 port => $Port, valgrind => $UseValgrind);
    return $Nginx;
}

sub import {
    my $class = shift;
    my $caller = caller;

    no strict 'refs';
    for my $name (@EXPORT) {
        if ($name eq 'plan' || $name eq 'blocks') {
            *{"${caller}::$name"} = \&{"Test::Base::$name"};
            next;
        }
        *{"${caller}::$name"} = \&{"${class}::$name"};
    }

    if (@_ && $_[0] eq 'no_plan') {
        Test::More::plan('no_plan');
    }
}

sub repeat_each { $RepeatEach = shift if @_; return $RepeatEach }
sub no_shuffle { }
sub no_long_string { }
sub log_level { $LogLevel = shift if @_; return $LogLevel }
sub workers { $Workers = shift if @_; return $Workers }
sub master_on { $MasterOn = 1 }
sub master_off { $MasterOn = 0 }
sub worker_connections { $WorkerConnections = shift if @_;
                         return $WorkerConnections }
sub server_port { return $Port }
sub server_root { return $ServRoot }
sub timeout { return 3 }

END {
    nginx_stop();
}

# As the real one: each block in turn, its requests repeat_each times
# against the one nginx the block started
sub run_tests {
    for my $block (blocks()) {
        for my $i (1 .. $RepeatEach) {
            run_block($block, $i);
        }
    }

    nginx_stop();

    check_no_crash();

    sandbox()->clean;
}

sub expand_env {
    my ($text, $name) = @_;

    return '' if !defined $text;

    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        if (!defined $ENV{$1}) {
            Test::More::BAIL_OUT("$name - No environment $1 defined.");
        }
        $ENV{$1};
    }ge;

    return $text;
}

# As the real one writes it: the sandbox's top (load_module lines,
# `user root;` as root, error_log, pid), one server on 127.0.0.1
sub write_config {
    my ($block) = @_;
    my $name = sec($block, q{name});

    my $main = expand_env(sec($block, q{main_config}), $name);
    my $http = expand_env(sec($block, q{http_config}), $name);
    my $config = expand_env(sec($block, q{config}), $name);

    make_path("$ServRoot/html");

    sandbox()->write_conf(
        log_level => $LogLevel, workers => $Workers, master => $MasterOn,
        connections => $WorkerConnections, access_log => 1, main => $main,
        http => <<"END");
    default_type text/plain;

$http

    server {
        listen 127.0.0.1:$Port;
        server_name localhost;

        root $ServRoot/html;

$config
    }
END
}

sub nginx_stop {
    $Nginx->stop if defined $Nginx;
}

sub nginx_start {
    my ($block) = @_;
    my $name = sec($block, q{name});

    nginx_stop();

    if (!eval { sandbox()->start }) {
        Test::More::fail("$name - $@");
        return 0;
    }

    # under valgrind the worker answers long after it listens: one
    # request makes sure it is ready before the block's own
    exchange("GET / HTTP/1.0\r\n\r\n", 60) if $UseValgrind;

    return 1;
}

sub parse_timeout {
    my ($t) = @_;

    return 3 if !defined $t;

    $t =~ s/\s+//g;

    return $1 / 1000 if $t =~ /^(\d+(?:\.\d+)?)ms$/;
    return $1 if $t =~ /^(\d+(?:\.\d+)?)s?$/;

    Test::More::BAIL_OUT("bad --- timeout value \"$t\"");
}

sub build_request {
    my ($text, $more_headers, $keepalive) = @_;

    $text =~ s/^\s+//;

    my ($line, $body) = split /\n/, $text, 2;
    $body = '' if !defined $body;

    my ($method, $uri, $proto) = split ' ', $line;
    $uri = '/' if !defined $uri;
    $proto = 'HTTP/1.1' if !defined $proto;

    my %seen;
    my $headers = '';

    for my $h (split /\n/, $more_headers || '') {
        next if $h !~ /\S/;
        my ($k) = ($h =~ /^\s*([^:\s]+)\s*:/);
        $seen{lc $k} = 1 if defined $k;
        $headers .= "$h\r\n";
    }

    my $req = "$method $uri $proto\r\n";
    $req .= "Host: localhost\r\n" if !$seen{host};

    if (!$seen{connection}) {
        $req .= $keepalive ? "Connection: keep-alive\r\n"
                           : "Connection: close\r\n";
    }

    $req .= $headers;

    if (length $body && !$seen{'content-length'}) {
        $req .= "Content-Length: " . length($body) . "\r\n";
    }

    return ($req . "\r\n" . $body, $method);
}

# Sends one write, reads until EOF or the timeout; returns the bytes and
# whether it timed out.
sub exchange {
    my ($data, $timeout) = @_;

    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $Port, Proto => 'tcp',
                                      Timeout => $timeout);
    return ('', 1) if !$sock;

    binmode $sock;

    my $off = 0;
    while ($off < length $data) {
        my $n = syswrite($sock, $data, length($data) - $off, $off);
        last if !defined $n;
        $off += $n;
    }

    my $sel = IO::Select->new($sock);
    my $resp = '';
    my $deadline = time + $timeout;
    my $timed_out = 0;

    while (1) {
        my $left = $deadline - time;
        if ($left <= 0) {
            $timed_out = 1;
            last;
        }

        last if !$sel->can_read($left) && ($timed_out = 1);

        my $n = sysread($sock, my $buf, 65536);
        last if !$n;
        $resp .= $buf;
    }

    close $sock;

    return ($resp, $timed_out);
}

# Splits the bytes read into responses; HEAD answers and 1xx/204/304 carry
# no body.
sub parse_responses {
    my ($raw, $methods) = @_;
    my @res;

    for my $i (0 .. $#$methods) {
        last if $raw eq '';

        my $res = { code => '', headers => {}, raw_headers => '', body => '' };

        my $end = index($raw, "\r\n\r\n");
        if ($end < 0) {
            push @res, $res;
            last;
        }

        my $head = substr($raw, 0, $end);
        $raw = substr($raw, $end + 4);
        $res->{raw_headers} = $head;

        my ($status, @lines) = split /\r\n/, $head;
        ($res->{code}) = ($status =~ m{^HTTP/\d\.\d\s+(\d+)});
        $res->{code} = '' if !defined $res->{code};

        for my $l (@lines) {
            my ($k, $v) = ($l =~ /^([^:]+):\s*(.*?)\s*$/) or next;
            my $key = lc $k;
            if (exists $res->{headers}{$key}) {
                $res->{headers}{$key} .= ", $v";
            } else {
                $res->{headers}{$key} = $v;
            }
        }

        my $code = $res->{code} || 0;
        my $te = $res->{headers}{'transfer-encoding'} || '';
        my $cl = $res->{headers}{'content-length'};

        if ($methods->[$i] eq 'HEAD' || $code == 204 || $code == 304
            || ($code >= 100 && $code < 200))
        {
            # no body

        } elsif ($te =~ /chunked/i) {
            while ($raw =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n//) {
                my $size = hex $1;
                if ($size == 0) {
                    $raw =~ s/^(?:[^\r\n]+\r\n)*\r\n//;
                    last;
                }
                $res->{body} .= substr($raw, 0, $size);
                $raw = length($raw) >= $size + 2
                       ? substr($raw, $size + 2) : '';
            }

        } elsif (defined $cl) {
            $res->{body} = substr($raw, 0, $cl);
            $raw = length($raw) > $cl ? substr($raw, $cl) : '';

        } else {
            $res->{body} = $raw;
            $raw = '';
        }

        push @res, $res;
    }

    return @res;
}

sub indexed {
    my ($value, $i, $need_array) = @_;

    return $value if !$need_array || ref $value ne 'ARRAY';
    return $value->[$i];
}

sub check_response {
    my ($block, $res, $i, $need_array) = @_;
    my $name = sec($block, q{name});
    my $tag = $need_array ? " (req $i)" : '';

    $res ||= { code => '', headers => {}, raw_headers => '', body => '' };

    my $code = defined sec($block, q{error_code})
               ? indexed(sec($block, q{error_code}), $i, $need_array) : 200;
    Test::More::is($res->{code}, $code, "$name - status code ok$tag");

    if (defined sec($block, q{response_headers})) {
        my $spec = indexed(sec($block, q{response_headers}), $i, $need_array);
        my %want;

        for my $line (split /\n/, $spec) {
            next if $line !~ /\S/;

            if ($line =~ /^\s*!\s*(\S+)\s*$/) {
                $want{$1} = undef;
                next;
            }

            my ($k, $v) = ($line =~ /^\s*([^:\s]+)\s*:\s*(.*?)\s*$/)
                or Test::More::BAIL_OUT("$name - bad response_headers line: $line");
            $want{$k} = $v;
        }

        for my $k (sort keys %want) {
            if (!defined $want{$k}) {
                Test::More::unlike($res->{raw_headers}, qr/^\s*\Q$k\E\s*:/mi,
                                   "$name - header $k not present in the "
                                   . "raw headers$tag");
                next;
            }

            my $got = $res->{headers}{lc $k};
            $got = '' if !defined $got;
            Test::More::is($got, $want{$k}, "$name - header $k ok$tag");
        }
    }

    if (!defined sec($block, q{response_headers})
        && defined sec($block, q{response_headers_like}))
    {
        my $spec = indexed(sec($block, q{response_headers_like}), $i,
                           $need_array);

        for my $line (split /\n/, $spec) {
            next if $line !~ /\S/;

            my ($k, $v) = ($line =~ /^\s*([^:\s]+)\s*:\s*(.*?)\s*$/)
                or Test::More::BAIL_OUT("$name - bad response_headers_like "
                                        . "line: $line");

            my $got = $res->{headers}{lc $k};
            $got = '' if !defined $got;
            Test::More::like($got, qr/^$v$/, "$name - header $k like ok$tag");
        }
    }

    if (defined sec($block, q{response_body})) {
        my $want = indexed(sec($block, q{response_body}), $i, $need_array);
        Test::More::is($res->{body}, $want, "$name - response_body - "
                                            . "response is expected$tag");

    } elsif (defined sec($block, q{response_body_like})) {
        my $want = indexed(sec($block, q{response_body_like}), $i, $need_array);
        $want = qr/$want/s if ref $want ne 'Regexp';
        Test::More::like($res->{body}, $want,
                         "$name - response_body_like - response is "
                         . "expected$tag");
    }
}

sub error_log_lines {
    return [sandbox()->log_lines];
}

sub patterns {
    my ($pats) = @_;

    return [$pats] if ref $pats eq 'Regexp';
    return [@$pats] if ref $pats eq 'ARRAY';

    chomp $pats;
    return [grep { length } split /\n+/, $pats];
}

sub matches {
    my ($line, $pat) = @_;
    return ref $pat ? $line =~ $pat : index($line, $pat) >= 0;
}

sub check_error_log {
    my ($block, $final) = @_;
    my $name = sec($block, q{name});

    if (defined sec($block, q{error_log})) {
        my $pats = patterns(sec($block, q{error_log}));
        my %found;

        # a line may be written just after the response went out
        my $deadline = time + ($UseValgrind ? 5 : 1);

        while (1) {
            my $lines = error_log_lines();
            for my $p (0 .. $#$pats) {
                next if $found{$p};
                $found{$p} = 1 if grep { matches($_, $pats->[$p]) } @$lines;
            }
            last if keys %found == @$pats || time > $deadline;
            sleep 0.02;
        }

        for my $p (0 .. $#$pats) {
            if ($found{$p}) {
                Test::More::pass("$name - pattern \"$pats->[$p]\" matches a "
                                 . "line in error.log");
            } else {
                Test::More::fail("$name - pattern \"$pats->[$p]\" should "
                                 . "match a line in error.log");
            }
        }
    }

    if (defined sec($block, q{no_error_log})) {
        my $pats = patterns(sec($block, q{no_error_log}));
        my $lines = error_log_lines();

        for my $pat (@$pats) {
            my @hits = grep { matches($_, $pat) } @$lines;

            if (!@hits) {
                Test::More::pass("$name - pattern \"$pat\" does not match "
                                 . "a line in error.log");
                next;
            }

            for my $hit (@hits) {
                Test::More::fail("$name - pattern \"$pat\" should not match "
                                 . "any line in error.log but matches line "
                                 . "\"$hit\"");
            }
        }
    }
}

# Whatever the blocks asserted, a worker that died fails the file: one
# failure per "exited on signal" line in the whole error.log.  Nothing is
# counted when none died, so plans stay those of the real Test::Nginx.
sub check_no_crash {
    for my $line (sandbox()->crashes) {
        Test::More::fail("no worker may die, but the error log says: $line");
    }
}

sub sec {
    my ($block, $key) = @_;

    # a missing section returns an empty list: force one value
    my $v = $block->$key;
    return $v;
}

sub run_block {
    my ($block, $repeat) = @_;
    my $name = sec($block, q{name});

    if ((defined sec($block, q{config}) && $repeat == 1)
        || !sandbox()->pid)
    {
        write_config($block);
        nginx_start($block) or return;
    }

    # only what this block's requests write counts
    sandbox()->mark_log;

    my $timeout = parse_timeout(sec($block, q{timeout}));
    my (@reqs, @methods, $data, $need_array);

    if (defined sec($block, q{raw_request})) {
        $data = sec($block, q{raw_request});
        $data = join '', @$data if ref $data eq 'ARRAY';
        ($methods[0]) = ($data =~ /^\s*(\S+)/);
        $methods[0] = 'GET' if !defined $methods[0];

    } elsif (defined sec($block, q{pipelined_requests})) {
        my $list = sec($block, q{pipelined_requests});
        $need_array = 1;

        for my $i (0 .. $#$list) {
            my ($req, $method) = build_request($list->[$i],
                                               sec($block, q{more_headers}),
                                               $i < $#$list);
            $data .= $req;
            push @methods, $method;
        }

    } elsif (defined sec($block, q{request})) {
        my ($req, $method) = build_request(sec($block, q{request}),
                                           sec($block, q{more_headers}), 0);
        $data = $req;
        push @methods, $method;

    } else {
        Test::More::BAIL_OUT("$name - no --- request");
    }

    my ($raw, $timed_out) = exchange($data, $timeout);

    if ($timed_out && !defined sec($block, q{abort})) {
        Test::More::fail("ERROR: client socket timed out - $name");
    }

    my @res = parse_responses($raw, \@methods);

    for my $i (0 .. $#methods) {
        if (!defined sec($block, q{ignore_response})) {
            check_response($block, $res[$i], $i, $need_array);
        }

        check_error_log($block) if $i < $#methods;
    }

    sleep sec($block, q{wait}) if sec($block, q{wait});

    check_error_log($block);

    # without a master, a crash takes nginx itself: the next block would
    # fail for a reason far from its cause
    if (sandbox()->pid && !sandbox()->running) {
        Test::More::fail("$name - nginx died: " . sandbox()->error_tail);
        sandbox()->stop;
    }
}

1;
