/*
 * test_crm_http.c - the service-to-service client against a libmicrohttpd
 * server in this process (its own threads, started afresh for each test):
 * answers of any status, the body cap by Content-Length and by bytes
 * received, the timeout, what reaches the other side, one connection for
 * many calls, and the calls refused before anything is sent.
 */
#include "crm_http.h"

#include "crm_buf.h"
#include "crm_log.h"

#include <check.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CAP        4096
#define TIMEOUT_MS 5000L

static struct MHD_Daemon *srv;
static int port;
static char base[64];
static crm_arena *arena;
/* Written by the server's threads, read by the test. */
static int conns_started;
static int requests_seen;
static int slow_release;

static const char json_body[] = "{\"id\":42,\"name\":\"Ada\"}";
static const char problem_body[] =
    "{\"type\":\"about:blank\",\"title\":\"Not Found\",\"status\":404}";

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the server ---- */

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
                          enum MHD_ConnectionNotificationCode code)
{
    (void)cls;
    (void)c;
    (void)socket_ctx;
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        __atomic_add_fetch(&conns_started, 1, __ATOMIC_SEQ_CST);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_ctx,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    crm_buf *b = *req_ctx;
    if (b != NULL) {
        crm_buf_free(b);
        free(b);
        *req_ctx = NULL;
    }
}

static enum MHD_Result queue(struct MHD_Connection *c, unsigned status, const char *ctype,
                             struct MHD_Response *r)
{
    if (r == NULL)
        return MHD_NO;
    if (ctype != NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype,
                             const void *body, size_t len)
{
    return queue(
        c, status, ctype,
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY));
}

/* A body of unknown length (chunked): cls is its size. */
static ssize_t chunked_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    uint64_t total = (uint64_t)(uintptr_t)cls;
    if (pos >= total)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = (size_t)(total - pos);
    if (n > max)
        n = max;
    if (n > 1000)
        n = 1000;
    memset(buf, 'c', n);
    return (ssize_t)n;
}

/*
 * A Content-Length of 1 MB of which the first 100 bytes come at once and
 * the rest never (until the test is done): only a client that believes
 * the header answers before its timeout.
 */
static ssize_t stalling_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    if (pos == 0) {
        size_t n = max < 100 ? max : 100;
        memset(buf, 'x', n);
        return (ssize_t)n;
    }
    for (int i = 0; i < 500 && !__atomic_load_n(&slow_release, __ATOMIC_SEQ_CST); i++)
        usleep(10 * 1000);
    return MHD_CONTENT_READER_END_WITH_ERROR;
}

static const char *header_or_dash(struct MHD_Connection *c, const char *name)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
    return v != NULL ? v : "-";
}

