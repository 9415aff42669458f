package NginxSandbox;

# The one way Perl here starts a throw-away nginx (the shell's is
# tools/sandbox.sh): a servroot of its own, an nginx.conf that begins
# as Test::Nginx's would, nginx started and waited for until its port
# answers, stopped by its pid, its error log read from a mark on, and
# the suite's ports handed out.  Both harnesses of t/ stand on it:
# t/inc/FibServer.pm, the socket-level files' servers, and
# t/lib/Test/Nginx/Socket.pm, the local Test::Nginx runner.  It asserts
# nothing and speaks no HTTP: the harnesses above it do.
#
#   use NginxSandbox;
#
#   my $sb = NginxSandbox->new(name => 'x', root => servroot('-x'),
#                              port => pick_port());
#   $sb->write_conf(main => '...', http => "server { listen
#                   127.0.0.1:${\ $sb->port}; ... }");
#   $sb->nginx_t;        # (accepted, what nginx said)
#   $sb->start;          # dies with nginx's words when it does not start
#   $sb->mark_log;  ...  $sb->log_lines;
#   $sb->stop;           # QUIT, reaped, KILL after 30 s
#   $sb->clean;          # the servroot, unless TEST_NGINX_NO_CLEAN
#
# The environment is Test::Nginx's: TEST_NGINX_BINARY,
# TEST_NGINX_LOAD_MODULES (load_module lines), TEST_NGINX_SERVROOT,
# TEST_NGINX_PORT (see pick_port()).  valgrind => 1 given to new() runs
# nginx under valgrind, in the foreground as our child, its findings on
# our stderr.  A sandbox still running when its process exits is
# stopped then.

use strict;
use warnings;

use IO::Socket::INET;
use POSIX qw(WNOHANG);
use File::Path qw(make_path remove_tree);
use Time::HiRes qw(sleep time);
use Cwd qw(cwd);

use Exporter 'import';

our @EXPORT = qw(servroot suite_port pick_port free_port alive children_of
                 slurp);

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my @modules = split ' ', $ENV{TEST_NGINX_LOAD_MODULES} || '';
my $base = $ENV{TEST_NGINX_SERVROOT} || cwd() . '/t/servroot';

my @sandboxes;      # every sandbox made, for the stop at exit

# TEST_NGINX_SERVROOT (t/servroot of the current directory by
# default), $suffix appended
sub servroot {
    my ($suffix) = @_;
    return $base . ($suffix // '');
}

sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or die "$file: $!";
    local $/;
    return scalar <$fh>;
}

# The suite's ports.  With TEST_NGINX_PORT=P (make test always sets
# it), every port the suite listens on is one of P .. P + PORTS - 1: P
# is the server of the Test::Nginx files (suite_port()), and
# pick_port() hands out P + 1, P + 2, ... in turn to the servers and
# helpers (Prometheus, the browser and its driver) of a socket-level
# file, skipping one that something else holds (a client's connection
# may, when P lies in the kernel's range of ephemeral ports).  Files
# run one after another (prove without -j), so each file starts again
# at P + 1; two suites at once need TEST_NGINX_PORTs at least PORTS
# apart.  Without TEST_NGINX_PORT (prove run by hand), the kernel
# chooses free ports.
use constant PORTS => 10;

my $ports_given = 0;

# a port of 127.0.0.1 that nothing listens on now, chosen by the kernel
sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, Proto => 'tcp')
        or die "no free port on 127.0.0.1: $!\n";
    my $port = $s->sockport;
    close $s;
    return $port;
}

# The Test::Nginx files' port: TEST_NGINX_SERVER_PORT, else
# TEST_NGINX_PORT, else a free one (a fixed default fails every block
# when something else holds it).  The real Test::Nginx listens on
# TEST_NGINX_SERVER_PORT as given, which may carry an address
# (127.0.0.1:1984); we listen on 127.0.0.1 only.
sub suite_port {
    my $port = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT}
               || free_port();

    $port = $1 if $port =~ /^127\.0\.0\.1:(\d+)$/;
    die "TEST_NGINX_SERVER_PORT: a port of 127.0.0.1 only, not $port\n"
        if $port !~ /^\d+$/;

    return $port;
}

