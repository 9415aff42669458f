
/*
 * Copyright (C) ngx_http_fib_module authors
 *
 * The answers the module's handlers send, and their headers: a floor
 * below both handlers, calling no other file of the module.
 */


#ifndef _NGX_HTTP_FIB_RESPONSE_H_INCLUDED_
#define _NGX_HTTP_FIB_RESPONSE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_fib_send(ngx_http_request_t *r, ngx_uint_t status,
    char *type, u_char *data, size_t len);
ngx_int_t ngx_http_fib_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *fmt, ...);
ngx_int_t ngx_http_fib_busy(ngx_http_request_t *r);
ngx_table_elt_t *ngx_http_fib_add_header(ngx_http_request_t *r, char *key,
    ngx_str_t *value);


#endif /* _NGX_HTTP_FIB_RESPONSE_H_INCLUDED_ */
