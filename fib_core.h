
/*
 * Copyright (C) ngx_http_fib_module authors
 *
 * The nginx-free core: query parsing, the three algorithms, the cost
 * estimate and the decimal length of F(n).  Nothing here includes an
 * nginx header; the module is the only place both worlds meet.
 */


#ifndef _FIB_CORE_H_INCLUDED_
#define _FIB_CORE_H_INCLUDED_


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
    FIB_ERR_CANCELLED
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


typedef struct {
    /* input, set before fib_job_run() */
    fib_algorithm_t   algorithm;
    uint64_t          num;

    /* set by another thread to stop the computation early */
    atomic_int        cancel;

    /* output of fib_job_run() */
    fib_rc_t          rc;
    char             *digits;     /* "digits\n", not NUL-ended */
    size_t            len;        /* including the trailing "\n" */
    char              small[24];  /* digits of a 64-bit result, no malloc */
    uint64_t          start_ns;   /* CLOCK_MONOTONIC, see fib_now_ns() */
    uint64_t          compute_ns; /* time spent inside fib_job_run() */
} fib_job_t;


fib_rc_t fib_parse_query(const char *query, size_t len, uint64_t *num);
const char *fib_strerror(fib_rc_t rc);

const char *fib_algorithm_name(fib_algorithm_t algorithm);
int fib_algorithm_by_name(const char *name, size_t len,
    fib_algorithm_t *algorithm);
uint64_t fib_algorithm_max(fib_algorithm_t algorithm);

fib_rc_t fib_recursive(uint64_t n, atomic_int *cancel, uint64_t *result);

uint64_t fib_cost_ns(fib_algorithm_t algorithm, uint64_t n);
size_t fib_digits(uint64_t n);

void fib_job_run(fib_job_t *job);
void fib_job_free(fib_job_t *job);
uint64_t fib_now_ns(void);


#endif /* _FIB_CORE_H_INCLUDED_ */
