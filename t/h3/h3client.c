
/*
 * Copyright (C) ngx_http_fib_module authors
 *
 * h3client: the HTTP/3 client of t/029-http3.t, for what must happen at
 * a chosen moment (STOP_SENDING, RESET_STREAM, a connection closed with
 * streams in flight).  `make` builds it as build/h3client, on Debian's
 * libngtcp2-dev 0.12, libngtcp2-crypto-gnutls-dev, libnghttp3-dev 0.8
 * and libgnutls28-dev (make deps-quic):
 *
 *   cc -o h3client t/h3/h3client.c $(pkg-config --cflags --libs \
 *       libngtcp2 libngtcp2_crypto_gnutls libnghttp3 gnutls)
 *
 * One QUIC connection (ALPN "h3", TLS 1.3; the server certificate is NOT
 * verified, this only talks to self-signed test servers), one request
 * stream per PATH, nghttp3 doing HTTP/3 framing and QPACK.  See usage().
 */


#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <nghttp3/nghttp3.h>

/* library callbacks have fixed signatures; most arguments go unused */
#pragma GCC diagnostic ignored "-Wunused-parameter"

#define MS           1000000ULL            /* ngtcp2 timestamps are in ns */
#define NEVER        UINT64_MAX
#define MAX_HEADERS  64

typedef struct {
    int64_t         id;         /* QUIC stream id, -1 until opened */
    int             index;
    const char     *path;
    int             status;     /* -1 until :status arrives */
    uint64_t        len;        /* response body bytes received */
    FILE           *out;        /* -o DIR/index */
    ngtcp2_tstamp   sent;       /* when the request was submitted */
    unsigned        ended:1;    /* STREAM line printed */
    unsigned        reset:1;    /* RESET line printed */
    unsigned        local:1;    /* we aborted the stream ourselves */
    unsigned        stopped:1;  /* --stop-sending done or moot */
    unsigned        rst_sent:1; /* --reset done or moot */
    unsigned        closed:1;   /* QUIC stream closed both ways */
} h3c_stream_t;

static struct {
    const char     *host, *port, *dir;
    const char     *hdrs[MAX_HEADERS];
    int             nhdrs;
    int64_t         stop_ms, reset_ms, close_ms, linger_ms, timeout_ms;
    int64_t         code, no_fin, head, verbose;
} opt = { .stop_ms = -1, .reset_ms = -1, .close_ms = -1, .linger_ms = 2000,
          .timeout_ms = 30000, .code = -1 };

static struct {
    ngtcp2_crypto_conn_ref            ref;
    ngtcp2_conn                      *conn;
    nghttp3_conn                     *h3;
    gnutls_session_t                  tls;
    gnutls_certificate_credentials_t  cred;
    int                               fd;
    struct sockaddr_storage           local, remote;
    ngtcp2_path                       path;
    ngtcp2_connection_close_error     err;
    int                               err_set;
    h3c_stream_t                     *streams;
    int                               nstreams, nopened;
    ngtcp2_tstamp                     last_act;
} c;

static void
usage(void)
{
    fprintf(stderr,
        "usage: h3client [options] HOST PORT PATH [PATH...]\n"
        "  --stop-sending MS  STOP_SENDING each request MS after sending\n"
        "                     it, wait --linger MS more, close\n"
        "  --reset MS         no FIN; RESET_STREAM each request MS after\n"
        "                     sending it, wait --linger MS more, close\n"
        "  --no-fin           never end the request streams\n"
        "  --close MS         CONNECTION_CLOSE MS after the first request\n"
        "  --code N           error code for those (0x10c; --close 0x100)\n"
        "  --linger MS (2000), --timeout MS (30000, then exit 2), --head,\n"
        "  -H 'name: value', -o DIR (body of PATH N to DIR/N), -v\n"
        "stdout: 'STREAM index status|- body-length path' as each stream\n"
        "ends or at exit, 'RESET index 0xcode' when the server resets or\n"
        "stops a stream, 'CLOSED 0xcode' when it closes the connection.\n"
        "exit: 0 done, 1 error, 2 timeout\n");
    exit(1);
}


static ngtcp2_tstamp
now_ns(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (ngtcp2_tstamp) ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}


