/*
 * test_crm_admin.c - the admin port, driven by crm_admin_run() in the
 * test's main thread (as the supervisor does) while a client thread talks
 * HTTP to it with libcurl.
 */
#include "crm_admin.h"
#include "crm_log.h"
#include "crm_metrics.h"

#include <check.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* Set by the client thread, read by the ready callback and main loop. */
static int want_ready = 1;
static const char *want_why = "database unreachable";
static int want_draining;
static int client_done;
static int ready_calls;

static int ready_cb(void *ctx, const char **why)
{
    ck_assert_ptr_eq(ctx, &want_ready);
    __atomic_add_fetch(&ready_calls, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&want_ready, __ATOMIC_SEQ_CST))
        return 1;
    *why = want_why;
    return 0;
}

/* The port of the one listening TCP socket this process has. */
static int find_listen_port(void)
{
    for (int fd = 3; fd < 1024; fd++) {
        int acc = 0;
        socklen_t len = sizeof(acc);
        struct sockaddr_storage ss;
        socklen_t slen = sizeof(ss);
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) != 0 || !acc)
            continue;
        if (getsockname(fd, (struct sockaddr *)&ss, &slen) != 0 || ss.ss_family != AF_INET)
            continue;
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    return -1;
}

typedef struct {
    long status;
    char body[8192];
    size_t len;
    char headers[4096];
    size_t hlen;
    char ctype[128];
} response;

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    response *r = ud;
    size_t len = size * n;
    if (len > sizeof(r->body) - 1 - r->len)
        len = sizeof(r->body) - 1 - r->len;
    memcpy(r->body + r->len, p, len);
    r->len += len;
    r->body[r->len] = '\0';
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    response *r = ud;
    size_t len = size * n;
    if (len > sizeof(r->headers) - 1 - r->hlen)
        len = sizeof(r->headers) - 1 - r->hlen;
    memcpy(r->headers + r->hlen, p, len);
    r->hlen += len;
    r->headers[r->hlen] = '\0';
    return size * n;
}

static int port;

