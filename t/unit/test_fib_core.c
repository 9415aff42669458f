
/*
 * Copyright (C) ngx_http_fib_module authors
 *
 * Unit tests of the nginx-free core, with cmocka.
 */


#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <time.h>

#include <cmocka.h>
#include <gmp.h>

#include "fib_core.h"


static char *
run(fib_algorithm_t algorithm, uint64_t n)
{
    char       *out;
    fib_job_t   job;

    out = malloc(fib_out_size(n));
    assert_non_null(out);

    fib_job_init(&job, algorithm, n, out, 0, NULL);
    fib_job_run(&job);

    assert_int_equal(job.rc, FIB_OK);
    assert_int_equal(job.len, fib_digits(n) + 1);
    assert_int_equal(out[job.len - 1], '\n');

    out[job.len - 1] = '\0';

    return out;
}


static void
expect_fib(fib_algorithm_t algorithm, uint64_t n, const char *want)
{
    char  *got;

    got = run(algorithm, n);
    assert_string_equal(got, want);
    free(got);
}


static void split_run(fib_job_t *job, size_t min, int reverse);


/* the same through the step API, every step split that can be */

static void
expect_fib_split(fib_algorithm_t algorithm, uint64_t n, const char *want)
{
    char       *out;
    fib_job_t   job;

    out = malloc(fib_out_size(n));
    assert_non_null(out);

    fib_job_init(&job, algorithm, n, out, 0, NULL);
    split_run(&job, 1, 0);

    assert_int_equal(job.rc, FIB_OK);
    assert_int_equal(job.len, strlen(want) + 1);
    assert_memory_equal(out, want, strlen(want));

    free(out);
}


static void
test_known_values(void **state)
{
    static const struct {
        uint64_t     n;
        const char  *v;
    } known[] = {
        { 0, "0" }, { 1, "1" }, { 2, "1" }, { 3, "2" }, { 10, "55" },
        { 20, "6765" }, { 42, "267914296" },
        { 93, "12200160415121876738" },
        { 94, "19740274219868223167" },
        { 100, "354224848179261915075" },
    };

    size_t  i;

    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (known[i].n <= 30) {
            expect_fib(FIB_RECURSIVE, known[i].n, known[i].v);
        }

        expect_fib(FIB_ITERATIVE, known[i].n, known[i].v);
        expect_fib(FIB_FAST, known[i].n, known[i].v);
    }
}


static void
test_f1000(void **state)
{
    char  *it, *fast;

    it = run(FIB_ITERATIVE, 1000);
    fast = run(FIB_FAST, 1000);

    assert_string_equal(it,
        "4346655768693745643568852767504062580256466051737178040248172908953"
        "6555417949051890403879840079255169295922593080322634775209689623239"
        "8733224711616429964409065331879382989696499285160037044761377951668"
        "49228875");
    assert_string_equal(it, fast);

    free(it);
    free(fast);
}


static void
test_recursive_top(void **state)
{
    char       out[32];
    fib_job_t  job;

    /* F(93) is the largest that fits in 64 bits */
    fib_job_init(&job, FIB_RECURSIVE, 94, out, 0, NULL);
    fib_job_run(&job);
    assert_int_equal(job.rc, FIB_ERR_TOO_BIG);
    assert_int_equal(fib_algorithm_max(FIB_RECURSIVE), 93);
    assert_int_equal(fib_algorithm_max(FIB_FAST), FIB_BIG_MAX);
}


/*
 * The call tree is FibServ's, 2 F(n+1) - 1 calls, on both sides of the
 * cut-off where the recursion starts polling: no memo, no loop, nothing
 * left out at the top.
 */

#if !(FIB_TEST_HOOKS)
#error "the unit tests need the core built with -DFIB_TEST_HOOKS=1"
#endif

static void
test_recursive_calls(void **state)
{
    char      *out;
    uint64_t   n, f, g, t;

    /* f = F(n), g = F(n + 1) */
    f = 0;
    g = 1;

    for (n = 0; n <= 35; n++) {
        fib_rec_calls = 0;

        out = run(FIB_RECURSIVE, n);

        assert_int_equal(strtoull(out, NULL, 10), f);
        assert_int_equal(fib_rec_calls, 2 * g - 1);

        free(out);

        t = f + g;
        f = g;
        g = t;
    }
}


static void
test_algorithms_agree(void **state)
{
    char      *a, *b, *c;
    uint64_t   n;

    for (n = 0; n <= 32; n++) {
        a = run(FIB_RECURSIVE, n);
        b = run(FIB_ITERATIVE, n);
        c = run(FIB_FAST, n);
        assert_string_equal(a, b);
        assert_string_equal(b, c);
        free(a);
        free(b);
        free(c);
    }

    for (n = 33; n <= 3000; n += 7) {
        b = run(FIB_ITERATIVE, n);
        c = run(FIB_FAST, n);
        assert_string_equal(b, c);
        free(b);
        free(c);
    }
}


static void
test_digits(void **state)
{
    char      *s;
    mpz_t      z;
    size_t     len;
    uint64_t   n;

    static const uint64_t  big[] = { 4781, 4782, 9999, 10000, 100000,
                                     123456, 999999, 1000000, 2000000 };

    for (n = 0; n <= 20000; n++) {
        mpz_init(z);
        mpz_fib_ui(z, n);
        s = mpz_get_str(NULL, 10, z);
        assert_int_equal(fib_digits(n), strlen(s));
        free(s);
        mpz_clear(z);
    }

    for (n = 0; n < sizeof(big) / sizeof(big[0]); n++) {
        s = run(FIB_FAST, big[n]);
        len = strlen(s);
        assert_int_equal(fib_digits(big[n]), len);
        free(s);
    }

    /* F(4782) is the first with 1000 digits */
    assert_int_equal(fib_digits(4781), 999);
    assert_int_equal(fib_digits(4782), 1000);
}


static void
expect_parse(const char *query, fib_rc_t rc, uint64_t want)
{
    uint64_t  n;

    n = 12345;

    if (fib_parse_query(query, strlen(query), &n) != rc) {
        fail_msg("query \"%s\": expected rc %d, got %d", query, rc,
                 fib_parse_query(query, strlen(query), &n));
    }

    if (rc == FIB_OK && n != want) {
        fail_msg("query \"%s\": expected %llu, got %llu", query,
                 (unsigned long long) want, (unsigned long long) n);
    }
}


static void
test_parse_valid(void **state)
{
    expect_parse("num=10", FIB_OK, 10);
    expect_parse("num=0", FIB_OK, 0);
    expect_parse("num=007", FIB_OK, 7);
    expect_parse("num=%31%30", FIB_OK, 10);
    expect_parse("nu%6D=7", FIB_OK, 7);
    expect_parse("a=1&num=3&b=x", FIB_OK, 3);
    expect_parse("x=%zz&num=4", FIB_OK, 4);
    expect_parse("&&num=5&&", FIB_OK, 5);
    expect_parse("numx=1&num=6", FIB_OK, 6);
    expect_parse("Num=1&num=8", FIB_OK, 8);
    expect_parse("num=18446744073709551615", FIB_OK, UINT64_MAX);
    expect_parse("num=000000000000000000000000000042", FIB_OK, 42);
    expect_parse("other=%00&num=9", FIB_OK, 9);
}


