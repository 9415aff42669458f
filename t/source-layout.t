# vim:set ft= ts=4 sw=4 et fdm=marker:

# The README's source layout against the code: every call from one of
# the module's files to a function defined in another goes down a
# floor, never up or sideways; a request's phase is written by one
# function and its outcome decided by one.

use strict;
use warnings;

use Test::More;
use Cwd qw(cwd);

my $readme = do { local (@ARGV, $/) = ('README.md'); <> };

my ($table) = $readme =~ /^## Source layout\n(.*?)^## /ms;
ok(defined $table, 'README: a source layout section');

my %floor = map { $_->[1] => $_->[0] }
            map { [/^\| (\d+) \| `([a-z_]+\.c)` \|/] }
            grep { /^\| \d+ \|/ } split /\n/, $table // '';

my @files = sort grep { !/^fib_core\.c$/ } glob('ngx_http_fib_*.c');
is_deeply([sort grep { $_ ne 'fib_core.c' } keys %floor], \@files,
          'README: the table names every module file');

sub slurp { local (@ARGV, $/) = @_; return <> }

# the functions each file defines: a name at the start of a line, then (
my (%defined_in, %text);

for my $f (@files, 'fib_core.c') {
    my $c = slurp($f);
    $c =~ s{/\*.*?\*/}{}gs;
    $c =~ s{"(?:\\.|[^"\\])*"}{""}g;
    $text{$f} = $c;

    for my $name ($c =~ /^((?:ngx_http_)?fib_\w+)\(/mg) {
        $defined_in{$name} = $f;
    }
}

my @wrong;

for my $f (@files) {
    my %seen;

    for my $name ($text{$f} =~ /\b((?:ngx_http_)?fib_\w+)\b/g) {
        my $g = $defined_in{$name};
        next if !defined $g || $g eq $f || $seen{$name}++;

        # the content handlers are named where the directives set them
        push @wrong, "$f names $name of $g"
            if ($floor{$g} // 0) >= ($floor{$f} // 0);
    }
}

is(join("\n", @wrong), '', 'every file names only functions of floors below');

# the phase: written in one place
my @writes;

for my $f (@files) {
    my $n = () = $text{$f} =~ /->phase\s*=[^=]/g;
    push @writes, "$f: $n" if $n;
}

is(join(', ', @writes), 'ngx_http_fib_ledger.c: 1',
   'a request\'s phase is assigned once, in the ledger');

ok($text{'ngx_http_fib_ledger.c'} =~ /^ngx_http_fib_outcome\(/m,
   'the outcome is derived by ngx_http_fib_outcome()');
unlike(join('', map { $text{$_} } @files), qr/(?:->|\.)outcome\s*=[^=]/,
       'and no file assigns an outcome');

# types private to a file stay in it
for my $t (qw(ngx_http_fib_queue_s ngx_http_fib_ctx_t ngx_http_fib_values_t)) {
    my @in = grep { slurp($_) =~ /\}\s*\Q$t\E;|^struct \Q$t\E \{/m }
             (@files, glob('ngx_http_fib_*.h'));
    is(scalar(@in), 1, "$t is defined in one file (@in)");
    unlike(join('', map { slurp($_) } glob('ngx_http_fib_*.h')),
           qr/^(struct \Q$t\E \{|\}\s*\Q$t\E;)/m, "$t is no header's");
}

# one nginx sandbox per language: only these start an nginx of their
# own (a prefix, -p); everything else that starts one goes through them
my (@shell, @perl);

for my $f (grep { -f && !/\.(md|png|html|conf|yml)$/ }
           map { glob("$_") } 'Makefile', 'tools/*', 'bench/*', 'bench/*/*',
           'soak/*', 'debian/*', 'debian/*/*', 'builds/*', '.ci/*',
           't/*.t', 't/inc/*', 't/lib/Test/Nginx/*')
{
    next if $f eq __FILE__;

    my $c = slurp($f);
    push @shell, $f if grep { !/^\s*(#|echo)/ && /NGINX\S*"? -p / }
                       split /\n/, $c;
    push @perl, $f if $c =~ /'-p',/;
}

is("@shell", 'tools/sandbox.sh', 'one shell sandbox starts nginx');
is("@perl", 't/inc/NginxSandbox.pm', 'one Perl sandbox starts nginx');

# packages come from one script, which the Makefile and .ci/run call
# (debian/tests installs the package it tests, not what it needs)
my @installs = grep { slurp($_) =~ /^[^#\n]*\bapt-get (?:-\S+ )*install\b/m }
               grep { -f } 'Makefile', '.ci/run', glob('tools/*'),
                           glob('bench/*.sh'), glob('soak/*.sh'),
                           glob('builds/*.sh');
is("@installs", 'tools/deps', 'one script installs packages');

done_testing();