static void http(const char *method, const char *path, response *r)
{
    char url[256];
    memset(r, 0, sizeof(*r));
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    CURL *c = curl_easy_init();
    ck_assert_ptr_nonnull(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "POST") == 0)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "x=1");
    else if (strcmp(method, "GET") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    CURLcode rc = curl_easy_perform(c);
    ck_assert_msg(rc == CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    char *ct = NULL;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    if (ct != NULL)
        snprintf(r->ctype, sizeof(r->ctype), "%s", ct);
    curl_easy_cleanup(c);
}

static void *client(void *arg)
{
    response r;
    (void)arg;

    http("GET", "/healthz", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "ok\n");
    ck_assert_str_eq(r.ctype, "text/plain; charset=utf-8");
    ck_assert_ptr_nonnull(strstr(r.headers, "Cache-Control: no-store"));

    http("HEAD", "/healthz", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.len, 0);

    /* Ready; then not ready, which shows once the cached answer expires. */
    http("GET", "/readyz", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "ready\n");
    int calls = __atomic_load_n(&ready_calls, __ATOMIC_SEQ_CST);
    __atomic_store_n(&want_ready, 0, __ATOMIC_SEQ_CST);
    http("GET", "/readyz", &r);
    ck_assert_int_eq(r.status, 200); /* cached for about a second */
    ck_assert_int_eq(__atomic_load_n(&ready_calls, __ATOMIC_SEQ_CST), calls);
    usleep(1100 * 1000);
    http("GET", "/readyz", &r);
    ck_assert_int_eq(r.status, 503);
    ck_assert_str_eq(r.body, "database unreachable\n");
    http("GET", "/readyz", &r);
    ck_assert_int_eq(r.status, 503);
    ck_assert_int_eq(__atomic_load_n(&ready_calls, __ATOMIC_SEQ_CST), calls + 1);

    /* A reason-less "not ready" still says something. */
    want_why = NULL;
    usleep(1100 * 1000);
    http("GET", "/readyz", &r);
    ck_assert_int_eq(r.status, 503);
    ck_assert_str_eq(r.body, "not ready\n");

    /* Draining wins over a ready database. */
    __atomic_store_n(&want_ready, 1, __ATOMIC_SEQ_CST);
    usleep(1100 * 1000);
    http("GET", "/readyz", &r);
    ck_assert_int_eq(r.status, 200);
    __atomic_store_n(&want_draining, 1, __ATOMIC_SEQ_CST);
    usleep(100 * 1000); /* the main loop applies it */
    http("GET", "/readyz", &r);
    ck_assert_int_eq(r.status, 503);
    ck_assert_str_eq(r.body, "draining\n");
    http("GET", "/healthz", &r);
    ck_assert_int_eq(r.status, 200); /* alive while draining */

    http("GET", "/metrics", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.ctype, "text/plain; version=0.0.4; charset=utf-8");
    ck_assert_ptr_nonnull(strstr(r.body, "# TYPE crm_workers gauge\n"));
    ck_assert_ptr_nonnull(strstr(r.body, "crm_workers{service=\"admintest\"} 4\n"));
    ck_assert_ptr_nonnull(strstr(r.body, "crm_http_requests_total{service=\"admintest\","
                                         "route=\"ping\",status=\"200\"} 1\n"));

    http("GET", "/nope", &r);
    ck_assert_int_eq(r.status, 404);
    http("GET", "/healthz/", &r);
    ck_assert_int_eq(r.status, 404);
    http("POST", "/healthz", &r);
    ck_assert_int_eq(r.status, 405);
    ck_assert_ptr_nonnull(strstr(r.headers, "Allow: GET, HEAD"));
    http("DELETE", "/metrics", &r);
    ck_assert_int_eq(r.status, 405);
    http("POST", "/nope", &r);
    ck_assert_int_eq(r.status, 404);

    __atomic_store_n(&client_done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

/* What the supervisor loop does, until the client is done. */
static void serve_until_done(void)
{
    while (!__atomic_load_n(&client_done, __ATOMIC_SEQ_CST)) {
        struct pollfd p = { .fd = crm_admin_fd(), .events = POLLIN };
        int t = crm_admin_timeout_ms();
        if (t < 0 || t > 50)
            t = 50;
        poll(&p, 1, t);
        crm_admin_run();
        crm_admin_set_draining(__atomic_load_n(&want_draining, __ATOMIC_SEQ_CST));
    }
}

START_TEST(test_endpoints)
{
    static const char *const routes[] = { "ping" };
    crm_log_init("admintest", CRM_LOG_WARN);
    ck_assert_int_eq(crm_metrics_init("admintest", 1, routes, 1), CRM_OK);
    crm_metrics_workers(4);
    pid_t w = fork();
    if (w == 0) {
        crm_metrics_attach(0);
        crm_metrics_request(0, 200, 0.001);
        _exit(0);
    }
    waitpid(w, NULL, 0);

    ck_assert_int_eq(crm_admin_fd(), -1);
    ck_assert_int_eq(crm_admin_start("127.0.0.1", 0, ready_cb, &want_ready), CRM_OK);
    ck_assert_int_ge(crm_admin_fd(), 0);
    port = find_listen_port();
    ck_assert_int_gt(port, 0);

    curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, client, NULL), 0);
    serve_until_done();
    pthread_join(th, NULL);
    curl_global_cleanup();
    crm_admin_stop();
    ck_assert_int_eq(crm_admin_fd(), -1);
}
END_TEST

static void *client_health(void *arg)
{
    response r;
    (void)arg;
    http("GET", "/healthz", &r);
    ck_assert_int_eq(r.status, 200);
    __atomic_store_n(&client_done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

START_TEST(test_fork_child_closes_only_its_copies)
{
    crm_log_init("admintest", CRM_LOG_WARN);
    ck_assert_int_eq(crm_admin_start("127.0.0.1", 0, NULL, NULL), CRM_OK);
    port = find_listen_port();
    ck_assert_int_gt(port, 0);

    /* A "worker": drops the inherited admin descriptors and lives on. */
    int sync[2];
    ck_assert_int_eq(pipe(sync), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(sync[0]);
        crm_admin_stop();
        int left = find_listen_port();
        ssize_t wr = write(sync[1], "x", 1);
        (void)wr;
        sleep(2);
        _exit(left == -1 && crm_admin_fd() == -1 ? 0 : 1);
    }
    close(sync[1]);
    char c;
    ck_assert_int_eq(read(sync[0], &c, 1), 1);
    close(sync[0]);

    /* The supervisor's daemon still works, the child still running. */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    client_done = 0;
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, client_health, NULL), 0);
    serve_until_done();
    pthread_join(th, NULL);
    curl_global_cleanup();

    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    crm_admin_stop();
}
END_TEST

START_TEST(test_port_in_use_and_restart)
{
    crm_log_init("admintest", CRM_LOG_ERROR);
    ck_assert_int_eq(crm_admin_start("127.0.0.1", 0, NULL, NULL), CRM_OK);
    int p = find_listen_port();
    ck_assert_int_gt(p, 0);
    ck_assert_int_eq(crm_admin_start("127.0.0.1", p, NULL, NULL), CRM_ERR); /* running */
    crm_admin_stop();

    /* Someone else holds the port. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1; /* shares the port only with sockets that also ask for it */
    ck_assert_int_eq(setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)), 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(s, 1), 0);
    socklen_t len = sizeof(sa);
    getsockname(s, (struct sockaddr *)&sa, &len);
    int busy = ntohs(sa.sin_port);
    ck_assert_int_eq(crm_admin_start("127.0.0.1", busy, NULL, NULL), CRM_ERR);
    ck_assert_int_eq(crm_admin_fd(), -1);
    ck_assert_int_eq(crm_admin_start("not an address", 0, NULL, NULL), CRM_ERR);
    close(s);

    ck_assert_int_eq(crm_admin_start("127.0.0.1", 0, NULL, NULL), CRM_OK);
    crm_admin_run(); /* nothing pending: returns at once */
    crm_admin_stop();
    crm_admin_stop(); /* twice is harmless */
}
END_TEST