static void
stream_end(h3c_stream_t *s)
{
    char  status[16] = "-";

    if (s->ended) {
        return;
    }

    s->ended = 1;

    if (opt.no_fin) {
        c.last_act = now_ns();      /* the server may still stop it */
    }

    if (s->status >= 0) {
        snprintf(status, sizeof(status), "%d", s->status);
    }

    printf("STREAM %d %s %" PRIu64 " %s\n", s->index, status, s->len,
           s->path);
    fflush(stdout);             /* a test may act on it while we run */

    if (s->out) {
        fclose(s->out);
        s->out = NULL;
    }
}


static void
stream_reset(h3c_stream_t *s, uint64_t code)
{
    if (s && !s->reset) {
        s->reset = 1;
        printf("RESET %d 0x%" PRIx64 "\n", s->index, code);
        stream_end(s);
    }
}


static void
set_app_error(uint64_t code)
{
    /* the first reason wins, later errors are its consequences */
    if (!c.err_set) {
        ngtcp2_connection_close_error_set_application_error(&c.err, code,
                                                            NULL, 0);
        c.err_set = 1;
    }
}


static void
finish(int rc, int tell_peer)
{
    int              i;
    uint8_t          buf[NGTCP2_MAX_UDP_PAYLOAD_SIZE];
    ngtcp2_ssize     n;
    ngtcp2_pkt_info  pi;

    if (tell_peer && c.conn && !ngtcp2_conn_is_in_closing_period(c.conn)
        && !ngtcp2_conn_is_in_draining_period(c.conn))
    {
        n = ngtcp2_conn_write_connection_close(c.conn, NULL, &pi, buf,
                                               sizeof(buf), &c.err, now_ns());
        if (n > 0 && send(c.fd, buf, n, 0) < 0) {
            perror("h3client: send");
        }
    }

    /* one STREAM line per PATH, whatever became of the stream */
    for (i = 0; i < c.nstreams; i++) {
        stream_end(&c.streams[i]);
    }

    exit(rc);
}


static void
fatal(const char *what, int liberr)
{
    fprintf(stderr, "h3client: %s: %s\n", what, ngtcp2_strerror(liberr));

    if (liberr == NGTCP2_ERR_CRYPTO) {
        ngtcp2_connection_close_error_set_transport_error_tls_alert(&c.err,
            ngtcp2_conn_get_tls_alert(c.conn), NULL, 0);

    } else if (!c.err_set) {
        ngtcp2_connection_close_error_set_transport_error_liberr(&c.err,
            liberr, NULL, 0);
    }

    /* after an idle timeout the peer is gone: nothing to tell it */
    finish(1, liberr != NGTCP2_ERR_IDLE_CLOSE);
}


static void
credit(int64_t id, uint64_t n)
{
    /*
     * Consumed bytes go back to the server as flow control credit at
     * once: this lets bodies of many MB through the small windows that
     * quic_init() sets.
     */
    ngtcp2_conn_extend_max_stream_offset(c.conn, id, n);
    ngtcp2_conn_extend_max_offset(c.conn, n);
}


/* nghttp3 callbacks: the HTTP/3 side of the streams */

static int
h3_recv_header(nghttp3_conn *h3, int64_t id, int32_t token,
    nghttp3_rcbuf *name, nghttp3_rcbuf *value, uint8_t flags, void *cd,
    void *sd)
{
    h3c_stream_t  *s = sd;
    nghttp3_vec    n, v;

    n = nghttp3_rcbuf_get_buf(name);
    v = nghttp3_rcbuf_get_buf(value);

    /* nghttp3 has checked it is 3 digits; a final status replaces a 1xx */
    if (token == NGHTTP3_QPACK_TOKEN__STATUS && v.len == 3) {
        s->status = (v.base[0] - '0') * 100 + (v.base[1] - '0') * 10
                    + (v.base[2] - '0');
    }

    if (opt.verbose) {
        fprintf(stderr, "[%d] %.*s: %.*s\n", s->index, (int) n.len, n.base,
                (int) v.len, v.base);
    }

    return 0;
}


