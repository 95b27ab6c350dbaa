/*
 * test_sales_pages.c - the products and orders pages of crm-sales
 * (fcgi/sales/pages.c) and the browser forms they post to the API, over
 * HTTPS through NGINX: pages render with the data escaped, the forms work
 * end to end without JavaScript (form POST, 303, the page shows the
 * result), problems come back as pages, each role is offered only what it
 * may do and the server refuses the rest, and a sales user sees only
 * their own orders and customers.
 *
 * With the default Bearer token the CSRF rules do not apply; forms are
 * sent as a browser without JavaScript sends them.
 */
#include "itest.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FORM     "application/x-www-form-urlencoded"
#define EVIL     "<script>alert(1)</script>"
#define EVIL_ESC "&lt;script&gt;alert(1)&lt;/script&gt;"

static const char *const HTML[] = { "Accept: text/html,application/xhtml+xml;q=0.9,*/*;q=0.8",
                                    NULL };
static const char *const JSON[] = { "Accept: application/json", NULL };

/* ---- helpers ------------------------------------------------------------------------------ */

/* GET a page as a browser asks for it; 200 text/html with the security headers. */
static itest_resp *page_ok_at(const char *path, const char *file, int line)
{
    itest_resp *r = itest_get(path, HTML);
    const char *type = itest_header_get(r, "Content-Type");
    ck_assert_msg(r->status == 200 && type != NULL && strncmp(type, "text/html", 9) == 0,
                  "%s:%d: want a 200 page: %s", file, line, itest_describe(r));
    ITEST_ASSERT_SECURITY(r);
    return r;
}
#define page_ok(path) page_ok_at((path), __FILE__, __LINE__)

/* prefix followed by id ("/orders/" 7): the page of one thing. */
static itest_resp *page_of(const char *prefix, int64_t id)
{
    char path[256];
    snprintf(path, sizeof path, "%s%" PRId64, prefix, id);
    return itest_get(path, HTML);
}

static itest_resp *page_of_ok_at(const char *prefix, int64_t id, const char *file, int line)
{
    char path[256];
    snprintf(path, sizeof path, "%s%" PRId64, prefix, id);
    return page_ok_at(path, file, line);
}
#define page_of_ok(prefix, id) page_of_ok_at((prefix), (id), __FILE__, __LINE__)

/* A browser's form post (no JavaScript): Accept text/html. */
static itest_resp *form_post(const char *path, const char *body)
{
    return itest_request("POST", path, HTML, body, strlen(body), FORM);
}

static int has(const itest_resp *r, const char *needle)
{
    return r->body != NULL && strstr(r->body, needle) != NULL;
}

#define ASSERT_HAS(r, s) ck_assert_msg(has((r), (s)), "page lacks %s: %s", (s), itest_describe(r))
#define ASSERT_HAS_NOT(r, s)                                                                       \
    ck_assert_msg(!has((r), (s)), "page has %s: %s", (s), itest_describe(r))

/* A 303 whose Location is path (absolute or not). */
static void assert_see_other_at(itest_resp *r, const char *path, const char *file, int line)
{
    const char *loc = itest_header_get(r, "Location");
    ck_assert_msg(r->status == 303 && loc != NULL, "%s:%d: want 303: %s", file, line,
                  itest_describe(r));
    if (strstr(loc, "://") != NULL)
        loc = strchr(strstr(loc, "://") + 3, '/');
    ck_assert_msg(loc != NULL && strcmp(loc, path) == 0, "%s:%d: want 303 to %s, got %s", file,
                  line, path, itest_header_get(r, "Location"));
}
#define assert_see_other(r, path) assert_see_other_at((r), (path), __FILE__, __LINE__)

/* A problem as a page: status, text/html, the problem section. */
static void assert_problem_page_at(itest_resp *r, long status, const char *file, int line)
{
    char want[64];
    const char *type = itest_header_get(r, "Content-Type");
    snprintf(want, sizeof want, "data-status=\"%ld\"", status);
    ck_assert_msg(r->status == status && type != NULL && strncmp(type, "text/html", 9) == 0 &&
                      has(r, "class=\"problem\"") && has(r, want),
                  "%s:%d: want a %ld problem page: %s", file, line, status, itest_describe(r));
    ck_assert_msg(itest_leak(r) == NULL, "%s:%d: problem page leaks %s", file, line, itest_leak(r));
}
#define assert_problem_page(r, st) assert_problem_page_at((r), (st), __FILE__, __LINE__)

static int64_t created_id(itest_resp *r, const char *what)
{
    ck_assert_msg(r->status == 201, "creating %s: %s", what, itest_describe(r));
    int64_t id = itest_jint(r->json, "id");
    ck_assert_msg(id > 0, "%s without id: %s", what, itest_describe(r));
    itest_free(r);
    return id;
}

