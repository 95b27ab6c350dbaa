/*
 * test_crm_html.c - the pages' building blocks: escaping, fields and
 * forms, formats, and problems as pages for browsers (with the login
 * page for a reader who is not logged in).
 */
#include "crm_html.h"

#include "crm_assets.h"
#include "crm_body.h"

#include "../fake_req.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static crm_buf b;

static void setup(void)
{
    crm_buf_init(&b, 0);
}

static void teardown(void)
{
    crm_buf_free(&b);
}

static const char *out(void)
{
    return b.len > 0 ? b.data : "";
}

START_TEST(test_escape)
{
    crm_html_esc(&b, "<script>alert('x') & \"y\"</script>");
    ck_assert_str_eq(out(), "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;");
    crm_buf_reset(&b);
    crm_html_esc(&b, NULL);
    crm_html_esc(&b, "");
    crm_html_esc(&b, "plain é");
    ck_assert_str_eq(out(), "plain é");
    crm_buf_reset(&b);
    crm_html_url(&b, "a b&c=d/é~");
    ck_assert_str_eq(out(), "a%20b%26c%3Dd%2F%C3%A9~");
}
END_TEST

START_TEST(test_money)
{
    static const struct {
        int64_t cents;
        const char *want;
    } cases[] = {
        { 0, "0.00 EUR" },
        { 5, "0.05 EUR" },
        { 100, "1.00 EUR" },
        { 123456, "1,234.56 EUR" },
        { -1050, "-10.50 EUR" },
        { 99999999, "999,999.99 EUR" },
        { 100000000, "1,000,000.00 EUR" },
        { INT64_MIN, "-92,233,720,368,547,758.08 EUR" },
    };
    for (size_t i = 0; i < CRM_NELEM(cases); i++) {
        crm_buf_reset(&b);
        crm_html_money(&b, cases[i].cents, "EUR");
        ck_assert_str_eq(out(), cases[i].want);
    }
    crm_buf_reset(&b);
    crm_html_money(&b, 250, "<b>");
    ck_assert_str_eq(out(), "2.50 &lt;b&gt;");
    /* Minor units as ISO 4217 has them: none for yen, three for dinars. */
    crm_buf_reset(&b);
    crm_html_money(&b, 1440, "JPY");
    ck_assert_str_eq(out(), "1,440 JPY");
    crm_buf_reset(&b);
    crm_html_money(&b, -12345, "KWD");
    ck_assert_str_eq(out(), "-12.345 KWD");
    crm_buf_reset(&b);
    crm_html_money(&b, 5, "PY"); /* not a code: two digits */
    ck_assert_str_eq(out(), "0.05 PY");
}
END_TEST

START_TEST(test_time)
{
    crm_html_time(&b, "2026-11-27T21:05:09.123456Z");
    ck_assert_str_eq(out(),
                     "<time datetime=\"2026-11-27T21:05:09.123456Z\">2026-11-27 21:05</time>");
    crm_buf_reset(&b);
    crm_html_time(&b, "2026-11-27 21:05:09.000000");
    ck_assert_ptr_nonnull(strstr(out(), ">2026-11-27 21:05</time>"));
    crm_buf_reset(&b);
    crm_html_time(&b, NULL);
    crm_html_time(&b, "2026");
    ck_assert_str_eq(out(), "&ndash;&ndash;");
}
END_TEST

START_TEST(test_fields)
{
    crm_html_input(&b, "lines[2].quantity", "Quantity", "number", "3\"><script>", "required");
    const char *s = out();
    ck_assert_ptr_nonnull(strstr(s, "<label for=\"f-lines-2--quantity\">Quantity</label>"));
    ck_assert_ptr_nonnull(strstr(s, "id=\"f-lines-2--quantity\" name=\"lines[2].quantity\""));
    ck_assert_ptr_nonnull(strstr(s, "aria-describedby=\"e-lines-2--quantity\" required"));
    ck_assert_ptr_nonnull(strstr(s, "value=\"3&quot;&gt;&lt;script&gt;\""));
    ck_assert_ptr_nonnull(strstr(s, "data-error-for=\"lines[2].quantity\""));
    ck_assert_ptr_null(strstr(s, "<script>"));

    crm_buf_reset(&b);
    static const char *const values[] = { "lead", "active", NULL };
    static const char *const labels[] = { "Lead", "Active <1>", NULL };
    crm_html_select(&b, "status", "Status", values, labels, "active", NULL);
    s = out();
    ck_assert_ptr_nonnull(strstr(s, "<option value=\"lead\">Lead</option>"));
    ck_assert_ptr_nonnull(strstr(s, "<option value=\"active\" selected>Active &lt;1&gt;</option>"));

    crm_buf_reset(&b);
    crm_html_textarea(&b, "body", "Note", "a</textarea><b>", NULL);
    ck_assert_ptr_nonnull(strstr(out(), ">a&lt;/textarea&gt;&lt;b&gt;</textarea>"));
}
END_TEST

