
/*
 * Copyright (C) ngx_http_fib_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "fib_core.h"



#define NGX_HTTP_FIB_MODE_NONE         0
#define NGX_HTTP_FIB_MODE_INLINE       1
#define NGX_HTTP_FIB_MODE_THREAD       2

#define NGX_HTTP_FIB_OK                0
#define NGX_HTTP_FIB_NOT_MODIFIED      1
#define NGX_HTTP_FIB_BAD_REQUEST       2
#define NGX_HTTP_FIB_OVERLOADED        3
#define NGX_HTTP_FIB_TIMED_OUT         4
#define NGX_HTTP_FIB_CANCELLED         5
#define NGX_HTTP_FIB_OUTCOMES          6

#define NGX_HTTP_FIB_PRIORITY_NORMAL  0
#define NGX_HTTP_FIB_PRIORITY_IDLE    1

/* how often a cancelled, still unfinished task is looked at again */
#define NGX_HTTP_FIB_RECHECK           100

/* at most one "queue full" line per worker per this many ms */
#define NGX_HTTP_FIB_LOG_INTERVAL      1000

#define NGX_HTTP_FIB_ALGORITHMS        3
#define NGX_HTTP_FIB_BUCKETS           8


/* in shared memory: every worker adds to them, reloads keep them */

typedef struct {
    ngx_atomic_t               requests[NGX_HTTP_FIB_OUTCOMES];
    ngx_atomic_t               computations[NGX_HTTP_FIB_ALGORITHMS][2];
    ngx_atomic_t               compute_ns[NGX_HTTP_FIB_ALGORITHMS];
    ngx_atomic_t               in_flight;
    ngx_atomic_t               rejected_queue_full;
    ngx_atomic_t               buckets[NGX_HTTP_FIB_BUCKETS];
    ngx_atomic_t               sum_ns;
    ngx_atomic_t               count;
} ngx_http_fib_counters_t;


/*
 * A worker's view of one thread pool.  nginx logs an error for every task
 * a full pool refuses; to keep that from happening once per request
 * under overload, the worker remembers how many of its tasks were in
 * flight when a post last failed, refuses at that level itself, and asks
 * the pool again at most once per NGX_HTTP_FIB_LOG_INTERVAL.
 */

typedef struct {
#if (NGX_THREADS)
    ngx_thread_pool_t         *pool;
#endif
    ngx_atomic_t               in_flight;  /* posted, not yet returned */
    ngx_atomic_int_t           limit;      /* in flight at the last refusal */
    ngx_msec_t                 learned;
} ngx_http_fib_pool_t;


typedef struct {
    ngx_shm_zone_t            *zone;
    ngx_array_t                pools;      /* of ngx_http_fib_pool_t * */
} ngx_http_fib_main_conf_t;


typedef struct {
    ngx_flag_t                 enable;
    ngx_uint_t                 algorithm;
    ngx_uint_t                 max_num;           /* as configured */
    ngx_uint_t                 limit;             /* in force */
    ngx_uint_t                 inline_max_cost;   /* ns */
    ngx_msec_t                 timeout;
    ngx_uint_t                 thread_priority;
#if (NGX_THREADS)
    ngx_thread_pool_t         *thread_pool;
    ngx_http_fib_pool_t       *pool;
#endif
} ngx_http_fib_loc_conf_t;


/* what a pool thread sees: the job and how to run it */

typedef struct {
    fib_job_t                  job;
    ngx_uint_t                 priority;
    ngx_http_fib_pool_t       *pool;
} ngx_http_fib_task_ctx_t;


typedef struct {
    fib_job_t                 *job;
    uint64_t                   num;
    uint64_t                   post_ns;
    uint64_t                   queue_ns;
    ngx_uint_t                 algorithm;
    ngx_uint_t                 mode;
    ngx_uint_t                 outcome;
    ngx_msec_t                 timeout;
    unsigned                   parsed:1;
    unsigned                   finished:1;
    unsigned                   completed:1;
    unsigned                   timed_out:1;
} ngx_http_fib_ctx_t;


static ngx_int_t ngx_http_fib_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_fib_compute(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx, ngx_http_fib_loc_conf_t *flcf);
static ngx_int_t ngx_http_fib_respond(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx);
static ngx_int_t ngx_http_fib_not_modified(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx);
static ngx_int_t ngx_http_fib_error(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx, ngx_uint_t status, ngx_uint_t outcome,
    const char *fmt, ...);
static ngx_int_t ngx_http_fib_send(ngx_http_request_t *r, ngx_uint_t status,
    u_char *data, size_t len);
