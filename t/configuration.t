# vim:set ft= ts=4 sw=4 et fdm=marker:

# Configuration errors, checked with `nginx -t`: each bad line must stop
# nginx with a message that names the problem.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/inc";
use NginxBinary;
use FibServer;

my $srv = FibServer->new('conf');
my $root = $srv->root;
my $port = $srv->port;

# nginx -t on a configuration made of the given pieces:
# (accepted, what nginx said)
sub try_conf {
    my ($main, $http, $location, $after) = @_;

    $after //= '';

    return $srv->nginx_t($srv->preamble('error') . <<"END");
$main
events {}
http {
    access_log off;
${\ $srv->temp_paths}
    $http
    server {
        listen 127.0.0.1:$port;
        location /fib {
            $location
        }
    }
}
$after
END
}

sub good {
    my ($name, @conf) = @_;
    my ($ok, $out) = try_conf(@conf);
    ok($ok, "accepted: $name") or diag($out);
}

sub bad {
    my ($name, $re, @conf) = @_;
    my ($ok, $out) = try_conf(@conf);
    ok(!$ok, "rejected: $name");
    like($out, $re, "message: $name");
    return $out;
}

# the line of the generated nginx.conf that holds a directive
sub line_of {
    my ($directive) = @_;
    open my $fh, '<', "$root/conf/nginx.conf" or die $!;
    while (<$fh>) {
        return $. if index($_, $directive) >= 0;
    }
    return 0;
}

my $threads = nginx_configured(qr/--with-threads/);

good('a minimal location', '', '', 'fib;');
good('fib_thread_pool off', '', 'fib_thread_pool off;', 'fib;');

if (!$threads) {
    bad('a pool without threads', qr/needs nginx built with threads/,
        '', '', 'fib; fib_thread_pool default;');
    done_testing();
    exit;
}

good('every directive',
     'thread_pool fib threads=2 max_queue=8;',
     'fib_algorithm iterative; fib_thread_pool fib;',
     'fib; fib_max_num 5000; fib_inline_max_cost 50us; fib_timeout 5s;');
good('fib_max_num 93 for recursive', '', '', 'fib; fib_max_num 93;');
good('fib_max_num 94 for fast', '', '',
     'fib; fib_algorithm fast; fib_max_num 94;');
good('fib_inline_max_cost units', '', 'fib_inline_max_cost 2ms;',
     'fib; fib_inline_max_cost 1s;');
good('fib_thread_priority', '', 'fib_thread_priority normal;',
     'fib; fib_thread_priority idle;');
good('a pool declared after its use', '', 'fib_thread_pool late;', 'fib;',
     'thread_pool late threads=1;');

bad('recursive above 93', qr/"fib_max_num" 94 is above 93/,
    '', '', 'fib; fib_max_num 94;');
# an outer limit applies up to each algorithm's own maximum
# (t/thread-pool.t checks that it is 93 for a recursive location)
good('an inherited limit above 93 for recursive',
     '', 'fib_max_num 1000;', 'fib; fib_algorithm recursive;');
good('an http-level limit and a location without fib',
     '', 'fib_max_num 5000;', '');

# an error names the line of the directive that caused it, not the
# closing brace of the block that was being merged
my $out = bad('a limit above 93 set in the location',
              qr/"fib_max_num" 94 is above 93/,
              '', 'fib_algorithm recursive;', "fib;\n fib_max_num 94;");
like($out, qr/nginx\.conf:@{[ line_of('fib_max_num 94') ]}\b/,
     'message: it names the line of fib_max_num');

# worded as the limit of one algorithm is (above), comma and all
$out = bad('a limit above any algorithm', qr/"fib_max_num" 100000001 is above/,
           '', '', 'fib; fib_algorithm fast; fib_max_num 100000001;');
like($out, qr/"fib_max_num" 100000001 is above 100000000, the most any (?#
              )algorithm allows, in \S+nginx\.conf:(?#
              )@{[ line_of('fib_max_num 100000001') ]}$/m,
     'message: ", in" the line of fib_max_num, as the others say it');
bad('a limit that is not a number',
    qr/"fib_max_num" directive invalid number/, '', '',
    'fib; fib_max_num ten;');
bad('an unknown algorithm',
    qr/invalid value "slow" in "fib_algorithm": use "recursive", "iterative" or "fast"/,
    '', '', 'fib; fib_algorithm slow;');

# fib_max_memory: one request at the location's limit must fit
$out = bad('a limit whose result cannot fit in fib_max_memory',
           qr/F\(10000000\) with the fast algorithm needs about \d+ bytes, more than "fib_max_memory" 1048576/,
           '', 'fib_max_memory 1m;',
           "fib;\n fib_algorithm fast;\n fib_max_num 10000000;");
like($out, qr/nginx\.conf:@{[ line_of('fib_max_num 10000000') ]}\b/,
     'message: it names the line of fib_max_num');
good('fib_max_memory large enough', '', 'fib_max_memory 64m;',
     'fib; fib_algorithm fast; fib_max_num 10000000;');
bad('fib_max_memory in a location',
    qr/"fib_max_memory" directive is not allowed here/,
    '', '', 'fib; fib_max_memory 1m;');

