
/*
 * Copyright (C) ngx_http_fib_module authors
 *
 * A fib request, from the handler to its response: the checks, the
 * memory budget, the computation inline or its hand-over to the offload,
 * and the answer with its headers.  The request's phase is the ledger's
 * to move; this file moves it up to the computation, the offload while
 * a task is out.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "fib_core.h"
#include "ngx_http_fib_conf.h"
#include "ngx_http_fib_ledger.h"
#include "ngx_http_fib_response.h"
#include "ngx_http_fib_thread.h"


/*
 * r->main->blocked is 8 bits wide and counts every task and aio
 * operation of a main request and its subrequests (SSI, mirrors); past
 * this many the module refuses to post more for that request.
 */
#define NGX_HTTP_FIB_MAX_BLOCKED       64

/* at most one "refused" line per worker per this many ms */
#define NGX_HTTP_FIB_LOG_INTERVAL      1000


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

#if (NGX_THREADS)
    ngx_http_fib_offload_t     offload;
#endif
} ngx_http_fib_ctx_t;


static ngx_int_t ngx_http_fib_request(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx, ngx_http_fib_loc_conf_t *flcf);
static ngx_int_t ngx_http_fib_compute(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx, ngx_http_fib_loc_conf_t *flcf);
#if (NGX_THREADS)
static void ngx_http_fib_done(ngx_http_fib_offload_t *off);
#endif
static ngx_int_t ngx_http_fib_respond(ngx_http_request_t *r,
    ngx_http_fib_record_t *rec);
static ngx_int_t ngx_http_fib_refuse(ngx_http_request_t *r,
    ngx_http_fib_record_t *rec, ngx_http_fib_reason_e reason,
    const char *why);
static ngx_int_t ngx_http_fib_cache_headers(ngx_http_request_t *r,
    uint64_t num);
static ngx_int_t ngx_http_fib_etag_match(ngx_http_request_t *r,
    uint64_t num, ngx_flag_t etag_on);


static ngx_str_t  ngx_http_fib_cache_control =
    ngx_string("public, max-age=31536000, immutable");


ngx_int_t
ngx_http_fib_handler(ngx_http_request_t *r)
{
    ngx_http_fib_ctx_t       *ctx;
    ngx_http_fib_loc_conf_t  *flcf;

    flcf = ngx_http_get_module_loc_conf(r, ngx_http_fib_module);

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_fib_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* counted, and its memory given back, with its pool */

    if (ngx_http_fib_record(r, &ctx->rec, flcf->algorithm, flcf->place)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_fib_module);

    return ngx_http_fib_answered(&ctx->rec,
                                 ngx_http_fib_request(r, ctx, flcf));
}


static ngx_int_t
ngx_http_fib_request(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx,
    ngx_http_fib_loc_conf_t *flcf)
{
    uint64_t                   num;
    fib_rc_t                   frc;
    ngx_int_t                  rc;
    ngx_http_fib_record_t     *rec;
    ngx_http_core_loc_conf_t  *clcf;

    rec = &ctx->rec;

    /* a malformed body is the client's mistake, as nginx answers it */

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_http_fib_error(r, NGX_HTTP_NOT_ALLOWED,
                                  "method %V is not allowed: use GET or HEAD",
                                  &r->method_name);
    }

    frc = fib_parse_query((const char *) r->args.data, r->args.len, &num);

    if (frc == FIB_ERR_NOMEM) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (frc != FIB_OK) {
        return ngx_http_fib_error(r, NGX_HTTP_BAD_REQUEST, "%s",
                                  fib_strerror(frc));
    }

    rec->num = num;
    ngx_http_fib_phase(rec, NGX_HTTP_FIB_PARSED);

    if (num > flcf->limit) {
        return ngx_http_fib_error(r, NGX_HTTP_BAD_REQUEST,
                                  "num %uL exceeds fib_max_num %ui",
                                  num, flcf->limit);
    }

    ngx_http_fib_phase(rec, NGX_HTTP_FIB_ACCEPTED);

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

        return ngx_http_fib_send(r, NGX_HTTP_OK, NULL, NULL,
                                 fib_digits(num) + 1);
    }

    return ngx_http_fib_compute(r, ctx, flcf);
}


