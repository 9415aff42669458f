package FibServer;

# The one harness of the socket-level tests: any number of nginx
# instances (master and workers), each an NginxSandbox (t/inc/
# NginxSandbox.pm: a servroot of its own, a port of 127.0.0.1 of its
# own from pick_port(), TEST_NGINX_PORT + 1, + 2, ..., an nginx.conf
# that begins as Test::Nginx's would, the error log read from a mark
# on), started after `nginx -t`; plain HTTP/1.1 clients that send one
# request a connection and read to EOF.  Whatever a file asserted, a
# worker that died in any of its instances fails it (`exited on
# signal`, checked at exit).
#
# Use:
#
#   use FindBin;
#   use lib "$FindBin::Bin/inc";
#   use FibServer;
#
#   my $srv = FibServer->new('conc');   # servroot t/servroot-conc
#   $srv->write_conf(main => '...', http => "server { listen
#                    127.0.0.1:${\ $srv->port}; ... }");
#   $srv->launch_nginx;                 # nginx -t, start, wait to listen
#   my $c = $srv->get('/fib?num=10');   # {status, head, body, data}
#   $srv->stop_nginx;                   # QUIT, reaped, KILL after 30 s
#
# Every function that acts on a server takes it as its first argument
# (method call) or else acts on the default one, the first made with
# new() (a file with one server calls them as plain functions:
# launch_nginx(), get(...), log_clean(...)).  Stopping them all and
# removing their servroots (unless TEST_NGINX_NO_CLEAN) happens at exit.
#
# $srv->{status_port}, when set, is where get() and metric() ask (a
# plain HTTP/1.1 listener beside an HTTP/2-only one); every status page
# they fetch goes through promtool check metrics (t/inc/Promtool.pm).

use strict;
use warnings;

use Test::More ();
use IO::Socket::INET;
use IO::Select;
use Scalar::Util qw(blessed);
use Time::HiRes qw(time);
use NginxSandbox;
use Promtool;

use parent -norequire, 'NginxSandbox';

use Exporter 'import';

our @EXPORT = qw(start_server launch_nginx stop_nginx kill_worker
                 master_pid worker_pids alive
                 mark_log log_lines log_count log_clean wait_log
                 access_lines
                 connect_to send_req wait_all get metric pick_port slurp);

# the suite's ports: TEST_NGINX_PORT .. + PORTS - 1 (t/inc/NginxSandbox.pm)
use constant PORTS => NginxSandbox::PORTS;

my @servers;        # every server made, in order; the first is the default

# the server a function acts on: its first argument when that is one
sub self_of {
    my ($args) = @_;
    return shift @$args if blessed($args->[0]) && $args->[0]->isa(__PACKAGE__);
    die "FibServer: no server made yet\n" if !@servers;
    return $servers[0];
}

# FibServer->new($name): servroot TEST_NGINX_SERVROOT-$name (t/servroot
# by default), the next port of pick_port(); $name may hold a '/'
# (cluster/front)
sub new {
    my ($class, $name) = @_;

    my $self = $class->SUPER::new(name => $name, root => servroot("-$name"),
                                  port => pick_port());

    push @servers, $self;
    return $self;
}

# nginx -t, then start the written configuration and wait until it
# listens on its port with a worker; a file whose server does not start
# dies with what nginx said
sub launch_nginx {
    my $self = self_of(\@_);

    my ($ok, $out) = $self->nginx_t;
    die "$self->{name}: nginx -t refuses the configuration:\n$out" if !$ok;

    $self->start;
}

# write_conf(%o), then launch_nginx()
sub start_server {
    my $self = self_of(\@_);
    $self->write_conf(@_);
    $self->launch_nginx;
}

# QUIT unless told otherwise (KILL kills the workers too); false when
# it had to be killed
sub stop_nginx {
    my $self = self_of(\@_);
    return $self->stop(@_);
}

sub master_pid {
    my $self = self_of(\@_);
    return $self->pid;
}

# the sandbox's own, acting on the default server when called as plain
# functions
sub worker_pids {
    my $self = self_of(\@_);
    return $self->SUPER::worker_pids(@_);
}

sub kill_worker {
    my $self = self_of(\@_);
    return $self->SUPER::kill_worker(@_);
}

sub mark_log {
    my $self = self_of(\@_);
    return $self->SUPER::mark_log(@_);
}

sub log_lines {
    my $self = self_of(\@_);
    return $self->SUPER::log_lines(@_);
}

sub log_count {
    my $self = self_of(\@_);
    return $self->SUPER::log_count(@_);
}

sub wait_log {
    my $self = self_of(\@_);
    return $self->SUPER::wait_log(@_);
}

