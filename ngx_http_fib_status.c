
/*
 * Copyright (C) ngx_http_fib_module authors
 *
 * What the module tells: the variables, the counters, the gauges and
 * the status page.  Every worker adds to
 * the counters in a shared memory zone, which reloads keep; the gauges
 * are per worker process, so that a worker that dies takes its own with
 * it.  The page is the Prometheus text, the same values in JSON, or the
 * dashboard (ngx_http_fib_dashboard.html) that polls the JSON.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <nginx.h>

#include "fib_core.h"
#include "ngx_http_fib_module.h"

/* ngx_http_fib_dashboard.html as a C string, written by "config" */
#include "ngx_http_fib_dashboard.h"


/* "config" passes the version as a bare token: no quoting to go wrong */
#ifndef NGX_HTTP_FIB_VERSION
#define NGX_HTTP_FIB_VERSION           unknown
#endif

/*
 * The page's lines, and the most one takes but for its labels: a HELP
 * line is about 130 bytes, a series its name and a number of 20 digits
 * and 6 decimals; a label takes twice its name at most.
 */
#define NGX_HTTP_FIB_PAGE_LINES                                             \
    (3 + 2 + NGX_HTTP_FIB_OUTCOMES + 2 + NGX_HTTP_FIB_REASONS               \
     + 2 + 2 * NGX_HTTP_FIB_ALGORITHMS + 2 * (2 + NGX_HTTP_FIB_ALGORITHMS)  \
     + 6 * 3 + 2 + 2 * (2 + NGX_HTTP_FIB_BUCKETS + 2) + 4)
#define NGX_HTTP_FIB_PAGE_LINE         256

/* the most one piece of the JSON takes: its keys and numbers, no names */
#define NGX_HTTP_FIB_JSON_PIECE        256

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
    ngx_uint_t                 in_flight;
    ngx_uint_t                 waiting;
    ngx_uint_t                 memory;
    ngx_uint_t                 workers;
    ngx_uint_t                 nplaces;
    ngx_http_fib_place_values_t  places[NGX_HTTP_FIB_PLACES];
} ngx_http_fib_values_t;


/* the JSON as it is written, or only measured while pos is NULL */

typedef struct {
    u_char                    *pos;
    size_t                     len;
} ngx_http_fib_json_t;


static ngx_int_t ngx_http_fib_init_zone(ngx_shm_zone_t *shm_zone, void *data);
static void ngx_http_fib_init_places(ngx_http_fib_shm_t *shm,
    ngx_http_fib_main_conf_t *fmcf);
static ngx_int_t ngx_http_fib_free_place(ngx_http_fib_shm_t *shm,
    ngx_str_t *name, ngx_uint_t gen);
static ngx_uint_t ngx_http_fib_bucket(uint64_t ns);
static u_char *ngx_http_fib_seconds(u_char *p, u_char *last, char *name,
    char *help, ngx_atomic_t *ns);
static u_char *ngx_http_fib_histogram(u_char *p, u_char *last, char *name,
    ngx_atomic_t *buckets, uint64_t sum_ns);
static ngx_int_t ngx_http_fib_alive(ngx_pid_t pid);
static ngx_int_t ngx_http_fib_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_fib_time_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static size_t ngx_http_fib_page_size(ngx_http_fib_main_conf_t *fmcf);
static u_char *ngx_http_fib_status_page(u_char *p, u_char *last,
    ngx_http_fib_main_conf_t *fmcf);
static u_char *ngx_http_fib_label(u_char *p, u_char *last, u_char *s,
    size_t len);
static void ngx_http_fib_gauges(ngx_http_fib_shm_t *shm, ngx_uint_t *in_flight,
    ngx_uint_t *waiting, ngx_uint_t *memory, ngx_uint_t *workers);
static ngx_int_t ngx_http_fib_format(ngx_http_request_t *r);
static void ngx_http_fib_accept(ngx_str_t *value, ngx_uint_t *spec,
    ngx_int_t *q);
static ngx_int_t ngx_http_fib_qvalue(u_char *p, u_char *last);
static ngx_int_t ngx_http_fib_json_page(ngx_http_request_t *r,
    ngx_http_fib_main_conf_t *fmcf);
static void ngx_http_fib_values(ngx_http_fib_values_t *v,
    ngx_http_fib_shm_t *shm);
static void ngx_http_fib_json_write(ngx_http_fib_json_t *j,
    ngx_http_fib_values_t *v, ngx_http_fib_main_conf_t *fmcf);
static void ngx_http_fib_json_seconds(ngx_http_fib_json_t *j, char *name,
    ngx_atomic_uint_t *ns);
