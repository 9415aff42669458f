# vim:set ft= ts=4 sw=4 et fdm=marker:

# The README against what it describes: the Synopsis is a complete
# nginx.conf that nginx -t accepts, examples use exact locations, what a
# missing load_module says, the Makefile's targets and help, the .ci/run
# sentence, the version, the license, make install, which packages
# make run installs, that the build needs no package manager, and how
# make test finds Test::Nginx and a port.

use strict;
use warnings;

use Test::More;
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use File::Compare qw(compare);
use IO::Socket::INET;
use Cwd qw(cwd abs_path);
use FindBin;
use lib "$FindBin::Bin/inc";
use FibServer;

my $repo = abs_path(cwd());
my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my $docs = FibServer->new('docs');
my $root = $docs->root;
my @so = split ' ', $ENV{TEST_NGINX_LOAD_MODULES} || '';
my $threads = `$nginx -V 2>&1` =~ /--with-threads/;
my $tmp = tempdir(CLEANUP => 1);

# make in this repository, without the caller's make flags
sub make {
    my ($env, @args) = @_;

    local %ENV = %ENV;
    delete @ENV{qw(MAKEFLAGS MAKELEVEL MFLAGS)};

    for my $k (keys %$env) {
        if (defined $env->{$k}) {
            $ENV{$k} = $env->{$k};
        } else {
            delete $ENV{$k};
        }
    }

    my $cmd = join ' ', map { "'$_'" } 'make', '--no-print-directory',
                                       '-C', $repo, @args;
    my $out = `$cmd 2>&1`;
    return wantarray ? ($? == 0, $out) : $out;
}

# the value of a Makefile variable, as a recipe sees it
sub make_var {
    my ($env, $var) = @_;

    my $out = make($env, '-s', '--eval',
                   "print-var: ; \@echo \"[\$($var)]\"", 'print-var');
    return $out =~ /\[(.*)\]/ ? $1 : "no value: $out";
}

sub can_bind {
    my ($port) = @_;
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => $port, ReuseAddr => 1);
    return defined $s;
}

my $readme = slurp("$repo/README.md");
my $makefile = slurp("$repo/Makefile");
my $t_readme = slurp("$repo/t/README.md");

# {{{ a reference in nginx.org's shape, the guides beside what they describe

my @sections = $readme =~ /^## (.*)$/mg;
is_deeply(\@sections, [qw(Name Synopsis Description Directives Variables),
                       'Status page', qw(Installation Compatibility Limits),
                       'Source layout', 'License'],
          'the README\'s sections, in order');

