
/*
 * Copyright (C) ngx_http_fib_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "fib_core.h"
#include "ngx_http_fib_module.h"


#define NGX_HTTP_FIB_PRIORITY_NORMAL   0
#define NGX_HTTP_FIB_PRIORITY_IDLE     1

/*
 * r->main->blocked is 8 bits wide and counts every task and aio
 * operation of a main request and its subrequests (SSI, mirrors); past
 * this many the module refuses to post more for that request.
 */
#define NGX_HTTP_FIB_MAX_BLOCKED       64

/*
 * How often the timer of a request whose task is out looks at its
 * client, ms: more often where the timer is all that looks, that is
 * while a body is being discarded and after it.
 */
#define NGX_HTTP_FIB_WATCH             1000
#define NGX_HTTP_FIB_WATCH_UNTESTED    100

/* fib_inline_max_cost's default, ns */
#define NGX_HTTP_FIB_INLINE_MAX_COST   20000

/* at most one "queue full" line per worker per this many ms */
#define NGX_HTTP_FIB_LOG_INTERVAL      1000


/*
 * A worker's view of one thread pool.  nginx logs an error for every task
 * a full pool refuses (884k lines in a two-minute soak); to keep that to
 * about one a second, the worker remembers how many of its tasks were in
 * flight when a post last failed, posts no more than that itself, and
 * asks the pool again at most once per NGX_HTTP_FIB_LOG_INTERVAL.  The
 * requests beyond wait in the worker's own queue, in order, using no CPU
 * until a task of theirs completes and makes room.
 */

typedef struct {
#if (NGX_THREADS)
    ngx_thread_pool_t         *pool;
#endif
    ngx_atomic_t               in_flight;  /* posted, thread not done */
    ngx_atomic_int_t           limit;      /* in flight at the last refusal */
    ngx_msec_t                 learned;
    ngx_queue_t                queue;      /* requests waiting for room */
    ngx_event_t                retry;
} ngx_http_fib_pool_t;


typedef struct {
    ngx_str_t                 *file;
    ngx_uint_t                 line;
} ngx_http_fib_where_t;


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
#if (NGX_THREADS)
    ngx_thread_pool_t         *thread_pool;
    ngx_http_fib_pool_t       *pool;
#endif
} ngx_http_fib_loc_conf_t;


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

    fib_job_t                  job;        /* all a pool thread touches */
    ngx_uint_t                 priority;   /* read by the thread */
    ngx_http_fib_pool_t       *pool;       /* in_flight: the thread's too */

#if (NGX_THREADS)
    ngx_thread_task_t          task;
    ngx_event_t                watch;
    ngx_queue_t                queue;
#endif

    ngx_http_request_t        *request;
    ngx_http_fib_shm_t        *shm;
    ngx_msec_t                 timeout;
    size_t                     memory;     /* charged to the budget */
    size_t                     work;       /* of which computing only */
    uint64_t                   post_ns;
    unsigned                   queued:1;      /* in the worker's queue */
    unsigned                   in_flight:1;   /* posted to the pool */
    unsigned                   stayed_idle:1; /* "normal" was refused */
} ngx_http_fib_ctx_t;


static ngx_int_t ngx_http_fib_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_fib_compute(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx, ngx_http_fib_loc_conf_t *flcf);
static void ngx_http_fib_ran(ngx_http_fib_ctx_t *ctx);
static ngx_int_t ngx_http_fib_refuse(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx, ngx_uint_t reason, const char *why);
static void ngx_http_fib_charge(ngx_http_fib_ctx_t *ctx, size_t size);
static void ngx_http_fib_release(ngx_http_fib_ctx_t *ctx, size_t size);
static void ngx_http_fib_end(void *data);
static ngx_int_t ngx_http_fib_respond(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx);
static ngx_int_t ngx_http_fib_has_error_page(ngx_http_request_t *r,
    ngx_uint_t status);
static ngx_int_t ngx_http_fib_send(ngx_http_request_t *r,
    ngx_http_fib_record_t *rec, ngx_uint_t status, u_char *data, size_t len);
static ngx_int_t ngx_http_fib_cache_headers(ngx_http_request_t *r,
    uint64_t num);
static ngx_table_elt_t *ngx_http_fib_add_header(ngx_http_request_t *r,
    char *key, ngx_str_t *value);
static ngx_int_t ngx_http_fib_etag_match(ngx_http_request_t *r,
    uint64_t num);

#if (NGX_THREADS)
static ngx_int_t ngx_http_fib_offload(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx, ngx_http_fib_loc_conf_t *flcf);
static ngx_int_t ngx_http_fib_post(ngx_http_fib_ctx_t *ctx);
static void ngx_http_fib_next(ngx_http_fib_pool_t *fp);
static void ngx_http_fib_retry_soon(ngx_http_fib_pool_t *fp);
static void ngx_http_fib_retry(ngx_event_t *ev);
static void ngx_http_fib_unqueue(ngx_http_fib_ctx_t *ctx, fib_rc_t rc);
static ngx_msec_t ngx_http_fib_watch_time(ngx_http_fib_ctx_t *ctx);
static ngx_int_t ngx_http_fib_client_gone(ngx_http_request_t *r);
static void ngx_http_fib_thread(void *data, ngx_log_t *log);
static void ngx_http_fib_completed(ngx_event_t *ev);
static void ngx_http_fib_watch(ngx_event_t *ev);
static void ngx_http_fib_pending(ngx_http_request_t *r);
static void ngx_http_fib_abort(void *data);
#endif


