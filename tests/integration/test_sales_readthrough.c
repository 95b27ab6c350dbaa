/*
 * test_sales_readthrough.c - sales reading customers through from the
 * customers service (docs/api-sales.md, "Customers"): the internal route it
 * uses, orders for customers it has not seen yet, and what happens while
 * the customers pool is down (503 for unknown customers, known ones keep
 * working, no hang). Customers' events usually tell sales of a new
 * customer first; an id no customer has is what only the read-through can
 * answer. The customers pool is started again whatever happens (an
 * unchecked fixture, in the runner's process).
 */
#include "itest.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define CUSTOMERS_SVC "customers"
#define NO_HANG_S     5.0

static const char *str_or(const char *s)
{
    return s ? s : "(null)";
}

/* GET $CRM_INTERNAL_URL + path, signed as a service call (over the path)
   when signed is set, with extra (may be NULL) as one more header. */
static itest_resp *internal_get_as(const char *path, int signed_call, const char *extra)
{
    const char *base = getenv("CRM_INTERNAL_URL");
    ck_assert_msg(base && *base, "CRM_INTERNAL_URL is not set");
    char url[512], key[256], sig[68], ts_line[64], sig_line[96];
    const char *headers[4] = { NULL, NULL, NULL, NULL };
    size_t n = 0;
    snprintf(url, sizeof url, "%s%s", base, path);
    if (signed_call) {
        long long ts = (long long)time(NULL);
        itest_event_key(key, sizeof key);
        itest_event_sign(key, ts, path, sig);
        snprintf(ts_line, sizeof ts_line, "X-CRM-Timestamp: %lld", ts);
        snprintf(sig_line, sizeof sig_line, "X-CRM-Signature: %s", sig);
        headers[n++] = ts_line;
        headers[n++] = sig_line;
    }
    if (extra != NULL)
        headers[n++] = extra;
    return itest_request_url("GET", url, headers, NULL, 0, NULL);
}

static itest_resp *internal_get(const char *path)
{
    return internal_get_as(path, 1, NULL);
}

static const char *path_of(int64_t id)
{
    static char path[128];
    snprintf(path, sizeof path, "/internal/v1/customers/%" PRId64, id);
    return path;
}

static itest_resp *internal_customer(int64_t id)
{
    return internal_get(path_of(id));
}

static int is_bool(json_object *o, const char *key, int want)
{
    json_object *v = itest_jget(o, key);
    return v != NULL && json_object_is_type(v, json_type_boolean) &&
           json_object_get_boolean(v) == want;
}

/* GET /api/v1/customers/ping until it answers 200 or secs pass. */
static int wait_customers(double secs)
{
    double until = itest_now() + secs;
    while (itest_now() < until) {
        itest_resp *r = itest_get(ITEST_CUSTOMERS "/ping", NULL);
        long st = r->status;
        itest_free(r);
        if (st == 200)
            return 1;
        itest_sleep_ms(100);
    }
    return 0;
}

static void stack_ok(const char *cmd, const char *svc)
{
    char out[8192];
    const char *args[] = { cmd, svc, NULL };
    int rc = itest_stack(out, sizeof out, args);
    ck_assert_msg(rc == 0, "stack.sh %s %s exited %d: %s", cmd, svc, rc, out);
}

static int64_t new_product(void)
{
    return itest_new_product(500, "EUR", NULL);
}

static itest_resp *order_for(int64_t customer, int64_t product)
{
    char lines[128];
    snprintf(lines, sizeof lines, "[{\"product_id\":%" PRId64 ",\"quantity\":1}]", product);
    return itest_create_order(customer, lines, NULL, NULL);
}

/* ---- customers up ------------------------------------------------------------------------- */

