/*
 * test_edge.c - NGINX's public listener as a client meets it: TLS
 * versions, cipher suites and key-exchange groups (with `openssl
 * s_client`, the way an operator would check them), and the security
 * headers on answers of every kind: 200, a 303 of a form post, NGINX's own
 * 404, 413 and 429 (the login limit), 401 and 403; and error bodies that never carry what only the
 * server should know (SQL, database messages, errno text, file names, source locations) for hostile
 * input (with the database down: test_zz_faults).
 *
 * The listener allows TLS 1.2 and 1.3 with Mozilla's "intermediate" suites
 * (ECDHE with AES-GCM or ChaCha20-Poly1305) and the groups X25519,
 * prime256v1 and secp384r1. The clients below are set to offer what must
 * be refused (TLS 1.1 at @SECLEVEL=0, CBC suites, other groups), so each
 * refusal is the server's.
 */
#include "itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* host:port of the public listener, from CRM_BASE_URL. */
static const char *target(void)
{
    static char hp[256];
    const char *base = itest_env("CRM_BASE_URL", "https://127.0.0.1:18443");
    const char *p = strstr(base, "://");
    snprintf(hp, sizeof hp, "%s", p ? p + 3 : base);
    hp[strcspn(hp, "/")] = '\0';
    return hp;
}

/*
 * Run openssl s_client with args against the listener; 1 when the
 * handshake completed. The protocol and cipher it reports go to out.
 */
static int handshake(const char *args, char *out, size_t n)
{
    char cmd[1024], line[512];
    snprintf(cmd, sizeof cmd,
             "openssl s_client -connect %s -servername localhost %s </dev/null 2>&1", target(),
             args);
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "cannot run: %s", cmd);
    int ok = 0;
    out[0] = '\0';
    while (fgets(line, sizeof line, p) != NULL) {
        /* "New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384" on success;
           "New, (NONE), Cipher is (NONE)" when no session was made. */
        if (strncmp(line, "New, ", 5) == 0) {
            ok = strstr(line, "(NONE)") == NULL;
            snprintf(out, n, "%s", line);
            out[strcspn(out, "\n")] = '\0';
        }
    }
    pclose(p);
    return ok;
}

#define ACCEPTS(args, want)                                                                        \
    do {                                                                                           \
        char got_[512];                                                                            \
        ck_assert_msg(handshake((args), got_, sizeof got_), "refused: openssl s_client %s (%s)",   \
                      (args), got_);                                                               \
        ck_assert_msg(strstr(got_, (want)) != NULL, "%s: want %s, got %s", (args), (want), got_);  \
    } while (0)
#define REFUSES(args)                                                                              \
    do {                                                                                           \
        char got_[512];                                                                            \
        ck_assert_msg(!handshake((args), got_, sizeof got_), "accepted: openssl s_client %s (%s)", \
                      (args), got_);                                                               \
    } while (0)

START_TEST(test_tls_versions)
{
    ACCEPTS("-tls1_3", "TLSv1.3");
    ACCEPTS("-tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256", "TLSv1.2");
    ACCEPTS("-tls1_2 -cipher ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305", "TLSv1.2");
    /* The client would speak these; the server must not. */
    REFUSES("-tls1_1 -cipher DEFAULT@SECLEVEL=0");
    REFUSES("-tls1 -cipher DEFAULT@SECLEVEL=0");
}
END_TEST

START_TEST(test_tls_suites_and_groups)
{
    /* CBC, even with ECDHE; and RSA key exchange. */
    REFUSES("-tls1_2 -cipher ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA@SECLEVEL=0");
    REFUSES("-tls1_2 -cipher ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384@SECLEVEL=0");
    REFUSES("-tls1_2 -cipher AES128-GCM-SHA256:AES256-SHA@SECLEVEL=0");
    /* Key exchange groups: the three allowed ones, one by one; another refused. */
    ACCEPTS("-tls1_3 -groups X25519", "TLSv1.3");
    ACCEPTS("-tls1_3 -groups P-256", "TLSv1.3");
    ACCEPTS("-tls1_3 -groups P-384", "TLSv1.3");
    REFUSES("-tls1_3 -groups P-521");
    REFUSES("-tls1_3 -groups ffdhe2048");
}
END_TEST

