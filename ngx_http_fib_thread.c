
/*
 * Copyright (C) ngx_http_fib_module authors
 *
 * The thread offload, built only with threads as nginx builds its own
 * thread code: the worker's queue in front of each thread pool, the post,
 * the completion, the timer that watches the client and the deadline of
 * a waiting request, and the cancellation.  It moves a request through
 * the phases of a task (waiting, posted, left or computed) with the
 * ledger's ngx_http_fib_phase(), and reaches the request flow only
 * through the done handler it was handed, as nginx's thread code
 * reaches HTTP through the handlers HTTP set.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "fib_core.h"
#include "ngx_http_fib_conf.h"
#include "ngx_http_fib_ledger.h"
#include "ngx_http_fib_thread.h"


/*
 * How often the timer of a request whose task is out looks at its
 * client, ms: more often where the timer is all that looks, that is
 * while a body is being discarded and after it.
 */
#define NGX_HTTP_FIB_WATCH             1000
#define NGX_HTTP_FIB_WATCH_UNTESTED    100


/*
 * The worker's queue in front of one thread pool: at most "tasks" of the
 * worker's tasks are posted to the pool, the requests beyond wait here,
 * in order, and everything here is the event loop's alone.
 */

struct ngx_http_fib_queue_s {
    ngx_http_fib_pool_t       *pool;
    ngx_uint_t                 posted;
    ngx_queue_t                waiting;
};


static void ngx_http_fib_keep(ngx_http_request_t *r,
    ngx_http_fib_offload_t *off);
static void ngx_http_fib_move(ngx_http_fib_offload_t *off,
    ngx_http_fib_phase_e phase);
static void ngx_http_fib_next(ngx_http_fib_queue_t *queue);
static void ngx_http_fib_unqueue(ngx_http_fib_offload_t *off, fib_rc_t rc);
static size_t ngx_http_fib_split_min(ngx_http_fib_offload_t *off);
static ngx_int_t ngx_http_fib_post(ngx_http_fib_offload_t *off);
static ngx_uint_t ngx_http_fib_stalled(ngx_http_fib_offload_t *off);
static void ngx_http_fib_step(ngx_http_fib_offload_t *off);
static ngx_msec_t ngx_http_fib_watch_time(ngx_http_fib_offload_t *off);
static ngx_int_t ngx_http_fib_client_gone(ngx_http_request_t *r);
static void ngx_http_fib_thread_handler(void *data, ngx_log_t *log);
static void ngx_http_fib_piece_handler(ngx_event_t *ev);
static void ngx_http_fib_finish(ngx_http_fib_offload_t *off);
static void ngx_http_fib_watch_handler(ngx_event_t *ev);
static void ngx_http_fib_pending(ngx_http_request_t *r);
static void ngx_http_fib_cancel_cleanup(void *data);


/*
 * NGX_DONE: the request is the offload's until the done handler runs;
 * NGX_BUSY: the worker's queue is full, nothing was done.
 */

ngx_int_t
ngx_http_fib_offload(ngx_http_fib_offload_t *off, ngx_http_fib_record_t *rec,
    ngx_http_fib_loc_conf_t *flcf, ngx_http_fib_done_pt done)
{
    ngx_uint_t                 i;
    ngx_http_request_t        *r;
    ngx_http_cleanup_t        *cln;
    ngx_http_fib_piece_t      *piece;
    ngx_http_fib_queue_t      *queue;
    ngx_http_fib_main_conf_t  *fmcf;

    r = rec->request;
    fmcf = ngx_http_get_module_main_conf(r, ngx_http_fib_module);
    queue = flcf->pool->queue;

    /* a request that cannot be posted now waits, if there is room */

    if ((!ngx_queue_empty(&queue->waiting)
         || queue->posted >= queue->pool->tasks)
        && ngx_http_fib_waiting() >= (ngx_uint_t) fmcf->max_waiting)
    {
        return NGX_BUSY;
    }

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_fib_cancel_cleanup;
    cln->data = off;

    /* the computation, in steps: its numbers are GMP's, freed by it */

    off->fast = ngx_palloc(r->pool, fib_fast_size());
    if (off->fast == NULL) {
        return NGX_ERROR;
    }

    off->rec = rec;
    off->done = done;
    off->queue = queue;

    for (i = 0; i < FIB_FAST_PIECES; i++) {
        piece = &off->piece[i];

        piece->off = off;
        piece->work.fast = off->fast;
        piece->work.i = i;
        piece->work.priority = flcf->priority;

        piece->task.ctx = &piece->work;
        piece->task.handler = ngx_http_fib_thread_handler;
        piece->task.event.handler = ngx_http_fib_piece_handler;
        piece->task.event.data = piece;
        piece->task.event.log = r->connection->log;
    }

    /* first come, first served: it is posted when its turn comes */

    ngx_http_fib_move(off, NGX_HTTP_FIB_WAITING);
    ngx_http_fib_next(queue);

    ngx_http_fib_keep(r, off);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "fib: offloaded F(%uL) with %s to the thread pool",
                   rec->num, fib_algorithm_name(rec->algorithm));

    return NGX_DONE;
}


