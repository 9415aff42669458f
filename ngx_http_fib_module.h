
/*
 * Copyright (C) ngx_http_fib_module authors
 *
 * What the module's files share: the configuration (ngx_http_fib_module.c),
 * a request's state from handler to response (ngx_http_fib_handler.c),
 * the thread offload (ngx_http_fib_thread.c, built only with threads),
 * and what the module tells: variables, counters and the status page
 * (ngx_http_fib_status.c).  Only these files see both nginx and the core.
 */


#ifndef _NGX_HTTP_FIB_MODULE_H_INCLUDED_
#define _NGX_HTTP_FIB_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "fib_core.h"


#define NGX_HTTP_FIB_PRIORITY_NORMAL   0
#define NGX_HTTP_FIB_PRIORITY_IDLE     1

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

/* fib locations with series of their own, and their names' length */
#define NGX_HTTP_FIB_PLACES            64
#define NGX_HTTP_FIB_PLACE_NAME        128


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
    ngx_int_t                  place;        /* in shm->places, or -1 */
    unsigned                   parsed:1;
    unsigned                   ran:1;        /* a computation ran */
    unsigned                   produced:1;   /* and produced its number */
    unsigned                   waited:1;     /* queue_ns is a pool's wait */
} ngx_http_fib_record_t;


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
    ngx_atomic_t               computations[NGX_HTTP_FIB_ALGORITHMS][2];
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


#if (NGX_THREADS)

/*
 * The worker's queue in front of one thread pool: at most "tasks" of the
 * worker's tasks are posted to the pool, the requests beyond wait here,
 * in order, and everything here is the event loop's alone.
 */

typedef struct {
    ngx_thread_pool_t         *pool;
    ngx_str_t                  name;
    ngx_uint_t                 tasks;      /* posted at most */
    ngx_uint_t                 declared;   /* tasks= was written */
    ngx_uint_t                 posted;
    ngx_queue_t                waiting;
} ngx_http_fib_queue_t;

#endif


typedef struct {
    ngx_str_t                 *file;
    ngx_uint_t                 line;
} ngx_http_fib_where_t;


/* derived for every location configuration, if and limit_except too */

typedef struct {
    ngx_http_handler_pt        handler;           /* fib or fib_status */
    ngx_uint_t                 algorithm;
    ngx_int_t                  max_num;           /* as configured */
    ngx_uint_t                 limit;             /* in force */
    ngx_http_fib_where_t       enable_at;         /* "fib" */
    ngx_http_fib_where_t       max_num_at;        /* "fib_max_num" here */
    ngx_uint_t                 inline_max_cost;   /* ns */
    ngx_msec_t                 timeout;
    ngx_uint_t                 thread_priority;   /* as configured */
    ngx_uint_t                 priority;          /* in force */
    ngx_uint_t                 place;             /* in fmcf->places */
#if (NGX_THREADS)
    ngx_thread_pool_t         *thread_pool;
    ngx_str_t                  pool_name;
    ngx_int_t                  tasks;             /* fib_thread_pool tasks= */
    ngx_http_fib_queue_t      *queue;
#endif
} ngx_http_fib_loc_conf_t;


/* where a request with a thread task is; ngx_http_fib_set_state() moves it */

typedef enum {
    NGX_HTTP_FIB_NONE = 0,     /* no task: computed inline, or refused */
    NGX_HTTP_FIB_WAITING,      /* in the worker's queue */
    NGX_HTTP_FIB_POSTED,       /* in the thread pool */
    NGX_HTTP_FIB_DONE          /* the completion is the next to run */
} ngx_http_fib_state_e;


/* all a pool thread touches */

typedef struct {
    fib_job_t                  job;
    ngx_uint_t                 priority;     /* the class to compute in */
    ngx_uint_t                 stayed_idle;  /* "normal" was refused */
} ngx_http_fib_work_t;


/*
 * One request's state, allocated from its pool and handed to every
 * handler registered for it: the pool cleanup, the request cleanup, the
 * thread task and the timer.  None of them looks it up in r->ctx, which
 * nginx clears on internal redirects and filter finalization; the
 * variables are the only readers that do, and they check for NULL.
 */

typedef struct {
    /* first: the variables find it where they find the ctx */
    ngx_http_fib_record_t      rec;

    ngx_http_fib_work_t        work;
    ngx_http_request_t        *request;
    ngx_http_fib_shm_t        *shm;
    ngx_msec_t                 timeout;
    size_t                     size;       /* of the result */
    size_t                     memory;     /* charged to the budget */
    uint64_t                   post_ns;

#if (NGX_THREADS)
    ngx_http_fib_state_e       state;
    ngx_http_fib_queue_t      *queue;
    ngx_queue_t                link;       /* in queue->waiting */
    ngx_thread_task_t          task;
    ngx_event_t                watch;
#endif
} ngx_http_fib_ctx_t;


/* a fib location, and where its series are in shared memory (or -1) */

typedef struct {
    ngx_str_t                  name;
    ngx_int_t                  slot;
} ngx_http_fib_place_conf_t;


typedef struct {
    ngx_shm_zone_t            *zone;
    size_t                     max_memory;
    ngx_int_t                  max_waiting;
    ngx_array_t                queues;     /* of ngx_http_fib_queue_t * */
    ngx_array_t                places;     /* of ngx_http_fib_place_conf_t */
    ngx_uint_t                 configuration; /* which one, for the zone */
    ngx_uint_t                 placed;     /* this process took its places */
} ngx_http_fib_main_conf_t;


ngx_int_t ngx_http_fib_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_fib_respond(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx);
ngx_int_t ngx_http_fib_refuse(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx,
    ngx_uint_t reason, const char *why);
void ngx_http_fib_hold(ngx_http_fib_ctx_t *ctx, size_t memory);
void ngx_http_fib_ran(ngx_http_fib_ctx_t *ctx);

#if (NGX_THREADS)
ngx_int_t ngx_http_fib_offload(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx, ngx_http_fib_loc_conf_t *flcf);
ngx_http_fib_queue_t *ngx_http_fib_add_queue(ngx_conf_t *cf,
    ngx_thread_pool_t *pool, ngx_str_t *name, ngx_int_t tasks);
#endif

ngx_shm_zone_t *ngx_http_fib_add_zone(ngx_conf_t *cf);
ngx_int_t ngx_http_fib_init_process(ngx_cycle_t *cycle);
void ngx_http_fib_take_places(ngx_http_fib_main_conf_t *fmcf);
void ngx_http_fib_exit_process(ngx_cycle_t *cycle);
void ngx_http_fib_count(ngx_http_fib_shm_t *shm, ngx_http_fib_record_t *rec);
ngx_int_t ngx_http_fib_status_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_fib_send(ngx_http_request_t *r, ngx_http_fib_record_t *rec,
    ngx_uint_t status, char *type, u_char *data, size_t len);
ngx_table_elt_t *ngx_http_fib_add_header(ngx_http_request_t *r, char *key,
    ngx_str_t *value);
ngx_int_t ngx_http_fib_error(ngx_http_request_t *r,
    ngx_http_fib_record_t *rec, ngx_uint_t status, ngx_uint_t outcome,
    const char *fmt, ...);
ngx_int_t ngx_http_fib_add_variables(ngx_conf_t *cf);


extern ngx_module_t          ngx_http_fib_module;
extern ngx_http_fib_slot_t  *ngx_http_fib_worker;


#endif /* _NGX_HTTP_FIB_MODULE_H_INCLUDED_ */