START_TEST(test_internal_route)
{
    char email[128], body[256];
    itest_unique_email(email, sizeof email, "rt");
    snprintf(body, sizeof body, "{\"name\":\"Read Through\",\"email\":\"%s\"}", email);
    itest_resp *c = itest_json("POST", ITEST_CUSTOMERS, NULL, body);
    ITEST_ASSERT_STATUS(c, 201);
    int64_t id = itest_jint(c->json, "id");
    itest_free(c);

    itest_resp *r = internal_customer(id);
    ck_assert_msg(r->status == 200, "%s", itest_describe(r));
    const char *ct = itest_header_get(r, "Content-Type");
    ck_assert_msg(ct && strncasecmp(ct, "application/json", 16) == 0, "%s", itest_describe(r));
    ck_assert_int_eq(itest_jint(r->json, "id"), id);
    ck_assert_str_eq(str_or(itest_jstr(r->json, "name")), "Read Through");
    ck_assert_str_eq(str_or(itest_jstr(r->json, "email")), email);
    ck_assert_str_eq(str_or(itest_jstr(r->json, "status")), "lead");
    ck_assert_msg(is_bool(r->json, "deleted", 0), "deleted is not false: %s", itest_describe(r));
    ck_assert_int_eq(itest_jint(r->json, "version"), 1);
    itest_free(r);

    /* A change shows with its version. */
    char path[128];
    snprintf(path, sizeof path, ITEST_CUSTOMERS "/%" PRId64, id);
    r = itest_json("PATCH", path, NULL, "{\"status\":\"prospect\",\"name\":\"Read Again\"}");
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);
    r = internal_customer(id);
    ck_assert_msg(r->status == 200, "%s", itest_describe(r));
    ck_assert_str_eq(str_or(itest_jstr(r->json, "status")), "prospect");
    ck_assert_str_eq(str_or(itest_jstr(r->json, "name")), "Read Again");
    ck_assert_int_eq(itest_jint(r->json, "version"), 2);
    itest_free(r);

    /* A deleted customer is still answered, marked deleted. */
    r = itest_request("DELETE", path, NULL, NULL, 0, NULL);
    ITEST_ASSERT_STATUS(r, 204);
    itest_free(r);
    r = internal_customer(id);
    ck_assert_msg(r->status == 200, "deleted customer: %s", itest_describe(r));
    ck_assert_int_eq(itest_jint(r->json, "id"), id);
    ck_assert_msg(is_bool(r->json, "deleted", 1), "deleted is not true: %s", itest_describe(r));
    ck_assert_msg(itest_jint(r->json, "version") >= 2, "%s", itest_describe(r));
    itest_free(r);

    /* Only signed service calls: not an unsigned one, not a user's token,
       not a signature over another path. */
    r = internal_get_as(path_of(id), 0, NULL);
    ck_assert_msg(r->status == 401, "unsigned: %s", itest_describe(r));
    itest_free(r);
    char bearer[4096];
    itest_bearer(bearer, sizeof bearer, "admin", ITEST_ADMIN_ID);
    r = internal_get_as(path_of(id), 0, bearer);
    ck_assert_msg(r->status == 401, "user token: %s", itest_describe(r));
    itest_free(r);

    /* Unknown ids and non-ids. */
    r = internal_customer(9000000000LL);
    ck_assert_msg(r->status == 404, "unknown customer: %s", itest_describe(r));
    itest_free(r);
    r = internal_get("/internal/v1/customers/abc");
    ck_assert_msg(r->status == 404, "%s", itest_describe(r));
    itest_free(r);
    r = internal_get("/internal/v1/customers/0");
    ck_assert_msg(r->status == 404, "%s", itest_describe(r));
    itest_free(r);
}
END_TEST

START_TEST(test_internal_not_public)
{
    int64_t id = itest_new_customer(NULL);
    char path[128];
    snprintf(path, sizeof path, "/internal/v1/customers/%" PRId64, id);
    itest_resp *r = itest_get(path, NULL);
    ck_assert_msg(r->status == 404, "public %s: %s", path, itest_describe(r));
    ITEST_ASSERT_PROBLEM(r, 404);
    ITEST_ASSERT_SECURITY(r);
    ck_assert_msg(strstr(r->body, "\"email\"") == NULL, "customer data on the public listener: %s",
                  itest_describe(r));
    itest_free(r);
}
END_TEST

START_TEST(test_order_new_customer)
{
    int64_t p = new_product();
    int64_t cust = itest_new_customer(NULL);
    itest_resp *r = order_for(cust, p);
    ITEST_ASSERT_STATUS(r, 201);
    ck_assert_int_eq(itest_jint(r->json, "customer_id"), cust);
    itest_free(r);
    /* A second order for it, and a PATCH to another fresh customer. */
    r = order_for(cust, p);
    ITEST_ASSERT_STATUS(r, 201);
    int64_t oid = itest_jint(r->json, "id");
    itest_free(r);
    int64_t other = itest_new_customer(NULL);
    char path[128], body[96];
    snprintf(path, sizeof path, ITEST_ORDERS "/%" PRId64, oid);
    snprintf(body, sizeof body, "{\"customer_id\":%" PRId64 "}", other);
    r = itest_json("PATCH", path, NULL, body);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_int_eq(itest_jint(r->json, "customer_id"), other);
    itest_free(r);
}
END_TEST

/* ---- customers down ----------------------------------------------------------------------- */