static void
test_parse_errors(void **state)
{
    expect_parse("", FIB_ERR_MISSING, 0);
    expect_parse("n=1", FIB_ERR_MISSING, 0);
    expect_parse("Num=1", FIB_ERR_MISSING, 0);
    expect_parse("num%00=1", FIB_ERR_MISSING, 0);
    expect_parse("num", FIB_ERR_NO_VALUE, 0);
    expect_parse("num=", FIB_ERR_NO_VALUE, 0);
    expect_parse("a=1&num", FIB_ERR_NO_VALUE, 0);
    expect_parse("num=1&num=2", FIB_ERR_DUPLICATE, 0);
    expect_parse("num=1&num=1", FIB_ERR_DUPLICATE, 0);
    expect_parse("num&num=2", FIB_ERR_DUPLICATE, 0);
    expect_parse("num=-1", FIB_ERR_NOT_DIGITS, 0);
    expect_parse("num=+1", FIB_ERR_NOT_DIGITS, 0);
    expect_parse("num=%2B1", FIB_ERR_NOT_DIGITS, 0);
    expect_parse("num= 1", FIB_ERR_NOT_DIGITS, 0);
    expect_parse("num=1%20", FIB_ERR_NOT_DIGITS, 0);
    expect_parse("num=1.0", FIB_ERR_NOT_DIGITS, 0);
    expect_parse("num=1e3", FIB_ERR_NOT_DIGITS, 0);
    expect_parse("num=0x10", FIB_ERR_NOT_DIGITS, 0);
    expect_parse("num=abc", FIB_ERR_NOT_DIGITS, 0);
    expect_parse("num=5%00", FIB_ERR_NOT_DIGITS, 0);
    expect_parse("num=5%00x", FIB_ERR_NOT_DIGITS, 0);
    expect_parse("num=%3", FIB_ERR_NOT_DIGITS, 0);
    expect_parse("num=%C3%28", FIB_ERR_NOT_DIGITS, 0);
    expect_parse("num=1;x=2", FIB_ERR_NOT_DIGITS, 0);
    expect_parse("num=18446744073709551616", FIB_ERR_TOO_BIG, 0);
    expect_parse("num=99999999999999999999999", FIB_ERR_TOO_BIG, 0);
    expect_parse("num=99999999999999999999999x", FIB_ERR_NOT_DIGITS, 0);
}


static void
test_parse_long(void **state)
{
    char    *q;
    size_t   len;

    len = 8192;
    q = malloc(len + 1);
    assert_non_null(q);

    memset(q, 'a', len);
    memcpy(q, "num=12&pad=", 11);
    q[len] = '\0';
    expect_parse(q, FIB_OK, 12);

    memset(q, '0', len);
    memcpy(q, "num=", 4);
    q[len - 1] = '3';
    expect_parse(q, FIB_OK, 3);

    /* a raw NUL is not the end of the value, nor of the key */
    assert_int_equal(fib_parse_query("num=5\0x", 7, &(uint64_t){0}),
                     FIB_ERR_NOT_DIGITS);
    assert_int_equal(fib_parse_query("num\0=5", 6, &(uint64_t){0}),
                     FIB_ERR_MISSING);
    assert_int_equal(fib_parse_query("x=\0&num=5", 9, &(uint64_t){0}),
                     FIB_OK);

    /* the length passed counts, not a NUL */
    assert_int_equal(fib_parse_query("num=12", 5, &(uint64_t){0}), FIB_OK);

    free(q);
}


static void
test_messages(void **state)
{
    assert_string_equal(fib_strerror(FIB_ERR_NOT_DIGITS),
                        "num must be a non-negative decimal integer");
    assert_non_null(strstr(fib_strerror(FIB_ERR_MISSING), "missing"));
    assert_non_null(strstr(fib_strerror(FIB_ERR_DUPLICATE), "more than once"));
    assert_string_equal(fib_strerror((fib_rc_t) 999), "unknown error");
}


static void
test_algorithm_names(void **state)
{
    fib_algorithm_t  a;

    assert_int_equal(fib_algorithm_by_name("fast", 4, &a), 0);
    assert_int_equal(a, FIB_FAST);
    assert_int_equal(fib_algorithm_by_name("iterative", 9, &a), 0);
    assert_int_equal(a, FIB_ITERATIVE);
    assert_int_equal(fib_algorithm_by_name("fastest", 7, &a), -1);
    assert_string_equal(fib_algorithm_name(FIB_RECURSIVE), "recursive");
}


static void
test_cost(void **state)
{
    /* about phi times per step for the recursion */
    assert_true(fib_cost_ns(FIB_RECURSIVE, 41) * 15
                > fib_cost_ns(FIB_RECURSIVE, 40) * 16);
    assert_true(fib_cost_ns(FIB_RECURSIVE, 41) * 10
                < fib_cost_ns(FIB_RECURSIVE, 40) * 17);

    /* cheap ones stay under the default 20us inline budget */
    assert_true(fib_cost_ns(FIB_RECURSIVE, 10) < 20000);
    assert_true(fib_cost_ns(FIB_FAST, 100) < 20000);
    assert_true(fib_cost_ns(FIB_RECURSIVE, 30) > 20000);
    assert_true(fib_cost_ns(FIB_FAST, 1000000) > 20000);
    assert_true(fib_cost_ns(FIB_ITERATIVE, 100000)
                > fib_cost_ns(FIB_FAST, 100000));

    /* F(93) by the naive recursion is centuries: never "cheap" */
    assert_true(fib_cost_ns(FIB_RECURSIVE, 93) > 1000000000000000000ULL);
}


/*
 * Every n up to each algorithm's maximum: the estimate never decreases,
 * never wraps, and FIB_COST_MAX ("too costly to say") is where it ends.
 */

static void
cost_every_n(fib_algorithm_t algorithm)
{
    uint64_t  n, max, cost, prev;

    max = fib_algorithm_max(algorithm);
    prev = 0;

    for (n = 0; n <= max; n++) {
        cost = fib_cost_ns(algorithm, n);

        if (cost < prev) {
            fail_msg("%s: cost of %llu is below that of %llu",
                     fib_algorithm_name(algorithm),
                     (unsigned long long) n, (unsigned long long) n - 1);
        }

        prev = cost;
    }

    assert_int_equal(fib_cost_ns(algorithm, max + 1), FIB_COST_MAX);
    assert_int_equal(fib_cost_ns(algorithm, UINT64_MAX), FIB_COST_MAX);
}


static void
test_cost_every_n(void **state)
{
    cost_every_n(FIB_RECURSIVE);
    cost_every_n(FIB_ITERATIVE);
    cost_every_n(FIB_FAST);

    /* the recursion's estimate saturates before its limit */
    assert_int_equal(fib_cost_ns(FIB_RECURSIVE, 93), FIB_COST_MAX);
}


