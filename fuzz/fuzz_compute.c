/*
 * Copyright (C) ngx_http_fib_module authors
 *
 * libFuzzer target: parse, then compute as the module would.  For a
 * small n taken from the query, all algorithms must agree; for an n up
 * to 10^6, fast (binary or decimal, as fib_job_run() picks) and the
 * decimal engine alone must both be byte-identical to GMP's
 * mpz_fib_ui() + mpz_get_str(), and so must fast driven step by step
 * (fib_fast_piece()) with a threshold and an order of the pieces taken
 * from n; the largest products are split in three from a number of
 * limbs taken from n too (fib_mul_split, a hook of the test build).
 * Lengths must be the ones announced before computing.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gmp.h>

#include "fib_core.h"


#if !(FIB_TEST_HOOKS)
#error "the target needs the core built with -DFIB_TEST_HOOKS=1"
#endif


/* the decimal engine's n: far enough for several steps of FFT squares */
#define FUZZ_DECIMAL_MAX  1000000


static void
run(fib_job_t *job, fib_algorithm_t algorithm, uint64_t n, char *out,
    void (*runner)(fib_job_t *job))
{
    fib_job_init(job, algorithm, n, out, 0, NULL);
    runner(job);

    if (job->rc != FIB_OK || job->len != fib_digits(n) + 1
        || out[job->len - 1] != '\n')
    {
        abort();
    }
}


/*
 * fast step by step, every step at or above "min" limbs split, the
 * pieces of each step from the last when "reverse"
 */

static void
split(fib_job_t *job, uint64_t n, char *out, size_t min, int reverse)
{
    unsigned     i, pieces;
    fib_fast_t  *fast;

    fast = malloc(fib_fast_size());
    if (fast == NULL) {
        abort();
    }

    fib_job_init(job, FIB_FAST, n, out, 0, NULL);

    for (pieces = fib_fast_init(fast, job, min);
         pieces != 0;
         pieces = fib_fast_next(fast))
    {
        if (pieces > FIB_FAST_PIECES) {
            abort();
        }

        for (i = 0; i < pieces; i++) {
            if (fib_fast_piece(fast, reverse ? pieces - 1 - i : i)
                != FIB_OK)
            {
                abort();
            }
        }
    }

    free(fast);

    if (job->rc != FIB_OK || job->len != fib_digits(n) + 1
        || out[job->len - 1] != '\n')
    {
        abort();
    }
}


/* fast three ways against GMP's own F(n) */

static void
against_gmp(uint64_t n)
{
    char       *want, *a, *b, *c;
    mpz_t       z;
    size_t      len, threshold;
    fib_job_t   job;

    threshold = fib_mul_split;

    mpz_init(z);
    mpz_fib_ui(z, (unsigned long) n);
    want = mpz_get_str(NULL, 10, z);
    mpz_clear(z);

    len = strlen(want);

    /* exactly the announced size: ASan sees any write past it */
    a = malloc(fib_out_size(n));
    b = malloc(fib_out_size(n));
    c = malloc(fib_out_size(n));
    if (a == NULL || b == NULL || c == NULL || fib_out_size(n) != len + 2) {
        abort();
    }

    run(&job, FIB_FAST, n, a, fib_job_run);

    /* products split in three from 2 limbs to beyond F(n)'s, by n */
    fib_mul_split = (size_t) 2 << (n >> 3) % 14;

    run(&job, FIB_FAST, n, b, fib_fast_decimal);

    /* a threshold from 1 limb to beyond F(n)'s, from n's high bits */
    split(&job, n, c, (size_t) 1 << (n >> 7) % 16, (int) (n >> 6) & 1);

    fib_mul_split = threshold;

    if (memcmp(a, want, len) != 0 || memcmp(b, want, len) != 0
        || memcmp(c, want, len) != 0)
    {
        abort();
    }

    free(a);
    free(b);
    free(c);
    free(want);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char      *a, *b;
    uint64_t   n, small;
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

    small = n % 5000;

    a = malloc(fib_out_size(small));
    b = malloc(fib_out_size(small));
    if (a == NULL || b == NULL) {
        abort();
    }

    run(&fast, FIB_FAST, small, a, fib_job_run);

    run(&other, small <= 25 ? FIB_RECURSIVE : FIB_ITERATIVE, small, b,
        fib_job_run);

    if (other.len != fast.len || memcmp(a, b, fast.len) != 0) {
        abort();
    }

    free(a);
    free(b);

    against_gmp(small);
    against_gmp(n % (FUZZ_DECIMAL_MAX + 1));

    return 0;
}