static int
h3_recv_data(nghttp3_conn *h3, int64_t id, const uint8_t *data, size_t len,
    void *cd, void *sd)
{
    h3c_stream_t  *s = sd;

    s->len += len;

    if (s->out && fwrite(data, 1, len, s->out) != len) {
        perror("h3client: fwrite");
        return NGHTTP3_ERR_CALLBACK_FAILURE;
    }

    credit(id, len);

    return 0;
}


static int
h3_deferred_consume(nghttp3_conn *h3, int64_t id, size_t n, void *cd,
    void *sd)
{
    credit(id, n);              /* held back while QPACK-blocked */

    return 0;
}


static int
h3_end_stream(nghttp3_conn *h3, int64_t id, void *cd, void *sd)
{
    stream_end(sd);

    return 0;
}


static int
h3_abort(nghttp3_conn *h3, int64_t id, uint64_t code, void *cd, void *sd)
{
    h3c_stream_t  *s = sd;

    /*
     * nghttp3 wants STOP_SENDING and/or RESET_STREAM: both on a bad
     * response, so one call for both ways is the same; only the read
     * side on an unknown unidirectional stream, the only side it has.
     */
    if (s) {
        s->local = 1;
        fprintf(stderr, "h3client: stream %d: bad response\n", s->index);
    }

    return ngtcp2_conn_shutdown_stream(c.conn, id, code) ? -1 : 0;
}


static nghttp3_ssize
h3_read_nothing(nghttp3_conn *h3, int64_t id, nghttp3_vec *vec,
    size_t veccnt, uint32_t *pflags, void *cd, void *sd)
{
    return NGHTTP3_ERR_WOULDBLOCK;  /* a body never ready: no FIN sent */
}


/* ngtcp2 callbacks: the QUIC side */

static int
q_handshake_completed(ngtcp2_conn *conn, void *ud)
{
    int64_t            ctrl, enc, dec;
    nghttp3_settings   settings;
    nghttp3_callbacks  cb = {
        .recv_header = h3_recv_header, .recv_data = h3_recv_data,
        .deferred_consume = h3_deferred_consume,
        .end_stream = h3_end_stream,
        .stop_sending = h3_abort, .reset_stream = h3_abort,
    };

    /*
     * Here and not in the main loop: 1-RTT stream data that came with
     * the end of the handshake is processed right after this returns.
     */
    nghttp3_settings_default(&settings);

    /* let the server use a dynamic table: its encoder deserves tests */
    settings.qpack_max_dtable_capacity = 4096;
    settings.qpack_blocked_streams = 100;

    /* HTTP/3 needs our control and QPACK streams bound before requests */
    if (nghttp3_conn_client_new(&c.h3, &cb, &settings, NULL, NULL) != 0
        || ngtcp2_conn_open_uni_stream(conn, &ctrl, NULL) != 0
        || ngtcp2_conn_open_uni_stream(conn, &enc, NULL) != 0
        || ngtcp2_conn_open_uni_stream(conn, &dec, NULL) != 0
        || nghttp3_conn_bind_control_stream(c.h3, ctrl) != 0
        || nghttp3_conn_bind_qpack_streams(c.h3, enc, dec) != 0)
    {
        fprintf(stderr, "h3client: cannot set up HTTP/3\n");
        return NGTCP2_ERR_CALLBACK_FAILURE;
    }

    return 0;
}


static int
q_recv_stream_data(ngtcp2_conn *conn, uint32_t flags, int64_t id,
    uint64_t offset, const uint8_t *data, size_t len, void *ud, void *sd)
{
    nghttp3_ssize  n;

    n = nghttp3_conn_read_stream(c.h3, id, data, len,
                                 flags & NGTCP2_STREAM_DATA_FLAG_FIN);
    if (n < 0) {
        fprintf(stderr, "h3client: nghttp3_conn_read_stream: %s\n",
                nghttp3_strerror((int) n));
        set_app_error(nghttp3_err_infer_quic_app_error_code((int) n));
        return NGTCP2_ERR_CALLBACK_FAILURE;
    }

    credit(id, n);              /* framing; the body is in h3_recv_data() */

    return 0;
}


static int
q_acked_stream_data_offset(ngtcp2_conn *conn, int64_t id, uint64_t offset,
    uint64_t len, void *ud, void *sd)
{
    return nghttp3_conn_add_ack_offset(c.h3, id, len) ? -1 : 0;
}