static uint64_t fnv1a(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static enum MHD_Result answer(struct MHD_Connection *c, const char *url, const char *method,
                              const crm_buf *in)
{
    const char *body = in->data != NULL ? in->data : "";

    if (strcmp(url, "/json") == 0)
        return reply(c, 200, "application/json", json_body, strlen(json_body));
    if (strcmp(url, "/problem") == 0)
        return reply(c, 404, "application/problem+json", problem_body, strlen(problem_body));
    if (strcmp(url, "/empty") == 0)
        return reply(c, 200, NULL, "", 0);
    if (strcmp(url, "/binary") == 0)
        return reply(c, 200, "application/octet-stream", "a\0b", 3);
    if (strcmp(url, "/redirect") == 0) {
        struct MHD_Response *r =
            MHD_create_response_from_buffer(5, (void *)(uintptr_t) "moved", MHD_RESPMEM_MUST_COPY);
        if (r != NULL)
            MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, "/json");
        return queue(c, 302, "text/plain", r);
    }
    if (strncmp(url, "/size/", 6) == 0) {
        size_t n = strtoul(url + 6, NULL, 10);
        char *big = malloc(n + 1);
        ck_assert_ptr_nonnull(big);
        memset(big, 'x', n);
        enum MHD_Result rc = reply(c, 200, "text/plain", big, n);
        free(big);
        return rc;
    }
    if (strncmp(url, "/chunked/", 9) == 0) {
        uint64_t n = strtoull(url + 9, NULL, 10);
        return queue(c, 200, "text/plain",
                     MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1000, chunked_reader,
                                                       (void *)(uintptr_t)n, NULL));
    }
    if (strcmp(url, "/declared") == 0)
        return queue(c, 200, "text/plain",
                     MHD_create_response_from_callback(1000000, 1000, stalling_reader, NULL, NULL));
    if (strcmp(url, "/slow") == 0) {
        /* Until the test has seen its timeout (or 5 s): this thread only. */
        for (int i = 0; i < 500 && !__atomic_load_n(&slow_release, __ATOMIC_SEQ_CST); i++)
            usleep(10 * 1000);
        return reply(c, 200, "text/plain", "late", 4);
    }
    if (strcmp(url, "/echo") == 0) {
        crm_buf out;
        crm_buf_init(&out, 0);
        crm_buf_printf(
            &out, "method=%s\nurl=%s\nrid=%s\nctype=%s\nsig=%s\nexpect=%s\nlen=%zu\nbody=", method,
            url, header_or_dash(c, "X-Request-Id"), header_or_dash(c, MHD_HTTP_HEADER_CONTENT_TYPE),
            header_or_dash(c, "X-Signature"), header_or_dash(c, "Expect"), in->len);
        crm_buf_append(&out, body, in->len);
        enum MHD_Result rc = reply(c, 200, "text/plain; charset=utf-8", out.data, out.len);
        crm_buf_free(&out);
        return rc;
    }
    if (strcmp(url, "/digest") == 0) {
        char text[256];
        int n = snprintf(text, sizeof(text), "len=%zu\nexpect=%s\nfnv=%016llx\n", in->len,
                         header_or_dash(c, "Expect"), (unsigned long long)fnv1a(body, in->len));
        return reply(c, 200, "text/plain", text, (size_t)n);
    }
    return reply(c, 404, "text/plain", "not found\n", 10);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_ctx)
{
    (void)cls;
    (void)version;

    if (*req_ctx == NULL) {
        __atomic_add_fetch(&requests_seen, 1, __ATOMIC_SEQ_CST);
        /* No answer at all: MHD closes the connection. */
        if (strcmp(url, "/close") == 0)
            return MHD_NO;
        crm_buf *b = malloc(sizeof(*b));
        ck_assert_ptr_nonnull(b);
        crm_buf_init(b, 0);
        *req_ctx = b;
        return MHD_YES;
    }
    crm_buf *in = *req_ctx;
    if (*upload_data_size > 0) {
        crm_buf_append(in, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    return answer(c, url, method, in);
}

static void server_start(void)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;

    __atomic_store_n(&conns_started, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&requests_seen, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&slow_release, 0, __ATOMIC_SEQ_CST);
    /* A thread per connection: the slow answer holds up no other. */
    srv = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL,
                           NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                           MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                           MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
                           MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
    ck_assert_ptr_nonnull(srv);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv, MHD_DAEMON_INFO_BIND_PORT);
    ck_assert_ptr_nonnull(info);
    port = info->port;
    ck_assert_int_gt(port, 0);
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
}

static void setup(void)
{
    crm_log_init("test", CRM_LOG_INFO);
    arena = crm_arena_new(4096);
    server_start();
}

static void teardown(void)
{
    __atomic_store_n(&slow_release, 1, __ATOMIC_SEQ_CST);
    MHD_stop_daemon(srv);
    srv = NULL;
    crm_arena_free(arena);
}

/* ---- helpers ---- */

/* stderr (where crm_log writes) goes to a file between the two calls. */
static FILE *cap_file;
static int cap_saved = -1;

static void log_capture(void)
{
    fflush(stderr);
    cap_file = tmpfile();
    ck_assert_ptr_nonnull(cap_file);
    cap_saved = dup(STDERR_FILENO);
    ck_assert_int_ge(cap_saved, 0);
    ck_assert_int_ge(dup2(fileno(cap_file), STDERR_FILENO), 0);
}