static void
test_sizes(void **state)
{
    /* no GMP and no overflow for n no algorithm accepts */
    assert_true(fib_digits(UINT64_MAX) > 3000000000000000000ULL);
    assert_int_equal(fib_out_size(10), 4);
    assert_int_equal(fib_work_size(FIB_RECURSIVE, 93), 0);
    assert_true(fib_work_size(FIB_FAST, 1000000) > 1000000 * 0.69 / 8 * 2);
    assert_int_equal(fib_work_size(FIB_FAST, UINT64_MAX),
                     fib_work_size(FIB_FAST, FIB_BIG_MAX));
}


/*
 * What one F(n) is charged never falls as n grows, across fast's switch
 * to decimal too: nginx -t checks fib_max_memory at the limit alone.
 */

static void
test_sizes_grow(void **state)
{
    size_t    size, last;
    uint64_t  n;
    int       a;

    static const fib_algorithm_t  algorithms[] = { FIB_ITERATIVE, FIB_FAST };

    for (a = 0; a < 2; a++) {
        last = 0;

        for (n = 0; n <= 200000; n++) {
            size = fib_out_size(n) + fib_work_size(algorithms[a], n);

            if (size < last) {
                fail_msg("%s: F(%llu) is charged %zu, F(%llu) %zu",
                         fib_algorithm_name(algorithms[a]),
                         (unsigned long long) n, size,
                         (unsigned long long) n - 1, last);
            }

            last = size;
        }
    }
}


static void
test_cancel_before(void **state)
{
    char       out[32];
    fib_job_t  job;

    fib_job_init(&job, FIB_RECURSIVE, 40, out, 0, NULL);
    atomic_store(&job.cancel, 1);

    fib_job_run(&job);

    assert_int_equal(job.rc, FIB_ERR_CANCELLED);
    assert_int_equal(job.len, 0);
}


typedef struct {
    fib_job_t  *job;
    long        ms;
} cancel_t;


static void *
canceller(void *data)
{
    cancel_t         *c = data;
    struct timespec   ts;

    ts.tv_sec = c->ms / 1000;
    ts.tv_nsec = c->ms % 1000 * 1000 * 1000;

    nanosleep(&ts, NULL);
    atomic_store(&c->job->cancel, 1);

    return NULL;
}


static void
cancel_running(fib_algorithm_t algorithm, uint64_t n, long ms)
{
    char       *out;
    cancel_t    c;
    pthread_t   t;
    fib_job_t   job;

    out = malloc(fib_out_size(n));
    assert_non_null(out);

    fib_job_init(&job, algorithm, n, out, 0, NULL);

    c.job = &job;
    c.ms = ms;

    /* without cancellation these would run for years: alarm ends it */
    alarm(20);

    assert_int_equal(pthread_create(&t, NULL, canceller, &c), 0);
    fib_job_run(&job);
    pthread_join(t, NULL);

    alarm(0);

    assert_int_equal(job.rc, FIB_ERR_CANCELLED);
    assert_int_equal(job.len, 0);

    free(out);
}


static void
test_cancel_running(void **state)
{
    cancel_running(FIB_RECURSIVE, 90, 50);
    cancel_running(FIB_ITERATIVE, FIB_BIG_MAX, 50);

    /*
     * F(10^8) fast, decimal throughout: about a second in all, whose
     * last half is two squarings that poll between their products; a
     * fifth of a second in, the flag lands in the middle of the steps.
     */
    cancel_running(FIB_FAST, FIB_BIG_MAX, 200);
}


/*
 * F(10^8) fast with its deadline 300 ms away: the largest squarings
 * poll between their two products.  How late it stops is printed, not
 * asserted: timing is the benchmark's (a quiet machine: 0.45 s at most).
 */

static void
deadline_fast(char *out)
{
    uint64_t   start;
    fib_job_t  job;

    fib_job_init(&job, FIB_FAST, FIB_BIG_MAX, out, 0, NULL);
    start = fib_now_ns();
    job.deadline_ns = start + 300 * 1000 * 1000;
    fib_job_run(&job);
    assert_int_equal(job.rc, FIB_ERR_TIMEOUT);
    assert_int_equal(job.len, 0);

    print_message("fast F(%d) with a deadline at 300 ms: stopped at "
                  "%.0f ms\n", FIB_BIG_MAX,
                  (double) (fib_now_ns() - start) / 1e6);
}


/* the deadline stops a computation wherever it runs, on its own thread */

static void
test_deadline(void **state)
{
    char       *out;
    fib_job_t   job;

    out = malloc(fib_out_size(FIB_BIG_MAX));
    assert_non_null(out);

    alarm(20);

    fib_job_init(&job, FIB_RECURSIVE, 93, out, 0, NULL);
    job.deadline_ns = fib_now_ns() + 50 * 1000 * 1000;
    fib_job_run(&job);
    assert_int_equal(job.rc, FIB_ERR_TIMEOUT);
    assert_int_equal(job.len, 0);

    fib_job_init(&job, FIB_ITERATIVE, FIB_BIG_MAX, out, 0, NULL);
    job.deadline_ns = fib_now_ns() + 50 * 1000 * 1000;
    fib_job_run(&job);
    assert_int_equal(job.rc, FIB_ERR_TIMEOUT);

    /* fast: the deadline passes during the decimal conversion */
    deadline_fast(out);

    /* a deadline already past: nothing is computed */
    fib_job_init(&job, FIB_FAST, 10, out, 0, NULL);
    job.deadline_ns = 1;
    fib_job_run(&job);
    assert_int_equal(job.rc, FIB_ERR_TIMEOUT);

    /* a deadline far away changes nothing */
    fib_job_init(&job, FIB_RECURSIVE, 30, out, 0, NULL);
    job.deadline_ns = fib_now_ns() + 60ULL * 1000 * 1000 * 1000;
    fib_job_run(&job);
    assert_int_equal(job.rc, FIB_OK);
    assert_memory_equal(out, "832040\n", 7);

    alarm(0);

    free(out);
}


/* an exiting process: queued and running computations give up at once */

static volatile sig_atomic_t  stop_flag;


static void *
stopper(void *data)
{
    struct timespec  ts = { 0, 50 * 1000 * 1000 };

    nanosleep(&ts, NULL);
    stop_flag = 1;

    return NULL;
}


static void
test_stop(void **state)
{
    char       out[32];
    pthread_t  t;
    fib_job_t  job;

    alarm(20);

    stop_flag = 0;
    fib_job_init(&job, FIB_RECURSIVE, 90, out, 0, NULL);
    job.stop = &stop_flag;

    assert_int_equal(pthread_create(&t, NULL, stopper, NULL), 0);
    fib_job_run(&job);
    pthread_join(t, NULL);

    assert_int_equal(job.rc, FIB_ERR_CANCELLED);

    fib_job_init(&job, FIB_RECURSIVE, 40, out, 0, NULL);
    job.stop = &stop_flag;
    fib_job_run(&job);
    assert_int_equal(job.rc, FIB_ERR_CANCELLED);

    alarm(0);
}


/* {{{ the decimal conversion: byte-identical to one mpz_get_str() */

/* x as "digits" characters, zero-padded, with pieces of "piece" digits */

