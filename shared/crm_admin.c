/*
 * crm_admin.c - the admin port on libmicrohttpd in "external polling" mode:
 * MHD runs no thread; the supervisor polls the daemon's epoll descriptor
 * together with its own and calls crm_admin_run(). No thread means fork()
 * in the supervisor is always safe.
 *
 * A worker forked by the supervisor inherits the daemon's descriptors
 * (listening socket, epoll set, open admin connections). crm_admin_stop()
 * called in such a child only closes them: touching the daemon there
 * (epoll_ctl, shutdown) would change state shared with the supervisor.
 */
#include "crm_admin.h"
#include "crm_buf.h"
#include "crm_log.h"
#include "crm_metrics.h"

#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS        32
#define READY_TTL_MS     1000
#define READY_TTL_MAX_MS 10000

static struct {
    struct MHD_Daemon *d;
    pid_t owner; /* process that started the daemon */
    int listen_fd;
    int epoll_fd;
    int conns[MAX_CONNS]; /* open connection sockets, -1 = free */
    crm_ready_fn ready;
    void *ready_ctx;
    int draining;
    /* Last answer of the ready callback and how long it stays good. */
    int cached_ok;
    const char *cached_why;
    long long cached_at_ms;
    long long cached_ttl_ms;
    int cached_valid;
} adm = { .listen_fd = -1, .epoll_fd = -1 };

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    crm_log_warn("admin port: %s", msg);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
                          enum MHD_ConnectionNotificationCode code)
{
    (void)cls;
    (void)socket_ctx;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (info == NULL)
        return;
    int fd = info->connect_fd;
    for (size_t i = 0; i < MAX_CONNS; i++) {
        if (code == MHD_CONNECTION_NOTIFY_STARTED && adm.conns[i] < 0) {
            adm.conns[i] = fd;
            return;
        }
        if (code == MHD_CONNECTION_NOTIFY_CLOSED && adm.conns[i] == fd) {
            adm.conns[i] = -1;
            return;
        }
    }
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype,
                             const char *body, size_t len)
{
    struct MHD_Response *res =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
    if (res == NULL)
        return MHD_NO;
    MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(res, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(res, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result rc = MHD_queue_response(c, status, res);
    MHD_destroy_response(res);
    return rc;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *text)
{
    return reply(c, status, "text/plain; charset=utf-8", text, strlen(text));
}

/* The ready callback's answer, asked at most once per cached_ttl_ms (>= 1 s). */
static int ready_now(const char **why)
{
    long long now = now_ms();

    if (adm.ready == NULL) {
        *why = NULL;
        return 1;
    }
    if (!adm.cached_valid || now - adm.cached_at_ms >= adm.cached_ttl_ms) {
        const char *w = NULL;
        adm.cached_ok = adm.ready(adm.ready_ctx, &w) ? 1 : 0;
        adm.cached_why = w;
        adm.cached_at_ms = now_ms();
        adm.cached_valid = 1;
        /*
         * The callback blocks the supervisor's loop (reaping, signals). When
         * it is slow (a database timing out) ask at most half of the time.
         */
        long long took = adm.cached_at_ms - now;
        adm.cached_ttl_ms = took * 2 > READY_TTL_MS ? took * 2 : READY_TTL_MS;
        if (adm.cached_ttl_ms > READY_TTL_MAX_MS)
            adm.cached_ttl_ms = READY_TTL_MAX_MS;
    }
    *why = adm.cached_why;
    return adm.cached_ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_ctx)
{
    (void)cls;
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)req_ctx;

    enum { HEALTHZ, READYZ, METRICS, OTHER } what = OTHER;
    if (strcmp(url, "/healthz") == 0)
        what = HEALTHZ;
    else if (strcmp(url, "/readyz") == 0)
        what = READYZ;
    else if (strcmp(url, "/metrics") == 0)
        what = METRICS;

    if (what == OTHER)
        return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");

    if (what == HEALTHZ)
        return reply_text(c, MHD_HTTP_OK, "ok\n");

    if (what == READYZ) {
        char text[256];
        const char *why = NULL;
        if (adm.draining)
            return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "draining\n");
        if (ready_now(&why))
            return reply_text(c, MHD_HTTP_OK, "ready\n");
        snprintf(text, sizeof(text), "%s\n", why != NULL && *why != '\0' ? why : "not ready");
        return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, text);
    }

    crm_buf b;
    crm_buf_init(&b, 0);
    crm_metrics_render(&b);
    enum MHD_Result rc = reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
                               b.data != NULL ? b.data : "", b.len);
    crm_buf_free(&b);
    return rc;
}