static ngx_int_t ngx_http_fib_cache_headers(ngx_http_request_t *r,
    uint64_t num);
static ngx_table_elt_t *ngx_http_fib_add_header(ngx_http_request_t *r,
    char *key, ngx_str_t *value);
static ngx_int_t ngx_http_fib_etag_match(ngx_http_request_t *r,
    uint64_t num);
static void ngx_http_fib_finish(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx, ngx_uint_t outcome);
static void ngx_http_fib_computed(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx);
static ngx_http_fib_counters_t *ngx_http_fib_counters(ngx_http_request_t *r);
static ngx_int_t ngx_http_fib_status_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_fib_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_fib_time_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static fib_job_t *ngx_http_fib_job(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx, ngx_thread_task_t **taskp);
static void ngx_http_fib_job_cleanup(void *data);

#if (NGX_THREADS)
static ngx_int_t ngx_http_fib_offload(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx, ngx_http_fib_loc_conf_t *flcf);
static void ngx_http_fib_thread(void *data, ngx_log_t *log);
static void ngx_http_fib_thread_event_handler(ngx_event_t *ev);
static void ngx_http_fib_resume(ngx_http_request_t *r);
static void ngx_http_fib_request_cleanup(void *data);
#endif

static char *ngx_http_fib(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_fib_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_fib_max_num(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_fib_inline_max_cost(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_fib_thread_pool(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_fib_add_variables(ngx_conf_t *cf);
static void *ngx_http_fib_create_main_conf(ngx_conf_t *cf);
static ngx_int_t ngx_http_fib_init_zone(ngx_shm_zone_t *shm_zone, void *data);
static void *ngx_http_fib_create_loc_conf(ngx_conf_t *cf);
#if (NGX_THREADS)
static ngx_http_fib_pool_t *ngx_http_fib_pool(ngx_conf_t *cf,
    ngx_thread_pool_t *tp);
#endif
static char *ngx_http_fib_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);


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
      0,
      0,
      NULL },

    { ngx_string("fib_algorithm"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fib_loc_conf_t, algorithm),
      &ngx_http_fib_algorithms },

    { ngx_string("fib_max_num"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_fib_max_num,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fib_loc_conf_t, max_num),
      NULL },

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
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fib_loc_conf_t, thread_priority),
      &ngx_http_fib_priorities },

    { ngx_string("fib_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fib_loc_conf_t, timeout),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_fib_module_ctx = {
    ngx_http_fib_add_variables,            /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_fib_create_main_conf,         /* create main configuration */
    NULL,                                  /* init main configuration */

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
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_str_t  ngx_http_fib_allow = ngx_string("GET, HEAD");
static ngx_str_t  ngx_http_fib_cache_control =
    ngx_string("public, max-age=31536000, immutable");

#if (NGX_THREADS)
static ngx_str_t  ngx_http_fib_default_pool = ngx_string("default");
static ngx_str_t  ngx_http_fib_retry_after = ngx_string("1");
#endif

static ngx_str_t  ngx_http_fib_zone_name = ngx_string("ngx_http_fib_module");


static ngx_str_t  ngx_http_fib_outcomes[] = {
    ngx_string("ok"),
    ngx_string("not_modified"),
    ngx_string("bad_request"),
    ngx_string("overloaded"),
    ngx_string("timed_out"),
    ngx_string("cancelled")
};


static ngx_str_t  ngx_http_fib_modes[] = {
    ngx_null_string,
    ngx_string("inline"),
    ngx_string("thread")
};


/* upper bounds of the compute time histogram, in ns and as labels */

static uint64_t  ngx_http_fib_bucket_ns[NGX_HTTP_FIB_BUCKETS - 1] = {
    10000, 100000, 1000000, 10000000, 100000000, 1000000000, 10000000000
};

static char  *ngx_http_fib_bucket_le[NGX_HTTP_FIB_BUCKETS] = {
    "0.00001", "0.0001", "0.001", "0.01", "0.1", "1", "10", "+Inf"
};


#define NGX_HTTP_FIB_VAR_NUM           0
#define NGX_HTTP_FIB_VAR_ALGORITHM     1
#define NGX_HTTP_FIB_VAR_MODE          2
#define NGX_HTTP_FIB_VAR_OUTCOME       3
#define NGX_HTTP_FIB_VAR_QUEUE_TIME    0
#define NGX_HTTP_FIB_VAR_COMPUTE_TIME  1


static ngx_http_variable_t  ngx_http_fib_vars[] = {

    { ngx_string("fib_num"), NULL, ngx_http_fib_variable,
      NGX_HTTP_FIB_VAR_NUM, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("fib_algorithm"), NULL, ngx_http_fib_variable,
      NGX_HTTP_FIB_VAR_ALGORITHM, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("fib_mode"), NULL, ngx_http_fib_variable,
      NGX_HTTP_FIB_VAR_MODE, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("fib_outcome"), NULL, ngx_http_fib_variable,
      NGX_HTTP_FIB_VAR_OUTCOME, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("fib_queue_time"), NULL, ngx_http_fib_time_variable,
      NGX_HTTP_FIB_VAR_QUEUE_TIME, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("fib_compute_time"), NULL, ngx_http_fib_time_variable,
      NGX_HTTP_FIB_VAR_COMPUTE_TIME, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_int_t
ngx_http_fib_handler(ngx_http_request_t *r)
{
    uint64_t                  num;
    fib_rc_t                  frc;
    ngx_int_t                 rc;
    ngx_http_fib_ctx_t       *ctx;
    ngx_http_fib_loc_conf_t  *flcf;

    flcf = ngx_http_get_module_loc_conf(r, ngx_http_fib_module);

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_fib_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->algorithm = flcf->algorithm;
    ngx_http_set_ctx(r, ctx, ngx_http_fib_module);

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        if (ngx_http_fib_add_header(r, "Allow", &ngx_http_fib_allow) == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_fib_error(r, ctx, NGX_HTTP_NOT_ALLOWED,
                                  NGX_HTTP_FIB_BAD_REQUEST,
                                  "method %V is not allowed: use GET or HEAD",
                                  &r->method_name);
    }

    frc = fib_parse_query((const char *) r->args.data, r->args.len, &num);

    if (frc == FIB_ERR_NOMEM) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (frc != FIB_OK) {
        return ngx_http_fib_error(r, ctx, NGX_HTTP_BAD_REQUEST,
                                  NGX_HTTP_FIB_BAD_REQUEST, "%s",
                                  fib_strerror(frc));
    }

    ctx->num = num;
    ctx->parsed = 1;

    if (num > flcf->limit) {
        return ngx_http_fib_error(r, ctx, NGX_HTTP_BAD_REQUEST,
                                  NGX_HTTP_FIB_BAD_REQUEST,
                                  "num %uL exceeds fib_max_num %ui",
                                  num, flcf->limit);
    }

    if (ngx_http_fib_etag_match(r, num)) {
        return ngx_http_fib_not_modified(r, ctx);
    }

    if (r->method == NGX_HTTP_HEAD) {
        /* the length of F(n) is known without computing it */

        if (ngx_http_fib_cache_headers(r, num) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_http_fib_finish(r, ctx, NGX_HTTP_FIB_OK);

        return ngx_http_fib_send(r, NGX_HTTP_OK, NULL, fib_digits(num) + 1);
    }

    return ngx_http_fib_compute(r, ctx, flcf);
}


static ngx_int_t
ngx_http_fib_compute(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx,
    ngx_http_fib_loc_conf_t *flcf)
{
    uint64_t    cost;
    fib_job_t  *job;

    cost = fib_cost_ns((fib_algorithm_t) ctx->algorithm, ctx->num);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "fib: F(%uL) with %s, estimated cost %uLns",
                   ctx->num, fib_algorithm_name(ctx->algorithm), cost);

#if (NGX_THREADS)
    if (flcf->thread_pool != NULL && cost > flcf->inline_max_cost) {
        return ngx_http_fib_offload(r, ctx, flcf);
    }
#endif

    job = ngx_http_fib_job(r, ctx, NULL);
    if (job == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->mode = NGX_HTTP_FIB_MODE_INLINE;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "fib: computing F(%uL) inline", ctx->num);

    fib_job_run(job);
    ctx->completed = 1;

    ngx_http_fib_computed(r, ctx);

    return ngx_http_fib_respond(r, ctx);
}


/*
 * Allocates the request's job, inside a thread task when taskp is given,
 * and makes sure the result the core malloc()s is freed with the
 * request's pool.
 */

static fib_job_t *
ngx_http_fib_job(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx,
    ngx_thread_task_t **taskp)
{
    fib_job_t           *job;
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

#if (NGX_THREADS)
    if (taskp != NULL) {
        *taskp = ngx_thread_task_alloc(r->pool,
                                       sizeof(ngx_http_fib_task_ctx_t));
        if (*taskp == NULL) {
            return NULL;
        }

        job = &((ngx_http_fib_task_ctx_t *) (*taskp)->ctx)->job;

    } else
#endif
    {
        job = ngx_pcalloc(r->pool, sizeof(fib_job_t));
        if (job == NULL) {
            return NULL;
        }
    }

    atomic_init(&job->cancel, 0);
    job->algorithm = (fib_algorithm_t) ctx->algorithm;
    job->num = ctx->num;

    cln->handler = ngx_http_fib_job_cleanup;
    cln->data = job;

    ctx->job = job;

    return job;
}


static void
ngx_http_fib_job_cleanup(void *data)
{
    fib_job_t  *job = data;

    fib_job_free(job);
}


#if (NGX_THREADS)

static ngx_int_t
ngx_http_fib_offload(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx,
    ngx_http_fib_loc_conf_t *flcf)
{
    ngx_int_t                 rc;
    ngx_msec_t                now;
    ngx_atomic_int_t          in_flight;
    ngx_thread_task_t        *task;
    ngx_http_cleanup_t       *cln;
    ngx_http_fib_pool_t      *fp;
    ngx_http_fib_task_ctx_t  *tctx;

    static ngx_msec_t         logged;

    if (ngx_http_fib_job(r, ctx, &task) == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->timeout = flcf->timeout;
    fp = flcf->pool;

    tctx = task->ctx;
    tctx->priority = flcf->thread_priority;
    tctx->pool = fp;

    task->handler = ngx_http_fib_thread;
    task->event.handler = ngx_http_fib_thread_event_handler;
    task->event.data = r;
    task->event.log = r->connection->log;

    now = ngx_current_msec;

    if (fp->limit != NGX_MAX_INT_T_VALUE
        && now - fp->learned >= NGX_HTTP_FIB_LOG_INTERVAL)
    {
        /* ask the pool itself again: it may have room by now */
        fp->limit = NGX_MAX_INT_T_VALUE;
    }

    ctx->post_ns = fib_now_ns();

    if ((ngx_atomic_int_t) fp->in_flight >= fp->limit) {
        rc = NGX_ERROR;

    } else {
        /* counted first: the thread may be done before post returns */
        (void) ngx_atomic_fetch_add(&fp->in_flight, 1);

        rc = ngx_thread_task_post(flcf->thread_pool, task);

        if (rc != NGX_OK) {
            in_flight = (ngx_atomic_int_t)
                        ngx_atomic_fetch_add(&fp->in_flight, -1) - 1;

            /*
             * A refusal with none of ours in flight teaches nothing: the
             * pool is busy with others' tasks, or its thread has not yet
             * gone back to waiting after finishing one of ours.
             */
            if (in_flight > 0) {
                fp->limit = in_flight;
                fp->learned = now;
            }
        }
    }

    if (rc != NGX_OK) {
        /* nothing was queued: the request is still ours to answer */

        (void) ngx_atomic_fetch_add(
                            &ngx_http_fib_counters(r)->rejected_queue_full, 1);

        if (logged == 0 || now - logged >= NGX_HTTP_FIB_LOG_INTERVAL) {
            logged = now;
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "fib: thread pool queue is full, "
                          "answering 503 (logged at most once a second)");
        }

        if (ngx_http_fib_add_header(r, "Retry-After",
                                    &ngx_http_fib_retry_after)
            == NULL)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_fib_error(r, ctx, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  NGX_HTTP_FIB_OVERLOADED,
                                  "the server is busy: retry later");
    }

    /* from here on only the completion handler may answer the request */

    ctx->mode = NGX_HTTP_FIB_MODE_THREAD;

    (void) ngx_atomic_fetch_add(&ngx_http_fib_counters(r)->in_flight, 1);

    cln->handler = ngx_http_fib_request_cleanup;
    cln->data = r;

    /*
     * nginx 1.22 puts no timer on thread tasks: without this one a slow
     * task has no deadline and a graceful reload could let the worker
     * exit under it.  It is not cancelable so that an exiting worker
     * waits for the task.
     */
    ngx_add_timer(&task->event, flcf->timeout);

    /* keeps r->pool, which the thread writes into, alive until completion */
    r->main->blocked++;
    r->aio = 1;

    r->main->count++;
    r->write_event_handler = ngx_http_fib_resume;

    /*
     * Notice a client that goes away while its task waits or runs.  Read
     * events go to the active request, a subrequest too (SSI), so every
     * request arms it, as the upstream module does.
     */
    if (!r->main->discard_body) {
        r->read_event_handler = ngx_http_test_reading;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "fib: offloaded F(%uL) with %s to the thread pool",
                   ctx->num, fib_algorithm_name(ctx->algorithm));

    return NGX_DONE;
}


static void
ngx_http_fib_thread(void *data, ngx_log_t *log)
{
    ngx_http_fib_task_ctx_t  *ctx = data;

#if (NGX_LINUX)
    struct sched_param  sp;

    static __thread ngx_uint_t  priority;

    /*
     * The event loop must win the CPU whenever it has work: its work is
     * short and other requests wait for it.  An idle-class thread runs
     * only on CPU time nothing else wants.  Linux sets the policy per
     * thread; going back to normal may be refused, and then stays so.
     */

    if (ctx->priority != priority) {
        priority = ctx->priority;

        ngx_memzero(&sp, sizeof(struct sched_param));
        (void) sched_setscheduler(0, priority == NGX_HTTP_FIB_PRIORITY_IDLE
                                     ? SCHED_IDLE : SCHED_OTHER, &sp);
    }
#endif

    fib_job_run(&ctx->job);

    (void) ngx_atomic_fetch_add(&ctx->pool->in_flight, -1);
}


static void
ngx_http_fib_thread_event_handler(ngx_event_t *ev)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;
    ngx_http_fib_ctx_t  *ctx;

    r = ev->data;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    ctx = ngx_http_get_module_ctx(r, ngx_http_fib_module);

    if (!ev->complete) {

        /* the deadline passed while the task waits or runs */

        ev->timedout = 0;

        if (atomic_exchange(&ctx->job->cancel, 1) == 0) {
            ctx->timed_out = 1;

            ngx_log_error(NGX_LOG_INFO, c->log, 0,
                          "fib: F(%uL) exceeded fib_timeout %Mms, cancelling",
                          ctx->num, ctx->timeout);
        }

        ngx_add_timer(ev, NGX_HTTP_FIB_RECHECK);
        return;
    }

    if (ev->timer_set) {
        ngx_del_timer(ev);
    }

    ctx->completed = 1;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "fib: F(%uL) finished: %s in %uL.%03uLms", ctx->num,
                   ctx->job->rc == FIB_ERR_CANCELLED ? "cancelled" : "done",
                   ctx->job->compute_ns / 1000000,
                   ctx->job->compute_ns / 1000 % 1000);

    if (ctx->job->start_ns > ctx->post_ns) {
        ctx->queue_ns = ctx->job->start_ns - ctx->post_ns;
    }

    (void) ngx_atomic_fetch_add(&ngx_http_fib_counters(r)->in_flight, -1);

    ngx_http_fib_computed(r, ctx);

    r->main->blocked--;
    r->aio = 0;

    /* if the client went away, nginx put its finalizer here */
    r->write_event_handler(r);

    ngx_http_run_posted_requests(c);
}


static void
ngx_http_fib_resume(ngx_http_request_t *r)
{
    ngx_http_fib_ctx_t  *ctx;

    if (r->aio) {
        return;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_fib_module);

    ngx_http_finalize_request(r, ngx_http_fib_respond(r, ctx));
}


static void
ngx_http_fib_request_cleanup(void *data)
{
    ngx_http_request_t  *r = data;

    ngx_http_fib_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fib_module);

    if (ctx->completed) {
        return;
    }

    /* the request ends before its task: stop the computation */

    if (atomic_exchange(&ctx->job->cancel, 1) == 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "fib: client closed the connection, "
                      "cancelling F(%uL)", ctx->num);
    }

    ngx_http_fib_finish(r, ctx, NGX_HTTP_FIB_CANCELLED);
}

