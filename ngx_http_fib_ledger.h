
/*
 * Copyright (C) ngx_http_fib_module authors
 *
 * The ledger: the shared zone with its counters, the worker's gauges,
 * the locations' places, and one request's record.  It is the module's
 * lowest floor: it calls no other file of the module, and every file
 * above reads or writes what is counted only through it.
 */


#ifndef _NGX_HTTP_FIB_LEDGER_H_INCLUDED_
#define _NGX_HTTP_FIB_LEDGER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "fib_core.h"
#include "ngx_http_fib_conf.h"


/* how a request ended, as counted: ngx_http_fib_outcome() says which */

typedef enum {
    NGX_HTTP_FIB_OK = 0,
    NGX_HTTP_FIB_NOT_MODIFIED,
    NGX_HTTP_FIB_BAD_REQUEST,
    NGX_HTTP_FIB_OVERLOADED,
    NGX_HTTP_FIB_TIMED_OUT,
    NGX_HTTP_FIB_CANCELLED,
    NGX_HTTP_FIB_FILTERED,
    NGX_HTTP_FIB_ERROR,
    NGX_HTTP_FIB_OUTCOMES
} ngx_http_fib_outcome_e;


/* why a request was refused with 503 before computing */

typedef enum {
    NGX_HTTP_FIB_QUEUE_FULL = 0,
    NGX_HTTP_FIB_NO_MEMORY,
    NGX_HTTP_FIB_TOO_MANY,
    NGX_HTTP_FIB_REASONS
} ngx_http_fib_reason_e;


/* where a computation ran, in fib_computations_total and $fib_mode */

typedef enum {
    NGX_HTTP_FIB_MODE_NONE = 0,
    NGX_HTTP_FIB_MODE_INLINE,
    NGX_HTTP_FIB_MODE_THREAD,
    NGX_HTTP_FIB_MODES
} ngx_http_fib_mode_e;


/*
 * A request's phase, the one state it has: moved forward only, and only
 * by ngx_http_fib_phase().  Everything else about the request (its
 * mode, whether it computed or waited, the gauges it holds, how it
 * ended) is derived from the phase and from what the computation and
 * the response left.
 */

typedef enum {
    NGX_HTTP_FIB_RECEIVED = 0, /* its query not read, or not valid */
    NGX_HTTP_FIB_PARSED,       /* num read, and above fib_max_num */
    NGX_HTTP_FIB_ACCEPTED,     /* answered without computing, or refused */
    NGX_HTTP_FIB_INLINE,       /* computed in the event loop */
    NGX_HTTP_FIB_WAITING,      /* in the worker's queue for a pool */
    NGX_HTTP_FIB_POSTED,       /* in a thread pool */
    NGX_HTTP_FIB_LEFT,         /* left the queue without computing */
    NGX_HTTP_FIB_COMPUTED      /* a pool thread ran its computation */
} ngx_http_fib_phase_e;


/* the gauges of one worker process, in shared memory */

typedef struct {
    ngx_atomic_t               pid;
    ngx_atomic_t               in_flight;  /* tasks posted, not completed */
    ngx_atomic_t               waiting;    /* in the worker's queues */
    ngx_atomic_t               memory;     /* bytes charged to its budget */
} ngx_http_fib_slot_t;


/* a fib location's own series, found again by its name after a reload */

typedef struct {
    u_char                     name[NGX_HTTP_FIB_PLACE_NAME];
    size_t                     len;        /* 0: a free place */
    ngx_uint_t                 generation; /* the last to name it */
    ngx_atomic_t               requests[NGX_HTTP_FIB_OUTCOMES];
    ngx_atomic_t               compute_ns;
} ngx_http_fib_place_t;


/* in shared memory: every worker adds to them, reloads keep them */

