package FibServer;

# The one harness of the socket-level tests: any number of nginx
# instances (master and workers), each in a servroot of its own with a
# port of 127.0.0.1 of its own (pick_port(): TEST_NGINX_PORT + 1, + 2,
# ...), started from an nginx.conf that begins as Test::Nginx's would
# (load_module lines, `user root;` when run as root, so that workers
# reach a servroot inside a 0700 home, error_log and pid in the
# servroot); `nginx -t` before each start; the error log read
# from a mark on; plain HTTP/1.1 clients that send one request a
# connection and read to EOF.  Whatever a file asserted, a worker that
# died in any of its instances fails it (`exited on signal`, checked at
# exit).
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
use File::Path qw(make_path remove_tree);
use Time::HiRes qw(sleep time);
use Cwd qw(cwd);
use Scalar::Util qw(blessed);
use Promtool;

use Exporter 'import';

our @EXPORT = qw(start_server launch_nginx stop_nginx kill_worker
                 master_pid worker_pids alive
                 mark_log log_lines log_count log_clean wait_log
                 access_lines
                 connect_to send_req wait_all get metric pick_port slurp);

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my @modules = split ' ', $ENV{TEST_NGINX_LOAD_MODULES} || '';
my $base = $ENV{TEST_NGINX_SERVROOT} || cwd() . '/t/servroot';

my @servers;        # every server made, in order; the first is the default

# the server a function acts on: its first argument when that is one
sub self_of {
    my ($args) = @_;
    return shift @$args if blessed($args->[0]) && $args->[0]->isa(__PACKAGE__);
    die "FibServer: no server made yet\n" if !@servers;
    return $servers[0];
}

# The suite's ports.  With TEST_NGINX_PORT=P (make test always sets
# it), every port the suite listens on is one of P .. P + PORTS - 1: P
# is the server of the Test::Nginx files, and pick_port() hands out P +
# 1, P + 2, ... in turn to the servers and helpers (Prometheus, the
# browser and its driver) of a socket-level file, skipping one that
# something else holds (a client's connection may, when P lies in the
# kernel's range of ephemeral ports).  Files run one after another
# (prove without -j), so each file starts again at P + 1; two suites at
# once need TEST_NGINX_PORTs at least PORTS apart.  Without
# TEST_NGINX_PORT (prove run by hand), the kernel chooses free ports.
# Ports never come from TEST_NGINX_SERVER_PORT: with the real
# Test::Nginx it may carry an address (127.0.0.1:1984).
use constant PORTS => 10;

my $ports_given = 0;

sub pick_port {
    my $base = $ENV{TEST_NGINX_PORT} // '';

    if ($base eq '') {
        my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                      LocalPort => 0, Proto => 'tcp')
            or die "no free port on 127.0.0.1: $!\n";
        my $port = $s->sockport;
        close $s;
        return $port;
    }

    die "TEST_NGINX_PORT: a port number, not $base\n" if $base !~ /^\d+$/;
    die "TEST_NGINX_PORT: the suite uses $base to ", $base + PORTS - 1,
        ", beyond 65535\n" if $base + PORTS - 1 > 65535;

    # the next port of the range that nothing holds, bound as nginx
    # binds (SO_REUSEADDR): what stops this bind() would stop nginx's
    my @taken;
    while (++$ports_given < PORTS) {
        my $port = $base + $ports_given;
        my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                      LocalPort => $port, ReuseAddr => 1,
                                      Proto => 'tcp');
        if ($s) {
            close $s;
            return $port;
        }
        push @taken, "$port ($!)";
    }

    die "this file asks for more of the suite's ", PORTS, " ports, "
        . "TEST_NGINX_PORT ($base) to ", $base + PORTS - 1, ", than are "
        . "free" . (@taken ? "; taken: @taken" : '') . "\n";
}

sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or die "$file: $!";
    local $/;
    return scalar <$fh>;
}

# FibServer->new($name): servroot TEST_NGINX_SERVROOT-$name (t/servroot
# by default), the next port of pick_port(); $name may hold a '/'
# (cluster/front)
sub new {
    my ($class, $name) = @_;

    my $self = bless {
        name => $name,
        root => "$base-$name",
        port => pick_port(),
        log_offset => 0,
    }, $class;

    make_path("$self->{root}/conf", "$self->{root}/logs",
              "$self->{root}/tmp");

    push @servers, $self;
    return $self;
}

sub root { return $_[0]->{root} }
sub port { return $_[0]->{port} }
sub name { return $_[0]->{name} }