static void
expect_decimal(mpz_t x, size_t digits, size_t piece)
{
    char       *want, *got, *s;
    mpz_t       copy;
    size_t      len;
    fib_job_t   job;

    s = mpz_get_str(NULL, 10, x);
    len = strlen(s);
    assert_true(len <= digits);

    want = malloc(digits + 1);
    got = malloc(digits + 1);
    assert_non_null(want);
    assert_non_null(got);

    memset(want, '0', digits - len);
    memcpy(want + digits - len, s, len);
    want[digits] = '\0';

    memset(got, 'x', digits);
    got[digits] = '\0';

    mpz_init_set(copy, x);
    fib_job_init(&job, FIB_FAST, 0, got, 0, NULL);

    assert_int_equal(fib_decimal_split(&job, got, digits, copy, piece), 0);
    assert_int_equal(job.rc, FIB_OK);

    /* nothing written past the digits, and the number given back */
    assert_int_equal(got[digits], '\0');
    assert_int_equal(mpz_sgn(copy), 0);
    assert_string_equal(got, want);

    mpz_clear(copy);
    free(want);
    free(got);
    free(s);
}


/* the smallest n whose F(n) has at least d digits */

static uint64_t
n_of_digits(size_t d)
{
    uint64_t  n;

    n = (uint64_t) (((double) d - 1 + 0.349485) / 0.20898764);
    n = n > 5 ? n - 5 : 0;

    while (fib_digits(n) < d) {
        n++;
    }

    return n;
}


static void
test_decimal_identical(void **state)
{
    static const size_t  pieces[] = { 1, 2, 3, 5, 7, 10, 64, 1000 };

    char      *s, *got;
    mpz_t      x, y;
    size_t     i, j, d;
    uint64_t   n, m;

    mpz_init(x);
    mpz_init(y);

    /* F(n) with small pieces: many levels, odd and even widths */

    for (i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
        for (n = 0; n <= 2000; n += (n < 100) ? 1 : 37) {
            mpz_fib_ui(x, n);
            expect_decimal(x, fib_digits(n), pieces[i]);
        }

        mpz_fib_ui(x, 10007);
        expect_decimal(x, fib_digits(10007), pieces[i]);
    }

    /*
     * Pieces with leading zeros, all zeros, and a padded top: 10^k - 1,
     * 10^k, 10^k + 1, 10^k + 10^j, and digits beyond the number's own.
     */

    for (i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
        for (j = 1; j < 300; j += 13) {
            mpz_ui_pow_ui(x, 10, j);
            expect_decimal(x, j + 1, pieces[i]);
            expect_decimal(x, j + 9, pieces[i]);

            mpz_sub_ui(y, x, 1);
            expect_decimal(y, j, pieces[i]);

            mpz_add_ui(y, x, 1);
            expect_decimal(y, j + 1, pieces[i]);

            mpz_ui_pow_ui(y, 10, j / 2);
            mpz_add(y, y, x);
            expect_decimal(y, j + 1, pieces[i]);
        }

        mpz_set_ui(x, 0);
        expect_decimal(x, 1, pieces[i]);
        expect_decimal(x, 50, pieces[i]);
    }

    /*
     * The module's own path, fib_job_run(), against mpz_get_str(): every
     * decade, odd points, and F(n) around the widths where the number of
     * split levels changes (FIB_DECIMAL_PIECE * 2^j digits).
     */

    for (n = 1; n <= 10000000; n *= 10) {
        for (m = n; m <= n + 1; m++) {
            mpz_fib_ui(x, m);
            s = mpz_get_str(NULL, 10, x);
            got = run(FIB_FAST, m);
            assert_string_equal(got, s);
            free(got);
            free(s);
        }
    }

    for (j = 0; j < 4; j++) {
        d = (size_t) FIB_DECIMAL_PIECE << j;

        for (m = n_of_digits(d) - 3; m <= n_of_digits(d + 1) + 3; m++) {
            mpz_fib_ui(x, m);
            s = mpz_get_str(NULL, 10, x);
            got = run(FIB_FAST, m);
            assert_string_equal(got, s);
            free(got);
            free(s);

            /* one split, not four: no need of every m */
            if (j > 1) {
                m += 2;
            }
        }
    }

    mpz_fib_ui(x, 2718281);
    s = mpz_get_str(NULL, 10, x);
    got = run(FIB_FAST, 2718281);
    assert_string_equal(got, s);
    free(got);
    free(s);

    mpz_clear(x);
    mpz_clear(y);
}


static void
test_decimal_errors(void **state)
{
    char       out[16];
    mpz_t      x;
    fib_job_t  job;

    mpz_init_set_ui(x, 12345);

    /* a number wider than the digits given: an error, never an overrun */

    fib_job_init(&job, FIB_FAST, 0, out, 0, NULL);
    memset(out, 'x', sizeof(out));
    assert_int_equal(fib_decimal_split(&job, out, 4, x, 2), -1);
    assert_int_equal(job.rc, FIB_ERR_INTERNAL);
    assert_int_equal(out[4], 'x');

    /* a cancelled job converts nothing */

    mpz_set_ui(x, 12345);
    fib_job_init(&job, FIB_FAST, 0, out, 0, NULL);
    atomic_store(&job.cancel, 1);
    assert_int_equal(fib_decimal_split(&job, out, 5, x, 2), -1);
    assert_int_equal(job.rc, FIB_ERR_CANCELLED);

    mpz_clear(x);
}

/* }}} */


/* {{{ fast in decimal: byte-identical to mpz_fib_ui() + mpz_get_str() */

/* the oracle's F(n) against the engine's, through fib_fast_decimal() */

static void
expect_decimal_fib(uint64_t n, void (*runner)(fib_job_t *job))
{
    char       *want, *got;
    mpz_t       z;
    size_t      len;
    fib_job_t   job;

    mpz_init(z);
    mpz_fib_ui(z, (unsigned long) n);
    want = mpz_get_str(NULL, 10, z);
    mpz_clear(z);

    len = strlen(want);

    /* exactly the announced size, and one byte to catch an overrun */
    assert_int_equal(fib_out_size(n), len + 2);
    got = malloc(len + 2);
    assert_non_null(got);
    got[len + 1] = 'x';

    fib_job_init(&job, FIB_FAST, n, got, 0, NULL);
    runner(&job);

    if (job.rc != FIB_OK || job.len != len + 1
        || memcmp(got, want, len) != 0 || got[len] != '\n'
        || got[len + 1] != 'x')
    {
        fail_msg("fast F(%llu): rc %d, %zu bytes, differs from GMP's",
                 (unsigned long long) n, job.rc, job.len);
    }

    free(got);
    free(want);
}


static void
test_fast_every_n(void **state)
{
    uint64_t  n;

    /* fast as the module runs it, and the decimal engine on its own */

    for (n = 0; n <= 30000; n++) {
        expect_decimal_fib(n, fib_job_run);
        expect_decimal_fib(n, fib_fast_decimal);
    }
}