#endif


static ngx_int_t
ngx_http_fib_respond(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx)
{
    fib_job_t  *job;

    job = ctx->job;

    switch (job->rc) {

    case FIB_OK:
        break;

    case FIB_ERR_CANCELLED:
        if (ctx->timed_out) {
            return ngx_http_fib_error(r, ctx, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      NGX_HTTP_FIB_TIMED_OUT,
                                      "the computation exceeded "
                                      "fib_timeout %Mms", ctx->timeout);
        }

        ngx_http_fib_finish(r, ctx, NGX_HTTP_FIB_CANCELLED);
        return NGX_HTTP_CLIENT_CLOSED_REQUEST;

    case FIB_ERR_NOMEM:
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "fib: out of memory computing F(%uL)", ctx->num);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;

    default:
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "fib: computing F(%uL) failed: %s",
                      ctx->num, fib_strerror(job->rc));
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_fib_cache_headers(r, ctx->num) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_fib_finish(r, ctx, NGX_HTTP_FIB_OK);

    return ngx_http_fib_send(r, NGX_HTTP_OK, (u_char *) job->digits, job->len);
}


static ngx_int_t
ngx_http_fib_not_modified(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx)
{
    if (ngx_http_fib_cache_headers(r, ctx->num) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_fib_finish(r, ctx, NGX_HTTP_FIB_NOT_MODIFIED);

    r->headers_out.status = NGX_HTTP_NOT_MODIFIED;
    r->headers_out.content_length_n = -1;
    r->header_only = 1;

    return ngx_http_send_header(r);
}


static ngx_int_t
ngx_http_fib_error(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx,
    ngx_uint_t status, ngx_uint_t outcome, const char *fmt, ...)
{
    u_char   *p, *last;
    va_list   args;
    u_char    msg[NGX_MAX_ERROR_STR];

    va_start(args, fmt);
    last = ngx_vslprintf(msg, msg + sizeof(msg) - 1, fmt, args);
    va_end(args);

    if (status < NGX_HTTP_INTERNAL_SERVER_ERROR) {
        /* client mistakes are info in nginx */
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "fib: %*s", last - msg, msg);
    }

    ngx_http_fib_finish(r, ctx, outcome);

    p = ngx_pnalloc(r->pool, last - msg + 1);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last = ngx_cpymem(p, msg, last - msg);
    *last++ = LF;

    return ngx_http_fib_send(r, status, p, last - p);
}