static int
q_stream_close(ngtcp2_conn *conn, uint32_t flags, int64_t id, uint64_t code,
    void *ud, void *sd)
{
    int            rv;
    h3c_stream_t  *s = sd;

    if (!(flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET)) {
        code = NGHTTP3_H3_NO_ERROR;

    } else if (s && !s->local) {
        /*
         * ngtcp2 0.12 has no callback for a received STOP_SENDING: an
         * error code on a stream that was not reset toward us and that
         * we did not abort can only have come from one.
         */
        stream_reset(s, code);
    }

    if (s) {
        s->closed = 1;
        stream_end(s);
    }

    rv = nghttp3_conn_close_stream(c.h3, id, code);
    if (rv != 0 && rv != NGHTTP3_ERR_STREAM_NOT_FOUND) {
        set_app_error(nghttp3_err_infer_quic_app_error_code(rv));
        return NGTCP2_ERR_CALLBACK_FAILURE;
    }

    /* the server may replace a unidirectional stream it closed */
    if (!ngtcp2_is_bidi_stream(id) && !ngtcp2_conn_is_local_stream(conn, id))
    {
        ngtcp2_conn_extend_max_streams_uni(conn, 1);
    }

    return 0;
}


static int
q_stream_reset(ngtcp2_conn *conn, int64_t id, uint64_t final_size,
    uint64_t code, void *ud, void *sd)
{
    stream_reset(sd, code);

    return nghttp3_conn_shutdown_stream_read(c.h3, id) ? -1 : 0;
}


static int
q_extend_max_stream_data(ngtcp2_conn *conn, int64_t id, uint64_t max,
    void *ud, void *sd)
{
    return nghttp3_conn_unblock_stream(c.h3, id) ? -1 : 0;
}


static void
q_rand(uint8_t *dest, size_t len, const ngtcp2_rand_ctx *ctx)
{
    (void) gnutls_rnd(GNUTLS_RND_RANDOM, dest, len);
}


static int
q_new_cid(ngtcp2_conn *conn, ngtcp2_cid *cid, uint8_t *token, size_t len,
    void *ud)
{
    cid->datalen = len;
    q_rand(cid->data, len, NULL);
    q_rand(token, NGTCP2_STATELESS_RESET_TOKENLEN, NULL);

    return 0;
}


static ngtcp2_conn *
get_conn(ngtcp2_crypto_conn_ref *ref)
{
    return c.conn;
}


