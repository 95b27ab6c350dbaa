/*
 * pages.c - the products and orders pages browsers see (crm_html.h).
 *
 * Pages read through the same filters, store calls and scope as the API
 * (products_filter, orders_filter, store.c), and their forms post to the
 * API itself, so a page never shows or changes more than the caller's
 * JSON requests could. They only offer what the caller's role may do; the
 * API refuses the rest anyway.
 */
#include "sales.h"

#include "crm_auth.h"
#include "crm_html.h"

#include <stdio.h>
#include <string.h>

/* The roles of the API routes a page offers (main.c). */
#define ROLES_WRITE CRM_ROLES_WRITE
#define ROLES_ADMIN CRM_ROLE_ADMIN
/* Choices a select may offer; with more, the form asks for an id. */
#define PICK_MAX 1000
/* Rows of the new order form. */
#define FORM_LINES 5

static const char *const status_values[] = { "",          "draft",     "confirmed",
                                             "fulfilled", "cancelled", NULL };
static const char *const status_labels[] = { "Any",       "Draft",     "Confirmed",
                                             "Fulfilled", "Cancelled", NULL };
static const char *const bool_values[] = { "true", "false", NULL };
static const char *const bool_labels[] = { "Yes", "No", NULL };
/* Who may open a campaign's page (marketing's routes). */
#define ROLES_CAMPAIGNS (CRM_ROLE_ADMIN | CRM_ROLE_MARKETING | CRM_ROLE_VIEWER)

/* ---- frame ---- */

/* The page is built in the worker's response buffer. */
static crm_buf *page_begin(crm_req *r, const char *title, const char *section)
{
    crm_buf_reset(&sales_out);
    crm_html_begin(&sales_out, r, title, section);
    return &sales_out;
}

static int page_send(crm_req *r, int status)
{
    crm_html_end(&sales_out);
    return crm_html_send(r, status, &sales_out);
}

static const char *id_text(crm_arena *a, int64_t id)
{
    return crm_arena_printf(a, "%lld", (long long)id);
}

/* The problems of a list's query, on the page above its filters. */
static void query_errors(crm_buf *b, const crm_field_error *errs, size_t n)
{
    crm_buf_puts(b, "<div class=\"form-error\" role=\"alert\"><p>These filters cannot be used:</p>"
                    "<ul class=\"errors\">\n");
    for (size_t i = 0; i < n; i++) {
        crm_buf_puts(b, "<li><strong>");
        crm_html_esc(b, errs[i].field);
        crm_buf_puts(b, "</strong>: ");
        crm_html_esc(b, errs[i].message);
        crm_buf_puts(b, "</li>\n");
    }
    crm_buf_puts(b, "</ul></div>\n");
}

/*
 * The list's other parameters (not shown in its filter form, not the
 * cursor) as hidden fields, so filtering keeps the sort, the page size...
 */
static void keep_params(crm_buf *b, crm_req *r, const char *const *params, const char *const *shown)
{
    for (size_t i = 0; params[i] != NULL; i++) {
        const char *v = sales_query(r, params[i], 1);
        if (v == NULL || strcmp(params[i], "cursor") == 0 || crm_api_in_list(shown, params[i]))
            continue;
        crm_html_hidden(b, params[i], v);
    }
}

/*
 * The pager: "First page" when this is a later one, and "Next page" with
 * the list's parameters and the cursor after the last row shown when
 * more rows came than shown.
 */
static void pager(crm_buf *b, crm_req *r, const char *path, const char *const *params,
                  const crm_api_list *l, size_t fetched, const char *last_value, int64_t last_id)
{
    int more = fetched > (size_t)l->limit;

    if (!l->after && !more)
        return;
    crm_buf_puts(b, "<nav class=\"pager\" aria-label=\"Pages\">\n");
    for (int next = 0; next < 2; next++) {
        if (next ? !more : !l->after)
            continue;
        int first = 1;
        crm_buf_printf(b, "<a href=\"%s", path);
        for (size_t i = 0; params[i] != NULL; i++) {
            const char *v = sales_query(r, params[i], 1);
            if (v == NULL || strcmp(params[i], "cursor") == 0)
                continue;
            crm_buf_printf(b, "%s%s=", first ? "?" : "&amp;", params[i]);
            crm_html_url(b, v);
            first = 0;
        }
        if (next) {
            crm_buf_printf(b, "%scursor=", first ? "?" : "&amp;");
            crm_html_url(b, crm_cursor_encode(crm_req_arena(r), l->scope,
                                              last_value ? last_value : "", last_id));
        }
        crm_buf_puts(b, next ? "\" rel=\"next\">Next page</a>\n" : "\">First page</a>\n");
    }
    crm_buf_puts(b, "</nav>\n");
}