static void headers_ok(itest_resp *r, long status, const char *what)
{
    ck_assert_msg(r->status == status, "%s: want %ld: %s", what, status, itest_describe(r));
    const char *why = itest_check_security_headers(r);
    ck_assert_msg(why == NULL, "%s: %s", what, why);
    static const char *const more[][2] = {
        { "Referrer-Policy", "same-origin" },
        { "X-Frame-Options", "DENY" },
        { "Content-Security-Policy", "frame-ancestors 'none'" },
        { "Strict-Transport-Security", "max-age=63072000" },
    };
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) {
        const char *v = itest_header_get(r, more[i][0]);
        ck_assert_msg(v != NULL && strstr(v, more[i][1]) != NULL, "%s: %s lacks %s: %s", what,
                      more[i][0], more[i][1], itest_describe(r));
    }
    ck_assert_msg(itest_header_get(r, "Server") == NULL ||
                      strcmp(itest_header_get(r, "Server"), "nginx") == 0,
                  "%s: the Server header names a version: %s", what, itest_header_get(r, "Server"));
    itest_free(r);
}

START_TEST(test_headers_everywhere)
{
    headers_ok(itest_get("/api/v1/customers/ping", NULL), 200, "200 from a worker");
    headers_ok(itest_get("/no/such/page", NULL), 404, "404 from NGINX");

    char email[128], body[256];
    itest_unique_email(email, sizeof email, "edge");
    snprintf(body, sizeof body, "name=Edge+Test&email=%s", email);
    const char *form[] = { "Accept: text/html", NULL };
    headers_ok(itest_request("POST", "/api/v1/customers", form, body, strlen(body),
                             "application/x-www-form-urlencoded"),
               303, "303 of a form post");

    size_t big = (1u << 20) + 1024;
    char *huge = malloc(big);
    ck_assert_ptr_nonnull(huge);
    memset(huge, 'a', big);
    headers_ok(itest_request("POST", "/api/v1/customers", NULL, huge, big, "application/json"), 413,
               "413 from NGINX");
    free(huge);
}
END_TEST

/* 401, 403 and NGINX's 429 carry the headers too; the 429 says when to
   come back. The login limit (30/min, burst 20, per address) is met from an
   address of this test's own, so no other suite's logins are slowed. */
START_TEST(test_limits_and_refusals)
{
    char addr[32];
    snprintf(addr, sizeof addr, "127.66.%d.%d", (int)(getpid() / 250 % 250) + 1,
             (int)(getpid() % 250) + 1);

    itest_as(NULL, 0);
    headers_ok(itest_get("/api/v1/customers", NULL), 401, "401 without a token");
    itest_as("viewer", 5);
    headers_ok(itest_json("POST", "/api/v1/customers", NULL, "{}"), 403, "403 for a viewer");
    itest_as(NULL, 0);

    itest_set_source_addr(addr);
    itest_resp *limited = NULL;
    int before = 0;
    for (int i = 0; i < 60 && limited == NULL; i++) {
        /* A body identity refuses before any password check: nothing is
           counted against an account. */
        itest_resp *r = itest_json("POST", "/api/v1/auth/login", NULL, "{}");
        if (r->status == 429) {
            limited = r;
            break;
        }
        ck_assert_msg(r->status == 400 || r->status == 422, "login %d: %s", i, itest_describe(r));
        before++;
        itest_free(r);
    }
    itest_set_source_addr(NULL);
    ck_assert_msg(limited != NULL, "60 fast logins from %s and no 429", addr);
    ck_assert_msg(before >= 20, "429 after only %d logins (burst 20)", before);
    ITEST_ASSERT_PROBLEM(limited, 429);
    const char *ra = itest_header_get(limited, "Retry-After");
    ck_assert_msg(ra != NULL && atoi(ra) > 0, "429 without Retry-After: %s",
                  itest_describe(limited));
    headers_ok(limited, 429, "429 from NGINX's login limit");

    /* Other addresses are not limited by it. */
    itest_resp *r = itest_json("POST", "/api/v1/auth/login", NULL, "{}");
    ck_assert_msg(r->status != 429, "another address is limited: %s", itest_describe(r));
    itest_free(r);

    /* Writes have their limit too (the test stack raises its rate, since
       the suites write thousands a second from one address). */
    char path[4096];
    snprintf(path, sizeof path, "%s/nginx/nginx.conf", itest_env("CRM_STATE", "state/test"));
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot read %s", path);
    static char conf[1 << 16];
    size_t n = fread(conf, 1, sizeof conf - 1, f);
    fclose(f);
    conf[n] = '\0';
    ck_assert_msg(strstr(conf, "limit_req zone=writes") != NULL, "no write limit in %s", path);
    ck_assert_msg(strstr(conf, "limit_req_status 429;") != NULL, "limits do not answer 429");

    /* The admin endpoints are not on the public listener. */
    static const char *const admin[] = { "/healthz", "/readyz", "/metrics" };
    for (size_t i = 0; i < 3; i++) {
        r = itest_get(admin[i], NULL);
        ck_assert_msg(r->status == 404, "%s on the public listener: %s", admin[i],
                      itest_describe(r));
        itest_free(r);
    }
}
END_TEST

