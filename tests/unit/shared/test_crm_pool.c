/*
 * test_crm_pool.c - a real pool (supervisor + forked workers) in a child
 * process, on a unix socket in a temporary folder, talked to with a small
 * FastCGI client written here and over its admin port with libcurl.
 * Sidecars note what they do, one "what pid" line each, in a file of the
 * temporary folder.
 */
#include "crm_config.h"
#include "crm_log.h"
#include "crm_metrics.h"
#include "crm_pool.h"

#include <check.h>
#include <ctype.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- the service under test ---- */

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int h_ping(crm_req *r)
{
    return crm_res_send(r, 200, "text/plain", "pong", 4);
}

static int h_pid(crm_req *r)
{
    char b[32];
    int n = snprintf(b, sizeof(b), "%ld", (long)getpid());
    return crm_res_send(r, 200, "text/plain", b, (size_t)n);
}

static int h_slow(crm_req *r)
{
    sleep_ms(1000);
    return crm_res_send(r, 200, "text/plain", "slow", 4);
}

static int h_hang(crm_req *r)
{
    sleep_ms(20000);
    return crm_res_send(r, 200, "text/plain", "late", 4);
}

static int h_noresp(crm_req *r)
{
    (void)r;
    return 200; /* a bug: claims a status it never sent */
}

static const crm_route routes[] = {
    { "GET", "/ping", h_ping, CRM_ROLE_PUBLIC, "ping" },
    { "GET", "/pid", h_pid, CRM_ROLE_PUBLIC, "pid" },
    { "GET", "/slow", h_slow, CRM_ROLE_PUBLIC, "slow" },
    { "GET", "/hang", h_hang, CRM_ROLE_PUBLIC, "hang" },
    { "GET", "/noresp", h_noresp, CRM_ROLE_PUBLIC, "noresp" },
};

static int fail_init;

static int test_init(const crm_config *c)
{
    (void)c;
    return fail_init ? CRM_ERR : CRM_OK;
}

static int ready_cb(void *ctx, const char **why)
{
    (void)ctx;
    (void)why;
    return 1;
}

/* ---- sidecars (each in a process of its own, forked by the supervisor) ---- */

static char tmpdir[64];
static char side_path[128];
static int (*test_sidecar)(const crm_config *conf); /* NULL: a pool without one */

static void side_note(const char *what)
{
    char line[64];
    int n = snprintf(line, sizeof(line), "%s %ld\n", what, (long)getpid());
    int fd = open(side_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0)
        return;
    ssize_t w = write(fd, line, (size_t)n); /* one short write: lines do not mix */
    (void)w;
    close(fd);
}

/* Whether any of our descriptors is a listening socket (FastCGI or admin). */
static int side_listens(void)
{
    for (int fd = 0; fd < 1024; fd++) {
        int on = 0;
        socklen_t len = sizeof(on);
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on)
            return 1;
    }
    return 0;
}

/* Runs until told to stop, as the relay will. */
static int side_polite(const crm_config *c)
{
    (void)c;
    side_note("start");
    if (side_listens())
        side_note("listening");
    while (!crm_pool_stopping())
        sleep_ms(50);
    side_note("stop");
    return 0;
}

/* Sees the request to stop and carries on regardless (for a minute, longer than any test). */
static int side_ignores_stop(const crm_config *c)
{
    int told = 0;
    (void)c;
    side_note("start");
    for (int i = 0; i < 1200; i++) {
        if (crm_pool_stopping() && !told) {
            side_note("ignored");
            told = 1;
        }
        sleep_ms(50);
    }
    return 0;
}

/* Gives up at once, every time. */
static int side_failing(const crm_config *c)
{
    (void)c;
    side_note("start");
    return 3;
}

/* ---- harness ---- */

static char sock_path[96];
static char log_path[128];
static char listen_spec[160];
static int admin_port;
static pid_t sup_pid;

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(sa);
    ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    getsockname(s, (struct sockaddr *)&sa, &len);
    close(s);
    return ntohs(sa.sin_port);
}

static void setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_crm_pool.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(sock_path, sizeof(sock_path), "%s/fcgi.sock", tmpdir);
    snprintf(log_path, sizeof(log_path), "%s/pool.log", tmpdir);
    snprintf(side_path, sizeof(side_path), "%s/sidecar.log", tmpdir);
    test_sidecar = NULL;
    snprintf(listen_spec, sizeof(listen_spec), "unix:%s", sock_path);
    fail_init = 0;
    sup_pid = 0;
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void teardown(void)
{
    if (sup_pid > 0) {
        kill(sup_pid, SIGKILL);
        waitpid(sup_pid, NULL, 0);
        sup_pid = 0;
    }
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
    curl_global_cleanup();
}