static void ngx_http_fib_json_histogram(ngx_http_fib_json_t *j, char *name,
    ngx_atomic_uint_t *buckets, ngx_atomic_uint_t sum_ns);
static void ngx_http_fib_json_put(ngx_http_fib_json_t *j, const char *fmt,
    ...);
static void ngx_http_fib_json_string(ngx_http_fib_json_t *j, u_char *s,
    size_t len);


static ngx_str_t  ngx_http_fib_zone_name = ngx_string("ngx_http_fib_module");


/*
 * This worker's gauges: its slot in shared memory once it has one, a
 * private copy before that or when every slot is taken.  Only the
 * worker's event loop writes them.
 */

static ngx_http_fib_slot_t   ngx_http_fib_own;
ngx_http_fib_slot_t         *ngx_http_fib_worker = &ngx_http_fib_own;


static ngx_str_t  ngx_http_fib_outcomes[] = {
    ngx_string("ok"),
    ngx_string("not_modified"),
    ngx_string("bad_request"),
    ngx_string("overloaded"),
    ngx_string("timed_out"),
    ngx_string("cancelled"),
    ngx_string("filtered"),
    ngx_string("error")
};


static ngx_str_t  ngx_http_fib_reasons[] = {
    ngx_string("queue_full"),
    ngx_string("memory"),
    ngx_string("subrequests")
};


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


ngx_int_t
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


ngx_shm_zone_t *
ngx_http_fib_add_zone(ngx_conf_t *cf)
{
    ngx_shm_zone_t  *zone;

    /* the counters and a slot per process, beside the slab's own pages */

    zone = ngx_shared_memory_add(cf, &ngx_http_fib_zone_name,
                                 ngx_align(sizeof(ngx_http_fib_shm_t),
                                           ngx_pagesize)
                                 + 8 * ngx_pagesize,
                                 &ngx_http_fib_module);
    if (zone == NULL) {
        return NULL;
    }

    zone->init = ngx_http_fib_init_zone;

    return zone;
}


/*
 * Only maps the zone: nginx runs this before it binds the listening
 * sockets of a new configuration, and for a reload that then fails, so
 * nothing here may change what the configuration in service shows.
 */

static ngx_int_t
ngx_http_fib_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t     *shpool;
    ngx_http_fib_shm_t  *shm;

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (data) {
        /* a reload: the counters go on from where they were */
        shm = data;

    } else if (shm_zone->shm.exists) {
        shm = shpool->data;

    } else {
        shm = ngx_slab_calloc(shpool, sizeof(ngx_http_fib_shm_t));
        if (shm == NULL) {
            return NGX_ERROR;
        }

        shpool->data = shm;
    }

    shm_zone->data = shm;

    return NGX_OK;
}


/*
 * A process of a configuration that serves takes its places: the first
 * of them starts a new generation, the others find the same places.
 * Workers do it when they start; a request or the status page does it
 * where no worker started for the configuration (a reload without a
 * master process).
 */

void
ngx_http_fib_take_places(ngx_http_fib_main_conf_t *fmcf)
{
    ngx_slab_pool_t  *shpool;

    if (fmcf->placed || fmcf->zone == NULL || fmcf->zone->data == NULL) {
        return;
    }

    shpool = (ngx_slab_pool_t *) fmcf->zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);
    ngx_http_fib_init_places(fmcf->zone->data, fmcf);
    ngx_shmtx_unlock(&shpool->mutex);

    fmcf->placed = 1;
}


/*
 * Each fib location finds its series by name: those of a location that
 * a reload keeps, or puts back, go on; then a new one takes a free
 * place, or one that the last two configurations left unnamed (the old
 * workers that could still count there are gone by then, but for ones
 * that outlive two reloads).  A name longer than a place holds, and the
 * locations beyond NGX_HTTP_FIB_PLACES, have no series of their own.
 */

