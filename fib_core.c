
/*
 * Copyright (C) ngx_http_fib_module authors
 */


#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gmp.h>
#include <uriparser/Uri.h>

#include "fib_core.h"


/*
 * The naive recursion polls the cancel flag only in calls with n at or
 * above this; below it, each subtree is one call of fib_rec(), the plain
 * recursion (F(29): half a millisecond or so).  Not lower: gcc inlines
 * fib_rec() into itself several levels deep, and a nest started at a
 * small n costs more per call than one started high up (with 25, F(32)
 * took 8 % more instructions than the plain recursion; with 30, 2 %).
 */
#define FIB_POLL_MIN           30

/* estimated nanoseconds per call of the naive recursion */
#define FIB_NS_PER_CALL        0.75

/* the iterative loop polls once per this many additions */
#define FIB_POLL_STEPS         1024

/* log10 of the golden ratio and of sqrt(5) */
#define FIB_LOG10_PHI          0.20898764024997873376927208923755541L
#define FIB_LOG10_SQRT5        0.34948500216800940239313055263775633L

/* how close to an integer log10 F(n) may be before we check with GMP */
#define FIB_DIGITS_EPSILON     1e-9L


static uint64_t fib_rec(unsigned n);
static uint64_t fib_rec_poll(unsigned n, fib_job_t *job);
static void fib_iterative(fib_job_t *job, mpz_t result);
static void fib_decimal(fib_job_t *job, mpz_t z);
static void fib_decimal_u64(fib_job_t *job, uint64_t v);
static int fib_stopped(fib_job_t *job);


#if (FIB_COUNT_CALLS)
uint64_t  fib_rec_calls;
#define fib_rec_count()        fib_rec_calls++
#else
#define fib_rec_count()
#endif


static const char  *fib_errors[] = {
    "ok",
    "num is missing: use ?num=N",
    "num has no value",
    "num is given more than once",
    "num must be a non-negative decimal integer",
    "num does not fit in 64 bits",
    "the query string cannot be parsed",
    "out of memory",
    "the computation was cancelled",
    "the computation exceeded its deadline",
    "internal error: the result has an unexpected length"
};


static const char  *fib_algorithms[] = {
    "recursive",
    "iterative",
    "fast"
};


fib_rc_t
fib_parse_query(const char *query, size_t len, uint64_t *num)
{
    int              count, found;
    char            *copy, buf[256];
    size_t           i;
    uint64_t         v;
    fib_rc_t         rc;
    const char      *value, *p;
    UriQueryListA   *list, *item;

    if (len == 0) {
        return FIB_ERR_MISSING;
    }

    copy = (len < sizeof(buf)) ? buf : malloc(len + 1);
    if (copy == NULL) {
        return FIB_ERR_NOMEM;
    }

    /*
     * uriparser decodes into C strings, so a NUL, raw or as "%00", would
     * silently end a value ("num=5%00x" would read as 5).  A 0x01 byte
     * is just as much not a digit and never ends a string.
     */

    memcpy(copy, query, len);
    copy[len] = '\0';

    for (i = 0; i < len; i++) {
        if (copy[i] == '\0') {
            copy[i] = '\1';

        } else if (i + 2 < len
                   && copy[i] == '%' && copy[i + 1] == '0'
                   && copy[i + 2] == '0')
        {
            copy[i + 2] = '1';
        }
    }

    list = NULL;

    switch (uriDissectQueryMallocExA(&list, &count, copy, copy + len,
                                     URI_TRUE, URI_BR_DONT_TOUCH))
    {
    case URI_SUCCESS:
        break;

    case URI_ERROR_MALLOC:
        rc = FIB_ERR_NOMEM;
        goto done;

    default:
        rc = FIB_ERR_QUERY;
        goto done;
    }

    found = 0;
    value = NULL;

    for (item = list; item != NULL; item = item->next) {
        if (strcmp(item->key, "num") == 0) {
            found++;
            value = item->value;
        }
    }

    if (found == 0) {
        rc = FIB_ERR_MISSING;
        goto done;
    }

    if (found > 1) {
        rc = FIB_ERR_DUPLICATE;
        goto done;
    }

    if (value == NULL || value[0] == '\0') {
        rc = FIB_ERR_NO_VALUE;
        goto done;
    }

    v = 0;
    rc = FIB_OK;

    for (p = value; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            rc = FIB_ERR_NOT_DIGITS;
            goto done;
        }

        if (rc == FIB_ERR_TOO_BIG) {
            /* keep scanning: a non-digit later is the clearer error */
            continue;
        }

        if (v > (UINT64_MAX - (uint64_t) (*p - '0')) / 10) {
            rc = FIB_ERR_TOO_BIG;
            continue;
        }

        v = v * 10 + (uint64_t) (*p - '0');
    }

    if (rc == FIB_OK) {
        *num = v;
    }

done:

    uriFreeQueryListA(list);

    if (copy != buf) {
        free(copy);
    }

    return rc;
}


const char *
fib_strerror(fib_rc_t rc)
{
    if ((size_t) rc >= sizeof(fib_errors) / sizeof(fib_errors[0])) {
        return "unknown error";
    }

    return fib_errors[rc];
}