static int slow_ready_cb(void *ctx, const char **why)
{
    (void)ctx;
    (void)why;
    __atomic_add_fetch(&ready_calls, 1, __ATOMIC_SEQ_CST);
    usleep(1000 * 1000); /* a database timing out */
    return 1;
}

static void *client_slow_ready(void *arg)
{
    response r;
    (void)arg;
    http("GET", "/readyz", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(__atomic_load_n(&ready_calls, __ATOMIC_SEQ_CST), 1);
    /* A slow answer is kept about twice as long as it took, not 1 s. */
    usleep(1300 * 1000);
    http("GET", "/readyz", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(__atomic_load_n(&ready_calls, __ATOMIC_SEQ_CST), 1);
    usleep(1000 * 1000);
    http("GET", "/readyz", &r);
    ck_assert_int_eq(__atomic_load_n(&ready_calls, __ATOMIC_SEQ_CST), 2);
    __atomic_store_n(&client_done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

START_TEST(test_slow_ready_is_asked_less)
{
    crm_log_init("admintest", CRM_LOG_WARN);
    ready_calls = 0;
    client_done = 0;
    want_draining = 0;
    ck_assert_int_eq(crm_admin_start("127.0.0.1", 0, slow_ready_cb, NULL), CRM_OK);
    port = find_listen_port();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, client_slow_ready, NULL), 0);
    serve_until_done();
    pthread_join(th, NULL);
    curl_global_cleanup();
    crm_admin_stop();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("crm_admin");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_endpoints);
    tcase_add_test(tc, test_fork_child_closes_only_its_copies);
    tcase_add_test(tc, test_port_in_use_and_restart);
    tcase_add_test(tc, test_slow_ready_is_asked_less);
    suite_add_tcase(s, tc);
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