/* What was logged since log_capture(), in the arena. */
static const char *log_captured(void)
{
    dup2(cap_saved, STDERR_FILENO);
    close(cap_saved);
    cap_saved = -1;
    long n = ftell(cap_file);
    if (n < 0)
        n = lseek(fileno(cap_file), 0, SEEK_END);
    ck_assert_int_ge(n, 0);
    char *text = crm_arena_alloc(arena, (size_t)n + 1);
    ck_assert_int_eq(lseek(fileno(cap_file), 0, SEEK_SET), 0);
    ck_assert_int_eq(read(fileno(cap_file), text, (size_t)n), n);
    text[n] = '\0';
    fclose(cap_file);
    cap_file = NULL;
    return text;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s != '\0'; s++)
        n += *s == '\n';
    return n;
}

static const crm_http_res unset = { -7, "unset", "unset", 77 };

static void assert_unset(const crm_http_res *res)
{
    ck_assert_int_eq(res->status, -7);
    ck_assert_str_eq(res->content_type, "unset");
    ck_assert_str_eq(res->body, "unset");
    ck_assert_uint_eq(res->len, 77);
}

/* GET that must answer CRM_OK with this status. */
static crm_http_res get_ok(crm_http *h, const char *path, int status)
{
    crm_http_res res = unset;
    int rc = crm_http_get(h, arena, path, NULL, NULL, &res);
    ck_assert_msg(rc == CRM_OK, "GET %s: rc %d", path, rc);
    ck_assert_int_eq(res.status, status);
    ck_assert_ptr_nonnull(res.body);
    ck_assert_uint_eq(res.body[res.len], '\0');
    return res;
}

/* A port on which nothing listens (bound then closed at once). */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    socklen_t len = sizeof(sa);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

/* ---- answers ---- */

START_TEST(test_get_json)
{
    crm_http *h = crm_http_new(base, TIMEOUT_MS, CAP);
    log_capture();
    crm_http_res res = get_ok(h, "/json", 200);
    ck_assert_str_eq(log_captured(), ""); /* an answer is not worth a line */
    ck_assert_str_eq(res.content_type, "application/json");
    ck_assert_str_eq(res.body, json_body);
    ck_assert_uint_eq(res.len, strlen(json_body));
    crm_http_free(h);
}
END_TEST

START_TEST(test_error_status_is_an_answer)
{
    crm_http *h = crm_http_new(base, TIMEOUT_MS, CAP);
    crm_http_res res = get_ok(h, "/problem", 404);
    ck_assert_str_eq(res.content_type, "application/problem+json");
    ck_assert_str_eq(res.body, problem_body);
    ck_assert_uint_eq(res.len, strlen(problem_body));
    res = get_ok(h, "/nowhere", 404);
    ck_assert_str_eq(res.body, "not found\n");
    crm_http_free(h);
}
END_TEST

START_TEST(test_empty_and_binary)
{
    crm_http *h = crm_http_new(base, TIMEOUT_MS, CAP);
    crm_http_res res = get_ok(h, "/empty", 200);
    ck_assert_ptr_null(res.content_type);
    ck_assert_str_eq(res.body, "");
    ck_assert_uint_eq(res.len, 0);
    res = get_ok(h, "/binary", 200);
    ck_assert_str_eq(res.content_type, "application/octet-stream");
    ck_assert_uint_eq(res.len, 3);
    ck_assert_int_eq(memcmp(res.body, "a\0b", 4), 0);
    crm_http_free(h);
}
END_TEST

START_TEST(test_redirect_not_followed)
{
    crm_http *h = crm_http_new(base, TIMEOUT_MS, CAP);
    crm_http_res res = get_ok(h, "/redirect", 302);
    ck_assert_str_eq(res.body, "moved");
    ck_assert_int_eq(__atomic_load_n(&requests_seen, __ATOMIC_SEQ_CST), 1);
    crm_http_free(h);
}
END_TEST

START_TEST(test_trailing_slash_in_base)
{
    char with_slash[80];
    snprintf(with_slash, sizeof(with_slash), "%s/", base);
    crm_http *h = crm_http_new(with_slash, TIMEOUT_MS, CAP);
    crm_http_res res = get_ok(h, "/echo", 200);
    ck_assert_ptr_nonnull(strstr(res.body, "\nurl=/echo\n"));
    crm_http_free(h);
}
END_TEST

