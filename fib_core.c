
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

/*
 * Above this n the naive recursion never runs on an event loop, whatever
 * the cost estimate says: F(40) already takes a quarter of a second.
 */
#define FIB_RECURSIVE_INLINE_MAX  40

/* estimated nanoseconds per call of the naive recursion */
#define FIB_NS_PER_CALL        0.75

/*
 * The iterative loop polls once this many limbs were added (plus one per
 * addition for its fixed cost): a few milliseconds of work at any size,
 * where once per 1024 additions was half a second near F(10^8).
 */
#define FIB_POLL_LIMBS         (1 << 20)

/* split levels: enough for 2^64 digits */
#define FIB_DECIMAL_POWERS     64

/* what GMP allocates whatever n: fib_work_size() adds it */
#define FIB_WORK_FIXED         16384

/* log10 of the golden ratio and of sqrt(5) */
#define FIB_LOG10_PHI          0.20898764024997873376927208923755541L
#define FIB_LOG10_SQRT5        0.34948500216800940239313055263775633L

/* how close to an integer log10 F(n) may be before we check with GMP */
#define FIB_DIGITS_EPSILON     1e-9L


static uint64_t fib_rec(unsigned n);
static uint64_t fib_rec_poll(unsigned n, fib_job_t *job);
static void fib_iterative(fib_job_t *job, mpz_t result);
static void fib_decimal(fib_job_t *job, mpz_t z);
static int fib_decimal_piece(fib_job_t *job, char *out, size_t width,
    mpz_t x, size_t piece, size_t *k, mpz_t *powers);
static int fib_decimal_leaf(fib_job_t *job, char *out, size_t width,
    mpz_t x);
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


/* about a second of one core at most: the limit a pool location has */

uint64_t
fib_default_max(fib_algorithm_t algorithm)
{
    return algorithm == FIB_RECURSIVE ? 42
           : algorithm == FIB_ITERATIVE ? 100000
           : 1000000;
}


/* the largest n that fib_cheap() lets run in the event loop */

uint64_t
fib_inline_max(fib_algorithm_t algorithm, uint64_t cost_ns)
{
    uint64_t  lo, hi, mid;

    /* the estimate grows with n: the last n within it, by bisection */

    lo = 0;
    hi = fib_algorithm_max(algorithm);

    if (!fib_cheap(algorithm, lo, cost_ns)) {
        return 0;
    }

    while (lo < hi) {
        mid = lo + (hi - lo + 1) / 2;

        if (fib_cheap(algorithm, mid, cost_ns)) {
            lo = mid;

        } else {
            hi = mid - 1;
        }
    }

    return lo;
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
    size_t    work;
    uint64_t  i;

    mpz_init_set_ui(a, 0);
    mpz_init_set_ui(b, 1);

    work = FIB_POLL_LIMBS;

    for (i = 0; i < job->num; i++) {
        if (work >= FIB_POLL_LIMBS) {
            if (fib_stopped(job)) {
                break;
            }

            work = 0;
        }

        mpz_add(a, a, b);
        mpz_swap(a, b);

        work += mpz_size(b) + 1;
    }

    mpz_swap(result, a);

    mpz_clear(a);
    mpz_clear(b);
}


/*
 * Estimated CPU nanoseconds of one computation on a current x86-64 core,
 * decimal conversion included, from `bench/corebench` timings.
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

    /* converting a double at or above 2^64 to uint64_t is undefined */
    return cost < 1.8e19 ? (uint64_t) cost : FIB_COST_MAX;
}


/*
 * The one rule for where a computation runs: the event loop when its
 * estimate is within max_cost_ns, except the recursion above a small n,
 * whatever the estimate says, so that no estimate, right or wrong, can
 * put a long computation on an event loop.
 */

