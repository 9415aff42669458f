
/*
 * Copyright (C) ngx_http_fib_module authors
 *
 * The thread offload: built only with threads, as nginx builds its own
 * thread code.  The request flow hands it a record whose job is set up
 * and a handler to run when the job is done; the offload reaches the
 * request flow through nothing else.
 */


#ifndef _NGX_HTTP_FIB_THREAD_H_INCLUDED_
#define _NGX_HTTP_FIB_THREAD_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "fib_core.h"
#include "ngx_http_fib_conf.h"
#include "ngx_http_fib_ledger.h"


#if (NGX_THREADS)

typedef struct ngx_http_fib_offload_s  ngx_http_fib_offload_t;

/* run in the event loop once the job is done, unless nginx ended it */
typedef void (*ngx_http_fib_done_pt)(ngx_http_fib_offload_t *off);


/* all a pool thread touches: one piece of a step, and its own flag */

typedef struct {
    fib_fast_t                *fast;
    unsigned                   i;
    ngx_uint_t                 priority;     /* the class to compute in */
    ngx_uint_t                 stayed_idle;  /* "normal" was refused */
} ngx_http_fib_work_t;


typedef struct {
    ngx_thread_task_t          task;
    ngx_http_fib_work_t        work;
    ngx_http_fib_offload_t    *off;
} ngx_http_fib_piece_t;


/*
 * One request's computation, inside the request's own state and in its
 * pool: the request flow fills in nothing of it, ngx_http_fib_offload()
 * does.  The computation goes in steps (fib_fast_next()); each step's
 * pieces are tasks of their own, posted by the event loop, on the
 * request's one place in the queue and on places nobody waits for.
 */

struct ngx_http_fib_offload_s {
    ngx_http_fib_record_t     *rec;
    ngx_http_fib_done_pt       done;
    ngx_http_fib_queue_t      *queue;
    ngx_queue_t                link;       /* in queue->waiting */
    ngx_event_t                watch;
    fib_fast_t                *fast;
    ngx_uint_t                 pieces;     /* of the step */
    ngx_uint_t                 posted;     /* of the step, so far */
    ngx_uint_t                 finished;   /* of the step, so far */
    ngx_uint_t                 places;     /* taken in the queue: 1 + */
    ngx_http_fib_piece_t       piece[FIB_FAST_PIECES];
};


ngx_int_t ngx_http_fib_offload(ngx_http_fib_offload_t *off,
    ngx_http_fib_record_t *rec, ngx_http_fib_loc_conf_t *flcf,
    ngx_http_fib_done_pt done);
ngx_http_fib_queue_t *ngx_http_fib_add_queue(ngx_conf_t *cf,
    ngx_http_fib_pool_t *pool);

#endif


#endif /* _NGX_HTTP_FIB_THREAD_H_INCLUDED_ */
