
/*
 * Copyright (C) ngx_http_fib_module authors
 *
 * The ledger: what is counted, and where.  Every worker adds to the
 * counters in a shared memory zone, which reloads keep; the gauges are
 * per worker process, so that a worker that dies takes its own with it;
 * each fib location finds its own series by name.  A request's record
 * moves through its phases here, and is counted here, once, when its
 * pool goes: everything counted is derived from the phase and from what
 * the computation and the response left, never recorded on the way.
 * This file calls no other file of the module.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "fib_core.h"
#include "ngx_http_fib_conf.h"
#include "ngx_http_fib_ledger.h"


static ngx_int_t ngx_http_fib_init_zone(ngx_shm_zone_t *shm_zone, void *data);
static void ngx_http_fib_take_places(ngx_http_fib_main_conf_t *fmcf);
static void ngx_http_fib_init_places(ngx_http_fib_shm_t *shm,
    ngx_http_fib_main_conf_t *fmcf);
static ngx_int_t ngx_http_fib_free_place(ngx_http_fib_shm_t *shm,
    ngx_str_t *name, ngx_uint_t gen);
static ngx_int_t ngx_http_fib_alive(ngx_pid_t pid);
static void ngx_http_fib_count(void *data);
static ngx_uint_t ngx_http_fib_ran(ngx_http_fib_record_t *rec);
static uint64_t ngx_http_fib_queue_ns(ngx_http_fib_record_t *rec);
static ngx_uint_t ngx_http_fib_bucket(uint64_t ns);
static ngx_int_t ngx_http_fib_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_fib_time_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_str_t  ngx_http_fib_zone_name = ngx_string("ngx_http_fib_module");


/*
 * This worker's gauges: its slot in shared memory once it has one, a
 * private copy before that or when every slot is taken.  Only the
 * worker's event loop writes them.
 */

static ngx_http_fib_slot_t   ngx_http_fib_own;
static ngx_http_fib_slot_t  *ngx_http_fib_worker = &ngx_http_fib_own;


ngx_str_t  ngx_http_fib_outcome_names[] = {
    ngx_string("ok"),
    ngx_string("not_modified"),
    ngx_string("bad_request"),
    ngx_string("overloaded"),
    ngx_string("timed_out"),
    ngx_string("cancelled"),
    ngx_string("filtered"),
    ngx_string("error")
};


ngx_str_t  ngx_http_fib_reason_names[] = {
    ngx_string("queue_full"),
    ngx_string("memory"),
    ngx_string("subrequests")
};


ngx_str_t  ngx_http_fib_mode_names[] = {
    ngx_null_string,
    ngx_string("inline"),
    ngx_string("thread")
};


/* upper bounds of the time histograms, in ns and as labels */

static uint64_t  ngx_http_fib_bucket_ns[NGX_HTTP_FIB_BUCKETS - 1] = {
    10000, 100000, 1000000, 10000000, 100000000, 1000000000, 10000000000
};