typedef struct {
    ngx_atomic_t               requests[NGX_HTTP_FIB_OUTCOMES];
    ngx_atomic_t               rejected[NGX_HTTP_FIB_REASONS];
    ngx_atomic_t               computations[NGX_HTTP_FIB_ALGORITHMS]
                                           [NGX_HTTP_FIB_MODES - 1];
    ngx_atomic_t               compute_ns[NGX_HTTP_FIB_ALGORITHMS];
    ngx_atomic_t               abandoned_ns[NGX_HTTP_FIB_ALGORITHMS];
    ngx_atomic_t               buckets[NGX_HTTP_FIB_BUCKETS];
    ngx_atomic_t               sum_ns;
    ngx_atomic_t               queue_buckets[NGX_HTTP_FIB_BUCKETS];
    ngx_atomic_t               queue_sum_ns;
    ngx_uint_t                 generation; /* configurations so far */
    ngx_uint_t                 configuration; /* the last to take places */
    ngx_http_fib_place_t       places[NGX_HTTP_FIB_PLACES];
    ngx_http_fib_slot_t        slots[NGX_HTTP_FIB_SLOTS];
} ngx_http_fib_shm_t;


/*
 * One request, as the ledger knows it: the request flow fills it in, the
 * variables read it, and it is counted, once, when the request's pool
 * goes.  The job is the computation itself: a pool thread writes only
 * there, and only while the phase is NGX_HTTP_FIB_POSTED.
 */

typedef struct {
    ngx_http_fib_phase_e       phase;
    ngx_http_request_t        *request;    /* whose answer is counted */
    ngx_http_fib_shm_t        *shm;        /* where it is counted */
    uint64_t                   num;
    ngx_uint_t                 algorithm;
    ngx_int_t                  place;      /* in shm->places, or -1 */
    ngx_int_t                  refused;    /* a reason, or -1 */
    ngx_uint_t                 status;     /* of the module's answer */
    uint64_t                   post_ns;    /* the job was set up */
    size_t                     size;       /* of the result */
    size_t                     work;       /* the job's own memory */
    size_t                     memory;     /* charged to the budget now */
    fib_job_t                  job;
} ngx_http_fib_record_t;


/* the gauges of the workers alive now */

typedef struct {
    ngx_uint_t                 in_flight;
    ngx_uint_t                 waiting;
    ngx_uint_t                 memory;
    ngx_uint_t                 workers;
} ngx_http_fib_gauges_t;


ngx_shm_zone_t *ngx_http_fib_add_zone(ngx_conf_t *cf);
ngx_int_t ngx_http_fib_add_place(ngx_conf_t *cf,
    ngx_http_core_loc_conf_t *clcf);
ngx_http_fib_shm_t *ngx_http_fib_ledger(ngx_http_fib_main_conf_t *fmcf);
ngx_int_t ngx_http_fib_take_slot(ngx_cycle_t *cycle);
void ngx_http_fib_free_slot(ngx_cycle_t *cycle);
void ngx_http_fib_gauges(ngx_http_fib_shm_t *shm, ngx_http_fib_gauges_t *g);
ngx_uint_t ngx_http_fib_waiting(void);
ngx_uint_t ngx_http_fib_room(ngx_http_fib_main_conf_t *fmcf, size_t size);

ngx_int_t ngx_http_fib_record(ngx_http_request_t *r,
    ngx_http_fib_record_t *rec, ngx_uint_t algorithm, ngx_uint_t place);
void ngx_http_fib_phase(ngx_http_fib_record_t *rec,
    ngx_http_fib_phase_e phase);
void ngx_http_fib_hold(ngx_http_fib_record_t *rec, size_t memory);
void ngx_http_fib_refused(ngx_http_fib_record_t *rec,
    ngx_http_fib_reason_e reason);
ngx_int_t ngx_http_fib_answered(ngx_http_fib_record_t *rec, ngx_int_t rc);
ngx_http_fib_mode_e ngx_http_fib_mode(ngx_http_fib_record_t *rec);
ngx_http_fib_outcome_e ngx_http_fib_outcome(ngx_http_fib_record_t *rec);

ngx_int_t ngx_http_fib_add_variables(ngx_conf_t *cf);


extern ngx_str_t   ngx_http_fib_outcome_names[];
extern ngx_str_t   ngx_http_fib_reason_names[];
extern ngx_str_t   ngx_http_fib_mode_names[];
extern char       *ngx_http_fib_bucket_le[];


#endif /* _NGX_HTTP_FIB_LEDGER_H_INCLUDED_ */