static ngx_int_t
ngx_http_fib_send(ngx_http_request_t *r, ngx_uint_t status, u_char *data,
    size_t len)
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
    u_char           *p;
    ngx_str_t         value;
    ngx_table_elt_t  *h;

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

    /* F(n) never changes */
    if (ngx_http_fib_add_header(r, "Cache-Control",
                                &ngx_http_fib_cache_control)
        == NULL)
    {
        return NGX_ERROR;
    }

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


static ngx_http_fib_counters_t *
ngx_http_fib_counters(ngx_http_request_t *r)
{
    ngx_http_fib_main_conf_t  *fmcf;

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_fib_module);

    return fmcf->zone->data;
}


/* counts each request once, by how it ended */

static void
ngx_http_fib_finish(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx,
    ngx_uint_t outcome)
{
    if (ctx->finished) {
        return;
    }

    ctx->finished = 1;
    ctx->outcome = outcome;

    (void) ngx_atomic_fetch_add(&ngx_http_fib_counters(r)->requests[outcome],
                                1);
}


/* counts a computation that produced its number */

static void
ngx_http_fib_computed(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx)
{
    uint64_t                  ns;
    ngx_uint_t                i;
    ngx_http_fib_counters_t  *c;

    if (ctx->job->rc != FIB_OK) {
        return;
    }

    c = ngx_http_fib_counters(r);
    ns = ctx->job->compute_ns;

    (void) ngx_atomic_fetch_add(
                     &c->computations[ctx->algorithm][ctx->mode - 1], 1);
    (void) ngx_atomic_fetch_add(&c->compute_ns[ctx->algorithm], ns);

    for (i = 0; i < NGX_HTTP_FIB_BUCKETS - 1; i++) {
        if (ns <= ngx_http_fib_bucket_ns[i]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&c->buckets[i], 1);
    (void) ngx_atomic_fetch_add(&c->sum_ns, ns);
    (void) ngx_atomic_fetch_add(&c->count, 1);
}


static ngx_int_t
ngx_http_fib_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    u_char              *p;
    ngx_str_t           *s;
    ngx_http_fib_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fib_module);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    switch (data) {

    case NGX_HTTP_FIB_VAR_NUM:
        if (!ctx->parsed) {
            v->not_found = 1;
            return NGX_OK;
        }

        p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        v->len = ngx_sprintf(p, "%uL", ctx->num) - p;
        v->data = p;
        break;

    case NGX_HTTP_FIB_VAR_ALGORITHM:
        v->data = (u_char *) fib_algorithm_name(ctx->algorithm);
        v->len = ngx_strlen(v->data);
        break;

    case NGX_HTTP_FIB_VAR_MODE:
        s = &ngx_http_fib_modes[ctx->mode];
        if (s->len == 0) {
            v->not_found = 1;
            return NGX_OK;
        }

        v->data = s->data;
        v->len = s->len;
        break;

    default: /* NGX_HTTP_FIB_VAR_OUTCOME */
        if (!ctx->finished) {
            v->not_found = 1;
            return NGX_OK;
        }

        v->data = ngx_http_fib_outcomes[ctx->outcome].data;
        v->len = ngx_http_fib_outcomes[ctx->outcome].len;
        break;
    }

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/* seconds with millisecond resolution, as $request_time */

