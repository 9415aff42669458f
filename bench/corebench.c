
/*
 * Copyright (C) ngx_http_fib_module authors
 *
 * Timing of the core, the baselines of the benchmark:
 *
 *   corebench ALGORITHM N RUNS   the median nanoseconds of one computation
 *                                (decimal conversion included), as the
 *                                module runs it
 *   corebench compare N RUNS     the core's recursive F(N) and the plain
 *                                recursion of plain.c, alternately: both
 *                                medians and their ratio
 *   corebench plain THREADS N SECONDS
 *                                the plain recursion's F(N) on THREADS
 *                                threads at once: computations per second
 *   corebench decimal N ROUNDS   the decimal conversion of F(N) alone,
 *                                split into pieces as the module makes it
 *                                and as one mpz_get_str(), alternating:
 *                                both medians and the rounds' median ratio
 *   corebench fast-vs-gmp ROUNDS [N ...]
 *                                F(N) (default 10^4 to 10^8) three ways,
 *                                alternating, on one thread: GMP alone
 *                                (mpz_fib_ui() + mpz_get_str()), fast as
 *                                the module runs it (fib_job_run()), and
 *                                fast's binary path (mpz_fib_ui() and the
 *                                split conversion); the minimum of ROUNDS
 *                                and the ratios gmp / fast, binary / fast
 *   corebench split ROUNDS [N ...]
 *                                F(N) (default 10^6, 10^7, 10^8) three
 *                                ways, alternating: GMP alone on one
 *                                thread, fast on one thread
 *                                (fib_job_run()), and fast driven step by
 *                                step with the pieces of each step on a
 *                                pool of two threads (pthreads standing
 *                                in for nginx's: the main thread posts
 *                                the pieces and waits for their
 *                                completions, as the event loop does);
 *                                the minimum of ROUNDS and the ratios
 *   corebench split-min N ROUNDS MIN ...
 *                                F(N) on the two-thread pool with each
 *                                split_min (limbs of 10^16; 0: never
 *                                split), alternating: where splitting
 *                                starts to pay
 *   corebench steps N ROUNDS     F(N) step by step on this thread, every
 *                                step split: for each step of two pieces,
 *                                the limbs of its factors and the minimum
 *                                of ROUNDS of each piece's time, and of
 *                                the one-piece step after it; and the
 *                                pool's own cost, posting an empty piece
 *                                and seeing it done: a step pays to split
 *                                where its shorter piece exceeds that
 *                                cost three times (two posts and the
 *                                step after)
 *   corebench path N ROUNDS      F(N) step by step on this thread with
 *                                FIB_FAST_SPLIT_MIN, each piece timed in
 *                                the thread's CPU time: the sum of all
 *                                pieces (one thread) and the sum of each
 *                                step's longest piece (two threads with
 *                                two free cores), and GMP's
 *                                mpz_fib_ui() + mpz_get_str() likewise,
 *                                in turn, minimum of ROUNDS: what two
 *                                threads can reach, whatever else the
 *                                machine runs (its load still slows all
 *                                three: caches, memory)
 */


#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gmp.h>

#include "fib_core.h"
#include "plain.h"


/* a pool of threads and its queue: nginx's thread pool, in small */

typedef struct {
    pthread_mutex_t   mutex;
    pthread_cond_t    posted;
    pthread_cond_t    done;
    fib_fast_t       *fast;
    unsigned          queued;     /* pieces posted, not yet taken */
    unsigned          next;       /* the next piece to take */
    unsigned          running;    /* pieces taken, not yet done */
    int               exit;
    pthread_t         thread[2];
} pool_t;


typedef struct {
    pthread_t   thread;
    unsigned    n;
    uint64_t    end_ns;
    uint64_t    done;
    uint64_t    elapsed_ns;
} plain_thread_t;


static int compare(unsigned n, int runs);
static int fast_vs_gmp(int rounds, int argc, char **argv);
static int gmp_once(uint64_t n);
static uint64_t fast_vs_gmp_run(int way, uint64_t n, char *out, mpz_t z,
    int reps);