char  *ngx_http_fib_bucket_le[NGX_HTTP_FIB_BUCKETS] = {
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

static void
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
ngx_http_fib_take_slot(ngx_cycle_t *cycle)
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
ngx_http_fib_free_slot(ngx_cycle_t *cycle)
{
    if (ngx_http_fib_worker != &ngx_http_fib_own) {
        (void) ngx_atomic_cmp_set(&ngx_http_fib_worker->pid,
                                  (ngx_atomic_uint_t) ngx_pid, 0);
        ngx_http_fib_worker = &ngx_http_fib_own;
    }
}


/*
 * A fib location's series, named as the location is written: "= /fib",
 * "^~ /fib/", "~ ^/f", "@fib".  Its place in shared memory is found
 * when the configuration serves.
 */

ngx_int_t
ngx_http_fib_add_place(ngx_conf_t *cf, ngx_http_core_loc_conf_t *clcf)
{
    u_char                     *p;
    char                       *modifier;
    ngx_http_fib_main_conf_t   *fmcf;
    ngx_http_fib_place_conf_t  *place;

    fmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_fib_module);

    place = ngx_array_push(&fmcf->places);
    if (place == NULL) {
        return NGX_ERROR;
    }

    modifier = clcf->exact_match ? "= " : clcf->noregex ? "^~ " : "";
#if (NGX_PCRE)
    if (clcf->regex != NULL) {
        modifier = "~ ";
    }
#endif

    place->name.len = ngx_strlen(modifier) + clcf->name.len;
    place->name.data = ngx_pnalloc(cf->pool, place->name.len);
    if (place->name.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(place->name.data, modifier, ngx_strlen(modifier));
    ngx_memcpy(p, clcf->name.data, clcf->name.len);

    place->slot = -1;

    return fmcf->places.nelts - 1;
}


/* the counters, once the configuration's places are taken */

ngx_http_fib_shm_t *
ngx_http_fib_ledger(ngx_http_fib_main_conf_t *fmcf)
{
    ngx_http_fib_take_places(fmcf);

    return fmcf->zone->data;
}


/* this worker's requests waiting in the queues of its pools */

ngx_uint_t
ngx_http_fib_waiting(void)
{
    return ngx_http_fib_worker->waiting;
}


/* whether this worker's budget has room for "size" bytes more */

ngx_uint_t
ngx_http_fib_room(ngx_http_fib_main_conf_t *fmcf, size_t size)
{
    return ngx_http_fib_worker->memory + size <= fmcf->max_memory;
}


/* the gauges of the workers alive now: a crashed one's are gone */

void
ngx_http_fib_gauges(ngx_http_fib_shm_t *shm, ngx_http_fib_gauges_t *g)
{
    ngx_uint_t            i;
    ngx_http_fib_slot_t  *slot;

    ngx_memzero(g, sizeof(ngx_http_fib_gauges_t));

    for (i = 0; i < NGX_HTTP_FIB_SLOTS; i++) {
        slot = &shm->slots[i];

        if (ngx_http_fib_alive((ngx_pid_t) slot->pid)) {
            g->in_flight += slot->in_flight;
            g->waiting += slot->waiting;
            g->memory += slot->memory;
            g->workers++;
        }
    }
}


/*
 * A fib request's record: counted, and its memory given back, when its
 * pool goes, whatever way the request ends.
 */

ngx_int_t
ngx_http_fib_record(ngx_http_request_t *r, ngx_http_fib_record_t *rec,
    ngx_uint_t algorithm, ngx_uint_t place)
{
    ngx_pool_cleanup_t        *cln;
    ngx_http_fib_main_conf_t  *fmcf;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_fib_module);

    rec->request = r;
    rec->shm = ngx_http_fib_ledger(fmcf);
    rec->algorithm = algorithm;
    rec->place = ((ngx_http_fib_place_conf_t *) fmcf->places.elts)[place].slot;
    rec->refused = -1;

    cln->handler = ngx_http_fib_count;
    cln->data = rec;

    return NGX_OK;
}


/*
 * The only place a request's phase changes.  The worker's gauges follow
 * from it: a request is counted as waiting, or in flight, exactly while
 * it is in that phase, and a computation's own memory goes back to the
 * budget as soon as it ends, its result's only with the request.
 */

void
ngx_http_fib_phase(ngx_http_fib_record_t *rec, ngx_http_fib_phase_e phase)
{
    ngx_http_fib_slot_t  *worker = ngx_http_fib_worker;

    if (rec->phase == NGX_HTTP_FIB_WAITING) {
        (void) ngx_atomic_fetch_add(&worker->waiting, -1);

    } else if (rec->phase == NGX_HTTP_FIB_POSTED) {
        (void) ngx_atomic_fetch_add(&worker->in_flight, -1);
    }

    rec->phase = phase;

    switch (phase) {

    case NGX_HTTP_FIB_WAITING:
        (void) ngx_atomic_fetch_add(&worker->waiting, 1);
        break;

    case NGX_HTTP_FIB_POSTED:
        (void) ngx_atomic_fetch_add(&worker->in_flight, 1);
        break;

    case NGX_HTTP_FIB_INLINE:
    case NGX_HTTP_FIB_LEFT:
    case NGX_HTTP_FIB_COMPUTED:
        ngx_http_fib_hold(rec, rec->size);
        break;

    default:
        break;
    }
}


