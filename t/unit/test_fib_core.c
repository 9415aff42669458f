
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

    fib_job_init(&job, algorithm, n, out);
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
    fib_job_init(&job, FIB_RECURSIVE, 94, out);
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

#if !(FIB_COUNT_CALLS)
#error "the unit tests need the core built with -DFIB_COUNT_CALLS=1"
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


static void
test_cancel_before(void **state)
{
    char       out[32];
    fib_job_t  job;

    fib_job_init(&job, FIB_RECURSIVE, 40, out);
    atomic_store(&job.cancel, 1);

    fib_job_run(&job);

    assert_int_equal(job.rc, FIB_ERR_CANCELLED);
    assert_int_equal(job.len, 0);
}


static void *
canceller(void *data)
{
    fib_job_t        *job = data;
    struct timespec   ts = { 0, 50 * 1000 * 1000 };

    nanosleep(&ts, NULL);
    atomic_store(&job->cancel, 1);

    return NULL;
}


static void
cancel_running(fib_algorithm_t algorithm, uint64_t n)
{
    char       *out;
    pthread_t   t;
    fib_job_t   job;

    out = malloc(fib_out_size(n));
    assert_non_null(out);

    fib_job_init(&job, algorithm, n, out);

    /* without cancellation these would run for years: alarm ends it */
    alarm(20);

    assert_int_equal(pthread_create(&t, NULL, canceller, &job), 0);
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
    cancel_running(FIB_RECURSIVE, 90);
    cancel_running(FIB_ITERATIVE, FIB_BIG_MAX);
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

    fib_job_init(&job, FIB_RECURSIVE, 93, out);
    job.deadline_ns = fib_now_ns() + 50 * 1000 * 1000;
    fib_job_run(&job);
    assert_int_equal(job.rc, FIB_ERR_TIMEOUT);
    assert_int_equal(job.len, 0);

    fib_job_init(&job, FIB_ITERATIVE, FIB_BIG_MAX, out);
    job.deadline_ns = fib_now_ns() + 50 * 1000 * 1000;
    fib_job_run(&job);
    assert_int_equal(job.rc, FIB_ERR_TIMEOUT);

    /* a deadline already past: nothing is computed */
    fib_job_init(&job, FIB_FAST, 10, out);
    job.deadline_ns = 1;
    fib_job_run(&job);
    assert_int_equal(job.rc, FIB_ERR_TIMEOUT);

    /* a deadline far away changes nothing */
    fib_job_init(&job, FIB_RECURSIVE, 30, out);
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
    fib_job_init(&job, FIB_RECURSIVE, 90, out);
    job.stop = &stop_flag;

    assert_int_equal(pthread_create(&t, NULL, stopper, NULL), 0);
    fib_job_run(&job);
    pthread_join(t, NULL);

    assert_int_equal(job.rc, FIB_ERR_CANCELLED);

    fib_job_init(&job, FIB_RECURSIVE, 40, out);
    job.stop = &stop_flag;
    fib_job_run(&job);
    assert_int_equal(job.rc, FIB_ERR_CANCELLED);

    alarm(0);
}


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
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
