
/*
 * Copyright (C) ngx_http_fib_module authors
 *
 * The module's definition, its directives and their configuration.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "fib_core.h"
#include "ngx_http_fib_conf.h"
#include "ngx_http_fib_ledger.h"
#include "ngx_http_fib_thread.h"


/* fib_inline_max_cost's default, ns */
#define NGX_HTTP_FIB_INLINE_MAX_COST   20000


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
static ngx_int_t ngx_http_fib_merge_pool(ngx_conf_t *cf,
    ngx_http_fib_loc_conf_t *prev, ngx_http_fib_loc_conf_t *conf);
static ngx_http_fib_pool_t *ngx_http_fib_add_pool(ngx_conf_t *cf,
    ngx_thread_pool_t *thread_pool, ngx_str_t *name, ngx_int_t tasks);
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
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
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
    ngx_http_fib_take_slot,                /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_fib_free_slot,                /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};

#if (NGX_THREADS)
static ngx_str_t  ngx_http_fib_default_pool = ngx_string("default");
#endif

/* the configurations this master has read, for the zone to tell apart */
static ngx_uint_t  ngx_http_fib_configurations;


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
                           "algorithm allows,", *np, FIB_BIG_MAX);
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
        return (cf->args->nelts == 2) ? NGX_CONF_OK : "off takes no tasks=";
    }

    if (cf->args->nelts == 3) {
        if (ngx_strncmp(value[2].data, "tasks=", 6) == 0) {
            flcf->tasks = ngx_atoi(value[2].data + 6, value[2].len - 6);
        }

        if (flcf->tasks == NGX_CONF_UNSET || flcf->tasks <= 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\": use tasks=N, "
                               "N at least 1", &value[2]);
            return NGX_CONF_ERROR;
        }
    }

    /* _add, not _get: the "thread_pool" line may come later */
    flcf->pool_name = value[1];
    flcf->thread_pool = ngx_thread_pool_add(cf, &value[1]);
    if (flcf->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

#else

    if (ngx_strcmp(value[1].data, "off") == 0 && cf->args->nelts == 2) {
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

    /*
     * Which configuration this is, among all the master reads (a reload
     * that fails too): the zone tells by it whether the places of this
     * one were already taken by another of its processes.
     */
    fmcf->configuration = ((ngx_uint_t) ngx_pid << 20)
                          + ++ngx_http_fib_configurations;

#if (NGX_THREADS)
    if (ngx_array_init(&fmcf->pools, cf->pool, 4,
                       sizeof(ngx_http_fib_pool_t *))
        != NGX_OK)
    {
        return NULL;
    }
#endif

    if (ngx_array_init(&fmcf->places, cf->pool, 4,
                       sizeof(ngx_http_fib_place_conf_t))
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
    conf->tasks = NGX_CONF_UNSET;
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

    ngx_int_t                  place;
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

    /* a fib location has series of its own, its blocks share them */

    if (clcf->noname) {
        conf->place = prev->place;

    } else if (conf->handler == ngx_http_fib_handler) {
        place = ngx_http_fib_add_place(cf, clcf);
        if (place == NGX_ERROR) {
            return NGX_CONF_ERROR;
        }

        conf->place = place;
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
    if (ngx_http_fib_merge_pool(cf, prev, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
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

    return NGX_CONF_OK;
}


#if (NGX_THREADS)

/*
 * The pool, its tasks= and the scheduling class a location computes in.
 * Only locations with "fib" make the default pool exist.  A thread keeps
 * its scheduling class: the idle class only by default on a pool the
 * operator named, never on nginx's "default" pool that "aio threads"
 * shares.
 */

static ngx_int_t
ngx_http_fib_merge_pool(ngx_conf_t *cf, ngx_http_fib_loc_conf_t *prev,
    ngx_http_fib_loc_conf_t *conf)
{
    /* tasks= goes with the pool it was written beside */

    if (conf->thread_pool == NGX_CONF_UNSET_PTR) {
        conf->thread_pool = prev->thread_pool;
        conf->pool_name = prev->pool_name;
        conf->tasks = prev->tasks;
    }

    if (conf->thread_pool == NGX_CONF_UNSET_PTR
        && conf->handler == ngx_http_fib_handler)
    {
        conf->pool_name = ngx_http_fib_default_pool;
        conf->thread_pool = ngx_thread_pool_add(cf,
                                                &ngx_http_fib_default_pool);
        if (conf->thread_pool == NULL) {
            return NGX_ERROR;
        }
    }

    conf->pool = NULL;

    if (conf->thread_pool != NULL && conf->thread_pool != NGX_CONF_UNSET_PTR)
    {
        conf->pool = ngx_http_fib_add_pool(cf, conf->thread_pool,
                                           &conf->pool_name, conf->tasks);
        if (conf->pool == NULL) {
            return NGX_ERROR;
        }
    }

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

    return NGX_OK;
}


/* one pool, and one queue in front of it, whatever locations use it */

static ngx_http_fib_pool_t *
ngx_http_fib_add_pool(ngx_conf_t *cf, ngx_thread_pool_t *thread_pool,
    ngx_str_t *name, ngx_int_t tasks)
{
    ngx_uint_t                 i;
    ngx_http_fib_pool_t       *pool, **pp;
    ngx_http_fib_main_conf_t  *fmcf;

    fmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_fib_module);

    pp = fmcf->pools.elts;

    for (i = 0; i < fmcf->pools.nelts; i++) {
        if (pp[i]->pool != thread_pool) {
            continue;
        }

        /* one value for a pool, wherever it is written, or the default */

        if (tasks != NGX_CONF_UNSET) {
            if (pp[i]->declared && (ngx_uint_t) tasks != pp[i]->tasks) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"fib_thread_pool\" names one pool "
                                   "with tasks=%i and tasks=%ui",
                                   tasks, pp[i]->tasks);
                return NULL;
            }

            pp[i]->tasks = tasks;
            pp[i]->declared = 1;
        }

        return pp[i];
    }

    pool = ngx_pcalloc(cf->pool, sizeof(ngx_http_fib_pool_t));
    if (pool == NULL) {
        return NULL;
    }

    /*
     * nginx keeps a pool's size to itself: the operator says how many
     * tasks it takes at once, one unless told.  A pool that refuses no
     * more than that (tasks within its max_queue) never logs an error.
     */

    pool->pool = thread_pool;
    pool->name = *name;
    pool->tasks = (tasks != NGX_CONF_UNSET) ? (ngx_uint_t) tasks : 1;
    pool->declared = (tasks != NGX_CONF_UNSET);

    pool->queue = ngx_http_fib_add_queue(cf, pool);
    if (pool->queue == NULL) {
        return NULL;
    }

    pp = ngx_array_push(&fmcf->pools);
    if (pp == NULL) {
        return NULL;
    }

    *pp = pool;

    return pool;
}

#endif


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
