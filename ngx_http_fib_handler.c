
/*
 * Copyright (C) ngx_http_fib_module authors
 *
 * A request, from the handler to its response: the checks, the memory
 * budget, the computation inline (or its hand-over to the offload), and
 * the answer with its headers.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "fib_core.h"
#include "ngx_http_fib_module.h"


/*
 * r->main->blocked is 8 bits wide and counts every task and aio
 * operation of a main request and its subrequests (SSI, mirrors); past
 * this many the module refuses to post more for that request.
 */
#define NGX_HTTP_FIB_MAX_BLOCKED       64

/* at most one "refused" line per worker per this many ms */
#define NGX_HTTP_FIB_LOG_INTERVAL      1000


static ngx_int_t ngx_http_fib_compute(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx, ngx_http_fib_loc_conf_t *flcf);
static void ngx_http_fib_cleanup(void *data);
static ngx_int_t ngx_http_fib_has_error_page(ngx_http_request_t *r,
    ngx_uint_t status);
static ngx_int_t ngx_http_fib_cache_headers(ngx_http_request_t *r,
    uint64_t num);
static ngx_int_t ngx_http_fib_etag_match(ngx_http_request_t *r,
    uint64_t num, ngx_flag_t etag_on);


static ngx_str_t  ngx_http_fib_allow = ngx_string("GET, HEAD");
static ngx_str_t  ngx_http_fib_retry_after = ngx_string("1");
static ngx_str_t  ngx_http_fib_cache_control =
    ngx_string("public, max-age=31536000, immutable");