static void badge(crm_buf *b, order_status s, const char *id)
{
    crm_buf_puts(b, "<span class=\"badge\"");
    if (id != NULL)
        crm_buf_printf(b, " id=\"%s\"", id);
    crm_buf_printf(b, ">%s</span>", order_status_name(s));
}

/* A customer as this service knows it: its name (or its id) linked to its page. */
static void customer_link(crm_buf *b, int64_t id, const char *name)
{
    crm_buf_printf(b, "<a href=\"/customers/%lld\">", (long long)id);
    if (name != NULL && *name != '\0')
        crm_html_esc(b, name);
    else
        crm_buf_printf(b, "Customer %lld", (long long)id);
    crm_buf_puts(b, "</a>");
}

static void prop(crm_buf *b, const char *term)
{
    crm_buf_printf(b, "<dt>%s</dt><dd>", term);
}

/* A time, when there is one. */
static void time_prop(crm_buf *b, const char *term, const char *t)
{
    if (t == NULL)
        return;
    prop(b, term);
    crm_html_time(b, t);
    crm_buf_puts(b, "</dd>\n");
}

/* ---- products ---- */

static void stock_text(crm_buf *b, const product *p)
{
    if (p->tracked)
        crm_buf_printf(b, "%lld", (long long)p->stock);
    else
        crm_buf_puts(b, "<span class=\"muted\">not counted</span>");
}

static void products_table(crm_buf *b, const product *rows, size_t n)
{
    crm_buf_puts(b, "<div class=\"table-wrap\"><table id=\"products-table\" class=\"stack\">\n"
                    "<thead><tr><th scope=\"col\">SKU</th><th scope=\"col\">Name</th>"
                    "<th scope=\"col\" class=\"num\">Price</th>"
                    "<th scope=\"col\" class=\"num\">Stock</th>"
                    "<th scope=\"col\">Active</th></tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < n; i++) {
        const product *p = &rows[i];
        crm_buf_puts(b, "<tr><td data-label=\"SKU\">");
        crm_html_esc(b, p->sku);
        crm_buf_printf(b, "</td><td data-label=\"Name\"><a href=\"/products/%lld\">",
                       (long long)p->id);
        crm_html_esc(b, p->name);
        crm_buf_puts(b, "</a></td><td class=\"num\" data-label=\"Price\">");
        crm_html_money(b, p->price_cents, p->currency);
        crm_buf_puts(b, "</td><td class=\"num\" data-label=\"Stock\">");
        stock_text(b, p);
        crm_buf_printf(b, "</td><td data-label=\"Active\">%s</td></tr>\n",
                       p->active ? "yes" : "no");
    }
    crm_buf_puts(b, "</tbody></table></div>\n");
}

int products_page_list(crm_req *r)
{
    static const char *const shown[] = { "q", "active", NULL };
    static const char *const active_labels[] = { "Any", "Active", "Inactive", NULL };
    static const char *const active_values[] = { "", "true", "false", NULL };
    crm_arena *a = crm_req_arena(r);
    crm_field_error errs[12];
    size_t ne = 0, n = 0;
    product_filter f;
    crm_api_list l;
    product *rows = NULL;
    int rc;

    if ((rc = crm_req_query_check(r, product_params)) != CRM_OK)
        return rc;
    products_filter(r, 1, &f, &l, errs, &ne);
    if (ne == 0) {
        rows = crm_arena_alloc(a, sizeof(product) * (size_t)f.limit);
        if ((rc = store_product_list(sales_db, a, &f, rows, &n)) != CRM_OK)
            return sales_db_error(r, rc);
    }

    crm_buf *b = page_begin(r, "Products", "products");
    crm_buf_puts(b, "<h1>Products</h1>\n");
    if (crm_html_can(r, ROLES_ADMIN))
        crm_buf_puts(b, "<p class=\"actions\"><a class=\"button\" href=\"/products/new\">"
                        "New product</a></p>\n");
    crm_buf_puts(b,
                 "<form method=\"get\" action=\"/products\" class=\"filters\" role=\"search\">\n");
    keep_params(b, r, product_params, shown);
    crm_html_input(b, "q", "Search", "search", crm_req_query(r, "q"), "maxlength=\"200\"");
    crm_html_select(b, "active", "Active", active_values, active_labels, crm_req_query(r, "active"),
                    NULL);
    crm_buf_puts(b, "<div class=\"field\"><button type=\"submit\">Filter</button></div>\n"
                    "</form>\n");
    if (ne > 0) {
        query_errors(b, errs, ne);
        return page_send(r, 400);
    }
    size_t shown_n = n > (size_t)l.limit ? (size_t)l.limit : n;
    if (shown_n == 0)
        crm_buf_puts(b, "<p class=\"notice\">No products match.</p>\n");
    else
        products_table(b, rows, shown_n);
    if (shown_n > 0)
        pager(b, r, "/products", product_params, &l, n, rows[shown_n - 1].sort_value,
              rows[shown_n - 1].id);
    return page_send(r, 200);
}