# The next port of TEST_NGINX_PORT + 1 .. + PORTS - 1 that nothing
# holds, or the kernel's choice without TEST_NGINX_PORT.  Never from
# TEST_NGINX_SERVER_PORT: with the real Test::Nginx it may carry an
# address.
sub pick_port {
    my $first = $ENV{TEST_NGINX_PORT} // '';

    return free_port() if $first eq '';

    die "TEST_NGINX_PORT: a port number, not $first\n" if $first !~ /^\d+$/;
    die "TEST_NGINX_PORT: the suite uses $first to ", $first + PORTS - 1,
        ", beyond 65535\n" if $first + PORTS - 1 > 65535;

    # bound as nginx binds (SO_REUSEADDR): what stops this bind() would
    # stop nginx's
    my @taken;
    while (++$ports_given < PORTS) {
        my $port = $first + $ports_given;
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
        . "TEST_NGINX_PORT ($first) to ", $first + PORTS - 1, ", than are "
        . "free" . (@taken ? "; taken: @taken" : '') . "\n";
}

# NginxSandbox->new(root => DIR, port => PORT, name => NAME,
# valgrind => BOOL): conf/, logs/ and tmp/ made in DIR
sub new {
    my ($class, %o) = @_;

    defined $o{root} or die "NginxSandbox: no root\n";

    my $self = bless {
        name => $o{name} // 'nginx',
        root => $o{root},
        port => $o{port} // pick_port(),
        valgrind => $o{valgrind},
        log_offset => 0,
        access_offset => 0,
        owner => $$,
    }, $class;

    make_path("$self->{root}/conf", "$self->{root}/logs",
              "$self->{root}/tmp");

    push @sandboxes, $self;
    return $self;
}

sub root { return $_[0]->{root} }
sub port { return $_[0]->{port} }
sub name { return $_[0]->{name} }

# What Test::Nginx writes at the top of every nginx.conf, in this
# sandbox's servroot.  Workers of a root master run as nobody unless
# told otherwise, and nobody cannot enter a 0700 directory.  $user,
# given, is the user line's argument instead ('' for none).
sub preamble {
    my ($self, $log_level, $user) = @_;

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
    my ($self) = @_;
    return join '', map { "    ${_}_temp_path $self->{root}/tmp;\n" }
                    qw(client_body proxy fastcgi uwsgi scgi);
}

# Writes conf/nginx.conf: the preamble (log_level, user),
# worker_processes (workers, 1), master_process (master, on), daemon
# (on, off under valgrind), main, an events block (connections, 1024),
# then http { access_log, temp paths, http }: logs/access.log when
# access_log is true, else off, none when http has its own.
# conf => '...' writes that text instead, as it is.
sub write_conf {
    my ($self, %o) = @_;

    my $root = $self->{root};
    my $conf = $o{conf};

    if (!defined $conf) {
        my $http = $o{http} // '';
        # "off" would silence an access_log the http text has itself
        my $access = $o{access_log} ? "    access_log $root/logs/access.log;\n"
                   : $http =~ /^\s*access_log /m ? ''
                   : "    access_log off;\n";

        $conf = $self->preamble($o{log_level}, $o{user})
            . "worker_processes " . ($o{workers} // 1) . ";\n"
            . "daemon " . ($self->{valgrind} ? 'off' : 'on') . ";\n"
            . "master_process " . ($o{master} // 1 ? 'on' : 'off') . ";\n\n"
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
    my ($self, $conf) = @_;

    $self->write_conf(conf => $conf) if defined $conf;

    my @args = $self->nginx_args;
    $args[-1] = 'stderr';
    my $out = `$nginx -t @args 2>&1`;
    return ($? == 0, $out);
}

# the pid of the nginx started (the master, or the only process)
sub pid {
    my ($self) = @_;
    return $self->{pid};
}

# a zombie counts as gone: a daemon is not our child
sub alive {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or return 0;
    my $stat = <$fh> // '';
    return $stat !~ /^\d+ \(.*\) Z/s;
}

# is the nginx started still there?  Our own child (valgrind) is reaped
# here, not polled with kill 0, which sees a zombie as alive.
sub running {
    my ($self) = @_;
    my $pid = $self->{pid} or return 0;
    return waitpid($pid, WNOHANG) == 0 if $self->{child};
    return alive($pid);
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
    my ($self) = @_;
    return () if !$self->{pid};
    my @pids = children_of($self->{pid});
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

# the last emerg, alert and crit lines nginx wrote, for a message
sub error_tail {
    my ($self) = @_;
    my @lines;
    for my $log ("$self->{root}/logs/error.log", "$self->{root}/logs/stderr")
    {
        open my $fh, '<', $log or next;
        push @lines, grep { /\[(emerg|alert|crit)\]/ } <$fh>;
        close $fh;
    }
    return join '', @lines > 3 ? @lines[-3 .. -1] : @lines;
}

# Starts the written configuration and waits until it listens on its
# port (with a worker, when it has a master); dies, saying why, when it
# does not.  Under valgrind nginx stays in the foreground as our child,
# with our stderr for valgrind's findings.
sub start {
    my ($self) = @_;
    my $root = $self->{root};
    my $name = $self->{name};
    my @cmd = ($nginx, $self->nginx_args);

    die "$name: nginx runs already\n" if $self->running;

    unlink "$root/logs/nginx.pid";

    raise_nofile();

    my $deadline = time + ($self->{valgrind} ? 60 : 10);

    if ($self->{valgrind}) {
        # fair scheduling: a computing pool thread must not starve the
        # event loop under valgrind's one-thread-at-a-time execution
        my @vg = ('valgrind', '-q', '--tool=memcheck', '--leak-check=full',
                  '--show-possibly-lost=no', '--num-callers=30',
                  '--fair-sched=yes');

        for my $file ('valgrind.suppress', 't/valgrind.suppress') {
            push @vg, "--suppressions=$file" if -f $file;
        }

        my $pid = fork // die "$name: fork: $!\n";
        if ($pid == 0) {
            exec(@vg, @cmd) or POSIX::_exit(127);
        }

        $self->{pid} = $pid;
        $self->{child} = 1;

    } else {
        # nginx's own start-up messages (a configuration's warnings) go
        # beside its error log, not between the lines prove prints
        open my $stderr, '>&', \*STDERR or die "dup: $!";
        open STDERR, '>', "$root/logs/stderr" or die "$root: $!";
        my $rc = system(@cmd);
        open STDERR, '>&', $stderr or die "dup: $!";

        $rc == 0
            or die "$name: nginx did not start\n"
                   . slurp("$root/logs/stderr") . $self->error_tail;

        until (-s "$root/logs/nginx.pid") {
            die "$name: no nginx.pid\n" . $self->error_tail
                if time > $deadline;
            sleep 0.01;
        }

        ($self->{pid}) = (slurp("$root/logs/nginx.pid") =~ /(\d+)/);
        $self->{child} = 0;
    }

    $self->{master_process} = slurp("$root/conf/nginx.conf")
                              !~ /^\s*master_process\s+off\s*;/m;

    until (IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                 PeerPort => $self->{port}, Proto => 'tcp'))
    {
        if (!$self->running) {
            delete @$self{qw(pid child)};
            die "$name: nginx exited\n" . $self->error_tail;
        }
        die "$name: nginx does not listen on $self->{port}\n"
            . $self->error_tail if time > $deadline;
        sleep 0.01;
    }

    # a master listens before it forks: wait for a worker as well
    if ($self->{master_process}) {
        sleep 0.01 until children_of($self->{pid}) || time > $deadline;
    }

    return 1;
}

# QUIT unless told otherwise (KILL kills the workers too), reaped; KILL
# after 30 s (60 under valgrind); false when it had to be killed
sub stop {
    my ($self, $signal) = @_;

    my $pid = $self->{pid} or return 1;
    my @children = children_of($pid);

    # a killed master cannot take its workers down: they go with it
    $signal ||= 'QUIT';
    kill $signal, $pid, ($signal eq 'KILL' ? @children : ());

    my $ok = 1;
    my $deadline = time + ($self->{valgrind} ? 60 : 30);
    while ($self->running) {
        if (time > $deadline) {
            kill 'KILL', $pid, @children;
            waitpid($pid, 0) if $self->{child};
            $ok = 0;
            last;
        }
        sleep 0.02;
    }

    delete @$self{qw(pid child)};
    return $ok;
}

# kills a worker as a crash would (SIGKILL), which crashes() then does
# not count as one
sub kill_worker {
    my ($self, $pid) = @_;
    push @{ $self->{killed} }, $pid;
    kill 'KILL', $pid;
}

# from here on, log_lines() and access_lines() return what is written
sub mark_log {
    my ($self) = @_;
    $self->{log_offset} = -s "$self->{root}/logs/error.log" || 0;
    $self->{access_offset} = -s "$self->{root}/logs/access.log" || 0;
}

sub lines_from {
    my ($file, $offset) = @_;
    open my $fh, '<', $file or return ();
    seek $fh, $offset || 0, 0;
    my @lines = <$fh>;
    close $fh;
    return @lines;
}

# the error log lines written since the mark
sub log_lines {
    my ($self) = @_;
    return lines_from("$self->{root}/logs/error.log", $self->{log_offset});
}

sub log_count {
    my ($self, $re) = @_;
    return scalar grep { /$re/ } $self->log_lines;
}

# waits until a line since the mark matches, at most $timeout seconds
# (30); false when none did
sub wait_log {
    my ($self, $re, $timeout) = @_;
    my $deadline = time + ($timeout // 30);
    until ($self->log_count($re)) {
        return 0 if time > $deadline;
        sleep 0.02;
    }
    return 1;
}

# the lines of logs/access.log written since the mark, without their
# newline; only those matching $re when given
sub access_lines {
    my ($self, $re) = @_;
    my @lines = lines_from("$self->{root}/logs/access.log",
                           $self->{access_offset});
    chomp @lines;
    return defined $re ? grep { /$re/ } @lines : @lines;
}

# the whole error log's "exited on signal" lines: workers that died,
# not counting those kill_worker() killed
sub crashes {
    my ($self) = @_;
    my %killed = map { ($_ => 1) } @{ $self->{killed} || [] };
    return grep { !(/process (\d+) exited on signal 9\b/ && $killed{$1}) }
           grep { /exited on signal/ }
           lines_from("$self->{root}/logs/error.log", 0);
}

# removes the servroot, unless TEST_NGINX_NO_CLEAN
sub clean {
    my ($self) = @_;
    remove_tree($self->{root}) if !$ENV{TEST_NGINX_NO_CLEAN};
}

# what the harnesses above did not stop; not in a child that a test
# forked and that exits through here
END {
    my $rc = $?;
    $_->stop for grep { $_->{owner} == $$ && $_->{pid} } @sandboxes;
    $? = $rc;
}

1;