/* Minimal HTTP GET to the admin port. Returns the status, -1 when down. */
static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    char *b = ud;
    size_t have = strlen(b), len = size * n;
    if (len > 65535 - have)
        len = 65535 - have;
    memcpy(b + have, p, len);
    b[have + len] = '\0';
    return size * n;
}

static long admin_get(const char *path, char *body /* 64 KiB */)
{
    char url[128];
    long status = -1;
    body[0] = '\0';
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", admin_port, path);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    return status;
}

/* A metric's value from /metrics, -1 when absent. */
static double metric(const char *key)
{
    static char body[65536];
    ck_assert_int_eq(admin_get("/metrics", body), 200);
    size_t klen = strlen(key);
    for (char *line = body; *line != '\0';) {
        char *nl = strchr(line, '\n');
        if (nl == NULL)
            break;
        if (strncmp(line, key, klen) == 0 && line[klen] == ' ')
            return strtod(line + klen + 1, NULL);
        line = nl + 1;
    }
    return -1;
}

static char *read_log(void)
{
    static char buf[1 << 20];
    int fd = open(log_path, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : 0;
    if (fd >= 0)
        close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static void start_pool(int workers, long max_requests, int drain_seconds)
{
    char v[32];
    admin_port = free_port();
    setenv("CRM_LISTEN", listen_spec, 1);
    snprintf(v, sizeof(v), "%d", workers);
    setenv("CRM_WORKERS", v, 1);
    snprintf(v, sizeof(v), "%ld", max_requests);
    setenv("CRM_MAX_REQUESTS", v, 1);
    snprintf(v, sizeof(v), "%d", drain_seconds);
    setenv("CRM_DRAIN_SECONDS", v, 1);
    snprintf(v, sizeof(v), "%d", admin_port);
    setenv("CRM_ADMIN_PORT", v, 1);
    setenv("CRM_ADMIN_ADDR", "127.0.0.1", 1);
    setenv("CRM_LOG_LEVEL", "info", 1);

    sup_pid = fork();
    ck_assert_int_ge(sup_pid, 0);
    if (sup_pid == 0) {
        /* Dies with the test process; its workers then drain and follow. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, STDERR_FILENO);
        close(fd);
        crm_config c;
        char err[256];
        if (crm_config_load(&c, "pooltest", err, sizeof(err)) != CRM_OK) {
            fprintf(stderr, "config: %s\n", err);
            _exit(99);
        }
        crm_pool_spec spec = { .conf = &c,
                               .routes = routes,
                               .n_routes = CRM_NELEM(routes),
                               .worker_init = test_init,
                               .ready = ready_cb,
                               .sidecar = test_sidecar,
                               .sidecar_name = "relay" };
        _exit(crm_pool_run(&spec));
    }
    /* Up when the admin port answers and the socket is there. */
    char body[65536];
    for (int i = 0; i < 100; i++) {
        struct stat st;
        int tcp = strncmp(listen_spec, "unix:", 5) != 0;
        if (admin_get("/healthz", body) == 200 && (tcp || stat(sock_path, &st) == 0))
            return;
        sleep_ms(50);
    }
    ck_abort_msg("pool did not come up: %s", read_log());
}

/* Wait for the supervisor to exit; its exit status, or -1 on timeout. */
static int wait_pool(long timeout_ms)
{
    for (long t = 0; t < timeout_ms; t += 10) {
        int st;
        pid_t r = waitpid(sup_pid, &st, WNOHANG);
        if (r == sup_pid) {
            sup_pid = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        sleep_ms(10);
    }
    return -1;
}

/* Live (non-zombie) children of the supervisor. */
static int worker_pids(pid_t *out, int max)
{
    int n = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL && n < max) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        char path[300], buf[512];
        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            continue;
        ssize_t len = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (len <= 0)
            continue;
        buf[len] = '\0';
        char *rp = strrchr(buf, ')');
        char state;
        long ppid;
        if (rp == NULL || sscanf(rp + 1, " %c %ld", &state, &ppid) != 2)
            continue;
        if (ppid == sup_pid && state != 'Z')
            out[n++] = (pid_t)atol(e->d_name);
    }
    if (d != NULL)
        closedir(d);
    return n;
}

/* Children of the supervisor but the sidecar. */
static int workers_only(pid_t *out, int max, pid_t side)
{
    pid_t all[64];
    int n = worker_pids(all, 64), k = 0;
    for (int i = 0; i < n && k < max; i++)
        if (all[i] != side)
            out[k++] = all[i];
    return k;
}

/* Lines of the sidecars' notes that say what; *last_pid gets the last one's pid. */
static int side_count(const char *what, pid_t *last_pid)
{
    char buf[4096], *save = NULL;
    int n = 0, fd = open(side_path, O_RDONLY);
    ssize_t len = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : 0;
    if (fd >= 0)
        close(fd);
    buf[len > 0 ? len : 0] = '\0';
    if (last_pid != NULL)
        *last_pid = 0;
    for (char *line = strtok_r(buf, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        size_t wl = strlen(what);
        if (strncmp(line, what, wl) != 0 || line[wl] != ' ')
            continue;
        n++;
        if (last_pid != NULL)
            *last_pid = (pid_t)atol(line + wl + 1);
    }
    return n;
}

/* Wait up to timeout_ms for at least n notes saying what; the last one's pid. */
static pid_t side_wait(const char *what, int n, long timeout_ms)
{
    pid_t pid = 0;
    for (long t = 0; t < timeout_ms; t += 20) {
        if (side_count(what, &pid) >= n)
            return pid;
        sleep_ms(20);
    }
    ck_abort_msg("sidecar: no %d \"%s\" notes in %ld ms\n%s", n, what, timeout_ms, read_log());
    return 0;
}

static long ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (long)(t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* ---- a small FastCGI client ---- */

static char fcgi_error[128]; /* why the last exchange failed */

static int fcgi_connect(void)
{
    int fd;
    if (strncmp(listen_spec, "unix:", 5) == 0) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
            snprintf(fcgi_error, sizeof(fcgi_error), "connect: %s", strerror(errno));
            close(fd);
            return -1;
        }
    } else {
        struct sockaddr_in sa = { .sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                                  .sin_port =
                                      htons((uint16_t)atoi(strrchr(listen_spec, ':') + 1)) };
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
            snprintf(fcgi_error, sizeof(fcgi_error), "connect: %s", strerror(errno));
            close(fd);
            return -1;
        }
    }
    return fd;
}

static size_t record(unsigned char *out, int type, const void *content, size_t len)
{
    out[0] = 1;
    out[1] = (unsigned char)type;
    out[2] = 0;
    out[3] = 1; /* request id 1 */
    out[4] = (unsigned char)(len >> 8);
    out[5] = (unsigned char)len;
    out[6] = 0;
    out[7] = 0;
    memcpy(out + 8, content, len);
    return 8 + len;
}

static size_t pair(unsigned char *out, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value), n = 0;
    out[n++] = (unsigned char)nl; /* all short here */
    out[n++] = (unsigned char)vl;
    memcpy(out + n, name, nl);
    n += nl;
    memcpy(out + n, value, vl);
    return n + vl;
}

