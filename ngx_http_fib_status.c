
/*
 * Copyright (C) ngx_http_fib_module authors
 *
 * What the module tells: the variables, the counters, the gauges and
 * the status page.  Every worker adds to
 * the counters in a shared memory zone, which reloads keep; the gauges
 * are per worker process, so that a worker that dies takes its own with
 * it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <nginx.h>

#include "fib_core.h"
#include "ngx_http_fib_module.h"


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

#define ngx_http_fib_str(x)            #x
#define ngx_http_fib_xstr(x)           ngx_http_fib_str(x)


static ngx_int_t ngx_http_fib_init_zone(ngx_shm_zone_t *shm_zone, void *data);
static void ngx_http_fib_init_places(ngx_http_fib_shm_t *shm,
    ngx_http_fib_main_conf_t *fmcf);
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

    /* then the new ones, in free places */

    for (i = 0; i < fmcf->places.nelts; i++) {
        if (pc[i].slot != -1 || pc[i].name.len > NGX_HTTP_FIB_PLACE_NAME) {
            continue;
        }

        for (j = 0; j < NGX_HTTP_FIB_PLACES; j++) {
            place = &shm->places[j];

            if (place->len == 0 || place->generation + 2 <= gen) {
                ngx_memzero(place, sizeof(ngx_http_fib_place_t));
                ngx_memcpy(place->name, pc[i].name.data, pc[i].name.len);
                place->len = pc[i].name.len;
                place->generation = gen;
                pc[i].slot = j;
                break;
            }
        }
    }
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
    ngx_int_t                  rc;
    ngx_http_fib_main_conf_t  *fmcf;

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

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_fib_module);

    ngx_http_fib_take_places(fmcf);

    /* sized first, as stub_status does: a line of text and a number each */

    size = ngx_http_fib_page_size(fmcf);

    p = ngx_pnalloc(r->pool, size);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last = ngx_http_fib_status_page(p, p + size, fmcf);

    return ngx_http_fib_send(r, NULL, NGX_HTTP_OK,
                             "text/plain; version=0.0.4", p, last - p);
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
    ngx_http_fib_slot_t        *slot;
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

    /* the gauges of the workers alive now: a crashed one's are gone */

    in_flight = 0;
    waiting = 0;
    memory = 0;
    workers = 0;

    for (i = 0; i < NGX_HTTP_FIB_SLOTS; i++) {
        slot = &shm->slots[i];

        if (ngx_http_fib_alive((ngx_pid_t) slot->pid)) {
            in_flight += slot->in_flight;
            waiting += slot->waiting;
            memory += slot->memory;
            workers++;
        }
    }

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