static int
quic_init(void)
{
    int                      rv;
    ngtcp2_cid               dcid, scid;
    ngtcp2_settings          settings;
    ngtcp2_transport_params  params;
    gnutls_datum_t           alpn = { (unsigned char *) "h3", 2 };
    unsigned char            addr[16];
    ngtcp2_callbacks         cb = {
        .client_initial = ngtcp2_crypto_client_initial_cb,
        .recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb,
        .handshake_completed = q_handshake_completed,
        .encrypt = ngtcp2_crypto_encrypt_cb,
        .decrypt = ngtcp2_crypto_decrypt_cb,
        .hp_mask = ngtcp2_crypto_hp_mask_cb,
        .recv_stream_data = q_recv_stream_data,
        .acked_stream_data_offset = q_acked_stream_data_offset,
        .stream_close = q_stream_close,
        .recv_retry = ngtcp2_crypto_recv_retry_cb,
        .rand = q_rand,
        .get_new_connection_id = q_new_cid,
        .update_key = ngtcp2_crypto_update_key_cb,
        .stream_reset = q_stream_reset,
        .extend_max_stream_data = q_extend_max_stream_data,
        .delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb,
        .delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb,
        .get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb,
        .version_negotiation = ngtcp2_crypto_version_negotiation_cb,
    };

    /* no trust store and no verification: the test certificate is ours */
    if (gnutls_certificate_allocate_credentials(&c.cred) != 0
        || gnutls_init(&c.tls, GNUTLS_CLIENT) != 0
        || ngtcp2_crypto_gnutls_configure_client_session(c.tls) != 0
        || gnutls_priority_set_direct(c.tls, "NORMAL:-VERS-ALL:+VERS-TLS1.3"
                                      ":%DISABLE_TLS13_COMPAT_MODE", NULL)
        || gnutls_credentials_set(c.tls, GNUTLS_CRD_CERTIFICATE, c.cred)
        || gnutls_alpn_set_protocols(c.tls, &alpn, 1, GNUTLS_ALPN_MANDATORY))
    {
        fprintf(stderr, "h3client: gnutls setup failed\n");
        return -1;
    }

    /* SNI must not carry an address */
    if (inet_pton(AF_INET, opt.host, addr) != 1
        && inet_pton(AF_INET6, opt.host, addr) != 1)
    {
        gnutls_server_name_set(c.tls, GNUTLS_NAME_DNS, opt.host,
                               strlen(opt.host));
    }

    c.ref.get_conn = get_conn;
    gnutls_session_set_ptr(c.tls, &c.ref);

    dcid.datalen = 18;
    scid.datalen = 8;
    q_rand(dcid.data, dcid.datalen, NULL);
    q_rand(scid.data, scid.datalen, NULL);

    ngtcp2_settings_default(&settings);
    settings.initial_ts = now_ns();

    /* windows far smaller than the bodies, so that credit() is tested */
    ngtcp2_transport_params_default(&params);
    params.initial_max_stream_data_bidi_local = 256 * 1024;
    params.initial_max_stream_data_uni = 256 * 1024;
    params.initial_max_data = 1024 * 1024;
    params.initial_max_streams_bidi = 0;    /* HTTP/3 servers open none */
    params.initial_max_streams_uni = 16;
    params.max_idle_timeout = 60000 * MS;

    rv = ngtcp2_conn_client_new(&c.conn, &dcid, &scid, &c.path,
                                NGTCP2_PROTO_VER_V1, &cb, &settings, &params,
                                NULL, NULL);
    if (rv != 0) {
        fprintf(stderr, "h3client: ngtcp2_conn_client_new: %s\n",
                ngtcp2_strerror(rv));
        return -1;
    }

    ngtcp2_conn_set_tls_native_handle(c.conn, c.tls);

    return 0;
}


static int
sock_init(void)
{
    int               rv, size;
    socklen_t         len;
    struct addrinfo   hints, *res;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_DGRAM;

    rv = getaddrinfo(opt.host, opt.port, &hints, &res);
    if (rv != 0) {
        fprintf(stderr, "h3client: %s: %s\n", opt.host, gai_strerror(rv));
        return -1;
    }

    memcpy(&c.remote, res->ai_addr, res->ai_addrlen);
    c.path.remote.addr = (ngtcp2_sockaddr *) &c.remote;
    c.path.remote.addrlen = res->ai_addrlen;
    c.path.local.addr = (ngtcp2_sockaddr *) &c.local;
    len = sizeof(c.local);

    c.fd = socket(res->ai_family, SOCK_DGRAM, 0);
    freeaddrinfo(res);

    /* a bulk body arrives faster than we read it: do not drop it */
    size = 4 * 1024 * 1024;

    if (c.fd < 0
        || setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) < 0
        || connect(c.fd, c.path.remote.addr, c.path.remote.addrlen) < 0
        || getsockname(c.fd, (struct sockaddr *) &c.local, &len) < 0)
    {
        perror("h3client: socket");
        return -1;
    }

    c.path.local.addrlen = len;

    return 0;
}


static void
add_nv(nghttp3_nv *nv, size_t *n, const char *name, size_t nlen,
    const char *value)
{
    size_t  i;

    /* -H ':path: x' and the like replace the pseudo-header we set */
    for (i = 0; i < *n; i++) {
        if (name[0] == ':' && nv[i].namelen == nlen
            && memcmp(nv[i].name, name, nlen) == 0)
        {
            break;
        }
    }

    nv[i].name = (uint8_t *) name;
    nv[i].namelen = nlen;
    nv[i].value = (uint8_t *) value;
    nv[i].valuelen = strlen(value);
    nv[i].flags = NGHTTP3_NV_FLAG_NONE;

    *n += (i == *n);
}