START_TEST(test_proxy_environment_ignored)
{
    char proxy[64];
    snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%d", closed_port());
    setenv("http_proxy", proxy, 1);
    setenv("HTTP_PROXY", proxy, 1);
    setenv("ALL_PROXY", proxy, 1);
    crm_http *h = crm_http_new(base, TIMEOUT_MS, CAP);
    crm_http_res res = get_ok(h, "/json", 200);
    ck_assert_str_eq(res.body, json_body);
    crm_http_free(h);
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("ALL_PROXY");
}
END_TEST

/* ---- what arrives at the other side ---- */

START_TEST(test_get_sends_request_id)
{
    crm_http *h = crm_http_new(base, TIMEOUT_MS, CAP);
    crm_http_res res = unset;
    ck_assert_int_eq(crm_http_get(h, arena, "/echo", "req-123", NULL, &res), CRM_OK);
    ck_assert_int_eq(res.status, 200);
    ck_assert_str_eq(res.content_type, "text/plain; charset=utf-8");
    ck_assert_ptr_nonnull(strstr(res.body, "method=GET\n"));
    ck_assert_ptr_nonnull(strstr(res.body, "\nrid=req-123\n"));
    ck_assert_ptr_nonnull(strstr(res.body, "\nlen=0\nbody="));

    res = get_ok(h, "/echo", 200);
    ck_assert_ptr_nonnull(strstr(res.body, "\nrid=-\n"));
    crm_http_free(h);
}
END_TEST

START_TEST(test_post_echo)
{
    crm_http *h = crm_http_new(base, TIMEOUT_MS, CAP);
    const char *const headers[] = { "X-Signature: sig-abc", NULL };
    const char body[] = "{\"a\":1}";
    crm_http_res res = unset;
    int rc = crm_http_post(h, arena, "/echo", "req-9", headers, "application/json", body,
                           strlen(body), &res);
    ck_assert_int_eq(rc, CRM_OK);
    ck_assert_int_eq(res.status, 200);
    ck_assert_str_eq(res.body, "method=POST\nurl=/echo\nrid=req-9\nctype=application/json\n"
                               "sig=sig-abc\nexpect=-\nlen=7\nbody={\"a\":1}");

    /* A body with NUL bytes arrives whole. */
    rc = crm_http_post(h, arena, "/echo", NULL, NULL, "application/octet-stream", "x\0y", 3, &res);
    ck_assert_int_eq(rc, CRM_OK);
    ck_assert_ptr_nonnull(strstr(res.body, "\nlen=3\nbody="));
    ck_assert_int_eq(memcmp(res.body + res.len - 3, "x\0y", 3), 0);

    /* Nothing of the POST leaks into the GET that follows on the handle. */
    res = get_ok(h, "/echo", 200);
    ck_assert_str_eq(res.body,
                     "method=GET\nurl=/echo\nrid=-\nctype=-\nsig=-\nexpect=-\nlen=0\nbody=");
    crm_http_free(h);
}
END_TEST

START_TEST(test_post_empty)
{
    crm_http *h = crm_http_new(base, TIMEOUT_MS, CAP);
    crm_http_res res = unset;
    ck_assert_int_eq(crm_http_post(h, arena, "/echo", NULL, NULL, NULL, NULL, 0, &res), CRM_OK);
    /* No curl default (application/x-www-form-urlencoded) either. */
    ck_assert_str_eq(res.body,
                     "method=POST\nurl=/echo\nrid=-\nctype=-\nsig=-\nexpect=-\nlen=0\nbody=");
    crm_http_free(h);
}
END_TEST

START_TEST(test_post_large_without_expect)
{
    /* Far past the size at which curl would send "Expect: 100-continue". */
    size_t n = 2 * 1024 * 1024 + 3;
    char *big = malloc(n);
    ck_assert_ptr_nonnull(big);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    crm_http *h = crm_http_new(base, TIMEOUT_MS, CAP);
    crm_http_res res = unset;
    ck_assert_int_eq(crm_http_post(h, arena, "/digest", "r", NULL, "text/plain", big, n, &res),
                     CRM_OK);
    char want[256];
    snprintf(want, sizeof(want), "len=%zu\nexpect=-\nfnv=%016llx\n", n,
             (unsigned long long)fnv1a(big, n));
    ck_assert_str_eq(res.body, want);
    crm_http_free(h);
    free(big);
}
END_TEST

