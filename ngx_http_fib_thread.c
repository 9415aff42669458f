
/*
 * Copyright (C) ngx_http_fib_module authors
 *
 * The thread offload, built only with threads as nginx builds its own
 * thread code: the worker's queue in front of each thread pool, the post,
 * the completion, the timer that watches the client and the deadline of
 * a waiting request, and the cancellation.  A request with a task is in
 * one state, and only ngx_http_fib_set_state() changes it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "fib_core.h"
#include "ngx_http_fib_module.h"


/*
 * How often the timer of a request whose task is out looks at its
 * client, ms: more often where the timer is all that looks, that is
 * while a body is being discarded and after it.
 */
#define NGX_HTTP_FIB_WATCH             1000
#define NGX_HTTP_FIB_WATCH_UNTESTED    100


static void ngx_http_fib_keep(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx);
static void ngx_http_fib_set_state(ngx_http_fib_ctx_t *ctx,
    ngx_http_fib_state_e state);
static void ngx_http_fib_next(ngx_http_fib_queue_t *queue);
static void ngx_http_fib_unqueue(ngx_http_fib_ctx_t *ctx, fib_rc_t rc);
static ngx_msec_t ngx_http_fib_watch_time(ngx_http_fib_ctx_t *ctx);
static ngx_int_t ngx_http_fib_client_gone(ngx_http_request_t *r);
static void ngx_http_fib_thread_handler(void *data, ngx_log_t *log);
static void ngx_http_fib_thread_event_handler(ngx_event_t *ev);
static void ngx_http_fib_watch_handler(ngx_event_t *ev);
static void ngx_http_fib_pending(ngx_http_request_t *r);
static void ngx_http_fib_cancel_cleanup(void *data);


/* requests of this worker waiting in the queues of its pools */
static ngx_uint_t  ngx_http_fib_waiting;


ngx_int_t
ngx_http_fib_offload(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx,
    ngx_http_fib_loc_conf_t *flcf)
{
    ngx_http_cleanup_t        *cln;
    ngx_http_fib_queue_t      *queue;
    ngx_http_fib_main_conf_t  *fmcf;

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_fib_module);
    queue = flcf->queue;

    /* a request that cannot be posted now waits, if there is room */

    if ((!ngx_queue_empty(&queue->waiting) || queue->posted >= queue->tasks)
        && ngx_http_fib_waiting >= (ngx_uint_t) fmcf->max_waiting)
    {
        return ngx_http_fib_refuse(r, ctx, NGX_HTTP_FIB_QUEUE_FULL,
                                   "thread pool and fib_max_waiting "
                                   "are full");
    }

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_fib_cancel_cleanup;
    cln->data = ctx;

    ctx->queue = queue;
    ctx->work.priority = flcf->priority;
    ctx->rec.mode = NGX_HTTP_FIB_MODE_THREAD;

    ctx->task.ctx = &ctx->work;
    ctx->task.handler = ngx_http_fib_thread_handler;
    ctx->task.event.handler = ngx_http_fib_thread_event_handler;
    ctx->task.event.data = ctx;
    ctx->task.event.log = r->connection->log;

    /* first come, first served: it is posted when its turn comes */

    ngx_http_fib_set_state(ctx, NGX_HTTP_FIB_WAITING);
    ngx_http_fib_next(queue);

    ngx_http_fib_keep(r, ctx);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "fib: offloaded F(%uL) with %s to the thread pool",
                   ctx->rec.num, fib_algorithm_name(ctx->rec.algorithm));

    return NGX_DONE;
}


/* the request is the completion's from now on: nginx must keep it */

static void
ngx_http_fib_keep(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx)
{
    /*
     * Only the completion answers now: blocked keeps r->pool, which the
     * thread writes into (r->aio would also stop post_action's upstream).
     * Read events go to the active request: each watches its client.
     * Write events too: HTTP/3's STOP_SENDING arrives as one.
     */
    r->main->blocked++;
    r->main->count++;
    r->write_event_handler = ngx_http_fib_pending;

    if (!r->main->discard_body) {
        r->read_event_handler = ngx_http_test_reading;
    }

    /*
     * Not cancelable: an exiting worker waits for the completion.  Armed
     * once the read handler is chosen: its first tick depends on it.
     */
    ctx->watch.handler = ngx_http_fib_watch_handler;
    ctx->watch.data = ctx;
    ctx->watch.log = r->connection->log;
    ngx_add_timer(&ctx->watch, ngx_http_fib_watch_time(ctx));
}