static int split(int rounds, int argc, char **argv);
static int split_min(uint64_t n, int rounds, int argc, char **argv);
static int steps(uint64_t n, int rounds);
static int path(uint64_t n, int rounds);
static uint64_t split_run(pool_t *pool, uint64_t n, char *out,
    size_t min);
static int pool_start(pool_t *pool);
static void pool_stop(pool_t *pool);
static void *pool_thread(void *data);
static int plain_threads(int threads, unsigned n, double seconds);
static void *plain_thread(void *data);


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

    if (argc == 4 && strcmp(argv[1], "compare") == 0) {
        return compare(atoi(argv[2]), atoi(argv[3]));
    }

    if (argc == 5 && strcmp(argv[1], "plain") == 0) {
        return plain_threads(atoi(argv[2]), atoi(argv[3]), atof(argv[4]));
    }

    if (argc >= 3 && strcmp(argv[1], "fast-vs-gmp") == 0) {
        runs = atoi(argv[2]);
        return fast_vs_gmp(runs < 1 ? 1 : runs, argc - 3, argv + 3);
    }

    if (argc >= 3 && strcmp(argv[1], "split") == 0) {
        runs = atoi(argv[2]);
        return split(runs < 1 ? 1 : runs, argc - 3, argv + 3);
    }

    if (argc >= 5 && strcmp(argv[1], "split-min") == 0) {
        runs = atoi(argv[3]);
        return split_min(strtoull(argv[2], NULL, 10), runs < 1 ? 1 : runs,
                         argc - 4, argv + 4);
    }

    if (argc == 4 && strcmp(argv[1], "path") == 0) {
        runs = atoi(argv[3]);
        return path(strtoull(argv[2], NULL, 10), runs < 1 ? 1 : runs);
    }

    if (argc == 4 && strcmp(argv[1], "steps") == 0) {
        runs = atoi(argv[3]);
        return steps(strtoull(argv[2], NULL, 10), runs < 1 ? 1 : runs);
    }

    if (argc == 3 && strcmp(argv[1], "gmp") == 0) {
        return gmp_once(strtoull(argv[2], NULL, 10));
    }

    if (argc == 4 && strcmp(argv[1], "decimal") == 0) {
        runs = atoi(argv[3]);
        return decimal(strtoull(argv[2], NULL, 10), runs < 1 ? 1 : runs);
    }

    if (argc != 4
        || fib_algorithm_by_name(argv[1], strlen(argv[1]), &algorithm) != 0)
    {
        fprintf(stderr, "usage: corebench recursive|iterative|fast N RUNS\n"
                        "       corebench compare N RUNS\n"
                        "       corebench plain THREADS N SECONDS\n"
                        "       corebench decimal N ROUNDS\n"
                        "       corebench fast-vs-gmp ROUNDS [N ...]\n"
                        "       corebench gmp N\n"
                        "       corebench split ROUNDS [N ...]\n"
                        "       corebench split-min N ROUNDS MIN ...\n"
                        "       corebench steps N ROUNDS\n"
                        "       corebench path N ROUNDS\n");
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


/*
 * One computation of each in turn: whatever else runs on the machine
 * slows both alike, so their ratio moves less than either median.
 */

static int
compare(unsigned n, int runs)
{
    int                i;
    char              *out;
    uint64_t          *core, *plain, start, sum;
    fib_job_t          job;
    volatile uint64_t  v;

    if (runs < 1 || n > FIB_RECURSIVE_MAX) {
        return 2;
    }

    core = calloc(runs, sizeof(uint64_t));
    plain = calloc(runs, sizeof(uint64_t));
    out = malloc(fib_out_size(n));
    if (core == NULL || plain == NULL || out == NULL) {
        return 1;
    }

    sum = 0;

    for (i = 0; i < runs; i++) {
        fib_job_init(&job, FIB_RECURSIVE, n, out, 0, NULL);
        fib_job_run(&job);

        if (job.rc != FIB_OK) {
            fprintf(stderr, "corebench: %s\n", fib_strerror(job.rc));
            return 1;
        }

        core[i] = job.compute_ns;

        start = fib_now_ns();
        v = plain_fib(n);
        plain[i] = fib_now_ns() - start;

        sum += v;
    }

    if (sum != strtoull(out, NULL, 10) * runs) {
        fprintf(stderr, "corebench: the two disagree\n");
        return 1;
    }

    qsort(core, runs, sizeof(uint64_t), cmp);
    qsort(plain, runs, sizeof(uint64_t), cmp);

    printf("%llu %llu %.4f\n", (unsigned long long) core[runs / 2],
           (unsigned long long) plain[runs / 2],
           (double) core[runs / 2] / plain[runs / 2]);

    free(core);
    free(plain);
    free(out);

    return 0;
}


/* the machine's limit for the module's heavy requests, the same work */

static int
plain_threads(int threads, unsigned n, double seconds)
{
    int              i;
    double           rate;
    uint64_t         end;
    plain_thread_t  *t;

    if (threads < 1 || n > FIB_RECURSIVE_MAX || seconds <= 0) {
        return 2;
    }

    t = calloc(threads, sizeof(plain_thread_t));
    if (t == NULL) {
        return 1;
    }

    end = fib_now_ns() + (uint64_t) (seconds * 1e9);

    for (i = 0; i < threads; i++) {
        t[i].n = n;
        t[i].end_ns = end;

        if (pthread_create(&t[i].thread, NULL, plain_thread, &t[i]) != 0) {
            return 1;
        }
    }

    rate = 0;

    for (i = 0; i < threads; i++) {
        pthread_join(t[i].thread, NULL);

        if (t[i].elapsed_ns > 0) {
            rate += t[i].done * 1e9 / t[i].elapsed_ns;
        }
    }

    printf("%.1f\n", rate);

    free(t);

    return 0;
}


/* counts whole computations only, up to the end of the last one */

static void *
plain_thread(void *data)
{
    uint64_t           start, now;
    plain_thread_t    *t;
    volatile uint64_t  v;

    t = data;
    start = fib_now_ns();
    now = start;

    while (now < t->end_ns) {
        v = plain_fib(t->n);
        (void) v;

        now = fib_now_ns();
        t->done++;
    }

    t->elapsed_ns = now - start;

    return NULL;
}


/*
 * Each round runs the three ways in turn, starting with a different one
 * each time, so that whatever else the machine does slows them alike;
 * the minimum of the rounds is each way's time with the least
 * interference.  Small n repeat within a measurement, up to about 50 ms.
 */

static int
fast_vs_gmp(int rounds, int argc, char **argv)
{
    int        i, r, w, way, reps, count;
    char      *out[3];
    mpz_t      z;
    uint64_t   n, t, best[3];

    static const uint64_t  decades[] = {
        10000, 100000, 1000000, 10000000, 100000000
    };

    count = argc > 0 ? argc : (int) (sizeof(decades) / sizeof(decades[0]));

    mpz_init(z);

    printf("%10s %12s %12s %12s %9s %9s\n", "n", "gmp_ns", "fast_ns",
           "binary_ns", "gmp/fast", "bin/fast");

    for (i = 0; i < count; i++) {
        n = argc > 0 ? strtoull(argv[i], NULL, 10) : decades[i];

        if (n > FIB_BIG_MAX) {
            return 2;
        }

        for (w = 0; w < 3; w++) {
            out[w] = malloc(fib_out_size(n));
            if (out[w] == NULL) {
                return 1;
            }

            best[w] = UINT64_MAX;
        }

        /* as many repetitions as make GMP's way last 50 ms */

        t = fast_vs_gmp_run(0, n, out[0], z, 1);
        reps = t < 50000000 ? (int) (50000000 / (t + 1)) + 1 : 1;

        for (r = 0; r < rounds; r++) {
            for (w = 0; w < 3; w++) {
                way = (r + w) % 3;

                t = fast_vs_gmp_run(way, n, out[way], z, reps);
                if (t == 0) {
                    return 1;
                }

                if (t < best[way]) {
                    best[way] = t;
                }
            }
        }

        if (memcmp(out[0], out[1], fib_digits(n)) != 0
            || memcmp(out[0], out[2], fib_digits(n)) != 0)
        {
            fprintf(stderr, "corebench: F(%llu) differs\n",
                    (unsigned long long) n);
            return 1;
        }

        printf("%10llu %12llu %12llu %12llu %9.2f %9.2f\n",
               (unsigned long long) n,
               (unsigned long long) best[0] / reps,
               (unsigned long long) best[1] / reps,
               (unsigned long long) best[2] / reps,
               (double) best[0] / best[1], (double) best[2] / best[1]);
        fflush(stdout);

        for (w = 0; w < 3; w++) {
            free(out[w]);
        }
    }

    mpz_clear(z);

    return 0;
}


/*
 * GMP's F(n) in decimal once, mpz_fib_ui() and mpz_get_str() on one
 * thread, in ns: the baseline that make bench alternates with requests
 * to nginx, in its own process each time as a request is.
 */

static int
gmp_once(uint64_t n)
{
    char      *out;
    mpz_t      z;
    uint64_t   t;

    if (n > FIB_BIG_MAX) {
        return 2;
    }

    out = malloc(fib_out_size(n));
    if (out == NULL) {
        return 1;
    }

    mpz_init(z);

    t = fast_vs_gmp_run(0, n, out, z, 1);

    printf("%llu\n", (unsigned long long) t);

    mpz_clear(z);
    free(out);

    return 0;
}


/* nanoseconds of reps computations one way: 0 gmp, 1 fast, 2 binary */

static uint64_t
fast_vs_gmp_run(int way, uint64_t n, char *out, mpz_t z, int reps)
{
    int        i;
    uint64_t   start;
    fib_job_t  job;

    start = fib_now_ns();

    for (i = 0; i < reps; i++) {
        if (way == 0) {
            mpz_fib_ui(z, (unsigned long) n);
            mpz_get_str(out, 10, z);
            continue;
        }

        fib_job_init(&job, FIB_FAST, n, out, 0, NULL);

        if (way == 1) {
            fib_job_run(&job);

        } else {
            fib_fast_binary(&job);
        }

        if (job.rc != FIB_OK) {
            fprintf(stderr, "corebench: %s\n", fib_strerror(job.rc));
            return 0;
        }
    }

    return fib_now_ns() - start;
}


/*
 * GMP on one thread, fast on one thread, fast on two: each round runs
 * the three in turn, from a different one each time; the minimum of the
 * rounds, and the ratios.
 */

static int
split(int rounds, int argc, char **argv)
{
    int        i, r, w, way, count;
    char      *out[3];
    mpz_t      z;
    pool_t     pool;
    uint64_t   n, t, start, best[3];
    fib_job_t  job;

    static const uint64_t  decades[] = { 1000000, 10000000, 100000000 };

    count = argc > 0 ? argc : (int) (sizeof(decades) / sizeof(decades[0]));

    if (pool_start(&pool) != 0) {
        return 1;
    }

    mpz_init(z);

    printf("%10s %12s %12s %12s %9s %9s %9s\n", "n", "gmp_ns", "one_ns",
           "two_ns", "gmp/one", "gmp/two", "one/two");

    for (i = 0; i < count; i++) {
        n = argc > 0 ? strtoull(argv[i], NULL, 10) : decades[i];

        if (n > FIB_BIG_MAX) {
            return 2;
        }

        for (w = 0; w < 3; w++) {
            out[w] = malloc(fib_out_size(n));
            if (out[w] == NULL) {
                return 1;
            }

            best[w] = UINT64_MAX;
        }

        for (r = 0; r < rounds; r++) {
            for (w = 0; w < 3; w++) {
                way = (r + w) % 3;

                start = fib_now_ns();

                if (way == 0) {
                    mpz_fib_ui(z, (unsigned long) n);
                    mpz_get_str(out[0], 10, z);
                    t = fib_now_ns() - start;

                } else if (way == 1) {
                    fib_job_init(&job, FIB_FAST, n, out[1], 0, NULL);
                    fib_job_run(&job);

                    if (job.rc != FIB_OK) {
                        fprintf(stderr, "corebench: %s\n",
                                fib_strerror(job.rc));
                        return 1;
                    }

                    t = fib_now_ns() - start;

                } else {
                    t = split_run(&pool, n, out[2], FIB_FAST_SPLIT_MIN);
                    if (t == 0) {
                        return 1;
                    }
                }

                if (t < best[way]) {
                    best[way] = t;
                }
            }
        }

        if (memcmp(out[0], out[1], fib_digits(n)) != 0
            || memcmp(out[0], out[2], fib_digits(n)) != 0)
        {
            fprintf(stderr, "corebench: F(%llu) differs\n",
                    (unsigned long long) n);
            return 1;
        }

        printf("%10llu %12llu %12llu %12llu %9.2f %9.2f %9.2f\n",
               (unsigned long long) n, (unsigned long long) best[0],
               (unsigned long long) best[1], (unsigned long long) best[2],
               (double) best[0] / best[1], (double) best[0] / best[2],
               (double) best[1] / best[2]);
        fflush(stdout);

        for (w = 0; w < 3; w++) {
            free(out[w]);
        }
    }

    mpz_clear(z);
    pool_stop(&pool);

    return 0;
}


/* F(n) on the pool with each split_min in turn: the minimum of rounds */

static int
split_min(uint64_t n, int rounds, int argc, char **argv)
{
    int        i, r, w;
    char      *out;
    pool_t     pool;
    size_t     min;
    uint64_t   t, *best;

    if (n > FIB_BIG_MAX || argc < 1) {
        return 2;
    }

    out = malloc(fib_out_size(n));
    best = calloc(argc, sizeof(uint64_t));
    if (out == NULL || best == NULL || pool_start(&pool) != 0) {
        return 1;
    }

    for (i = 0; i < argc; i++) {
        best[i] = UINT64_MAX;
    }

    for (r = 0; r < rounds; r++) {
        for (w = 0; w < argc; w++) {
            i = (r + w) % argc;
            min = strtoull(argv[i], NULL, 10);

            t = split_run(&pool, n, out,
                          min == 0 ? FIB_FAST_SPLIT_NEVER : min);
            if (t == 0) {
                return 1;
            }

            if (t < best[i]) {
                best[i] = t;
            }
        }
    }

    printf("%10s %12s %9s\n", "split_min", "ns", "vs_first");

    for (i = 0; i < argc; i++) {
        printf("%10s %12llu %9.3f\n", argv[i], (unsigned long long) best[i],
               (double) best[i] / best[0]);
    }

    pool_stop(&pool);
    free(best);
    free(out);

    return 0;
}


/*
 * One F(n) as the module drives it: the main thread posts each step's
 * pieces to the pool and sleeps until all of them completed, then calls
 * fib_fast_next(); the nanoseconds it took, or 0 on an error.
 */

static uint64_t
split_run(pool_t *pool, uint64_t n, char *out, size_t min)
{
    unsigned    pieces;
    uint64_t    start;
    fib_job_t   job;
    fib_fast_t *fast;

    fast = malloc(fib_fast_size());
    if (fast == NULL) {
        return 0;
    }

    start = fib_now_ns();

    fib_job_init(&job, FIB_FAST, n, out, 0, NULL);

    for (pieces = fib_fast_init(fast, &job, min);
         pieces != 0;
         pieces = fib_fast_next(fast))
    {
        pthread_mutex_lock(&pool->mutex);

        pool->fast = fast;
        pool->next = 0;
        pool->queued = pieces;
        pthread_cond_broadcast(&pool->posted);

        while (pool->queued != 0 || pool->running != 0) {
            pthread_cond_wait(&pool->done, &pool->mutex);
        }

        pthread_mutex_unlock(&pool->mutex);
    }

    start = fib_now_ns() - start;

    free(fast);

    if (job.rc != FIB_OK || job.len != fib_digits(n) + 1) {
        fprintf(stderr, "corebench: %s\n", fib_strerror(job.rc));
        return 0;
    }

    return start;
}


static int
pool_start(pool_t *pool)
{
    int  i;

    memset(pool, 0, sizeof(pool_t));

    if (pthread_mutex_init(&pool->mutex, NULL) != 0
        || pthread_cond_init(&pool->posted, NULL) != 0
        || pthread_cond_init(&pool->done, NULL) != 0)
    {
        return -1;
    }

    for (i = 0; i < 2; i++) {
        if (pthread_create(&pool->thread[i], NULL, pool_thread, pool) != 0)
        {
            return -1;
        }
    }

    return 0;
}


static void
pool_stop(pool_t *pool)
{
    int  i;

    pthread_mutex_lock(&pool->mutex);
    pool->exit = 1;
    pthread_cond_broadcast(&pool->posted);
    pthread_mutex_unlock(&pool->mutex);

    for (i = 0; i < 2; i++) {
        pthread_join(pool->thread[i], NULL);
    }

    pthread_mutex_destroy(&pool->mutex);
    pthread_cond_destroy(&pool->posted);
    pthread_cond_destroy(&pool->done);
}


/* takes pieces as they are posted, runs each outside the lock */

static void *
pool_thread(void *data)
{
    pool_t      *pool;
    unsigned     i;
    fib_fast_t  *fast;

    pool = data;

    pthread_mutex_lock(&pool->mutex);

    for ( ;; ) {
        while (pool->queued == 0 && !pool->exit) {
            pthread_cond_wait(&pool->posted, &pool->mutex);
        }

        if (pool->exit) {
            break;
        }

        fast = pool->fast;
        i = pool->next++;
        pool->queued--;
        pool->running++;

        pthread_mutex_unlock(&pool->mutex);

        if (fast != NULL) {
            fib_fast_piece(fast, i);
        }

        pthread_mutex_lock(&pool->mutex);

        if (--pool->running == 0 && pool->queued == 0) {
            pthread_cond_signal(&pool->done);
        }
    }

    pthread_mutex_unlock(&pool->mutex);

    return NULL;
}


#define STEPS_MAX  64


static int
steps(uint64_t n, int rounds)
{
    int          r, bits, shift, step, count;
    char        *out;
    pool_t       pool;
    unsigned     i, pieces;
    uint64_t     t, k, best[STEPS_MAX][3], lat;
    fib_job_t    job;
    fib_fast_t  *fast;

    out = malloc(fib_out_size(n));
    fast = malloc(fib_fast_size());
    if (out == NULL || fast == NULL || n > FIB_BIG_MAX) {
        return 1;
    }

    for (bits = 0; (n >> bits) != 0; bits++) { /* void */ }

    memset(best, 0xff, sizeof(best));
    count = 0;

    for (r = 0; r < rounds; r++) {
        fib_job_init(&job, FIB_FAST, n, out, 0, NULL);
        step = -1;

        for (pieces = fib_fast_init(fast, &job, 1);
             pieces != 0;
             pieces = fib_fast_next(fast))
        {
            if (pieces == 2) {
                step++;
            }

            for (i = 0; i < pieces; i++) {
                t = fib_now_ns();
                fib_fast_piece(fast, i);
                t = fib_now_ns() - t;

                if (step >= 0 && step < STEPS_MAX) {
                    i = pieces == 1 ? 2 : i;
                    if (t < best[step][i]) {
                        best[step][i] = t;
                    }
                }
            }
        }

        if (job.rc != FIB_OK) {
            return 1;
        }

        count = step + 1;
    }

    /* the pool's round trip: one empty piece posted, done, seen */

    if (pool_start(&pool) != 0) {
        return 1;
    }

    lat = UINT64_MAX;

    for (r = 0; r < 1000; r++) {
        t = fib_now_ns();

        pthread_mutex_lock(&pool.mutex);
        pool.fast = NULL;
        pool.next = 0;
        pool.queued = 1;
        pthread_cond_broadcast(&pool.posted);

        while (pool.queued != 0 || pool.running != 0) {
            pthread_cond_wait(&pool.done, &pool.mutex);
        }

        pthread_mutex_unlock(&pool.mutex);

        t = fib_now_ns() - t;
        lat = t < lat ? t : lat;
    }

    pool_stop(&pool);

    printf("pool round trip %llu ns\n", (unsigned long long) lat);
    printf("%6s %10s %10s %12s %12s %12s %12s\n", "step", "k", "limbs",
           "piece0_ns", "piece1_ns", "after_ns", "saved_ns");

    /* the steps of two pieces: squares of F(n >> shift), then x y */

    shift = bits - 12;

    for (step = 0; step < count && step < STEPS_MAX; step++) {
        k = step == count - 1 ? n >> 1 : n >> (shift - step);

        printf("%6d %10llu %10zu %12llu %12llu %12llu %12lld\n", step,
               (unsigned long long) k, fib_digits(k) / 16 + 1,
               (unsigned long long) best[step][0],
               (unsigned long long) best[step][1],
               (unsigned long long) best[step][2],
               (long long) (best[step][0] < best[step][1] ? best[step][0]
                                                          : best[step][1])
               - 3 * (long long) lat);
    }

    free(fast);
    free(out);

    return 0;
}


static uint64_t
cpu_ns(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);

    return (uint64_t) ts.tv_sec * 1000000000 + (uint64_t) ts.tv_nsec;
}


