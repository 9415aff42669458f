
/*
 * Copyright (C) ngx_http_fib_module authors
 *
 * The yardstick of the core's recursive algorithm: FibServ's naive
 * recursion as anyone would write it, in a file of its own so that
 * nothing around it changes how the compiler builds it.  make bench
 * compiles it with the module's flags and runs it beside the core.
 */


#include <stdint.h>

#include "plain.h"


/*
 * The one addition: the start of the function on a 64-byte line, as
 * the core's fib_rec() has.  Where the linker happens to put this loop
 * nest moves its speed by up to 10 % on its own (README, "Performance"),
 * which would be measured as a difference between the two.
 */

#if defined(__GNUC__)
__attribute__((aligned(64)))
#endif
uint64_t
plain_fib(unsigned n)
{
    if (n < 2) {
        return n;
    }

    return plain_fib(n - 1) + plain_fib(n - 2);
}