START_TEST(test_connection_reused)
{
    crm_http *h = crm_http_new(base, TIMEOUT_MS, CAP);
    get_ok(h, "/json", 200);
    get_ok(h, "/problem", 404);
    crm_http_res res = unset;
    ck_assert_int_eq(crm_http_post(h, arena, "/echo", NULL, NULL, "text/plain", "hi", 2, &res),
                     CRM_OK);
    get_ok(h, "/json", 200);
    ck_assert_int_eq(__atomic_load_n(&requests_seen, __ATOMIC_SEQ_CST), 4);
    ck_assert_int_eq(__atomic_load_n(&conns_started, __ATOMIC_SEQ_CST), 1);

    /* A second client is a second connection. */
    crm_http *h2 = crm_http_new(base, TIMEOUT_MS, CAP);
    get_ok(h2, "/json", 200);
    ck_assert_int_eq(__atomic_load_n(&conns_started, __ATOMIC_SEQ_CST), 2);
    crm_http_free(h2);
    crm_http_free(h);
}
END_TEST

/* ---- the body cap ---- */

static void assert_too_big(crm_http *h, const char *path)
{
    crm_http_res res = unset;
    log_capture();
    int rc = crm_http_get(h, arena, path, NULL, NULL, &res);
    const char *logged = log_captured();
    ck_assert_msg(rc == CRM_TOOBIG, "GET %s: rc %d", path, rc);
    assert_unset(&res);
    ck_assert_int_eq(count_lines(logged), 1);
    ck_assert_ptr_nonnull(strstr(logged, "refused"));
    ck_assert_ptr_null(strstr(logged, "xxxx")); /* never a body */
    ck_assert_ptr_null(strstr(logged, "cccc"));
}

START_TEST(test_cap_by_content_length)
{
    crm_http *h = crm_http_new(base, 2000, CAP);
    crm_http_res res = get_ok(h, "/size/4096", 200);
    ck_assert_uint_eq(res.len, CAP);
    assert_too_big(h, "/size/4097");
    assert_too_big(h, "/size/1000000");
    /* Refused on the header, without waiting for the body. */
    long long t0 = now_ms();
    assert_too_big(h, "/declared");
    ck_assert_int_lt(now_ms() - t0, 1000);
    __atomic_store_n(&slow_release, 1, __ATOMIC_SEQ_CST);
    /* The client goes on. */
    res = get_ok(h, "/json", 200);
    ck_assert_str_eq(res.body, json_body);
    crm_http_free(h);
}
END_TEST

START_TEST(test_cap_by_bytes_received)
{
    crm_http *h = crm_http_new(base, TIMEOUT_MS, CAP);
    crm_http_res res = get_ok(h, "/chunked/4096", 200);
    ck_assert_uint_eq(res.len, CAP);
    ck_assert_uint_eq(strspn(res.body, "c"), CAP);
    assert_too_big(h, "/chunked/4097");
    assert_too_big(h, "/chunked/1000000");
    res = get_ok(h, "/json", 200);
    ck_assert_str_eq(res.body, json_body);
    crm_http_free(h);
}
END_TEST

START_TEST(test_cap_zero)
{
    crm_http *h = crm_http_new(base, TIMEOUT_MS, 0);
    crm_http_res res = get_ok(h, "/empty", 200);
    ck_assert_uint_eq(res.len, 0);
    assert_too_big(h, "/size/1");
    assert_too_big(h, "/chunked/1");
    crm_http_free(h);
}
END_TEST

/* ---- no answer ---- */