START_TEST(test_customers_down)
{
    int64_t p = new_product();
    /* Known to sales: used in an order before the outage. */
    int64_t known = itest_new_customer(NULL);
    itest_resp *r = order_for(known, p);
    ITEST_ASSERT_STATUS(r, 201);
    itest_free(r);
    /* An id sales has never heard of (no customer has it, so no event
       will ever tell sales about it): only the read-through can answer. */
    const int64_t unseen = 9000000001LL + (int64_t)getpid();

    stack_ok("pool-stop", CUSTOMERS_SVC);
    itest_set_timeout_ms(15000); /* a hang shows as a slow answer, not a curl timeout */
    r = itest_get(ITEST_CUSTOMERS "/ping", NULL);
    ck_assert_msg(r->status != 200, "customers still answers after pool-stop: %s",
                  itest_describe(r));
    itest_free(r);

    /* Customers sales knows keep working. */
    r = order_for(known, p);
    ck_assert_msg(r->status == 201, "known customer with customers down: %s", itest_describe(r));
    ITEST_ASSERT_STATUS(r, 201);
    itest_free(r);

    /* One it does not know: 503 (it cannot tell), quickly, with Retry-After. */
    r = order_for(unseen, p);
    ck_assert_msg(r->seconds < NO_HANG_S, "the order took %.2f s with customers down: %s",
                  r->seconds, itest_describe(r));
    ITEST_ASSERT_PROBLEM_TYPE(r, 503, "/problems/dependency-unavailable");
    const char *ra = itest_header_get(r, "Retry-After");
    ck_assert_msg(ra != NULL && atoi(ra) >= 1, "503 without a Retry-After: %s", itest_describe(r));
    ITEST_ASSERT_SECURITY(r);
    itest_free(r);

    /* Sales itself is fine meanwhile. */
    r = itest_get(ITEST_PRODUCTS "?limit=1", NULL);
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);

    /* Customers back: the read-through gets its answer (no such customer: 422). */
    stack_ok("pool-start", CUSTOMERS_SVC);
    ck_assert_msg(wait_customers(30), "customers does not answer 30 s after pool-start");
    long status = 0;
    for (int attempt = 0; attempt < 3; attempt++) {
        r = order_for(unseen, p);
        status = r->status;
        if (status != 503) {
            ck_assert_msg(status == 422, "unknown customer after the restart: %s",
                          itest_describe(r));
            ck_assert_int_eq(itest_problem_field_count(r, "customer_id"), 1);
            itest_free(r);
            break;
        }
        /* Honour Retry-After (bounded) before trying again. */
        const char *after = itest_header_get(r, "Retry-After");
        long wait = after ? atol(after) : 1;
        itest_free(r);
        itest_sleep_ms(1000 * (wait < 1 ? 1 : wait > 5 ? 5 : wait));
    }
    ck_assert_msg(status == 422, "the unknown customer's order still gets %ld after the restart",
                  status);
    r = order_for(known, p);
    ITEST_ASSERT_STATUS(r, 201);
    itest_free(r);
}
END_TEST

/* Whatever happened in the test, leave the customers pool running. */
static void restore_customers(void)
{
    itest_resp *r = itest_get(ITEST_CUSTOMERS "/ping", NULL);
    long st = r->status;
    itest_free(r);
    if (st == 200)
        return;
    const char *args[] = { "pool-start", CUSTOMERS_SVC, NULL };
    char out[4096];
    int rc = itest_stack(out, sizeof out, args);
    if (rc != 0)
        fprintf(stderr, "test_sales_readthrough: stack.sh pool-start %s exited %d: %s\n",
                CUSTOMERS_SVC, rc, out);
    if (!wait_customers(30))
        fprintf(stderr, "test_sales_readthrough: customers does not answer after pool-start\n");
}

static Suite *readthrough_suite(void)
{
    Suite *s = suite_create("sales_readthrough");
    TCase *up = tcase_create("customers_up");
    tcase_set_timeout(up, 60);
    tcase_add_checked_fixture(up, NULL, itest_teardown);
    tcase_add_test(up, test_internal_route);
    tcase_add_test(up, test_internal_not_public);
    tcase_add_test(up, test_order_new_customer);
    suite_add_tcase(s, up);

    TCase *down = tcase_create("customers_down");
    tcase_set_timeout(down, 180);
    tcase_add_unchecked_fixture(down, NULL, restore_customers);
    tcase_add_checked_fixture(down, NULL, itest_teardown);
    tcase_add_test(down, test_customers_down);
    suite_add_tcase(s, down);
    return s;
}

int main(void)
{
    itest_init();
    SRunner *sr = srunner_create(readthrough_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
