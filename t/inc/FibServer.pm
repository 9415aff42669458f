package FibServer;

# What the socket-level tests (t/004, t/012) share: one nginx, master and
# workers, in a servroot of the test's own, started from the nginx.conf
# the test wrote there; its error log read from a mark on; plain HTTP/1.1
# clients that send one request a connection and read to EOF.
#
# Use:
#
#   use FindBin;
#   use lib "$FindBin::Bin/inc";
#   use FibServer;
#
#   FibServer::setup($root, $port);   # then write $root/conf/nginx.conf
#   launch_nginx();
#
# $FibServer::StatusPort, when set, is where get() and metric() ask
# (a plain HTTP/1.1 listener beside an HTTP/2-only one); every status
# page they fetch goes through promtool check metrics (t/inc/Promtool.pm).

use strict;
use warnings;

use Test::More ();
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(sleep time);
use Promtool;

use Exporter 'import';

our @EXPORT = qw(launch_nginx stop_nginx master_pid alive mark_log
                 log_lines log_count log_clean connect_to send_req
                 wait_all get metric);

our $StatusPort;

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my ($root, $port, $master_pid);
my $log_offset = 0;

sub setup {
    ($root, $port) = @_;
}

sub master_pid { return $master_pid }

# a zombie counts as gone: nginx is not our child
sub alive {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or return 0;
    my $stat = <$fh> // '';
    return $stat !~ /^\d+ \(.*\) Z/s;
}

sub launch_nginx {
    unlink "$root/logs/nginx.pid";

    system($nginx, '-p', "$root/", '-c', "$root/conf/nginx.conf",
           '-e', "$root/logs/error.log") == 0
        or Test::More::BAIL_OUT("nginx did not start");

    my $deadline = time + 10;
    until (-s "$root/logs/nginx.pid") {
        Test::More::BAIL_OUT("no nginx.pid") if time > $deadline;
        sleep 0.01;
    }

    open my $fh, '<', "$root/logs/nginx.pid" or die $!;
    ($master_pid) = (<$fh> =~ /(\d+)/);
    close $fh;

    until (IO::Socket::INET->new("127.0.0.1:$port")) {
        Test::More::BAIL_OUT("nginx does not listen") if time > $deadline;
        sleep 0.01;
    }
}

# QUIT unless told otherwise; false when it had to be killed
sub stop_nginx {
    my ($signal) = @_;

    return 1 if !$master_pid;

    kill $signal || 'QUIT', $master_pid;

    my $deadline = time + 30;
    while (alive($master_pid)) {
        if (time > $deadline) {
            kill 'KILL', $master_pid;
            undef $master_pid;
            return 0;
        }
        sleep 0.02;
    }

    undef $master_pid;
    return 1;
}

sub mark_log {
    $log_offset = -s "$root/logs/error.log" || 0;
}

sub log_lines {
    open my $fh, '<', "$root/logs/error.log" or return ();
    seek $fh, $log_offset, 0;
    my @lines = <$fh>;
    close $fh;
    return @lines;
}

sub log_count {
    my ($re) = @_;
    return scalar grep { /$re/ } log_lines();
}

# no worker died, no alert, no socket left, unless the test caused it
sub log_clean {
    my ($name, $expected) = @_;
    my @bad = grep { /\[(alert|crit|emerg)\]|open socket|exited on signal/ }
              log_lines();
    @bad = grep { !/$expected/ } @bad if $expected;
    Test::More::is(scalar @bad, 0,
                   "$name: no worker died, no alert, crit or open socket")
        or Test::More::diag(join '', @bad[0 .. ($#bad > 4 ? 4 : $#bad)]);
}

sub connect_to {
    my ($to) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:" . ($to // $port),
                                  Proto => 'tcp')
        or die "connect: $!";
    $s->autoflush(1);
    return $s;
}

# sends one request, on a new connection unless given one
sub send_req {
    my ($uri, $s) = @_;

    $s //= connect_to($port);
    print $s "GET $uri HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

    return { sock => $s, data => '', uri => $uri };
}

# reads all the given connections to EOF, at most $timeout seconds;
# returns the order they ended in
sub wait_all {
    my ($conns, $timeout) = @_;

    my $sel = IO::Select->new(map { $_->{sock} } @$conns);
    my %by = map { (fileno($_->{sock}) => $_) } @$conns;
    my @order;
    my $deadline = time + ($timeout || 30);

    while ($sel->count && time < $deadline) {
        for my $s ($sel->can_read($deadline - time)) {
            my $c = $by{fileno $s};
            my $n = sysread($s, my $buf, 65536);
            if ($n) {
                $c->{data} .= $buf;
                next;
            }
            $sel->remove($s);
            close $s;
            push @order, $c;
        }
    }

    for my $c (@$conns) {
        ($c->{status}) = ($c->{data} =~ m{^HTTP/1\.\d (\d+)});
        $c->{status} //= '';
        ($c->{body}) = ($c->{data} =~ /\r\n\r\n(.*)\z/s);
        $c->{body} //= '';
    }

    return @order;
}

# a status page it fetches must pass promtool check metrics
sub get {
    my ($uri) = @_;
    my $c = send_req($uri, connect_to($StatusPort));
    wait_all([$c]);
    Promtool::check($c->{body}, $uri)
        if $uri =~ m{^/fib_status} && $c->{status} eq '200';
    return $c;
}

sub metric {
    my ($name) = @_;
    my $c = get('/fib_status');
    return $c->{body} =~ /^\Q$name\E (\S+)$/m ? $1 : 'missing';
}

1;