static void
ngx_http_fib_init_places(ngx_http_fib_shm_t *shm,
    ngx_http_fib_main_conf_t *fmcf)
{
    ngx_uint_t                  i, j, gen;
    ngx_http_fib_place_t       *place;
    ngx_http_fib_place_conf_t  *pc;

    if (shm->configuration != fmcf->configuration) {
        shm->configuration = fmcf->configuration;
        shm->generation++;
    }

    gen = shm->generation;
    pc = fmcf->places.elts;

    /* the names the zone has */

    for (i = 0; i < fmcf->places.nelts; i++) {
        pc[i].slot = -1;

        for (j = 0; j < NGX_HTTP_FIB_PLACES; j++) {
            place = &shm->places[j];

            if (place->len != 0
                && place->len == pc[i].name.len
                && ngx_strncmp(place->name, pc[i].name.data, place->len)
                   == 0)
            {
                place->generation = gen;
                pc[i].slot = j;
                break;
            }
        }
    }

    /*
     * Then the new ones: a name that another server's location has
     * already placed shares its place; else an unused place, and only
     * when none is left one that two configurations left unnamed (an
     * old worker may still count there).
     */

    for (i = 0; i < fmcf->places.nelts; i++) {
        if (pc[i].slot != -1 || pc[i].name.len > NGX_HTTP_FIB_PLACE_NAME) {
            continue;
        }

        pc[i].slot = ngx_http_fib_free_place(shm, &pc[i].name, gen);
    }
}


static ngx_int_t
ngx_http_fib_free_place(ngx_http_fib_shm_t *shm, ngx_str_t *name,
    ngx_uint_t gen)
{
    ngx_int_t              j, aged;
    ngx_http_fib_place_t  *place;

    aged = -1;

    for (j = 0; j < NGX_HTTP_FIB_PLACES; j++) {
        place = &shm->places[j];

        if (place->len == name->len
            && ngx_strncmp(place->name, name->data, name->len) == 0)
        {
            return j;
        }

        if (place->len == 0) {
            break;
        }

        if (aged == -1 && place->generation + 2 <= gen) {
            aged = j;
        }
    }

    if (j == NGX_HTTP_FIB_PLACES) {
        if (aged == -1) {
            return -1;
        }

        j = aged;
    }

    place = &shm->places[j];

    ngx_memzero(place, sizeof(ngx_http_fib_place_t));
    ngx_memcpy(place->name, name->data, name->len);
    place->len = name->len;
    place->generation = gen;

    return j;
}


/* whether a slot's worker still runs: only "no such process" says no */

static ngx_int_t
ngx_http_fib_alive(ngx_pid_t pid)
{
    return pid != 0 && (kill(pid, 0) == 0 || ngx_errno != NGX_ESRCH);
}


/*
 * A worker takes a slot for its gauges: a free one, or one whose process
 * is gone (a crashed worker's gauges would otherwise stay up for ever).
 */

ngx_int_t
ngx_http_fib_init_process(ngx_cycle_t *cycle)
{
    ngx_pid_t                  pid;
    ngx_uint_t                 i;
    ngx_http_fib_shm_t        *shm;
    ngx_http_fib_slot_t       *slot;
    ngx_http_fib_main_conf_t  *fmcf;

    fmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_fib_module);

    /* workers' gauges only: the cache manager and loader have none */

    if (ngx_process == NGX_PROCESS_HELPER
        || fmcf == NULL || fmcf->zone == NULL || fmcf->zone->data == NULL)
    {
        return NGX_OK;
    }

    ngx_http_fib_take_places(fmcf);

    shm = fmcf->zone->data;

    for (i = 0; i < NGX_HTTP_FIB_SLOTS; i++) {
        slot = &shm->slots[i];
        pid = (ngx_pid_t) slot->pid;

        if (ngx_http_fib_alive(pid)) {
            continue;
        }

        if (ngx_atomic_cmp_set(&slot->pid, (ngx_atomic_uint_t) pid,
                               (ngx_atomic_uint_t) ngx_pid))
        {
            slot->in_flight = 0;
            slot->waiting = 0;
            slot->memory = 0;
            ngx_http_fib_worker = slot;
            return NGX_OK;
        }
    }

    ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                  "fib: no free slot for this worker's gauges; "
                  "fib_in_flight and fib_memory_bytes leave it out");

    return NGX_OK;
}


void
ngx_http_fib_exit_process(ngx_cycle_t *cycle)
{
    if (ngx_http_fib_worker != &ngx_http_fib_own) {
        (void) ngx_atomic_cmp_set(&ngx_http_fib_worker->pid,
                                  (ngx_atomic_uint_t) ngx_pid, 0);
        ngx_http_fib_worker = &ngx_http_fib_own;
    }
}