/* The product's fields as the API names them; p NULL: a new product. */
static void product_fields(crm_buf *b, crm_arena *a, const product *p)
{
    crm_html_input(b, "sku", "SKU", "text", p ? p->sku : NULL,
                   "required maxlength=\"64\" autocomplete=\"off\"");
    crm_html_input(b, "name", "Name", "text", p ? p->name : NULL, "required maxlength=\"200\"");
    crm_html_textarea(b, "description", "Description", p ? p->description : NULL,
                      "maxlength=\"2000\"");
    crm_html_input(b, "price_cents", "Price (cents)", "number",
                   p ? id_text(a, p->price_cents) : NULL,
                   "required min=\"0\" step=\"1\" inputmode=\"numeric\"");
    crm_html_input(b, "currency", "Currency", "text", p ? p->currency : NULL,
                   "required minlength=\"3\" maxlength=\"3\" autocapitalize=\"characters\"");
    crm_html_input(b, "stock", "Stock (empty: not counted)", "number",
                   p && p->tracked ? id_text(a, p->stock) : NULL,
                   "min=\"0\" step=\"1\" inputmode=\"numeric\"");
    crm_html_select(b, "active", "Active", bool_values, bool_labels,
                    p && !p->active ? "false" : "true", NULL);
}

int products_page_new(crm_req *r)
{
    crm_buf *b = page_begin(r, "New product", "products");

    crm_buf_puts(b, "<p><a href=\"/products\">Products</a></p>\n<h1>New product</h1>\n");
    crm_html_form_begin(b, r, "/api/v1/products", NULL, 0, NULL,
                        "data-next=\"/products/{id}\" novalidate");
    product_fields(b, crm_req_arena(r), NULL);
    crm_buf_puts(b, "<div class=\"actions\"><button type=\"submit\">Create product</button>"
                    "<a href=\"/products\">Cancel</a></div>\n");
    crm_html_form_end(b);
    return page_send(r, 200);
}

int products_page_show(crm_req *r)
{
    crm_arena *a = crm_req_arena(r);
    int64_t id;
    product p;
    int rc;

    if (crm_req_path_id(r, "id", &id) != CRM_OK)
        return crm_problem(r, 404, "no such product");
    rc = store_product_get(sales_db, a, id, 0, &p);
    if (rc == CRM_NOTFOUND)
        return crm_problem(r, 404, "no such product");
    if (rc != CRM_OK)
        return sales_db_error(r, rc);

    crm_buf *b = page_begin(r, p.name, "products");
    crm_buf_puts(b, "<p><a href=\"/products\">Products</a></p>\n<h1>");
    crm_html_esc(b, p.name);
    crm_buf_puts(b, "</h1>\n<dl class=\"props\">\n");
    prop(b, "SKU");
    crm_html_esc(b, p.sku);
    crm_buf_puts(b, "</dd>\n");
    prop(b, "Price");
    crm_html_money(b, p.price_cents, p.currency);
    crm_buf_puts(b, "</dd>\n");
    prop(b, "Stock");
    stock_text(b, &p);
    crm_buf_puts(b, "</dd>\n");
    prop(b, "Active");
    crm_buf_puts(b, p.active ? "yes" : "no");
    crm_buf_puts(b, "</dd>\n");
    if (p.description != NULL) {
        prop(b, "Description");
        crm_html_esc(b, p.description);
        crm_buf_puts(b, "</dd>\n");
    }
    time_prop(b, "Created", p.created_at);
    time_prop(b, "Updated", p.updated_at);
    crm_buf_puts(b, "</dl>\n");

    if (crm_html_can(r, ROLES_ADMIN)) {
        const char *self = crm_arena_printf(a, "/products/%lld", (long long)id);
        const char *api = crm_arena_printf(a, "/api/v1/products/%lld", (long long)id);
        crm_buf_puts(b, "<h2>Edit product</h2>\n");
        crm_html_form_begin(b, r, api, "PATCH", p.version, self, "novalidate");
        product_fields(b, a, &p);
        crm_buf_puts(b, "<div class=\"actions\"><button type=\"submit\">Save changes</button>"
                        "</div>\n");
        crm_html_form_end(b);
        crm_buf_puts(b, "<h2>Delete product</h2>\n<p>A product that is on orders cannot be "
                        "deleted; make it inactive instead.</p>\n");
        crm_html_form_begin(b, r, api, "DELETE", p.version, "/products",
                            "data-confirm=\"Delete this product?\"");
        crm_buf_puts(b, "<div class=\"actions\"><button type=\"submit\" class=\"danger\">"
                        "Delete product</button></div>\n");
        crm_html_form_end(b);
    }
    return page_send(r, 200);
}

