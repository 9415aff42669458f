# vim:set ft= ts=4 sw=4 et fdm=marker:

# fib_thread_priority on one pool thread that serves an idle location and
# then a normal one: an unprivileged worker may not take the thread back
# to the normal class, and the worker says so once; a privileged one
# switches and says nothing.  Master and worker run, as operators run
# them: the worker drops root with "user".

use strict;
use warnings;

use Test::More;
use IO::Socket::INET;
use File::Path qw(make_path remove_tree);
use Cwd qw(cwd);
use FindBin;
use lib "$FindBin::Bin/inc";
use NginxBinary;
use FibServer;

my $srv = FibServer->new('prio');
my $port = $srv->port;
my $root = $srv->root;

my $refused = qr/may not go back to "normal"/;

require_threads();

if ($^O ne 'linux') {
    plan skip_all => 'scheduling classes are set on Linux only';
}

# without root, the workers run as we do: unprivileged unless our
# RLIMIT_NICE lets any thread go back to nice 0
if ($> != 0 && `sh -c 'ulimit -e' 2>/dev/null` =~ /^(\d+|unlimited)$/m
    && ($1 eq 'unlimited' || $1 >= 20))
{
    plan skip_all => 'RLIMIT_NICE lets an unprivileged thread go back';
}

# $user: the user line's argument
sub start_priorities {
    my ($user) = @_;

    remove_tree($root);

    start_server(user => $user, log_level => 'notice', connections => 64,
                 # one thread: every task runs on the same one
                 main => 'thread_pool fib threads=1 max_queue=16;',
                 http => <<"END");
    fib_thread_pool fib;
    fib_inline_max_cost 0;

    server {
        listen 127.0.0.1:$port;

        location = /idle {
            fib;
            fib_thread_priority idle;
        }

        location = /normal {
            fib;
            fib_thread_priority normal;
        }
    }
END
}

sub ask {
    my ($uri, $want) = @_;
    my $c = send_req($uri);
    wait_all([$c]);
    is("$c->{status} $c->{body}", "200 $want\n", "$uri: the number");
}

sub scenario {
    my ($name, $user, $count) = @_;

    start_priorities($user);
    mark_log();

    ask('/normal?num=20', 6765);
    ask('/idle?num=20', 6765);
    ask('/normal?num=21', 10946);
    ask('/idle?num=20', 6765);
    ask('/normal?num=22', 17711);

    stop_nginx();

    is(log_count($refused), $count, "$name: the refusal logged $count");
    is(log_count(qr/\[error\]|\[alert\]|exited on signal/), 0,
       "$name: no error, no crash");
}

# an unprivileged worker: root's master hands the workers to nobody
scenario('unprivileged worker', $> == 0 ? 'nobody nogroup' : '', 1);

SKIP: {
    skip 'a privileged worker needs root', 7 if $> != 0;

    # root's worker keeps CAP_SYS_NICE: back to normal, silently
    scenario('privileged worker', 'root', 0);
}

done_testing();