ngx_int_t
ngx_http_fib_status_handler(ngx_http_request_t *r)
{
    u_char                    *p, *last;
    size_t                     size;
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
        return ngx_http_fib_error(r, NULL, NGX_HTTP_NOT_ALLOWED, 0,
                                  "method %V is not allowed: use GET or HEAD",
                                  &r->method_name);
    }

    format = ngx_http_fib_format(r);

    if (format == NGX_ERROR) {
        return ngx_http_fib_error(r, NULL, NGX_HTTP_BAD_REQUEST, 0,
                                  "format must be prometheus, json or html");
    }

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_fib_module);

    ngx_http_fib_take_places(fmcf);

    if (format == NGX_HTTP_FIB_JSON) {
        return ngx_http_fib_json_page(r, fmcf);
    }

    if (format == NGX_HTTP_FIB_HTML) {
        if (ngx_http_fib_add_header(r, "Content-Security-Policy",
                                    &ngx_http_fib_csp)
            == NULL)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_fib_send(r, NULL, NGX_HTTP_OK,
                                 ngx_http_fib_content_type[format],
                                 ngx_http_fib_dashboard,
                                 sizeof(ngx_http_fib_dashboard) - 1);
    }

    /* sized first, as stub_status does: a line of text and a number each */

    size = ngx_http_fib_page_size(fmcf);

    p = ngx_pnalloc(r->pool, size);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last = ngx_http_fib_status_page(p, p + size, fmcf);

    return ngx_http_fib_send(r, NULL, NGX_HTTP_OK,
                             ngx_http_fib_content_type[format], p, last - p);
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


static size_t
ngx_http_fib_page_size(ngx_http_fib_main_conf_t *fmcf)
{
    size_t                  size;
#if (NGX_THREADS)
    ngx_uint_t              i;
    ngx_http_fib_queue_t  **qp;
#endif

    size = NGX_HTTP_FIB_PAGE_LINES * NGX_HTTP_FIB_PAGE_LINE
           + NGX_HTTP_FIB_PLACES * (NGX_HTTP_FIB_OUTCOMES + 1)
             * (NGX_HTTP_FIB_PAGE_LINE + 2 * NGX_HTTP_FIB_PLACE_NAME);

#if (NGX_THREADS)
    /* a pool's name is as long as its thread_pool line says */

    qp = fmcf->queues.elts;

    for (i = 0; i < fmcf->queues.nelts; i++) {
        size += NGX_HTTP_FIB_PAGE_LINE + 2 * qp[i]->name.len;
    }
#endif

    return size;
}


static u_char *
ngx_http_fib_status_page(u_char *p, u_char *last,
    ngx_http_fib_main_conf_t *fmcf)
{
    ngx_uint_t                  i, j, in_flight, waiting, memory, workers;
    ngx_http_fib_shm_t         *shm;
    ngx_http_fib_place_t       *place;
#if (NGX_THREADS)
    ngx_http_fib_queue_t      **qp;
#endif

    shm = fmcf->zone->data;

    p = ngx_slprintf(p, last,
            "# HELP fib_build_info The module's version and the nginx "
            "it runs in.\n"
            "# TYPE fib_build_info gauge\n"
            "fib_build_info{version=\"%s\",nginx=\"%s\"} 1\n",
            ngx_http_fib_xstr(NGX_HTTP_FIB_VERSION), NGINX_VERSION);

    p = ngx_slprintf(p, last,
            "# HELP fib_requests_total Requests to fib locations, "
            "by how they ended.\n"
            "# TYPE fib_requests_total counter\n");

    for (i = 0; i < NGX_HTTP_FIB_OUTCOMES; i++) {
        p = ngx_slprintf(p, last, "fib_requests_total{outcome=\"%V\"} %uA\n",
                         &ngx_http_fib_outcomes[i], shm->requests[i]);
    }

    p = ngx_slprintf(p, last,
            "# HELP fib_rejected_total Requests refused with 503 without "
            "computing, by reason.\n"
            "# TYPE fib_rejected_total counter\n");

    for (i = 0; i < NGX_HTTP_FIB_REASONS; i++) {
        p = ngx_slprintf(p, last, "fib_rejected_total{reason=\"%V\"} %uA\n",
                         &ngx_http_fib_reasons[i], shm->rejected[i]);
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
                             shm->computations[i][j]);
        }
    }

    p = ngx_http_fib_seconds(p, last, "compute",
                             "Time spent in those computations, by algorithm.",
                             shm->compute_ns);
    p = ngx_http_fib_seconds(p, last, "abandoned_compute",
                             "Time spent in computations that did not "
                             "produce their number (timed out, cancelled), "
                             "by algorithm.", shm->abandoned_ns);

    ngx_http_fib_gauges(shm, &in_flight, &waiting, &memory, &workers);

    p = ngx_slprintf(p, last,
            "# HELP fib_in_flight Computations queued or running in "
            "thread pools.\n"
            "# TYPE fib_in_flight gauge\n"
            "fib_in_flight %ui\n"
            "# HELP fib_waiting Requests waiting in the workers' queues "
            "for room in a pool.\n"
            "# TYPE fib_waiting gauge\n"
            "fib_waiting %ui\n"
            "# HELP fib_memory_bytes Memory held by results and "
            "computations, summed over workers.\n"
            "# TYPE fib_memory_bytes gauge\n"
            "fib_memory_bytes %ui\n"
            "# HELP fib_workers Worker processes whose gauges are summed "
            "here; each limit below is one worker's.\n"
            "# TYPE fib_workers gauge\n"
            "fib_workers %ui\n"
            "# HELP fib_max_memory_bytes fib_max_memory: the most one "
            "worker holds.\n"
            "# TYPE fib_max_memory_bytes gauge\n"
            "fib_max_memory_bytes %uz\n"
            "# HELP fib_max_waiting fib_max_waiting: the most requests "
            "one worker lets wait.\n"
            "# TYPE fib_max_waiting gauge\n"
            "fib_max_waiting %i\n",
            in_flight, waiting, memory, workers, fmcf->max_memory,
            fmcf->max_waiting);

