
/*
 * Copyright (C) ngx_http_fib_module authors
 *
 * libFuzzer target: parse, then compute with the cheap algorithms for a
 * small n taken from the query, as the module would.  All algorithms must
 * agree, and the length must be the one announced before computing.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fib_core.h"


static void
run(fib_job_t *job, fib_algorithm_t algorithm, uint64_t n, char *out)
{
    fib_job_init(job, algorithm, n, out, 0, NULL);
    fib_job_run(job);

    if (job->rc != FIB_OK || job->len != fib_digits(n) + 1
        || out[job->len - 1] != '\n')
    {
        abort();
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char      *a, *b;
    uint64_t   n;
    fib_job_t  fast, other;

    if (fib_parse_query((const char *) data, size, &n) != FIB_OK) {
        return 0;
    }

    /* the estimate must never wrap, whatever n the query names */
    if (fib_cost_ns(FIB_RECURSIVE, n) < fib_cost_ns(FIB_RECURSIVE, n / 2)
        || fib_cost_ns(FIB_FAST, n) < fib_cost_ns(FIB_FAST, n / 2)
        || fib_cost_ns(FIB_ITERATIVE, n) < fib_cost_ns(FIB_ITERATIVE, n / 2))
    {
        abort();
    }

    n %= 5000;

    /* exactly the announced size: ASan sees any write past it */
    a = malloc(fib_out_size(n));
    b = malloc(fib_out_size(n));
    if (a == NULL || b == NULL) {
        abort();
    }

    run(&fast, FIB_FAST, n, a);

    run(&other, n <= 25 ? FIB_RECURSIVE : FIB_ITERATIVE, n, b);

    if (other.len != fast.len || memcmp(a, b, fast.len) != 0) {
        abort();
    }

    free(a);
    free(b);

    return 0;
}