# one content handler of this module per location
bad('fib and fib_status in one location',
    qr/"fib_status" directive cannot be combined with "fib"/,
    '', '', 'fib; fib_status;');
bad('fib after proxy_pass in one location',
    qr/"fib" directive cannot follow another content handler/,
    '', '', 'proxy_pass http://127.0.0.1:1; fib;');
good('proxy_pass after fib in one location: the proxy takes over', '', '',
     'fib; proxy_pass http://127.0.0.1:1;');
bad('fib_status and fib in one location',
    qr/"fib" directive cannot be combined with "fib_status"/,
    '', '', 'fib_status; fib;');
bad('an undeclared pool', qr/unknown thread pool "nosuch"/,
    '', '', 'fib; fib_thread_pool nosuch;');
bad('a cost without a known unit',
    qr/invalid value "5x" in "fib_inline_max_cost"/,
    '', '', 'fib; fib_inline_max_cost 5x;');
bad('an unknown priority',
    qr/invalid value "high" in "fib_thread_priority": use "normal" or "idle"/,
    '', '', 'fib; fib_thread_priority high;');
bad('a bad timeout', qr/"fib_timeout" directive invalid value/,
    '', '', 'fib; fib_timeout soon;');
bad('a timeout of 0: no computation without a deadline',
    qr/"fib_timeout" directive must be at least 1ms/,
    '', '', 'fib; fib_timeout 0;');
good('a timeout of 1ms', '', '', 'fib; fib_timeout 1ms;');
bad('fib_status after proxy_pass in one location',
    qr/"fib_status" directive cannot follow another content handler/,
    '', '', 'proxy_pass http://127.0.0.1:1; fib_status;');
bad('fib_status twice', qr/"fib_status" directive is duplicate/,
    '', '', 'fib_status; fib_status;');

# a limit that can stall the event loop, without a pool: a warning
my ($ok, $warned) = try_conf('', '', 'fib; fib_thread_pool off; '
                                    . 'fib_max_num 40; fib_timeout 100ms;');
ok($ok, 'accepted: a costly limit without a pool');
my $stall = 'algorithm and no thread pool can stall the event loop for';
like($warned, qr/\[warn\] .*F\(40\) with the recursive \Q$stall\E (?#
                 )"fib_timeout" 100\.000ms: .* in \S+nginx\.conf:\d+/,
     'message: a costly limit without a pool, with its bound and line');
($ok, $warned) = try_conf('', '', 'fib; fib_thread_pool off; '
                                 . 'fib_algorithm fast; fib_max_num 30000;');
like($warned, qr/\[warn\] .*F\(30000\) with the fast \Q$stall\E about (?#
                 )\d+\.\d{3}ms/,
     'message: a costly limit without a pool, with its estimate');
($ok, $warned) = try_conf('', '', 'fib; fib_thread_pool off;');
unlike($warned, qr/\[warn\]/, 'no warning: the default limit without a pool');
($ok, $warned) = try_conf('', '', 'fib; fib_max_num 93;');
unlike($warned, qr/\[warn\]/, 'no warning: a costly limit with a pool');
($ok, $warned) = try_conf('', '', 'fib; fib_thread_pool off; fib_max_num 30;'
                                 . ' if ($arg_x) { set $y 1; }'
                                 . ' limit_except GET { deny all; }');
is(() = $warned =~ /\[warn\]/g, 1,
   'one warning for a location, none again for its blocks');

good('a pool with tasks=', 'thread_pool p threads=2 max_queue=2;',
     'fib_thread_pool p tasks=2;', 'fib;');
bad('tasks=0', qr/invalid parameter "tasks=0": use tasks=N, N at least 1/,
    'thread_pool p threads=2;', 'fib_thread_pool p tasks=0;', 'fib;');
bad('tasks= without a number', qr/invalid parameter "tasks=two"/,
    'thread_pool p threads=2;', 'fib_thread_pool p tasks=two;', 'fib;');
bad('another parameter than tasks=', qr/invalid parameter "threads=2"/,
    'thread_pool p threads=2;', 'fib_thread_pool p threads=2;', 'fib;');
bad('off with tasks=', qr/"fib_thread_pool" directive off takes no tasks=/,
    '', 'fib_thread_pool off tasks=2;', 'fib;');
good('one pool, tasks= written in one of its locations, after the other',
     'thread_pool p threads=2;', 'fib_thread_pool p;',
     'fib; } location /b { fib; fib_thread_pool p tasks=2;');
bad('one pool with two tasks= values',
    qr/"fib_thread_pool" names one pool with tasks=1 and tasks=2/,
    'thread_pool p threads=2;', 'fib_thread_pool p tasks=2;',
    'fib; fib_thread_pool p tasks=1;');

bad('fib twice', qr/"fib" directive is duplicate/, '', '', 'fib; fib;');
bad('fib with an argument', qr/invalid number of arguments in "fib"/,
    '', '', 'fib on;');
bad('fib at the http level', qr/"fib" directive is not allowed here/,
    '', 'fib;', '');

done_testing();
