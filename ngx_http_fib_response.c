
/*
 * Copyright (C) ngx_http_fib_module authors
 *
 * The answers of the module's handlers: the number or the page, a
 * one-line error, and their headers.  Nothing here is counted: the
 * ledger reads what went out when the request ends.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_fib_response.h"


static ngx_int_t ngx_http_fib_has_error_page(ngx_http_request_t *r,
    ngx_uint_t status);


static ngx_str_t  ngx_http_fib_allow = ngx_string("GET, HEAD");
static ngx_str_t  ngx_http_fib_retry_after = ngx_string("1");


/*
 * A one-line text/plain error, logged at info for client mistakes, or
 * the status alone when the location has an error_page for it: then
 * nginx's error page handling answers, as for its own errors.
 */

ngx_int_t
ngx_http_fib_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *fmt, ...)
{
    u_char   *p, *last;
    va_list   args;
    u_char    msg[NGX_MAX_ERROR_STR];

    va_start(args, fmt);
    last = ngx_vslprintf(msg, msg + sizeof(msg) - 1, fmt, args);
    va_end(args);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "fib: %*s", last - msg, msg);

    /* an error page answers with headers of its own, not with ours */

    if (ngx_http_fib_has_error_page(r, status)) {
        return status;
    }

    if (status == NGX_HTTP_NOT_ALLOWED
        && ngx_http_fib_add_header(r, "Allow", &ngx_http_fib_allow) == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_pnalloc(r->pool, last - msg + 1);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last = ngx_cpymem(p, msg, last - msg);
    *last++ = LF;

    return ngx_http_fib_send(r, status, NULL, p, last - p);
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


/* 503 for a request refused before anything was computed or queued */

ngx_int_t
ngx_http_fib_busy(ngx_http_request_t *r)
{
    if (!ngx_http_fib_has_error_page(r, NGX_HTTP_SERVICE_UNAVAILABLE)
        && ngx_http_fib_add_header(r, "Retry-After",
                                   &ngx_http_fib_retry_after)
           == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_fib_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                              "the server is busy: retry later");
}


/* text/plain unless told */

ngx_int_t
ngx_http_fib_send(ngx_http_request_t *r, ngx_uint_t status, char *type,
    u_char *data, size_t len)
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


/* an answer's header, to be sent with it */

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
