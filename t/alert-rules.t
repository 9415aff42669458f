# vim:set ft= ts=4 sw=4 et fdm=marker:

# examples/prometheus/ against promtool and the README, without nginx:
# the rules and the example Prometheus configuration load, the rules'
# unit tests pass, every alert has a case in which it fires and one in
# which it does not, each says for how long, how bad and what to do,
# every metric the rules read is one the status page shows (a renamed
# metric fails here), and the README's Alerts section names every alert.
# Written against Debian 12's promtool, 2.42.

use strict;
use warnings;

use Test::More;
use Cwd qw(abs_path);
use FindBin;
use lib "$FindBin::Bin/inc";
use Promtool;
use FibServer qw(slurp);

my $promtool = Promtool::path();

if (!$promtool) {
    plan skip_all => 'promtool is not installed (Debian\'s prometheus '
                     . 'package: make deps-prometheus installs it)';
}

my $repo = abs_path("$FindBin::Bin/..");
my $dir = "$repo/examples/prometheus";
my $rules_file = "$dir/fib.rules.yml";
my $tests_file = "$dir/fib.rules.test.yml";

sub promtool {
    my (@args) = @_;
    my $out = `'$promtool' @args 2>&1`;
    return ($? == 0, $out);
}

my $rules = slurp($rules_file);
my $tests = slurp($tests_file);
my $readme = slurp("$repo/README.md");

# {{{ promtool

{
    my ($ok, $out) = promtool('check', 'rules', $rules_file);
    ok($ok, 'promtool check rules fib.rules.yml') or diag($out);

    ($ok, $out) = promtool('check', 'config', "$dir/prometheus.yml");
    ok($ok, 'promtool check config prometheus.yml, which loads them')
        or diag($out);

    # rule_files in the test file are relative to it
    ($ok, $out) = promtool('test', 'rules', $tests_file);
    ok($ok, 'promtool test rules fib.rules.test.yml') or diag($out);
}

# }}}
# {{{ every alert: for:, a severity, what it means and what to do

# one chunk per rule, from its "- alert:" or "- record:" to the next
my @chunks = split /^(?=\s*- (?:alert|record):)/m, $rules;
my %alert = map { /^\s*- alert:\s*(\S+)/ ? ($1 => $_) : () } @chunks;
my %record = map { /^\s*- record:\s*(\S+)/ ? ($1 => 1) : () } @chunks;

cmp_ok(scalar keys %alert, '>=', 9, 'the rules have their alerts');
cmp_ok(scalar keys %record, '>=', 10, 'and their recording rules');

is_deeply([sort grep {
              $alert{$_} !~ /^\s+for:\s*\d+[smh]\s*$/m
              || $alert{$_} !~ /^\s+severity:\s*(?:critical|warning)\s*$/m
              || $alert{$_} !~ /^\s+summary:\s*\S/m
              || $alert{$_} !~ /^\s+description:\s*\S/m
          } keys %alert], [],
          'each alert has a for:, a severity, a summary and a description');

is_deeply([sort grep { !/^Fib[A-Z][A-Za-z]+$/ } keys %alert], [],
          'alert names are CamelCase with the Fib prefix');

# }}}
# {{{ every alert is tested firing and not firing

# the test file writes each case as "alertname:" then "exp_alerts:"
my $cases = () = $tests =~ /^\s*alertname:/mg;
my (%fires, %silent);

while ($tests =~ /^\s*alertname:\s*(\S+)\s*\n\s*exp_alerts:[ \t]*(\S*)/mg) {
    my ($name, $inline) = ($1, $2);
    $cases--;

    if ($inline eq '[]') {
        $silent{$name}++;
    } elsif ($inline eq '') {
        $fires{$name}++;
    } else {
        fail("alert test of $name: exp_alerts is [] or a list");
    }
}

is($cases, 0, 'every alert_rule_test case has alertname, then exp_alerts');
is_deeply([sort grep { !$alert{$_} } keys %fires, keys %silent], [],
          'every alert the tests name is in the rules');
is_deeply([sort grep { !$fires{$_} } keys %alert], [],
          'every alert has a case in which it fires');
is_deeply([sort grep { !$silent{$_} } keys %alert], [],
          'and one in which it does not (exp_alerts: [])');

# }}}
# {{{ every metric the rules read is on the status page

# the expressions: "expr: ..." on one line, or a block scalar below it
my @exprs;
my @lines = split /\n/, $rules;

for (my $i = 0; $i < @lines; $i++) {
    my ($indent, $value) = $lines[$i] =~ /^(\s*)expr:\s*(.*?)\s*$/ or next;

    if ($value !~ /^[>|][-+]?$/) {
        push @exprs, $value;
        next;
    }

    my $block = '';
    while ($i + 1 < @lines
           && ($lines[$i + 1] =~ /^\s*$/
               || length(($lines[$i + 1] =~ /^(\s*)/)[0]) > length $indent))
    {
        $block .= $lines[++$i] . "\n";
    }
    push @exprs, $block;
}

cmp_ok(scalar @exprs, '==', keys(%alert) + keys(%record),
       'an expression for every rule');

my %used;

for my $expr (@exprs) {
    $expr =~ s/^'(.*)'$/$1/s;
    $expr =~ s/"(?:[^"\\]|\\.)*"//g;
    $expr =~ s/\{[^}]*\}|\[[^\]]*\]//g;
    $expr =~ s/\b(?:by|without|on|ignoring|group_left|group_right)\s*
               \([^)]*\)//gx;

    for my $name ($expr =~ /(?<![\w:.])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()/g)
    {
        next if $name =~ /^(?:and|or|unless|bool|offset|group_left
                            |group_right|inf|nan)$/xi;
        $used{$name}++;
    }
}

my ($page) = $readme =~ /^## Status page\n.*?^```\n(.*?)^```\n/ms;
my %shown = map { $_ => 1 } ($page // '') =~ /^([a-zA-Z_:][\w:]*)[{ ]/mg;

cmp_ok(scalar keys %shown, '>=', 20, 'the README shows the status page');
ok($used{up}, 'the rules read up, which Prometheus writes');
is_deeply([sort grep { /:/ && !$record{$_} } keys %used], [],
          'every recorded series the rules read is recorded there');
is_deeply([sort grep { !/:/ && $_ ne 'up' && !$shown{$_} } keys %used], [],
          'every metric they read is on the README\'s status page');

# }}}
# {{{ the README says what each alert means and what to do

my ($section) = $readme =~ /^### Alerts\n(.*?)(?=^#{2,3} )/ms;

ok(defined $section, 'the README has an Alerts section');
$section //= '';

is_deeply([sort grep { $section !~ /`\Q$_\E`/ } keys %alert], [],
          'naming every alert');
like($section, qr/\]\(examples\/prometheus\/(?:README\.md)?\)/,
     'and linking examples/prometheus/');

# }}}

done_testing();