/* ---- orders ---- */

static void orders_table(crm_req *r, crm_buf *b, const order *rows, size_t n)
{
    crm_buf_puts(b, "<div class=\"table-wrap\"><table id=\"orders-table\" class=\"stack\">\n"
                    "<thead><tr><th scope=\"col\">Order</th><th scope=\"col\">Customer</th>"
                    "<th scope=\"col\">Status</th><th scope=\"col\" class=\"num\">Total</th>"
                    "<th scope=\"col\">Created</th></tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < n; i++) {
        const order *o = &rows[i];
        crm_buf_printf(b,
                       "<tr><td data-label=\"Order\"><a href=\"/orders/%lld\">%lld</a></td>"
                       "<td data-label=\"Customer\">",
                       (long long)o->id, (long long)o->id);
        /* A sales user sees the name of their own customers only, like the
           customers API: an order keeps its owner when its customer moves. */
        int64_t scope = crm_auth_owner(r);
        customer_link(b, o->customer_id,
                      scope > 0 && o->customer_owner != scope ? NULL : o->customer_name);
        crm_buf_puts(b, "</td><td data-label=\"Status\">");
        badge(b, o->status, NULL);
        crm_buf_puts(b, "</td><td class=\"num\" data-label=\"Total\">");
        crm_html_money(b, o->total_cents, o->currency);
        crm_buf_puts(b, "</td><td data-label=\"Created\">");
        crm_html_time(b, o->created_at);
        crm_buf_puts(b, "</td></tr>\n");
    }
    crm_buf_puts(b, "</tbody></table></div>\n");
}

int orders_page_list(crm_req *r)
{
    static const char *const shown[] = { "status", "customer", NULL };
    crm_arena *a = crm_req_arena(r);
    crm_field_error errs[12];
    size_t ne = 0, n = 0;
    order_filter f;
    crm_api_list l;
    order *rows = NULL;
    int rc;

    if ((rc = crm_req_query_check(r, order_params)) != CRM_OK)
        return rc;
    orders_filter(r, 1, &f, &l, errs, &ne);
    if (ne == 0) {
        rows = crm_arena_alloc(a, sizeof(order) * (size_t)f.limit);
        if ((rc = store_order_list(sales_db, a, &f, rows, &n)) != CRM_OK)
            return sales_db_error(r, rc);
    }

    crm_buf *b = page_begin(r, "Orders", "orders");
    crm_buf_puts(b, "<h1>Orders</h1>\n");
    if (crm_html_can(r, ROLES_WRITE))
        crm_buf_puts(b, "<p class=\"actions\"><a class=\"button\" href=\"/orders/new\">"
                        "New order</a></p>\n");
    crm_buf_puts(b, "<form method=\"get\" action=\"/orders\" class=\"filters\" role=\"search\">\n");
    keep_params(b, r, order_params, shown);
    crm_html_select(b, "status", "Status", status_values, status_labels, crm_req_query(r, "status"),
                    NULL);
    crm_html_input(b, "customer", "Customer id", "number", crm_req_query(r, "customer"),
                   "min=\"1\" step=\"1\" inputmode=\"numeric\"");
    crm_buf_puts(b, "<div class=\"field\"><button type=\"submit\">Filter</button></div>\n"
                    "</form>\n");
    if (ne > 0) {
        query_errors(b, errs, ne);
        return page_send(r, 400);
    }
    size_t shown_n = n > (size_t)l.limit ? (size_t)l.limit : n;
    if (shown_n == 0)
        crm_buf_puts(b, "<p class=\"notice\">No orders match.</p>\n");
    else
        orders_table(r, b, rows, shown_n);
    if (shown_n > 0)
        pager(b, r, "/orders", order_params, &l, n, rows[shown_n - 1].sort_value,
              rows[shown_n - 1].id);
    return page_send(r, 200);
}

