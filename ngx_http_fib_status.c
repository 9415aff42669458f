
/*
 * Copyright (C) ngx_http_fib_module authors
 *
 * The status page: what the ledger counted, as the Prometheus text, the
 * same values in JSON, or the dashboard (ngx_http_fib_dashboard.html)
 * that polls the JSON.  It reads the ledger and writes nothing there.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <nginx.h>

#include "fib_core.h"
#include "ngx_http_fib_conf.h"
#include "ngx_http_fib_ledger.h"
#include "ngx_http_fib_response.h"

/* ngx_http_fib_dashboard.html as a C string, written by "config" */
#include "ngx_http_fib_dashboard.h"


/* "config" passes the version as a bare token: no quoting to go wrong */
#ifndef NGX_HTTP_FIB_VERSION
#define NGX_HTTP_FIB_VERSION           unknown
#endif

/*
 * The most one piece of a page takes: a line of literal text and its
 * numbers; names and labels are written a character at a time.
 */
#define NGX_HTTP_FIB_PIECE             512

#define NGX_HTTP_FIB_PROMETHEUS        0
#define NGX_HTTP_FIB_JSON              1
#define NGX_HTTP_FIB_HTML              2
#define NGX_HTTP_FIB_FORMATS           3

#define ngx_http_fib_str(x)            #x
#define ngx_http_fib_xstr(x)           ngx_http_fib_str(x)


/*
 * The values of the JSON, read from shared memory once: the JSON is
 * sized from them and then written from them, so that counters that
 * move in between cannot make it longer than its buffer.
 */

typedef struct {
    ngx_atomic_uint_t          requests[NGX_HTTP_FIB_OUTCOMES];
    ngx_atomic_uint_t          compute_ns;
    size_t                     len;
    u_char                     name[NGX_HTTP_FIB_PLACE_NAME];
} ngx_http_fib_place_values_t;


typedef struct {
    ngx_atomic_uint_t          requests[NGX_HTTP_FIB_OUTCOMES];
    ngx_atomic_uint_t          rejected[NGX_HTTP_FIB_REASONS];
    ngx_atomic_uint_t          computations[NGX_HTTP_FIB_ALGORITHMS][2];
    ngx_atomic_uint_t          compute_ns[NGX_HTTP_FIB_ALGORITHMS];
    ngx_atomic_uint_t          abandoned_ns[NGX_HTTP_FIB_ALGORITHMS];
    ngx_atomic_uint_t          buckets[NGX_HTTP_FIB_BUCKETS];
    ngx_atomic_uint_t          sum_ns;
    ngx_atomic_uint_t          queue_buckets[NGX_HTTP_FIB_BUCKETS];
    ngx_atomic_uint_t          queue_sum_ns;
    ngx_http_fib_gauges_t      gauges;
    ngx_uint_t                 nplaces;
    ngx_http_fib_place_values_t  places[NGX_HTTP_FIB_PLACES];
} ngx_http_fib_values_t;


/* a page as it is written, or only measured while pos is NULL */

typedef struct {
    u_char                    *pos;
    size_t                     len;
} ngx_http_fib_out_t;


static ngx_int_t ngx_http_fib_page(ngx_http_request_t *r,
    ngx_http_fib_main_conf_t *fmcf, ngx_int_t format);
static void ngx_http_fib_text_write(ngx_http_fib_out_t *j,
    ngx_http_fib_values_t *v, ngx_http_fib_main_conf_t *fmcf);
static void ngx_http_fib_text_seconds(ngx_http_fib_out_t *j, char *name,
    char *help, ngx_atomic_uint_t *ns);
static void ngx_http_fib_text_histogram(ngx_http_fib_out_t *j, char *name,
    char *help, ngx_atomic_uint_t *buckets, ngx_atomic_uint_t sum_ns);
static void ngx_http_fib_text_label(ngx_http_fib_out_t *j, u_char *s,
    size_t len);
static ngx_int_t ngx_http_fib_format(ngx_http_request_t *r);
static void ngx_http_fib_accept(ngx_str_t *value, ngx_uint_t *spec,
    ngx_int_t *q);