/* The login page a browser lands on (logout sends it there): served with
   the headers, a plain form to the login route, every input labelled. */
START_TEST(test_login_page)
{
    itest_as(NULL, 0);
    const char *html[] = { "Accept: text/html", NULL };
    itest_resp *r = itest_request("POST", "/api/v1/auth/logout", html, NULL, 0, NULL);
    ck_assert_msg(r->status == 303, "logout: %s", itest_describe(r));
    const char *loc = itest_header_get(r, "Location");
    ck_assert_msg(loc != NULL && strcmp(loc, "/login.html") == 0, "logout to %s",
                  loc ? loc : "(none)");
    itest_free(r);

    r = itest_get("/login.html", NULL);
    ck_assert_msg(strstr(r->body, "<form method=\"post\" action=\"/api/v1/auth/login\"") != NULL,
                  "no login form: %s", itest_describe(r));
    static const char *const inputs[] = { "email", "password" };
    for (size_t i = 0; i < 2; i++) {
        char label[64], input[64];
        snprintf(label, sizeof label, "<label for=\"%s\">", inputs[i]);
        snprintf(input, sizeof input, "id=\"%s\" name=\"%s\"", inputs[i], inputs[i]);
        ck_assert_msg(strstr(r->body, label) != NULL && strstr(r->body, input) != NULL,
                      "%s has no labelled input", inputs[i]);
    }
    ck_assert_msg(strstr(r->body, "<script") == NULL && strstr(r->body, "style=") == NULL,
                  "inline script or style: the CSP would refuse it");
    headers_ok(r, 200, "the login page");
}
END_TEST

/* The UI's assets: named by a hash of their content (scripts/ui-build.sh),
   so kept for a year, with the security headers all the same; a page is
   never cached; the start page sends to the customers' list. */
START_TEST(test_assets_cached)
{
    itest_as(NULL, 0);
    itest_resp *r = itest_get("/login.html", NULL);
    ITEST_ASSERT_STATUS(r, 200);
    const char *href = strstr(r->body, "href=\"/assets/style.");
    ck_assert_msg(href != NULL, "no fingerprinted stylesheet: %s", itest_describe(r));
    char path[128];
    size_t n = strcspn(href + 6, "\"");
    ck_assert_uint_lt(n, sizeof path);
    memcpy(path, href + 6, n);
    path[n] = '\0';
    /* style.<12 hex>.css */
    ck_assert_uint_eq(strlen(path), strlen("/assets/style..css") + 12);
    itest_free(r);

    r = itest_get(path, NULL);
    const char *cc = itest_header_get(r, "Cache-Control");
    ck_assert_msg(cc != NULL && strstr(cc, "max-age=315360000") != NULL, "%s: Cache-Control %s",
                  path, cc ? cc : "(none)");
    ck_assert_ptr_nonnull(itest_header_get(r, "Expires"));
    ck_assert_msg(strstr(itest_header_get(r, "Content-Type"), "text/css") != NULL, "%s",
                  itest_describe(r));
    headers_ok(r, 200, path); /* frees r */

    /* No unfingerprinted copy to go stale in a cache. */
    r = itest_get("/assets/style.css", NULL);
    ITEST_ASSERT_STATUS(r, 404);
    itest_free(r);

    r = itest_get("/", NULL);
    ITEST_ASSERT_STATUS(r, 302);
    ck_assert_str_eq(itest_header_get(r, "Location") + strlen(itest_header_get(r, "Location")) -
                         strlen("/customers"),
                     "/customers");
    itest_free(r);

    /* A page, not logged in: a browser goes to the login page. */
    const char *html[] = { "Accept: text/html", NULL };
    r = itest_get("/customers", html);
    ITEST_ASSERT_STATUS(r, 303);
    ck_assert_str_eq(itest_header_get(r, "Location"), "/login.html");
    itest_free(r);
}
END_TEST