/* the worker's memory budget: what the request holds now, and only here */

void
ngx_http_fib_hold(ngx_http_fib_record_t *rec, size_t memory)
{
    (void) ngx_atomic_fetch_add(&ngx_http_fib_worker->memory,
                                (ngx_atomic_int_t) (memory - rec->memory));
    rec->memory = memory;
}


/* a 503 before anything was computed or queued, and why */

void
ngx_http_fib_refused(ngx_http_fib_record_t *rec, ngx_http_fib_reason_e reason)
{
    rec->refused = reason;

    (void) ngx_atomic_fetch_add(&rec->shm->rejected[reason], 1);
}


/*
 * The module has answered, with rc for nginx to finalize the request:
 * the status that answer went out with, which neither an error page's
 * status (error_page without "=") nor a post_action's answer, both
 * written into the request later, may change.  A filter's own answer
 * (the 412 of If-Match, the 416 of a range) is the answer that went
 * out.
 */

ngx_int_t
ngx_http_fib_answered(ngx_http_fib_record_t *rec, ngx_int_t rc)
{
    ngx_http_request_t  *r;

    r = rec->request;

    if (rc == NGX_DONE) {
        /* the offload answers later */
        return rc;
    }

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        rec->status = rc;

    } else if (r->filter_finalize || r->err_status == 0) {
        rec->status = r->headers_out.status;

    } else {
        /* nginx sent the module's answer with the error page's status */
        rec->status = NGX_HTTP_OK;
    }

    return rc;
}


ngx_http_fib_mode_e
ngx_http_fib_mode(ngx_http_fib_record_t *rec)
{
    switch (rec->phase) {

    case NGX_HTTP_FIB_INLINE:
        return NGX_HTTP_FIB_MODE_INLINE;

    case NGX_HTTP_FIB_WAITING:
    case NGX_HTTP_FIB_POSTED:
    case NGX_HTTP_FIB_LEFT:
    case NGX_HTTP_FIB_COMPUTED:
        return NGX_HTTP_FIB_MODE_THREAD;

    default:
        return NGX_HTTP_FIB_MODE_NONE;
    }
}


/* a computation ran, and its job says how it went */

static ngx_uint_t
ngx_http_fib_ran(ngx_http_fib_record_t *rec)
{
    return rec->phase == NGX_HTTP_FIB_INLINE
           || rec->phase == NGX_HTTP_FIB_COMPUTED;
}


/*
 * A pool's wait, for a request that had one: until its thread started,
 * or until it left the queue (the job "started" then, and did nothing).
 */

static uint64_t
ngx_http_fib_queue_ns(ngx_http_fib_record_t *rec)
{
    if (rec->job.start_ns > rec->post_ns) {
        return rec->job.start_ns - rec->post_ns;
    }

    return 0;
}


/*
 * How the request ended, derived from what actually happened: first the
 * module's own verdicts (a query it refused, a 503 for room, a
 * computation that timed out or was cancelled), then what went out.  A
 * filter that answered in the module's place (the range filter's 416,
 * the not-modified filter's 412 or 304), a client that left before the
 * answer, or an error page, count as what the client got.
 */