sub access_lines {
    my $self = self_of(\@_);
    return $self->SUPER::access_lines(@_);
}

# no worker died, no alert, no socket left, no deprecated syntax, unless
# the test caused it
sub log_clean {
    my $self = self_of(\@_);
    my ($name, $expected) = @_;
    my @bad = grep { /\[(alert|crit|emerg)\]|open socket|exited on signal/
                     || /\[warn\].*deprecated/ }
              $self->log_lines;
    @bad = grep { !/$expected/ } @bad if $expected;
    Test::More::is(scalar @bad, 0,
                   "$name: no worker died, no alert, crit, open socket "
                   . "or deprecation")
        or Test::More::diag(join '', @bad[0 .. ($#bad > 4 ? 4 : $#bad)]);
}

# connects to this server's port, or to the port given
sub connect_to {
    my $self = self_of(\@_);
    my ($to) = @_;
    my $s = IO::Socket::INET->new(
                PeerAddr => "127.0.0.1:" . ($to // $self->{port}),
                Proto => 'tcp')
        or die "connect: $!";
    $s->autoflush(1);
    return $s;
}

# Sends one request, on a new connection to this server unless given
# one (a socket, or a port to connect to); %o: method (GET), headers
# (whole "Name: value\r\n" lines).
sub send_req {
    my $self = self_of(\@_);
    my ($uri, $s, %o) = @_;

    $s = $self->connect_to($s) if !ref $s;
    print $s ($o{method} // 'GET') . " $uri HTTP/1.1\r\nHost: localhost\r\n"
             . ($o{headers} // '') . "Connection: close\r\n\r\n";

    return { sock => $s, data => '', uri => $uri };
}

# what a connection read: status, head (with its last CRLF), headers
# (lower-case names) and body (dechunked; raw_body as sent)
sub parse_answer {
    my ($c) = @_;
    my ($head, $body) = split /\r\n\r\n/, $c->{data}, 2;
    ($c->{status}) = (($head // '') =~ m{^HTTP/1\.\d (\d+)});
    $c->{status} //= '';
    $c->{head} = ($head // '') . "\r\n";
    $c->{headers} = { map { /^([^:\s]+):\s*(.*?)\s*$/ ? (lc $1 => $2) : () }
                      split /\r\n/, $head // '' };
    $c->{body} = $body // '';

    # a chunked body as the client sees it, the chunks put together
    if (($c->{headers}{'transfer-encoding'} // '') eq 'chunked') {
        my ($raw, $plain) = ($c->{body}, '');
        while ($raw =~ s/^([0-9a-fA-F]+)[^\r]*\r\n//) {
            my $len = hex $1;
            last if $len == 0;
            $plain .= substr $raw, 0, $len, '';
            $raw =~ s/^\r\n//;
        }
        $c->{raw_body} = $c->{body};
        $c->{body} = $plain;
    }

    return $c;
}

# reads all the given connections to EOF, at most $timeout seconds (30);
# returns the order they ended in
sub wait_all {
    shift if blessed($_[0]);
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

    parse_answer($_) for @$conns;

    return @order;
}

# one request, its answer; a status page it fetches in the text format
# (not the JSON or the dashboard) must pass promtool check metrics.
# Asks the status port when one is set.
sub get {
    my $self = self_of(\@_);
    my ($uri, %o) = @_;
    my $c = $self->send_req($uri, $self->{status_port}, %o);
    wait_all([$c]);
    Promtool::check($c->{body}, $uri)
        if $uri =~ m{^/fib_status} && $c->{status} eq '200'
           && ($c->{headers}{'content-type'} // '') =~ m{^text/plain\b};
    return $c;
}

sub metric {
    my $self = self_of(\@_);
    my ($name) = @_;
    my $c = $self->get('/fib_status');
    return $c->{body} =~ /^\Q$name\E (\S+)$/m ? $1 : 'missing';
}

# Whatever the file asserted, a worker that died fails it: one failure
# per "exited on signal" line in any server's whole error log.  Nothing
# is counted when none died, so the files' plans stay as they are; a
# worker the test killed with kill_worker() is not a death.
END {
    my $rc = $?;

    for my $srv (grep { $_->{owner} == $$ } @servers) {
        $srv->stop_nginx;

        for my $line ($srv->crashes) {
            Test::More::fail("$srv->{name}: no worker may die, but the "
                             . "error log says: $line");
        }

        next if $ENV{TEST_NGINX_NO_CLEAN};
        $srv->clean;
        # the servroot of a group of servers (cluster/front), once empty
        rmdir servroot("-$1") if $srv->{name} =~ m{^([^/]+)/};
    }

    $? = $rc;
}

1;