static void no_leak(itest_resp *r, const char *what)
{
    const char *hit = itest_leak(r);
    ck_assert_msg(r->status >= 400, "%s: want an error: %s", what, itest_describe(r));
    ck_assert_msg(hit == NULL, "%s: the answer holds \"%s\": %s", what, hit, itest_describe(r));
    itest_free(r);
}

START_TEST(test_error_bodies)
{
    char *big = malloc(200001);
    ck_assert_ptr_nonnull(big);
    memset(big, 'x', 200000);
    big[200000] = '\0';
    char body[512];
    char *long_body = malloc(200100);
    ck_assert_ptr_nonnull(long_body);
    snprintf(long_body, 200100, "{\"name\":\"%s\",\"email\":\"a@b.example\"}", big);

    /* Stray quotes and SQL-looking text where values go. */
    static const char *const gets[] = {
        "/api/v1/customers?q=%27%22%29%3B--",
        "/api/v1/customers?sort=name%27",
        "/api/v1/customers?cursor=%27%20OR%201%3D1",
        "/api/v1/customers?limit=1%27",
        "/api/v1/customers/1%27",
        "/api/v1/products?sku=%27%3BDROP",
        "/api/v1/orders?status=%27",
        "/api/v1/sales/summary?from=2026-01-01%27",
        "/api/v1/campaigns?channel=%27",
        "/api/v1/segments/1%22/members",
        "/api/v1/analytics/customers/%27",
    };
    for (size_t i = 0; i < sizeof gets / sizeof gets[0]; i++)
        no_leak(itest_get(gets[i], NULL), gets[i]);
    static const char *const posts[][2] = {
        { "/api/v1/customers", "{\"name\":\"O'Brien\\\"\",\"email\":\"x'@y\"}" },
        { "/api/v1/customers", "{\"name\":\"a\",\"email\":\"a@b.example\",\"status\":\"'\"}" },
        { "/api/v1/products", "{\"sku\":\"A';--\",\"name\":\"n\",\"price_cents\":1,"
                              "\"currency\":\"EUR\"}" },
        { "/api/v1/orders", "{\"customer_id\":\"1 OR 1=1\",\"lines\":[]}" },
        { "/api/v1/segments/preview", "{\"rule\":{\"all\":[{\"field\":\"status\","
                                      "\"op\":\"eq\",\"value\":\"x' OR '1'='1\"}]}}" },
        { "/api/v1/campaigns", "{\"name\":\"c\",\"channel\":\"email'\",\"currency\":\"EUR\"}" },
    };
    for (size_t i = 0; i < sizeof posts / sizeof posts[0]; i++)
        no_leak(itest_json("POST", posts[i][0], NULL, posts[i][1]), posts[i][1]);

    /* Oversize values: one field far past its limit, a body past 1 MiB. */
    no_leak(itest_json("POST", "/api/v1/customers", NULL, long_body), "a 200,000-byte name");
    snprintf(body, sizeof body, "/api/v1/customers?q=%.400s", big);
    itest_resp *r = itest_get(body, NULL); /* a long word is a search, not an error */
    const char *hit = itest_leak(r);
    ck_assert_msg(hit == NULL, "a 400-byte query: the answer holds \"%s\": %s", hit,
                  itest_describe(r));
    itest_free(r);
    free(long_body);
    free(big);
}
END_TEST

static Suite *edge_suite(void)
{
    Suite *s = suite_create("edge");
    TCase *tc = tcase_create("public_listener");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, itest_teardown);
    tcase_add_test(tc, test_tls_versions);
    tcase_add_test(tc, test_tls_suites_and_groups);
    tcase_add_test(tc, test_headers_everywhere);
    tcase_add_test(tc, test_limits_and_refusals);
    tcase_add_test(tc, test_login_page);
    tcase_add_test(tc, test_assets_cached);
    tcase_add_test(tc, test_error_bodies);
    suite_add_tcase(s, tc);

    return s;
}

int main(void)
{
    itest_init();
    SRunner *sr = srunner_create(edge_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
