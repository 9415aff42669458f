
/*
 * Copyright (C) ngx_http_fib_module authors
 *
 * The nginx-free core: query parsing, the three algorithms, the cost
 * estimate and the decimal length of F(n).  Nothing here includes an
 * nginx header; the module is the only place both worlds meet.
 */


#ifndef _FIB_CORE_H_INCLUDED_
#define _FIB_CORE_H_INCLUDED_


#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>


typedef enum {
    FIB_OK = 0,
    FIB_ERR_MISSING,
    FIB_ERR_NO_VALUE,
    FIB_ERR_DUPLICATE,
    FIB_ERR_NOT_DIGITS,
    FIB_ERR_TOO_BIG,
    FIB_ERR_QUERY,
    FIB_ERR_NOMEM,
    FIB_ERR_CANCELLED,
    FIB_ERR_TIMEOUT,
    FIB_ERR_INTERNAL
} fib_rc_t;


typedef enum {
    FIB_RECURSIVE = 0,
    FIB_ITERATIVE,
    FIB_FAST
} fib_algorithm_t;


/* the largest n whose F(n) fits in 64 bits, the recursive limit */
#define FIB_RECURSIVE_MAX      93

/* keeps one F(n) (about 0.21 bytes per n) far from exhausting memory */
#define FIB_BIG_MAX            100000000

/*
 * The decimal conversion converts pieces of at most this many digits in
 * one GMP call (about a millisecond each), so that a computation can stop
 * between them; see fib_decimal_split().
 */
#define FIB_DECIMAL_PIECE      (1 << 16)

/*
 * fast computes in binary and converts below this n, in decimal from
 * this n on: where decimal starts to pay (CPU time of each alone, F(n)
 * from 12000 to 50000: decimal 8 % slower at 12000, even near 18000,
 * 7 % faster at 20000, 24 % at 50000).
 */
#define FIB_FAST_DECIMAL_MIN   20000

/* fib_cost_ns() for "too costly to say" */
#define FIB_COST_MAX           UINT64_MAX


/*
 * One computation.  fib_job_init() fills it; fib_job_run() touches
 * nothing else, so it may run on any thread, and fib_job_cancel() stops
 * it from any other.  The caller owns "out",
 * which must hold fib_out_size(num) bytes: the result is written there,
 * and nothing is left to free.
 */

typedef struct {
    /* input */
    fib_algorithm_t         algorithm;
    uint64_t                num;
    char                   *out;
    uint64_t                deadline_ns;  /* CLOCK_MONOTONIC, 0: none */
    volatile sig_atomic_t  *stop;         /* set: the process is exiting */

    /* set by another thread to stop the computation early */
    atomic_int              cancel;

    /* output of fib_job_run() */
    fib_rc_t                rc;
    size_t                  len;          /* digits and the trailing "\n" */
    uint64_t                start_ns;     /* see fib_now_ns() */
    uint64_t                compute_ns;   /* time spent in fib_job_run() */
} fib_job_t;


/*
 * One computation of fast in steps whose independent products may run on
 * several threads at once.  fast doubles F(k), F(k-1) to F(2k + b),
 * F(2k + b - 1) from the two squares F(k)^2 and F(k-1)^2, and ends with
 * one product whose two halves of Kronecker substitution (evaluated at
 * 2^64 and at -2^64) are as independent: a step has 1 or 2 pieces of
 * about the same cost.  The steps below split_min limbs of 10^16 (and
 * every n that fib_job_run() does not compute in decimal, and the other
 * algorithms) are one piece that runs them all: fib_job_run() is the
 * same computation with split_min FIB_FAST_SPLIT_NEVER.
 *
 * The driver, on one thread (nginx's event loop):
 *
 *     pieces = fib_fast_init(fast, job, FIB_FAST_SPLIT_MIN);
 *
 *     while (pieces != 0) {
 *         fib_fast_piece(fast, i) for every i < pieces: on any threads,
 *         in any order, at once or one after another;
 *
 *         once every one of them has returned:
 *         pieces = fib_fast_next(fast);
 *     }
 *
 *     job->rc, job->len: as after fib_job_run(); job->compute_ns:
 *     the pieces' times, summed over the threads
 *
 * fib_fast_init() and fib_fast_next() do constant work, except that
 * next frees the numbers of a computation that stopped.  The work is in
 * the pieces, including the one-piece steps between split ones, which
 * combine the products in linear time (at 10^8, up to tens of
 * milliseconds); run them on the pool too.
 *
 * A piece writes only its own result and numbers, reads the job (the
 * cancel flag, *job->stop, the deadline, n, out) and allocates with
 * GMP's functions on its thread; it stops early on a flag or the
 * deadline, as fib_job_run() does, with the reason as its own result,
 * which fib_fast_next() alone moves to job->rc; next also polls the job
 * between steps.  Nothing waits for another thread.  The driver must
 * not call fib_fast_next() while a piece of the step runs, and must not
 * drop fast or the job before next returned 0, unless it calls
 * fib_fast_free() (again, with no piece running).  All pieces of a step
 * alive at once stay within fib_work_size().
 */