# What Test::Nginx writes at the top of every nginx.conf, in this
# server's servroot.  Workers of a root master run as nobody unless told
# otherwise, and nobody cannot enter a 0700 directory.  $user, given,
# is the user line's argument instead ('' for none).
sub preamble {
    my $self = self_of(\@_);
    my ($log_level, $user) = @_;

    my $root = $self->{root};

    $user //= $> == 0 ? 'root' : '';

    return join('', map { "load_module $_;\n" } @modules)
        . ($user ne '' ? "user $user;\n" : '')
        . "error_log $root/logs/error.log " . ($log_level // 'debug') . ";\n"
        . "pid $root/logs/nginx.pid;\n";
}

# the temporary paths of an http block, in the servroot: the defaults
# are Debian's, under /var/lib/nginx
sub temp_paths {
    my $self = self_of(\@_);
    return join '', map { "    ${_}_temp_path $self->{root}/tmp;\n" }
                    qw(client_body proxy fastcgi uwsgi scgi);
}

# Writes conf/nginx.conf: the preamble (log_level, user),
# worker_processes (workers, 1), master on and daemon on, main, an
# events block (connections, 1024), then http { access_log (off unless
# access_log, none when http has its own), temp paths, http }.
# conf => '...' writes that text instead, as it is.
sub write_conf {
    my $self = self_of(\@_);
    my (%o) = @_;

    my $root = $self->{root};
    my $conf = $o{conf};

    if (!defined $conf) {
        # "off" would silence an access_log the http text has itself
        my $http = $o{http} // '';
        my $access = $http =~ /^\s*access_log /m ? ''
                   : $o{access_log} ? "    access_log $root/logs/access.log;\n"
                   : "    access_log off;\n";

        $conf = $self->preamble($o{log_level}, $o{user})
            . "worker_processes " . ($o{workers} // 1) . ";\n"
            . "daemon on;\nmaster_process on;\n\n"
            . ($o{main} // '') . "\n\n"
            . "events {\n    worker_connections "
            . ($o{connections} // 1024) . ";\n}\n\n"
            . "http {\n" . $access . $self->temp_paths
            . "\n" . $http . "\n}\n";
    }

    make_path("$root/conf", "$root/logs", "$root/tmp");

    open my $fh, '>', "$root/conf/nginx.conf" or die "$root: $!";
    print $fh $conf;
    close $fh;
}

sub nginx_args {
    my ($self) = @_;
    my $root = $self->{root};
    return ('-p', "$root/", '-c', "$root/conf/nginx.conf",
            '-e', "$root/logs/error.log");
}

# nginx -t on the written configuration (given, $conf is written
# first): (true when accepted, what nginx said)
sub nginx_t {
    my $self = self_of(\@_);
    my ($conf) = @_;

    $self->write_conf(conf => $conf) if defined $conf;

    my @args = $self->nginx_args;
    $args[-1] = 'stderr';
    my $out = `$nginx -t @args 2>&1`;
    return ($? == 0, $out);
}

sub master_pid {
    my $self = self_of(\@_);
    return $self->{master};
}

# a zombie counts as gone: nginx is not our child
sub alive {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or return 0;
    my $stat = <$fh> // '';
    return $stat !~ /^\d+ \(.*\) Z/s;
}

# the pids whose parent is $ppid: the workers (and helpers) of a master
sub children_of {
    my ($ppid) = @_;
    my @pids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my $line = <$fh> // '';
        close $fh;
        push @pids, $1 if $line =~ /^(\d+) \(.*\) \S+ (\d+) /s && $2 == $ppid;
    }
    @pids = sort { $a <=> $b } @pids;
    return @pids;   # sort in scalar context is undefined, @pids counts
}

# the processes of a running master, its workers: worker(s) first
sub worker_pids {
    my $self = self_of(\@_);
    return () if !$self->{master};
    my @pids = children_of($self->{master});
    return @pids;
}

# An unprivileged master's descriptors in flight to its workers (each
# new worker's channel, sent to every other) count against its soft
# RLIMIT_NOFILE: past it sendmsg() fails with ETOOMANYREFS, as in a
# reload of 40 workers by an ordinary user.  Root is exempt; anyone may
# raise the soft limit to the hard one, and nginx inherits it from here.
my $nofile_raised;

sub raise_nofile {
    return if $> == 0 || $nofile_raised++;

    my $hard = `sh -c 'ulimit -Hn'`;
    chomp $hard;

    system('prlimit', "--pid=$$", "--nofile=$hard:$hard") == 0
        or die "cannot raise the soft limit of descriptors to $hard\n"
        if $hard =~ /^(\d+|unlimited)$/;
}

# nginx -t, then start the written configuration and wait until it
# listens on its port with a worker; a file whose server does not start
# dies with what nginx said
sub launch_nginx {
    my $self = self_of(\@_);
    my $root = $self->{root};

    my ($ok, $out) = $self->nginx_t;
    die "$self->{name}: nginx -t refuses the configuration:\n$out" if !$ok;

    unlink "$root/logs/nginx.pid";

    raise_nofile();

    # nginx's own start-up messages (a configuration's warnings) go
    # beside its error log, not between the lines prove prints
    open my $stderr, '>&', \*STDERR or die "dup: $!";
    open STDERR, '>', "$root/logs/stderr" or die "$root: $!";
    my $rc = system($nginx, $self->nginx_args);
    open STDERR, '>&', $stderr or die "dup: $!";

    $rc == 0
        or die "$self->{name}: nginx did not start\n"
               . slurp("$root/logs/stderr");

    my $deadline = time + 10;
    until (-s "$root/logs/nginx.pid") {
        die "$self->{name}: no nginx.pid\n" if time > $deadline;
        sleep 0.01;
    }

    ($self->{master}) = (slurp("$root/logs/nginx.pid") =~ /(\d+)/);

    until (IO::Socket::INET->new("127.0.0.1:$self->{port}")) {
        die "$self->{name}: nginx does not listen\n" if time > $deadline;
        sleep 0.01;
    }

    # the master listens before it forks: wait for a worker as well
    sleep 0.01 until children_of($self->{master}) || time > $deadline;
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
    my ($signal) = @_;

    my $pid = delete $self->{master} or return 1;
    my @children = children_of($pid);

    # a killed master cannot take its workers down: they go with it
    $signal ||= 'QUIT';
    kill $signal, $pid, ($signal eq 'KILL' ? @children : ());

    my $deadline = time + 30;
    while (alive($pid)) {
        if (time > $deadline) {
            kill 'KILL', $pid, @children;
            return 0;
        }
        sleep 0.02;
    }

    return 1;
}

# kills a worker as a crash would (SIGKILL), which the check at exit
# then does not count as one
sub kill_worker {
    my $self = self_of(\@_);
    my ($pid) = @_;
    push @{ $self->{killed} }, $pid;
    kill 'KILL', $pid;
}

sub mark_log {
    my $self = self_of(\@_);
    $self->{log_offset} = -s "$self->{root}/logs/error.log" || 0;
    $self->{access_offset} = -s "$self->{root}/logs/access.log" || 0;
}

# the lines of logs/access.log written since the mark, without their
# newline; only those matching $re when given
sub access_lines {
    my $self = self_of(\@_);
    my ($re) = @_;
    open my $fh, '<', "$self->{root}/logs/access.log" or return ();
    seek $fh, $self->{access_offset} || 0, 0;
    my @lines = <$fh>;
    close $fh;
    chomp @lines;
    return defined $re ? grep { /$re/ } @lines : @lines;
}

# the error log lines written since the mark
sub log_lines {
    my $self = self_of(\@_);
    open my $fh, '<', "$self->{root}/logs/error.log" or return ();
    seek $fh, $self->{log_offset}, 0;
    my @lines = <$fh>;
    close $fh;
    return @lines;
}

sub log_count {
    my $self = self_of(\@_);
    my ($re) = @_;
    return scalar grep { /$re/ } $self->log_lines;
}

# waits until a line since the mark matches, at most $timeout seconds
# (30); false when none did
sub wait_log {
    my $self = self_of(\@_);
    my ($re, $timeout) = @_;
    my $deadline = time + ($timeout // 30);
    until ($self->log_count($re)) {
        return 0 if time > $deadline;
        sleep 0.02;
    }
    return 1;
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

    for my $srv (@servers) {
        $srv->stop_nginx;

        my $log = "$srv->{root}/logs/error.log";
        if (-f $log) {
            my %killed = map { ($_ => 1) } @{ $srv->{killed} || [] };
            for my $line (grep { /exited on signal/ } split /^/, slurp($log)) {
                next if $line =~ /process (\d+) exited on signal 9\b/
                        && $killed{$1};
                Test::More::fail("$srv->{name}: no worker may die, but the "
                                 . "error log says: $line");
            }
        }

        next if $ENV{TEST_NGINX_NO_CLEAN};
        remove_tree($srv->{root});
        # the servroot of a group of servers (cluster/front), once empty
        rmdir "$base-$1" if $srv->{name} =~ m{^([^/]+)/};
    }

    $? = $rc;
}

1;