/* Send a whole GET request for uri on a new connection; returns the fd. */
/* Write a whole GET request for uri on fd; keep asks to keep the connection. */
static void fcgi_write_request(int fd, const char *uri, int keep)
{
    unsigned char params[1024], msg[2048];
    unsigned char begin[8] = { 0, 1, 0, 0, 0, 0, 0, 0 }; /* responder */
    size_t p = 0, m = 0;

    begin[2] = keep ? 1 : 0; /* FCGI_KEEP_CONN, as nginx's fastcgi_keep_conn */
    p += pair(params + p, "REQUEST_METHOD", "GET");
    p += pair(params + p, "REQUEST_URI", uri);
    p += pair(params + p, "DOCUMENT_URI", uri);
    p += pair(params + p, "SCRIPT_NAME", uri);
    p += pair(params + p, "QUERY_STRING", "");
    p += pair(params + p, "SERVER_PROTOCOL", "HTTP/1.1");
    p += pair(params + p, "REQUEST_ID", "test-request");
    m += record(msg + m, 1, begin, sizeof(begin));
    m += record(msg + m, 4, params, p);
    m += record(msg + m, 4, "", 0);
    m += record(msg + m, 5, "", 0);
    ck_assert_int_eq(write(fd, msg, m), (ssize_t)m);
}

/* Send a GET request for uri on a new connection; returns the fd. */
static int fcgi_send(const char *uri)
{
    int fd = fcgi_connect();
    if (fd >= 0)
        fcgi_write_request(fd, uri, 0);
    return fd;
}

static int read_full(int fd, unsigned char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        struct pollfd pf = { .fd = fd, .events = POLLIN };
        if (poll(&pf, 1, 15000) <= 0) {
            snprintf(fcgi_error, sizeof(fcgi_error), "no answer in 15 s");
            return -1;
        }
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0) {
            snprintf(fcgi_error, sizeof(fcgi_error), "connection closed: %s",
                     r == 0 ? "EOF" : strerror(errno));
            return -1;
        }
        got += (size_t)r;
    }
    return 0;
}

/*
 * Read the response on fd (and close it). Returns the HTTP status, or -1
 * when the connection ended without END_REQUEST. body gets what follows
 * the headers.
 */