/* the request is the completion's from now on: nginx must keep it */

static void
ngx_http_fib_keep(ngx_http_request_t *r, ngx_http_fib_offload_t *off)
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
    off->watch.handler = ngx_http_fib_watch_handler;
    off->watch.data = off;
    off->watch.log = r->connection->log;
    ngx_add_timer(&off->watch, ngx_http_fib_watch_time(off));
}


/* a task's phase, and its place in the queue that goes with it */

static void
ngx_http_fib_move(ngx_http_fib_offload_t *off, ngx_http_fib_phase_e phase)
{
    switch (off->rec->phase) {

    case NGX_HTTP_FIB_WAITING:
        ngx_queue_remove(&off->link);
        break;

    case NGX_HTTP_FIB_POSTED:
        off->queue->posted -= off->places;
        off->places = 0;
        break;

    default:
        break;
    }

    switch (phase) {

    case NGX_HTTP_FIB_WAITING:
        ngx_queue_insert_tail(&off->queue->waiting, &off->link);
        break;

    case NGX_HTTP_FIB_POSTED:
        off->queue->posted++;
        off->places = 1;
        break;

    default:
        break;
    }

    ngx_http_fib_phase(off->rec, phase);
}


/*
 * Starts the requests waiting for this pool, in order, while fewer than
 * its "tasks" are posted.  A pool that refuses anyway is smaller than
 * declared, or shared: nginx has said so, and the waiting request's
 * timer asks again.
 */

static void
ngx_http_fib_next(ngx_http_fib_queue_t *queue)
{
    ngx_http_fib_offload_t  *off;

    while (!ngx_queue_empty(&queue->waiting)
           && queue->posted < queue->pool->tasks)
    {
        off = ngx_queue_data(ngx_queue_head(&queue->waiting),
                             ngx_http_fib_offload_t, link);

        off->pieces = fib_fast_init(off->fast, &off->rec->job,
                                    ngx_http_fib_split_min(off));
        off->posted = 0;
        off->finished = 0;

        if (ngx_http_fib_post(off) != NGX_OK) {
            return;
        }

        ngx_http_fib_move(off, NGX_HTTP_FIB_POSTED);

        ngx_http_fib_step(off);
    }
}


/*
 * Steps split only where a piece may get a place of its own: on one
 * place a split step is the same work in more round trips through the
 * pool.  Under "fib_max_waiting 0" nobody may wait, so an extra place
 * would refuse the next request instead of keeping it for a piece.
 */

static size_t
ngx_http_fib_split_min(ngx_http_fib_offload_t *off)
{
    ngx_http_fib_main_conf_t  *fmcf;

    fmcf = ngx_http_get_module_main_conf(off->rec->request,
                                         ngx_http_fib_module);

    return (fmcf->max_waiting > 0 && off->queue->pool->tasks > 1)
           ? FIB_FAST_SPLIT_MIN : FIB_FAST_SPLIT_NEVER;
}


/*
 * The step's next piece, on a place the request holds.  A pool that
 * refuses it (smaller than declared, or shared with "aio threads")
 * leaves the request with nothing in the pool: its timer asks again,
 * soon, and keeps its deadline meanwhile.
 */

static ngx_int_t
ngx_http_fib_post(ngx_http_fib_offload_t *off)
{
    ngx_http_fib_piece_t  *piece;

    piece = &off->piece[off->posted];

    if (ngx_thread_task_post(off->queue->pool->pool, &piece->task)
        != NGX_OK)
    {
        if (ngx_http_fib_stalled(off) && off->watch.timer_set) {
            ngx_add_timer(&off->watch, ngx_http_fib_watch_time(off));
        }

        return NGX_ERROR;
    }

    off->posted++;

    return NGX_OK;
}