static ngx_int_t
ngx_http_fib_time_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char              *p;
    uint64_t             ns;
    ngx_http_fib_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fib_module);

    if (ctx == NULL || !ctx->completed) {
        v->not_found = 1;
        return NGX_OK;
    }

    ns = (data == NGX_HTTP_FIB_VAR_QUEUE_TIME) ? ctx->queue_ns
                                               : ctx->job->compute_ns;

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN + 4);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_sprintf(p, "%uL.%03uL", ns / 1000000000,
                         ns / 1000000 % 1000) - p;
    v->data = p;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_fib_status_handler(ngx_http_request_t *r)
{
    u_char                   *p, *last;
    size_t                    size;
    ngx_int_t                 rc;
    ngx_uint_t                i, j, cumulative;
    ngx_buf_t                *b;
    ngx_chain_t               out;
    ngx_http_fib_counters_t  *c;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    c = ngx_http_fib_counters(r);

    size = 4096;

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = b->pos;
    last = b->end;

    p = ngx_slprintf(p, last,
            "# HELP fib_requests_total Requests to fib locations, "
            "by how they ended.\n"
            "# TYPE fib_requests_total counter\n");

    for (i = 0; i < NGX_HTTP_FIB_OUTCOMES; i++) {
        p = ngx_slprintf(p, last, "fib_requests_total{outcome=\"%V\"} %uA\n",
                         &ngx_http_fib_outcomes[i], c->requests[i]);
    }

    p = ngx_slprintf(p, last,
            "# HELP fib_computations_total Computations that produced "
            "their number, by algorithm and where they ran.\n"
            "# TYPE fib_computations_total counter\n");

    for (i = 0; i < NGX_HTTP_FIB_ALGORITHMS; i++) {
        for (j = 0; j < 2; j++) {
            p = ngx_slprintf(p, last,
                             "fib_computations_total{algorithm=\"%s\","
                             "mode=\"%V\"} %uA\n",
                             fib_algorithm_name(i),
                             &ngx_http_fib_modes[j + 1],
                             c->computations[i][j]);
        }
    }

    p = ngx_slprintf(p, last,
            "# HELP fib_compute_seconds_total Time spent in those "
            "computations, by algorithm.\n"
            "# TYPE fib_compute_seconds_total counter\n");

    for (i = 0; i < NGX_HTTP_FIB_ALGORITHMS; i++) {
        p = ngx_slprintf(p, last,
                         "fib_compute_seconds_total{algorithm=\"%s\"} "
                         "%uA.%06uA\n", fib_algorithm_name(i),
                         c->compute_ns[i] / 1000000000,
                         c->compute_ns[i] / 1000 % 1000000);
    }

    p = ngx_slprintf(p, last,
            "# HELP fib_in_flight Computations queued or running in "
            "thread pools.\n"
            "# TYPE fib_in_flight gauge\n"
            "fib_in_flight %uA\n"
            "# HELP fib_rejected_total Requests refused without "
            "computing, by reason.\n"
            "# TYPE fib_rejected_total counter\n"
            "fib_rejected_total{reason=\"queue_full\"} %uA\n"
            "# HELP fib_compute_seconds Time of one computation.\n"
            "# TYPE fib_compute_seconds histogram\n",
            c->in_flight, c->rejected_queue_full);

    cumulative = 0;

    for (i = 0; i < NGX_HTTP_FIB_BUCKETS; i++) {
        cumulative += c->buckets[i];
        p = ngx_slprintf(p, last,
                         "fib_compute_seconds_bucket{le=\"%s\"} %ui\n",
                         ngx_http_fib_bucket_le[i], cumulative);
    }

    p = ngx_slprintf(p, last,
                     "fib_compute_seconds_sum %uA.%06uA\n"
                     "fib_compute_seconds_count %uA\n",
                     c->sum_ns / 1000000000, c->sum_ns / 1000 % 1000000,
                     c->count);

    b->last = p;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "text/plain; version=0.0.4");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static char *