static ngx_int_t ngx_http_fib_qvalue(u_char *p, u_char *last);
static void ngx_http_fib_values(ngx_http_fib_values_t *v,
    ngx_http_fib_shm_t *shm);
static void ngx_http_fib_json_write(ngx_http_fib_out_t *j,
    ngx_http_fib_values_t *v, ngx_http_fib_main_conf_t *fmcf);
static void ngx_http_fib_json_seconds(ngx_http_fib_out_t *j, char *name,
    ngx_atomic_uint_t *ns);
static void ngx_http_fib_json_histogram(ngx_http_fib_out_t *j, char *name,
    ngx_atomic_uint_t *buckets, ngx_atomic_uint_t sum_ns);
static void ngx_http_fib_put(ngx_http_fib_out_t *j, const char *fmt,
    ...);
static void ngx_http_fib_json_string(ngx_http_fib_out_t *j, u_char *s,
    size_t len);




/* what each format is, in Accept and in Content-Type */

static ngx_str_t  ngx_http_fib_formats[] = {
    ngx_string("prometheus"),
    ngx_string("json"),
    ngx_string("html")
};

static ngx_str_t  ngx_http_fib_media[] = {
    ngx_string("text/plain"),
    ngx_string("application/json"),
    ngx_string("text/html")
};

static char  *ngx_http_fib_content_type[] = {
    "text/plain; version=0.0.4",
    "application/json",
    "text/html; charset=utf-8"
};


static ngx_str_t  ngx_http_fib_vary = ngx_string("Accept");

/*
 * The dashboard loads nothing from anywhere and talks to its own page
 * alone: the browser refuses whatever else a change might bring in.
 */
static ngx_str_t  ngx_http_fib_csp = ngx_string(
    "default-src 'none'; script-src 'unsafe-inline'; "
    "style-src 'unsafe-inline'; connect-src 'self'; img-src data:");


ngx_int_t
ngx_http_fib_status_handler(ngx_http_request_t *r)
{
    ngx_int_t                  rc, format;
    ngx_http_fib_main_conf_t  *fmcf;

    /* caches keep one answer for each Accept: it chooses the format */

    if (ngx_http_fib_add_header(r, "Vary", &ngx_http_fib_vary) == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        /* the status page is not a fib request: nothing to record */
        return ngx_http_fib_error(r, NGX_HTTP_NOT_ALLOWED,
                                  "method %V is not allowed: use GET or HEAD",
                                  &r->method_name);
    }

    format = ngx_http_fib_format(r);

    if (format == NGX_ERROR) {
        return ngx_http_fib_error(r, NGX_HTTP_BAD_REQUEST,
                                  "format must be prometheus, json or html");
    }

    if (format == NGX_HTTP_FIB_HTML) {
        if (ngx_http_fib_add_header(r, "Content-Security-Policy",
                                    &ngx_http_fib_csp)
            == NULL)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_fib_send(r, NGX_HTTP_OK,
                                 ngx_http_fib_content_type[format],
                                 ngx_http_fib_dashboard,
                                 sizeof(ngx_http_fib_dashboard) - 1);
    }

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_fib_module);

    return ngx_http_fib_page(r, fmcf, format);
}


/*
 * ?format= when given; else what Accept prefers: JSON or HTML only when
 * preferred to text/plain, so that Prometheus, curl and clients that
 * take any type get the text they always got; HTML on a tie with JSON,
 * as what asks for HTML at all is a browser, and a person.
 */