/* The customer field: a select of those the caller may order for, or an id. */
static int customer_field(crm_buf *b, crm_req *r)
{
    crm_arena *a = crm_req_arena(r);
    customer_row *rows = crm_arena_alloc(a, sizeof(customer_row) * (PICK_MAX + 1));
    size_t n = 0;
    int rc = store_customer_list(sales_db, a, crm_auth_owner(r), PICK_MAX + 1, rows, &n);

    if (rc != CRM_OK)
        return rc;
    if (n == 0 || n > PICK_MAX) {
        if (n == 0)
            crm_buf_puts(b, "<p class=\"notice\" id=\"no-customers\">There are no customers you "
                            "can order for yet. A customer made a moment ago may not be known "
                            "here yet: enter its id.</p>\n");
        crm_html_input(b, "customer_id", "Customer id", "number", NULL,
                       "required min=\"1\" step=\"1\" inputmode=\"numeric\"");
        return CRM_OK;
    }
    const char **values = crm_arena_alloc(a, sizeof(char *) * (n + 2));
    const char **labels = crm_arena_alloc(a, sizeof(char *) * (n + 2));
    values[0] = "";
    labels[0] = "Choose a customer";
    for (size_t i = 0; i < n; i++) {
        values[i + 1] = id_text(a, rows[i].id);
        labels[i + 1] = crm_arena_printf(a, "%s (%lld)", rows[i].name, (long long)rows[i].id);
    }
    values[n + 1] = labels[n + 1] = NULL;
    crm_html_select(b, "customer_id", "Customer", values, labels, NULL, "required");
    return CRM_OK;
}

/* The choices of a line's product: every active product by name (n > PICK_MAX: too many). */
static int product_choices(crm_req *r, const char ***values, const char ***labels, size_t *n)
{
    crm_arena *a = crm_req_arena(r);
    product_filter f;
    product *rows = crm_arena_alloc(a, sizeof(product) * (PICK_MAX + 1));
    crm_buf money;
    int rc;

    memset(&f, 0, sizeof(f));
    f.active = 1;
    f.sort = PSORT_NAME_ASC;
    f.limit = PICK_MAX + 1;
    if ((rc = store_product_list(sales_db, a, &f, rows, n)) != CRM_OK)
        return rc;
    const char **v = crm_arena_alloc(a, sizeof(char *) * (*n + 2));
    const char **l = crm_arena_alloc(a, sizeof(char *) * (*n + 2));
    v[0] = "";
    l[0] = "No product";
    crm_buf_init(&money, 64);
    for (size_t i = 0; i < *n; i++) {
        crm_buf_reset(&money);
        crm_html_money(&money, rows[i].price_cents, rows[i].currency);
        v[i + 1] = id_text(a, rows[i].id);
        l[i + 1] = crm_arena_printf(a, "%s (%s), %s", rows[i].name, rows[i].sku, money.data);
    }
    crm_buf_free(&money);
    v[*n + 1] = l[*n + 1] = NULL;
    *values = v;
    *labels = l;
    return CRM_OK;
}