static crm_req *new_req(crm_arena *a, fake_req *f, const char *method, const char *accept)
{
    fake_req_init(f);
    fake_req_set(f, "REQUEST_METHOD", method);
    fake_req_set(f, "DOCUMENT_URI", "/customers/7");
    fake_req_set(f, "REQUEST_ID", "req-1");
    if (accept != NULL)
        fake_req_set(f, "HTTP_ACCEPT", accept);
    return crm_req_new(a, &fake_req_io, f, 1024);
}

START_TEST(test_form_and_frame)
{
    crm_arena *a = crm_arena_new(4096);
    fake_req f;
    crm_req *r = new_req(a, &f, "GET", "text/html");

    crm_html_form_begin(&b, r, "/api/v1/customers/7", "PATCH", 4, "/customers/7", NULL);
    crm_html_form_end(&b);
    const char *s = out();
    ck_assert_ptr_nonnull(
        strstr(s, "<form method=\"post\" action=\"/api/v1/customers/7\" data-enhance>"));
    ck_assert_ptr_nonnull(strstr(s, "name=\"" CRM_BODY_METHOD "\" value=\"PATCH\""));
    ck_assert_ptr_nonnull(strstr(s, "name=\"" CRM_BODY_IF_MATCH "\" value=\"4\""));
    ck_assert_ptr_nonnull(strstr(s, "name=\"" CRM_BODY_NEXT "\" value=\"/customers/7\""));
    ck_assert_ptr_nonnull(strstr(s, "data-form-error"));

    /* Nobody logged in: the frame has no navigation and no logout. */
    crm_buf_reset(&b);
    crm_html_begin(&b, r, "A <title>", "customers");
    crm_html_end(&b);
    s = out();
    ck_assert_ptr_nonnull(strstr(s, "<title>A &lt;title&gt; - CRM</title>"));
    ck_assert_ptr_nonnull(strstr(s, CRM_ASSET_STYLE_CSS));
    ck_assert_ptr_nonnull(strstr(s, "<script src=\"" CRM_ASSET_APP_JS "\" defer></script>"));
    ck_assert_ptr_nonnull(strstr(s, "href=\"#main\""));
    ck_assert_ptr_null(strstr(s, "<nav"));
    ck_assert_ptr_null(strstr(s, "logout"));
    /* The CSP allows no inline script or style. */
    ck_assert_ptr_null(strstr(s, "style="));
    ck_assert_ptr_null(strstr(s, "<script>"));

    crm_html_send(r, 200, &b);
    ck_assert_str_eq(fake_res_header(&f, "Content-Type"), CRM_HTML_TYPE);
    ck_assert_str_eq(fake_res_header(&f, "Cache-Control"), "no-store");
    fake_req_done(&f);
    crm_arena_free(a);
}
END_TEST

START_TEST(test_problem_pages)
{
    crm_arena *a = crm_arena_new(4096);
    fake_req f;
    crm_field_error errs[] = { { "email", "must be an email <address>" } };
    crm_problem_t p = { .status = 422, .title = "Invalid fields", .errors = errs, .n_errors = 1 };

    /* A browser: a page with each field's error, escaped. */
    crm_req *r = new_req(a, &f, "POST", "text/html,application/xhtml+xml");
    ck_assert_int_eq(crm_problem_send(r, &p), 422);
    ck_assert_str_eq(fake_res_header(&f, "Content-Type"), CRM_HTML_TYPE);
    const char *body = fake_res_body(&f);
    ck_assert_ptr_nonnull(strstr(body, "<strong>email</strong>: must be an email &lt;address&gt;"));
    ck_assert_ptr_nonnull(strstr(body, "req-1"));
    fake_req_done(&f);

    /* A stale version is explained. */
    crm_problem_t stale = { .status = 412, .detail = "the version changed" };
    r = new_req(a, &f, "POST", "text/html");
    ck_assert_int_eq(crm_problem_send(r, &stale), 412);
    ck_assert_ptr_nonnull(strstr(fake_res_body(&f), "changed this record"));
    fake_req_done(&f);

    /* A script or client asking for JSON: problem+json as always. */
    r = new_req(a, &f, "POST", "application/json");
    ck_assert_int_eq(crm_problem_send(r, &p), 422);
    ck_assert_str_eq(fake_res_header(&f, "Content-Type"), "application/problem+json");
    fake_req_done(&f);

    /* A browser that is not logged in, reading a page: the login page. */
    r = new_req(a, &f, "GET", "text/html");
    ck_assert_int_eq(crm_problem(r, 401, "log in"), 303);
    ck_assert_str_eq(fake_res_header(&f, "Location"), "/login.html");
    fake_req_done(&f);
    /* ... but a form post without a login gets the 401 as a page. */
    r = new_req(a, &f, "POST", "text/html");
    ck_assert_int_eq(crm_problem(r, 401, "log in"), 401);
    ck_assert_ptr_nonnull(strstr(fake_res_body(&f), "/login.html"));
    fake_req_done(&f);
    crm_arena_free(a);
}
END_TEST

static Suite *html_suite(void)
{
    Suite *s = suite_create("crm_html");
    TCase *tc = tcase_create("html");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_escape);
    tcase_add_test(tc, test_money);
    tcase_add_test(tc, test_time);
    tcase_add_test(tc, test_fields);
    tcase_add_test(tc, test_form_and_frame);
    tcase_add_test(tc, test_problem_pages);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(html_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
