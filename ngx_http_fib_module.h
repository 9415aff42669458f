
/*
 * Copyright (C) ngx_http_fib_module authors
 *
 * What the module's two files share: how a request went, the counters
 * in shared memory, and the functions of what the module tells (the
 * variables and the status page), kept apart as nginx keeps stub_status
 * apart.
 */


#ifndef _NGX_HTTP_FIB_MODULE_H_INCLUDED_
#define _NGX_HTTP_FIB_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


#define NGX_HTTP_FIB_MODE_NONE         0
#define NGX_HTTP_FIB_MODE_INLINE       1
#define NGX_HTTP_FIB_MODE_THREAD       2

#define NGX_HTTP_FIB_OK                0
#define NGX_HTTP_FIB_NOT_MODIFIED      1
#define NGX_HTTP_FIB_BAD_REQUEST       2
#define NGX_HTTP_FIB_OVERLOADED        3
#define NGX_HTTP_FIB_TIMED_OUT         4
#define NGX_HTTP_FIB_CANCELLED         5
#define NGX_HTTP_FIB_FILTERED          6
#define NGX_HTTP_FIB_ERROR             7
#define NGX_HTTP_FIB_OUTCOMES          8

#define NGX_HTTP_FIB_QUEUE_FULL        0
#define NGX_HTTP_FIB_NO_MEMORY         1
#define NGX_HTTP_FIB_TOO_MANY          2
#define NGX_HTTP_FIB_REASONS           3

/*
 * Worker processes, old and new, whose gauges the status page shows: a
 * new generation starts while the old ones still hold their slots, and
 * a reload storm leaves several behind.  nginx's master runs at most
 * NGX_MAX_PROCESSES children at once (ngx_spawn_process refuses more),
 * every generation and cache process included: a slot for each never
 * runs out, whatever worker_processes says.
 */
#define NGX_HTTP_FIB_SLOTS             NGX_MAX_PROCESSES

#define NGX_HTTP_FIB_ALGORITHMS        3
#define NGX_HTTP_FIB_BUCKETS           8


/*
 * How a request went, recorded along the way by the event loop: what the
 * variables show and what is counted, once, when the request ends.
 */

typedef struct {
    uint64_t                   num;
    uint64_t                   queue_ns;
    uint64_t                   compute_ns;
    ngx_uint_t                 algorithm;
    ngx_uint_t                 mode;
    ngx_uint_t                 outcome;
    unsigned                   parsed:1;
    unsigned                   ran:1;        /* a computation ran */
    unsigned                   produced:1;   /* and produced its number */
} ngx_http_fib_record_t;


/* the gauges of one worker process, in shared memory */

typedef struct {
    ngx_atomic_t               pid;
    ngx_atomic_t               in_flight;  /* tasks posted, not completed */
    ngx_atomic_t               waiting;    /* in the worker's queues */
    ngx_atomic_t               memory;     /* bytes charged to its budget */
} ngx_http_fib_slot_t;


/* in shared memory: every worker adds to them, reloads keep them */

typedef struct {
    ngx_atomic_t               requests[NGX_HTTP_FIB_OUTCOMES];
    ngx_atomic_t               rejected[NGX_HTTP_FIB_REASONS];
    ngx_atomic_t               computations[NGX_HTTP_FIB_ALGORITHMS][2];
    ngx_atomic_t               compute_ns[NGX_HTTP_FIB_ALGORITHMS];
    ngx_atomic_t               buckets[NGX_HTTP_FIB_BUCKETS];
    ngx_atomic_t               sum_ns;
    ngx_http_fib_slot_t        slots[NGX_HTTP_FIB_SLOTS];
} ngx_http_fib_shm_t;


typedef struct {
    ngx_shm_zone_t            *zone;
    size_t                     max_memory;
    ngx_int_t                  max_waiting;
    ngx_array_t                pools;      /* of ngx_http_fib_pool_t * */
} ngx_http_fib_main_conf_t;


ngx_shm_zone_t *ngx_http_fib_add_zone(ngx_conf_t *cf);
ngx_int_t ngx_http_fib_init_process(ngx_cycle_t *cycle);
void ngx_http_fib_exit_process(ngx_cycle_t *cycle);
void ngx_http_fib_count(ngx_http_fib_shm_t *shm, ngx_http_fib_record_t *rec);
ngx_int_t ngx_http_fib_status_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_fib_error(ngx_http_request_t *r,
    ngx_http_fib_record_t *rec, ngx_uint_t status, ngx_uint_t outcome,
    const char *fmt, ...);
ngx_int_t ngx_http_fib_add_variables(ngx_conf_t *cf);


extern ngx_module_t          ngx_http_fib_module;
extern ngx_http_fib_slot_t  *ngx_http_fib_worker;


#endif /* _NGX_HTTP_FIB_MODULE_H_INCLUDED_ */
