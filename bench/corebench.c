
/*
 * Copyright (C) ngx_http_fib_module authors
 *
 * Single-thread timing of the core, the baseline of the benchmark:
 * corebench ALGORITHM N RUNS prints the median nanoseconds of one
 * computation (decimal conversion included), as the module runs it.
 *
 * corebench decimal N ROUNDS times the decimal conversion of F(N) alone,
 * split into pieces as the module makes it and as one mpz_get_str(), in
 * alternating rounds (the order swapped each round): it prints the
 * median nanoseconds of each and the median of the rounds' ratios.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gmp.h>

#include "fib_core.h"


static int
cmp(const void *a, const void *b)
{
    uint64_t  x = *(const uint64_t *) a, y = *(const uint64_t *) b;

    return (x > y) - (x < y);
}


static double
median(double *v, int n)
{
    int     i, j;
    double  t;

    for (i = 1; i < n; i++) {
        for (j = i; j > 0 && v[j - 1] > v[j]; j--) {
            t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    }

    return v[n / 2];
}


static int
decimal(uint64_t n, int rounds)
{
    int        i, k;
    char      *split, *plain;
    mpz_t      f, x;
    double    *ts, *tp, *ratio;
    size_t     digits;
    uint64_t   t0, t1;
    fib_job_t  job;

    digits = fib_digits(n);

    split = malloc(digits + 2);
    plain = malloc(digits + 2);
    ts = calloc(rounds, sizeof(double));
    tp = calloc(rounds, sizeof(double));
    ratio = calloc(rounds, sizeof(double));

    if (split == NULL || plain == NULL || ts == NULL || tp == NULL
        || ratio == NULL)
    {
        return 1;
    }

    mpz_init(f);
    mpz_init(x);
    mpz_fib_ui(f, (unsigned long) n);

    for (i = 0; i < rounds; i++) {
        for (k = 0; k < 2; k++) {
            mpz_set(x, f);

            if ((i + k) % 2 == 0) {
                fib_job_init(&job, FIB_FAST, n, split, 0, NULL);

                t0 = fib_now_ns();
                if (fib_decimal_split(&job, split, digits, x, 0) != 0) {
                    fprintf(stderr, "corebench: %s\n",
                            fib_strerror(job.rc));
                    return 1;
                }
                t1 = fib_now_ns();

                ts[i] = (double) (t1 - t0);

            } else {
                t0 = fib_now_ns();
                mpz_get_str(plain, 10, x);
                t1 = fib_now_ns();

                tp[i] = (double) (t1 - t0);
            }
        }

        if (memcmp(split, plain, digits) != 0) {
            fprintf(stderr, "corebench: the conversions differ\n");
            return 1;
        }

        ratio[i] = ts[i] / tp[i];
    }

    printf("%.0f %.0f %.4f\n", median(ts, rounds), median(tp, rounds),
           median(ratio, rounds));

    mpz_clear(f);
    mpz_clear(x);
    free(split);
    free(plain);
    free(ts);
    free(tp);
    free(ratio);

    return 0;
}


int
main(int argc, char **argv)
{
    int               i, runs;
    char             *out;
    uint64_t         *ns, n;
    fib_job_t         job;
    fib_algorithm_t   algorithm;

    if (argc == 4 && strcmp(argv[1], "decimal") == 0) {
        runs = atoi(argv[3]);
        return decimal(strtoull(argv[2], NULL, 10), runs < 1 ? 1 : runs);
    }

    if (argc != 4
        || fib_algorithm_by_name(argv[1], strlen(argv[1]), &algorithm) != 0)
    {
        fprintf(stderr, "usage: corebench recursive|iterative|fast N RUNS\n"
                        "       corebench decimal N ROUNDS\n");
        return 2;
    }

    runs = atoi(argv[3]);
    if (runs < 1) {
        runs = 1;
    }

    n = strtoull(argv[2], NULL, 10);

    ns = calloc(runs, sizeof(uint64_t));
    out = malloc(fib_out_size(n));
    if (ns == NULL || out == NULL) {
        return 1;
    }

    for (i = 0; i < runs; i++) {
        fib_job_init(&job, algorithm, n, out, 0, NULL);
        fib_job_run(&job);

        if (job.rc != FIB_OK) {
            fprintf(stderr, "corebench: %s\n", fib_strerror(job.rc));
            return 1;
        }

        ns[i] = job.compute_ns;
    }

    qsort(ns, runs, sizeof(uint64_t), cmp);
    printf("%llu\n", (unsigned long long) ns[runs / 2]);

    free(ns);
    free(out);

    return 0;
}