typedef struct fib_fast_s  fib_fast_t;

/* the most pieces a step has */
#define FIB_FAST_PIECES        2

/*
 * Steps whose factors have at least this many limbs of 10^16 (F(k) for
 * k from about 157000) split.  A split step costs two posts and one
 * more step of one piece, each a round trip through the pool (8 us for
 * corebench's, tens for nginx's), and gains its shorter piece:
 * `corebench steps 100000000` measured a piece at 0.05 ms for 320
 * limbs, 0.11 ms for 640, 0.28 ms for 1280, 0.74 ms for 2550 (a machine
 * with a load of 8 on 2 cores).  From 2048 limbs a split gains five
 * times what it costs or more; below, a few tens of microseconds at
 * best, for twice the tasks.
 */
#define FIB_FAST_SPLIT_MIN     2048

/* "never split": one piece does it all, as fib_job_run() */
#define FIB_FAST_SPLIT_NEVER   SIZE_MAX


#if (FIB_TEST_HOOKS)
/* unit-test builds only: every call of the recursion adds one */
extern uint64_t  fib_rec_calls;
/* unit-test builds only: fast's products split from this many limbs (2+) */
extern size_t    fib_mul_split;
/* unit-test builds only: every poll adds one; past fib_polls_max, cancels */
extern uint64_t  fib_polls;
extern uint64_t  fib_polls_max;
#endif


fib_rc_t fib_parse_query(const char *query, size_t len, uint64_t *num);
const char *fib_strerror(fib_rc_t rc);

const char *fib_algorithm_name(fib_algorithm_t algorithm);
int fib_algorithm_by_name(const char *name, size_t len,
    fib_algorithm_t *algorithm);
uint64_t fib_algorithm_max(fib_algorithm_t algorithm);
uint64_t fib_default_max(fib_algorithm_t algorithm);
uint64_t fib_inline_max(fib_algorithm_t algorithm, uint64_t cost_ns);

uint64_t fib_cost_ns(fib_algorithm_t algorithm, uint64_t n);
int fib_cheap(fib_algorithm_t algorithm, uint64_t n, uint64_t max_cost_ns);
size_t fib_digits(uint64_t n);
size_t fib_out_size(uint64_t n);
size_t fib_work_size(fib_algorithm_t algorithm, uint64_t n);

void fib_job_init(fib_job_t *job, fib_algorithm_t algorithm, uint64_t num,
    char *out, uint64_t deadline_ns, volatile sig_atomic_t *stop);
void fib_job_run(fib_job_t *job);
int fib_job_cancel(fib_job_t *job);
uint64_t fib_now_ns(void);
uint64_t fib_deadline_ns(uint64_t now_ns, uint64_t timeout_ms);

size_t fib_fast_size(void);
unsigned fib_fast_init(fib_fast_t *fast, fib_job_t *job, size_t split_min);
fib_rc_t fib_fast_piece(fib_fast_t *fast, unsigned i);
unsigned fib_fast_next(fib_fast_t *fast);
void fib_fast_free(fib_fast_t *fast);

#ifdef __GNU_MP__
/*
 * Seen only where <gmp.h> comes first (the core, its tests, the
 * benchmark): the decimal conversion of fib_job_run() on its own, with
 * pieces of at most "piece" digits (0: the default).
 */
int fib_decimal_split(fib_job_t *job, char *out, size_t digits, mpz_t z,
    size_t piece);
#endif

/*
 * The two ways fast computes F(job->num) into job->out, on their own,
 * for the tests and the benchmark: mpz_fib_ui() and the decimal
 * conversion, or decimal throughout.  fib_job_run() chooses by n.  Both
 * set job->rc and job->len only.
 */
void fib_fast_binary(fib_job_t *job);
void fib_fast_decimal(fib_job_t *job);


#endif /* _FIB_CORE_H_INCLUDED_ */