/* the only place that moves a request, its queue and the gauges */

static void
ngx_http_fib_set_state(ngx_http_fib_ctx_t *ctx, ngx_http_fib_state_e state)
{
    ngx_http_fib_slot_t  *worker = ngx_http_fib_worker;

    switch (ctx->state) {

    case NGX_HTTP_FIB_WAITING:
        ngx_queue_remove(&ctx->link);
        ngx_http_fib_waiting--;
        (void) ngx_atomic_fetch_add(&worker->waiting, -1);
        break;

    case NGX_HTTP_FIB_POSTED:
        ctx->queue->posted--;
        (void) ngx_atomic_fetch_add(&worker->in_flight, -1);
        break;

    default:
        break;
    }

    switch (state) {

    case NGX_HTTP_FIB_WAITING:
        ngx_queue_insert_tail(&ctx->queue->waiting, &ctx->link);
        ngx_http_fib_waiting++;
        (void) ngx_atomic_fetch_add(&worker->waiting, 1);
        break;

    case NGX_HTTP_FIB_POSTED:
        ctx->queue->posted++;
        (void) ngx_atomic_fetch_add(&worker->in_flight, 1);
        break;

    default:
        break;
    }

    ctx->state = state;
}


/*
 * Posts the requests waiting for this pool, in order, while fewer than
 * its "tasks" are posted.  A pool that refuses anyway is smaller than
 * declared, or shared: nginx has said so, and the waiting request's
 * timer asks again.
 */

static void
ngx_http_fib_next(ngx_http_fib_queue_t *queue)
{
    ngx_http_fib_ctx_t  *ctx;

    while (!ngx_queue_empty(&queue->waiting) && queue->posted < queue->tasks)
    {
        ctx = ngx_queue_data(ngx_queue_head(&queue->waiting),
                             ngx_http_fib_ctx_t, link);

        if (ngx_thread_task_post(queue->pool, &ctx->task) != NGX_OK) {
            return;
        }

        ngx_http_fib_set_state(ctx, NGX_HTTP_FIB_POSTED);
    }
}


/*
 * A waiting request leaves the queue without computing: the completion
 * runs from the posted events, as it would after a thread, so that no
 * handler finalizes the request from inside nginx's own cleanup.
 */

static void
ngx_http_fib_unqueue(ngx_http_fib_ctx_t *ctx, fib_rc_t rc)
{
    ctx->work.job.rc = rc;
    ctx->rec.queue_ns = fib_now_ns() - ctx->post_ns;
    ctx->rec.waited = 1;

    ngx_http_fib_set_state(ctx, NGX_HTTP_FIB_DONE);

    ngx_post_event(&ctx->task.event, &ngx_posted_events);
}


static ngx_msec_t
ngx_http_fib_watch_time(ngx_http_fib_ctx_t *ctx)
{
    uint64_t    now, deadline;
    ngx_msec_t  t;

    /*
     * nginx itself notices a client that leaves only where the request
     * reads with ngx_http_test_reading: not while its body is being
     * discarded (the discarder's handler), nor once that is done
     * (ngx_http_block_reading).
     */
    t = (ctx->request->read_event_handler == ngx_http_test_reading)
        ? NGX_HTTP_FIB_WATCH : NGX_HTTP_FIB_WATCH_UNTESTED;

    if (ctx->state == NGX_HTTP_FIB_WAITING) {
        /* a waiting request's deadline is the timer's to keep */

        now = fib_now_ns();
        deadline = ctx->work.job.deadline_ns;

        t = (deadline <= now) ? 1
                              : ngx_min(t, (deadline - now) / 1000000 + 1);
    }

    return t;
}


/*
 * Whether the client has gone, judged per protocol as nginx judges it
 * in ngx_http_test_reading() and
 * ngx_http_upstream_check_broken_connection(): first what nginx marked
 * on the request's connection, then the socket, and only where the
 * request owns one.
 *
 *   HTTP/2  a stream shares its connection; nginx marks a reset
 *           stream's own connection (c->error) itself.
 *   HTTP/3  a stream is no socket: c->fd is the UDP socket every client
 *           shares, and the read side's eof is only the request's FIN.
 *           RESET_STREAM marks the read side, STOP_SENDING the write
 *           side, a closed connection both.
 *   HTTP/1  the connection is the request's own: a discard that read
 *           the client's close leaves eof, a reset leaves error, and
 *           after a discard nobody reads, so a close is only epoll's
 *           pending_eof or what a peek finds.  A peek consumes nothing:
 *           a pipelined request stays for nginx.
 *
 * Any other major version is a protocol this code does not know: only
 * what nginx marked counts, and no socket is read.
 */

