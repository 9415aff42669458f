package Promtool;

# promtool check metrics on a status page a test fetched: the text
# format as Prometheus parses it, and its linter's conventions.  A page
# that passes (or was checked before: polling fetches the same page many
# times) adds no test; one that does not is a failed test with
# promtool's words.  Without promtool (Debian's prometheus package,
# which make test installs) it checks nothing.
#
#   use Promtool;
#   Promtool::check($body, 'where it came from');

use strict;
use warnings;

use Test::More ();
use File::Temp qw(tempfile);

my $promtool;
my %checked;

sub path {
    if (!defined $promtool) {
        ($promtool) = grep { -x "$_/promtool" } split /:/, $ENV{PATH} // '';
        $promtool = defined $promtool ? "$promtool/promtool" : '';
    }
    return $promtool;
}

# (passed, promtool's output); passed is undef without promtool
sub run {
    my ($body) = @_;

    return (undef, 'promtool is not installed') if !path();

    my ($fh, $file) = tempfile(UNLINK => 1);
    print $fh $body;
    close $fh;

    my $out = `'$promtool' check metrics < '$file' 2>&1`;
    my $ok = $? == 0;
    unlink $file;

    return ($ok, $out);
}

sub check {
    my ($body, $what) = @_;

    return 1 if $checked{$body}++;

    my ($ok, $out) = run($body);
    return 1 if !defined $ok || $ok;

    Test::More::fail("promtool check metrics: $what");
    Test::More::diag($out);
    return 0;
}

1;