#if (NGX_THREADS)
    p = ngx_slprintf(p, last,
            "# HELP fib_pool_tasks fib_thread_pool tasks=: the tasks one "
            "worker keeps posted to the pool at most.\n"
            "# TYPE fib_pool_tasks gauge\n");

    qp = fmcf->queues.elts;

    for (i = 0; i < fmcf->queues.nelts; i++) {
        p = ngx_slprintf(p, last, "fib_pool_tasks{pool=\"");
        p = ngx_http_fib_label(p, last, qp[i]->name.data, qp[i]->name.len);
        p = ngx_slprintf(p, last, "\"} %ui\n", qp[i]->tasks);
    }
#endif

    p = ngx_http_fib_histogram(p, last, "compute",
                               shm->buckets, shm->sum_ns);
    p = ngx_http_fib_histogram(p, last, "queue",
                               shm->queue_buckets, shm->queue_sum_ns);

    p = ngx_slprintf(p, last,
            "# HELP fib_location_requests_total Requests by fib location "
            "(its name in the configuration) and how they ended.\n"
            "# TYPE fib_location_requests_total counter\n");

    for (i = 0; i < NGX_HTTP_FIB_PLACES && shm->places[i].len; i++) {
        place = &shm->places[i];

        for (j = 0; j < NGX_HTTP_FIB_OUTCOMES; j++) {
            p = ngx_slprintf(p, last, "fib_location_requests_total{"
                             "location=\"");
            p = ngx_http_fib_label(p, last, place->name, place->len);
            p = ngx_slprintf(p, last, "\",outcome=\"%V\"} %uA\n",
                             &ngx_http_fib_outcomes[j], place->requests[j]);
        }
    }

    p = ngx_slprintf(p, last,
            "# HELP fib_location_compute_seconds_total Time spent "
            "computing by fib location, numbers produced or not.\n"
            "# TYPE fib_location_compute_seconds_total counter\n");

    for (i = 0; i < NGX_HTTP_FIB_PLACES && shm->places[i].len; i++) {
        place = &shm->places[i];

        p = ngx_slprintf(p, last, "fib_location_compute_seconds_total{"
                         "location=\"");
        p = ngx_http_fib_label(p, last, place->name, place->len);
        p = ngx_slprintf(p, last, "\"} %uA.%06uA\n",
                         place->compute_ns / 1000000000,
                         place->compute_ns / 1000 % 1000000);
    }

    return p;
}


/* the gauges of the workers alive now: a crashed one's are gone */

static void
ngx_http_fib_gauges(ngx_http_fib_shm_t *shm, ngx_uint_t *in_flight,
    ngx_uint_t *waiting, ngx_uint_t *memory, ngx_uint_t *workers)
{
    ngx_uint_t            i;
    ngx_http_fib_slot_t  *slot;

    *in_flight = 0;
    *waiting = 0;
    *memory = 0;
    *workers = 0;

    for (i = 0; i < NGX_HTTP_FIB_SLOTS; i++) {
        slot = &shm->slots[i];

        if (ngx_http_fib_alive((ngx_pid_t) slot->pid)) {
            *in_flight += slot->in_flight;
            *waiting += slot->waiting;
            *memory += slot->memory;
            (*workers)++;
        }
    }
}


/* a counter of seconds by algorithm, in microseconds */