static int fcgi_read_response(int fd, char *body, size_t cap)
{
    static char out[65536];
    size_t olen = 0;
    int ended = 0;

    body[0] = '\0';
    for (;;) {
        unsigned char h[8], c[65536 + 256];
        if (read_full(fd, h, 8) != 0)
            break;
        size_t len = ((size_t)h[4] << 8) | h[5];
        if (read_full(fd, c, len + h[6]) != 0)
            break;
        if (h[1] == 6 && olen + len < sizeof(out)) { /* STDOUT */
            memcpy(out + olen, c, len);
            olen += len;
        }
        if (h[1] == 3) { /* END_REQUEST */
            ended = 1;
            break;
        }
    }
    if (!ended)
        return -1;
    out[olen] = '\0';
    int status = 0;
    if (sscanf(out, "Status: %d", &status) != 1)
        return -1;
    char *b = strstr(out, "\r\n\r\n");
    if (b != NULL)
        snprintf(body, cap, "%s", b + 4);
    return status;
}

static int fcgi_recv(int fd, char *body, size_t cap)
{
    int status = fcgi_read_response(fd, body, cap);
    close(fd);
    return status;
}

static int fcgi_get(const char *uri, char *body, size_t cap)
{
    int fd = fcgi_send(uri);
    return fd < 0 ? -1 : fcgi_recv(fd, body, cap);
}

/* GET uri and expect status; on failure say why, with the pool's log. */
#define expect_get(uri, want, body)                                                                \
    do {                                                                                           \
        int got_ = fcgi_get(uri, body, sizeof(body));                                              \
        ck_assert_msg(got_ == (want), "GET %s: %d, not %d (%s)\n%s", uri, got_, want,              \
                      got_ < 0 ? fcgi_error : "", read_log());                                     \
    } while (0)

static void free_config(crm_config *c)
{
    for (size_t i = 0; i < crm_config_table_len; i++) {
        if (crm_config_table[i].type != CRM_CONF_STR)
            continue;
        char **f = (char **)(void *)((char *)c + crm_config_table[i].offset);
        free(*f);
    }
    free(c->service);
}

/* ---- tests ---- */