START_TEST(test_timeout)
{
    long timeout = 300;
    crm_http *h = crm_http_new(base, timeout, CAP);
    crm_http_res res = unset;
    log_capture();
    long long t0 = now_ms();
    int rc = crm_http_get(h, arena, "/slow", "req-slow", NULL, &res);
    long long took = now_ms() - t0;
    const char *logged = log_captured();
    __atomic_store_n(&slow_release, 1, __ATOMIC_SEQ_CST);
    ck_assert_int_eq(rc, CRM_GONE);
    assert_unset(&res);
    /* Bounds, not speed: it did wait, and not much past the timeout. */
    ck_assert_int_ge(took, timeout - 50);
    ck_assert_int_lt(took, timeout + 1000);
    ck_assert_int_eq(count_lines(logged), 1);
    ck_assert_ptr_nonnull(strstr(logged, "/slow"));
    ck_assert_ptr_nonnull(strstr(logged, "timed out"));
    /* The same client answers again (on a new connection). */
    res = get_ok(h, "/json", 200);
    ck_assert_str_eq(res.body, json_body);
    crm_http_free(h);
}
END_TEST

START_TEST(test_connection_refused)
{
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", closed_port());
    crm_http *h = crm_http_new(url, TIMEOUT_MS, CAP);
    crm_http_res res = unset;
    log_capture();
    long long t0 = now_ms();
    int rc = crm_http_get(h, arena, "/json", NULL, NULL, &res);
    long long took = now_ms() - t0;
    const char *logged = log_captured();
    ck_assert_int_eq(rc, CRM_GONE);
    assert_unset(&res);
    ck_assert_int_lt(took, 1000);
    ck_assert_int_eq(count_lines(logged), 1);
    ck_assert_ptr_nonnull(strstr(logged, "no answer"));
    ck_assert_ptr_nonnull(strstr(logged, "onnect"));
    rc = crm_http_post(h, arena, "/json", NULL, NULL, "text/plain", "x", 1, &res);
    ck_assert_int_eq(rc, CRM_GONE);
    assert_unset(&res);
    crm_http_free(h);
}
END_TEST

START_TEST(test_closed_without_answer)
{
    crm_http *h = crm_http_new(base, TIMEOUT_MS, CAP);
    get_ok(h, "/json", 200); /* an open connection first */
    crm_http_res res = unset;
    ck_assert_int_eq(crm_http_get(h, arena, "/close", NULL, NULL, &res), CRM_GONE);
    assert_unset(&res);
    get_ok(h, "/json", 200);
    crm_http_free(h);
}
END_TEST

START_TEST(test_unresolvable_host)
{
    crm_http *h = crm_http_new("http://no-such-host.invalid:8081", 2000, CAP);
    crm_http_res res = unset;
    ck_assert_int_eq(crm_http_get(h, arena, "/json", NULL, NULL, &res), CRM_GONE);
    assert_unset(&res);
    crm_http_free(h);
}
END_TEST

/* ---- refused before anything is sent ---- */

static void assert_refused_get(crm_http *h, const char *path, const char *rid)
{
    crm_http_res res = unset;
    log_capture();
    int rc = crm_http_get(h, arena, path, rid, NULL, &res);
    const char *logged = log_captured();
    ck_assert_msg(rc == CRM_ERR, "GET \"%s\": rc %d", path != NULL ? path : "(null)", rc);
    assert_unset(&res);
    ck_assert_int_eq(count_lines(logged), 1);
}

START_TEST(test_bad_path)
{
    crm_http *h = crm_http_new(base, TIMEOUT_MS, CAP);
    assert_refused_get(h, "json", NULL);
    assert_refused_get(h, "", NULL);
    assert_refused_get(h, NULL, NULL);
    assert_refused_get(h, "http://127.0.0.1:1/json", NULL);
    assert_refused_get(h, "@evil.example/json", NULL);
    assert_refused_get(h, "/a b", NULL);
    assert_refused_get(h, "/a\r\nX-Injected: 1", NULL);
    assert_refused_get(h, "/a\tb", NULL);
    assert_refused_get(h, "/a\x7f", NULL);
    crm_http_res res = unset;
    ck_assert_int_eq(crm_http_post(h, arena, "echo", NULL, NULL, "text/plain", "x", 1, &res),
                     CRM_ERR);
    assert_unset(&res);
    ck_assert_int_eq(__atomic_load_n(&requests_seen, __ATOMIC_SEQ_CST), 0);
    /* The client is fine afterwards. */
    get_ok(h, "/json", 200);
    crm_http_free(h);
}
END_TEST