ngx_int_t
ngx_http_fib_handler(ngx_http_request_t *r)
{
    uint64_t                   num;
    fib_rc_t                   frc;
    ngx_int_t                  rc;
    ngx_pool_cleanup_t        *cln;
    ngx_http_fib_ctx_t        *ctx;
    ngx_http_fib_loc_conf_t   *flcf;
    ngx_http_core_loc_conf_t  *clcf;
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

    ngx_http_fib_take_places(fmcf);

    ctx->request = r;
    ctx->shm = fmcf->zone->data;
    ctx->rec.algorithm = flcf->algorithm;
    ctx->rec.outcome = NGX_HTTP_FIB_ERROR;
    ctx->rec.place = ((ngx_http_fib_place_conf_t *)
                      fmcf->places.elts)[flcf->place].slot;

    cln->handler = ngx_http_fib_cleanup;
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

    /*
     * Conditions are the main request's, as for nginx's filters.  F(n)
     * has no modification date, and RFC 9110 (13.1.4) ignores
     * If-Unmodified-Since then, where the not-modified filter would
     * refuse every date with a 412, after computing.  If-Match comes
     * before If-None-Match: with it, the not-modified filter decides.
     */

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (r == r->main) {
        r->headers_in.if_unmodified_since = NULL;
    }

    if (r == r->main
        && r->headers_in.if_match == NULL
        && ngx_http_fib_etag_match(r, num, clcf->etag))
    {
        if (ngx_http_fib_cache_headers(r, num) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->rec.outcome = NGX_HTTP_FIB_NOT_MODIFIED;

        r->headers_out.status = NGX_HTTP_NOT_MODIFIED;
        r->headers_out.content_length_n = -1;
        r->header_only = 1;

        return ngx_http_send_header(r);
    }

    if (r->method == NGX_HTTP_HEAD || r->header_only) {
        /* the length of F(n) is known without computing it */

        if (ngx_http_fib_cache_headers(r, num) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->rec.outcome = NGX_HTTP_FIB_OK;

        return ngx_http_fib_send(r, &ctx->rec, NGX_HTTP_OK, NULL, NULL,
                                 fib_digits(num) + 1);
    }

    return ngx_http_fib_compute(r, ctx, flcf);
}



static ngx_int_t
ngx_http_fib_compute(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx,
    ngx_http_fib_loc_conf_t *flcf)
{
    char                      *out;
    size_t                     work;
    ngx_uint_t                 offload;
    ngx_http_fib_main_conf_t  *fmcf;

    offload = !fib_cheap((fib_algorithm_t) ctx->rec.algorithm, ctx->rec.num,
                         flcf->inline_max_cost);

#if (NGX_THREADS)
    offload = offload && flcf->queue != NULL;
#else
    offload = 0;
#endif

    if (offload && r->main->blocked >= NGX_HTTP_FIB_MAX_BLOCKED) {
        return ngx_http_fib_refuse(r, ctx, NGX_HTTP_FIB_TOO_MANY,
                                   "too many computations for one request");
    }

    /* the result and the computation's memory, before any is used */

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_fib_module);

    ctx->size = fib_out_size(ctx->rec.num);
    work = fib_work_size((fib_algorithm_t) ctx->rec.algorithm, ctx->rec.num);

    if (ngx_http_fib_worker->memory + ctx->size + work > fmcf->max_memory) {
        return ngx_http_fib_refuse(r, ctx, NGX_HTTP_FIB_NO_MEMORY,
                                   "fib_max_memory is reached");
    }

    /* the exact length is known: the thread fills it, the pool frees it */

    out = ngx_pnalloc(r->pool, ctx->size);
    if (out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_fib_hold(ctx, ctx->size + work);

    ctx->timeout = flcf->timeout;
    ctx->post_ns = fib_now_ns();

    fib_job_init(&ctx->work.job, (fib_algorithm_t) ctx->rec.algorithm,
                 ctx->rec.num, out,
                 fib_deadline_ns(ctx->post_ns, flcf->timeout),
                 &ngx_terminate);

#if (NGX_THREADS)
    if (offload) {
        return ngx_http_fib_offload(r, ctx, flcf);
    }
#endif

    ctx->rec.mode = NGX_HTTP_FIB_MODE_INLINE;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "fib: computing F(%uL) inline", ctx->rec.num);

    fib_job_run(&ctx->work.job);

    ngx_http_fib_ran(ctx);

    return ngx_http_fib_respond(r, ctx);
}


/*
 * What the thread, or the event loop, left in the job, for the record;
 * the computation's own memory goes back to the budget.
 */

void
ngx_http_fib_ran(ngx_http_fib_ctx_t *ctx)
{
    fib_job_t  *job = &ctx->work.job;

    ctx->rec.ran = 1;
    ctx->rec.produced = (job->rc == FIB_OK);
    ctx->rec.compute_ns = job->compute_ns;
    ctx->rec.waited = (ctx->rec.mode == NGX_HTTP_FIB_MODE_THREAD);

    /* only a task waits: inline, the clock moved only for the set-up */

    if (ctx->rec.waited && job->start_ns > ctx->post_ns) {
        ctx->rec.queue_ns = job->start_ns - ctx->post_ns;
    }

    ngx_http_fib_hold(ctx, ctx->size);
}


/* 503 and Retry-After before anything was computed or queued */

ngx_int_t
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


/* the worker's memory budget: what the request holds now, and only here */

void
ngx_http_fib_hold(ngx_http_fib_ctx_t *ctx, size_t memory)
{
    (void) ngx_atomic_fetch_add(&ngx_http_fib_worker->memory,
                                (ngx_atomic_int_t) (memory - ctx->memory));
    ctx->memory = memory;
}


/*
 * The request's pool is being destroyed: the response went out or never
 * will.  The request is counted here, once, from what was recorded on the
 * way, and its memory goes back to the budget.
 */

static void
ngx_http_fib_cleanup(void *data)
{
    ngx_http_fib_ctx_t *ctx = data;

    ngx_http_fib_hold(ctx, 0);

    ngx_http_fib_count(ctx->shm, &ctx->rec);
}


ngx_int_t
ngx_http_fib_respond(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx)
{
    fib_job_t  *job = &ctx->work.job;

    switch (job->rc) {

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
                      ctx->rec.num, fib_strerror(job->rc));
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_fib_cache_headers(r, ctx->rec.num) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->rec.outcome = NGX_HTTP_FIB_OK;

    return ngx_http_fib_send(r, &ctx->rec, NGX_HTTP_OK, NULL,
                             (u_char *) job->out, job->len);
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

    return ngx_http_fib_send(r, rec, status, NULL, p, last - p);
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


/* text/plain unless told; the record, if any, learns of a filter's answer */

ngx_int_t
ngx_http_fib_send(ngx_http_request_t *r, ngx_http_fib_record_t *rec,
    ngx_uint_t status, char *type, u_char *data, size_t len)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    r->headers_out.status = status;
    r->headers_out.content_length_n = len;

    r->headers_out.content_type.data = (u_char *) (type ? type : "text/plain");
    r->headers_out.content_type.len = ngx_strlen(
                                          r->headers_out.content_type.data);
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);

    if (rec != NULL) {
        if (r->filter_finalize) {
            /* a filter answered instead: 412 for If-Match, for one */
            rec->outcome = NGX_HTTP_FIB_FILTERED;

        } else if (r->headers_out.status == NGX_HTTP_NOT_MODIFIED) {
            /* nginx's not-modified filter, after If-Match */
            rec->outcome = NGX_HTTP_FIB_NOT_MODIFIED;
        }
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
    u_char                    *p;
    ngx_str_t                  value;
    ngx_table_elt_t           *h;
    ngx_http_core_loc_conf_t  *clcf;
#if (nginx_version < 1023000)
    ngx_table_elt_t          **ccp;
#endif

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    /* "etag off" leaves it out, as for a static file */

    if (clcf->etag) {
        p = ngx_pnalloc(r->pool,
                        sizeof("\"fib-18446744073709551615\"") - 1);
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
    }

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


/* an answer's header; the status page adds its Vary with it */

ngx_table_elt_t *
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
 * RFC 9110 asks for this header.  Under "etag off" the answer has no
 * tag, so only "*" matches, as for a static file.
 */

static ngx_int_t
ngx_http_fib_etag_match(ngx_http_request_t *r, uint64_t num,
    ngx_flag_t etag_on)
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

        if (etag_on
            && (size_t) (p - start) == len
            && ngx_memcmp(start, etag, len) == 0)
        {
            return 1;
        }
    }

    return 0;
}
