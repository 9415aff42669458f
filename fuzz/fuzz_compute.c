
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
run(fib_job_t *job, fib_algorithm_t algorithm, uint64_t n)
{
    memset(job, 0, sizeof(fib_job_t));
    atomic_init(&job->cancel, 0);
    job->algorithm = algorithm;
    job->num = n;

    fib_job_run(job);

    if (job->rc != FIB_OK || job->len != fib_digits(n) + 1
        || job->digits[job->len - 1] != '\n')
    {
        abort();
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t   n;
    fib_job_t  fast, other;

    if (fib_parse_query((const char *) data, size, &n) != FIB_OK) {
        return 0;
    }

    n %= 5000;

    run(&fast, FIB_FAST, n);

    run(&other, n <= 25 ? FIB_RECURSIVE : FIB_ITERATIVE, n);

    if (other.len != fast.len
        || memcmp(other.digits, fast.digits, fast.len) != 0)
    {
        abort();
    }

    fib_job_free(&fast);
    fib_job_free(&other);

    return 0;
}