ngx_http_fib_outcome_e
ngx_http_fib_outcome(ngx_http_fib_record_t *rec)
{
    ngx_uint_t           status;
    ngx_http_request_t  *r;

    r = rec->request;

    /* before the answer went out ($fib_outcome in add_header), or when
       it never did (a request nginx terminated), the request's own */
    status = rec->status ? rec->status : r->headers_out.status;

    if (rec->phase < NGX_HTTP_FIB_ACCEPTED) {
        return (status >= NGX_HTTP_INTERNAL_SERVER_ERROR)
               ? NGX_HTTP_FIB_ERROR : NGX_HTTP_FIB_BAD_REQUEST;
    }

    if (rec->refused != -1) {
        return NGX_HTTP_FIB_OVERLOADED;
    }

    if (ngx_http_fib_ran(rec) || rec->phase == NGX_HTTP_FIB_LEFT) {
        switch (rec->job.rc) {

        case FIB_OK:
            break;

        case FIB_ERR_TIMEOUT:
            return NGX_HTTP_FIB_TIMED_OUT;

        case FIB_ERR_CANCELLED:
            return NGX_HTTP_FIB_CANCELLED;

        default:
            return NGX_HTTP_FIB_ERROR;
        }
    }

    if (status == NGX_HTTP_CLIENT_CLOSED_REQUEST) {
        return NGX_HTTP_FIB_CANCELLED;
    }

    if (status == NGX_HTTP_NOT_MODIFIED) {
        return NGX_HTTP_FIB_NOT_MODIFIED;
    }

    /* the module's own 4xx were counted above: these are a filter's */

    if (status >= NGX_HTTP_BAD_REQUEST
        && status < NGX_HTTP_INTERNAL_SERVER_ERROR)
    {
        return NGX_HTTP_FIB_FILTERED;
    }

    if (status >= NGX_HTTP_OK && status < NGX_HTTP_SPECIAL_RESPONSE) {
        return NGX_HTTP_FIB_OK;
    }

    return NGX_HTTP_FIB_ERROR;
}


/*
 * The request's pool is being destroyed: the response went out or never
 * will.  The request is counted, once, and its memory goes back.
 */

static void
ngx_http_fib_count(void *data)
{
    ngx_http_fib_record_t *rec = data;

    uint64_t                ns;
    ngx_uint_t              outcome, produced;
    ngx_http_fib_shm_t     *shm;
    ngx_http_fib_place_t   *place;

    ngx_http_fib_hold(rec, 0);

    shm = rec->shm;
    outcome = ngx_http_fib_outcome(rec);
    ns = ngx_http_fib_ran(rec) ? rec->job.compute_ns : 0;

    (void) ngx_atomic_fetch_add(&shm->requests[outcome], 1);

    if (rec->place >= 0) {
        place = &shm->places[rec->place];
        (void) ngx_atomic_fetch_add(&place->requests[outcome], 1);
        (void) ngx_atomic_fetch_add(&place->compute_ns, ns);
    }

    if (ngx_http_fib_mode(rec) == NGX_HTTP_FIB_MODE_THREAD) {
        (void) ngx_atomic_fetch_add(
            &shm->queue_buckets[ngx_http_fib_bucket(ngx_http_fib_queue_ns(rec))],
            1);
        (void) ngx_atomic_fetch_add(&shm->queue_sum_ns,
                                    ngx_http_fib_queue_ns(rec));
    }

    if (!ngx_http_fib_ran(rec)) {
        return;
    }

    produced = (rec->job.rc == FIB_OK);

    if (!produced) {
        /* CPU spent on a number nobody got: timed out or cancelled */
        (void) ngx_atomic_fetch_add(&shm->abandoned_ns[rec->algorithm], ns);
        return;
    }

    (void) ngx_atomic_fetch_add(
        &shm->computations[rec->algorithm][ngx_http_fib_mode(rec) - 1], 1);
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
        if (rec->phase < NGX_HTTP_FIB_PARSED) {
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
        s = &ngx_http_fib_mode_names[ngx_http_fib_mode(rec)];
        if (s->len == 0) {
            v->not_found = 1;
            return NGX_OK;
        }

        v->data = s->data;
        v->len = s->len;
        break;

    default: /* NGX_HTTP_FIB_VAR_OUTCOME */
        s = &ngx_http_fib_outcome_names[ngx_http_fib_outcome(rec)];
        v->data = s->data;
        v->len = s->len;
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
        || !(ngx_http_fib_ran(rec)
             || (data == NGX_HTTP_FIB_VAR_QUEUE_TIME
                 && rec->phase == NGX_HTTP_FIB_LEFT)))
    {
        v->not_found = 1;
        return NGX_OK;
    }

    if (data == NGX_HTTP_FIB_VAR_COMPUTE_TIME) {
        ns = rec->job.compute_ns;

    } else {
        /* only a task waits: inline, the clock moved for the set-up */
        ns = (rec->phase == NGX_HTTP_FIB_INLINE)
             ? 0 : ngx_http_fib_queue_ns(rec);
    }

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