/*
 * Where the engine's shapes change: the top limb from 16 digits to 1
 * (fib_digits(n) crossing a multiple of 16), the seed's bits (k below
 * 2^12), n of all ones and of one bit (every step odd, every step even),
 * both sides of FIB_FAST_DECIMAL_MIN, and as far as FIB_BIG_MAX.
 */

static void
test_fast_boundaries(void **state)
{
    static const size_t  limbs[] = {
        1, 2, 3, 4, 7, 8, 9, 64, 65, 100, 1000, 1024, 4096, 4097, 65536,
        131072, 1306172
    };

    static const uint64_t  bits[] = {
        4094, 4095, 4096, 4097, 8191, 8192, 8193, 65535, 65536, 65537,
        8388607, 8388608, 8388609,
        FIB_FAST_DECIMAL_MIN - 1, FIB_FAST_DECIMAL_MIN,
        FIB_FAST_DECIMAL_MIN + 1, 9999999, 10000000, 10000001
    };

    size_t    i, d;
    uint64_t  n, m;

    for (i = 0; i < sizeof(limbs) / sizeof(limbs[0]); i++) {
        d = limbs[i] * 16;
        n = n_of_digits(d);

        /* d digits exactly, d + 1 (a new top limb), and d - 1 */

        for (m = n - 1; m <= n_of_digits(d + 1); m++) {
            if (m > FIB_BIG_MAX) {
                break;
            }

            if (limbs[i] > 100000 && m != n - 1 && m != n_of_digits(d + 1))
            {
                /* far up, the two sides only: 5 s each */
                continue;
            }

            expect_decimal_fib(m, fib_job_run);

            if (m < FIB_FAST_DECIMAL_MIN) {
                expect_decimal_fib(m, fib_fast_decimal);
            }
        }
    }

    for (i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
        expect_decimal_fib(bits[i], fib_job_run);
        expect_decimal_fib(bits[i], fib_fast_decimal);
    }
}


/*
 * A few n at random, a new draw each run, the seed printed to replay it
 * (FIB_TEST_SEED=...): below 10^6 often, up to FIB_BIG_MAX twice.
 */

static void
test_fast_random(void **state)
{
    int        i;
    uint64_t   n;
    unsigned   seed;
    const char *env;

    env = getenv("FIB_TEST_SEED");
    seed = env != NULL ? (unsigned) strtoul(env, NULL, 10)
                       : (unsigned) fib_now_ns();

    print_message("random n: FIB_TEST_SEED=%u\n", seed);
    srandom(seed);

    for (i = 0; i < 20; i++) {
        n = FIB_FAST_DECIMAL_MIN + (uint64_t) random() % 1000000;
        expect_decimal_fib(n, fib_job_run);
    }

    for (i = 0; i < 4; i++) {
        n = (uint64_t) random() % 10000000;
        expect_decimal_fib(n, fib_job_run);
    }

    for (i = 0; i < 2; i++) {
        n = ((uint64_t) random() << 16 ^ (uint64_t) random())
            % (FIB_BIG_MAX + 1);
        print_message("random n: F(%llu)\n", (unsigned long long) n);
        expect_decimal_fib(n, fib_job_run);
    }
}

/* }}} */


/* {{{ fast in steps: the pieces of a step on any thread, in any order */

/*
 * F(n) driven step by step, as the module drives it, with the pieces of
 * each step run in order, or from the last to the first; job->rc and
 * job->len as fib_job_run() leaves them.
 */

static void
split_run(fib_job_t *job, size_t min, int reverse)
{
    unsigned     i, pieces;
    fib_fast_t  *fast;

    fast = malloc(fib_fast_size());
    assert_non_null(fast);

    for (pieces = fib_fast_init(fast, job, min);
         pieces != 0;
         pieces = fib_fast_next(fast))
    {
        assert_true(pieces <= FIB_FAST_PIECES);

        for (i = 0; i < pieces; i++) {
            fib_fast_piece(fast, reverse ? pieces - 1 - i : i);
        }
    }

    free(fast);
}


static size_t  split_min;


static void
split_in_order(fib_job_t *job)
{
    split_run(job, split_min, 0);
}


static void
split_reversed(fib_job_t *job)
{
    split_run(job, split_min, 1);
}


/* where the engine's shapes change, for the split tests below */

static const uint64_t  split_ns[] = {
    0, 1, 2, 93, 94, 95, 96, 4095, 4096, 4097, 8191, 8192, 8193,
    FIB_FAST_DECIMAL_MIN - 1, FIB_FAST_DECIMAL_MIN,
    FIB_FAST_DECIMAL_MIN + 1, 65535, 65536, 65537, 100000, 313585,
    627179, 1000000, 1048575, 1048576, 1254355, 2718281
};


/*
 * One threshold of the engine, *knob, at each of values[] in turn (the
 * first for every n up to 30000, then each for split_ns[]), F(n) run
 * reversed in pieces or by "other", alternately, against GMP's.
 */

static void
split_sweep(size_t *knob, const size_t *values, size_t count,
    void (*other)(fib_job_t *job))
{
    size_t    i, j;
    uint64_t  n;

    *knob = values[0];

    for (n = 0; n <= 30000; n += (n < 2000) ? 1 : 7) {
        expect_decimal_fib(n, (n & 1) ? split_reversed : other);
    }

    for (i = 0; i < count; i++) {
        *knob = values[i];

        for (j = 0; j < sizeof(split_ns) / sizeof(split_ns[0]); j++) {
            expect_decimal_fib(split_ns[j], (i + j) & 1 ? split_reversed
                                                        : other);
        }
    }
}


/*
 * Every n up to 30000 with every step split (split_min 1) and the
 * pieces reversed, then the same boundaries as the sequential engine
 * with thresholds that fall before, at and after the steps' sizes.
 */

static void
test_split_answers(void **state)
{
    static const size_t  mins[] = { 1, 2, 3, 17, 64, 1000, 4095, 4096,
                                    4097, FIB_FAST_SPLIT_MIN };

    split_sweep(&split_min, mins, sizeof(mins) / sizeof(mins[0]),
                split_in_order);

    /* the module's threshold at the largest sizes, both orders */

    split_min = FIB_FAST_SPLIT_MIN;
    expect_decimal_fib(10000001, split_reversed);
    expect_decimal_fib(FIB_BIG_MAX, split_in_order);

    /* the other algorithms are one piece: fib_job_run() */

    split_min = 1;
    expect_fib_split(FIB_RECURSIVE, 50, "12586269025");
    expect_fib_split(FIB_ITERATIVE, 300,
                     "222232244629420445529739893461909967206666939096499"
                     "764990979600");
}


/*
 * The largest products split in three (fib_mpn_mul()): every n up to
 * 30000 and the boundaries above with every product of two limbs or
 * more split, alone and in pieces, then F(n) on both sides of the
 * module's threshold, where F(n / 2) gets its limb number
 * fib_mul_split (the shorter factor of an even n's last product).
 */