int orders_page_new(crm_req *r)
{
    crm_arena *a = crm_req_arena(r);
    const char **values = NULL, **labels = NULL;
    size_t n_products = 0;
    int rc;

    if ((rc = product_choices(r, &values, &labels, &n_products)) != CRM_OK)
        return sales_db_error(r, rc);
    crm_buf *b = page_begin(r, "New order", "orders");
    crm_buf_puts(b, "<p><a href=\"/orders\">Orders</a></p>\n<h1>New order</h1>\n");
    crm_html_form_begin(b, r, "/api/v1/orders", NULL, 0, NULL,
                        "data-next=\"/orders/{id}\" novalidate");
    if ((rc = customer_field(b, r)) != CRM_OK)
        return sales_db_error(r, rc);

    crm_buf_puts(b, "<fieldset class=\"lines\"><legend>Lines</legend>\n"
                    "<p class=\"muted\">Rows left empty are ignored.</p>\n");
    if (n_products == 0)
        crm_buf_puts(b, "<p class=\"notice\">There are no active products to sell yet.</p>\n");
    for (int i = 0; i < FORM_LINES; i++) {
        const char *product_id = crm_arena_printf(a, "lines[%d].product_id", i);
        const char *quantity = crm_arena_printf(a, "lines[%d].quantity", i);
        crm_buf_puts(b, "<div class=\"line\">\n");
        if (n_products > PICK_MAX)
            crm_html_input(b, product_id, crm_arena_printf(a, "Product id, line %d", i + 1),
                           "number", NULL, "min=\"1\" step=\"1\" inputmode=\"numeric\"");
        else
            crm_html_select(b, product_id, crm_arena_printf(a, "Product, line %d", i + 1), values,
                            labels, NULL, NULL);
        crm_html_input(b, quantity, crm_arena_printf(a, "Quantity, line %d", i + 1), "number", NULL,
                       "min=\"1\" max=\"1000000\" step=\"1\" inputmode=\"numeric\"");
        crm_buf_puts(b, "</div>\n");
    }
    /* Errors about the lines as a whole ("lines": the total is too large). */
    crm_buf_puts(b, "<span class=\"error\" id=\"e-lines\" data-error-for=\"lines\"></span>\n"
                    "</fieldset>\n");
    crm_html_input(b, "currency", "Currency (only for an order without lines)", "text", NULL,
                   "maxlength=\"3\" autocapitalize=\"characters\"");
    crm_html_textarea(b, "note", "Note", NULL, "maxlength=\"2000\"");
    crm_buf_puts(b, "<div class=\"actions\"><button type=\"submit\">Create order</button>"
                    "<a href=\"/orders\">Cancel</a></div>\n");
    crm_html_form_end(b);
    return page_send(r, 200);
}

static void order_props(crm_buf *b, crm_req *r, const order *o, const char *customer)
{
    crm_buf_puts(b, "<dl class=\"props\">\n");
    prop(b, "Customer");
    customer_link(b, o->customer_id, customer);
    crm_buf_puts(b, "</dd>\n");
    prop(b, "Currency");
    crm_html_esc(b, o->currency);
    crm_buf_puts(b, "</dd>\n");
    if (o->campaign_id > 0) {
        prop(b, "Campaign");
        if (crm_html_can(r, ROLES_CAMPAIGNS))
            crm_buf_printf(b, "<a href=\"/campaigns/%lld\">Campaign %lld</a></dd>\n",
                           (long long)o->campaign_id, (long long)o->campaign_id);
        else
            crm_buf_printf(b, "Campaign %lld</dd>\n", (long long)o->campaign_id);
    }
    if (o->owner_id > 0) {
        prop(b, "Owner");
        crm_buf_printf(b, "User %lld</dd>\n", (long long)o->owner_id);
    }
    if (o->note != NULL) {
        prop(b, "Note");
        crm_html_esc(b, o->note);
        crm_buf_puts(b, "</dd>\n");
    }
    time_prop(b, "Created", o->created_at);
    time_prop(b, "Confirmed", o->confirmed_at);
    time_prop(b, "Fulfilled", o->fulfilled_at);
    time_prop(b, "Cancelled", o->cancelled_at);
    crm_buf_puts(b, "</dl>\n");
}