/* A user of role (identity checks that a token's user exists). */
static int64_t make_user(const char *role)
{
    char email[128], body[512];
    itest_as("admin", ITEST_ADMIN_ID);
    itest_unique_email(email, sizeof email, role);
    snprintf(body, sizeof body,
             "{\"email\":\"%s\",\"name\":\"Pages %s\",\"role\":\"%s\","
             "\"password\":\"correct horse battery\"}",
             email, role, role);
    return created_id(itest_json("POST", "/api/v1/users", NULL, body), "user");
}

/* A customer called name, owned by owner (0: nobody), made by the admin. */
static int64_t make_customer(const char *name, int64_t owner)
{
    char email[128], body[512];
    itest_as("admin", ITEST_ADMIN_ID);
    itest_unique_email(email, sizeof email, "pages");
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(name));
    json_object_object_add(o, "email", json_object_new_string(email));
    if (owner > 0)
        json_object_object_add(o, "owner_id", json_object_new_int64(owner));
    snprintf(body, sizeof body, "%s", json_object_to_json_string(o));
    json_object_put(o);
    return created_id(itest_json("POST", ITEST_CUSTOMERS, NULL, body), "customer");
}

/* A product (as the admin) with name and price, stock "null" or a number. */
static int64_t make_product(const char *name, int64_t price, const char *stock)
{
    char sku[64], body[1024];
    itest_as("admin", ITEST_ADMIN_ID);
    itest_unique_sku(sku, sizeof sku);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "sku", json_object_new_string(sku));
    json_object_object_add(o, "name", json_object_new_string(name));
    json_object_object_add(o, "price_cents", json_object_new_int64(price));
    json_object_object_add(o, "currency", json_object_new_string("EUR"));
    snprintf(body, sizeof body, "%s", json_object_to_json_string(o));
    json_object_put(o);
    if (stock != NULL) {
        size_t n = strlen(body);
        snprintf(body + n - 1, sizeof body - n + 1, ",\"stock\":%s}", stock);
    }
    return created_id(itest_json("POST", ITEST_PRODUCTS, NULL, body), "product");
}

/* The id of a 303 to /<kind>/{id}. */
static int64_t see_other_id(itest_resp *r, const char *kind)
{
    const char *loc = itest_header_get(r, "Location");
    ck_assert_msg(r->status == 303 && loc != NULL && strstr(loc, kind) != NULL,
                  "want 303 to %s/{id}: %s", kind, itest_describe(r));
    int64_t id = itest_location_id(r);
    ck_assert_msg(id > 0, "Location %s", loc);
    return id;
}

/* The admin's GET of prefix followed by id. */
static itest_resp *api_get(const char *prefix, int64_t id)
{
    char path[256];
    snprintf(path, sizeof path, "%s%" PRId64, prefix, id);
    itest_as("admin", ITEST_ADMIN_ID);
    return itest_get(path, NULL);
}