static ngx_int_t
ngx_http_fib_client_gone(ngx_http_request_t *r)
{
    u_char             buf[1];
    ssize_t            n;
    ngx_err_t          err;
    ngx_connection_t  *c;

    c = r->connection;

    if (c->error) {
        return 1;
    }

#if (NGX_HTTP_V2)
    if (r->main->stream != NULL) {
        return 0;
    }
#endif

#if (NGX_HTTP_V3)
    if (c->quic != NULL) {
        if (!c->read->error && !c->write->error) {
            return 0;
        }

        goto gone;
    }
#endif

    /* HTTP/1.x of any minor version: nginx refuses only a major above 1 */

    if (r->main->http_version >= NGX_HTTP_VERSION_20) {
        return 0;
    }

    if (c->read->eof) {
        goto gone;
    }

    if (!c->read->pending_eof) {
        n = recv(c->fd, (char *) buf, 1, MSG_PEEK);

        if (n > 0) {
            return 0;
        }

        if (n == -1) {
            err = ngx_socket_errno;

            if (err == NGX_EAGAIN || err == NGX_EINTR) {
                return 0;
            }

            c->read->error = 1;
        }
    }

    c->read->eof = 1;

gone:

    /* as ngx_http_test_reading() leaves it: nginx sends nothing more */
    c->error = 1;

    return 1;
}


/* in a pool thread: the work alone, nothing else of the module's */

static void
ngx_http_fib_thread_handler(void *data, ngx_log_t *log)
{
    ngx_http_fib_work_t  *work = data;

#if (NGX_LINUX)
    struct sched_param    sp;

    static __thread ngx_uint_t  priority;

    /*
     * The event loop must win the CPU whenever it has work: its work is
     * short and other requests wait for it.  An idle-class thread runs
     * only on CPU time nothing else wants.  Linux sets the policy per
     * thread; going back to normal may be refused (an unprivileged
     * worker), and then the thread stays idle and the completion says so.
     */

    if (work->priority != priority) {
        ngx_memzero(&sp, sizeof(struct sched_param));

        if (sched_setscheduler(0, work->priority == NGX_HTTP_FIB_PRIORITY_IDLE
                                  ? SCHED_IDLE : SCHED_OTHER, &sp)
            == 0)
        {
            priority = work->priority;

        } else {
            work->stayed_idle = 1;
        }
    }
#endif

    fib_job_run(&work->job);
}


/* in the event loop, once the thread is done or the queue let go */

static void
ngx_http_fib_thread_event_handler(ngx_event_t *ev)
{
    ngx_http_fib_ctx_t *ctx = ev->data;

    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    /* a worker's pool threads all meet the same refusal: say it once */
    static ngx_uint_t    stayed_idle_logged;

    r = ctx->request;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    if (ctx->watch.timer_set) {
        ngx_del_timer(&ctx->watch);
    }

    if (ctx->state == NGX_HTTP_FIB_POSTED) {
        ngx_http_fib_ran(ctx);
        ngx_http_fib_set_state(ctx, NGX_HTTP_FIB_DONE);

        /* the thread made room: the next request waiting takes it */
        ngx_http_fib_next(ctx->queue);

    } else {
        ngx_http_fib_hold(ctx, ctx->size);
    }

    if (ctx->work.stayed_idle && !stayed_idle_logged) {
        stayed_idle_logged = 1;
        ngx_log_error(NGX_LOG_WARN, c->log, 0,
                      "fib: a pool thread that ran \"fib_thread_priority "
                      "idle\" may not go back to \"normal\" and computes "
                      "idle; give \"normal\" locations a pool of their own "
                      "(logged once per worker)");
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "fib: F(%uL) finished: %s in %uL.%03uLms", ctx->rec.num,
                   ctx->work.job.rc == FIB_OK ? "done"
                   : ctx->work.job.rc == FIB_ERR_TIMEOUT ? "timed out"
                   : "cancelled",
                   ctx->work.job.compute_ns / 1000000,
                   ctx->work.job.compute_ns / 1000 % 1000);

    r->main->blocked--;

    if (r->write_event_handler == ngx_http_fib_pending) {
        ngx_http_finalize_request(r, ngx_http_fib_respond(r, ctx));

    } else {
        /* the request was terminated: nginx put its finalizer here */
        r->write_event_handler(r);
    }

    ngx_http_run_posted_requests(c);
}