ngx_http_fib(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fib_loc_conf_t *flcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (flcf->enable != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    flcf->enable = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_fib_handler;

    return NGX_CONF_OK;
}


static char *
ngx_http_fib_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler == ngx_http_fib_status_handler) {
        return "is duplicate";
    }

    clcf->handler = ngx_http_fib_status_handler;

    return NGX_CONF_OK;
}


static char *
ngx_http_fib_max_num(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fib_loc_conf_t *flcf = conf;

    uint64_t    num;
    ngx_str_t  *value;

    if (flcf->max_num != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].len > 9
        || ngx_atoi(value[1].data, value[1].len) == NGX_ERROR)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\": expected a "
                           "number from 0 to %d",
                           &value[1], &cmd->name, FIB_BIG_MAX);
        return NGX_CONF_ERROR;
    }

    num = (uint64_t) ngx_atoi(value[1].data, value[1].len);

    if (num > FIB_BIG_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" %uL is above %d, the most any "
                           "algorithm allows", &cmd->name, num, FIB_BIG_MAX);
        return NGX_CONF_ERROR;
    }

    flcf->max_num = (ngx_uint_t) num;

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


static ngx_int_t
ngx_http_fib_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_fib_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static void *
ngx_http_fib_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_fib_main_conf_t  *fmcf;

    fmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_fib_main_conf_t));
    if (fmcf == NULL) {
        return NULL;
    }

    fmcf->zone = ngx_shared_memory_add(cf, &ngx_http_fib_zone_name,
                                       8 * ngx_pagesize,
                                       &ngx_http_fib_module);
    if (fmcf->zone == NULL) {
        return NULL;
    }

    fmcf->zone->init = ngx_http_fib_init_zone;

    if (ngx_array_init(&fmcf->pools, cf->pool, 4,
                       sizeof(ngx_http_fib_pool_t *))
        != NGX_OK)
    {
        return NULL;
    }

    return fmcf;
}