static int64_t order_count_of(int64_t customer)
{
    char path[256];
    snprintf(path, sizeof path, ITEST_ORDERS "?count=true&limit=1&customer=%" PRId64, customer);
    itest_as("admin", ITEST_ADMIN_ID);
    itest_resp *r = itest_get(path, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    int64_t n = itest_jint(r->json, "count");
    itest_free(r);
    return n;
}

/* The href of the page's rel="next" link, &amp; unescaped; the caller frees. */
static char *next_link(const itest_resp *r)
{
    const char *rel = strstr(r->body, "\" rel=\"next\"");
    ck_assert_msg(rel != NULL, "no next link: %s", itest_describe(r));
    const char *start = rel;
    while (start > r->body && strncmp(start, "href=\"", 6) != 0)
        start--;
    ck_assert_msg(strncmp(start, "href=\"", 6) == 0, "next link without href");
    start += 6;
    char *out = calloc(1, (size_t)(rel - start) + 1);
    ck_assert_ptr_nonnull(out);
    size_t k = 0;
    for (const char *p = start; p < rel; p++) {
        if (strncmp(p, "&amp;", 5) == 0) {
            out[k++] = '&';
            p += 4;
        } else {
            out[k++] = *p;
        }
    }
    return out;
}

/* Rows of the page's (first) table body. */
static int rows_in(const itest_resp *r)
{
    int n = 0;
    const char *p = r->body ? strstr(r->body, "<tbody>") : NULL;
    const char *end = p ? strstr(p, "</tbody>") : NULL;
    ck_assert_msg(end != NULL, "no table body: %s", itest_describe(r));
    for (; (p = strstr(p, "<tr>")) != NULL && p < end; p += 4)
        n++;
    return n;
}

/* ---- products ----------------------------------------------------------------------------- */

START_TEST(test_product_pages_render_escaped)
{
    char word[32], name[128], path[128];
    itest_unique_word(word, sizeof word);
    snprintf(name, sizeof name, "%s lamp %s", EVIL, word);
    int64_t id = make_product(name, 123456, "7");

    snprintf(path, sizeof path, "/products?q=%s", word);
    itest_resp *r = page_ok(path);
    ASSERT_HAS(r, "<h1>Products</h1>");
    ASSERT_HAS(r, "<table id=\"products-table\"");
    ASSERT_HAS(r, "<th scope=\"col\">SKU</th>");
    ASSERT_HAS(r, EVIL_ESC);
    ASSERT_HAS_NOT(r, EVIL);
    ASSERT_HAS(r, "1,234.56 EUR");
    ASSERT_HAS(r, "href=\"/products/new\"");
    /* the search keeps its value */
    char kept[128];
    snprintf(kept, sizeof kept,
             "name=\"q\" aria-describedby=\"e-q\" maxlength=\"200\" value=\"%s\"", word);
    ASSERT_HAS(r, kept);
    ck_assert_int_eq(rows_in(r), 1);
    snprintf(kept, sizeof kept, "href=\"/products/%" PRId64 "\"", id);
    ASSERT_HAS(r, kept);
    itest_free(r);

    r = page_of_ok("/products/", id);
    ASSERT_HAS(r, "<h1>" EVIL_ESC);
    ASSERT_HAS_NOT(r, EVIL);
    ASSERT_HAS(r, "<dl class=\"props\">");
    ASSERT_HAS(r, "<dt>Stock</dt><dd>7</dd>");
    ASSERT_HAS(r, "name=\"_method\" value=\"PATCH\"");
    ASSERT_HAS(r, "name=\"_if_match\" value=\"1\"");
    ASSERT_HAS(r, "Save changes</button>");
    ASSERT_HAS(r, "name=\"_method\" value=\"DELETE\"");
    ASSERT_HAS(r, "data-confirm=");
    ASSERT_HAS(r, "Delete product</button>");
    itest_free(r);

    r = page_ok("/products/new");
    ASSERT_HAS(r, "action=\"/api/v1/products\"");
    ASSERT_HAS(r, "data-next=\"/products/{id}\"");
    ASSERT_HAS(r, "novalidate");
    ASSERT_HAS(r, ">Price (cents)</label>");
    ASSERT_HAS(r, "<option value=\"true\" selected>");
    ASSERT_HAS(r, "Create product</button>");
    itest_free(r);

    /* unknown and malformed ids: problems */
    r = itest_get("/products/999999999999", HTML);
    assert_problem_page(r, 404);
    itest_free(r);
}
END_TEST

START_TEST(test_product_pages_viewer)
{
    int64_t viewer = make_user("viewer");
    int64_t id = make_product("Viewer lamp", 500, NULL);

    itest_as("viewer", viewer);
    itest_resp *r = page_ok("/products");
    ASSERT_HAS_NOT(r, "/products/new");
    itest_free(r);
    r = page_of_ok("/products/", id);
    ASSERT_HAS(r, "<h1>Viewer lamp</h1>");
    ASSERT_HAS_NOT(r, "action=\"/api/v1/products");
    ASSERT_HAS_NOT(r, "Save changes");
    ASSERT_HAS_NOT(r, "Delete product");
    itest_free(r);
    r = itest_get("/products/new", HTML);
    assert_problem_page(r, 403);
    itest_free(r);

    /* The server refuses the write a viewer's page does not offer. */
    char path[128], body[256];
    snprintf(path, sizeof path, ITEST_PRODUCTS "/%" PRId64, id);
    snprintf(body, sizeof body, "_method=PATCH&_if_match=1&_next=/products/%" PRId64 "&name=Mine",
             id);
    r = form_post(path, body);
    assert_problem_page(r, 403);
    itest_free(r);
    r = api_get(ITEST_PRODUCTS "/", id);
    ck_assert_str_eq(itest_jstr(r->json, "name"), "Viewer lamp");
    ck_assert_int_eq(itest_jint(r->json, "version"), 1);
    itest_free(r);
}
END_TEST

START_TEST(test_product_form_flows)
{
    char sku[64], body[1024], path[128], page[128];
    itest_unique_sku(sku, sizeof sku);

    /* create: the new product's page */
    snprintf(body, sizeof body,
             "sku=%s&name=Form+%%3Cb%%3Elamp%%3C%%2Fb%%3E&description=&price_cents=1999"
             "&currency=EUR&stock=&active=true",
             sku);
    itest_resp *r = form_post(ITEST_PRODUCTS, body);
    int64_t id = see_other_id(r, "/products/");
    itest_free(r);
    snprintf(page, sizeof page, "/products/%" PRId64, id);
    snprintf(path, sizeof path, ITEST_PRODUCTS "/%" PRId64, id);
    r = page_ok(page);
    ASSERT_HAS(r, "<h1>Form &lt;b&gt;lamp&lt;/b&gt;</h1>");
    ASSERT_HAS(r, "19.99 EUR");
    ASSERT_HAS(r, "not counted");
    itest_free(r);

    /* a create with bad fields: a page listing each */
    r = form_post(ITEST_PRODUCTS,
                  "sku=&name=x&description=&price_cents=abc&currency=eu&stock=-1&active=true");
    assert_problem_page(r, 422);
    ASSERT_HAS(r, "<strong>sku</strong>");
    ASSERT_HAS(r, "<strong>price_cents</strong>");
    ASSERT_HAS(r, "<strong>currency</strong>");
    ASSERT_HAS(r, "<strong>stock</strong>");
    itest_free(r);

    /* edit: every field, back to the page */
    snprintf(body, sizeof body,
             "_method=PATCH&_if_match=1&_next=%s&sku=%s&name=Renamed&description=Bright"
             "&price_cents=250&currency=EUR&stock=3&active=false",
             page, sku);
    r = form_post(path, body);
    assert_see_other(r, page);
    itest_free(r);
    r = page_ok(page);
    ASSERT_HAS(r, "<h1>Renamed</h1>");
    ASSERT_HAS(r, "2.50 EUR");
    ASSERT_HAS(r, "<dt>Stock</dt><dd>3</dd>");
    ASSERT_HAS(r, "<dt>Active</dt><dd>no</dd>");
    ASSERT_HAS(r, "<option value=\"false\" selected>");
    ASSERT_HAS(r, "name=\"_if_match\" value=\"2\"");
    itest_free(r);

    /* an edit with bad values: 422 page, nothing changed */
    snprintf(body, sizeof body,
             "_method=PATCH&_if_match=2&_next=%s&sku=%s&name=&price_cents=-5&currency=EUR", page,
             sku);
    r = form_post(path, body);
    assert_problem_page(r, 422);
    ASSERT_HAS(r, "<strong>name</strong>");
    ASSERT_HAS(r, "<strong>price_cents</strong>");
    itest_free(r);

    /* a stale form: the conflict page, nothing changed */
    snprintf(body, sizeof body, "_method=PATCH&_if_match=1&_next=%s&name=Stale", page);
    r = form_post(path, body);
    assert_problem_page(r, 412);
    ASSERT_HAS(r, "Nothing was saved");
    itest_free(r);
    snprintf(body, sizeof body, "_method=DELETE&_if_match=1&_next=/products");
    r = form_post(path, body);
    assert_problem_page(r, 412);
    itest_free(r);
    r = api_get(ITEST_PRODUCTS "/", id);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_str_eq(itest_jstr(r->json, "name"), "Renamed");
    ck_assert_int_eq(itest_jint(r->json, "version"), 2);
    itest_free(r);

    /* delete: the list */
    r = form_post(path, "_method=DELETE&_if_match=2&_next=/products");
    assert_see_other(r, "/products");
    itest_free(r);
    r = api_get(ITEST_PRODUCTS "/", id);
    ITEST_ASSERT_STATUS(r, 404);
    itest_free(r);
    r = itest_get(page, HTML);
    assert_problem_page(r, 404);
    itest_free(r);
}
END_TEST

START_TEST(test_product_list_filters_and_paging)
{
    char word[32], name[64], path[256];
    itest_unique_word(word, sizeof word);
    int64_t ids[3];
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "Paged %s %d", word, i);
        ids[i] = make_product(name, 100 + i, NULL);
    }
    itest_as("admin", ITEST_ADMIN_ID);
    snprintf(path, sizeof path, ITEST_PRODUCTS "/%" PRId64, ids[1]);
    itest_resp *r = itest_request("PATCH", path, (const char *[]){ "If-Match: \"1\"", NULL },
                                  "{\"active\":false}", 16, "application/json");
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);

    /* two per page: the next page keeps the filter and the page size */
    snprintf(path, sizeof path, "/products?q=%s&limit=2", word);
    r = page_ok(path);
    ck_assert_int_eq(rows_in(r), 2);
    char *next = next_link(r);
    itest_free(r);
    ck_assert_msg(strstr(next, word) != NULL && strstr(next, "limit=2") != NULL &&
                      strstr(next, "cursor=") != NULL,
                  "next link %s", next);
    r = page_ok(next);
    free(next);
    ck_assert_int_eq(rows_in(r), 1);
    ASSERT_HAS_NOT(r, "rel=\"next\"");
    ASSERT_HAS(r, ">First page</a>");
    itest_free(r);

    /* active filter, and the value kept in its select */
    snprintf(path, sizeof path, "/products?q=%s&active=false", word);
    r = page_ok(path);
    ck_assert_int_eq(rows_in(r), 1);
    snprintf(name, sizeof name, "href=\"/products/%" PRId64 "\"", ids[1]);
    ASSERT_HAS(r, name);
    ASSERT_HAS(r, "<option value=\"false\" selected>Inactive</option>");
    itest_free(r);

    /* the filter form's empty fields are no filter */
    r = page_ok("/products?q=&active=");
    ASSERT_HAS(r, "<table id=\"products-table\"");
    itest_free(r);

    /* bad filters: a 400 page naming them */
    r = itest_get("/products?q=a&active=maybe", HTML);
    ck_assert_msg(r->status == 400 && has(r, "<strong>q</strong>") &&
                      has(r, "<strong>active</strong>"),
                  "%s", itest_describe(r));
    itest_free(r);
    r = itest_get("/products?bogus=1", HTML);
    assert_problem_page(r, 400);
    itest_free(r);
}
END_TEST