static ngx_int_t
ngx_http_fib_format(ngx_http_request_t *r)
{
    ngx_int_t         q[NGX_HTTP_FIB_FORMATS];
    ngx_str_t         value;
    ngx_uint_t        i, spec[NGX_HTTP_FIB_FORMATS];
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    if (ngx_http_arg(r, (u_char *) "format", 6, &value) == NGX_OK) {
        for (i = 0; i < NGX_HTTP_FIB_FORMATS; i++) {
            if (value.len == ngx_http_fib_formats[i].len
                && ngx_strncmp(value.data, ngx_http_fib_formats[i].data,
                               value.len)
                   == 0)
            {
                return i;
            }
        }

        return NGX_ERROR;
    }

    for (i = 0; i < NGX_HTTP_FIB_FORMATS; i++) {
        spec[i] = 0;
        q[i] = 0;
    }

    /* several Accept lines are one list (RFC 9110, 5.3) */

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash != 0
            && h[i].key.len == sizeof("Accept") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Accept",
                               sizeof("Accept") - 1)
               == 0)
        {
            ngx_http_fib_accept(&h[i].value, spec, q);
        }
    }

    if (q[NGX_HTTP_FIB_JSON] > q[NGX_HTTP_FIB_PROMETHEUS]
        && q[NGX_HTTP_FIB_JSON] > q[NGX_HTTP_FIB_HTML])
    {
        return NGX_HTTP_FIB_JSON;
    }

    if (q[NGX_HTTP_FIB_HTML] > q[NGX_HTTP_FIB_PROMETHEUS]
        && q[NGX_HTTP_FIB_HTML] >= q[NGX_HTTP_FIB_JSON])
    {
        return NGX_HTTP_FIB_HTML;
    }

    return NGX_HTTP_FIB_PROMETHEUS;
}


/*
 * One Accept value: each format takes the q of the most specific range
 * that names it (RFC 9110, 12.5.1): any type 1, its type with any
 * subtype 2, itself 3; in thousandths, 0 when none names it.  Parameters other
 * than q ("version=0.0.4") do not change what a range names.  An
 * element with a q that is not a qvalue is left out.
 */

static void
ngx_http_fib_accept(ngx_str_t *value, ngx_uint_t *spec, ngx_int_t *q)
{
    u_char      *p, *end, *range, *s;
    size_t       len, n;
    ngx_int_t    qv;
    ngx_str_t   *media;
    ngx_uint_t   i, sp;

    p = value->data;
    end = p + value->len;

    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ',')) {
            p++;
        }

        range = p;

        while (p < end && *p != ',' && *p != ';' && *p != ' ' && *p != '\t')
        {
            p++;
        }

        len = p - range;
        qv = 1000;

        while (p < end && *p != ',') {
            if (*p++ != ';') {
                continue;
            }

            while (p < end && (*p == ' ' || *p == '\t')) {
                p++;
            }

            if (end - p < 2 || (*p != 'q' && *p != 'Q') || p[1] != '=') {
                continue;
            }

            p += 2;
            s = p;

            while (p < end && *p != ',' && *p != ';' && *p != ' '
                   && *p != '\t')
            {
                p++;
            }

            qv = ngx_http_fib_qvalue(s, p);
        }

        if (len == 0 || qv == NGX_ERROR) {
            continue;
        }

        for (i = 0; i < NGX_HTTP_FIB_FORMATS; i++) {
            media = &ngx_http_fib_media[i];

            /* "text/" or "application/" */
            n = ngx_strlchr(media->data, media->data + media->len, '/')
                - media->data + 1;

            if (len == media->len
                && ngx_strncasecmp(range, media->data, len) == 0)
            {
                sp = 3;

            } else if (len == n + 1 && range[n] == '*'
                       && ngx_strncasecmp(range, media->data, n) == 0)
            {
                sp = 2;

            } else if (len == 3 && ngx_strncmp(range, "*/*", 3) == 0) {
                sp = 1;

            } else {
                continue;
            }

            if (sp > spec[i] || (sp == spec[i] && qv > q[i])) {
                spec[i] = sp;
                q[i] = qv;
            }
        }
    }
}


/* "0", "0.5", "1.000": thousandths, or NGX_ERROR */

static ngx_int_t
ngx_http_fib_qvalue(u_char *p, u_char *last)
{
    ngx_int_t  q, scale;

    if (p == last || (*p != '0' && *p != '1')) {
        return NGX_ERROR;
    }

    q = (*p++ - '0') * 1000;

    if (p < last && *p == '.') {
        p++;

        for (scale = 100; scale && p < last && *p >= '0' && *p <= '9';
             scale /= 10)
        {
            q += (*p++ - '0') * scale;
        }
    }

    if (p != last || q > 1000) {
        return NGX_ERROR;
    }

    return q;
}


