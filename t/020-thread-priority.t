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
use FibServer;

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my $port = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT}
           || IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                    LocalPort => 0)->sockport;
my $root = ($ENV{TEST_NGINX_SERVROOT} || cwd() . '/t/servroot') . '-prio';
my $modules = join '', map { "load_module $_;\n" }
                       split ' ', $ENV{TEST_NGINX_LOAD_MODULES} || '';

my $refused = qr/may not go back to "normal"/;

FibServer::setup($root, $port);

if (`$nginx -V 2>&1` !~ /--with-threads/) {
    plan skip_all => 'nginx is built without threads';
}

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

END {
    stop_nginx() if master_pid();
    remove_tree($root) if !$ENV{TEST_NGINX_NO_CLEAN};
}

sub write_conf {
    my ($user) = @_;

    remove_tree($root);
    make_path("$root/conf", "$root/logs", "$root/tmp");

    open my $fh, '>', "$root/conf/nginx.conf" or die $!;
    print $fh <<"END";
$modules
$user
worker_processes 1;
daemon on;
master_process on;
error_log $root/logs/error.log notice;
pid $root/logs/nginx.pid;

# one thread: every task runs on the same one
thread_pool fib threads=1 max_queue=16;

events {
    worker_connections 64;
}

http {
    access_log off;
    client_body_temp_path $root/tmp;
    proxy_temp_path $root/tmp;
    fastcgi_temp_path $root/tmp;
    uwsgi_temp_path $root/tmp;
    scgi_temp_path $root/tmp;

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
}
END
    close $fh;
}

sub ask {
    my ($uri, $want) = @_;
    my $c = send_req($uri);
    wait_all([$c]);
    is("$c->{status} $c->{body}", "200 $want\n", "$uri: the number");
}

sub scenario {
    my ($name, $user, $count) = @_;

    write_conf($user);
    launch_nginx();
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
scenario('unprivileged worker', $> == 0 ? 'user nobody nogroup;' : '', 1);

SKIP: {
    skip 'a privileged worker needs root', 7 if $> != 0;

    # root's worker keeps CAP_SYS_NICE: back to normal, silently
    scenario('privileged worker', 'user root;', 0);
}

done_testing();