static u_char *
ngx_http_fib_seconds(u_char *p, u_char *last, char *name, char *help,
    ngx_atomic_t *ns)
{
    ngx_uint_t  i;

    p = ngx_slprintf(p, last, "# HELP fib_%s_seconds_total %s\n"
                     "# TYPE fib_%s_seconds_total counter\n",
                     name, help, name);

    for (i = 0; i < NGX_HTTP_FIB_ALGORITHMS; i++) {
        p = ngx_slprintf(p, last,
                         "fib_%s_seconds_total{algorithm=\"%s\"} %uA.%06uA\n",
                         name, fib_algorithm_name(i), ns[i] / 1000000000,
                         ns[i] / 1000 % 1000000);
    }

    return p;
}


/* _count is the +Inf bucket itself: one scrape never disagrees */

static u_char *
ngx_http_fib_histogram(u_char *p, u_char *last, char *name,
    ngx_atomic_t *buckets, uint64_t sum_ns)
{
    ngx_uint_t  i, cumulative;

    p = ngx_slprintf(p, last,
                     "# HELP fib_%s_seconds Time of one %s.\n"
                     "# TYPE fib_%s_seconds histogram\n", name,
                     name[0] == 'c' ? "computation"
                                    : "wait for a pool thread", name);

    cumulative = 0;

    for (i = 0; i < NGX_HTTP_FIB_BUCKETS; i++) {
        cumulative += buckets[i];
        p = ngx_slprintf(p, last, "fib_%s_seconds_bucket{le=\"%s\"} %ui\n",
                         name, ngx_http_fib_bucket_le[i], cumulative);
    }

    return ngx_slprintf(p, last,
                        "fib_%s_seconds_sum %uL.%06uL\n"
                        "fib_%s_seconds_count %ui\n",
                        name, sum_ns / 1000000000, sum_ns / 1000 % 1000000,
                        name, cumulative);
}


/*
 * The JSON has the text page's values under stable names (the README's
 * table), measured first and then written from the same values: its
 * length is exact, whatever the counters do meanwhile.
 */