/*
 * The text page and the JSON have the same values, read from shared
 * memory once, under the names of the README's tables: each is measured
 * first and then written from those values, so that its length is
 * exact, whatever the counters do meanwhile.
 */

static ngx_int_t
ngx_http_fib_page(ngx_http_request_t *r, ngx_http_fib_main_conf_t *fmcf,
    ngx_int_t format)
{
    u_char                 *p;
    ngx_http_fib_out_t      j;
    ngx_http_fib_values_t  *v;
    void                  (*write)(ngx_http_fib_out_t *j,
                                   ngx_http_fib_values_t *v,
                                   ngx_http_fib_main_conf_t *fmcf);

    v = ngx_palloc(r->pool, sizeof(ngx_http_fib_values_t));
    if (v == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_fib_values(v, ngx_http_fib_ledger(fmcf));

    write = (format == NGX_HTTP_FIB_JSON) ? ngx_http_fib_json_write
                                          : ngx_http_fib_text_write;

    j.pos = NULL;
    j.len = 0;
    write(&j, v, fmcf);

    p = ngx_pnalloc(r->pool, j.len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    j.pos = p;
    j.len = 0;
    write(&j, v, fmcf);

    return ngx_http_fib_send(r, NGX_HTTP_OK,
                             ngx_http_fib_content_type[format], p, j.len);
}


static void
ngx_http_fib_text_write(ngx_http_fib_out_t *j, ngx_http_fib_values_t *v,
    ngx_http_fib_main_conf_t *fmcf)
{
    ngx_uint_t                    i, k;
    ngx_http_fib_place_values_t  *pv;
#if (NGX_THREADS)
    ngx_http_fib_pool_t         **pp;
#endif

    ngx_http_fib_put(j,
        "# HELP fib_build_info The module's version and the nginx "
        "it runs in.\n"
        "# TYPE fib_build_info gauge\n"
        "fib_build_info{version=\"%s\",nginx=\"%s\"} 1\n",
        ngx_http_fib_xstr(NGX_HTTP_FIB_VERSION), NGINX_VERSION);

    ngx_http_fib_put(j,
        "# HELP fib_requests_total Requests to fib locations, "
        "by how they ended.\n"
        "# TYPE fib_requests_total counter\n");

    for (i = 0; i < NGX_HTTP_FIB_OUTCOMES; i++) {
        ngx_http_fib_put(j, "fib_requests_total{outcome=\"%V\"} %uA\n",
                         &ngx_http_fib_outcome_names[i], v->requests[i]);
    }

    ngx_http_fib_put(j,
        "# HELP fib_rejected_total Requests refused with 503 without "
        "computing, by reason.\n"
        "# TYPE fib_rejected_total counter\n");

    for (i = 0; i < NGX_HTTP_FIB_REASONS; i++) {
        ngx_http_fib_put(j, "fib_rejected_total{reason=\"%V\"} %uA\n",
                         &ngx_http_fib_reason_names[i], v->rejected[i]);
    }

    ngx_http_fib_put(j,
        "# HELP fib_computations_total Computations that produced "
        "their number, by algorithm and where they ran.\n"
        "# TYPE fib_computations_total counter\n");

    for (i = 0; i < NGX_HTTP_FIB_ALGORITHMS; i++) {
        for (k = 0; k < NGX_HTTP_FIB_MODES - 1; k++) {
            ngx_http_fib_put(j, "fib_computations_total{algorithm=\"%s\","
                             "mode=\"%V\"} %uA\n",
                             fib_algorithm_name(i),
                             &ngx_http_fib_mode_names[k + 1],
                             v->computations[i][k]);
        }
    }

    ngx_http_fib_text_seconds(j, "compute",
                              "Time spent in those computations, "
                              "by algorithm.", v->compute_ns);
    ngx_http_fib_text_seconds(j, "abandoned_compute",
                              "Time spent in computations that did not "
                              "produce their number (timed out, cancelled), "
                              "by algorithm.", v->abandoned_ns);

    ngx_http_fib_put(j,
        "# HELP fib_in_flight Computations queued or running in "
        "thread pools.\n"
        "# TYPE fib_in_flight gauge\n"
        "fib_in_flight %ui\n", v->gauges.in_flight);

    ngx_http_fib_put(j,
        "# HELP fib_waiting Requests waiting in the workers' queues "
        "for room in a pool.\n"
        "# TYPE fib_waiting gauge\n"
        "fib_waiting %ui\n", v->gauges.waiting);

    ngx_http_fib_put(j,
        "# HELP fib_memory_bytes Memory held by results and "
        "computations, summed over workers.\n"
        "# TYPE fib_memory_bytes gauge\n"
        "fib_memory_bytes %ui\n", v->gauges.memory);

    ngx_http_fib_put(j,
        "# HELP fib_workers Worker processes whose gauges are summed "
        "here; each limit below is one worker's.\n"
        "# TYPE fib_workers gauge\n"
        "fib_workers %ui\n", v->gauges.workers);

    ngx_http_fib_put(j,
        "# HELP fib_max_memory_bytes fib_max_memory: the most one "
        "worker holds.\n"
        "# TYPE fib_max_memory_bytes gauge\n"
        "fib_max_memory_bytes %uz\n", fmcf->max_memory);

    ngx_http_fib_put(j,
        "# HELP fib_max_waiting fib_max_waiting: the most requests "
        "one worker lets wait.\n"
        "# TYPE fib_max_waiting gauge\n"
        "fib_max_waiting %i\n", fmcf->max_waiting);

#if (NGX_THREADS)
    ngx_http_fib_put(j,
        "# HELP fib_pool_tasks fib_thread_pool tasks=: the tasks one "
        "worker keeps posted to the pool at most.\n"
        "# TYPE fib_pool_tasks gauge\n");

    pp = fmcf->pools.elts;

    for (i = 0; i < fmcf->pools.nelts; i++) {
        ngx_http_fib_put(j, "fib_pool_tasks{pool=\"");
        ngx_http_fib_text_label(j, pp[i]->name.data, pp[i]->name.len);
        ngx_http_fib_put(j, "\"} %ui\n", pp[i]->tasks);
    }
#endif

    ngx_http_fib_text_histogram(j, "compute", "Time of one computation.",
                                v->buckets, v->sum_ns);
    ngx_http_fib_text_histogram(j, "queue",
                                "Time of one wait for a pool thread.",
                                v->queue_buckets, v->queue_sum_ns);

    ngx_http_fib_put(j,
        "# HELP fib_location_requests_total Requests by fib location "
        "(its name in the configuration) and how they ended.\n"
        "# TYPE fib_location_requests_total counter\n");

    for (i = 0; i < v->nplaces; i++) {
        pv = &v->places[i];

        for (k = 0; k < NGX_HTTP_FIB_OUTCOMES; k++) {
            ngx_http_fib_put(j, "fib_location_requests_total{location=\"");
            ngx_http_fib_text_label(j, pv->name, pv->len);
            ngx_http_fib_put(j, "\",outcome=\"%V\"} %uA\n",
                             &ngx_http_fib_outcome_names[k],
                             pv->requests[k]);
        }
    }

    ngx_http_fib_put(j,
        "# HELP fib_location_compute_seconds_total Time spent "
        "computing by fib location, numbers produced or not.\n"
        "# TYPE fib_location_compute_seconds_total counter\n");

    for (i = 0; i < v->nplaces; i++) {
        pv = &v->places[i];

        ngx_http_fib_put(j, "fib_location_compute_seconds_total{"
                         "location=\"");
        ngx_http_fib_text_label(j, pv->name, pv->len);
        ngx_http_fib_put(j, "\"} %uA.%06uA\n",
                         pv->compute_ns / 1000000000,
                         pv->compute_ns / 1000 % 1000000);
    }
}


/* a counter of seconds by algorithm, in microseconds */

static void
ngx_http_fib_text_seconds(ngx_http_fib_out_t *j, char *name, char *help,
    ngx_atomic_uint_t *ns)
{
    ngx_uint_t  i;

    ngx_http_fib_put(j, "# HELP fib_%s_seconds_total %s\n"
                     "# TYPE fib_%s_seconds_total counter\n",
                     name, help, name);

    for (i = 0; i < NGX_HTTP_FIB_ALGORITHMS; i++) {
        ngx_http_fib_put(j,
                         "fib_%s_seconds_total{algorithm=\"%s\"} "
                         "%uA.%06uA\n",
                         name, fib_algorithm_name(i), ns[i] / 1000000000,
                         ns[i] / 1000 % 1000000);
    }
}


/* _count is the +Inf bucket itself: one scrape never disagrees */

static void
ngx_http_fib_text_histogram(ngx_http_fib_out_t *j, char *name, char *help,
    ngx_atomic_uint_t *buckets, ngx_atomic_uint_t sum_ns)
{
    ngx_uint_t  i, cumulative;

    ngx_http_fib_put(j, "# HELP fib_%s_seconds %s\n"
                     "# TYPE fib_%s_seconds histogram\n", name, help, name);

    cumulative = 0;

    for (i = 0; i < NGX_HTTP_FIB_BUCKETS; i++) {
        cumulative += buckets[i];
        ngx_http_fib_put(j, "fib_%s_seconds_bucket{le=\"%s\"} %ui\n",
                         name, ngx_http_fib_bucket_le[i], cumulative);
    }

    ngx_http_fib_put(j, "fib_%s_seconds_sum %uA.%06uA\n"
                     "fib_%s_seconds_count %ui\n",
                     name, sum_ns / 1000000000, sum_ns / 1000 % 1000000,
                     name, cumulative);
}


static void
ngx_http_fib_values(ngx_http_fib_values_t *v, ngx_http_fib_shm_t *shm)
{
    ngx_uint_t                    i, j;
    ngx_http_fib_place_t         *place;
    ngx_http_fib_place_values_t  *pv;

    for (i = 0; i < NGX_HTTP_FIB_OUTCOMES; i++) {
        v->requests[i] = shm->requests[i];
    }

    for (i = 0; i < NGX_HTTP_FIB_REASONS; i++) {
        v->rejected[i] = shm->rejected[i];
    }

    for (i = 0; i < NGX_HTTP_FIB_ALGORITHMS; i++) {
        v->computations[i][0] = shm->computations[i][0];
        v->computations[i][1] = shm->computations[i][1];
        v->compute_ns[i] = shm->compute_ns[i];
        v->abandoned_ns[i] = shm->abandoned_ns[i];
    }

    for (i = 0; i < NGX_HTTP_FIB_BUCKETS; i++) {
        v->buckets[i] = shm->buckets[i];
        v->queue_buckets[i] = shm->queue_buckets[i];
    }

    v->sum_ns = shm->sum_ns;
    v->queue_sum_ns = shm->queue_sum_ns;

    ngx_http_fib_gauges(shm, &v->gauges);

    /* a reload may rename a place while it is read: its length is kept */

    for (i = 0; i < NGX_HTTP_FIB_PLACES && shm->places[i].len; i++) {
        place = &shm->places[i];
        pv = &v->places[i];

        pv->len = ngx_min(place->len, NGX_HTTP_FIB_PLACE_NAME);
        ngx_memcpy(pv->name, place->name, pv->len);
        pv->compute_ns = place->compute_ns;

        for (j = 0; j < NGX_HTTP_FIB_OUTCOMES; j++) {
            pv->requests[j] = place->requests[j];
        }
    }

    v->nplaces = i;
}


static void
ngx_http_fib_json_write(ngx_http_fib_out_t *j, ngx_http_fib_values_t *v,
    ngx_http_fib_main_conf_t *fmcf)
{
    ngx_uint_t                    i, k;
    ngx_http_fib_place_values_t  *pv;
#if (NGX_THREADS)
    ngx_http_fib_pool_t         **pp;
#endif

    ngx_http_fib_put(j, "{\"version\":\"%s\",\"nginx\":\"%s\","
                          "\"requests\":{",
                          ngx_http_fib_xstr(NGX_HTTP_FIB_VERSION),
                          NGINX_VERSION);

    for (i = 0; i < NGX_HTTP_FIB_OUTCOMES; i++) {
        ngx_http_fib_put(j, "%s\"%V\":%uA", i ? "," : "",
                              &ngx_http_fib_outcome_names[i], v->requests[i]);
    }

    ngx_http_fib_put(j, "},\"rejected\":{");

    for (i = 0; i < NGX_HTTP_FIB_REASONS; i++) {
        ngx_http_fib_put(j, "%s\"%V\":%uA", i ? "," : "",
                              &ngx_http_fib_reason_names[i], v->rejected[i]);
    }

    ngx_http_fib_put(j, "},\"computations\":{");

    for (i = 0; i < NGX_HTTP_FIB_ALGORITHMS; i++) {
        ngx_http_fib_put(j, "%s\"%s\":{\"%V\":%uA,\"%V\":%uA}",
                              i ? "," : "", fib_algorithm_name(i),
                              &ngx_http_fib_mode_names[1], v->computations[i][0],
                              &ngx_http_fib_mode_names[2], v->computations[i][1]);
    }

    ngx_http_fib_put(j, "},");
    ngx_http_fib_json_seconds(j, "compute_seconds", v->compute_ns);
    ngx_http_fib_json_seconds(j, "abandoned_compute_seconds",
                              v->abandoned_ns);

    ngx_http_fib_put(j, "\"in_flight\":%ui,\"waiting\":%ui,"
                          "\"memory_bytes\":%ui,\"workers\":%ui,"
                          "\"max_memory_bytes\":%uz,\"max_waiting\":%i,"
                          "\"pools\":[",
                          v->gauges.in_flight, v->gauges.waiting,
                          v->gauges.memory, v->gauges.workers,
                          fmcf->max_memory, fmcf->max_waiting);

#if (NGX_THREADS)
    pp = fmcf->pools.elts;

    for (i = 0; i < fmcf->pools.nelts; i++) {
        ngx_http_fib_put(j, "%s{\"pool\":", i ? "," : "");
        ngx_http_fib_json_string(j, pp[i]->name.data, pp[i]->name.len);
        ngx_http_fib_put(j, ",\"tasks\":%ui}", pp[i]->tasks);
    }
#endif

    ngx_http_fib_put(j, "],");
    ngx_http_fib_json_histogram(j, "compute_histogram", v->buckets,
                                v->sum_ns);
    ngx_http_fib_json_histogram(j, "queue_histogram", v->queue_buckets,
                                v->queue_sum_ns);

    ngx_http_fib_put(j, "\"locations\":[");

    for (i = 0; i < v->nplaces; i++) {
        pv = &v->places[i];

        ngx_http_fib_put(j, "%s{\"location\":", i ? "," : "");
        ngx_http_fib_json_string(j, pv->name, pv->len);
        ngx_http_fib_put(j, ",\"requests\":{");

        for (k = 0; k < NGX_HTTP_FIB_OUTCOMES; k++) {
            ngx_http_fib_put(j, "%s\"%V\":%uA", k ? "," : "",
                                  &ngx_http_fib_outcome_names[k],
                                  pv->requests[k]);
        }

        ngx_http_fib_put(j, "},\"compute_seconds\":%uA.%06uA}",
                              pv->compute_ns / 1000000000,
                              pv->compute_ns / 1000 % 1000000);
    }

    ngx_http_fib_put(j, "]}\n");
}


/* "name":{"recursive":0.000000,...}, as the text page's seconds */

static void
ngx_http_fib_json_seconds(ngx_http_fib_out_t *j, char *name,
    ngx_atomic_uint_t *ns)
{
    ngx_uint_t  i;

    ngx_http_fib_put(j, "\"%s\":{", name);

    for (i = 0; i < NGX_HTTP_FIB_ALGORITHMS; i++) {
        ngx_http_fib_put(j, "%s\"%s\":%uA.%06uA", i ? "," : "",
                              fib_algorithm_name(i), ns[i] / 1000000000,
                              ns[i] / 1000 % 1000000);
    }

    ngx_http_fib_put(j, "},");
}


/* cumulative buckets, as Prometheus has them: "count" is the last one */

static void
ngx_http_fib_json_histogram(ngx_http_fib_out_t *j, char *name,
    ngx_atomic_uint_t *buckets, ngx_atomic_uint_t sum_ns)
{
    ngx_uint_t  i, cumulative;

    ngx_http_fib_put(j, "\"%s\":{\"buckets\":[", name);

    cumulative = 0;

    for (i = 0; i < NGX_HTTP_FIB_BUCKETS; i++) {
        cumulative += buckets[i];
        ngx_http_fib_put(j, "%s{\"le\":\"%s\",\"count\":%ui}",
                              i ? "," : "", ngx_http_fib_bucket_le[i],
                              cumulative);
    }

    ngx_http_fib_put(j, "],\"sum\":%uA.%06uA,\"count\":%ui},",
                          sum_ns / 1000000000, sum_ns / 1000 % 1000000,
                          cumulative);
}


/* one piece of keys and numbers, written or only counted */

static void
ngx_http_fib_put(ngx_http_fib_out_t *j, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;
    u_char    piece[NGX_HTTP_FIB_PIECE];

    va_start(args, fmt);
    p = ngx_vslprintf(piece, piece + sizeof(piece), fmt, args);
    va_end(args);

    if (j->pos != NULL) {
        j->pos = ngx_cpymem(j->pos, piece, p - piece);
    }

    j->len += p - piece;
}


/*
 * A name as a JSON string: valid UTF-8 as it is, with " and \ escaped
 * and control characters as \u00XX; a byte that is not UTF-8, or that
 * encodes a surrogate, is U+FFFD, as a decoder would read it.
 */

static void
ngx_http_fib_json_string(ngx_http_fib_out_t *j, u_char *s, size_t len)
{
    u_char    *c, *end;
    size_t     n;
    uint32_t   u;
    u_char     out[6];

    end = s + len;

    ngx_http_fib_put(j, "\"");

    while (s < end) {
        c = s;

        if (*s < 0x80) {
            s++;

            if (*c == '"' || *c == '\\') {
                out[0] = '\\';
                out[1] = *c;
                n = 2;

            } else if (*c < 0x20) {
                n = ngx_sprintf(out, "\\u%04xi", (ngx_int_t) *c) - out;

            } else {
                out[0] = *c;
                n = 1;
            }

        } else {
            u = ngx_utf8_decode(&s, end - s);

            if (u > 0x10ffff || (u >= 0xd800 && u <= 0xdfff)) {
                /* ngx_utf8_decode() may stop anywhere: one byte at a time */
                s = c + 1;
                n = ngx_cpymem(out, "\\ufffd", 6) - out;

            } else {
                n = s - c;
                ngx_memcpy(out, c, n);
            }
        }

        if (j->pos != NULL) {
            j->pos = ngx_cpymem(j->pos, out, n);
        }

        j->len += n;
    }

    ngx_http_fib_put(j, "\"");
}


/*
 * A label value in the exposition format: valid UTF-8, with \, " and
 * newlines escaped; a byte that is not UTF-8 (a location may be named
 * with any) is written as "?".  At most twice the length.
 */

static void
ngx_http_fib_text_label(ngx_http_fib_out_t *j, u_char *s, size_t len)
{
    u_char  *c, *end;
    size_t   n;
    u_char   out[4];

    end = s + len;

    while (s < end) {
        c = s;

        if (*s < 0x80) {
            s++;

            if (*c == '\\' || *c == '"' || *c == '\n') {
                out[0] = '\\';
                out[1] = (*c == '\n') ? 'n' : *c;
                n = 2;

            } else {
                out[0] = *c;
                n = 1;
            }

        } else if (ngx_utf8_decode(&s, end - s) > 0x10ffff) {
            /* ngx_utf8_decode() moved on past what it could not read */
            s = c + 1;
            out[0] = '?';
            n = 1;

        } else {
            n = s - c;
            ngx_memcpy(out, c, n);
        }

        if (j->pos != NULL) {
            j->pos = ngx_cpymem(j->pos, out, n);
        }

        j->len += n;
    }
}