static void lines_table(crm_buf *b, const order *o)
{
    crm_buf_puts(b, "<div class=\"table-wrap\"><table id=\"order-lines\" class=\"stack\">\n"
                    "<thead><tr><th scope=\"col\">Product</th>"
                    "<th scope=\"col\" class=\"num\">Quantity</th>"
                    "<th scope=\"col\" class=\"num\">Unit price</th>"
                    "<th scope=\"col\" class=\"num\">Line total</th></tr></thead>\n<tbody>\n");
    if (o->n_lines == 0)
        crm_buf_puts(b, "<tr><td colspan=\"4\">This order has no lines.</td></tr>\n");
    for (size_t i = 0; i < o->n_lines; i++) {
        const order_line *l = &o->lines[i];
        crm_buf_printf(b, "<tr><td data-label=\"Product\"><a href=\"/products/%lld\">",
                       (long long)l->product_id);
        crm_html_esc(b, l->name);
        crm_buf_puts(b, "</a> <span class=\"muted\">");
        crm_html_esc(b, l->sku);
        crm_buf_printf(b,
                       "</span></td><td class=\"num\" data-label=\"Quantity\">%lld</td>"
                       "<td class=\"num\" data-label=\"Unit price\">",
                       (long long)l->quantity);
        crm_html_money(b, l->unit_price_cents, o->currency);
        crm_buf_puts(b, "</td><td class=\"num\" data-label=\"Line total\">");
        crm_html_money(b, l->line_total_cents, o->currency);
        crm_buf_puts(b, "</td></tr>\n");
    }
    crm_buf_puts(b, "</tbody>\n<tfoot><tr><th scope=\"row\" colspan=\"3\">Total</th>"
                    "<td class=\"num\" id=\"order-total\">");
    crm_html_money(b, o->total_cents, o->currency);
    crm_buf_puts(b, "</td></tr></tfoot>\n</table></div>\n");
}

/* One form per action the order's status allows (states.c decides). */
static void order_actions(crm_buf *b, crm_req *r, const order *o)
{
    static const struct {
        order_action act;
        const char *button;
        const char *attrs;
    } actions[] = {
        { ACT_CONFIRM, "<button type=\"submit\">Confirm order</button>", NULL },
        { ACT_FULFILL, "<button type=\"submit\">Fulfil order</button>", NULL },
        { ACT_CANCEL, "<button type=\"submit\" class=\"danger\">Cancel order</button>",
          "data-confirm=\"Cancel this order?\"" },
    };
    crm_arena *a = crm_req_arena(r);
    const char *self = crm_arena_printf(a, "/orders/%lld", (long long)o->id);
    int any = 0;

    for (size_t i = 0; i < CRM_NELEM(actions); i++) {
        order_status to;
        if (order_transition(o->status, actions[i].act, &to) != CRM_OK)
            continue;
        if (!any)
            crm_buf_puts(b, "<h2>Actions</h2>\n<div class=\"actions order-actions\">\n");
        any = 1;
        crm_html_form_begin(b, r,
                            crm_arena_printf(a, "/api/v1/orders/%lld/%s", (long long)o->id,
                                             order_action_name(actions[i].act)),
                            NULL, o->version, self, actions[i].attrs);
        crm_buf_puts(b, actions[i].button);
        crm_buf_putc(b, '\n');
        crm_html_form_end(b);
    }
    if (any)
        crm_buf_puts(b, "</div>\n");
}

int orders_page_show(crm_req *r)
{
    crm_arena *a = crm_req_arena(r);
    const char *customer = NULL;
    int64_t id;
    order o;
    int rc;

    if (crm_req_path_id(r, "id", &id) != CRM_OK)
        return crm_problem(r, 404, "no such order");
    rc = store_order_get(sales_db, a, id, 0, &o);
    if (rc == CRM_OK && !order_visible(r, &o))
        rc = CRM_NOTFOUND;
    if (rc == CRM_NOTFOUND)
        return crm_problem(r, 404, "no such order");
    if (rc == CRM_OK)
        rc = store_order_lines(sales_db, a, &o);
    if (rc == CRM_OK) {
        rc = store_customer_name(sales_db, a, o.customer_id, crm_auth_owner(r), &customer);
        if (rc == CRM_NOTFOUND)
            rc = CRM_OK; /* deleted, or no longer the caller's: shown by id */
    }
    if (rc != CRM_OK)
        return sales_db_error(r, rc);

    crm_buf *b = page_begin(r, crm_arena_printf(a, "Order %lld", (long long)id), "orders");
    crm_buf_printf(b, "<p><a href=\"/orders\">Orders</a></p>\n<h1>Order %lld</h1>\n<p>Status: ",
                   (long long)id);
    badge(b, o.status, "order-status");
    crm_buf_puts(b, "</p>\n");
    order_props(b, r, &o, customer);
    crm_buf_puts(b, "<h2>Lines</h2>\n");
    lines_table(b, &o);
    if (crm_html_can(r, ROLES_WRITE))
        order_actions(b, r, &o);
    return page_send(r, 200);
}