/* a computing request with none of its pieces in the pool */

static ngx_uint_t
ngx_http_fib_stalled(ngx_http_fib_offload_t *off)
{
    return off->rec->phase == NGX_HTTP_FIB_POSTED
           && off->posted == off->finished
           && off->posted < off->pieces;
}


/*
 * The rest of a step's pieces, each on a place of its own, while the
 * pool takes more of the worker's tasks and no request waits for one:
 * a request computes on one place whenever others wait.  Steps have
 * pieces to spread only where ngx_http_fib_split_min() let them split.
 */

static void
ngx_http_fib_step(ngx_http_fib_offload_t *off)
{
    ngx_http_fib_queue_t  *queue = off->queue;

    while (off->posted < off->pieces
           && queue->posted < queue->pool->tasks
           && ngx_queue_empty(&queue->waiting))
    {
        if (ngx_http_fib_post(off) != NGX_OK) {
            return;
        }

        queue->posted++;
        off->places++;
    }
}


/*
 * A waiting request leaves the queue without computing: its job ends
 * where it waited, and the completion runs from the posted events, as it
 * would after a thread, so that no handler finalizes the request from
 * inside nginx's own cleanup.
 */

static void
ngx_http_fib_unqueue(ngx_http_fib_offload_t *off, fib_rc_t rc)
{
    off->rec->job.rc = rc;
    off->rec->job.start_ns = fib_now_ns();

    ngx_http_fib_move(off, NGX_HTTP_FIB_LEFT);

    ngx_post_event(&off->piece[0].task.event, &ngx_posted_events);
}