static int
path(uint64_t n, int rounds)
{
    int          r;
    char        *out;
    unsigned     i, pieces, split;
    mpz_t        z;
    uint64_t     t, longest, one, two, best_one, best_two, best_gmp;
    fib_job_t    job;
    fib_fast_t  *fast;

    out = malloc(fib_out_size(n));
    fast = malloc(fib_fast_size());
    if (out == NULL || fast == NULL || n > FIB_BIG_MAX) {
        return 1;
    }

    best_one = UINT64_MAX;
    best_two = UINT64_MAX;
    best_gmp = UINT64_MAX;
    split = 0;

    mpz_init(z);

    for (r = 0; r < rounds; r++) {
        t = cpu_ns();
        mpz_fib_ui(z, (unsigned long) n);
        mpz_get_str(out, 10, z);
        t = cpu_ns() - t;

        best_gmp = t < best_gmp ? t : best_gmp;

        fib_job_init(&job, FIB_FAST, n, out, 0, NULL);

        one = 0;
        two = 0;
        split = 0;

        for (pieces = fib_fast_init(fast, &job, FIB_FAST_SPLIT_MIN);
             pieces != 0;
             pieces = fib_fast_next(fast))
        {
            longest = 0;

            for (i = 0; i < pieces; i++) {
                t = cpu_ns();
                fib_fast_piece(fast, i);
                t = cpu_ns() - t;

                one += t;
                longest = t > longest ? t : longest;
            }

            two += longest;
            split += pieces > 1;
        }

        if (job.rc != FIB_OK) {
            return 1;
        }

        best_one = one < best_one ? one : best_one;
        best_two = two < best_two ? two : best_two;
    }

    mpz_clear(z);

    printf("%10s %6s %12s %12s %12s %8s %8s %8s\n", "n", "splits",
           "gmp_cpu_ns", "one_cpu_ns", "two_path_ns", "gmp/one", "gmp/two",
           "one/two");
    printf("%10llu %6u %12llu %12llu %12llu %8.2f %8.2f %8.2f\n",
           (unsigned long long) n, split, (unsigned long long) best_gmp,
           (unsigned long long) best_one, (unsigned long long) best_two,
           (double) best_gmp / best_one, (double) best_gmp / best_two,
           (double) best_one / best_two);

    free(fast);
    free(out);

    return 0;
}