static void
test_mul_split_answers(void **state)
{
    static const size_t  mins[] = { 2, 3, 4, 5, 64, 1000 };

    size_t    threshold;
    uint64_t  k;

    threshold = fib_mul_split;
    split_min = 1;

    split_sweep(&fib_mul_split, mins, sizeof(mins) / sizeof(mins[0]),
                fib_fast_decimal);

    fib_mul_split = threshold;
    split_min = FIB_FAST_SPLIT_MIN;

    /* F(k) has threshold limbs, F(k - 1) one fewer */

    k = n_of_digits(16 * (threshold - 1) + 1);

    expect_decimal_fib(2 * k - 2, split_in_order);
    expect_decimal_fib(2 * k, split_reversed);
    expect_decimal_fib(2 * k + 1, fib_fast_decimal);
}


/* a piece past the step's pieces, or a finished computation: refused */

static void
test_split_misuse(void **state)
{
    char        *out;
    unsigned     pieces;
    fib_job_t    job;
    fib_fast_t  *fast;

    fast = malloc(fib_fast_size());
    out = malloc(fib_out_size(100000));
    assert_non_null(fast);
    assert_non_null(out);

    fib_job_init(&job, FIB_FAST, 100000, out, 0, NULL);
    pieces = fib_fast_init(fast, &job, 1);
    assert_int_equal(pieces, 1);
    assert_int_equal(fib_fast_piece(fast, 1), FIB_ERR_INTERNAL);
    assert_int_equal(fib_fast_piece(fast, 0), FIB_OK);

    pieces = fib_fast_next(fast);
    assert_int_equal(pieces, 2);
    assert_int_equal(fib_fast_piece(fast, 2), FIB_ERR_INTERNAL);

    /* given up between steps: fib_fast_free() releases what is held */
    fib_fast_free(fast);
    assert_int_equal(fib_fast_next(fast), 0);

    free(out);
    free(fast);
}


/* each step's pieces on threads of their own, all at once */

typedef struct {
    fib_fast_t  *fast;
    unsigned     piece;
} piece_t;


static void *
piece_thread(void *data)
{
    piece_t  *p = data;

    fib_fast_piece(p->fast, p->piece);

    return NULL;
}


/*
 * One thread per piece, joined before fib_fast_next(): the only order
 * between the pieces of a step is none.  Returns how many steps split.
 */

static unsigned
threads_run(fib_job_t *job, size_t min)
{
    unsigned     i, pieces, split;
    piece_t      p[FIB_FAST_PIECES];
    pthread_t    t[FIB_FAST_PIECES];
    fib_fast_t  *fast;

    fast = malloc(fib_fast_size());
    assert_non_null(fast);

    split = 0;

    for (pieces = fib_fast_init(fast, job, min);
         pieces != 0;
         pieces = fib_fast_next(fast))
    {
        for (i = 0; i < pieces; i++) {
            p[i].fast = fast;
            p[i].piece = i;
            assert_int_equal(pthread_create(&t[i], NULL, piece_thread,
                                            &p[i]), 0);
        }

        for (i = 0; i < pieces; i++) {
            pthread_join(t[i], NULL);
        }

        split += pieces > 1;
    }

    free(fast);

    return split;
}


static void
threads_expect(uint64_t n, size_t min)
{
    char       *want, *got;
    mpz_t       z;
    size_t      len;
    fib_job_t   job;

    mpz_init(z);
    mpz_fib_ui(z, (unsigned long) n);
    want = mpz_get_str(NULL, 10, z);
    mpz_clear(z);

    len = strlen(want);
    got = malloc(len + 2);
    assert_non_null(got);

    fib_job_init(&job, FIB_FAST, n, got, 0, NULL);
    assert_true(threads_run(&job, min) > 0);

    assert_int_equal(job.rc, FIB_OK);
    assert_int_equal(job.len, len + 1);
    assert_memory_equal(got, want, len);

    free(got);
    free(want);
}


/*
 * FIB_TEST_THREADS_SMALL=1 keeps to small n, for helgrind and drd,
 * which run GMP a hundred times slower.
 */

static void
test_split_threads(void **state)
{
    threads_expect(100000, 1);
    threads_expect(313585, 16);

    if (getenv("FIB_TEST_THREADS_SMALL") != NULL) {
        return;
    }

    threads_expect(1000000, FIB_FAST_SPLIT_MIN);
    threads_expect(10000000, FIB_FAST_SPLIT_MIN);
}


/*
 * A cancellation seen inside a piece goes to the piece's own result,
 * never to the job, which fib_fast_next() alone sets; then nothing more
 * runs, and everything is freed (valgrind and ASan check the freeing).
 */

static void
test_split_cancel_piece(void **state)
{
    char        *out;
    unsigned     pieces;
    fib_job_t    job;
    fib_fast_t  *fast;

    fast = malloc(fib_fast_size());
    out = malloc(fib_out_size(1000000));
    assert_non_null(fast);
    assert_non_null(out);

    fib_job_init(&job, FIB_FAST, 1000000, out, 0, NULL);
    pieces = fib_fast_init(fast, &job, 1);

    /* as far as the first step of two pieces */
    while (pieces == 1) {
        assert_int_equal(fib_fast_piece(fast, 0), FIB_OK);
        pieces = fib_fast_next(fast);
    }

    assert_int_equal(pieces, 2);

    assert_int_equal(fib_fast_piece(fast, 0), FIB_OK);
    atomic_store(&job.cancel, 1);
    assert_int_equal(fib_fast_piece(fast, 1), FIB_ERR_CANCELLED);
    assert_int_equal(job.rc, FIB_OK);

    assert_int_equal(fib_fast_next(fast), 0);
    assert_int_equal(job.rc, FIB_ERR_CANCELLED);
    assert_int_equal(job.len, 0);

    /* a deadline passed between steps: next sees it */

    fib_job_init(&job, FIB_FAST, 1000000, out, 0, NULL);
    pieces = fib_fast_init(fast, &job, 1);
    assert_int_equal(fib_fast_piece(fast, 0), FIB_OK);
    job.deadline_ns = 1;
    assert_int_equal(fib_fast_next(fast), 0);
    assert_int_equal(job.rc, FIB_ERR_TIMEOUT);

    free(out);
    free(fast);
}


typedef struct {
    fib_job_t  *job;
    long        ms;
    uint64_t    at;
} canceller_t;


static void *
split_canceller(void *data)
{
    canceller_t      *c = data;
    struct timespec   ts;

    ts.tv_sec = c->ms / 1000;
    ts.tv_nsec = c->ms % 1000 * 1000 * 1000;

    nanosleep(&ts, NULL);
    c->at = fib_now_ns();
    atomic_store(&c->job->cancel, 1);

    return NULL;
}


/*
 * F(10^8) with its big steps on two threads, cancelled from a third
 * while they run, then with a deadline: how late each stops is printed,
 * not asserted.
 */