START_TEST(test_serves_requests)
{
    char body[4096];
    start_pool(3, 0, 5);

    for (int i = 0; i < 30; i++) {
        expect_get("/ping", 200, body);
        ck_assert_str_eq(body, "pong");
    }
    expect_get("/nope", 404, body);
    expect_get("/noresp", 500, body);
    ck_assert_ptr_nonnull(strstr(body, "\"status\":500"));

    ck_assert_double_eq(
        metric("crm_http_requests_total{service=\"pooltest\",route=\"ping\",status=\"200\"}"), 30);
    ck_assert_double_eq(
        metric("crm_http_requests_total{service=\"pooltest\",route=\"unmatched\",status=\"404\"}"),
        1);
    ck_assert_double_eq(
        metric("crm_http_requests_total{service=\"pooltest\",route=\"noresp\",status=\"500\"}"), 1);
    ck_assert_double_eq(metric("crm_workers{service=\"pooltest\"}"), 3);
    ck_assert_double_eq(metric("crm_http_requests_in_flight{service=\"pooltest\"}"), 0);

    char text[65536];
    ck_assert_int_eq(admin_get("/readyz", text), 200);
    ck_assert_str_eq(text, "ready\n");
    struct stat st;
    ck_assert_int_eq(stat(sock_path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0666);

    char *log = read_log();
    ck_assert_ptr_nonnull(strstr(log, "supervisor started"));
    ck_assert_ptr_nonnull(strstr(log, "no response from the handler of GET /noresp"));
    ck_assert_ptr_nonnull(strstr(log, "\"request_id\":\"test-request\""));

    ck_assert_int_eq(kill(sup_pid, SIGTERM), 0);
    ck_assert_int_eq(wait_pool(5000), 0);
    ck_assert_int_ne(stat(sock_path, &st), 0);
}
END_TEST

START_TEST(test_crashed_worker_is_replaced)
{
    char body[4096];
    pid_t before[8], after[8];
    start_pool(2, 0, 5);

    int n = 0;
    for (int i = 0; i < 100 && (n = worker_pids(before, 8)) < 2; i++)
        sleep_ms(20);
    ck_assert_int_eq(n, 2);
    sleep_ms(1100); /* past the early-death back-off: replaced at once */
    ck_assert_int_eq(kill(before[0], SIGKILL), 0);
    /*
     * Wait until it is dead: a process woken in accept() by the signal can
     * still take one connection before it dies, which the client sees reset.
     */
    for (int i = 0; i < 100; i++) {
        pid_t now[8];
        int m = worker_pids(now, 8), still = 0;
        for (int k = 0; k < m; k++)
            still |= now[k] == before[0];
        if (!still)
            break;
        sleep_ms(5);
    }

    /* The sibling keeps serving meanwhile. */
    for (int i = 0; i < 10; i++)
        expect_get("/ping", 200, body);

    int replaced = 0;
    for (int t = 0; t < 150 && !replaced; t++) {
        n = worker_pids(after, 8);
        replaced = n == 2 && after[0] != before[0] && after[1] != before[0];
        if (!replaced)
            sleep_ms(20);
    }
    ck_assert_msg(replaced, "worker not replaced: %s", read_log());
    ck_assert_double_eq(metric("crm_worker_restarts_total{service=\"pooltest\",reason=\"crash\"}"),
                        1);
    ck_assert_double_eq(metric("crm_workers{service=\"pooltest\"}"), 2);
    for (int i = 0; i < 10; i++)
        expect_get("/ping", 200, body);

    char *log = read_log();
    ck_assert_ptr_nonnull(strstr(log, "worker exited"));
    ck_assert_ptr_nonnull(strstr(log, "signal=9"));

    kill(sup_pid, SIGTERM);
    ck_assert_int_eq(wait_pool(5000), 0);
}
END_TEST

START_TEST(test_recycle_after_max_requests)
{
    char body[4096];
    pid_t seen[64] = { 0 };
    int n_seen = 0;
    start_pool(2, 5, 5);

    for (int i = 0; i < 30; i++) {
        expect_get("/pid", 200, body);
        pid_t p = (pid_t)atol(body);
        int known = 0;
        for (int k = 0; k < n_seen; k++)
            known |= seen[k] == p;
        if (!known && n_seen < 64)
            seen[n_seen++] = p;
    }
    /* 30 requests, 5 per worker life: at least 6 different workers. */
    ck_assert_int_ge(n_seen, 6);
    double recycled = 0;
    for (int t = 0; t < 100 && recycled < 5; t++) {
        recycled = metric("crm_worker_restarts_total{service=\"pooltest\",reason=\"recycle\"}");
        if (recycled < 5)
            sleep_ms(20);
    }
    ck_assert_double_ge(recycled, 5);
    ck_assert_double_eq(metric("crm_worker_restarts_total{service=\"pooltest\",reason=\"crash\"}"),
                        0);

    kill(sup_pid, SIGTERM);
    ck_assert_int_eq(wait_pool(5000), 0);
}
END_TEST

START_TEST(test_sigterm_drains)
{
    char body[4096], text[65536];
    struct stat st;
    start_pool(2, 0, 5);

    /* Both workers busy, and one more request queued on the socket. */
    int a1 = fcgi_send("/slow");
    int a2 = fcgi_send("/slow");
    ck_assert_int_ge(a1, 0);
    ck_assert_int_ge(a2, 0);
    sleep_ms(200);
    int b = fcgi_send("/ping");
    ck_assert_int_ge(b, 0);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(kill(sup_pid, SIGTERM), 0);

    /* Not ready any more, the socket's name gone, the admin port still up. */
    int gone = 0;
    for (int i = 0; i < 50 && !gone; i++) {
        gone = stat(sock_path, &st) != 0;
        if (!gone)
            sleep_ms(10);
    }
    ck_assert(gone);
    ck_assert_int_eq(admin_get("/readyz", text), 503);
    ck_assert_str_eq(text, "draining\n");
    ck_assert_int_eq(admin_get("/healthz", text), 200);
    ck_assert_int_lt(fcgi_connect(), 0);

    /* Requests in hand and the one queued are all answered. */
    ck_assert_int_eq(fcgi_recv(a1, body, sizeof(body)), 200);
    ck_assert_str_eq(body, "slow");
    ck_assert_int_eq(fcgi_recv(a2, body, sizeof(body)), 200);
    ck_assert_int_eq(fcgi_recv(b, body, sizeof(body)), 200);
    ck_assert_str_eq(body, "pong");

    ck_assert_int_eq(wait_pool(5000), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 5);
    ck_assert_ptr_nonnull(strstr(read_log(), "drained; exiting"));
}
END_TEST

START_TEST(test_idle_pool_drains_fast)
{
    struct timespec t0, t1;
    start_pool(4, 0, 10);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(kill(sup_pid, SIGINT), 0);
    ck_assert_int_eq(wait_pool(5000), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    ck_assert_int_lt(ms, 1500);
}
END_TEST

START_TEST(test_drain_deadline_kills)
{
    char body[256];
    start_pool(1, 0, 1);
    int a = fcgi_send("/hang");
    ck_assert_int_ge(a, 0);
    sleep_ms(200);
    ck_assert_int_eq(kill(sup_pid, SIGTERM), 0);
    ck_assert_int_eq(wait_pool(4000), 1);
    ck_assert_int_eq(fcgi_recv(a, body, sizeof(body)), -1); /* cut off */
    ck_assert_ptr_nonnull(strstr(read_log(), "drain deadline passed"));
}
END_TEST

START_TEST(test_failing_init_backs_off)
{
    char text[65536];
    fail_init = 1;
    start_pool(1, 0, 5);
    sleep_ms(2500);
    /* Deaths at about 0 s, 1 s and 3 s: no fork storm. */
    double crashes = metric("crm_worker_restarts_total{service=\"pooltest\",reason=\"crash\"}");
    ck_assert_double_ge(crashes, 1);
    ck_assert_double_le(crashes, 3);
    ck_assert_int_eq(admin_get("/healthz", text), 200);
    ck_assert_ptr_nonnull(strstr(read_log(), "worker init failed"));
    ck_assert_ptr_nonnull(strstr(read_log(), "status=1; replacing in"));

    kill(sup_pid, SIGTERM);
    ck_assert_int_eq(wait_pool(2000), 0);
}
END_TEST

START_TEST(test_kept_connection_does_not_hold_up_drain)
{
    char body[256];
    struct timespec t0, t1;
    start_pool(1, 0, 5);

    /* One worker, one kept connection, two requests over it. */
    int fd = fcgi_connect();
    ck_assert_int_ge(fd, 0);
    fcgi_write_request(fd, "/ping", 1);
    ck_assert_int_eq(fcgi_read_response(fd, body, sizeof(body)), 200);
    fcgi_write_request(fd, "/pid", 1);
    ck_assert_int_eq(fcgi_read_response(fd, body, sizeof(body)), 200);

    /* The worker waits on that idle connection; SIGTERM still ends it. */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(kill(sup_pid, SIGTERM), 0);
    ck_assert_int_eq(wait_pool(4000), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* Well before the 5 s drain deadline (not a speed test: a busy
       machine may take a second; waiting for the deadline takes five). */
    long ms = (long)(t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    ck_assert_int_lt(ms, 4000);
    ck_assert_int_eq(fcgi_read_response(fd, body, sizeof(body)), -1); /* closed */
    close(fd);
}
END_TEST

START_TEST(test_tcp_listener)
{
    char body[256];
    snprintf(listen_spec, sizeof(listen_spec), "127.0.0.1:%d", free_port());
    start_pool(2, 0, 5);
    expect_get("/ping", 200, body);
    ck_assert_str_eq(body, "pong");
    kill(sup_pid, SIGTERM);
    ck_assert_int_eq(wait_pool(5000), 0);
}
END_TEST

START_TEST(test_socket_path_checks)
{
    char body[256];
    /* A stale socket file from a crashed run is replaced. */
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
    ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(s);
    start_pool(1, 0, 5);
    expect_get("/ping", 200, body);

    /* A second pool on a live socket refuses to start and leaves it alone. */
    crm_config c;
    char err[256];
    setenv("CRM_ADMIN_PORT", "0", 1);
    ck_assert_int_eq(crm_config_load(&c, "pooltest", err, sizeof(err)), CRM_OK);
    crm_pool_spec spec = { .conf = &c, .routes = routes, .n_routes = CRM_NELEM(routes) };
    ck_assert_int_eq(crm_pool_run(&spec), 1);
    expect_get("/ping", 200, body);

    kill(sup_pid, SIGTERM);
    ck_assert_int_eq(wait_pool(5000), 0);

    /* Something that is not a socket is never deleted. */
    int fd = open(sock_path, O_WRONLY | O_CREAT, 0644);
    close(fd);
    ck_assert_int_eq(crm_pool_run(&spec), 1);
    struct stat st;
    ck_assert_int_eq(stat(sock_path, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    free_config(&c);
}
END_TEST

/* ---- the sidecar ---- */

START_TEST(test_sidecar_runs_beside_workers)
{
    char body[4096];
    pid_t kids[64];
    test_sidecar = side_polite;
    start_pool(3, 5, 5); /* recycling on: it must leave the sidecar alone */

    pid_t side = side_wait("start", 1, 5000);
    ck_assert_int_gt(side, 0);
    ck_assert_int_eq(side_count("listening", NULL), 0);

    for (int i = 0; i < 30; i++) {
        expect_get("/pid", 200, body);
        ck_assert_int_ne(atol(body), side); /* never a worker */
    }
    /* Workers were recycled (30 requests, 5 per life, at most 4 each left in
       the 3 live ones: at least 4 recycles); the sidecar was not. */
    double recycled = 0;
    for (int t = 0; t < 100 && recycled < 4; t++) {
        recycled = metric("crm_worker_restarts_total{service=\"pooltest\",reason=\"recycle\"}");
        if (recycled < 4)
            sleep_ms(20);
    }
    ck_assert_double_ge(recycled, 4);
    pid_t last = 0;
    ck_assert_int_eq(side_count("start", &last), 1);
    ck_assert_int_eq(last, side);
    ck_assert_int_eq(kill(side, 0), 0);

    /* Three workers counted; the sidecar is a fourth child, not a worker. */
    int n = 0, has_side = 0;
    for (int t = 0; t < 100; t++) {
        n = worker_pids(kids, 64);
        has_side = 0;
        for (int k = 0; k < n; k++)
            has_side |= kids[k] == side;
        if (n == 4 && has_side)
            break;
        sleep_ms(20);
    }
    ck_assert_msg(n == 4 && has_side, "children: %d, sidecar among them: %d", n, has_side);
    ck_assert_double_eq(metric("crm_workers{service=\"pooltest\"}"), 3);
    ck_assert_double_eq(metric("crm_worker_restarts_total{service=\"pooltest\",reason=\"crash\"}"),
                        0);

    char *log = read_log();
    ck_assert_ptr_nonnull(strstr(log, "sidecar=relay"));
    ck_assert_ptr_nonnull(strstr(log, "relay started: pid="));

    kill(sup_pid, SIGTERM);
    ck_assert_int_eq(wait_pool(5000), 0);
}
END_TEST

START_TEST(test_killed_sidecar_is_restarted)
{
    char body[4096], want[64];
    pid_t before[8], after[8];
    test_sidecar = side_polite;
    start_pool(2, 0, 5);

    pid_t side = side_wait("start", 1, 5000);
    int n = 0;
    for (int i = 0; i < 100 && (n = workers_only(before, 8, side)) < 2; i++)
        sleep_ms(20);
    ck_assert_int_eq(n, 2);

    ck_assert_int_eq(kill(side, SIGKILL), 0);
    /* The workers serve on while it is gone (it may be backing off a second). */
    for (int i = 0; i < 10; i++)
        expect_get("/ping", 200, body);

    pid_t again = side_wait("start", 2, 5000);
    ck_assert_int_ne(again, side);
    ck_assert_int_eq(kill(again, 0), 0);
    ck_assert_int_eq(side_count("stop", NULL), 0); /* the first never got to say goodbye */

    /* Same workers, no worker restart counted. */
    ck_assert_int_eq(workers_only(after, 8, again), 2);
    ck_assert((after[0] == before[0] && after[1] == before[1]) ||
              (after[0] == before[1] && after[1] == before[0]));
    ck_assert_double_eq(metric("crm_worker_restarts_total{service=\"pooltest\",reason=\"crash\"}"),
                        0);
    ck_assert_double_eq(metric("crm_workers{service=\"pooltest\"}"), 2);
    for (int i = 0; i < 10; i++)
        expect_get("/ping", 200, body);

    snprintf(want, sizeof(want), "relay exited: pid=%ld signal=9", (long)side);
    ck_assert_msg(strstr(read_log(), want) != NULL, "no \"%s\" in\n%s", want, read_log());

    kill(sup_pid, SIGTERM);
    ck_assert_int_eq(wait_pool(5000), 0);
    ck_assert_int_eq(side_count("stop", NULL), 1);
}
END_TEST

START_TEST(test_failing_sidecar_backs_off)
{
    char body[256];
    test_sidecar = side_failing;
    start_pool(1, 0, 5);
    sleep_ms(3000);
    /* Starts at about 0 s, 1 s and 3 s: no fork storm. */
    int starts = side_count("start", NULL);
    ck_assert_msg(starts >= 2 && starts <= 3, "%d starts\n%s", starts, read_log());
    expect_get("/ping", 200, body);
    ck_assert_double_eq(metric("crm_worker_restarts_total{service=\"pooltest\",reason=\"crash\"}"),
                        0);
    ck_assert_ptr_nonnull(strstr(read_log(), "status=3; restarting in 1 s"));

    kill(sup_pid, SIGTERM);
    ck_assert_int_eq(wait_pool(5000), 0);
}
END_TEST

START_TEST(test_drain_stops_sidecar)
{
    struct timespec t0;
    test_sidecar = side_polite;
    start_pool(2, 0, 5);
    pid_t side = side_wait("start", 1, 5000);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(kill(sup_pid, SIGTERM), 0);
    ck_assert_int_eq(wait_pool(5000), 0);
    /* Well before the 5 s deadline (a busy machine may take a second). */
    ck_assert_int_lt(ms_since(&t0), 4000);

    pid_t stopped = 0;
    ck_assert_int_eq(side_count("stop", &stopped), 1);
    ck_assert_int_eq(stopped, side);
    ck_assert_int_eq(kill(side, 0), -1); /* reaped by the supervisor */
    char *log = read_log();
    ck_assert_ptr_nonnull(strstr(log, "draining: 2 workers and the relay"));
    ck_assert_ptr_nonnull(strstr(log, "drained; exiting"));
    ck_assert_ptr_null(strstr(log, "drain deadline passed"));
}
END_TEST

START_TEST(test_deaf_sidecar_is_killed_at_deadline)
{
    struct timespec t0;
    test_sidecar = side_ignores_stop;
    start_pool(1, 0, 1);
    pid_t side = side_wait("start", 1, 5000);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(kill(sup_pid, SIGTERM), 0);
    ck_assert_int_eq(wait_pool(4000), 1);
    ck_assert_int_ge(ms_since(&t0), 900); /* it waited for the 1 s deadline */

    ck_assert_int_eq(side_count("ignored", NULL), 1); /* it was told */
    ck_assert_int_eq(kill(side, 0), -1);
    char want[96];
    snprintf(want, sizeof(want), "killing 0 workers and the relay (pid=%ld)", (long)side);
    ck_assert_msg(strstr(read_log(), want) != NULL, "no \"%s\" in\n%s", want, read_log());
}
END_TEST

/* ---- crm_pool_handle over an in-memory transport ---- */

typedef struct {
    const char *method, *uri;
    char out[4096];
    size_t len;
} fake;

static long fake_read(void *ctx, char *buf, size_t n)
{
    (void)ctx;
    (void)buf;
    (void)n;
    return 0;
}

static int fake_write(void *ctx, const char *buf, size_t n)
{
    fake *f = ctx;
    if (n > sizeof(f->out) - 1 - f->len)
        return CRM_ERR;
    memcpy(f->out + f->len, buf, n);
    f->len += n;
    f->out[f->len] = '\0';
    return CRM_OK;
}

static const char *fake_param(void *ctx, const char *name)
{
    fake *f = ctx;
    if (strcmp(name, "REQUEST_METHOD") == 0)
        return f->method;
    if (strcmp(name, "REQUEST_URI") == 0 || strcmp(name, "DOCUMENT_URI") == 0)
        return f->uri;
    return NULL;
}

START_TEST(test_handle_in_memory)
{
    static const crm_req_io io = { fake_read, fake_write, fake_param };
    static const char *const names[] = { "ping", "pid", "slow", "hang", "noresp" };
    crm_pool_spec spec = { .conf = NULL, .routes = routes, .n_routes = CRM_NELEM(routes) };
    crm_arena *a = crm_arena_new(4096);

    crm_log_init("pooltest", CRM_LOG_ERROR);
    ck_assert_int_eq(crm_metrics_init("pooltest", 1, names, CRM_NELEM(names)), CRM_OK);
    crm_metrics_attach(0);

    fake f = { "GET", "/ping", "", 0 };
    crm_pool_handle(&spec, a, &io, &f);
    ck_assert(strncmp(f.out, "Status: 200", 11) == 0);
    ck_assert_uint_eq(crm_arena_used(a), 0);

    fake g = { "GET", "/noresp", "", 0 };
    crm_pool_handle(&spec, a, &io, &g);
    ck_assert(strncmp(g.out, "Status: 500", 11) == 0);
    ck_assert_ptr_nonnull(strstr(g.out, "application/problem+json"));

    fake h = { "POST", "/ping", "", 0 };
    crm_pool_handle(&spec, a, &io, &h);
    ck_assert(strncmp(h.out, "Status: 405", 11) == 0);

    crm_buf b;
    crm_buf_init(&b, 0);
    crm_metrics_render(&b);
    ck_assert_ptr_nonnull(strstr(
        b.data, "crm_http_requests_total{service=\"pooltest\",route=\"ping\",status=\"200\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(
        b.data,
        "crm_http_requests_total{service=\"pooltest\",route=\"noresp\",status=\"500\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(b.data, "crm_http_requests_in_flight{service=\"pooltest\"} 0\n"));
    crm_buf_free(&b);
    crm_arena_free(a);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("crm_pool");
    TCase *tc = tcase_create("pool");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_serves_requests);
    tcase_add_test(tc, test_crashed_worker_is_replaced);
    tcase_add_test(tc, test_recycle_after_max_requests);
    tcase_add_test(tc, test_sigterm_drains);
    tcase_add_test(tc, test_idle_pool_drains_fast);
    tcase_add_test(tc, test_drain_deadline_kills);
    tcase_add_test(tc, test_failing_init_backs_off);
    tcase_add_test(tc, test_kept_connection_does_not_hold_up_drain);
    tcase_add_test(tc, test_tcp_listener);
    tcase_add_test(tc, test_socket_path_checks);
    tcase_add_test(tc, test_sidecar_runs_beside_workers);
    tcase_add_test(tc, test_killed_sidecar_is_restarted);
    tcase_add_test(tc, test_failing_sidecar_backs_off);
    tcase_add_test(tc, test_drain_stops_sidecar);
    tcase_add_test(tc, test_deaf_sidecar_is_killed_at_deadline);
    suite_add_tcase(s, tc);

    TCase *th = tcase_create("handle");
    tcase_add_test(th, test_handle_in_memory);
    suite_add_tcase(s, th);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