static ngx_msec_t
ngx_http_fib_watch_time(ngx_http_fib_offload_t *off)
{
    uint64_t    now, deadline;
    ngx_msec_t  t;

    /*
     * nginx itself notices a client that leaves only where the request
     * reads with ngx_http_test_reading: not while its body is being
     * discarded (the discarder's handler), nor once that is done
     * (ngx_http_block_reading).
     */
    t = (off->rec->request->read_event_handler == ngx_http_test_reading)
        ? NGX_HTTP_FIB_WATCH : NGX_HTTP_FIB_WATCH_UNTESTED;

    if (ngx_http_fib_stalled(off)) {
        /* the pool refused a piece: ask again soon */
        t = NGX_HTTP_FIB_WATCH_UNTESTED;
    }

    if (off->rec->phase == NGX_HTTP_FIB_WAITING || ngx_http_fib_stalled(off))
    {
        /*
         * A request with nothing in the pool has its deadline kept by
         * the timer: a waiting one leaves the queue then, a stalled one
         * posts its piece, which stops at once.
         */

        now = fib_now_ns();
        deadline = off->rec->job.deadline_ns;

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

    (void) fib_fast_piece(work->fast, work->i);
}


/*
 * In the event loop, once a piece is done: the step's next piece takes
 * the place it leaves, or the place goes back to the queue; the last
 * piece of a step starts the next step, or finishes the request.
 */

static void
ngx_http_fib_piece_handler(ngx_event_t *ev)
{
    ngx_http_fib_piece_t *piece = ev->data;

    ngx_http_fib_offload_t  *off;

    off = piece->off;

    if (off->rec->phase != NGX_HTTP_FIB_POSTED) {
        /* it left the queue without computing */
        ngx_http_fib_finish(off);
        return;
    }

    off->finished++;

    if (off->posted < off->pieces) {
        /* on the place this piece leaves; refused, the timer asks again */
        (void) ngx_http_fib_post(off);
        return;
    }

    if (off->finished < off->pieces) {
        if (off->places > 1) {
            /* nothing more for this place: it goes back */
            off->places--;
            off->queue->posted--;
            ngx_http_fib_next(off->queue);
        }

        return;
    }

    /* the step is done: the places beyond the first go back meanwhile */

    off->queue->posted -= off->places - 1;
    off->places = 1;

    off->pieces = fib_fast_next(off->fast);
    off->posted = 0;
    off->finished = 0;

    if (off->pieces == 0) {
        ngx_http_fib_finish(off);
        return;
    }

    if (ngx_http_fib_post(off) == NGX_OK) {
        ngx_http_fib_step(off);
    }

    /* else the pool refused: the timer asks again */

    ngx_http_fib_next(off->queue);
}


/*
 * In the event loop, once the computation is over or the queue let go:
 * the request goes on with the done handler, or, when nginx ended it
 * meanwhile, with the finalizer nginx put in its write handler.
 */

static void
ngx_http_fib_finish(ngx_http_fib_offload_t *off)
{
    fib_job_t           *job;
    ngx_uint_t           i, stayed_idle;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    /* a worker's pool threads all meet the same refusal: say it once */
    static ngx_uint_t    stayed_idle_logged;

    r = off->rec->request;
    c = r->connection;
    job = &off->rec->job;

    ngx_http_set_log_request(c->log, r);

    if (off->watch.timer_set) {
        ngx_del_timer(&off->watch);
    }

    if (off->rec->phase == NGX_HTTP_FIB_POSTED) {
        ngx_http_fib_move(off, NGX_HTTP_FIB_COMPUTED);

        /* the thread made room: the next request waiting takes it */
        ngx_http_fib_next(off->queue);
    }

    stayed_idle = 0;

    for (i = 0; i < FIB_FAST_PIECES; i++) {
        stayed_idle |= off->piece[i].work.stayed_idle;
    }

    if (stayed_idle && !stayed_idle_logged) {
        stayed_idle_logged = 1;
        ngx_log_error(NGX_LOG_WARN, c->log, 0,
                      "fib: a pool thread that ran \"fib_thread_priority "
                      "idle\" may not go back to \"normal\" and computes "
                      "idle; give \"normal\" locations a pool of their own "
                      "(logged once per worker)");
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "fib: F(%uL) finished: %s in %uL.%03uLms", job->num,
                   job->rc == FIB_OK ? "done"
                   : job->rc == FIB_ERR_TIMEOUT ? "timed out"
                   : "cancelled",
                   job->compute_ns / 1000000, job->compute_ns / 1000 % 1000);

    r->main->blocked--;

    if (r->write_event_handler == ngx_http_fib_pending) {
        off->done(off);

    } else {
        /* the request was terminated: nginx put its finalizer here */
        r->write_event_handler(r);
    }

    ngx_http_run_posted_requests(c);
}


static void
ngx_http_fib_watch_handler(ngx_event_t *ev)
{
    ngx_http_fib_offload_t *off = ev->data;

    if (ngx_http_fib_client_gone(off->rec->request)) {
        ngx_http_fib_cancel_cleanup(off);
    }

    if (off->rec->phase == NGX_HTTP_FIB_WAITING) {
        ngx_http_fib_next(off->queue);

        if (off->rec->phase == NGX_HTTP_FIB_WAITING
            && off->rec->job.deadline_ns <= fib_now_ns())
        {
            ngx_http_fib_unqueue(off, FIB_ERR_TIMEOUT);
        }

    } else if (ngx_http_fib_stalled(off) && ngx_http_fib_post(off) == NGX_OK)
    {
        /*
         * A piece the pool refused: it goes on, cancelled or not (a
         * cancelled piece stops at once; only the step's end frees it).
         */
        ngx_http_fib_step(off);
    }

    /* until the completion, which deletes it */
    ngx_add_timer(ev, ngx_http_fib_watch_time(off));
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
    ngx_http_fib_offload_t *off = data;

    if (off->rec->phase == NGX_HTTP_FIB_WAITING) {
        ngx_http_fib_unqueue(off, FIB_ERR_CANCELLED);

    } else if (off->rec->phase != NGX_HTTP_FIB_POSTED
               || !fib_job_cancel(&off->rec->job))
    {
        /* nothing out, or cancelled already */
        return;
    }

    ngx_log_error(NGX_LOG_INFO, off->rec->request->connection->log, 0,
                  "fib: client closed the connection, cancelling F(%uL)",
                  off->rec->num);
}


/* a thread pool's queue, made once for each pool fib locations use */

ngx_http_fib_queue_t *
ngx_http_fib_add_queue(ngx_conf_t *cf, ngx_http_fib_pool_t *pool)
{
    ngx_http_fib_queue_t  *queue;

    queue = ngx_pcalloc(cf->pool, sizeof(ngx_http_fib_queue_t));
    if (queue == NULL) {
        return NULL;
    }

    queue->pool = pool;
    ngx_queue_init(&queue->waiting);

    return queue;
}