static void
test_split_cancel_threads(void **state)
{
    char         *out;
    uint64_t      start;
    pthread_t     t;
    fib_job_t     job;
    canceller_t   c;

    out = malloc(fib_out_size(FIB_BIG_MAX));
    assert_non_null(out);

    alarm(60);

    if (getenv("FIB_TEST_THREADS_SMALL") != NULL) {
        /*
         * For helgrind and drd: a flag set while two pieces poll it;
         * the computation may be over first
         */
        fib_job_init(&job, FIB_FAST, 1000000, out, 0, NULL);

        c.job = &job;
        c.ms = 20;

        assert_int_equal(pthread_create(&t, NULL, split_canceller, &c),
                         0);
        threads_run(&job, 16);
        pthread_join(t, NULL);

        assert_true(job.rc == FIB_ERR_CANCELLED || job.rc == FIB_OK);

        alarm(0);
        free(out);
        return;
    }

    fib_job_init(&job, FIB_FAST, FIB_BIG_MAX, out, 0, NULL);

    c.job = &job;
    c.ms = 300;

    assert_int_equal(pthread_create(&t, NULL, split_canceller, &c), 0);
    threads_run(&job, FIB_FAST_SPLIT_MIN);
    pthread_join(t, NULL);

    assert_int_equal(job.rc, FIB_ERR_CANCELLED);
    assert_int_equal(job.len, 0);

    print_message("split F(%d) cancelled at 300 ms: stopped %.0f ms "
                  "later\n", FIB_BIG_MAX,
                  (double) (fib_now_ns() - c.at) / 1e6);

    fib_job_init(&job, FIB_FAST, FIB_BIG_MAX, out, 0, NULL);
    start = fib_now_ns();
    job.deadline_ns = start + 300 * 1000 * 1000;
    threads_run(&job, FIB_FAST_SPLIT_MIN);

    assert_int_equal(job.rc, FIB_ERR_TIMEOUT);
    assert_int_equal(job.len, 0);

    print_message("split F(%d) with a deadline at 300 ms: stopped at "
                  "%.0f ms\n", FIB_BIG_MAX,
                  (double) (fib_now_ns() - start) / 1e6);

    alarm(0);

    free(out);
}

/* }}} */


/* {{{ GMP's peak allocation against fib_work_size() */

static size_t  gmp_live, gmp_peak;


static void *
count_alloc(size_t size)
{
    gmp_live += size;

    if (gmp_live > gmp_peak) {
        gmp_peak = gmp_live;
    }

    return malloc(size);
}


static void *
count_realloc(void *p, size_t old, size_t size)
{
    /* both blocks are live while realloc() copies */

    if (gmp_live + size > gmp_peak) {
        gmp_peak = gmp_live + size;
    }

    gmp_live = gmp_live - old + size;

    return realloc(p, size);
}


static void
count_free(void *p, size_t size)
{
    gmp_live -= size;
    free(p);
}


/*
 * A stop at each of the job's polls in turn (the test build's hook),
 * the largest products split in three from 2 limbs: F(n) whole and
 * in pieces either way ends cancelled, with nothing GMP allocated left
 * behind, or, past its last poll, with GMP's digits.  Every early
 * return is taken once.
 */

static void
test_stop_at_every_poll(void **state)
{
    static const uint64_t  ns[] = { 20001, 40000, 65537 };

    static void (*const runners[])(fib_job_t *job) = {
        fib_fast_decimal, split_in_order, split_reversed
    };

    char       *out;
    size_t      i, r, threshold;
    uint64_t    k, polls;
    fib_job_t   job;

    threshold = fib_mul_split;
    fib_mul_split = 2;
    split_min = 1;

    for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
        out = malloc(fib_out_size(ns[i]));
        assert_non_null(out);

        for (r = 0; r < sizeof(runners) / sizeof(runners[0]); r++) {
            fib_polls = 0;
            expect_decimal_fib(ns[i], runners[r]);
            polls = fib_polls;

            mp_set_memory_functions(count_alloc, count_realloc, count_free);

            for (k = 0; k < polls; k++) {
                gmp_live = 0;
                fib_polls = 0;
                fib_polls_max = k;

                fib_job_init(&job, FIB_FAST, ns[i], out, 0, NULL);
                runners[r](&job);

                if (job.rc != FIB_ERR_CANCELLED || job.len != 0
                    || gmp_live != 0)
                {
                    fail_msg("F(%llu), runner %zu, stopped at poll %llu of "
                             "%llu: rc %d, %zu bytes, %zu left allocated",
                             (unsigned long long) ns[i], r,
                             (unsigned long long) k,
                             (unsigned long long) polls, job.rc, job.len,
                             gmp_live);
                }
            }

            mp_set_memory_functions(NULL, NULL, NULL);
            fib_polls_max = UINT64_MAX;
        }

        free(out);
    }

    fib_mul_split = threshold;
    split_min = FIB_FAST_SPLIT_MIN;
}


/* the most GMP held at once during one run of the job */

static size_t
gmp_peak_run(fib_algorithm_t algorithm, uint64_t n,
    void (*runner)(fib_job_t *job))
{
    char       *out;
    fib_job_t   job;

    out = malloc(fib_out_size(n));
    assert_non_null(out);

    fib_job_init(&job, algorithm, n, out, 0, NULL);

    mp_set_memory_functions(count_alloc, count_realloc, count_free);

    gmp_live = 0;
    gmp_peak = 0;

    runner(&job);

    mp_set_memory_functions(NULL, NULL, NULL);

    assert_int_equal(job.rc, FIB_OK);

    /* everything allocated was freed, and counted on the way */
    assert_int_equal(gmp_live, 0);

    free(out);

    return gmp_peak;
}


static size_t
gmp_peak_of(fib_algorithm_t algorithm, uint64_t n)
{
    return gmp_peak_run(algorithm, n, fib_job_run);
}


/*
 * The most the step API holds at once for F(n) when every piece of a
 * step runs at the same time: per step, what is live when it starts and
 * what each piece adds at its own peak, summed.  Pieces allocate only
 * for themselves, so no timing of theirs can exceed that sum.
 */

static size_t
split_peak(uint64_t n, size_t min)
{
    char        *out;
    size_t       peak, step, start;
    unsigned     i, pieces;
    fib_job_t    job;
    fib_fast_t  *fast;

    out = malloc(fib_out_size(n));
    fast = malloc(fib_fast_size());
    assert_non_null(out);
    assert_non_null(fast);

    fib_job_init(&job, FIB_FAST, n, out, 0, NULL);

    mp_set_memory_functions(count_alloc, count_realloc, count_free);

    gmp_live = 0;
    peak = 0;

    for (pieces = fib_fast_init(fast, &job, min);
         pieces != 0;
         pieces = fib_fast_next(fast))
    {
        step = gmp_live;

        for (i = 0; i < pieces; i++) {
            start = gmp_live;
            gmp_peak = gmp_live;

            fib_fast_piece(fast, i);

            step += gmp_peak - start;
        }

        if (step > peak) {
            peak = step;
        }
    }

    mp_set_memory_functions(NULL, NULL, NULL);

    assert_int_equal(job.rc, FIB_OK);
    assert_int_equal(gmp_live, 0);

    free(fast);
    free(out);

    return peak;
}


/* the size of F(n) in binary, in whole limbs */

static size_t
binary_size(uint64_t n)
{
    return ((size_t) ((double) n * 0.6942419136306174) / 64 + 1) * 8;
}


