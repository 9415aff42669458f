
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

/* the decimal engine needs 64-bit limbs and 128-bit integers */
#if (GMP_LIMB_BITS == 64 && defined __SIZEOF_INT128__)
#define FIB_HAVE_DECIMAL       1
#else
#define FIB_HAVE_DECIMAL       0
#endif

/*
 * A product of the decimal engine whose shorter factor has this many
 * limbs or more (the last one of F(n) from n = 6.02 10^7 on) is made of
 * three, so that the job can poll between them (fib_mpn_mul())
 */
#define FIB_DEC_MUL_SPLIT      393216

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
static int fib_poll(fib_job_t *job, fib_rc_t *rc);
static int fib_stopped(fib_job_t *job);
static void fib_fast_start(fib_fast_t *fast, fib_job_t *job,
    size_t split_min, int decimal);


#if (FIB_TEST_HOOKS)
uint64_t  fib_rec_calls;
size_t    fib_mul_split = FIB_DEC_MUL_SPLIT;
uint64_t  fib_polls;
uint64_t  fib_polls_max = UINT64_MAX;
#define fib_rec_count()        fib_rec_calls++
#else
#define fib_rec_count()
#define fib_mul_split          FIB_DEC_MUL_SPLIT
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
 * Whether the computation must stop now, and why, in *rc: a
 * cancellation, an exiting process, or the deadline.  Called only where
 * a lot of work lies ahead, so the clock read costs nothing measurable.
 * It reads the job and writes only *rc: the pieces of one step poll
 * at once, each into its own result (fib_fast_piece()), and the step
 * that follows, alone, sets job->rc from them.
 */

static int
fib_poll(fib_job_t *job, fib_rc_t *rc)
{
    if (*rc != FIB_OK) {
        return 1;
    }

#if (FIB_TEST_HOOKS)
    if (__atomic_add_fetch(&fib_polls, 1, __ATOMIC_RELAXED) > fib_polls_max) {
        *rc = FIB_ERR_CANCELLED;
        return 1;
    }
#endif

    if (atomic_load_explicit(&job->cancel, memory_order_relaxed) != 0
        || (job->stop != NULL && *job->stop))
    {
        *rc = FIB_ERR_CANCELLED;
        return 1;
    }

    if (job->deadline_ns != 0 && fib_now_ns() >= job->deadline_ns) {
        *rc = FIB_ERR_TIMEOUT;
        return 1;
    }

    return 0;
}


/* the same, for whoever runs the job alone: the reason in job->rc */

