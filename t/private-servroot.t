# vim:set ft= ts=4 sw=4 et fdm=marker:

# The suite runs wherever a user clones it, as root in a 0700 directory
# too: run as root, the harness writes `user root;` (as Test::Nginx
# does), so that the workers, which would otherwise run as nobody, reach
# a servroot they cannot enter.  Here the servroot itself is 0700 and
# the worker must read a file in it and compute in the pool.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/inc";
use NginxBinary;
use FibServer;

my $srv = FibServer->new('private');
my $port = $srv->port;
my $root = $srv->root;

require_threads();

mkdir "$root/html";
open my $fh, '>', "$root/html/index.txt" or die $!;
print $fh "inside\n";
close $fh;

chmod 0700, $root or die "chmod $root: $!";

start_server(main => 'thread_pool fib threads=1 max_queue=8;',
             http => <<"END");
    server {
        listen 127.0.0.1:$port;
        root $root/html;

        location /fib {
            fib;
            fib_thread_pool fib;
            fib_inline_max_cost 0;
        }
    }
END

mark_log();

is((stat $root)[2] & 0777, 0700, 'the servroot is 0700');

my $c = get('/index.txt');
is("$c->{status} $c->{body}", "200 inside\n",
   'a worker reads a file inside the servroot');

$c = get('/fib?num=30');
is("$c->{status} $c->{body}", "200 832040\n",
   'a worker computes in the pool');

ok(!log_count(qr/Permission denied|\(13:/),
   'no permission denied in the error log');
log_clean('private');

done_testing();