static ngx_int_t
ngx_http_fib_json_page(ngx_http_request_t *r, ngx_http_fib_main_conf_t *fmcf)
{
    u_char                 *p;
    ngx_http_fib_json_t     j;
    ngx_http_fib_values_t  *v;

    v = ngx_palloc(r->pool, sizeof(ngx_http_fib_values_t));
    if (v == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_fib_values(v, fmcf->zone->data);

    j.pos = NULL;
    j.len = 0;
    ngx_http_fib_json_write(&j, v, fmcf);

    p = ngx_pnalloc(r->pool, j.len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    j.pos = p;
    j.len = 0;
    ngx_http_fib_json_write(&j, v, fmcf);

    return ngx_http_fib_send(r, NULL, NGX_HTTP_OK,
                             ngx_http_fib_content_type[NGX_HTTP_FIB_JSON],
                             p, j.len);
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

    ngx_http_fib_gauges(shm, &v->in_flight, &v->waiting, &v->memory,
                        &v->workers);

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
ngx_http_fib_json_write(ngx_http_fib_json_t *j, ngx_http_fib_values_t *v,
    ngx_http_fib_main_conf_t *fmcf)
{
    ngx_uint_t                    i, k;
    ngx_http_fib_place_values_t  *pv;
#if (NGX_THREADS)
    ngx_http_fib_queue_t        **qp;
#endif

    ngx_http_fib_json_put(j, "{\"version\":\"%s\",\"nginx\":\"%s\","
                          "\"requests\":{",
                          ngx_http_fib_xstr(NGX_HTTP_FIB_VERSION),
                          NGINX_VERSION);

    for (i = 0; i < NGX_HTTP_FIB_OUTCOMES; i++) {
        ngx_http_fib_json_put(j, "%s\"%V\":%uA", i ? "," : "",
                              &ngx_http_fib_outcomes[i], v->requests[i]);
    }

    ngx_http_fib_json_put(j, "},\"rejected\":{");

    for (i = 0; i < NGX_HTTP_FIB_REASONS; i++) {
        ngx_http_fib_json_put(j, "%s\"%V\":%uA", i ? "," : "",
                              &ngx_http_fib_reasons[i], v->rejected[i]);
    }

    ngx_http_fib_json_put(j, "},\"computations\":{");

    for (i = 0; i < NGX_HTTP_FIB_ALGORITHMS; i++) {
        ngx_http_fib_json_put(j, "%s\"%s\":{\"%V\":%uA,\"%V\":%uA}",
                              i ? "," : "", fib_algorithm_name(i),
                              &ngx_http_fib_modes[1], v->computations[i][0],
                              &ngx_http_fib_modes[2], v->computations[i][1]);
    }

    ngx_http_fib_json_put(j, "},");
    ngx_http_fib_json_seconds(j, "compute_seconds", v->compute_ns);
    ngx_http_fib_json_seconds(j, "abandoned_compute_seconds",
                              v->abandoned_ns);

    ngx_http_fib_json_put(j, "\"in_flight\":%ui,\"waiting\":%ui,"
                          "\"memory_bytes\":%ui,\"workers\":%ui,"
                          "\"max_memory_bytes\":%uz,\"max_waiting\":%i,"
                          "\"pools\":[",
                          v->in_flight, v->waiting, v->memory, v->workers,
                          fmcf->max_memory, fmcf->max_waiting);

#if (NGX_THREADS)
    qp = fmcf->queues.elts;

    for (i = 0; i < fmcf->queues.nelts; i++) {
        ngx_http_fib_json_put(j, "%s{\"pool\":", i ? "," : "");
        ngx_http_fib_json_string(j, qp[i]->name.data, qp[i]->name.len);
        ngx_http_fib_json_put(j, ",\"tasks\":%ui}", qp[i]->tasks);
    }
#endif

    ngx_http_fib_json_put(j, "],");
    ngx_http_fib_json_histogram(j, "compute_histogram", v->buckets,
                                v->sum_ns);
    ngx_http_fib_json_histogram(j, "queue_histogram", v->queue_buckets,
                                v->queue_sum_ns);

    ngx_http_fib_json_put(j, "\"locations\":[");

    for (i = 0; i < v->nplaces; i++) {
        pv = &v->places[i];

        ngx_http_fib_json_put(j, "%s{\"location\":", i ? "," : "");
        ngx_http_fib_json_string(j, pv->name, pv->len);
        ngx_http_fib_json_put(j, ",\"requests\":{");

        for (k = 0; k < NGX_HTTP_FIB_OUTCOMES; k++) {
            ngx_http_fib_json_put(j, "%s\"%V\":%uA", k ? "," : "",
                                  &ngx_http_fib_outcomes[k],
                                  pv->requests[k]);
        }

        ngx_http_fib_json_put(j, "},\"compute_seconds\":%uA.%06uA}",
                              pv->compute_ns / 1000000000,
                              pv->compute_ns / 1000 % 1000000);
    }

    ngx_http_fib_json_put(j, "]}\n");
}


/* "name":{"recursive":0.000000,...}, as the text page's seconds */

static void
ngx_http_fib_json_seconds(ngx_http_fib_json_t *j, char *name,
    ngx_atomic_uint_t *ns)
{
    ngx_uint_t  i;

    ngx_http_fib_json_put(j, "\"%s\":{", name);

    for (i = 0; i < NGX_HTTP_FIB_ALGORITHMS; i++) {
        ngx_http_fib_json_put(j, "%s\"%s\":%uA.%06uA", i ? "," : "",
                              fib_algorithm_name(i), ns[i] / 1000000000,
                              ns[i] / 1000 % 1000000);
    }

    ngx_http_fib_json_put(j, "},");
}


/* cumulative buckets, as Prometheus has them: "count" is the last one */

static void
ngx_http_fib_json_histogram(ngx_http_fib_json_t *j, char *name,
    ngx_atomic_uint_t *buckets, ngx_atomic_uint_t sum_ns)
{
    ngx_uint_t  i, cumulative;

    ngx_http_fib_json_put(j, "\"%s\":{\"buckets\":[", name);

    cumulative = 0;

    for (i = 0; i < NGX_HTTP_FIB_BUCKETS; i++) {
        cumulative += buckets[i];
        ngx_http_fib_json_put(j, "%s{\"le\":\"%s\",\"count\":%ui}",
                              i ? "," : "", ngx_http_fib_bucket_le[i],
                              cumulative);
    }

    ngx_http_fib_json_put(j, "],\"sum\":%uA.%06uA,\"count\":%ui},",
                          sum_ns / 1000000000, sum_ns / 1000 % 1000000,
                          cumulative);
}


/* one piece of keys and numbers, written or only counted */

static void
ngx_http_fib_json_put(ngx_http_fib_json_t *j, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;
    u_char    piece[NGX_HTTP_FIB_JSON_PIECE];

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
ngx_http_fib_json_string(ngx_http_fib_json_t *j, u_char *s, size_t len)
{
    u_char    *c, *end;
    size_t     n;
    uint32_t   u;
    u_char     out[6];

    end = s + len;

    ngx_http_fib_json_put(j, "\"");

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

    ngx_http_fib_json_put(j, "\"");
}


/*
 * A label value in the exposition format: valid UTF-8, with \, " and
 * newlines escaped; a byte that is not UTF-8 (a location may be named
 * with any) is written as "?".  At most twice the length.
 */

static u_char *
ngx_http_fib_label(u_char *p, u_char *last, u_char *s, size_t len)
{
    u_char  *c, *end;

    end = s + len;

    while (s < end && p + 4 < last) {
        c = s;

        if (*s < 0x80) {
            s++;

        } else if (ngx_utf8_decode(&s, end - s) > 0x10ffff) {
            /* ngx_utf8_decode() moved on past what it could not read */
            s = c + 1;
            *p++ = '?';
            continue;
        }

        if (*c == '\\' || *c == '"' || *c == '\n') {
            *p++ = '\\';
            *p++ = (*c == '\n') ? 'n' : *c;
            continue;
        }

        p = ngx_cpymem(p, c, s - c);
    }

    return p;
}


/* a request that ended, and its computation if one produced its number */

void
ngx_http_fib_count(ngx_http_fib_shm_t *shm, ngx_http_fib_record_t *rec)
{
    uint64_t               ns;
    ngx_http_fib_place_t  *place;

    (void) ngx_atomic_fetch_add(&shm->requests[rec->outcome], 1);

    if (rec->place >= 0) {
        place = &shm->places[rec->place];
        (void) ngx_atomic_fetch_add(&place->requests[rec->outcome], 1);
        (void) ngx_atomic_fetch_add(&place->compute_ns, rec->compute_ns);
    }

    if (rec->waited) {
        (void) ngx_atomic_fetch_add(
            &shm->queue_buckets[ngx_http_fib_bucket(rec->queue_ns)], 1);
        (void) ngx_atomic_fetch_add(&shm->queue_sum_ns, rec->queue_ns);
    }

    ns = rec->compute_ns;

    if (!rec->produced) {
        /* CPU spent on a number nobody got: timed out or cancelled */
        (void) ngx_atomic_fetch_add(&shm->abandoned_ns[rec->algorithm], ns);
        return;
    }

    (void) ngx_atomic_fetch_add(
                       &shm->computations[rec->algorithm][rec->mode - 1], 1);
    (void) ngx_atomic_fetch_add(&shm->compute_ns[rec->algorithm], ns);
    (void) ngx_atomic_fetch_add(&shm->buckets[ngx_http_fib_bucket(ns)], 1);
    (void) ngx_atomic_fetch_add(&shm->sum_ns, ns);
}


static ngx_uint_t
ngx_http_fib_bucket(uint64_t ns)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_FIB_BUCKETS - 1; i++) {
        if (ns <= ngx_http_fib_bucket_ns[i]) {
            break;
        }
    }

    return i;
}


static ngx_int_t
ngx_http_fib_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    u_char                 *p;
    ngx_str_t              *s;
    ngx_http_fib_record_t  *rec;

    rec = ngx_http_get_module_ctx(r, ngx_http_fib_module);

    if (rec == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    switch (data) {

    case NGX_HTTP_FIB_VAR_NUM:
        if (!rec->parsed) {
            v->not_found = 1;
            return NGX_OK;
        }

        p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        v->len = ngx_sprintf(p, "%uL", rec->num) - p;
        v->data = p;
        break;

    case NGX_HTTP_FIB_VAR_ALGORITHM:
        v->data = (u_char *) fib_algorithm_name(rec->algorithm);
        v->len = ngx_strlen(v->data);
        break;

    case NGX_HTTP_FIB_VAR_MODE:
        s = &ngx_http_fib_modes[rec->mode];
        if (s->len == 0) {
            v->not_found = 1;
            return NGX_OK;
        }

        v->data = s->data;
        v->len = s->len;
        break;

    default: /* NGX_HTTP_FIB_VAR_OUTCOME */
        v->data = ngx_http_fib_outcomes[rec->outcome].data;
        v->len = ngx_http_fib_outcomes[rec->outcome].len;
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
    u_char                 *p;
    uint64_t                ns;
    ngx_http_fib_record_t  *rec;

    rec = ngx_http_get_module_ctx(r, ngx_http_fib_module);

    /*
     * A request that left the queue without computing (its deadline, its
     * client) waited all the same: the status page counts that wait too.
     */

    if (rec == NULL
        || !(rec->ran
             || (data == NGX_HTTP_FIB_VAR_QUEUE_TIME && rec->waited)))
    {
        v->not_found = 1;
        return NGX_OK;
    }

    ns = (data == NGX_HTTP_FIB_VAR_QUEUE_TIME) ? rec->queue_ns
                                               : rec->compute_ns;

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