static ngx_int_t
ngx_http_fib_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t          *shpool;
    ngx_http_fib_counters_t  *counters;

    if (data) {
        /* a reload: the counters go on from where they were */
        shm_zone->data = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        return NGX_OK;
    }

    counters = ngx_slab_calloc(shpool, sizeof(ngx_http_fib_counters_t));
    if (counters == NULL) {
        return NGX_ERROR;
    }

    shpool->data = counters;
    shm_zone->data = counters;

    return NGX_OK;
}


static void *
ngx_http_fib_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_fib_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_fib_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->enable = NGX_CONF_UNSET;
    conf->algorithm = NGX_CONF_UNSET_UINT;
    conf->max_num = NGX_CONF_UNSET_UINT;
    conf->inline_max_cost = NGX_CONF_UNSET_UINT;
    conf->timeout = NGX_CONF_UNSET_MSEC;
    conf->thread_priority = NGX_CONF_UNSET_UINT;
#if (NGX_THREADS)
    conf->thread_pool = NGX_CONF_UNSET_PTR;
#endif

    return conf;
}


static char *
ngx_http_fib_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_fib_loc_conf_t *prev = parent;
    ngx_http_fib_loc_conf_t *conf = child;

    ngx_conf_merge_uint_value(conf->algorithm, prev->algorithm,
                              FIB_RECURSIVE);
    ngx_conf_merge_uint_value(conf->inline_max_cost, prev->inline_max_cost,
                              20000);
    ngx_conf_merge_msec_value(conf->timeout, prev->timeout, 30000);
    ngx_conf_merge_uint_value(conf->thread_priority, prev->thread_priority,
                              NGX_HTTP_FIB_PRIORITY_IDLE);

    /*
     * Only a configured limit is inherited: the default follows the
     * algorithm in force here, about a second of one core at most.
     */

    if (conf->max_num == NGX_CONF_UNSET_UINT) {
        conf->max_num = prev->max_num;
    }

    if (conf->max_num == NGX_CONF_UNSET_UINT) {
        conf->limit = (conf->algorithm == FIB_RECURSIVE) ? 42
                      : (conf->algorithm == FIB_ITERATIVE) ? 100000
                      : 1000000;

    } else if (conf->max_num > fib_algorithm_max(conf->algorithm)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"fib_max_num\" %ui is above %uL, the largest "
                           "n whose F(n) the %s algorithm can compute",
                           conf->max_num, fib_algorithm_max(conf->algorithm),
                           fib_algorithm_name(conf->algorithm));
        return NGX_CONF_ERROR;

    } else {
        conf->limit = conf->max_num;
    }

#if (NGX_THREADS)

    ngx_conf_merge_ptr_value(conf->thread_pool, prev->thread_pool,
                             NGX_CONF_UNSET_PTR);

    if (conf->thread_pool == NGX_CONF_UNSET_PTR && conf->enable == 1) {
        /* only locations with "fib" make the default pool exist */
        conf->thread_pool = ngx_thread_pool_add(cf,
                                                &ngx_http_fib_default_pool);
        if (conf->thread_pool == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (conf->enable == 1 && conf->thread_pool != NULL) {
        conf->pool = ngx_http_fib_pool(cf, conf->thread_pool);
        if (conf->pool == NULL) {
            return NGX_CONF_ERROR;
        }
    }

#endif

    return NGX_CONF_OK;
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

    fpp = ngx_array_push(&fmcf->pools);
    if (fpp == NULL) {
        return NULL;
    }

    *fpp = fp;

    return fp;
}

#endif