static void
open_streams(ngtcp2_tstamp now)
{
    int                  i, rv;
    size_t               n;
    char                 file[4096];
    const char          *h, *colon;
    h3c_stream_t        *s;
    nghttp3_nv           nv[MAX_HEADERS + 4];
    static char          auth[300];
    nghttp3_data_reader  dr = { h3_read_nothing };

    snprintf(auth, sizeof(auth), strchr(opt.host, ':') ? "[%s]:%s" : "%s:%s",
             opt.host, opt.port);

    while (c.nopened < c.nstreams) {
        s = &c.streams[c.nopened];

        /* the rest go when the server's MAX_STREAMS lets them */
        rv = ngtcp2_conn_open_bidi_stream(c.conn, &s->id, s);
        if (rv != 0) {
            s->id = -1;

            if (rv != NGTCP2_ERR_STREAM_ID_BLOCKED) {
                fatal("ngtcp2_conn_open_bidi_stream", rv);
            }

            return;
        }

        if (opt.dir) {
            snprintf(file, sizeof(file), "%s/%d", opt.dir, s->index);
            s->out = fopen(file, "w");
            if (s->out == NULL) {
                perror(file);
                finish(1, 1);
            }
        }

        n = 0;
        add_nv(nv, &n, ":method", 7, opt.head ? "HEAD" : "GET");
        add_nv(nv, &n, ":scheme", 7, "https");
        add_nv(nv, &n, ":authority", 10, auth);
        add_nv(nv, &n, ":path", 5, s->path);

        for (i = 0; i < opt.nhdrs; i++) {
            h = opt.hdrs[i];
            colon = strchr(h + 1, ':');    /* + 1: a pseudo-header's ':' */

            if (colon) {
                add_nv(nv, &n, h, colon - h,
                       colon + 1 + strspn(colon + 1, " \t"));
            }
        }

        /*
         * Without a data reader nghttp3 sends the FIN with the HEADERS.
         * One that never has data leaves the request stream open, which
         * --no-fin wants and --reset needs.
         */
        rv = nghttp3_conn_submit_request(c.h3, s->id, nv, n,
                 (opt.no_fin || opt.reset_ms >= 0) ? &dr : NULL, s);
        if (rv != 0) {
            fprintf(stderr, "h3client: submit: %s\n", nghttp3_strerror(rv));
            finish(1, 1);
        }

        s->sent = now;
        c.nopened++;
    }
}


static int
due(ngtcp2_tstamp t, ngtcp2_tstamp now, ngtcp2_tstamp *next)
{
    if (now >= t) {
        return 1;
    }

    *next = t < *next ? t : *next;

    return 0;
}


/* --stop-sending, --reset, --close; returns when to look again */

static ngtcp2_tstamp
run_actions(ngtcp2_tstamp now)
{
    int             i;
    uint64_t        code;
    ngtcp2_tstamp   next = NEVER;
    h3c_stream_t   *s;

    code = opt.code >= 0 ? (uint64_t) opt.code : NGHTTP3_H3_REQUEST_CANCELLED;

    if (opt.close_ms >= 0 && c.nopened > 0
        && due(c.streams[0].sent + opt.close_ms * MS, now, &next))
    {
        set_app_error(opt.code >= 0 ? code : NGHTTP3_H3_NO_ERROR);
        finish(0, 1);
    }

    for (i = 0; i < c.nopened; i++) {
        s = &c.streams[i];

        if (opt.stop_ms >= 0 && !s->stopped
            && due(s->sent + opt.stop_ms * MS, now, &next))
        {
            s->stopped = 1;

            /* a response that has ended has nothing left to stop */
            if (!s->ended) {
                s->local = 1;
                c.last_act = now;
                ngtcp2_conn_shutdown_stream_read(c.conn, s->id, code);
                nghttp3_conn_shutdown_stream_read(c.h3, s->id);
            }
        }

        if (opt.reset_ms >= 0 && !s->rst_sent
            && due(s->sent + opt.reset_ms * MS, now, &next))
        {
            s->rst_sent = 1;

            if (!s->closed) {
                s->local = 1;
                c.last_act = now;
                ngtcp2_conn_shutdown_stream_write(c.conn, s->id, code);
                nghttp3_conn_shutdown_stream_write(c.h3, s->id);
            }
        }
    }

    return next;
}