static void
ngx_http_fib_watch_handler(ngx_event_t *ev)
{
    ngx_http_fib_ctx_t *ctx = ev->data;

    if (ngx_http_fib_client_gone(ctx->request)) {
        ngx_http_fib_cancel_cleanup(ctx);

    } else if (ctx->state == NGX_HTTP_FIB_WAITING) {
        ngx_http_fib_next(ctx->queue);

        if (ctx->state == NGX_HTTP_FIB_WAITING
            && ctx->work.job.deadline_ns <= fib_now_ns())
        {
            ngx_http_fib_unqueue(ctx, FIB_ERR_TIMEOUT);
        }
    }

    /* until the completion, which deletes it */
    ngx_add_timer(ev, ngx_http_fib_watch_time(ctx));
}


/* nothing to write while the task is out; its completion answers */

static void
ngx_http_fib_pending(ngx_http_request_t *r)
{
    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "fib: waiting for the thread pool");

    /*
     * A write event before there is anything to write: HTTP/3's
     * STOP_SENDING, or a closed connection.  As nginx's upstream does
     * on its write events, a client that has gone ends the request;
     * the cleanup cancels the task, and the completion finalizes.
     */
    if (ngx_http_fib_client_gone(r)) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "client prematurely closed connection");
        ngx_http_finalize_request(r, NGX_HTTP_CLIENT_CLOSED_REQUEST);
    }
}


/* the request ends, or its client left, before its task: stop it */

static void
ngx_http_fib_cancel_cleanup(void *data)
{
    ngx_http_fib_ctx_t *ctx = data;

    if (ctx->state == NGX_HTTP_FIB_WAITING) {
        ngx_http_fib_unqueue(ctx, FIB_ERR_CANCELLED);

    } else if (ctx->state != NGX_HTTP_FIB_POSTED
               || !fib_job_cancel(&ctx->work.job))
    {
        /* nothing out, or cancelled already */
        return;
    }

    /* the completion may never answer: post_action, a terminated request */
    ctx->rec.outcome = NGX_HTTP_FIB_CANCELLED;

    ngx_log_error(NGX_LOG_INFO, ctx->request->connection->log, 0,
                  "fib: client closed the connection, cancelling F(%uL)",
                  ctx->rec.num);
}


/* one queue per thread pool, shared by the locations that use it */

ngx_http_fib_queue_t *
ngx_http_fib_add_queue(ngx_conf_t *cf, ngx_thread_pool_t *pool,
    ngx_str_t *name, ngx_int_t tasks)
{
    ngx_uint_t                 i;
    ngx_http_fib_queue_t      *queue, **qp;
    ngx_http_fib_main_conf_t  *fmcf;

    fmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_fib_module);

    qp = fmcf->queues.elts;

    for (i = 0; i < fmcf->queues.nelts; i++) {
        if (qp[i]->pool != pool) {
            continue;
        }

        /* one value for a pool, wherever it is written, or the default */

        if (tasks != NGX_CONF_UNSET) {
            if (qp[i]->declared && (ngx_uint_t) tasks != qp[i]->tasks) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"fib_thread_pool\" names one pool "
                                   "with tasks=%i and tasks=%ui",
                                   tasks, qp[i]->tasks);
                return NULL;
            }

            qp[i]->tasks = tasks;
            qp[i]->declared = 1;
        }

        return qp[i];
    }

    queue = ngx_pcalloc(cf->pool, sizeof(ngx_http_fib_queue_t));
    if (queue == NULL) {
        return NULL;
    }

    /*
     * nginx keeps a pool's size to itself: the operator says how many
     * tasks it takes at once, one unless told.  A pool that refuses no
     * more than that (tasks within its max_queue) never logs an error.
     */

    queue->pool = pool;
    queue->name = *name;
    queue->tasks = (tasks != NGX_CONF_UNSET) ? (ngx_uint_t) tasks : 1;
    queue->declared = (tasks != NGX_CONF_UNSET);
    ngx_queue_init(&queue->waiting);

    qp = ngx_array_push(&fmcf->queues);
    if (qp == NULL) {
        return NULL;
    }

    *qp = queue;

    return queue;
}