static int
fib_stopped(fib_job_t *job)
{
    return fib_poll(job, &job->rc);
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

        if (FIB_HAVE_DECIMAL && algorithm == FIB_FAST
            && n >= FIB_FAST_DECIMAL_MIN)
        {
            /*
             * Decimal throughout: products of numbers 1.2 times the
             * binary size, no conversion.  Never below the estimate
             * where the binary path ends, so that the estimate never
             * decreases (F(20000): 0.2 ms; the decimal one passes it
             * near 34000, and is 10 ms at 10^6, 1.9 s at 10^8).
             */
            decimal = bits * log2(bits) * log2(bits) * 0.04;

            bits = (double) FIB_FAST_DECIMAL_MIN * 0.6942419136306174 + 1;
            t = 200 + (double) FIB_FAST_DECIMAL_MIN * 0.5
                + bits * log2(bits) * log2(bits) * 0.07;

            cost = decimal > t ? decimal : t;
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
 *
 * fast from FIB_FAST_DECIMAL_MIN on, decimal throughout, with D the size
 * of F(n) in limbs of 10^16 (0.105 bytes per n): the peak is in the last
 * step's product, its two factors (D / 2 each), the product (D), P- (D)
 * and mpn_mul()'s scratch (up to 3.5 D), or in the step before, whose
 * squares are half as big but mpn_sqr()'s scratch relatively bigger.
 * Measured: 3.0 D at 2 10^4 to 10^5, 4.0 D up to 1.25 10^6, 6.3 D at
 * most from 2.7 10^6 to 6 10^7, 5.7 D above, where the last product is
 * made of three smaller ones (fib_mpn_mul()).
 *
 * Driven step by step (fib_fast_piece()), with every piece of a step
 * running at once, each holds its own buffers and GMP's scratch: the
 * last product's two halves each keep a product (D) and mpn_mul()'s
 * scratch, and the second its factors with alternate signs (D), beside
 * the factors (D).  Measured as the live memory at each step's start
 * plus every piece's own peak: 3.0 D to 6.4 D below 2.7 10^6, 10.2 D to
 * 10.6 D from there to 6 10^7, 9.1 D to 9.5 D above, every step split or
 * only those from FIB_FAST_SPLIT_MIN on.  12 D bounds both ways, 13 % to
 * spare.
 */

size_t
fib_work_size(fib_algorithm_t algorithm, uint64_t n)
{
    size_t  binary, decimal, piece;

    if (algorithm == FIB_RECURSIVE) {
        return 0;
    }

    if (n > FIB_BIG_MAX) {
        n = FIB_BIG_MAX;
    }

    if (FIB_HAVE_DECIMAL && algorithm == FIB_FAST
        && n >= FIB_FAST_DECIMAL_MIN)
    {
        /* the limbs of F(n), and one more */
        decimal = ((size_t) ((double) n * 0.20898764024997873) / 16 + 2)
                  * 8 * 12 + FIB_WORK_FIXED;

        /*
         * Never less than the binary path takes just below the switch:
         * what one F(n) is charged must not fall as n grows, since
         * nginx -t checks fib_max_memory at the limit alone.
         */
        binary = fib_work_size(FIB_ITERATIVE, FIB_FAST_DECIMAL_MIN - 1);

        return decimal > binary ? decimal : binary;
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
 * fast in binary: one mpz_fib_ui(), which cannot be interrupted but
 * takes little below FIB_FAST_DECIMAL_MIN, then the conversion, which
 * polls.
 */

void
fib_fast_binary(fib_job_t *job)
{
    mpz_t  z;

    mpz_init(z);
    mpz_fib_ui(z, (unsigned long) job->num);

    if (!fib_stopped(job)) {
        fib_decimal(job, z);
    }

    mpz_clear(z);
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


/*
 * {{{ fast in decimal: F(n) computed in base 10^16, nothing to convert
 *
 * Numbers are arrays of limbs in base 10^16, least significant first,
 * one limb per 64-bit word.  A step of fast doubling, from F(k) and
 * F(k-1), squares both (as GMP's mpz_fib_ui() does):
 *
 *   F(2k+1) = 4 F(k)^2 - F(k-1)^2 + 2 (-1)^k
 *   F(2k-1) = F(k)^2 + F(k-1)^2
 *   F(2k)   = F(2k+1) - F(2k-1)
 *
 * The two squarings are independent (fib_dec_sqr(), one each, may run
 * on two threads); everything else is linear.  The last step, which
 * needs F(n) alone, is one product instead (fib_dec_last()).  The job
 * polls before each squaring and product and between the two GMP calls
 * each makes, and inside the largest products (fib_mpn_mul()): at 10^8
 * the longest stretch without a look is one GMP call of about 0.16 s.
 */

typedef struct {
    mp_limb_t  *limb;
    size_t      len;          /* the top limb is nonzero, or len is 1 */
    size_t      size;         /* limbs allocated */
} fib_dec_t;


/*
 * Where a computation driven step by step stands: the step whose pieces
 * run next.  Only fib_fast_next() changes it, between steps.
 */

typedef enum {
    FIB_FAST_WHOLE = 0,       /* 1 piece: all steps below split_min */
    FIB_FAST_SQUARES,         /* 2 pieces: F(k)^2 and F(k-1)^2 */
    FIB_FAST_DOUBLE,          /* 1 piece: the squares to F(2k+b), ... */
    FIB_FAST_PRODUCT,         /* 2 pieces: P+ and P- of the last product */
    FIB_FAST_FINISH,          /* 1 piece: the product to F(n) */
    FIB_FAST_WRITE,           /* 2 pieces: F(n)'s digits, in two halves */
    FIB_FAST_DONE
} fib_fast_state_e;


/*
 * One computation of fast, step by step.  During a step, piece i writes
 * only rc[i], ns[i] and the numbers the piece owns (SQUARES: f[i] and
 * s[i]; PRODUCT 0: s[0]; PRODUCT 1: s[1] and neg; WRITE: its own part
 * of job->out), and reads the rest; a step of one piece owns
 * everything.
 */

struct fib_fast_s {
    fib_job_t          *job;
    size_t              split_min;
    fib_fast_state_e    state;
    unsigned            pieces;
    int                 decimal;
    int                 seeded;
    int                 shift;        /* the bits of n below k */
    int                 neg;
    uint64_t            k;            /* f[0] = F(k), f[1] = F(k-1) */
    size_t              room;         /* limbs of each square */
    size_t              len;          /* of the result, once written */
    fib_rc_t            rc[FIB_FAST_PIECES];
    uint64_t            ns[FIB_FAST_PIECES];
    fib_dec_t           f[2];
    fib_dec_t           s[2];
    fib_dec_t           x;            /* the last product's factors */
    fib_dec_t           y;
};


#if (FIB_HAVE_DECIMAL)

typedef unsigned __int128  fib_u128_t;

#define FIB_DEC_BASE           10000000000000000ULL
#define FIB_DEC_DIGITS         16

/* 10^16 << 10 has its top bit set: the divisor fib_dec_divmod() needs */
#define FIB_DEC_SHIFT          10

/* F(k) for k below 2^FIB_DEC_SEED_BITS comes from GMP, then doubles */
#define FIB_DEC_SEED_BITS      12


static void *fib_alloc(size_t size);
static void fib_free(void *p, size_t size);
static void fib_dec_new(fib_dec_t *x, size_t size);
static void fib_dec_trim(fib_dec_t *x);
static void fib_dec_free(fib_dec_t *x);
static void fib_dec_from_mpz(fib_dec_t *x, mpz_t z);
static int fib_dec_sqr(fib_job_t *job, fib_rc_t *rc, mp_limb_t *out,
    const mp_limb_t *in, size_t n);
static int fib_dec_mul(fib_job_t *job, fib_rc_t *rc, mp_limb_t *out,
    const mp_limb_t *x, size_t nx, const mp_limb_t *y, size_t ny);
static int fib_mpn_mul(fib_job_t *job, fib_rc_t *rc, mp_limb_t *out,
    const mp_limb_t *x, size_t nx, const mp_limb_t *y, size_t ny);
static void fib_dec_combine(mp_limb_t *out, mp_limb_t *q, size_t m,
    int neg);
static int fib_dec_alternate(mp_limb_t *y, const mp_limb_t *a, size_t n);
static void fib_dec_carry(mp_limb_t *e, const mp_limb_t *o, size_t m);
static int fib_dec_double(mp_limb_t *a, mp_limb_t *b, size_t len, int odd,
    int bit);
static void fib_fast_whole(fib_fast_t *fast);
static void fib_fast_seed(fib_fast_t *fast);
static void fib_fast_square(fib_fast_t *fast, unsigned i, fib_rc_t *rc);
static int fib_fast_double(fib_fast_t *fast);
static int fib_fast_factors(fib_fast_t *fast);
static void fib_fast_product(fib_fast_t *fast, unsigned i);
static void fib_fast_finish(fib_fast_t *fast);
static void fib_fast_write(fib_fast_t *fast, unsigned i);
static void fib_dec_put16(char *p, mp_limb_t v);
static int fib_fast_last(fib_fast_t *fast, fib_dec_t *r);
static int fib_dec_sum(fib_dec_t *r, const fib_dec_t *a, int64_t ca,
    const fib_dec_t *b, int64_t cb, int64_t c);
static int fib_dec_write(const fib_dec_t *x, uint64_t n, char *out,
    size_t *len);


/*
 * Every buffer of the engine comes from GMP's memory functions, as GMP's
 * own temporaries do: whoever measures or replaces those sees them all.
 */

static void *
fib_alloc(size_t size)
{
    void  *(*alloc_func)(size_t);

    mp_get_memory_functions(&alloc_func, NULL, NULL);

    return alloc_func(size);
}


static void
fib_free(void *p, size_t size)
{
    void  (*free_func)(void *, size_t);

    if (p != NULL) {
        mp_get_memory_functions(NULL, NULL, &free_func);
        free_func(p, size);
    }
}


/* GMP's allocation functions never return NULL: they abort */

static void
fib_dec_new(fib_dec_t *x, size_t size)
{
    x->limb = fib_alloc(size * sizeof(mp_limb_t));
    x->len = 1;
    x->size = size;
}


static void
fib_dec_free(fib_dec_t *x)
{
    fib_free(x->limb, x->size * sizeof(mp_limb_t));
    x->limb = NULL;
    x->size = 0;
}


static void
fib_dec_trim(fib_dec_t *x)
{
    while (x->len > 1 && x->limb[x->len - 1] == 0) {
        x->len--;
    }
}


/* a small z (the seed) into base 10^16 limbs, through its digits */

static void
fib_dec_from_mpz(fib_dec_t *x, mpz_t z)
{
    char       *s;
    size_t      len, i, j, lo;
    mp_limb_t   v;

    s = mpz_get_str(NULL, 10, z);
    len = strlen(s);

    x->len = (len + FIB_DEC_DIGITS - 1) / FIB_DEC_DIGITS;

    for (i = 0; i < x->len; i++) {
        lo = len > (i + 1) * FIB_DEC_DIGITS ? len - (i + 1) * FIB_DEC_DIGITS
                                            : 0;
        v = 0;

        for (j = lo; j < len - i * FIB_DEC_DIGITS; j++) {
            v = v * 10 + (mp_limb_t) (s[j] - '0');
        }

        x->limb[i] = v;
    }

    fib_free(s, len + 1);
}


/*
 * t / 10^16 into *q and t % 10^16 returned, for any 128-bit t, by
 * multiplication with a precomputed inverse (Moller and Granlund,
 * "Improved division by invariant integers", 2011, algorithm 4): the
 * compiler makes a 128-bit division a library call, up to a hundred
 * cycles, and the carry pass divides once per coefficient.
 */

static inline mp_limb_t
fib_dec_divmod(fib_u128_t t, fib_u128_t *q, uint64_t inv)
{
    uint64_t    hi, lo, qh, u1, u0, q1, r, d;
    fib_u128_t  p;

    d = FIB_DEC_BASE << FIB_DEC_SHIFT;

    hi = (uint64_t) (t >> 64);
    lo = (uint64_t) t;

    /* a 64-bit division by a constant: a multiplication */
    qh = hi / FIB_DEC_BASE;
    hi -= qh * FIB_DEC_BASE;

    /* (hi, lo) / 10^16, normalized: hi < 10^16, so u1 < d */

    u1 = hi << FIB_DEC_SHIFT | lo >> (64 - FIB_DEC_SHIFT);
    u0 = lo << FIB_DEC_SHIFT;

    p = (fib_u128_t) inv * u1 + ((fib_u128_t) u1 << 64 | u0);
    q1 = (uint64_t) (p >> 64) + 1;
    r = u0 - q1 * d;

    if (r > (uint64_t) p) {
        q1--;
        r += d;
    }

    if (r >= d) {
        q1++;
        r -= d;
    }

    *q = (fib_u128_t) qh << 64 | q1;

    return r >> FIB_DEC_SHIFT;
}


/*
 * One squaring: out[0 .. 2n - 1] = in[0 .. n - 1]^2, both in base
 * 10^16.  It reads "in", writes "out", allocates its own temporaries
 * and polls the job, and touches nothing else: the two squarings of a
 * step may run at once, on two threads.  Returns 0, or -1 when the job
 * stopped (out is then garbage).
 */

static int
fib_dec_sqr(fib_job_t *job, fib_rc_t *rc, mp_limb_t *out,
    const mp_limb_t *in, size_t n)
{
    return fib_dec_mul(job, rc, out, in, n, in, n);
}


/*
 * One product, out[0 .. nx + ny - 1] = x y, in base 10^16, x == y (and
 * nx == ny) for a square; the same contract as fib_dec_sqr().
 *
 * Kronecker substitution, evaluated at both 2^64 and -2^64 (Harvey,
 * "Faster polynomial multiplication via multipoint Kronecker
 * substitution", 2009).  With x(t) = sum x[i] t^i, y(t) likewise and
 * c = x y, the limbs as they are make the number x(2^64), and
 *
 *   P+ = x(2^64) y(2^64)   = sum c[j] 2^64j
 *   P- = x(-2^64) y(-2^64) = sum (-1)^j c[j] 2^64j
 *
 * so (P+ + P-) / 2 holds the even c[j] in 128-bit slots, (P+ - P-) / 2
 * the odd ones.  Each product is as long as the numbers: two squarings
 * of n words cost less than one of 2n words with the limbs spread into
 * 128-bit slots (at F(10^8): 0.45 s against 0.52 s), and each is one
 * GMP call of half the time (a large product three, fib_mpn_mul()),
 * between which the job polls.
 *
 * A slot of 128 bits holds every coefficient while c[j] < n 10^32 <
 * 2^128, n the shorter length: n < 3.4 10^6 limbs, F(k) of up to 54
 * million digits, k up to 2.6 10^8, so n up to 5.2 10^8.  At
 * FIB_BIG_MAX the longest factor is F(5 10^7) (or 2 F(k) + F(k-1)),
 * 653,087 limbs: c[j] < 6.6 10^37 < 2^127.  A larger n would need wider
 * slots: evaluate at 2^(64+s) and -2^(64+s) with the limbs spread
 * apart, or limbs of 10^15.
 */

static int
fib_dec_mul(fib_job_t *job, fib_rc_t *rc, mp_limb_t *out,
    const mp_limb_t *x, size_t nx, const mp_limb_t *y, size_t ny)
{
    int               neg;
    size_t            m, t;
    mp_limb_t        *q;
    const mp_limb_t  *p;

    if (nx < ny) {
        p = x;
        x = y;
        y = p;
        t = nx;
        nx = ny;
        ny = t;
    }

    m = nx + ny;

    /* x(-2^64) and y(-2^64) in out, which P+ overwrites only later */

    q = fib_alloc(m * sizeof(mp_limb_t));

    if (x == y) {
        fib_dec_alternate(out + nx, x, nx);
        p = out + nx;
        neg = 0;

    } else {
        neg = fib_dec_alternate(out, x, nx);
        neg ^= fib_dec_alternate(out + nx, y, ny);
        p = out;
    }

    if (fib_mpn_mul(job, rc, q, p, nx, x == y ? p : out + nx, ny) != 0
        || fib_poll(job, rc)
        || fib_mpn_mul(job, rc, out, x, nx, y, ny) != 0)
    {
        fib_free(q, m * sizeof(mp_limb_t));
        return -1;
    }

    fib_dec_combine(out, q, m, neg);

    fib_free(q, m * sizeof(mp_limb_t));

    return fib_poll(job, rc) ? -1 : 0;
}


/*
 * out[0 .. nx + ny - 1] = x y in binary, nx >= ny, a square when x == y
 * (and nx == ny): one GMP call, which nothing can interrupt, or, for a
 * product from FIB_DEC_MUL_SPLIT limbs of y on, one level of
 * Karatsuba's method, three products of half the size, the job polling
 * between them.  With B = 2^64, x = xh B^h + xl and y = yh B^h + yl:
 *
 *   x y = xh yh B^2h + ((xh + xl)(yh + yl) - xh yh - xl yl) B^h + xl yl
 *
 * Measured on the machine of bench/results/LATEST.md, one thread:
 * at FIB_BIG_MAX the last step's product of 653,087 limbs takes 0.38 s
 * in one call and 0.16 s in each of three, 1.3 times the work; just
 * below FIB_DEC_MUL_SPLIT one takes 0.2 s, and from 2^18 limbs on the
 * three cost 1.35 to 1.45 times the one.  (Two products of x by half
 * of y cost 1.0 to 1.6 times the one, GMP's FFT costing in steps of
 * its transform's size, and take 0.2 s each at FIB_BIG_MAX.)  A square
 * never splits: at FIB_BIG_MAX it has 326,544 limbs at most, 0.12 s.
 * A larger FIB_BIG_MAX would need both split further.
 * Returns 0, or -1 when the job stopped (out is then garbage).
 */

static int
fib_mpn_mul(fib_job_t *job, fib_rc_t *rc, mp_limb_t *out,
    const mp_limb_t *x, size_t nx, const mp_limb_t *y, size_t ny)
{
    size_t      h, lx, ly, lm, size;
    mp_limb_t  *sx, *sy, *sm;

    if (x == y && nx == ny) {
        mpn_sqr(out, x, nx);
        return 0;
    }

    if (ny < fib_mul_split) {
        mpn_mul(out, x, nx, y, ny);
        return 0;
    }

    /* xl yl, then xh yh above it: nx >= ny > h >= ny - h >= 1 */

    h = (ny + 1) / 2;

    mpn_mul(out, x, h, y, h);

    if (fib_poll(job, rc)) {
        return -1;
    }

    mpn_mul(out + 2 * h, x + h, nx - h, y + h, ny - h);

    if (fib_poll(job, rc)) {
        return -1;
    }

    /* xh + xl in lx limbs, yh + yl in ly <= lx, their product in lm */

    lx = (nx - h > h ? nx - h : h) + 1;
    ly = h + 1;
    lm = lx + ly;
    size = (lx + ly + lm) * sizeof(mp_limb_t);

    sx = fib_alloc(size);
    sy = sx + lx;
    sm = sy + ly;

    if (nx - h >= h) {
        sx[lx - 1] = mpn_add(sx, x + h, nx - h, x, h);

    } else {
        sx[lx - 1] = mpn_add(sx, x, h, x + h, nx - h);
    }

    sy[h] = mpn_add(sy, y, h, y + h, ny - h);

    mpn_mul(sm, sx, lx, sy, ly);

    /* less both, xh yl + xl yh: below 2 B^nx <= B^(nx + ny - h) */

    mpn_sub(sm, sm, lm, out, 2 * h);
    mpn_sub(sm, sm, lm, out + 2 * h, nx + ny - 2 * h);

    while (lm > 0 && sm[lm - 1] == 0) {
        lm--;
    }

    if (lm > 0) {
        mpn_add(out + h, out + h, nx + ny - h, sm, lm);
    }

    fib_free(sx, size);

    return 0;
}


/*
 * From P+ in out and |P-| in q, m words each, neg if P- is negative, the
 * product in base 10^16 in out; q is clobbered.  Linear.
 */

static void
fib_dec_combine(mp_limb_t *out, mp_limb_t *q, size_t m, int neg)
{
    mp_limb_t  cy;

    /*
     * T = P+ - P-, the odd O = T / 2, the even E = P+ - O; T may take
     * one bit more than m words when P- is negative, O never does
     */

    if (neg) {
        cy = mpn_add_n(q, out, q, m);

    } else {
        cy = mpn_sub_n(q, out, q, m);
    }

    mpn_rshift(q, q, m, 1);
    q[m - 1] |= cy << (GMP_NUMB_BITS - 1);

    mpn_sub_n(out, out, q, m);

    fib_dec_carry(out, q, m);
}


/*
 * y = |a(-2^64)|: the limbs with alternate signs, in two's complement;
 * returns whether a(-2^64) is negative
 */

static int
fib_dec_alternate(mp_limb_t *y, const mp_limb_t *a, size_t n)
{
    size_t     i;
    mp_limb_t  borrow;

    borrow = 0;

    for (i = 0; i + 1 < n; i += 2) {
        y[i] = a[i] - borrow;
        borrow = a[i] < borrow;

        y[i + 1] = 0 - a[i + 1] - borrow;
        borrow = (a[i + 1] | borrow) != 0;
    }

    if (i < n) {
        y[i] = a[i] - borrow;
        borrow = a[i] < borrow;
    }

    if (borrow) {
        mpn_neg(y, y, n);
    }

    return borrow != 0;
}


/*
 * The carry pass: the m - 1 coefficients c[j], the even ones in e's
 * 128-bit slots from word 0, the odd ones in o's from word 1, become m
 * limbs of 10^16 written over e: limb j is written after e[j] was read.
 */

static void
fib_dec_carry(mp_limb_t *e, const mp_limb_t *o, size_t m)
{
    size_t      j;
    uint64_t    inv;
    fib_u128_t  c, carry;

    inv = (uint64_t) (~(fib_u128_t) 0 / (FIB_DEC_BASE << FIB_DEC_SHIFT));
    carry = 0;

    for (j = 0; j + 2 < m; j += 2) {
        c = ((fib_u128_t) e[j + 1] << 64 | e[j]) + carry;
        e[j] = fib_dec_divmod(c, &carry, inv);

        c = ((fib_u128_t) o[j + 2] << 64 | o[j + 1]) + carry;
        e[j + 1] = fib_dec_divmod(c, &carry, inv);
    }

    if (j + 1 < m) {
        c = ((fib_u128_t) e[j + 1] << 64 | e[j]) + carry;
        e[j] = fib_dec_divmod(c, &carry, inv);
        j++;
    }

    /* below 10^16: the product of m limbs in all has at most m */
    e[j] = (mp_limb_t) carry;
}


/*
 * From a = F(k)^2 and b = F(k-1)^2, "len" limbs each, zero-padded, one
 * more than either has, to F(2k + bit) in a and F(2k + bit - 1) in b:
 *
 *   bit 1: a = 4a - b + s = F(2k+1),  b = 3a - 2b + s = F(2k)
 *   bit 0: a = 3a - 2b + s = F(2k),   b = a + b = F(2k-1)
 *
 * with s = 2 (-1)^k.  Each limb sum lies between -2 10^16 - 2 and
 * 5 10^16: plain 64-bit arithmetic.  Returns -1 if a carry is left
 * over, which cannot happen.
 */

static int
fib_dec_double(mp_limb_t *a, mp_limb_t *b, size_t len, int odd, int bit)
{
    size_t    i;
    int64_t   x, y, u, v, ca, cb, q;
    uint64_t  t;

    ca = odd ? -2 : 2;
    cb = bit ? ca : 0;

    for (i = 0; i < len; i++) {
        x = (int64_t) a[i];
        y = (int64_t) b[i];

        u = (bit ? 4 * x - y : 3 * x - 2 * y) + ca;

        /* floor division, by an unsigned one of u + 3 10^16 >= 0 */
        t = (uint64_t) (u + 3 * (int64_t) FIB_DEC_BASE);
        q = (int64_t) (t / FIB_DEC_BASE);
        a[i] = t - (uint64_t) q * FIB_DEC_BASE;
        ca = q - 3;

        v = (bit ? 3 * x - 2 * y : x + y) + cb;

        t = (uint64_t) (v + 3 * (int64_t) FIB_DEC_BASE);
        q = (int64_t) (t / FIB_DEC_BASE);
        b[i] = t - (uint64_t) q * FIB_DEC_BASE;
        cb = q - 3;
    }

    return (ca != 0 || cb != 0) ? -1 : 0;
}


/*
 * The last step needs F(n) only: one product, where a doubling step
 * makes two squares (GMP's mpz_fib_ui() ends the same way),
 *
 *   F(2k)   = F(k) (F(k) + 2 F(k-1))
 *   F(2k+1) = (2 F(k) + F(k-1)) (2 F(k) - F(k-1)) + 2 (-1)^k
 *
 * a product costing 1.4 to 1.8 squares of its size, not 2.  Its factors
 * x and y are made from f[0] = F(k) and f[1] = F(k-1), which are freed.
 */

static int
fib_fast_factors(fib_fast_t *fast)
{
    int     rc, bit;
    size_t  room;

    bit = fast->shift > 0 ? (int) (fast->job->num & 1) : 0;
    room = fast->f[0].len + 1;

    fib_dec_new(&fast->y, room);

    if (bit) {
        fib_dec_new(&fast->x, room);

        rc = fib_dec_sum(&fast->x, &fast->f[0], 2, &fast->f[1], 1, 0);
        rc |= fib_dec_sum(&fast->y, &fast->f[0], 2, &fast->f[1], -1, 0);

        fib_dec_free(&fast->f[0]);

    } else {
        rc = fib_dec_sum(&fast->y, &fast->f[0], 1, &fast->f[1], 2, 0);

        fast->x = fast->f[0];
        fast->f[0].limb = NULL;
        fast->f[0].size = 0;
    }

    fib_dec_free(&fast->f[1]);

    return rc == 0 ? 0 : -1;
}


/*
 * r, x y in x.len + y.len limbs and one more limb allocated, becomes
 * F(n) in f[0]; x and y are freed.
 */

static int
fib_fast_last(fib_fast_t *fast, fib_dec_t *r)
{
    int  rc;

    rc = 0;

    r->len = fast->x.len + fast->y.len;
    r->limb[r->len] = 0;

    if (fast->job->num & 1) {
        r->len++;
        rc = fib_dec_sum(r, r, 1, r, 0, (fast->k & 1) ? -2 : 2);
    }

    fib_dec_trim(r);

    fast->f[0] = *r;
    r->limb = NULL;
    r->size = 0;

    fib_dec_free(&fast->x);
    fib_dec_free(&fast->y);

    fast->k = fast->job->num;
    fast->shift = 0;

    return rc == 0 ? 0 : -1;
}


/*
 * One piece of the split last product: piece 0 makes P+ = x(2^64)
 * y(2^64) in s[0], piece 1 |P-| = |x(-2^64) y(-2^64)| in s[1] and its
 * sign in neg (see fib_dec_mul()); both read x and y, which nobody
 * writes meanwhile.
 */

static void
fib_fast_product(fib_fast_t *fast, unsigned i)
{
    int              neg;
    size_t           nx, ny, m;
    fib_rc_t        *rc;
    mp_limb_t       *t;
    const fib_dec_t *x, *y, *p;

    rc = &fast->rc[i];

    if (fib_poll(fast->job, rc)) {
        return;
    }

    x = &fast->x;
    y = &fast->y;

    if (x->len < y->len) {
        p = x;
        x = y;
        y = p;
    }

    nx = x->len;
    ny = y->len;
    m = nx + ny;

    /* one limb more: fib_fast_last() may add to the top */
    fib_dec_new(&fast->s[i], m + 1);

    if (i == 0) {
        fib_mpn_mul(fast->job, rc, fast->s[0].limb, x->limb, nx, y->limb,
                    ny);
        return;
    }

    t = fib_alloc(m * sizeof(mp_limb_t));

    neg = fib_dec_alternate(t, x->limb, nx);
    neg ^= fib_dec_alternate(t + nx, y->limb, ny);
    fib_mpn_mul(fast->job, rc, fast->s[1].limb, t, nx, t + nx, ny);

    fib_free(t, m * sizeof(mp_limb_t));

    fast->neg = neg;
}


/*
 * The split last product's end, one piece: P+ and P- to x y in base
 * 10^16 and F(n) in f[0]; frees every other number.  The digits come
 * next, in two pieces: their count is checked here, once.
 */

static void
fib_fast_finish(fib_fast_t *fast)
{
    size_t      t, digits;
    fib_rc_t   *rc;
    mp_limb_t   v;
    fib_dec_t  *x;

    rc = &fast->rc[0];

    if (fib_poll(fast->job, rc)) {
        return;
    }

    fib_dec_combine(fast->s[0].limb, fast->s[1].limb,
                    fast->x.len + fast->y.len, fast->neg);

    fib_dec_free(&fast->s[1]);

    if (fib_fast_last(fast, &fast->s[0]) != 0) {
        *rc = FIB_ERR_INTERNAL;
        return;
    }

    /* as fib_dec_write() checks it: a count other than fib_digits() */

    x = &fast->f[0];
    digits = fib_digits(fast->job->num);

    t = 0;

    for (v = x->limb[x->len - 1]; v != 0; v /= 10) {
        t++;
    }

    if (t == 0 || t + FIB_DEC_DIGITS * (x->len - 1) != digits) {
        *rc = FIB_ERR_INTERNAL;
        return;
    }

    fast->len = digits + 1;
}


/*
 * Half the digits of F(n) in f[0], from job->out on: piece 0 the top
 * limb and the upper half of the others, piece 1 the lower half and the
 * "\n".  Each writes only its own bytes.
 */

static void
fib_fast_write(fib_fast_t *fast, unsigned i)
{
    char             *p, *out;
    size_t            t, h, j;
    mp_limb_t         v;
    const fib_dec_t  *x;

    x = &fast->f[0];
    out = fast->job->out;

    /* the top limb's digits, without leading zeros */

    t = fast->len - 1 - FIB_DEC_DIGITS * (x->len - 1);

    /* limbs [0, h) are piece 1's, [h, len - 1) and the top piece 0's */
    h = (x->len - 1) / 2;

    if (i == 0) {
        v = x->limb[x->len - 1];

        for (j = t; j-- > 0; /* void */) {
            out[j] = (char) ('0' + v % 10);
            v /= 10;
        }

        p = out + t;

        for (j = x->len - 1; j-- > h; /* void */) {
            fib_dec_put16(p, x->limb[j]);
            p += FIB_DEC_DIGITS;
        }

        return;
    }

    p = out + t + FIB_DEC_DIGITS * (x->len - 1 - h);

    for (j = h; j-- > 0; /* void */) {
        fib_dec_put16(p, x->limb[j]);
        p += FIB_DEC_DIGITS;
    }

    *p = '\n';
}


/*
 * r = ca a + cb b + c, with small ca, cb and c, and a result that must
 * not be negative, in r->size limbs at most; r may be a or b.  Returns
 * -1 if it does not fit or would be negative, which cannot happen.
 */

static int
fib_dec_sum(fib_dec_t *r, const fib_dec_t *a, int64_t ca,
    const fib_dec_t *b, int64_t cb, int64_t c)
{
    size_t    i, len;
    int64_t   v, q;
    uint64_t  t;

    len = a->len > b->len ? a->len : b->len;

    if (len > r->size) {
        return -1;
    }

    for (i = 0; i < len; i++) {
        v = c;

        if (i < a->len) {
            v += ca * (int64_t) a->limb[i];
        }

        if (i < b->len) {
            v += cb * (int64_t) b->limb[i];
        }

        /* floor division, by an unsigned one of v + 4 10^16 >= 0 */
        t = (uint64_t) (v + 4 * (int64_t) FIB_DEC_BASE);
        q = (int64_t) (t / FIB_DEC_BASE);
        r->limb[i] = t - (uint64_t) q * FIB_DEC_BASE;
        c = q - 4;
    }

    while (c > 0 && i < r->size) {
        r->limb[i++] = (mp_limb_t) c % FIB_DEC_BASE;
        c /= (int64_t) FIB_DEC_BASE;
    }

    r->len = i;
    fib_dec_trim(r);

    return c == 0 ? 0 : -1;
}


/* 16 digits of v < 10^16, zero-padded */

static void
fib_dec_put16(char *p, mp_limb_t v)
{
    int       i;
    uint32_t  hi, lo;

    static const char  pairs[] =
        "00010203040506070809101112131415161718192021222324"
        "25262728293031323334353637383940414243444546474849"
        "50515253545556575859606162636465666768697071727374"
        "75767778798081828384858687888990919293949596979899";

    hi = (uint32_t) (v / 100000000);
    lo = (uint32_t) (v % 100000000);

    for (i = 6; i >= 0; i -= 2) {
        memcpy(p + i, pairs + 2 * (hi % 100), 2);
        memcpy(p + 8 + i, pairs + 2 * (lo % 100), 2);
        hi /= 100;
        lo /= 100;
    }
}


/*
 * F(n) from its limbs into out: the top limb without leading zeros, the
 * others as 16 digits, then "\n"; *len is the digits and the "\n".  A
 * count other than fib_digits(n) (which may be one too big) is an
 * internal error, as a leading zero is in the binary path: -1.
 */

static int
fib_dec_write(const fib_dec_t *x, uint64_t n, char *out, size_t *len)
{
    char       *p, top[FIB_DEC_DIGITS + 4];
    size_t      digits, t, i;
    mp_limb_t   v;

    digits = fib_digits(n);

    v = x->limb[x->len - 1];
    t = 0;

    do {
        top[t++] = (char) ('0' + v % 10);
        v /= 10;
    } while (v != 0);

    if (t + FIB_DEC_DIGITS * (x->len - 1) != digits) {
        return -1;
    }

    p = out;

    while (t > 0) {
        *p++ = top[--t];
    }

    for (i = x->len - 1; i-- > 0; /* void */) {
        fib_dec_put16(p, x->limb[i]);
        p += FIB_DEC_DIGITS;
    }

    *p = '\n';
    *len = digits + 1;

    return 0;
}


/*
 * The seed, F(k) and F(k-1) for the top bits of n from GMP: k below
 * 2^FIB_DEC_SEED_BITS.
 */

static void
fib_fast_seed(fib_fast_t *fast)
{
    mpz_t     z0, z1;
    size_t    room;
    uint64_t  n, k;

    n = fast->job->num;

    for (fast->shift = 0;
         (n >> fast->shift) >= (1 << FIB_DEC_SEED_BITS);
         fast->shift++)
    {
        /* void */
    }

    k = n >> fast->shift;
    fast->k = k;

    /* F(k) and F(k-1); F(0) for k = 0 twice, harmlessly */

    mpz_init(z0);
    mpz_init(z1);
    mpz_fib2_ui(z0, z1, k > 0 ? (unsigned long) k : 1);

    if (k == 0) {
        mpz_set_ui(z0, 0);
    }

    room = mpz_sizeinbase(z0, 10) / FIB_DEC_DIGITS + 2;

    fib_dec_new(&fast->f[0], room);
    fib_dec_new(&fast->f[1], room);

    fib_dec_from_mpz(&fast->f[0], z0);
    fib_dec_from_mpz(&fast->f[1], z1);

    mpz_clear(z0);
    mpz_clear(z1);

    fast->seeded = 1;
}


/*
 * One squaring of a step, piece i of two: s[i] = f[i]^2, zero-padded to
 * "room" limbs; f[i] is freed.  A stop goes to *rc.
 */

static void
fib_fast_square(fib_fast_t *fast, unsigned i, fib_rc_t *rc)
{
    fib_dec_t  *f, *s;

    f = &fast->f[i];
    s = &fast->s[i];

    if (fib_poll(fast->job, rc)) {
        return;
    }

    fib_dec_new(s, fast->room);

    if (fib_dec_sqr(fast->job, rc, s->limb, f->limb, f->len) != 0) {
        return;
    }

    memset(s->limb + 2 * f->len, 0,
           (fast->room - 2 * f->len) * sizeof(mp_limb_t));

    fib_dec_free(f);
}


/*
 * The two squares to F(2k + bit) and F(2k + bit - 1), the next f, for
 * the next bit of n: linear.  -1 on an impossible carry.
 */

static int
fib_fast_double(fib_fast_t *fast)
{
    int     bit;
    size_t  i;

    fast->shift--;
    bit = (int) ((fast->job->num >> fast->shift) & 1);

    if (fib_dec_double(fast->s[0].limb, fast->s[1].limb, fast->room,
                       (int) (fast->k & 1), bit)
        != 0)
    {
        return -1;
    }

    fast->k = 2 * fast->k + (uint64_t) bit;

    for (i = 0; i < 2; i++) {
        fast->f[i] = fast->s[i];
        fast->f[i].len = fast->room;
        fib_dec_trim(&fast->f[i]);
        fast->s[i].limb = NULL;
        fast->s[i].size = 0;
    }

    return 0;
}


/*
 * The one piece of the steps that need not split: from wherever the
 * computation stands, every step whose factors are below split_min
 * limbs, as one thread computes them all.  It stops before the first
 * step that splits, with x and y made when that is the last product.
 * Polls before each squaring and product and between the two GMP calls
 * each makes, and inside the largest products (fib_mpn_mul()): at 10^8
 * the longest stretch without a look is one GMP call of about 0.16 s.
 */

static void
fib_fast_whole(fib_fast_t *fast)
{
    size_t     i;
    fib_rc_t  *rc;
    fib_dec_t  r;

    rc = &fast->rc[0];

    if (!fast->seeded) {
        fib_fast_seed(fast);
    }

    while (fast->shift > 1) {
        if (fast->f[0].len >= fast->split_min) {
            return;
        }

        /* room for the larger result, F(2k+1) < 4 F(k)^2 + 2 */
        fast->room = 2 * fast->f[0].len + 1;

        /* F(k-1) first: its buffer is gone while F(k) is squared */

        for (i = 2; i-- > 0; /* void */) {
            fib_fast_square(fast, (unsigned) i, rc);

            if (*rc != FIB_OK) {
                return;
            }
        }

        if (fib_fast_double(fast) != 0) {
            *rc = FIB_ERR_INTERNAL;
            return;
        }
    }

    if (fast->shift == 1) {
        if (fib_poll(fast->job, rc)) {
            return;
        }

        if (fib_fast_factors(fast) != 0) {
            *rc = FIB_ERR_INTERNAL;
            return;
        }

        if (fast->x.len >= fast->split_min) {
            return;
        }

        fib_dec_new(&r, fast->x.len + fast->y.len + 1);

        if (fib_dec_mul(fast->job, rc, r.limb, fast->x.limb, fast->x.len,
                        fast->y.limb, fast->y.len)
            != 0)
        {
            fib_dec_free(&r);
            return;
        }

        if (fib_fast_last(fast, &r) != 0) {
            *rc = FIB_ERR_INTERNAL;
            return;
        }
    }

    if (fib_poll(fast->job, rc)) {
        return;
    }

    if (fib_dec_write(&fast->f[0], fast->job->num, fast->job->out,
                      &fast->len)
        != 0)
    {
        *rc = FIB_ERR_INTERNAL;
    }

    fib_dec_free(&fast->f[0]);
    fib_dec_free(&fast->f[1]);
}


/*
 * F(job->num) into job->out, in decimal throughout, on this thread:
 * the steps in order, none split.
 */

void
fib_fast_decimal(fib_job_t *job)
{
    unsigned    i, pieces;
    fib_fast_t  fast;

    fib_fast_start(&fast, job, FIB_FAST_SPLIT_NEVER, 1);

    for (pieces = 1; pieces != 0; pieces = fib_fast_next(&fast)) {
        for (i = 0; i < pieces; i++) {
            fib_fast_piece(&fast, i);
        }
    }
}

#else

/* 32-bit limbs or no 128-bit integers: fast stays binary */

void
fib_fast_decimal(fib_job_t *job)
{
    fib_fast_binary(job);
}

#endif


size_t
fib_fast_size(void)
{
    return sizeof(fib_fast_t);
}


/*
 * Readies fast to compute job, which fib_job_init() filled and which
 * lives as long as fast: the first step's number of pieces.  The
 * decimal engine as fib_job_run() chooses it, steps of split_min limbs
 * and more split; anything else is one piece, fib_job_run() itself.
 */

unsigned
fib_fast_init(fib_fast_t *fast, fib_job_t *job, size_t split_min)
{
    job->start_ns = fib_now_ns();
    job->compute_ns = 0;

    fib_fast_start(fast, job, split_min,
                   FIB_HAVE_DECIMAL && job->algorithm == FIB_FAST
                   && job->num >= FIB_FAST_DECIMAL_MIN
                   && job->num <= FIB_BIG_MAX);

    return 1;
}


static void
fib_fast_start(fib_fast_t *fast, fib_job_t *job, size_t split_min,
    int decimal)
{
    memset(fast, 0, sizeof(fib_fast_t));

    fast->job = job;
    fast->split_min = split_min > 0 ? split_min : 1;
    fast->state = FIB_FAST_WHOLE;
    fast->pieces = 1;
    fast->decimal = decimal;

    job->rc = FIB_OK;
    job->len = 0;
}


/*
 * Runs piece i of the current step, on any thread, at the same time as
 * the step's other pieces: it writes only its own result and numbers
 * (see fib_fast_s), polls the job's flags and deadline, and returns
 * its own result, FIB_OK or why it stopped; job->rc is set from it by
 * fib_fast_next().
 */

fib_rc_t
fib_fast_piece(fib_fast_t *fast, unsigned i)
{
    uint64_t  start;

    if (i >= fast->pieces) {
        return FIB_ERR_INTERNAL;
    }

    start = fib_now_ns();

    switch (fast->state) {

    case FIB_FAST_WHOLE:

        if (!fast->decimal) {
            /* one piece, alone with the job: it may write it */
            fib_job_run(fast->job);
            fast->rc[0] = fast->job->rc;
            fast->len = fast->job->len;
            break;
        }

#if (FIB_HAVE_DECIMAL)
        fib_fast_whole(fast);
        break;

    case FIB_FAST_SQUARES:
        fib_fast_square(fast, i, &fast->rc[i]);
        break;

    case FIB_FAST_DOUBLE:

        if (fib_poll(fast->job, &fast->rc[0])) {
            break;
        }

        if (fib_fast_double(fast) != 0
            || (fast->shift == 1 && fib_fast_factors(fast) != 0))
        {
            fast->rc[0] = FIB_ERR_INTERNAL;
        }

        break;

    case FIB_FAST_PRODUCT:
        fib_fast_product(fast, i);
        break;

    case FIB_FAST_FINISH:
        fib_fast_finish(fast);
        break;

    case FIB_FAST_WRITE:
        fib_fast_write(fast, i);
        break;
#endif

    default:
        fast->rc[i] = FIB_ERR_INTERNAL;
        break;
    }

    fast->ns[i] = fib_now_ns() - start;

    return fast->rc[i];
}


/*
 * Called once every piece of the step returned, on the driver's thread:
 * the step's results into job->rc, a poll of the job, and the next step.
 * Returns its number of pieces, or 0 when the computation is over: then
 * job->rc and job->len are final, job->compute_ns is the time all
 * pieces took (CPU time, summed over the threads), and every number is
 * freed.
 */

unsigned
fib_fast_next(fib_fast_t *fast)
{
    unsigned          i;
    fib_job_t        *job;
    fib_fast_state_e  next;

    job = fast->job;

    if (fast->state == FIB_FAST_DONE) {
        return 0;
    }

    for (i = 0; i < fast->pieces; i++) {
        if (job->rc == FIB_OK) {
            job->rc = fast->rc[i];
        }

        /* fib_job_run(), the one piece of the rest, sets its own */
        if (fast->decimal) {
            job->compute_ns += fast->ns[i];
        }
    }

    switch (fast->state) {

    case FIB_FAST_WHOLE:
        next = !fast->decimal || fast->shift == 0 ? FIB_FAST_DONE
               : fast->shift == 1 ? FIB_FAST_PRODUCT : FIB_FAST_SQUARES;
        break;

    case FIB_FAST_SQUARES:
        next = FIB_FAST_DOUBLE;
        break;

    case FIB_FAST_DOUBLE:
        next = fast->shift == 1 ? FIB_FAST_PRODUCT : FIB_FAST_SQUARES;
        break;

    case FIB_FAST_PRODUCT:
        next = FIB_FAST_FINISH;
        break;

    case FIB_FAST_FINISH:
        next = FIB_FAST_WRITE;
        break;

    default:
        next = FIB_FAST_DONE;
        break;
    }

    if (job->rc == FIB_OK && next != FIB_FAST_DONE) {
        (void) fib_stopped(job);
    }

    if (job->rc != FIB_OK || next == FIB_FAST_DONE) {
        if (job->rc == FIB_OK) {
            job->len = fast->len;
        }

        fib_fast_free(fast);

        return 0;
    }

#if (FIB_HAVE_DECIMAL)
    if (next == FIB_FAST_SQUARES) {
        /* room for the larger result, F(2k+1) < 4 F(k)^2 + 2 */
        fast->room = 2 * fast->f[0].len + 1;
    }
#endif

    fast->state = next;
    fast->pieces = (next == FIB_FAST_SQUARES || next == FIB_FAST_PRODUCT
                    || next == FIB_FAST_WRITE)
                   ? 2 : 1;

    for (i = 0; i < FIB_FAST_PIECES; i++) {
        fast->rc[i] = FIB_OK;
        fast->ns[i] = 0;
    }

    return fast->pieces;
}


/*
 * Frees whatever numbers fast holds, on any thread, once no piece runs:
 * fib_fast_next() does it when it returns 0; a driver that gives up
 * between steps calls it instead.
 */

void
fib_fast_free(fib_fast_t *fast)
{
#if (FIB_HAVE_DECIMAL)
    size_t  i;

    for (i = 0; i < 2; i++) {
        fib_dec_free(&fast->f[i]);
        fib_dec_free(&fast->s[i]);
    }

    fib_dec_free(&fast->x);
    fib_dec_free(&fast->y);
#endif

    fast->state = FIB_FAST_DONE;
    fast->pieces = 0;
}

/* }}} */


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

    if (job->algorithm == FIB_FAST) {
        if (!FIB_HAVE_DECIMAL || job->num < FIB_FAST_DECIMAL_MIN) {
            fib_fast_binary(job);

        } else {
            fib_fast_decimal(job);
        }

        goto done;
    }

    mpz_init(z);

    fib_iterative(job, z);

    if (!fib_stopped(job)) {
        fib_decimal(job, z);
    }

    mpz_clear(z);

done:

    job->compute_ns = fib_now_ns() - start;
}