my ($toc) = $readme =~ /\A# \S+\n\n((?:[ *].*\n)+)/;
my %anchor = map { $_ => 1 } ($toc // '') =~ /\]\(#([^)]+)\)/g;
is_deeply([grep { !$anchor{lc s/ /-/gr} } @sections,
           $readme =~ /^### (fib\S*)$/mg], [],
          'its table of contents links every section and directive');

for my $guide (qw(bench/README.md examples/cluster/README.md t/README.md)) {
    ok(-s "$repo/$guide", "$guide exists");
    like($readme, qr/\]\(\Q$guide\E\)/, 'and the README links it');
}

# every file prove runs, and every package make test installs, is named
my @t = map { s{^\Q$repo\E/}{}r } glob "$repo/t/*.t";
cmp_ok(scalar @t, '>=', 20, 'the test files');
is_deeply([grep { $t_readme !~ /`\Q$_\E`/ } @t], [],
          't/README.md describes each');
is_deeply([grep { $readme !~ /`\Q$_\E`/ }
           split ' ', make_var({}, 'DEB_TEST')], [],
          'the README names each package of make deps-test');

# }}}

# {{{ the Synopsis

my ($synopsis) = $readme =~ /^## Synopsis\n.*?^```nginx\n(.*?)^```\n/ms;

ok(defined $synopsis, 'the Synopsis has an nginx block');
$synopsis //= '';

# one example configuration: the Synopsis, what make run serves and what
# the package ships
my $example = slurp("$repo/examples/nginx.conf");
is($synopsis, $example, 'the Synopsis is examples/nginx.conf, verbatim');
like(slurp("$repo/debian/libnginx-mod-http-fib.examples"),
     qr{^examples/nginx\.conf$}m, 'the package ships that file');

like($synopsis, qr/\A(?:#[^\n]*\n)*load_module \S+;\n/,
     'it starts with load_module');
like($synopsis, qr{^error_log /var/log/nginx/error\.log info;$}m,
     'it logs what the module says at info and warn');
like($synopsis, qr/^events \{/m, 'it has an events block');
like($synopsis, qr/^http \{/m, 'and an http block');

SKIP: {
    skip 'the Synopsis declares a thread_pool: nginx without threads', 3
        if !$threads;

    # the module just built instead of the installed one, and the logs
    # and the pid in the test's directory; nothing else is changed
    my $conf = $synopsis;
    my $load = join '', map { "load_module $_;\n" } @so;

    my $debian = '/usr/lib/nginx/modules/ngx_http_fib_module.so';

    is($conf =~ s{^load_module \Q$debian\E;\n}{$load}m, 1,
       'it loads the module from Debian\'s directory');
    $conf =~ s{/var/log/nginx/}{$root/logs/}g;

    # and its pid and default access log (of what no location logs),
    # which an ordinary user cannot write in /run and /var/log/nginx
    $conf = "pid $root/logs/nginx.pid;\n$conf" if $conf !~ /^pid /m;
    $conf =~ s|^http \{\n|http {\n    access_log $root/logs/access.log;\n|m;

    my ($ok, $out) = $docs->nginx_t($conf);
    ok($ok, 'nginx -t accepts the Synopsis') or diag($out);

    skip 'the module is built into this nginx', 1 if !@so;

    $conf =~ s/^load_module .*\n//mg;
    ($ok, $out) = $docs->nginx_t($conf);
    like($out, qr/unknown directive "fib_thread_pool" in \S+:\d+/,
         'without load_module it stops at the first fib_ directive');
}

# every location in the README's nginx examples, make run's and the
# package test's configurations is an exact one
my @locations;

for my $block ($readme =~ /^```nginx\n(.*?)^```\n/msg) {
    push @locations, $block =~ /^\s*(location\b[^{]*)\{/mg;
}

push @locations, $example =~ /^\s*(location\b[^{]*)\{/mg;
push @locations, slurp("$repo/debian/tests/run.sh") =~ /^\s*(location\b[^{]*)\{/mg;

cmp_ok(scalar @locations, '>=', 5, 'the examples have locations');
is_deeply([grep { !/^location = \S+\s*$/ } @locations], [],
          'every example location is exact');

# }}}
# {{{ every example that gzip can meet sets gzip_vary

# the README's nginx examples with an http block, and examples/cluster/:
# the answers cache for a year, so a compressed one must say it varies
my %http = map { ("README: " . (/^(#[^\n]*)/ ? $1 : 'an example') => $_) }
           grep { /^http \{/m } $readme =~ /^```nginx\n(.*?)^```\n/msg;
$http{"examples/cluster/$_"} = slurp("$repo/examples/cluster/$_/nginx.conf")
    for qw(front backend);

cmp_ok(scalar keys %http, '>=', 4, 'the examples with an http block');
is_deeply([sort grep { $http{$_} !~ /^    gzip_vary on;$/m } keys %http],
          [], 'each sets gzip_vary on at http level');
like($readme, qr/^### gzip and caches\n/m, 'the README says why');

# }}}
# {{{ a missing load_module

SKIP: {
    skip 'the module is built into this nginx', 2 if !@so;

    my ($ok, $out) = $docs->nginx_t(<<"END");
events {}
http {
    server {
        listen 127.0.0.1:1;
        location = /fib {
            fib;
        }
    }
}
END

    ok(!$ok, 'nginx -t refuses fib without load_module');
    like($out, qr/\[emerg\] (?:\d+#\d+: )?unknown directive "fib" in \S+:\d+/,
         'with the README\'s message');
}

like($readme, qr/unknown directive "fib" in /,
     'the README shows that message');

# }}}
# {{{ make help, the .ci/run sentence

my @targets = $makefile =~ /^([a-z][a-z-]*):(?!=)/mg;
my $help = make({}, 'help');
my @listed = $help =~ /^make ([a-z][a-z-]*) +\S/mg;

cmp_ok(scalar @targets, '>=', 20, 'the Makefile has its targets');
is_deeply([sort @listed], [sort @targets],
          'make help lists every target once');
is(scalar(grep { length } split /\n/, $help), scalar @targets,
   'one line each');
like($readme, qr/`make help` lists every target/, 'the README points to it');

my ($phony) = $makefile =~ /^\.PHONY:((?:.*\\\n)*.*)/m;
is_deeply([sort split ' ', $phony =~ s/\\\n/ /gr], [sort @targets],
          'every target is .PHONY');

my @ci = slurp("$repo/.ci/run") =~ /^(make\b.*?)\s*$/mg;
my ($sentence) = $t_readme =~ /^(`\.ci\/run`.*?)\n\n/ms;
my @said = map { s/\s+/ /gr } ($sentence // '') =~ /`(make[^`]*)`/g;

cmp_ok(scalar @ci, '>=', 1, '.ci/run runs make targets');
is_deeply(\@said, \@ci, 't/README.md says what .ci/run runs, in order');

# }}}
# {{{ one version, the license, the changelog

my ($version) = slurp("$repo/config") =~ /^ngx_http_fib_version=(\S+)$/m;

like($version // '', qr/^\d+\.\d+\.\d+$/, 'config sets the version');
$version //= 'none';

is(make_var({}, 'VERSION'), $version, 'the Makefile reads it from config');
is(make({}, '-s', 'version'), "$version\n", 'make version prints it');

my ($deb_version) = slurp("$repo/debian/changelog") =~ /^\S+ \(([^)-]+)/;
is($deb_version, $version, 'debian/changelog has the same version');

# the newest section is the release itself: nothing "Unreleased" above it
my ($changelog_top) = slurp("$repo/CHANGELOG.md") =~ /^(## .*)$/m;
like($changelog_top // 'none', qr/^## \[\Q$version\E\] - \d{4}-\d\d-\d\d$/,
     'CHANGELOG.md\'s first section is that release, dated');

my ($deb_date) = slurp("$repo/debian/changelog") =~ /^ -- .*>  (.*)$/m;
my ($changelog_date) = ($changelog_top // '') =~ / - (\S+)$/;
is(`date -u -d '$deb_date' +%F 2>/dev/null` =~ s/\n//r,
   $changelog_date // 'none', 'on the day debian/changelog gives');

my @shown = $readme =~ /fib_build_info\{version="([^"]*)"/g;
cmp_ok(scalar @shown, '>=', 1, 'the README shows fib_build_info');
is_deeply([grep { $_ ne $version } @shown], [], 'with that version');

my @deb_names = $readme =~ /libnginx-mod-http-fib_([^_]+)_amd64\.deb/g;
cmp_ok(scalar @deb_names, '>=', 1, 'the README names the package file');
is_deeply([grep { $_ ne $version } @deb_names], [],
          'with that version');

SKIP: {
    skip 'the module was not built by this Makefile', 1
        if !-f "$repo/build/nginx/objs/Makefile";

    like(slurp("$repo/build/nginx/objs/Makefile"),
         qr/-DNGX_HTTP_FIB_VERSION=\Q$version\E\b/,
         'config passes it to the C compiler');
}

sub license_text {
    my ($text) = @_;
    $text =~ s/^ ?\.$//mg;
    $text =~ s/\s+/ /g;
    return $text;
}

my $license = slurp("$repo/LICENSE");
my ($deb_license) = slurp("$repo/debian/copyright")
    =~ /^License: BSD-2-Clause\n(.*)\z/ms;

like($license, qr/^Copyright \(c\) \d{4}, /, 'LICENSE names its holder');
my $bsd2 = license_text($deb_license // 'none');
like(license_text($license), qr/\Q$bsd2\E\s*\z/,
     'LICENSE has the BSD 2-Clause text of debian/copyright');
like($readme, qr/^## License\n\nBSD 2-Clause: see \[LICENSE\]\(LICENSE\)/m,
     'the README says so');

# }}}
# {{{ make install

SKIP: {
    skip 'the suite runs another build of the module', 8
        if "@so" ne "$repo/build/ngx_http_fib_module.so";

    my ($ok, $out) = make({}, 'install', "DESTDIR=$tmp/stage");
    my $installed = "$tmp/stage/usr/lib/nginx/modules/ngx_http_fib_module.so";

    ok($ok, 'make install DESTDIR=...') or diag($out);
    system('strip', '-o', "$tmp/stripped.so", $so[0]) == 0
        or die "strip: $?";
    is(compare($installed, "$tmp/stripped.so"), 0,
       'puts the module, stripped, in Debian\'s module directory under '
       . 'DESTDIR');
    is(sprintf('%o', (stat $installed)[2] & 07777), '644', 'mode 0644');

    ($ok, $out) = make({}, 'install', "DESTDIR=$tmp/other",
                       'MODULES_DIR=/usr/local/nginx/modules');
    ok($ok, 'make install MODULES_DIR=...') or diag($out);
    ok(-f "$tmp/other/usr/local/nginx/modules/ngx_http_fib_module.so",
       'puts it there');

    ($ok, $out) = make({}, 'uninstall', "DESTDIR=$tmp/stage");
    ok($ok, 'make uninstall DESTDIR=...') or diag($out);
    ok(!-e $installed, 'removes what make install put there');
    like($readme, qr/^sudo make uninstall\b/m, 'the README shows it');
}

# }}}
# {{{ make run says it serves only once nginx listens

SKIP: {
    skip 'the suite runs another build of the module', 8
        if "@so" ne "$repo/build/ngx_http_fib_module.so";

    # a port taken by someone else: nginx cannot bind, and says so alone
    my $busy = pick_port();
    my $taken = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                      LocalPort => $busy, ReuseAddr => 1)
        or die "127.0.0.1:$busy: $!";
    my ($ok, $out) = make({}, 'run', "PORT=$busy", "NGINX=$nginx");
    undef $taken;

    ok(!$ok && $out =~ /bind\(\) to 127\.0\.0\.1:$busy failed/,
       'make run on a taken port fails with bind()') or diag($out);
    unlike($out, qr/^serving on/m, 'and does not say it serves');

    # a free port: once it says so, it answers
    my $free = pick_port();
    local %ENV = %ENV;
    delete @ENV{qw(MAKEFLAGS MAKELEVEL MFLAGS)};
    my $pid = open my $run, '-|',
                   "exec timeout -s INT 30 make --no-print-directory"
                   . " -C '$repo' run PORT=$free NGINX='$nginx' 2>&1";
    my ($said, $answer) = ('', '');
    while (my $line = <$run>) {
        next if $line !~ /^serving on (\S+)/;
        $said = $1;
        my $s = IO::Socket::INET->new("127.0.0.1:$free");
        if ($s) {
            print $s "GET /fib?num=10 HTTP/1.0\r\n\r\n";
            local $/;
            $answer = <$s> // '';
        }
        last;
    }
    kill 'INT', $pid;
    close $run;

    is($said, "http://127.0.0.1:$free/fib?num=10", 'make run says where');
    like($answer, qr/\r\n\r\n55\n\z/, 'and serves there when it says so');

    # what it served is examples/nginx.conf, with the module just built,
    # the port, and paths in the build folder
    my $served = slurp("$repo/build/run/conf/nginx.conf");
    my $paths = qr/load_module|listen|\/var\/log\/nginx\/|\Q$repo\E\/build\//;
    is(join('', grep { !/$paths/ } split /^/, $served),
       join('', grep { !/$paths/ } split /^/, $example),
       'make run serves examples/nginx.conf');
    like($served, qr/^load_module \Q$so[0]\E;$/m, 'with the module just built');
    like($served, qr/^ +listen 127\.0\.0\.1:$free;$/m, 'on PORT');
    is(scalar(() = $served =~ /\/var\/|\/usr\//g), 0,
       'writing nothing outside the build folder');
}

# }}}
# {{{ the build needs no package manager

# dpkg-query and apt-get that fail as absent ones do, and say they ran
my $shadow = "$tmp/no-dpkg";
make_path($shadow);
for my $tool (qw(dpkg-query apt-get)) {
    open my $fh, '>', "$shadow/$tool" or die $!;
    print $fh "#!/bin/sh\necho $tool >> '$tmp/pm-called'\nexit 127\n";
    close $fh;
    chmod 0755, "$shadow/$tool";
}

SKIP: {
    skip 'nginx-dev\'s sources are not installed', 8
        if !-x '/usr/share/nginx/src/configure';

    # a build of its own from scratch, beside the suite's
    my ($ok, $out) = make({ PATH => "$shadow:$ENV{PATH}" }, 'build',
                          "BUILD=$tmp/b");
    ok($ok, 'make build without dpkg-query and apt-get') or diag($out);
    ok(-s "$tmp/b/ngx_http_fib_module.so", 'builds the module');
    ok(!-e "$tmp/pm-called", 'and never asks a package manager')
        or diag(slurp("$tmp/pm-called"));

    unlink "$tmp/b/ngx_http_fib_module.so";
    ($ok, $out) = make({ PATH => "$shadow:$ENV{PATH}" }, "BUILD=$tmp/b");
    ok($ok && -s "$tmp/b/ngx_http_fib_module.so", 'so does make alone')
        or diag($out);
    ok(!-e "$tmp/pm-called", 'without a package manager too');

    # a missing GMP, as a compiler that cannot find it sees it
    open my $fh, '>', "$shadow/cc-no-gmp" or die $!;
    print $fh "#!/bin/sh\nfor a; do [ \"\$a\" != -lgmp ] || exit 1; done\n"
              . "exec cc \"\$\@\"\n";
    close $fh;
    chmod 0755, "$shadow/cc-no-gmp";

    ($ok, $out) = make({ PATH => "$shadow:$ENV{PATH}",
                         CC => "$shadow/cc-no-gmp" },
                       'build', "BUILD=$tmp/nogmp");
    ok(!$ok, 'without GMP the build fails');
    like($out, qr/^checking for GMP library \.\.\. not found$/m,
         'at configure, which probed it');
    like($out, qr/error: the ngx_http_fib_module requires the GMP library/,
         'and says what is missing');
}

{
    my ($ok, $out) = make({ PATH => "$shadow:$ENV{PATH}" }, 'build',
                          "BUILD=$tmp/nosrc", "NGINX_SRC=$tmp/none");
    ok(!$ok, 'without nginx\'s sources the build fails');
    like($out, qr/no nginx sources in NGINX_SRC=\Q$tmp\E\/none: install nginx-dev/,
         'and says what to install or name');
}

# where dpkg cannot answer, make test and make run say so and go on
like(make({ PATH => "$shadow:$ENV{PATH}" }, 'deps-build'),
     qr/^no dpkg-query: not checking for Debian packages: nginx \S/m,
     'deps-build without dpkg says it checks nothing');

# }}}
# {{{ what make run and make test install

my @build_debs = split ' ', make_var({}, 'DEB_BUILD');
my @test_debs = grep { my $d = $_; !grep { $_ eq $d } @build_debs }
                split ' ', make_var({}, 'DEB_TEST');

ok((grep { $_ eq 'libcmocka-dev' } @test_debs)
   && (grep { $_ eq 'libtest-base-perl' } @test_debs),
   'cmocka and Test::Base are test packages');

# make -n lists the package loops it would run
my $dry_run = make({}, '-n', 'run');
my $dry_test = make({}, '-n', 'test');
my ($run_loops) = join ' ', $dry_run =~ /for p in ([^;]*);/g;
my ($test_loops) = join ' ', $dry_test =~ /for p in ([^;]*);/g;

like($run_loops, qr/\bliburiparser-dev\b/, 'make run installs build tools');
is_deeply([grep { $run_loops =~ /(?:^|\s)\Q$_\E(?:\s|$)/ } @test_debs], [],
          'and no test tools');
is_deeply([grep { $test_loops !~ /(?:^|\s)\Q$_\E(?:\s|$)/ } @test_debs],
          [], 'make test installs them');

# }}}
# {{{ how make test finds Test::Nginx (keeping the caller's PERL5LIB)

my $stub = "$tmp/real/Test/Nginx";
make_path($stub);
open my $fh, '>', "$stub/Socket.pm" or die $!;
print $fh "package Test::Nginx::Socket;\n1;\n";
close $fh;

my $system_has_it = system(q{env -u PERL5LIB perl -MTest::Nginx::Socket -e1 }
                           . q{2>/dev/null}) == 0;

is(make_var({ PERL5LIB => "$tmp/real" }, 'TEST_PERL5LIB'), "$tmp/real",
   'a Test::Nginx on PERL5LIB: PERL5LIB is kept as it is');
is(make_var({ PERL5LIB => "$tmp/real:$tmp/more" }, 'TEST_PERL5LIB'),
   "$tmp/real:$tmp/more", 'all of it');
is(make_var({ PERL5LIB => "$tmp/other" }, 'TEST_PERL5LIB'),
   $system_has_it ? "$tmp/other" : "$repo/t/lib:$tmp/other",
   'none: the local runner goes in front of it');
is(make_var({ PERL5LIB => undef }, 'TEST_PERL5LIB'),
   $system_has_it ? '' : "$repo/t/lib", 'no PERL5LIB: the local runner');

# }}}
# {{{ ports: free by default, 127.0.0.1 only, the README documents them

my $port = make_var({ TEST_NGINX_PORT => undef }, 'TEST_NGINX_PORT');
like($port, qr/^\d+$/, 'make test picks a port');
is(scalar(grep { can_bind($_) } $port .. $port + 9), 10,
   'the ten from it are free');
ok($port + 9 < 32768, 'below the kernel\'s ephemeral ports');
is(make_var({ TEST_NGINX_PORT => 22222 }, 'TEST_NGINX_PORT'), 22222,
   'TEST_NGINX_PORT names it');

my $runner_port = `env -u TEST_NGINX_PORT -u TEST_NGINX_SERVER_PORT \\
                   perl -I$repo/t/lib -MTest::Nginx::Socket \\
                   -e 'print server_port()'`;
like($runner_port, qr/^\d+$/, 'the local runner picks one too');
isnt($runner_port, 1984, 'not a fixed one');
ok(can_bind($runner_port), 'a free one');

# one block through the local runner: its nginx listens on 127.0.0.1
my $t = "$tmp/listen.t";
open $fh, '>', $t or die $!;
print $fh <<'END';
use Test::Nginx::Socket;
plan tests => blocks() * 2;
run_tests();
__DATA__
=== TEST 1: a block
--- config
    location = /t {
        return 200 "ok\n";
    }

    # nginx warns at start that this can stall the event loop
    location = /w {
        fib;
        fib_thread_pool off;
        fib_max_num 30;
    }
--- request
GET /t
--- response_body
ok
END
close $fh;

{
    local %ENV = %ENV;
    delete $ENV{TEST_NGINX_USE_VALGRIND};
    # the port under test is TEST_NGINX_PORT, not one the caller gave
    # the real Test::Nginx (127.0.0.1:PORT for its server and client)
    delete @ENV{qw(TEST_NGINX_SERVER_PORT TEST_NGINX_CLIENT_PORT)};
    $ENV{TEST_NGINX_NO_CLEAN} = 1;
    $ENV{TEST_NGINX_SERVROOT} = "$tmp/servroot";
    $ENV{TEST_NGINX_PORT} ||= $port;

    my $out = `perl -I$repo/t/lib $t 2>&1`;
    is($?, 0, 'the local runner runs a block') or diag($out);
    unlike($out, qr/^nginx: \[warn\]/m,
           'nginx\'s start-up warnings are not printed among its lines');
    like(-e "$tmp/servroot/logs/stderr" ? slurp("$tmp/servroot/logs/stderr")
                                        : '',
         qr/\[warn\] F\(30\)/, 'they are in the servroot');
    like(-f "$tmp/servroot/conf/nginx.conf"
         ? slurp("$tmp/servroot/conf/nginx.conf") : '',
         qr/^\s*listen 127\.0\.0\.1:\Q$ENV{TEST_NGINX_PORT}\E;/m,
         'with nginx listening on 127.0.0.1 only');
}

like($readme, qr/`TEST_NGINX_PORT=\d+ make test`/,
     'the README shows TEST_NGINX_PORT');
my $ports = FibServer::PORTS;
like($readme, qr/^`make test` listens on $ports consecutive ports /m,
     'and how many ports the suite takes');
like($t_readme,
     qr/^from `TEST_NGINX_PORT`: .*?22000\nto ${\ (22000 + $ports - 1)}\)/ms,
     't/README.md too');
like($readme, qr/`DEB_TEST_PORT`/, 'and DEB_TEST_PORT');
like(slurp("$repo/debian/tests/run.sh"), qr/\$\{DEB_TEST_PORT:-/,
     'which debian/tests/run.sh reads');

# }}}

done_testing();