static void
test_work_size_bound(void **state)
{
    /*
     * Every decade up to FIB_BIG_MAX, odd points, the widths where the
     * conversion gains a split level: one piece (the whole number in
     * one mpz_get_str(), its costliest case), two, four; both sides of
     * FIB_FAST_DECIMAL_MIN, where GMP's squaring changes method (the
     * peak jumps between 10^6 and 1.25 10^6), and both sides of where
     * the last product splits in three (test_mul_split_answers()).
     */
    static const uint64_t  fast[] = {
        0, 1, 2, 3, 10, 93, 94, 100, 1000, 4321, 10000,
        FIB_FAST_DECIMAL_MIN - 1, FIB_FAST_DECIMAL_MIN, 65537, 100000,
        313584, 313590, 314159, 627168, 627180, 1000000,
        1100000, 1200000, 1254355, 2718281, 8388607, 10000000, 31415927,
        60208730, 60208732, 67108864, 100000000
    };

    /* n^2: measured as far as takes a second; see fib_work_size() */
    static const uint64_t  iterative[] = {
        0, 1, 2, 3, 10, 93, 94, 100, 1000, 4321, 10000, 65537, 100000,
        271828, 313584, 313590, 500000
    };

    double    worst;
    size_t    i, peak, work, loop;
    uint64_t  n;

    worst = 0;

    for (i = 0; i < sizeof(fast) / sizeof(fast[0]); i++) {
        n = fast[i];
        peak = gmp_peak_of(FIB_FAST, n);
        work = fib_work_size(FIB_FAST, n);

        if (getenv("FIB_TEST_PEAKS") != NULL) {
            print_message("fast F(%llu): peak %zu, %.3f D, %.3f of "
                          "fib_work_size()\n", (unsigned long long) n, peak,
                          (double) peak / (8.0 * (fib_digits(n) / 16 + 1)),
                          (double) peak / work);
        }

        if (peak > work) {
            fail_msg("fast F(%llu): GMP's peak %zu > fib_work_size() %zu",
                     (unsigned long long) n, peak, work);
        }

        if ((double) peak / work > worst) {
            worst = (double) peak / work;
        }
    }

    print_message("fast: GMP's peak is at most %.2f of fib_work_size()\n",
                  worst);

    worst = 0;

    for (i = 0; i < sizeof(iterative) / sizeof(iterative[0]); i++) {
        n = iterative[i];
        peak = gmp_peak_of(FIB_ITERATIVE, n);
        work = fib_work_size(FIB_ITERATIVE, n);

        if (peak > work) {
            fail_msg("iterative F(%llu): GMP's peak %zu > fib_work_size() "
                     "%zu", (unsigned long long) n, peak, work);
        }

        /*
         * Beyond what can be measured, the bound rests on the structure:
         * the loop holds a, b and a grown copy of one (3 B), then comes
         * the conversion binary fast makes of the same F(n).  Check that
         * it is so where it can be measured.
         */

        loop = 3 * binary_size(n) + 4096;

        if (peak > loop
            && peak > gmp_peak_run(FIB_FAST, n, fib_fast_binary))
        {
            fail_msg("iterative F(%llu): GMP's peak %zu is above both the "
                     "loop's %zu and the conversion's",
                     (unsigned long long) n, peak, loop);
        }

        if ((double) peak / work > worst) {
            worst = (double) peak / work;
        }
    }

    print_message("iterative: GMP's peak is at most %.2f of "
                  "fib_work_size()\n", worst);

    /*
     * iterative's bound beyond the loop is the binary conversion's, which
     * fast no longer makes above FIB_FAST_DECIMAL_MIN: measured on its
     * own far beyond where the loop can be.
     */

    worst = 0;

    for (i = 0; i < sizeof(fast) / sizeof(fast[0]); i++) {
        n = fast[i];

        if (n > 31415927) {
            /* 10^8: 4 s of conversion for a ratio that stays put */
            continue;
        }

        peak = gmp_peak_run(FIB_FAST, n, fib_fast_binary);
        work = fib_work_size(FIB_ITERATIVE, n);

        if (peak > work) {
            fail_msg("binary F(%llu): GMP's peak %zu > fib_work_size() "
                     "%zu", (unsigned long long) n, peak, work);
        }

        if ((double) peak / work > worst) {
            worst = (double) peak / work;
        }
    }

    print_message("binary fast: GMP's peak is at most %.2f of "
                  "iterative's fib_work_size()\n", worst);

    /*
     * The step API with its pieces at once: every step split (the most
     * at once) and the module's threshold.
     */

    worst = 0;

    for (i = 0; i < sizeof(fast) / sizeof(fast[0]); i++) {
        n = fast[i];
        work = fib_work_size(FIB_FAST, n);

        for (loop = 0; loop < 2; loop++) {
            peak = split_peak(n, loop ? FIB_FAST_SPLIT_MIN : 1);

            if (getenv("FIB_TEST_PEAKS") != NULL) {
                print_message("split %zu F(%llu): peak %zu, %.3f D, "
                              "%.3f of fib_work_size()\n", loop,
                              (unsigned long long) n, peak,
                              (double) peak / (8.0 * (fib_digits(n) / 16
                                                      + 1)),
                              (double) peak / work);
            }

            if (peak > work) {
                fail_msg("split F(%llu): the pieces' peak %zu > "
                         "fib_work_size() %zu", (unsigned long long) n,
                         peak, work);
            }

            if ((double) peak / work > worst) {
                worst = (double) peak / work;
            }
        }
    }

    print_message("split fast: the pieces' peak is at most %.2f of "
                  "fib_work_size()\n", worst);
}

/* }}} */


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_values),
        cmocka_unit_test(test_f1000),
        cmocka_unit_test(test_recursive_top),
        cmocka_unit_test(test_recursive_calls),
        cmocka_unit_test(test_algorithms_agree),
        cmocka_unit_test(test_digits),
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_long),
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_algorithm_names),
        cmocka_unit_test(test_cost),
        cmocka_unit_test(test_cost_every_n),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_cancel_before),
        cmocka_unit_test(test_cancel_running),
        cmocka_unit_test(test_deadline),
        cmocka_unit_test(test_stop),
        cmocka_unit_test(test_decimal_identical),
        cmocka_unit_test(test_decimal_errors),
        cmocka_unit_test(test_fast_every_n),
        cmocka_unit_test(test_fast_boundaries),
        cmocka_unit_test(test_fast_random),
        cmocka_unit_test(test_split_answers),
        cmocka_unit_test(test_mul_split_answers),
        cmocka_unit_test(test_split_misuse),
        cmocka_unit_test(test_split_threads),
        cmocka_unit_test(test_split_cancel_piece),
        cmocka_unit_test(test_split_cancel_threads),
        cmocka_unit_test(test_stop_at_every_poll),
        cmocka_unit_test(test_work_size_bound),
        cmocka_unit_test(test_sizes_grow),
    };

    /* FIB_TEST_FILTER=test_split_* runs those alone (helgrind, drd) */
    if (getenv("FIB_TEST_FILTER") != NULL) {
        cmocka_set_test_filter(getenv("FIB_TEST_FILTER"));
    }

    return cmocka_run_group_tests(tests, NULL, NULL);
}
