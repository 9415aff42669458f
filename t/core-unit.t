# The core's unit tests, t/unit/test_fib_core.c (cmocka), run by prove
# as any other file here: cmocka writes TAP.  `make test` builds the
# program and names it in TEST_FIB_UNIT; run alone, this file builds it
# with the Makefile's own rule, so that its flags are written once.

use strict;
use warnings;

use File::Basename qw(dirname);
use Cwd qw(abs_path);

# the Makefile names its targets from its own, real directory
my $root = abs_path(dirname(__FILE__) . '/..');
my $unit = $ENV{TEST_FIB_UNIT};

if (!defined $unit || $unit eq '') {
    $unit = "$root/build/test_fib_core";

    if (system('make', '--no-print-directory', '-s', '-C', $root, $unit)
        != 0)
    {
        print "Bail out! cannot build $unit with make\n";
        exit 1;
    }
}

-x $unit or do { print "Bail out! $unit is not an executable\n"; exit 1 };

$ENV{CMOCKA_MESSAGE_OUTPUT} = 'TAP';

exec $unit or do { print "Bail out! cannot run $unit: $!\n"; exit 1 };