static int
all_settled(int closed)
{
    int            i;
    h3c_stream_t  *s;

    for (i = 0; i < c.nstreams; i++) {
        s = &c.streams[i];

        /* a stream the server is done with needs no action from us */
        if (s->id < 0 || (closed && !s->closed)
            || (opt.stop_ms < 0 && opt.reset_ms < 0 && !s->ended)
            || (opt.stop_ms >= 0 && !s->stopped && !s->ended)
            || (opt.reset_ms >= 0 && !s->rst_sent && !s->closed))
        {
            return 0;
        }
    }

    return 1;
}


static void
write_pkts(ngtcp2_tstamp ts)
{
    int              fin;
    size_t           max, npkts;
    int64_t          id;
    ngtcp2_ssize     n, datalen;
    nghttp3_ssize    nvec;
    nghttp3_vec      vec[16];
    ngtcp2_pkt_info  pi;
    static uint8_t   buf[65536];

    max = ngtcp2_conn_get_max_tx_udp_payload_size(c.conn);
    npkts = ngtcp2_conn_get_send_quantum(c.conn) / max;

    for ( ;; ) {
        id = -1;
        fin = 0;
        nvec = 0;

        /* without connection credit nghttp3's data could not go out */
        if (c.h3 && ngtcp2_conn_get_max_data_left(c.conn)) {
            nvec = nghttp3_conn_writev_stream(c.h3, &id, &fin, vec, 16);
            if (nvec < 0) {
                set_app_error(nghttp3_err_infer_quic_app_error_code(nvec));
                fatal("nghttp3_conn_writev_stream", NGTCP2_ERR_INTERNAL);
            }
        }

        n = ngtcp2_conn_writev_stream(c.conn, NULL, &pi, buf, max, &datalen,
                NGTCP2_WRITE_STREAM_FLAG_MORE
                | (fin ? NGTCP2_WRITE_STREAM_FLAG_FIN : 0),
                id, (ngtcp2_vec *) vec, nvec, ts);

        if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED) {
            nghttp3_conn_block_stream(c.h3, id);
            continue;
        }

        /* reset by us, or stopped by the server, meanwhile */
        if (n == NGTCP2_ERR_STREAM_SHUT_WR || n == NGTCP2_ERR_STREAM_NOT_FOUND)
        {
            nghttp3_conn_shutdown_stream_write(c.h3, id);
            continue;
        }

        if (n < 0 && n != NGTCP2_ERR_WRITE_MORE) {
            fatal("ngtcp2_conn_writev_stream", n);
        }

        if (datalen >= 0
            && nghttp3_conn_add_write_offset(c.h3, id, datalen) != 0)
        {
            fatal("nghttp3_conn_add_write_offset", NGTCP2_ERR_INTERNAL);
        }

        if (n == NGTCP2_ERR_WRITE_MORE) {
            continue;
        }

        if (n == 0) {
            break;
        }

        /* a datagram lost to a full socket buffer is retransmitted */
        if (send(c.fd, buf, n, 0) < 0 && errno != EAGAIN) {
            perror("h3client: send");
        }

        if (npkts-- <= 1) {
            break;
        }
    }

    /* pacing: ngtcp2_conn_get_expiry() brings us back for the rest */
    ngtcp2_conn_update_pkt_tx_time(c.conn, ts);
}


static void
read_pkts(void)
{
    int                            i, rv;
    ssize_t                        n;
    ngtcp2_pkt_info                pi = { 0 };
    ngtcp2_connection_close_error  ce;
    static uint8_t                 buf[65536];

    /* a bounded batch, so that ACKs go out while a bulk body streams in */
    for (i = 0; i < 64; i++) {
        n = recv(c.fd, buf, sizeof(buf), MSG_DONTWAIT);

        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                return;
            }

            perror("h3client: recv");  /* ECONNREFUSED: no one listens */
            finish(1, 0);
        }

        rv = ngtcp2_conn_read_pkt(c.conn, &c.path, &pi, buf, n, now_ns());

        if (rv == NGTCP2_ERR_DRAINING) {
            ngtcp2_conn_get_connection_close_error(c.conn, &ce);
            printf("CLOSED 0x%" PRIx64 "\n", ce.error_code);

            if (ce.reasonlen) {
                fprintf(stderr, "h3client: close reason: %.*s\n",
                        (int) ce.reasonlen, ce.reason);
            }

            finish(all_settled(0) ? 0 : 1, 0);
        }

        if (rv != 0) {
            fatal("ngtcp2_conn_read_pkt", rv);
        }
    }
}