/* ---- orders ------------------------------------------------------------------------------- */

/* An order of customer with lines, made through the API by the admin. */
static int64_t make_order(int64_t customer, int64_t product, int quantity)
{
    char lines[128];
    snprintf(lines, sizeof lines, "[{\"product_id\":%" PRId64 ",\"quantity\":%d}]", product,
             quantity);
    itest_as("admin", ITEST_ADMIN_ID);
    return itest_new_order(customer, lines, NULL);
}

static itest_resp *act(int64_t order, const char *action, long version)
{
    char path[128], body[128];
    snprintf(path, sizeof path, ITEST_ORDERS "/%" PRId64 "/%s", order, action);
    snprintf(body, sizeof body, "_if_match=%ld&_next=/orders/%" PRId64, version, order);
    return form_post(path, body);
}

static void assert_status_at(int64_t order, const char *status, const char *file, int line)
{
    char want[96];
    itest_resp *r = page_of_ok_at("/orders/", order, file, line);
    snprintf(want, sizeof want, "<span class=\"badge\" id=\"order-status\">%s</span>", status);
    ck_assert_msg(has(r, want), "%s:%d: order %" PRId64 " is not %s: %s", file, line, order, status,
                  itest_describe(r));
    itest_free(r);
}
#define assert_status(order, status) assert_status_at((order), (status), __FILE__, __LINE__)

