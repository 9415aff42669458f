
/*
 * Copyright (C) ngx_http_fib_module authors
 *
 * Single-thread timing of the core, the baseline of the benchmark:
 * corebench ALGORITHM N RUNS prints the median nanoseconds of one
 * computation (decimal conversion included), as the module runs it.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fib_core.h"


static int
cmp(const void *a, const void *b)
{
    uint64_t  x = *(const uint64_t *) a, y = *(const uint64_t *) b;

    return (x > y) - (x < y);
}


int
main(int argc, char **argv)
{
    int               i, runs;
    char             *out;
    uint64_t         *ns, n;
    fib_job_t         job;
    fib_algorithm_t   algorithm;

    if (argc != 4
        || fib_algorithm_by_name(argv[1], strlen(argv[1]), &algorithm) != 0)
    {
        fprintf(stderr, "usage: corebench recursive|iterative|fast N RUNS\n");
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
        fib_job_init(&job, algorithm, n, out);
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