const char *
fib_algorithm_name(fib_algorithm_t algorithm)
{
    return fib_algorithms[algorithm];
}


int
fib_algorithm_by_name(const char *name, size_t len,
    fib_algorithm_t *algorithm)
{
    size_t  i;

    for (i = 0; i < sizeof(fib_algorithms) / sizeof(fib_algorithms[0]); i++) {
        if (strlen(fib_algorithms[i]) == len
            && memcmp(fib_algorithms[i], name, len) == 0)
        {
            *algorithm = (fib_algorithm_t) i;
            return 0;
        }
    }

    return -1;
}


uint64_t
fib_algorithm_max(fib_algorithm_t algorithm)
{
    return algorithm == FIB_RECURSIVE ? FIB_RECURSIVE_MAX : FIB_BIG_MAX;
}


/*
 * Whether the computation must stop now, and why, in job->rc: a
 * cancellation, an exiting process, or the deadline.  Called only where
 * a lot of work lies ahead, so the clock read costs nothing measurable.
 */

static int
fib_stopped(fib_job_t *job)
{
    if (job->rc != FIB_OK) {
        return 1;
    }

    if (atomic_load_explicit(&job->cancel, memory_order_relaxed) != 0
        || (job->stop != NULL && *job->stop))
    {
        job->rc = FIB_ERR_CANCELLED;
        return 1;
    }

    if (job->deadline_ns != 0 && fib_now_ns() >= job->deadline_ns) {
        job->rc = FIB_ERR_TIMEOUT;
        return 1;
    }

    return 0;
}


/*
 * FibServ's naive double recursion, the deliberate exponential cost:
 * the very code of bench/plain.c, so that the compiler makes the same
 * of it (a 64-bit n made gcc build another nest).  It starts on a
 * 64-byte line, as bench/plain.c's does: where the linker happens to put
 * it moves its speed by up to 10 % on its own (README, "Performance").
 */

#if defined(__GNUC__)
__attribute__((aligned(64)))
#endif
static uint64_t
fib_rec(unsigned n)
{
    fib_rec_count();

    if (n < 2) {
        return n;
    }

    return fib_rec(n - 1) + fib_rec(n - 2);
}


/*
 * The few calls at the top of the tree, which poll.  "cold" keeps gcc
 * from inlining fib_rec() into them: each fib_rec(n) below is then one
 * real call that starts the nest at n, as any caller of the plain
 * recursion does, not a loop over fib_rec(n - 1), fib_rec(n - 3), ...
 * that starts it a level lower (up to 4 % more instructions).
 */

#if defined(__GNUC__)
__attribute__((cold))
#endif
static uint64_t
fib_rec_poll(unsigned n, fib_job_t *job)
{
    if (n < FIB_POLL_MIN) {
        return fib_rec(n);
    }

    fib_rec_count();

    if (fib_stopped(job)) {
        return 0;
    }

    return fib_rec_poll(n - 1, job) + fib_rec_poll(n - 2, job);
}


/* FibServ's tail recursion fib(n, a, b) = fib(n - 1, b, a + b) as a loop */

static void
fib_iterative(fib_job_t *job, mpz_t result)
{
    mpz_t     a, b;
    uint64_t  i;

    mpz_init_set_ui(a, 0);
    mpz_init_set_ui(b, 1);

    for (i = 0; i < job->num; i++) {
        if (i % FIB_POLL_STEPS == 0 && fib_stopped(job)) {
            break;
        }

        mpz_add(a, a, b);
        mpz_swap(a, b);
    }

    mpz_swap(result, a);

    mpz_clear(a);
    mpz_clear(b);
}


/*
 * Estimated CPU nanoseconds of one computation on a current x86-64 core,
 * decimal conversion included; calibrated with t/unit/calibrate.c.
 * Only the dispatch between inline and thread pool depends on it, so it
 * is deliberately simple and errs on the side of "heavy".
 */

uint64_t
fib_cost_ns(fib_algorithm_t algorithm, uint64_t n)
{
    double    calls, bits, decimal, cost, f, g, t;
    uint64_t  i;

    if (n > fib_algorithm_max(algorithm)) {
        return FIB_COST_MAX;
    }

    if (algorithm == FIB_RECURSIVE) {
        /*
         * The call tree has 2 F(n+1) - 1 nodes.  F(n+1) by n additions:
         * pow() cost a cheap request more instructions than all of them.
         */
        f = 0;
        g = 1;

        for (i = 0; i < n; i++) {
            t = f + g;
            f = g;
            g = t;
        }

        calls = 2 * g - 1;

        cost = 150 + calls * FIB_NS_PER_CALL;

    } else {
        /* both GMP algorithms end in GMP's subquadratic conversion */
        bits = (double) n * 0.6942419136306174 + 1;
        decimal = bits * log2(bits) * log2(bits) * 0.07;

        if (algorithm == FIB_ITERATIVE) {
            /* n additions of numbers growing to `bits` bits */
            cost = 200 + (double) n * 14 + (double) n * bits / 128 * 0.5
                   + decimal;

        } else {
            cost = 200 + (double) n * 0.5 + decimal;
        }
    }

    /*
     * Converting a double at or above 2^64 to uint64_t is undefined
     * (it came out small once, and F(93) ran on the event loop).
     */
    return cost < 1.8e19 ? (uint64_t) cost : FIB_COST_MAX;
}