START_TEST(test_header_injection_refused)
{
    crm_http *h = crm_http_new(base, TIMEOUT_MS, CAP);
    crm_http_res res = unset;
    assert_refused_get(h, "/echo", "abc\r\nX-Injected: 1");
    assert_refused_get(h, "/echo", "abc\n");

    const char *const crlf[] = { "X-Signature: a\r\nX-Injected: 1", NULL };
    const char *const nocolon[] = { "X-Signature", NULL };
    const char *const second_bad[] = { "X-Ok: 1", "X-Bad: \n", NULL };
    ck_assert_int_eq(crm_http_post(h, arena, "/echo", NULL, crlf, "text/plain", "x", 1, &res),
                     CRM_ERR);
    ck_assert_int_eq(crm_http_post(h, arena, "/echo", NULL, nocolon, "text/plain", "x", 1, &res),
                     CRM_ERR);
    ck_assert_int_eq(crm_http_post(h, arena, "/echo", NULL, second_bad, "text/plain", "x", 1, &res),
                     CRM_ERR);
    ck_assert_int_eq(
        crm_http_post(h, arena, "/echo", NULL, NULL, "text/plain\r\nX-Injected: 1", "x", 1, &res),
        CRM_ERR);
    /* A length without a body. */
    ck_assert_int_eq(crm_http_post(h, arena, "/echo", NULL, NULL, "text/plain", NULL, 5, &res),
                     CRM_ERR);
    assert_unset(&res);
    ck_assert_int_eq(__atomic_load_n(&requests_seen, __ATOMIC_SEQ_CST), 0);
    crm_http_free(h);
}
END_TEST

START_TEST(test_other_schemes_refused)
{
    static const char *const bases[] = { "file://", "ftp://127.0.0.1:%d", "dict://127.0.0.1:%d",
                                         "gopher://127.0.0.1:%d", "telnet://127.0.0.1:%d" };
    for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
        char url[80];
        snprintf(url, sizeof(url), bases[i], port);
        crm_http *h = crm_http_new(url, TIMEOUT_MS, CAP);
        crm_http_res res = unset;
        log_capture();
        int rc = crm_http_get(h, arena, "/etc/hostname", NULL, NULL, &res);
        const char *logged = log_captured();
        ck_assert_msg(rc == CRM_ERR, "%s: rc %d", url, rc);
        assert_unset(&res);
        ck_assert_int_eq(count_lines(logged), 1);
        crm_http_free(h);
    }
    ck_assert_int_eq(__atomic_load_n(&requests_seen, __ATOMIC_SEQ_CST), 0);
    ck_assert_int_eq(__atomic_load_n(&conns_started, __ATOMIC_SEQ_CST), 0);
    crm_http_free(NULL);
}
END_TEST

static Suite *http_suite(void)
{
    Suite *s = suite_create("crm_http");
    TCase *tc = tcase_create("answers");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_get_json);
    tcase_add_test(tc, test_error_status_is_an_answer);
    tcase_add_test(tc, test_empty_and_binary);
    tcase_add_test(tc, test_redirect_not_followed);
    tcase_add_test(tc, test_trailing_slash_in_base);
    tcase_add_test(tc, test_proxy_environment_ignored);
    suite_add_tcase(s, tc);

    tc = tcase_create("requests");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_get_sends_request_id);
    tcase_add_test(tc, test_post_echo);
    tcase_add_test(tc, test_post_empty);
    tcase_add_test(tc, test_post_large_without_expect);
    tcase_add_test(tc, test_connection_reused);
    suite_add_tcase(s, tc);

    tc = tcase_create("cap");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_cap_by_content_length);
    tcase_add_test(tc, test_cap_by_bytes_received);
    tcase_add_test(tc, test_cap_zero);
    suite_add_tcase(s, tc);

    tc = tcase_create("no_answer");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_timeout);
    tcase_add_test(tc, test_connection_refused);
    tcase_add_test(tc, test_closed_without_answer);
    tcase_add_test(tc, test_unresolvable_host);
    suite_add_tcase(s, tc);

    tc = tcase_create("refused");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_bad_path);
    tcase_add_test(tc, test_header_injection_refused);
    tcase_add_test(tc, test_other_schemes_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(http_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    /* What curl_global_init (first crm_http_new) set up, for leak checkers. */
    curl_global_cleanup();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