START_TEST(test_order_form_flow)
{
    int64_t sales = make_user("sales");
    int64_t customer = make_customer(EVIL " Customer", sales);
    int64_t p1 = make_product("Flow lamp", 1250, "5");
    int64_t p2 = make_product("Flow cable", 399, NULL);
    char body[1024], page[64];

    /* The form: rows 0 and 2 filled, row 1 empty, currency left empty. */
    itest_as("sales", sales);
    snprintf(body, sizeof body,
             "customer_id=%" PRId64 "&lines%%5B0%%5D.product_id=%" PRId64
             "&lines%%5B0%%5D.quantity=2&lines%%5B1%%5D.product_id=&lines%%5B1%%5D.quantity="
             "&lines%%5B2%%5D.product_id=%" PRId64 "&lines%%5B2%%5D.quantity=1"
             "&lines%%5B3%%5D.product_id=&lines%%5B3%%5D.quantity="
             "&currency=&note=%%3Ci%%3Enote%%3C%%2Fi%%3E",
             customer, p1, p2);
    itest_resp *r = form_post(ITEST_ORDERS, body);
    int64_t id = see_other_id(r, "/orders/");
    itest_free(r);
    snprintf(page, sizeof page, "/orders/%" PRId64, id);

    r = page_ok(page);
    char h1[64];
    snprintf(h1, sizeof h1, "<h1>Order %" PRId64 "</h1>", id);
    ASSERT_HAS(r, h1);
    ASSERT_HAS(r, "<span class=\"badge\" id=\"order-status\">draft</span>");
    ASSERT_HAS(r, EVIL_ESC " Customer");
    ASSERT_HAS(r, "&lt;i&gt;note&lt;/i&gt;");
    ASSERT_HAS_NOT(r, EVIL);
    ASSERT_HAS(r, ">Flow lamp</a>");
    ASSERT_HAS(r, ">Flow cable</a>");
    ASSERT_HAS(r, "<td class=\"num\" data-label=\"Line total\">25.00 EUR</td>");
    ASSERT_HAS(r, "id=\"order-total\">28.99 EUR</td>");
    ck_assert_int_eq(rows_in(r), 2);
    ASSERT_HAS(r, "Confirm order</button>");
    ASSERT_HAS(r, "Cancel order</button>");
    ASSERT_HAS_NOT(r, "Fulfil order");
    itest_free(r);

    /* confirm: the page shows the new status and the actions it allows */
    r = act(id, "confirm", 1);
    assert_see_other(r, page);
    itest_free(r);
    assert_status(id, "confirmed");
    r = page_ok(page);
    ASSERT_HAS(r, "Fulfil order</button>");
    ASSERT_HAS(r, "Cancel order</button>");
    ASSERT_HAS_NOT(r, "Confirm order");
    itest_free(r);
    r = api_get(ITEST_PRODUCTS "/", p1);
    ck_assert_int_eq(itest_jint(r->json, "stock"), 3);
    itest_free(r);

    /* a stale form: the conflict page, the order as it was */
    itest_as("sales", sales);
    r = act(id, "cancel", 1);
    assert_problem_page(r, 412);
    itest_free(r);
    assert_status(id, "confirmed");

    /* fulfil, then a refused transition: its problem as a page */
    r = act(id, "fulfill", 2);
    assert_see_other(r, page);
    itest_free(r);
    assert_status(id, "fulfilled");
    r = page_ok(page);
    ASSERT_HAS_NOT(r, "<h2>Actions</h2>");
    ASSERT_HAS_NOT(r, "/confirm\"");
    itest_free(r);
    r = act(id, "cancel", 3);
    assert_problem_page(r, 409);
    ASSERT_HAS(r, "Invalid transition");
    itest_free(r);
    assert_status(id, "fulfilled");
}
END_TEST