static char *ngx_http_fib(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_fib_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_fib_set_handler(ngx_conf_t *cf,
    ngx_http_fib_loc_conf_t *flcf, ngx_http_handler_pt handler);
static char *ngx_http_fib_enum(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_fib_inline_max_cost(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_fib_thread_pool(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void *ngx_http_fib_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_fib_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_fib_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_fib_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_fib_limit(ngx_conf_t *cf,
    ngx_http_fib_loc_conf_t *conf, ngx_uint_t check);
#if (NGX_THREADS)
static ngx_http_fib_pool_t *ngx_http_fib_pool(ngx_conf_t *cf,
    ngx_thread_pool_t *tp);
#endif


static ngx_conf_enum_t  ngx_http_fib_priorities[] = {
    { ngx_string("normal"), NGX_HTTP_FIB_PRIORITY_NORMAL },
    { ngx_string("idle"), NGX_HTTP_FIB_PRIORITY_IDLE },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_fib_algorithms[] = {
    { ngx_string("recursive"), FIB_RECURSIVE },
    { ngx_string("iterative"), FIB_ITERATIVE },
    { ngx_string("fast"), FIB_FAST },
    { ngx_null_string, 0 }
};


static char *ngx_http_fib_max_num(ngx_conf_t *cf, void *post, void *data);
static char *ngx_http_fib_timeout(ngx_conf_t *cf, void *post, void *data);

static ngx_conf_post_t  ngx_http_fib_max_num_post = {
    ngx_http_fib_max_num
};

static ngx_conf_post_t  ngx_http_fib_timeout_post = {
    ngx_http_fib_timeout
};


static ngx_command_t  ngx_http_fib_commands[] = {

    { ngx_string("fib"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_fib,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fib_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_fib_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fib_algorithm"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_fib_enum,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fib_loc_conf_t, algorithm),
      &ngx_http_fib_algorithms },

    { ngx_string("fib_max_num"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fib_loc_conf_t, max_num),
      &ngx_http_fib_max_num_post },

    { ngx_string("fib_inline_max_cost"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_fib_inline_max_cost,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fib_loc_conf_t, inline_max_cost),
      NULL },

    { ngx_string("fib_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_fib_thread_pool,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fib_thread_priority"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_fib_enum,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fib_loc_conf_t, thread_priority),
      &ngx_http_fib_priorities },

    { ngx_string("fib_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fib_loc_conf_t, timeout),
      &ngx_http_fib_timeout_post },

    { ngx_string("fib_max_memory"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_fib_main_conf_t, max_memory),
      NULL },

    { ngx_string("fib_max_waiting"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_fib_main_conf_t, max_waiting),
      NULL },

      ngx_null_command
};


#if (NGX_THREADS)
/* requests of this worker waiting in the queues of its pools */
static ngx_uint_t  ngx_http_fib_queued;
#endif


static ngx_http_module_t  ngx_http_fib_module_ctx = {
    ngx_http_fib_add_variables,            /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_fib_create_main_conf,         /* create main configuration */
    ngx_http_fib_init_main_conf,           /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_fib_create_loc_conf,          /* create location configuration */
    ngx_http_fib_merge_loc_conf            /* merge location configuration */
};


ngx_module_t  ngx_http_fib_module = {
    NGX_MODULE_V1,
    &ngx_http_fib_module_ctx,              /* module context */
    ngx_http_fib_commands,                 /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_fib_init_process,             /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_fib_exit_process,             /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_str_t  ngx_http_fib_allow = ngx_string("GET, HEAD");
static ngx_str_t  ngx_http_fib_retry_after = ngx_string("1");
static ngx_str_t  ngx_http_fib_cache_control =
    ngx_string("public, max-age=31536000, immutable");

#if (NGX_THREADS)
static ngx_str_t  ngx_http_fib_default_pool = ngx_string("default");
#endif

static ngx_int_t
ngx_http_fib_handler(ngx_http_request_t *r)
{
    uint64_t                   num;
    fib_rc_t                   frc;
    ngx_int_t                  rc;
    ngx_pool_cleanup_t        *cln;
    ngx_http_fib_ctx_t        *ctx;
    ngx_http_fib_loc_conf_t   *flcf;
    ngx_http_fib_main_conf_t  *fmcf;

    flcf = ngx_http_get_module_loc_conf(r, ngx_http_fib_module);
    fmcf = ngx_http_get_module_main_conf(r, ngx_http_fib_module);

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_fib_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the request is counted, and its memory given back, with its pool */

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;
    ctx->shm = fmcf->zone->data;
    ctx->rec.algorithm = flcf->algorithm;
    ctx->rec.outcome = NGX_HTTP_FIB_ERROR;

    cln->handler = ngx_http_fib_end;
    cln->data = ctx;

    ngx_http_set_ctx(r, ctx, ngx_http_fib_module);

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        /* a malformed body is the client's mistake, as nginx answers it */
        if (rc >= NGX_HTTP_BAD_REQUEST
            && rc < NGX_HTTP_INTERNAL_SERVER_ERROR)
        {
            ctx->rec.outcome = NGX_HTTP_FIB_BAD_REQUEST;
        }

        return rc;
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_http_fib_error(r, &ctx->rec, NGX_HTTP_NOT_ALLOWED,
                                  NGX_HTTP_FIB_BAD_REQUEST,
                                  "method %V is not allowed: use GET or HEAD",
                                  &r->method_name);
    }

    frc = fib_parse_query((const char *) r->args.data, r->args.len, &num);

    if (frc == FIB_ERR_NOMEM) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (frc != FIB_OK) {
        return ngx_http_fib_error(r, &ctx->rec, NGX_HTTP_BAD_REQUEST,
                                  NGX_HTTP_FIB_BAD_REQUEST, "%s",
                                  fib_strerror(frc));
    }

    ctx->rec.num = num;
    ctx->rec.parsed = 1;

    if (num > flcf->limit) {
        return ngx_http_fib_error(r, &ctx->rec, NGX_HTTP_BAD_REQUEST,
                                  NGX_HTTP_FIB_BAD_REQUEST,
                                  "num %uL exceeds fib_max_num %ui",
                                  num, flcf->limit);
    }

    /* conditions are the main request's: nginx's filters do the same */

    if (r == r->main && ngx_http_fib_etag_match(r, num)) {
        if (ngx_http_fib_cache_headers(r, num) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->rec.outcome = NGX_HTTP_FIB_NOT_MODIFIED;

        r->headers_out.status = NGX_HTTP_NOT_MODIFIED;
        r->headers_out.content_length_n = -1;
        r->header_only = 1;

        return ngx_http_send_header(r);
    }

    if (r->method == NGX_HTTP_HEAD) {
        /* the length of F(n) is known without computing it */

        if (ngx_http_fib_cache_headers(r, num) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->rec.outcome = NGX_HTTP_FIB_OK;

        return ngx_http_fib_send(r, &ctx->rec, NGX_HTTP_OK, NULL,
                                 fib_digits(num) + 1);
    }

    return ngx_http_fib_compute(r, ctx, flcf);
}


static ngx_int_t
ngx_http_fib_compute(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx,
    ngx_http_fib_loc_conf_t *flcf)
{
    char                      *out;
    size_t                     size;
    uint64_t                   cost;
    ngx_uint_t                 offload;
    ngx_http_fib_main_conf_t  *fmcf;

    cost = fib_cost_ns((fib_algorithm_t) ctx->rec.algorithm, ctx->rec.num);

    /*
     * The estimate decides, and the recursion above a small n leaves the
     * event loop whatever the estimate says: a wrong estimate once ran
     * F(93) inline and froze the worker for good.
     */

    offload = cost > flcf->inline_max_cost
              || (ctx->rec.algorithm == FIB_RECURSIVE
                  && ctx->rec.num > FIB_RECURSIVE_INLINE_MAX);

#if (NGX_THREADS)
    offload = offload && flcf->pool != NULL;
#else
    offload = 0;
#endif

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "fib: F(%uL) with %s, estimated cost %uLns",
                   ctx->rec.num, fib_algorithm_name(ctx->rec.algorithm), cost);

    if (offload && r->main->blocked >= NGX_HTTP_FIB_MAX_BLOCKED) {
        return ngx_http_fib_refuse(r, ctx, NGX_HTTP_FIB_TOO_MANY,
                                   "too many computations for one request");
    }

    /* the result and the computation's memory, before any is used */

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_fib_module);

    size = fib_out_size(ctx->rec.num);
    ctx->work = fib_work_size((fib_algorithm_t) ctx->rec.algorithm,
                              ctx->rec.num);

    if (ngx_http_fib_worker->memory + size + ctx->work > fmcf->max_memory) {
        ctx->work = 0;
        return ngx_http_fib_refuse(r, ctx, NGX_HTTP_FIB_NO_MEMORY,
                                   "fib_max_memory is reached");
    }

    ngx_http_fib_charge(ctx, size + ctx->work);

    /* the exact length is known: the thread fills it, the pool frees it */

    out = ngx_pnalloc(r->pool, size);
    if (out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    fib_job_init(&ctx->job, (fib_algorithm_t) ctx->rec.algorithm,
                 ctx->rec.num, out);

    ctx->job.stop = &ngx_terminate;
    ctx->timeout = flcf->timeout;
    ctx->post_ns = fib_now_ns();

    /* saturated: the msec slot takes values that overflow nanoseconds */
    ctx->job.deadline_ns = (flcf->timeout < (UINT64_MAX - ctx->post_ns)
                                            / 1000000)
                           ? ctx->post_ns + (uint64_t) flcf->timeout * 1000000
                           : UINT64_MAX;

#if (NGX_THREADS)
    if (offload) {
        return ngx_http_fib_offload(r, ctx, flcf);
    }
#endif

    ctx->rec.mode = NGX_HTTP_FIB_MODE_INLINE;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "fib: computing F(%uL) inline", ctx->rec.num);

    fib_job_run(&ctx->job);

    ngx_http_fib_ran(ctx);
    ngx_http_fib_release(ctx, ctx->work);

    return ngx_http_fib_respond(r, ctx);
}


/* what the thread, or the event loop, left in the job, for the record */

static void
ngx_http_fib_ran(ngx_http_fib_ctx_t *ctx)
{
    ctx->rec.ran = 1;
    ctx->rec.produced = (ctx->job.rc == FIB_OK);
    ctx->rec.compute_ns = ctx->job.compute_ns;

    if (ctx->job.start_ns > ctx->post_ns) {
        ctx->rec.queue_ns = ctx->job.start_ns - ctx->post_ns;
    }
}


/* 503 and Retry-After before anything was computed or queued */

static ngx_int_t
ngx_http_fib_refuse(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx,
    ngx_uint_t reason, const char *why)
{
    ngx_msec_t         now;

    static ngx_msec_t  logged;

    (void) ngx_atomic_fetch_add(&ctx->shm->rejected[reason], 1);

    now = ngx_current_msec;

    if (logged == 0 || now - logged >= NGX_HTTP_FIB_LOG_INTERVAL) {
        logged = now;
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "fib: %s, answering 503 "
                      "(logged at most once a second)", why);
    }

    return ngx_http_fib_error(r, &ctx->rec, NGX_HTTP_SERVICE_UNAVAILABLE,
                              NGX_HTTP_FIB_OVERLOADED,
                              "the server is busy: retry later");
}


/* the worker's memory budget: charged here, given back when freed */

static void
ngx_http_fib_charge(ngx_http_fib_ctx_t *ctx, size_t size)
{
    ctx->memory += size;
    (void) ngx_atomic_fetch_add(&ngx_http_fib_worker->memory, size);
}


static void
ngx_http_fib_release(ngx_http_fib_ctx_t *ctx, size_t size)
{
    ctx->memory -= size;
    (void) ngx_atomic_fetch_add(&ngx_http_fib_worker->memory,
                                - (ngx_atomic_int_t) size);
}


/*
 * The request's pool is being destroyed: the response went out or never
 * will.  The request is counted here, once, from what was recorded on the
 * way, and the result's memory goes back to the budget.
 */

static void
ngx_http_fib_end(void *data)
{
    ngx_http_fib_ctx_t *ctx = data;

    ngx_http_fib_release(ctx, ctx->memory);

    ngx_http_fib_count(ctx->shm, &ctx->rec);
}


#if (NGX_THREADS)

static ngx_int_t
ngx_http_fib_offload(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx,
    ngx_http_fib_loc_conf_t *flcf)
{
    ngx_thread_task_t         *task;
    ngx_http_cleanup_t        *cln;
    ngx_http_fib_main_conf_t  *fmcf;

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_fib_module);

    ctx->priority = flcf->priority;
    ctx->pool = flcf->pool;

    task = &ctx->task;
    task->ctx = ctx;
    task->handler = ngx_http_fib_thread;
    task->event.handler = ngx_http_fib_completed;
    task->event.data = ctx;
    task->event.log = r->connection->log;

    /* first come, first served: nobody passes those already waiting */

    if (!ngx_queue_empty(&ctx->pool->queue)
        || ngx_http_fib_post(ctx) != NGX_OK)
    {
        if (ngx_http_fib_queued >= (ngx_uint_t) fmcf->max_waiting) {
            /* nothing was queued: the request is still ours to answer */
            return ngx_http_fib_refuse(r, ctx, NGX_HTTP_FIB_QUEUE_FULL,
                                       "thread pool and fib_max_waiting "
                                       "are full");
        }

        ngx_queue_insert_tail(&ctx->pool->queue, &ctx->queue);
        ctx->queued = 1;
        ngx_http_fib_queued++;
        (void) ngx_atomic_fetch_add(&ngx_http_fib_worker->waiting, 1);

        ngx_http_fib_retry_soon(ctx->pool);
    }

    /*
     * From here on only ngx_http_fib_completed() may answer: r->pool,
     * which the thread writes into, lives as long as blocked is raised.
     */

    ctx->rec.mode = NGX_HTTP_FIB_MODE_THREAD;

    cln->handler = ngx_http_fib_abort;
    cln->data = ctx;

    /*
     * nginx 1.22 puts no timer on thread tasks: this one, not cancelable,
     * makes a gracefully exiting worker wait for the task instead of
     * leaving under it, and notices a client that is gone where nothing
     * else does.  The deadline itself is the computation's own.
     */
    ctx->watch.handler = ngx_http_fib_watch;
    ctx->watch.data = ctx;
    ctx->watch.log = r->connection->log;
    ngx_add_timer(&ctx->watch, ngx_http_fib_watch_time(ctx));

    /*
     * blocked, not r->aio, is what keeps the request and its pool: aio
     * would also stop an upstream that post_action starts meanwhile.
     */
    r->main->blocked++;
    r->main->count++;
    r->write_event_handler = ngx_http_fib_pending;

    /*
     * Notice at once a client that goes away while its task waits or
     * runs.  Read events go to the active request, a subrequest too
     * (SSI), so every request arms it, as the upstream module does.
     */
    if (!r->main->discard_body) {
        r->read_event_handler = ngx_http_test_reading;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "fib: offloaded F(%uL) with %s to the thread pool",
                   ctx->rec.num, fib_algorithm_name(ctx->rec.algorithm));

    return NGX_DONE;
}


/* posts the task if the pool has room, as far as this worker knows */

static ngx_int_t
ngx_http_fib_post(ngx_http_fib_ctx_t *ctx)
{
    ngx_int_t             rc;
    ngx_msec_t            now;
    ngx_atomic_int_t      in_flight;
    ngx_http_fib_pool_t  *fp;

    fp = ctx->pool;
    now = ngx_current_msec;

    if (fp->limit != NGX_MAX_INT_T_VALUE
        && now - fp->learned >= NGX_HTTP_FIB_LOG_INTERVAL)
    {
        /* ask the pool itself again: it may have room by now */
        fp->limit = NGX_MAX_INT_T_VALUE;
    }

    if ((ngx_atomic_int_t) fp->in_flight >= fp->limit) {
        return NGX_DECLINED;
    }

    /* counted first: the thread may be done before post returns */
    (void) ngx_atomic_fetch_add(&fp->in_flight, 1);

    rc = ngx_thread_task_post(fp->pool, &ctx->task);

    if (rc == NGX_OK) {
        ctx->in_flight = 1;
        (void) ngx_atomic_fetch_add(&ngx_http_fib_worker->in_flight, 1);
        return NGX_OK;
    }

    in_flight = (ngx_atomic_int_t) ngx_atomic_fetch_add(&fp->in_flight, -1)
                - 1;

    /*
     * A refusal with none of ours in flight teaches nothing: the pool is
     * busy with others' tasks, or its thread has not yet gone back to
     * waiting after finishing one of ours.
     */
    if (in_flight > 0) {
        fp->limit = in_flight;
        fp->learned = now;
    }

    return NGX_DECLINED;
}


/* posts the requests waiting for this pool, in order, while it has room */

static void
ngx_http_fib_next(ngx_http_fib_pool_t *fp)
{
    ngx_queue_t         *q;
    ngx_http_fib_ctx_t  *ctx;

    while (!ngx_queue_empty(&fp->queue)) {
        q = ngx_queue_head(&fp->queue);
        ctx = ngx_queue_data(q, ngx_http_fib_ctx_t, queue);

        if (ngx_http_fib_post(ctx) != NGX_OK) {
            ngx_http_fib_retry_soon(fp);
            return;
        }

        ngx_queue_remove(q);
        ctx->queued = 0;
        ngx_http_fib_queued--;
        (void) ngx_atomic_fetch_add(&ngx_http_fib_worker->waiting, -1);
    }
}


/*
 * Requests wait and none of ours is in flight, so no completion will
 * post them: the pool is busy with others' tasks, or a thread that just
 * finished one of ours is not yet back waiting (a pool without a queue
 * refuses until it is).  Ask again in a millisecond.
 */

static void
ngx_http_fib_retry_soon(ngx_http_fib_pool_t *fp)
{
    if (fp->in_flight == 0 && !fp->retry.timer_set) {
        fp->retry.log = ngx_cycle->log;
        ngx_add_timer(&fp->retry, 1);
    }
}


static void
ngx_http_fib_retry(ngx_event_t *ev)
{
    ngx_http_fib_next(ev->data);
}


/*
 * A waiting request leaves the queue without computing: the completion
 * runs from the posted events, as it would after a thread, so that no
 * handler finalizes the request from inside nginx's own cleanup.
 */

static void
ngx_http_fib_unqueue(ngx_http_fib_ctx_t *ctx, fib_rc_t rc)
{
    ngx_queue_remove(&ctx->queue);
    ctx->queued = 0;
    ngx_http_fib_queued--;
    (void) ngx_atomic_fetch_add(&ngx_http_fib_worker->waiting, -1);

    ctx->job.rc = rc;

    ngx_post_event(&ctx->task.event, &ngx_posted_events);
}


static ngx_msec_t
ngx_http_fib_watch_time(ngx_http_fib_ctx_t *ctx)
{
    uint64_t    now;
    ngx_msec_t  t;

    /*
     * nginx itself notices a client that leaves only where the request
     * reads with ngx_http_test_reading: not while its body is being
     * discarded (the discarder's handler), nor once that is done
     * (ngx_http_block_reading).
     */
    t = (ctx->request->read_event_handler == ngx_http_test_reading)
        ? NGX_HTTP_FIB_WATCH : NGX_HTTP_FIB_WATCH_UNTESTED;

    if (ctx->queued) {
        /* a waiting request's deadline is the timer's to keep */

        now = fib_now_ns();

        if (ctx->job.deadline_ns <= now) {
            return 1;
        }

        t = ngx_min(t, (ctx->job.deadline_ns - now) / 1000000 + 1);
    }

    return t;
}


static void
ngx_http_fib_thread(void *data, ngx_log_t *log)
{
    ngx_http_fib_ctx_t  *ctx = data;

#if (NGX_LINUX)
    struct sched_param  sp;

    static __thread ngx_uint_t  priority;

    /*
     * The event loop must win the CPU whenever it has work: its work is
     * short and other requests wait for it.  An idle-class thread runs
     * only on CPU time nothing else wants.  Linux sets the policy per
     * thread; going back to normal may be refused (an unprivileged
     * worker), and then the thread stays idle and the completion says so.
     */

    if (ctx->priority != priority) {
        ngx_memzero(&sp, sizeof(struct sched_param));

        if (sched_setscheduler(0, ctx->priority == NGX_HTTP_FIB_PRIORITY_IDLE
                                  ? SCHED_IDLE : SCHED_OTHER, &sp)
            == 0)
        {
            priority = ctx->priority;

        } else if (ctx->priority == NGX_HTTP_FIB_PRIORITY_NORMAL) {
            /* the thread may not log: the completion says so */
            ctx->stayed_idle = 1;
        }
    }
#endif

    fib_job_run(&ctx->job);

    (void) ngx_atomic_fetch_add(&ctx->pool->in_flight, -1);
}


/* in the event loop, once the thread is done with the job */

static void
ngx_http_fib_completed(ngx_event_t *ev)
{
    ngx_http_fib_ctx_t *ctx = ev->data;

    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    /* a worker's pool threads all meet the same refusal: say it once */
    static ngx_uint_t    stayed_idle_logged;

    r = ctx->request;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    if (ctx->watch.timer_set) {
        ngx_del_timer(&ctx->watch);
    }

    if (ctx->in_flight) {
        ctx->in_flight = 0;
        ngx_http_fib_ran(ctx);
        (void) ngx_atomic_fetch_add(&ngx_http_fib_worker->in_flight, -1);

        /* the thread made room: the next request waiting takes it */
        ngx_http_fib_next(ctx->pool);
    }

    ngx_http_fib_release(ctx, ctx->work);

    if (ctx->stayed_idle && !stayed_idle_logged) {
        stayed_idle_logged = 1;

        ngx_log_error(NGX_LOG_WARN, c->log, 0,
                      "fib: a pool thread that ran \"fib_thread_priority "
                      "idle\" may not go back to \"normal\" and computes "
                      "idle; give \"normal\" locations a pool of their own "
                      "(logged once per worker)");
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "fib: F(%uL) finished: %s in %uL.%03uLms", ctx->rec.num,
                   ctx->job.rc == FIB_OK ? "done"
                   : ctx->job.rc == FIB_ERR_TIMEOUT ? "timed out"
                   : "cancelled",
                   ctx->job.compute_ns / 1000000,
                   ctx->job.compute_ns / 1000 % 1000);

    r->main->blocked--;

    if (r->write_event_handler == ngx_http_fib_pending) {
        ngx_http_finalize_request(r, ngx_http_fib_respond(r, ctx));

    } else {
        /* the request was terminated: nginx put its finalizer here */
        r->write_event_handler(r);
    }

    ngx_http_run_posted_requests(c);
}


/*
 * The timer looks at the client the same way in every state of body
 * handling: none, being discarded, discarded.
 */

static void
ngx_http_fib_watch(ngx_event_t *ev)
{
    ngx_http_fib_ctx_t *ctx = ev->data;

    if (ngx_http_fib_client_gone(ctx->request)) {
        ngx_http_fib_abort(ctx);

    } else if (ctx->queued) {
        ngx_http_fib_next(ctx->pool);

        if (ctx->queued && ctx->job.deadline_ns <= fib_now_ns()) {
            ngx_http_fib_unqueue(ctx, FIB_ERR_TIMEOUT);
        }
    }

    /* until the completion, which deletes it */
    ngx_add_timer(ev, ngx_http_fib_watch_time(ctx));
}


/*
 * Whether the client has gone, asked of the connection itself as
 * ngx_http_test_reading() asks: a discard that read the client's close
 * leaves eof, a reset leaves error, and after a discard nobody reads,
 * so a close is only epoll's pending_eof or what a peek finds.  A peek
 * consumes nothing: a pipelined request stays for nginx.  HTTP/2
 * streams share their connection, and nginx marks a reset stream's own
 * connection itself: no peek there.
 */

static ngx_int_t
ngx_http_fib_client_gone(ngx_http_request_t *r)
{
    u_char             buf[1];
    ssize_t            n;
    ngx_err_t          err;
    ngx_connection_t  *c;

    c = r->connection;

    if (c->error || c->read->eof) {
        return 1;
    }

#if (NGX_HTTP_V2)
    if (r->main->stream != NULL) {
        return 0;
    }
#endif

    if (c->read->pending_eof) {
        goto gone;
    }

    n = recv(c->fd, (char *) buf, 1, MSG_PEEK);

    if (n > 0) {
        return 0;
    }

    if (n == -1) {
        err = ngx_socket_errno;

        if (err == NGX_EAGAIN || err == NGX_EINTR) {
            return 0;
        }

        c->read->error = 1;
    }

gone:

    /* as ngx_http_test_reading() leaves it: nginx sends nothing more */
    c->read->eof = 1;
    c->error = 1;

    return 1;
}


/* nothing to write while the task is out; its completion answers */

static void
ngx_http_fib_pending(ngx_http_request_t *r)
{
    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "fib: waiting for the thread pool");
}


/* the request ends before its task: stop the computation */

static void
ngx_http_fib_abort(void *data)
{
    ngx_http_fib_ctx_t *ctx = data;

    if (!ctx->queued && !ctx->in_flight) {
        return;
    }

    if (ctx->rec.outcome != NGX_HTTP_FIB_CANCELLED) {
        ctx->rec.outcome = NGX_HTTP_FIB_CANCELLED;

        ngx_log_error(NGX_LOG_INFO, ctx->request->connection->log, 0,
                      "fib: client closed the connection, "
                      "cancelling F(%uL)", ctx->rec.num);
    }

    if (ctx->queued) {
        ngx_http_fib_unqueue(ctx, FIB_ERR_CANCELLED);
        return;
    }

    atomic_store(&ctx->job.cancel, 1);
}

#endif


static ngx_int_t
ngx_http_fib_respond(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx)
{
    switch (ctx->job.rc) {

    case FIB_OK:
        break;

    case FIB_ERR_TIMEOUT:
        return ngx_http_fib_error(r, &ctx->rec, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  NGX_HTTP_FIB_TIMED_OUT,
                                  "the computation exceeded "
                                  "fib_timeout %Mms", ctx->timeout);

    case FIB_ERR_CANCELLED:
        ctx->rec.outcome = NGX_HTTP_FIB_CANCELLED;
        return NGX_HTTP_CLIENT_CLOSED_REQUEST;

    default:
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "fib: computing F(%uL) failed: %s",
                      ctx->rec.num, fib_strerror(ctx->job.rc));
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_fib_cache_headers(r, ctx->rec.num) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->rec.outcome = NGX_HTTP_FIB_OK;

    return ngx_http_fib_send(r, &ctx->rec, NGX_HTTP_OK, (u_char *) ctx->job.out,
                             ctx->job.len);
}


/*
 * A one-line text/plain error, logged at info for client mistakes, or
 * the status alone when the location has an error_page for it: then
 * nginx's error page handling answers, as for its own errors.
 */

ngx_int_t
ngx_http_fib_error(ngx_http_request_t *r, ngx_http_fib_record_t *rec,
    ngx_uint_t status, ngx_uint_t outcome, const char *fmt, ...)
{
    u_char   *p, *last;
    va_list   args;
    u_char    msg[NGX_MAX_ERROR_STR];

    va_start(args, fmt);
    last = ngx_vslprintf(msg, msg + sizeof(msg) - 1, fmt, args);
    va_end(args);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "fib: %*s", last - msg, msg);

    if (rec != NULL) {
        rec->outcome = outcome;
    }

    /* an error page answers with headers of its own, not with ours */

    if (ngx_http_fib_has_error_page(r, status)) {
        return status;
    }

    if ((status == NGX_HTTP_NOT_ALLOWED
         && ngx_http_fib_add_header(r, "Allow", &ngx_http_fib_allow) == NULL)
        || (status == NGX_HTTP_SERVICE_UNAVAILABLE
            && outcome == NGX_HTTP_FIB_OVERLOADED
            && ngx_http_fib_add_header(r, "Retry-After",
                                       &ngx_http_fib_retry_after)
               == NULL))
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_pnalloc(r->pool, last - msg + 1);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last = ngx_cpymem(p, msg, last - msg);
    *last++ = LF;

    return ngx_http_fib_send(r, rec, status, p, last - p);
}


/* the test ngx_http_special_response_handler() makes */

static ngx_int_t
ngx_http_fib_has_error_page(ngx_http_request_t *r, ngx_uint_t status)
{
    ngx_uint_t                 i;
    ngx_http_err_page_t       *err_page;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (r->error_page || clcf->error_pages == NULL || r->uri_changes == 0) {
        return 0;
    }

    err_page = clcf->error_pages->elts;

    for (i = 0; i < clcf->error_pages->nelts; i++) {
        if (err_page[i].status == (ngx_int_t) status) {
            return 1;
        }
    }

    return 0;
}


static ngx_int_t
ngx_http_fib_send(ngx_http_request_t *r, ngx_http_fib_record_t *rec,
    ngx_uint_t status, u_char *data, size_t len)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    r->headers_out.status = status;
    r->headers_out.content_length_n = len;

    ngx_str_set(&r->headers_out.content_type, "text/plain");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);

    if (r->filter_finalize && rec != NULL) {
        /* a filter answered instead: 412 for If-Match, for one */
        rec->outcome = NGX_HTTP_FIB_FILTERED;
    }

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = data;
    b->last = data + len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static ngx_int_t
ngx_http_fib_cache_headers(ngx_http_request_t *r, uint64_t num)
{
    u_char            *p;
    ngx_str_t          value;
    ngx_table_elt_t   *h;
#if (nginx_version < 1023000)
    ngx_table_elt_t  **ccp;
#endif

    p = ngx_pnalloc(r->pool, sizeof("\"fib-18446744073709551615\"") - 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    value.data = p;
    value.len = ngx_sprintf(p, "\"fib-%uL\"", num) - p;

    h = ngx_http_fib_add_header(r, "ETag", &value);
    if (h == NULL) {
        return NGX_ERROR;
    }

    r->headers_out.etag = h;

    /* F(n) never changes; registered, so that "expires" replaces it */

    h = ngx_http_fib_add_header(r, "Cache-Control",
                                &ngx_http_fib_cache_control);
    if (h == NULL) {
        return NGX_ERROR;
    }

#if (nginx_version >= 1023000)
    r->headers_out.cache_control = h;
#else
    if (ngx_array_init(&r->headers_out.cache_control, r->pool, 1,
                       sizeof(ngx_table_elt_t *))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ccp = ngx_array_push(&r->headers_out.cache_control);
    if (ccp == NULL) {
        return NGX_ERROR;
    }

    *ccp = h;
#endif

    /* the body is one buffer of known length: nginx's range filter cuts */
    r->allow_ranges = 1;

    return NGX_OK;
}


static ngx_table_elt_t *
ngx_http_fib_add_header(ngx_http_request_t *r, char *key, ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NULL;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value = *value;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return h;
}


/*
 * If-None-Match: "*" or a list of entity tags; weak comparison, as
 * RFC 7232 asks for this header.
 */

static ngx_int_t
ngx_http_fib_etag_match(ngx_http_request_t *r, uint64_t num)
{
    u_char     *p, *last, *start;
    size_t      len;
    u_char      etag[sizeof("\"fib-18446744073709551615\"")];

    if (r->headers_in.if_none_match == NULL) {
        return 0;
    }

    len = ngx_sprintf(etag, "\"fib-%uL\"", num) - etag;

    p = r->headers_in.if_none_match->value.data;
    last = p + r->headers_in.if_none_match->value.len;

    while (p < last) {
        while (p < last && (*p == ' ' || *p == '\t' || *p == ',')) {
            p++;
        }

        if (p == last) {
            break;
        }

        if (*p == '*') {
            return 1;
        }

        if (last - p > 2 && p[0] == 'W' && p[1] == '/') {
            p += 2;
        }

        start = p;

        if (*p == '"') {
            p++;
            while (p < last && *p != '"') {
                p++;
            }
            if (p < last) {
                p++;
            }

        } else {
            while (p < last && *p != ',') {
                p++;
            }
        }

        if ((size_t) (p - start) == len && ngx_memcmp(start, etag, len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


static char *
ngx_http_fib(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fib_loc_conf_t *flcf = conf;

    char  *rv;

    rv = ngx_http_fib_set_handler(cf, flcf, ngx_http_fib_handler);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    flcf->enable_at.file = &cf->conf_file->file.name;
    flcf->enable_at.line = cf->conf_file->line;

    return NGX_CONF_OK;
}


static char *
ngx_http_fib_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    return ngx_http_fib_set_handler(cf, conf, ngx_http_fib_status_handler);
}


/* "fib" and "fib_status": one content handler a location, ours or not */

static char *
ngx_http_fib_set_handler(ngx_conf_t *cf, ngx_http_fib_loc_conf_t *flcf,
    ngx_http_handler_pt handler)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (flcf->handler == handler) {
        return "is duplicate";
    }

    if (flcf->handler != NULL) {
        return flcf->handler == ngx_http_fib_handler
               ? "cannot be combined with \"fib\" in one location"
               : "cannot be combined with \"fib_status\" in one location";
    }

    if (clcf->handler != NULL) {
        return "cannot follow another content handler, such as "
               "\"proxy_pass\", in one location";
    }

    flcf->handler = handler;
    clcf->handler = handler;

    return NGX_CONF_OK;
}


/* ngx_conf_set_enum_slot() that names the directive and what it takes */

static char *
ngx_http_fib_enum(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    u_char           *s, *end;
    ngx_str_t        *value;
    ngx_uint_t       *np, i;
    ngx_conf_enum_t  *e;
    u_char            allowed[128];

    np = (ngx_uint_t *) (p + cmd->offset);

    if (*np != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;
    e = cmd->post;

    for (i = 0; e[i].name.len != 0; i++) {
        if (e[i].name.len == value[1].len
            && ngx_strcmp(e[i].name.data, value[1].data) == 0)
        {
            *np = e[i].value;
            return NGX_CONF_OK;
        }
    }

    s = allowed;
    end = allowed + sizeof(allowed);

    for (i = 0; e[i].name.len != 0; i++) {
        s = ngx_slprintf(s, end, "%s\"%V\"",
                         i == 0 ? "" : e[i + 1].name.len ? ", " : " or ",
                         &e[i].name);
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\" in \"%V\": use %*s",
                       &value[1], &cmd->name, s - allowed, allowed);

    return NGX_CONF_ERROR;
}


/* remembers where the limit was set: merging may find it too large */

static char *
ngx_http_fib_max_num(ngx_conf_t *cf, void *post, void *data)
{
    ngx_int_t  *np = data;

    ngx_http_fib_loc_conf_t  *flcf;

    if (*np > FIB_BIG_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"fib_max_num\" %i is above %d, the most any "
                           "algorithm allows", *np, FIB_BIG_MAX);
        return NGX_CONF_ERROR;
    }

    flcf = (ngx_http_fib_loc_conf_t *)
               ((u_char *) data - offsetof(ngx_http_fib_loc_conf_t, max_num));

    flcf->max_num_at.file = &cf->conf_file->file.name;
    flcf->max_num_at.line = cf->conf_file->line;

    return NGX_CONF_OK;
}


/* a computation without a deadline could hold a thread for centuries */

static char *
ngx_http_fib_timeout(ngx_conf_t *cf, void *post, void *data)
{
    ngx_msec_t  *msp = data;

    if (*msp == 0) {
        return "must be at least 1ms";
    }

    return NGX_CONF_OK;
}


/*
 * "20us", "1ms", "0": the estimated CPU time above which a computation
 * leaves the event loop; a bare number is microseconds.
 */

static char *
ngx_http_fib_inline_max_cost(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fib_loc_conf_t *flcf = conf;

    size_t      len;
    ngx_int_t   n;
    ngx_str_t  *value;
    ngx_uint_t  scale;

    if (flcf->inline_max_cost != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;
    len = value[1].len;
    scale = 1000;

    if (len > 2 && ngx_strncmp(&value[1].data[len - 2], "us", 2) == 0) {
        len -= 2;

    } else if (len > 2 && ngx_strncmp(&value[1].data[len - 2], "ms", 2) == 0)
    {
        len -= 2;
        scale = 1000000;

    } else if (len > 1 && value[1].data[len - 1] == 's') {
        len -= 1;
        scale = 1000000000;
    }

    n = (len > 0 && len < 10) ? ngx_atoi(value[1].data, len) : NGX_ERROR;

    if (n == NGX_ERROR || (ngx_uint_t) n > NGX_MAX_UINT32_VALUE / scale * 4)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\": expected a time "
                           "such as \"20us\", \"5ms\" or \"1s\"",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    flcf->inline_max_cost = (ngx_uint_t) n * scale;

    return NGX_CONF_OK;
}


static char *
ngx_http_fib_thread_pool(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t  *value;

#if (NGX_THREADS)
    ngx_http_fib_loc_conf_t  *flcf = conf;
#endif

    value = cf->args->elts;

#if (NGX_THREADS)

    if (flcf->thread_pool != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    if (ngx_strcmp(value[1].data, "off") == 0) {
        flcf->thread_pool = NULL;
        return NGX_CONF_OK;
    }

    /* _add, not _get: the "thread_pool" line may come later */
    flcf->thread_pool = ngx_thread_pool_add(cf, &value[1]);
    if (flcf->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

#else

    if (ngx_strcmp(value[1].data, "off") == 0) {
        return NGX_CONF_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V %V\" needs nginx built with threads "
                       "(--with-threads); use \"%V off\"",
                       &cmd->name, &value[1], &cmd->name);
    return NGX_CONF_ERROR;

#endif
}


static void *
ngx_http_fib_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_fib_main_conf_t  *fmcf;

    fmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_fib_main_conf_t));
    if (fmcf == NULL) {
        return NULL;
    }

    fmcf->max_memory = NGX_CONF_UNSET_SIZE;
    fmcf->max_waiting = NGX_CONF_UNSET;

    fmcf->zone = ngx_http_fib_add_zone(cf);
    if (fmcf->zone == NULL) {
        return NULL;
    }

    if (ngx_array_init(&fmcf->pools, cf->pool, 4,
                       sizeof(ngx_http_fib_pool_t *))
        != NGX_OK)
    {
        return NULL;
    }

    return fmcf;
}


static char *
ngx_http_fib_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_fib_main_conf_t *fmcf = conf;

    ngx_conf_init_size_value(fmcf->max_memory, 64 * 1024 * 1024);
    ngx_conf_init_value(fmcf->max_waiting, 1024);

    return NGX_CONF_OK;
}


static void *
ngx_http_fib_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_fib_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_fib_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->algorithm = NGX_CONF_UNSET_UINT;
    conf->max_num = NGX_CONF_UNSET;
    conf->inline_max_cost = NGX_CONF_UNSET_UINT;
    conf->timeout = NGX_CONF_UNSET_MSEC;
    conf->thread_priority = NGX_CONF_UNSET_UINT;
#if (NGX_THREADS)
    conf->thread_pool = NGX_CONF_UNSET_PTR;
#endif

    return conf;
}


/*
 * Every location configuration nginx makes passes through here, the
 * ones of "if" and "limit_except" blocks inside a "fib" location too:
 * the request runs with theirs under the enclosing location's handler,
 * so everything the handler reads is derived here, for all of them.
 */

static char *
ngx_http_fib_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_fib_loc_conf_t *prev = parent;
    ngx_http_fib_loc_conf_t *conf = child;

    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->noname && conf->handler == NULL) {
        /* an "if" or "limit_except" block: the enclosing handler's */
        conf->handler = prev->handler;
        conf->enable_at = prev->enable_at;

        /* nginx takes the content handler from limit_except's own */
        if (clcf->lmt_excpt && clcf->handler == NULL) {
            clcf->handler = conf->handler;
        }

    } else if (conf->handler != clcf->handler) {
        /* another content handler written after ours replaced it */
        conf->handler = NULL;
    }

    ngx_conf_merge_uint_value(conf->algorithm, prev->algorithm,
                              FIB_RECURSIVE);
    ngx_conf_merge_uint_value(conf->inline_max_cost, prev->inline_max_cost,
                              NGX_HTTP_FIB_INLINE_MAX_COST);
    ngx_conf_merge_msec_value(conf->timeout, prev->timeout, 30000);
    ngx_conf_merge_uint_value(conf->thread_priority, prev->thread_priority,
                              NGX_CONF_UNSET_UINT);

    if (conf->max_num == NGX_CONF_UNSET) {
        conf->max_num = prev->max_num;
        conf->max_num_at.line = 0;
    }

#if (NGX_THREADS)

    ngx_conf_merge_ptr_value(conf->thread_pool, prev->thread_pool,
                             NGX_CONF_UNSET_PTR);

    /* only locations with "fib" make the default pool exist */

    if (conf->thread_pool == NGX_CONF_UNSET_PTR
        && conf->handler == ngx_http_fib_handler)
    {
        conf->thread_pool = ngx_thread_pool_add(cf,
                                                &ngx_http_fib_default_pool);
        if (conf->thread_pool == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    conf->pool = NULL;

    if (conf->thread_pool != NULL && conf->thread_pool != NGX_CONF_UNSET_PTR)
    {
        conf->pool = ngx_http_fib_pool(cf, conf->thread_pool);
        if (conf->pool == NULL) {
            return NGX_CONF_ERROR;
        }
    }

#endif

    /* checked where "fib" is written, not again in its blocks */

    if (ngx_http_fib_limit(cf, conf,
                           conf->handler == ngx_http_fib_handler
                           && !clcf->noname)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

#if (NGX_THREADS)

    /*
     * A thread keeps its scheduling class: the idle class only by default
     * on a pool the operator named, never on nginx's "default" pool that
     * "aio threads" shares.
     */

    if (conf->thread_priority != NGX_CONF_UNSET_UINT) {
        conf->priority = conf->thread_priority;

    } else if (conf->pool != NULL
               && conf->thread_pool
                  == ngx_thread_pool_get(cf->cycle,
                                         &ngx_http_fib_default_pool))
    {
        conf->priority = NGX_HTTP_FIB_PRIORITY_NORMAL;

    } else {
        conf->priority = NGX_HTTP_FIB_PRIORITY_IDLE;
    }

#endif

    return NGX_CONF_OK;
}


/*
 * The largest N in force.  The default follows the algorithm: about a
 * second of one core at most with a pool, and no longer than the inline
 * threshold without one, where every computation stalls the event loop.
 * A limit inherited from an outer level applies up to the algorithm's
 * own maximum; one set in a "fib" location above it is an error,
 * reported where it was set.  Checks and warnings are made where "fib"
 * or "fib_max_num" is written, once.
 */

static ngx_int_t
ngx_http_fib_limit(ngx_conf_t *cf, ngx_http_fib_loc_conf_t *conf,
    ngx_uint_t check)
{
    size_t                     need;
    uint64_t                   max, cost, stall;
    ngx_uint_t                 pooled, inline_max;
    ngx_http_fib_where_t      *at;
    ngx_http_fib_main_conf_t  *fmcf;

    max = fib_algorithm_max(conf->algorithm);

#if (NGX_THREADS)
    pooled = (conf->pool != NULL);
#else
    pooled = 0;
#endif

    /* without a pool, "0" (everything to the pool) means the default */
    inline_max = ngx_max(conf->inline_max_cost, NGX_HTTP_FIB_INLINE_MAX_COST);

    if (conf->max_num == NGX_CONF_UNSET) {
        conf->limit = pooled ? fib_default_max(conf->algorithm)
                             : fib_inline_max(conf->algorithm, inline_max);

    } else if ((uint64_t) conf->max_num <= max) {
        conf->limit = conf->max_num;

    } else if (check && conf->max_num_at.line != 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"fib_max_num\" %i is above %uL, the largest n "
                      "whose F(n) the %s algorithm can compute, in %V:%ui",
                      conf->max_num, max, fib_algorithm_name(conf->algorithm),
                      conf->max_num_at.file, conf->max_num_at.line);
        return NGX_ERROR;

    } else {
        conf->limit = max;
    }

    if (!check) {
        return NGX_OK;
    }

    at = conf->max_num_at.line ? &conf->max_num_at : &conf->enable_at;

    fmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_fib_module);

    need = fib_out_size(conf->limit)
           + fib_work_size(conf->algorithm, conf->limit);

    if (need > fmcf->max_memory) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "F(%ui) with the %s algorithm needs about %uz "
                      "bytes, more than \"fib_max_memory\" %uz: raise "
                      "it or lower \"fib_max_num\", in %V:%ui",
                      conf->limit, fib_algorithm_name(conf->algorithm),
                      need, fmcf->max_memory, at->file, at->line);
        return NGX_ERROR;
    }

    cost = fib_cost_ns(conf->algorithm, conf->limit);

    if (!pooled && cost > inline_max) {
        /* an inline computation, too, ends at its deadline */
        stall = ngx_min(cost / 1000, (uint64_t) conf->timeout * 1000);

        ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                      "F(%ui) with the %s algorithm and no thread pool "
                      "can stall the event loop for %s%uL.%03uLms: give "
                      "the location a pool or lower \"fib_max_num\", "
                      "in %V:%ui",
                      conf->limit, fib_algorithm_name(conf->algorithm),
                      stall == (uint64_t) conf->timeout * 1000
                      ? "\"fib_timeout\" " : "about ",
                      stall / 1000, stall % 1000, at->file, at->line);
    }

    return NGX_OK;
}


#if (NGX_THREADS)

/* one record per pool, shared by the locations that use it */

static ngx_http_fib_pool_t *
ngx_http_fib_pool(ngx_conf_t *cf, ngx_thread_pool_t *tp)
{
    ngx_uint_t                 i;
    ngx_http_fib_pool_t       *fp, **fpp;
    ngx_http_fib_main_conf_t  *fmcf;

    fmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_fib_module);

    fpp = fmcf->pools.elts;

    for (i = 0; i < fmcf->pools.nelts; i++) {
        if (fpp[i]->pool == tp) {
            return fpp[i];
        }
    }

    fp = ngx_pcalloc(cf->pool, sizeof(ngx_http_fib_pool_t));
    if (fp == NULL) {
        return NULL;
    }

    fp->pool = tp;
    fp->limit = NGX_MAX_INT_T_VALUE;
    ngx_queue_init(&fp->queue);

    /* the waiting requests' own timers hold an exiting worker, not this */
    fp->retry.handler = ngx_http_fib_retry;
    fp->retry.data = fp;
    fp->retry.cancelable = 1;

    fpp = ngx_array_push(&fmcf->pools);
    if (fpp == NULL) {
        return NULL;
    }

    *fpp = fp;

    return fp;
}

#endif