static void
parse_args(int argc, char **argv)
{
    int      i, j;
    char    *end;
    struct {
        const char  *name;
        int64_t     *value;
        int          arg;
    } o[] = {
        { "--stop-sending", &opt.stop_ms, 1 }, { "--reset", &opt.reset_ms, 1 },
        { "--close", &opt.close_ms, 1 }, { "--linger", &opt.linger_ms, 1 },
        { "--timeout", &opt.timeout_ms, 1 }, { "--code", &opt.code, 1 },
        { "--no-fin", &opt.no_fin, 0 }, { "--head", &opt.head, 0 },
        { "-v", &opt.verbose, 0 },
    };

    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        for (j = 0; j < 9 && strcmp(argv[i], o[j].name) != 0; j++) {
            /* void */
        }

        if (j < 9 && !o[j].arg) {
            *o[j].value = 1;

        } else if (j < 9 && i + 1 < argc) {
            *o[j].value = strtoll(argv[++i], &end, 0);
            if (*end != '\0' || *o[j].value < 0) {
                usage();
            }

        } else if (strcmp(argv[i], "-H") == 0 && i + 1 < argc
                   && opt.nhdrs < MAX_HEADERS)
        {
            opt.hdrs[opt.nhdrs++] = argv[++i];

        } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            opt.dir = argv[++i];

        } else {
            usage();
        }
    }

    if (argc - i < 3) {
        usage();
    }

    opt.host = argv[i++];
    opt.port = argv[i++];

    c.nstreams = argc - i;
    c.streams = calloc(c.nstreams, sizeof(h3c_stream_t));
    if (c.streams == NULL) {
        exit(1);
    }

    for (j = 0; j < c.nstreams; j++) {
        c.streams[j].id = -1;
        c.streams[j].index = j;
        c.streams[j].status = -1;
        c.streams[j].path = argv[i + j];
    }
}


int
main(int argc, char **argv)
{
    int             rv;
    ngtcp2_tstamp   now, deadline, next, t;
    struct pollfd   pfd;

    parse_args(argc, argv);

    /* what a normal close, ours or at timeout, tells the server */
    ngtcp2_connection_close_error_set_application_error(&c.err,
        NGHTTP3_H3_NO_ERROR, NULL, 0);

    if (sock_init() != 0 || quic_init() != 0) {
        return 1;
    }

    deadline = now_ns() + opt.timeout_ms * MS;
    pfd.fd = c.fd;
    pfd.events = POLLIN;

    for ( ;; ) {
        now = now_ns();

        if (now >= deadline) {
            fprintf(stderr, "h3client: timeout\n");
            finish(2, 1);
        }

        /* retransmission, ACK delay, pacing and idle timers */
        if (ngtcp2_conn_get_expiry(c.conn) <= now) {
            rv = ngtcp2_conn_handle_expiry(c.conn, now);
            if (rv != 0) {
                fatal("ngtcp2_conn_handle_expiry", rv);
            }
        }

        next = deadline;

        if (c.h3) {
            open_streams(now);
            t = run_actions(now);
            next = t < next ? t : next;

            if (all_settled(0)) {
                /*
                 * Linger: give the server time to react to our action, or
                 * to a request left open by --no-fin; the latter is over
                 * once the server has closed every stream.
                 */
                t = c.last_act ? c.last_act + opt.linger_ms * MS : now;

                if (now >= t
                    || (opt.stop_ms < 0 && opt.reset_ms < 0 && all_settled(1)))
                {
                    finish(0, 1);
                }

                next = t < next ? t : next;
            }
        }

        write_pkts(now);

        t = ngtcp2_conn_get_expiry(c.conn);
        next = t < next ? t : next;
        now = now_ns();
        t = next > now ? (next - now + MS - 1) / MS : 0;

        if (poll(&pfd, 1, (int) (t < 60000 ? t : 60000)) < 0
            && errno != EINTR)
        {
            perror("h3client: poll");
            finish(1, 1);
        }

        if (pfd.revents & (POLLIN | POLLERR)) {
            read_pkts();
        }
    }
}