START_TEST(test_order_form_errors)
{
    int64_t sales = make_user("sales");
    int64_t customer = make_customer("Errors customer", sales);
    int64_t p1 = make_product("Errors lamp", 100, NULL);
    char body[1024];

    itest_as("sales", sales);
    /* Errors name the form's fields: rows keep their numbers. */
    snprintf(body, sizeof body,
             "customer_id=%" PRId64 "&lines%%5B0%%5D.product_id=%" PRId64
             "&lines%%5B0%%5D.quantity=1&lines%%5B1%%5D.product_id=&lines%%5B1%%5D.quantity=4"
             "&lines%%5B2%%5D.product_id=%" PRId64 "&lines%%5B2%%5D.quantity=0&currency=",
             customer, p1, p1);
    itest_resp *r = itest_request("POST", ITEST_ORDERS, JSON, body, strlen(body), FORM);
    ITEST_ASSERT_PROBLEM(r, 422);
    ck_assert_int_eq(itest_problem_field_count(r, "lines[1].product_id"), 1);
    ck_assert_int_eq(itest_problem_field_count(r, "lines[2].quantity"), 1);
    ck_assert_int_eq(itest_problem_field_count(r, "lines[0].quantity"), 0);
    itest_free(r);
    /* the same without JavaScript: a page listing them */
    r = form_post(ITEST_ORDERS, body);
    assert_problem_page(r, 422);
    ASSERT_HAS(r, "<strong>lines[1].product_id</strong>");
    ASSERT_HAS(r, "<strong>lines[2].quantity</strong>");
    itest_free(r);

    /* an unknown product in row 3 */
    snprintf(body, sizeof body,
             "customer_id=%" PRId64 "&lines%%5B3%%5D.product_id=999999999999"
             "&lines%%5B3%%5D.quantity=1",
             customer);
    r = itest_request("POST", ITEST_ORDERS, JSON, body, strlen(body), FORM);
    ITEST_ASSERT_PROBLEM(r, 422);
    ck_assert_int_eq(itest_problem_field_count(r, "lines[3].product_id"), 1);
    itest_free(r);

    /* every row empty and no currency: the currency field is named */
    snprintf(body, sizeof body,
             "customer_id=%" PRId64 "&lines%%5B0%%5D.product_id=&lines%%5B0%%5D.quantity="
             "&currency=&note=",
             customer);
    r = itest_request("POST", ITEST_ORDERS, JSON, body, strlen(body), FORM);
    ITEST_ASSERT_PROBLEM(r, 422);
    ck_assert_int_eq(itest_problem_field_count(r, "currency"), 1);
    itest_free(r);

    /* a field that only looks like a line: unknown, as in JSON */
    snprintf(body, sizeof body,
             "customer_id=%" PRId64 "&lines%%5B01%%5D.product_id=%" PRId64
             "&lines%%5B0%%5D.colour=red&lines%%5B0%%5D.product_id=%" PRId64
             "&lines%%5B0%%5D.quantity=1",
             customer, p1, p1);
    r = itest_request("POST", ITEST_ORDERS, JSON, body, strlen(body), FORM);
    ITEST_ASSERT_PROBLEM(r, 400);
    ck_assert_int_eq(itest_problem_field_count(r, "lines[01].product_id"), 1);
    itest_free(r);
    ck_assert_int_eq(order_count_of(customer), 0);

    /* empty rows and a currency: an empty draft */
    itest_as("sales", sales);
    snprintf(body, sizeof body,
             "customer_id=%" PRId64 "&lines%%5B0%%5D.product_id=&lines%%5B0%%5D.quantity="
             "&currency=EUR&note=",
             customer);
    r = form_post(ITEST_ORDERS, body);
    int64_t id = see_other_id(r, "/orders/");
    itest_free(r);
    r = page_of_ok("/orders/", id);
    ASSERT_HAS(r, "This order has no lines.");
    ASSERT_HAS(r, "id=\"order-total\">0.00 EUR</td>");
    itest_free(r);
    ck_assert_int_eq(order_count_of(customer), 1);
}
END_TEST