/*
 * The decimal length of F(n): for n >= 2, F(n) is phi^n / sqrt(5)
 * rounded, so it has floor(n log10 phi - log10 sqrt(5)) + 1 digits.
 * Where the logarithm is too close to an integer for long double to be
 * sure, GMP settles it.
 */

size_t
fib_digits(uint64_t n)
{
    mpz_t        z, p;
    size_t       digits;
    long double  l, f;

    if (n < 2) {
        return 1;
    }

    l = (long double) n * FIB_LOG10_PHI - FIB_LOG10_SQRT5;
    f = l - floorl(l);
    digits = (size_t) floorl(l) + 1;

    if ((f > FIB_DIGITS_EPSILON && f < 1 - FIB_DIGITS_EPSILON)
        || n > FIB_BIG_MAX)
    {
        /* beyond FIB_BIG_MAX nothing is computed: an estimate will do */
        return digits;
    }

    mpz_init(z);
    mpz_init(p);
    mpz_fib_ui(z, (unsigned long) n);

    /* mpz_sizeinbase() is exact or one too big */
    digits = mpz_sizeinbase(z, 10);
    mpz_ui_pow_ui(p, 10, digits - 1);

    if (mpz_cmp(z, p) < 0) {
        digits--;
    }

    mpz_clear(z);
    mpz_clear(p);

    return digits;
}


/*
 * The caller's buffer holds fib_digits(n) + 2 bytes: the digits, the
 * "\n", and room for the NUL that mpz_get_str() writes.
 */

size_t
fib_out_size(uint64_t n)
{
    return fib_digits(n) + 2;
}


/*
 * Memory a computation needs besides its result, at most: GMP's numbers
 * and the temporaries of its decimal conversion, a few times the size
 * of F(n) in binary.
 */

size_t
fib_work_size(fib_algorithm_t algorithm, uint64_t n)
{
    if (algorithm == FIB_RECURSIVE) {
        return 0;
    }

    if (n > FIB_BIG_MAX) {
        n = FIB_BIG_MAX;
    }

    return 4 * ((size_t) (n * 0.6942419136306174 / 8) + 64);
}


static void
fib_decimal(fib_job_t *job, mpz_t z)
{
    size_t  digits;

    digits = fib_digits(job->num);

    /* mpz_sizeinbase() is exact or one too big: never past the buffer */

    if (mpz_sizeinbase(z, 10) > digits + 1) {
        job->rc = FIB_ERR_INTERNAL;
        return;
    }

    mpz_get_str(job->out, 10, z);

    if (strlen(job->out) != digits) {
        job->rc = FIB_ERR_INTERNAL;
        return;
    }

    job->out[digits] = '\n';
    job->len = digits + 1;
}


static void
fib_decimal_u64(fib_job_t *job, uint64_t v)
{
    char    *p;
    size_t   digits;

    digits = fib_digits(job->num);

    /* written backwards from the last digit */

    job->out[digits] = '\n';
    p = job->out + digits;

    do {
        *--p = (char) ('0' + v % 10);
        v /= 10;
    } while (v != 0 && p > job->out);

    if (v != 0 || p != job->out) {
        job->rc = FIB_ERR_INTERNAL;
        return;
    }

    job->len = digits + 1;
}


uint64_t
fib_now_ns(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000000 + (uint64_t) ts.tv_nsec;
}


void
fib_job_init(fib_job_t *job, fib_algorithm_t algorithm, uint64_t num,
    char *out)
{
    memset(job, 0, sizeof(fib_job_t));

    job->algorithm = algorithm;
    job->num = num;
    job->out = out;

    atomic_init(&job->cancel, 0);
}


/*
 * Runs one job: touches nothing but the job and its buffer, so it may
 * run on any thread.
 */

void
fib_job_run(fib_job_t *job)
{
    mpz_t     z;
    uint64_t  start, v;

    start = fib_now_ns();

    job->start_ns = start;
    job->rc = FIB_OK;
    job->len = 0;

    if (job->num > fib_algorithm_max(job->algorithm)) {
        job->rc = FIB_ERR_TOO_BIG;
        goto done;
    }

    if (fib_stopped(job)) {
        goto done;
    }

    if (job->algorithm == FIB_RECURSIVE) {
        v = fib_rec_poll((unsigned) job->num, job);

        if (!fib_stopped(job)) {
            fib_decimal_u64(job, v);
        }

        goto done;
    }

    mpz_init(z);

    if (job->algorithm == FIB_ITERATIVE) {
        fib_iterative(job, z);

    } else {
        /* one GMP call: not cancellable, its limit bounds it */
        mpz_fib_ui(z, (unsigned long) job->num);
    }

    if (!fib_stopped(job)) {
        fib_decimal(job, z);
    }

    mpz_clear(z);

done:

    job->compute_ns = fib_now_ns() - start;
}