static ngx_int_t
ngx_http_fib_compute(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx,
    ngx_http_fib_loc_conf_t *flcf)
{
    char                      *out;
    ngx_uint_t                 offload;
    ngx_http_fib_record_t     *rec;
    ngx_http_fib_main_conf_t  *fmcf;

    rec = &ctx->rec;

    offload = !fib_cheap((fib_algorithm_t) rec->algorithm, rec->num,
                         flcf->inline_max_cost);

#if (NGX_THREADS)
    offload = offload && flcf->pool != NULL;
#else
    offload = 0;
#endif

    if (offload && r->main->blocked >= NGX_HTTP_FIB_MAX_BLOCKED) {
        return ngx_http_fib_refuse(r, rec, NGX_HTTP_FIB_TOO_MANY,
                                   "too many computations for one request");
    }

    /* the result and the computation's memory, before any is used */

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_fib_module);

    rec->size = fib_out_size(rec->num);
    rec->work = fib_work_size((fib_algorithm_t) rec->algorithm, rec->num);

    if (!ngx_http_fib_room(fmcf, rec->size + rec->work)) {
        return ngx_http_fib_refuse(r, rec, NGX_HTTP_FIB_NO_MEMORY,
                                   "fib_max_memory is reached");
    }

    /* the exact length is known: the thread fills it, the pool frees it */

    out = ngx_pnalloc(r->pool, rec->size);
    if (out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rec->post_ns = fib_now_ns();

    fib_job_init(&rec->job, (fib_algorithm_t) rec->algorithm, rec->num, out,
                 fib_deadline_ns(rec->post_ns, flcf->timeout),
                 &ngx_terminate);

#if (NGX_THREADS)
    if (offload) {
        ngx_http_fib_hold(rec, rec->size + rec->work);

        switch (ngx_http_fib_offload(&ctx->offload, rec, flcf,
                                     ngx_http_fib_done))
        {
        case NGX_DONE:
            return NGX_DONE;

        case NGX_BUSY:
            ngx_http_fib_hold(rec, 0);
            return ngx_http_fib_refuse(r, rec, NGX_HTTP_FIB_QUEUE_FULL,
                                       "thread pool and fib_max_waiting "
                                       "are full");

        default:
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }
#endif

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "fib: computing F(%uL) inline", rec->num);

    ngx_http_fib_hold(rec, rec->size + rec->work);

    fib_job_run(&rec->job);

    ngx_http_fib_phase(rec, NGX_HTTP_FIB_INLINE);

    return ngx_http_fib_respond(r, rec);
}


#if (NGX_THREADS)

/* the offload's job is done: the request answers */

static void
ngx_http_fib_done(ngx_http_fib_offload_t *off)
{
    ngx_http_request_t  *r;

    r = off->rec->request;

    ngx_http_finalize_request(r,
                              ngx_http_fib_answered(off->rec,
                                  ngx_http_fib_respond(r, off->rec)));
}

#endif


/* 503 and Retry-After before anything was computed or queued */

static ngx_int_t
ngx_http_fib_refuse(ngx_http_request_t *r, ngx_http_fib_record_t *rec,
    ngx_http_fib_reason_e reason, const char *why)
{
    ngx_msec_t         now;

    static ngx_msec_t  logged;

    ngx_http_fib_refused(rec, reason);

    now = ngx_current_msec;

    if (logged == 0 || now - logged >= NGX_HTTP_FIB_LOG_INTERVAL) {
        logged = now;
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "fib: %s, answering 503 "
                      "(logged at most once a second)", why);
    }

    return ngx_http_fib_busy(r);
}


static ngx_int_t
ngx_http_fib_respond(ngx_http_request_t *r, ngx_http_fib_record_t *rec)
{
    fib_job_t                *job = &rec->job;
    ngx_http_fib_loc_conf_t  *flcf;

    switch (job->rc) {

    case FIB_OK:
        break;

    case FIB_ERR_TIMEOUT:
        flcf = ngx_http_get_module_loc_conf(r, ngx_http_fib_module);

        return ngx_http_fib_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "the computation exceeded "
                                  "fib_timeout %Mms", flcf->timeout);

    case FIB_ERR_CANCELLED:
        return NGX_HTTP_CLIENT_CLOSED_REQUEST;

    default:
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "fib: computing F(%uL) failed: %s",
                      rec->num, fib_strerror(job->rc));
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_fib_cache_headers(r, rec->num) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_fib_send(r, NGX_HTTP_OK, NULL, (u_char *) job->out,
                             job->len);
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