START_TEST(test_order_pages_scope)
{
    int64_t a = make_user("sales"), b = make_user("sales"), viewer = make_user("viewer");
    int64_t ca = make_customer("Scope A customer", a);
    int64_t cb = make_customer("Scope B customer", b);
    int64_t product = make_product("Scope lamp", 100, NULL);
    /* Orders make the replica learn both customers (read-through). */
    int64_t oa = make_order(ca, product, 1);
    int64_t ob = make_order(cb, product, 1);
    char want[128];

    /* B: A's order does not exist; B's list has B's order only. */
    itest_as("sales", b);
    itest_resp *r = page_of("/orders/", oa);
    ck_assert_msg(r->status == 404, "%s", itest_describe(r));
    assert_problem_page(r, 404);
    itest_free(r);
    r = page_ok("/orders?limit=200");
    snprintf(want, sizeof want, "href=\"/orders/%" PRId64 "\"", oa);
    ASSERT_HAS_NOT(r, want);
    snprintf(want, sizeof want, "href=\"/orders/%" PRId64 "\"", ob);
    ASSERT_HAS(r, want);
    ASSERT_HAS(r, "href=\"/orders/new\"");
    itest_free(r);
    /* ... nor can B act on it */
    r = act(oa, "cancel", 1);
    assert_problem_page(r, 404);
    itest_free(r);
    itest_as("admin", ITEST_ADMIN_ID);
    assert_status(oa, "draft");

    /* The order form offers each sales user their own customers. */
    itest_as("sales", a);
    r = page_ok("/orders/new");
    ASSERT_HAS(r, "action=\"/api/v1/orders\"");
    ASSERT_HAS(r, "data-next=\"/orders/{id}\"");
    ASSERT_HAS(r, "novalidate");
    ASSERT_HAS(r, "<fieldset class=\"lines\">");
    ASSERT_HAS(r, "name=\"lines[4].product_id\"");
    ASSERT_HAS(r, "name=\"lines[4].quantity\"");
    ASSERT_HAS_NOT(r, "name=\"lines[5].product_id\"");
    /* Products to choose from, unless the catalogue is too large for a select. */
    if (has(r, "<select id=\"f-lines-0--product_id\"")) {
        ASSERT_HAS(r, "<option value=\"\">No product</option>");
        snprintf(want, sizeof want, "<option value=\"%" PRId64 "\">Scope lamp", product);
        ASSERT_HAS(r, want);
    } else {
        ASSERT_HAS(r, "<input type=\"number\" id=\"f-lines-0--product_id\"");
    }
    ASSERT_HAS(r, "<label for=\"f-customer_id\">Customer</label>");
    snprintf(want, sizeof want, "<option value=\"%" PRId64 "\">Scope A customer", ca);
    ASSERT_HAS(r, want);
    ASSERT_HAS_NOT(r, "Scope B customer");
    ASSERT_HAS(r, "Create order</button>");
    itest_free(r);
    r = page_of_ok("/orders/", oa);
    ASSERT_HAS(r, "Confirm order</button>");
    itest_free(r);

    /* A sales user with no customers is told so. */
    itest_as("sales", make_user("sales"));
    r = page_ok("/orders/new");
    ASSERT_HAS(r, "id=\"no-customers\"");
    itest_free(r);

    /* A viewer reads everything and is offered no change; the server refuses one. */
    itest_as("viewer", viewer);
    r = page_ok("/orders?limit=200");
    ASSERT_HAS_NOT(r, "/orders/new");
    itest_free(r);
    r = page_of_ok("/orders/", oa);
    ASSERT_HAS(r, "Scope A customer");
    ASSERT_HAS_NOT(r, "<form method=\"post\" action=\"/api/v1/orders");
    ASSERT_HAS_NOT(r, "Confirm order");
    itest_free(r);
    r = itest_get("/orders/new", HTML);
    assert_problem_page(r, 403);
    itest_free(r);
    r = act(oa, "confirm", 1);
    assert_problem_page(r, 403);
    itest_free(r);
    assert_status(oa, "draft");

    /* A's customer goes to B: A keeps the order (it keeps its owner) but no
       longer sees the customer's name, as the customers API would not
       show it to A; it waits for the event to reach the replica. */
    itest_as("admin", ITEST_ADMIN_ID);
    char body[64];
    snprintf(body, sizeof body, "{\"owner_id\":%" PRId64 "}", b);
    char path[64];
    snprintf(path, sizeof path, "/api/v1/customers/%" PRId64, ca);
    const char *if_match[] = { "If-Match: \"1\"", NULL };
    r = itest_json("PATCH", path, if_match, body);
    ck_assert_msg(r->status == 200, "%s", itest_describe(r));
    itest_free(r);
    itest_as("sales", a);
    int hidden = 0;
    for (int i = 0; i < 100 && !hidden; i++) {
        r = page_of_ok("/orders/", oa);
        hidden = !has(r, "Scope A customer");
        itest_free(r);
        if (!hidden)
            usleep(100 * 1000);
    }
    ck_assert_msg(hidden, "the old owner still sees the customer's name on the order");
    r = page_ok("/orders?limit=200");
    snprintf(want, sizeof want, "href=\"/orders/%" PRId64 "\"", oa);
    ASSERT_HAS(r, want);
    ASSERT_HAS_NOT(r, "Scope A customer");
    itest_free(r);
}
END_TEST