int crm_admin_start(const char *addr, int port, crm_ready_fn ready, void *ctx)
{
    struct addrinfo hints, *ai = NULL;
    char portstr[16];
    int rc = CRM_ERR;

    if (adm.d != NULL) {
        crm_log_error("admin port: already started");
        return CRM_ERR;
    }
    if (port < 0 || port > 65535) {
        crm_log_error("admin port: bad port %d", port);
        return CRM_ERR;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(portstr, sizeof(portstr), "%d", port);
    int gai = getaddrinfo(addr != NULL && *addr != '\0' ? addr : NULL, portstr, &hints, &ai);
    if (gai != 0 || ai == NULL) {
        crm_log_error("admin port: cannot resolve \"%s\": %s", addr ? addr : "", gai_strerror(gai));
        goto out;
    }

    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    for (size_t i = 0; i < MAX_CONNS; i++)
        adm.conns[i] = -1;
    /*
     * The logger goes first so that MHD reports nothing on its own. No
     * MHD_OPTION_LISTENING_ADDRESS_REUSE: it adds SO_REUSEPORT, which would
     * let a second instance share the port; MHD sets SO_REUSEADDR anyway.
     */
    errno = 0;
    adm.d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, NULL,
                             MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL, MHD_OPTION_SOCK_ADDR,
                             ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNS,
                             MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                             MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL, MHD_OPTION_END);
    if (adm.d == NULL) {
        crm_log_error("admin port: cannot listen on %s:%d: %s", addr ? addr : "*", port,
                      errno != 0 ? strerror(errno) : "failed");
        goto out;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(adm.d, MHD_DAEMON_INFO_EPOLL_FD);
    adm.epoll_fd = info != NULL ? info->epoll_fd : -1;
    info = MHD_get_daemon_info(adm.d, MHD_DAEMON_INFO_LISTEN_FD);
    adm.listen_fd = info != NULL ? info->listen_fd : -1;
    info = MHD_get_daemon_info(adm.d, MHD_DAEMON_INFO_BIND_PORT);
    int bound = info != NULL ? info->port : port;

    adm.owner = getpid();
    adm.ready = ready;
    adm.ready_ctx = ctx;
    adm.draining = 0;
    adm.cached_valid = 0;
    crm_log_info("admin port listening on %s:%d", addr ? addr : "*", bound);
    rc = CRM_OK;
out:
    if (ai != NULL)
        freeaddrinfo(ai);
    return rc;
}

int crm_admin_fd(void)
{
    return adm.d != NULL ? adm.epoll_fd : -1;
}

int crm_admin_timeout_ms(void)
{
    MHD_UNSIGNED_LONG_LONG t;

    if (adm.d == NULL || MHD_get_timeout(adm.d, &t) != MHD_YES)
        return -1;
    return t > (MHD_UNSIGNED_LONG_LONG)INT_MAX ? INT_MAX : (int)t;
}

void crm_admin_run(void)
{
    if (adm.d != NULL)
        MHD_run(adm.d);
}

void crm_admin_set_draining(int draining)
{
    adm.draining = draining ? 1 : 0;
}

void crm_admin_stop(void)
{
    if (adm.d == NULL)
        return;
    if (getpid() == adm.owner) {
        MHD_stop_daemon(adm.d);
    } else {
        /* Inherited across fork: drop our references, leave the daemon be. */
        if (adm.listen_fd >= 0)
            close(adm.listen_fd);
        if (adm.epoll_fd >= 0)
            close(adm.epoll_fd);
        for (size_t i = 0; i < MAX_CONNS; i++)
            if (adm.conns[i] >= 0)
                close(adm.conns[i]);
    }
    adm.d = NULL;
    adm.listen_fd = -1;
    adm.epoll_fd = -1;
    for (size_t i = 0; i < MAX_CONNS; i++)
        adm.conns[i] = -1;
    adm.ready = NULL;
    adm.cached_valid = 0;
}
