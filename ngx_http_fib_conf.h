
/*
 * Copyright (C) ngx_http_fib_module authors
 *
 * The configuration, which every file of the module reads: the
 * directives' values (ngx_http_fib_module.c writes them) and the thread
 * pools they name.  Each file's own types are in its own header, or in
 * the file itself.
 */


#ifndef _NGX_HTTP_FIB_CONF_H_INCLUDED_
#define _NGX_HTTP_FIB_CONF_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "fib_core.h"


#define NGX_HTTP_FIB_PRIORITY_NORMAL   0
#define NGX_HTTP_FIB_PRIORITY_IDLE     1

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


/* the worker's queue in front of a thread pool: ngx_http_fib_thread.c's */
typedef struct ngx_http_fib_queue_s  ngx_http_fib_queue_t;


typedef struct {
    ngx_str_t                 *file;
    ngx_uint_t                 line;
} ngx_http_fib_where_t;


#if (NGX_THREADS)

/* a thread pool fib locations use, as fib_thread_pool declares it */

typedef struct {
    ngx_thread_pool_t         *pool;
    ngx_str_t                  name;
    ngx_uint_t                 tasks;      /* posted at most */
    ngx_uint_t                 declared;   /* tasks= was written */
    ngx_http_fib_queue_t      *queue;
} ngx_http_fib_pool_t;

#endif


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
    ngx_http_fib_pool_t       *pool;              /* NULL: no pool */
#endif
} ngx_http_fib_loc_conf_t;


/* a fib location, and where its series are in shared memory (or -1) */

typedef struct {
    ngx_str_t                  name;
    ngx_int_t                  slot;
} ngx_http_fib_place_conf_t;


typedef struct {
    ngx_shm_zone_t            *zone;
    size_t                     max_memory;
    ngx_int_t                  max_waiting;
#if (NGX_THREADS)
    ngx_array_t                pools;      /* of ngx_http_fib_pool_t * */
#endif
    ngx_array_t                places;     /* of ngx_http_fib_place_conf_t */
    ngx_uint_t                 configuration; /* which one, for the zone */
    ngx_uint_t                 placed;     /* this process took its places */
} ngx_http_fib_main_conf_t;


/* the content handlers "fib" and "fib_status" set */
ngx_int_t ngx_http_fib_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_fib_status_handler(ngx_http_request_t *r);


extern ngx_module_t  ngx_http_fib_module;


#endif /* _NGX_HTTP_FIB_CONF_H_INCLUDED_ */