START_TEST(test_order_list_filters_and_paging)
{
    int64_t customer = make_customer("Filter customer", 0);
    int64_t product = make_product("Filter lamp", 100, NULL);
    int64_t draft = make_order(customer, product, 1);
    int64_t confirmed = make_order(customer, product, 2);
    char path[256], want[128];

    itest_as("admin", ITEST_ADMIN_ID);
    itest_resp *r = act(confirmed, "confirm", 1);
    ck_assert_int_eq(r->status, 303);
    itest_free(r);

    snprintf(path, sizeof path, "/orders?status=confirmed&customer=%" PRId64, customer);
    r = page_ok(path);
    ASSERT_HAS(r, "<table id=\"orders-table\"");
    ck_assert_int_eq(rows_in(r), 1);
    snprintf(want, sizeof want, "href=\"/orders/%" PRId64 "\"", confirmed);
    ASSERT_HAS(r, want);
    ASSERT_HAS(r, "<span class=\"badge\">confirmed</span>");
    ASSERT_HAS(r, "Filter customer</a>");
    ASSERT_HAS(r, "2.00 EUR");
    ASSERT_HAS(r, "<option value=\"confirmed\" selected>");
    snprintf(want, sizeof want,
             "name=\"customer\" aria-describedby=\"e-customer\" min=\"1\" "
             "step=\"1\" inputmode=\"numeric\" value=\"%" PRId64 "\"",
             customer);
    ASSERT_HAS(r, want);
    itest_free(r);

    /* empty filter fields are no filter; one per page pages with the filter kept */
    snprintf(path, sizeof path, "/orders?status=&customer=%" PRId64 "&limit=1", customer);
    r = page_ok(path);
    ck_assert_int_eq(rows_in(r), 1);
    snprintf(want, sizeof want, "href=\"/orders/%" PRId64 "\"", confirmed);
    ASSERT_HAS(r, want);
    char *next = next_link(r);
    itest_free(r);
    snprintf(want, sizeof want, "customer=%" PRId64, customer);
    ck_assert_msg(strstr(next, want) != NULL && strstr(next, "limit=1") != NULL, "next %s", next);
    r = page_ok(next);
    free(next);
    snprintf(want, sizeof want, "href=\"/orders/%" PRId64 "\"", draft);
    ASSERT_HAS(r, want);
    ASSERT_HAS_NOT(r, "rel=\"next\"");
    itest_free(r);

    r = itest_get("/orders?status=lost&customer=x", HTML);
    ck_assert_msg(r->status == 400 && has(r, "<strong>status</strong>") &&
                      has(r, "<strong>customer</strong>"),
                  "%s", itest_describe(r));
    itest_free(r);
}
END_TEST

static Suite *pages_suite(void)
{
    Suite *s = suite_create("sales_pages");
    TCase *tc = tcase_create("pages");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, itest_teardown);
    tcase_add_test(tc, test_product_pages_render_escaped);
    tcase_add_test(tc, test_product_pages_viewer);
    tcase_add_test(tc, test_product_form_flows);
    tcase_add_test(tc, test_product_list_filters_and_paging);
    tcase_add_test(tc, test_order_form_flow);
    tcase_add_test(tc, test_order_form_errors);
    tcase_add_test(tc, test_order_pages_scope);
    tcase_add_test(tc, test_order_list_filters_and_paging);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    itest_init();
    SRunner *sr = srunner_create(pages_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
