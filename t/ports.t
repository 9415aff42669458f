# vim:set ft= ts=4 sw=4 et fdm=marker:

# TEST_NGINX_PORT=P keeps the suite on P .. P + PORTS - 1 (t/README.md):
# the files that listen on more than one port (nginx servers, a
# Prometheus, a browser and its driver, a port held on purpose) run
# here under a P of their own, while ss(8) is asked
# every few milliseconds which ports of TCP and UDP their processes
# listen on.  This process is their subreaper: nginx daemonizes, and
# its master stays a descendant all the same.  Each file must listen
# somewhere (a file that skipped proves nothing) and only in the range.

use strict;
use warnings;

use Test::More;
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use File::Temp qw(tempdir);
use Time::HiRes qw(sleep time);
use FindBin;
use lib "$FindBin::Bin/inc";
use NginxBinary;
use FibServer ();

if ($ENV{TEST_NGINX_USE_VALGRIND}) {
    plan skip_all => 'not under valgrind: the files it runs do so alone';
}

if (system('ss -V >/dev/null 2>&1') != 0) {
    plan skip_all => 'no ss (Debian: iproute2)';
}

my $subreaper = eval {
    require 'sys/syscall.ph';
    # PR_SET_CHILD_SUBREAPER
    syscall(&SYS_prctl, 36, 1, 0, 0, 0) == 0;
};

if (!$subreaper) {
    plan skip_all => 'cannot become a subreaper (prctl): '
                     . ($@ || "$!");
}

my $ports = FibServer::PORTS;

# a base of the suite's own, or one whose whole range is free now
my $base = $ENV{TEST_NGINX_PORT};
if (!defined $base || $base eq '') {
    for (1 .. 50) {
        my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                      LocalPort => 0) or next;
        my $p = $s->sockport;
        close $s;
        next if $p + $ports - 1 > 65535;
        next if grep {
            !IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                   LocalPort => $_, ReuseAddr => 1)
        } $p .. $p + $ports - 1;
        $base = $p;
        last;
    }
    defined $base or BAIL_OUT('no free range of ports on 127.0.0.1');
}

my $last = $base + $ports - 1;

# the files, and the least number of ports each listens on
my @files = (
    ['cluster.t', 3],
    ['prometheus-scrape.t', 2],
    ['capacity-series.t', 3],
    ['dashboard.t', 4],
);

plan tests => 2 * @files;

my $tmp = tempdir(CLEANUP => !$ENV{TEST_NGINX_NO_CLEAN});

# is $pid this process or one of its descendants?
sub ours {
    my ($pid) = @_;
    for (1 .. 64) {
        return 1 if $pid == $$;
        return 0 if $pid <= 1;
        open my $fh, '<', "/proc/$pid/stat" or return 0;
        my $stat = <$fh> // '';
        ($pid) = $stat =~ /^\d+ \(.*\) \S+ (\d+) /s or return 0;
    }
    return 0;
}

# what our processes listen on now: "proto addr:port" => "process"
sub listening {
    my %seen;
    for (`ss -H -l -n -t -u -p 2>/dev/null`) {
        my ($proto, $local, $users) =
            /^(\S+)\s+\S+\s+\d+\s+\d+\s+(\S+)\s+\S+\s*(.*)$/ or next;
        my @procs = $users =~ /\("([^"]*)",pid=(\d+)/g;
        while (my ($name, $pid) = splice @procs, 0, 2) {
            next if !ours($pid);
            $seen{"$proto $local"} = $name;
        }
    }
    return %seen;
}

for my $f (@files) {
    my ($file, $least) = @$f;

    SKIP: {
        my $log = "$tmp/$file.log";
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            $ENV{TEST_NGINX_PORT} = $base;
            $ENV{TEST_NGINX_SERVROOT} = "$tmp/servroot";
            delete @ENV{qw(TEST_NGINX_SERVER_PORT TEST_NGINX_CLIENT_PORT)};
            open STDOUT, '>', $log or die "$log: $!";
            open STDERR, '>&', \*STDOUT or die "dup: $!";
            exec $^X, "$FindBin::Bin/$file" or die "exec: $!";
        }

        my (%seen, $status);
        my $deadline = time + 900;
        while (!defined $status && time < $deadline) {
            %seen = (%seen, listening());
            # the child, and the nginx masters given to us at their exit
            while ((my $gone = waitpid(-1, WNOHANG)) > 0) {
                $status = $? if $gone == $pid;
            }
            sleep 0.02;
        }
        if (!defined $status) {
            kill 'KILL', $pid;
            waitpid $pid, 0;
        }
        sleep 0.1;
        1 while waitpid(-1, WNOHANG) > 0;

        my $out = -f $log ? FibServer::slurp($log) : '';
        skip "$file: $1", 2 if $out =~ /^1\.\.0 # SKIP (.*)$/m;

        my @ports = sort keys %seen;
        my @outside = grep { !/:(\d+)$/ || $1 < $base || $1 > $last }
                      @ports;

        cmp_ok(scalar @ports, '>=', $least,
               "$file listens on its ports")
            or diag("listening: @ports\n", $out);
        is_deeply(\@outside, [],
                  "$file: only on TEST_NGINX_PORT .. + "
                  . ($ports - 1) . " ($base .. $last)")
            or diag(join("\n", map { "$_ ($seen{$_})" } @outside), "\n",
                    "exit status ", $status // 'none', "\n", $out);
    }
}