int
fib_cheap(fib_algorithm_t algorithm, uint64_t n, uint64_t max_cost_ns)
{
    if (algorithm == FIB_RECURSIVE && n > FIB_RECURSIVE_INLINE_MAX) {
        return 0;
    }

    return fib_cost_ns(algorithm, n) <= max_cost_ns;
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
 * "\n", and a byte to spare.
 */

size_t
fib_out_size(uint64_t n)
{
    return fib_digits(n) + 2;
}


/*
 * Memory a computation needs besides its result, at most: what GMP
 * allocates at its peak, measured with mp_set_memory_functions() by
 * t/unit/test_fib_core.c over the whole range of n.  With B the size of
 * F(n) in binary (0.087 bytes per n):
 *
 *   fast: mpz_fib_ui() peaks at 5.3 B; the decimal conversion at 6.9 B,
 *   F(n) included (during its first division: F(n), both parts, GMP's
 *   normalized copies and scratch, the powers of 5), plus the string of
 *   one piece, at most FIB_DECIMAL_PIECE digits.
 *   iterative: the loop holds a, b and a grown copy of one of them, 3 B
 *   at most; then the same conversion of the same F(n).
 *
 * So 7.5 B, the string of one piece and GMP's small fixed allocations
 * bound both, with 8 % to spare for GMP's tuning on other processors.
 */

size_t
fib_work_size(fib_algorithm_t algorithm, uint64_t n)
{
    size_t  binary, piece;

    if (algorithm == FIB_RECURSIVE) {
        return 0;
    }

    if (n > FIB_BIG_MAX) {
        n = FIB_BIG_MAX;
    }

    /* in whole limbs, as GMP allocates it, and one limb more */
    binary = ((size_t) ((double) n * 0.6942419136306174) / 64 + 2) * 8;

    /* the digits of F(n), or one more */
    piece = (size_t) ((double) n * 0.20898764024997873) + 2;

    if (piece > FIB_DECIMAL_PIECE) {
        piece = FIB_DECIMAL_PIECE;
    }

    return binary * 15 / 2 + piece + 1 + FIB_WORK_FIXED;
}


static void
fib_decimal(fib_job_t *job, mpz_t z)
{
    size_t  digits;

    digits = fib_digits(job->num);

    if (fib_decimal_split(job, job->out, digits, z, FIB_DECIMAL_PIECE) != 0)
    {
        return;
    }

    /* a leading zero: fib_digits() was one too big */

    if (digits > 1 && job->out[0] == '0') {
        job->rc = FIB_ERR_INTERNAL;
        return;
    }

    job->out[digits] = '\n';
    job->len = digits + 1;
}


/*
 * The decimal digits of z, which must be below 10^digits, as exactly
 * "digits" characters at out, zero-padded on the left, no NUL.  One
 * mpz_get_str() of F(10^8) takes seconds that nothing can interrupt, so
 * z is divided by 10^k into a high and a low part, recursively, each
 * converted on its own, with fib_stopped() polled before each: GMP's
 * own conversion makes the same divisions inside one call.
 *
 * The split points halve the width, level by level: k[0] = ceil(d / 2),
 * k[j + 1] = ceil(k[j] / 2); a piece of level j is at most 2 k[j] digits
 * wide and its low part has exactly k[j].  So one table of powers serves
 * every piece, and the parts stay balanced (GMP's conversion is up to
 * 15 % slower on sizes it splits unevenly).  A piece reads only the
 * table and writes only its own digits: pieces may be converted in any
 * order, on any thread.  z is left 0 and its memory freed on the way.
 * Returns 0, or -1 with the reason in job->rc.
 */

int
fib_decimal_split(fib_job_t *job, char *out, size_t digits, mpz_t z,
    size_t piece)
{
    int     rc;
    mpz_t   powers[FIB_DECIMAL_POWERS];
    size_t  j, n, k[FIB_DECIMAL_POWERS];

    if (piece == 0) {
        piece = FIB_DECIMAL_PIECE;
    }

    /* the split points of every level whose pieces can exceed "piece" */

    n = 0;

    for (j = digits; j > piece; j = k[n++]) {
        if (n == FIB_DECIMAL_POWERS) {
            job->rc = FIB_ERR_INTERNAL;
            return -1;
        }

        k[n] = j / 2 + j % 2;
    }

    for (j = 0; j < n; j++) {
        mpz_init(powers[j]);
    }

    /*
     * powers[j] = 5^k[j], the smallest first, each from the next: the
     * low k bits of x go straight to the low part, and only x / 2^k is
     * divided by 5^k, a third smaller than 10^k (GMP's conversion strips
     * the zero limbs of its powers for the same reason).
     */

    rc = 0;

    for (j = n; j-- > 0; /* void */) {
        if (fib_stopped(job)) {
            rc = -1;
            break;
        }

        if (j == n - 1) {
            mpz_ui_pow_ui(powers[j], 5, k[j]);
            continue;
        }

        mpz_mul(powers[j], powers[j + 1], powers[j + 1]);

        if (k[j] != 2 * k[j + 1]) {
            mpz_divexact_ui(powers[j], powers[j], 5);
        }
    }

    if (rc == 0) {
        rc = fib_decimal_piece(job, out, digits, z, piece, k, powers);
    }

    for (j = 0; j < n; j++) {
        mpz_clear(powers[j]);
    }

    return rc;
}


/*
 * One piece of fib_decimal_split(): 0 <= x < 10^width, left 0 and freed;
 * k and powers start at the piece's level.
 */

static int
fib_decimal_piece(fib_job_t *job, char *out, size_t width, mpz_t x,
    size_t piece, size_t *k, mpz_t *powers)
{
    int     rc;
    mpz_t   q, r, low;

    if (fib_stopped(job)) {
        return -1;
    }

    if (width <= piece) {
        rc = fib_decimal_leaf(job, out, width, x);

        mpz_clear(x);
        mpz_init(x);

        return rc;
    }

    /* a piece narrower than its level's split point belongs further down */

    while (width <= k[0]) {
        k++;
        powers++;
    }

    /* x = q 10^k + r: x = (q 5^k + r') 2^k + low, r = r' 2^k + low */

    mpz_init(q);
    mpz_init(r);
    mpz_init(low);

    mpz_tdiv_r_2exp(low, x, k[0]);
    mpz_tdiv_q_2exp(x, x, k[0]);
    mpz_tdiv_qr(q, r, x, powers[0]);

    /* x is no longer needed: its parts hold it */

    mpz_clear(x);
    mpz_init(x);

    mpz_mul_2exp(r, r, k[0]);
    mpz_add(r, r, low);
    mpz_clear(low);

    rc = fib_decimal_piece(job, out, width - k[0], q, piece, k + 1,
                           powers + 1);

    if (rc == 0) {
        rc = fib_decimal_piece(job, out + width - k[0], k[0], r, piece,
                               k + 1, powers + 1);
    }

    mpz_clear(q);
    mpz_clear(r);

    return rc;
}


static int
fib_decimal_leaf(fib_job_t *job, char *out, size_t width, mpz_t x)
{
    char    *s;
    size_t   len;
    void   (*free_func)(void *, size_t);

    if (mpz_sgn(x) < 0 || mpz_sizeinbase(x, 10) > width + 1) {
        job->rc = FIB_ERR_INTERNAL;
        return -1;
    }

    /*
     * Converted apart, not in place: mpz_get_str() writes a NUL after
     * the digits, into the next piece's first digit.  GMP allocates the
     * string (strlen + 1 bytes) with its own allocator.
     */

    s = mpz_get_str(NULL, 10, x);
    len = strlen(s);

    if (len <= width) {
        memset(out, '0', width - len);
        memcpy(out + width - len, s, len);
    }

    mp_get_memory_functions(NULL, NULL, &free_func);
    free_func(s, len + 1);

    if (len > width) {
        job->rc = FIB_ERR_INTERNAL;
        return -1;
    }

    return 0;
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


/* now + timeout, saturated: no deadline wraps into the past */

uint64_t
fib_deadline_ns(uint64_t now_ns, uint64_t timeout_ms)
{
    if (timeout_ms >= (UINT64_MAX - now_ns) / 1000000) {
        return UINT64_MAX;
    }

    return now_ns + timeout_ms * 1000000;
}


void
fib_job_init(fib_job_t *job, fib_algorithm_t algorithm, uint64_t num,
    char *out, uint64_t deadline_ns, volatile sig_atomic_t *stop)
{
    memset(job, 0, sizeof(fib_job_t));

    job->algorithm = algorithm;
    job->num = num;
    job->out = out;
    job->deadline_ns = deadline_ns;
    job->stop = stop;

    atomic_init(&job->cancel, 0);
}


/* from any thread; whether this call is the one that cancelled it */

int
fib_job_cancel(fib_job_t *job)
{
    return atomic_exchange(&job->cancel, 1) == 0;
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
        /*
         * One GMP call that cannot be interrupted: 0.35 s at F(10^8), its
         * limit; the conversion that follows is split and polls.
         */
        mpz_fib_ui(z, (unsigned long) job->num);
    }

    if (!fib_stopped(job)) {
        fib_decimal(job, z);
    }

    mpz_clear(z);

done:

    job->compute_ns = fib_now_ns() - start;
}
