/*
 * pages.c - the customers pages for browsers: the list with its search,
 * one customer with its notes, and the forms to create and edit one.
 *
 * Pages read through the API's own code (customers_list_query,
 * customers_visible, store.c), so a page shows a caller exactly what the
 * API would answer them: same filters, limits and scope. Their forms post
 * to the API, which judges every value (crm_html.h); the HTML5 hints on
 * the fields only help, and novalidate lets the server's answer through.
 */
#include "customers.h"

#include "crm_auth.h"
#include "crm_html.h"

#include <stdio.h>
#include <string.h>

/* Far above the largest page the limits allow (200 rows, or 50 notes of
   10,000 characters, all escaped): a page is never cut. */
#define PAGE_CAP    (8u << 20)
#define NOTES_SHOWN 50

static const char *const no_params[] = { NULL };

/* ---- small helpers ---- */

static void page_begin(crm_buf *b, crm_req *r, const char *title)
{
    crm_buf_init(b, PAGE_CAP);
    crm_html_begin(b, r, title, "customers");
}

static int page_send(crm_req *r, crm_buf *b)
{
    crm_html_end(b);
    int status = crm_html_send(r, 200, b);
    crm_buf_free(b);
    return status;
}

static const char *path_of(crm_req *r, int64_t id, const char *rest)
{
    return crm_arena_printf(crm_req_arena(r), "/customers/%lld%s", (long long)id, rest);
}

/* A user id as the pages name users ("User 12"); none: a dash. */
static void put_user(crm_buf *b, int64_t id)
{
    if (id > 0)
        crm_buf_printf(b, "User %lld", (long long)id);
    else
        crm_buf_puts(b, "&ndash;");
}

/* An optional text escaped, or a dash. */
static void put_opt(crm_buf *b, const char *s)
{
    if (s != NULL && *s != '\0')
        crm_html_esc(b, s);
    else
        crm_buf_puts(b, "&ndash;");
}

/*
 * The stored tags (a JSON array this service wrote, of [a-z0-9_-] items)
 * as the form's comma-separated text: "vip, b2b".
 */
static const char *tags_text(crm_arena *a, const char *json)
{
    crm_buf t;
    crm_buf_init(&t, 0);
    for (const char *p = json; p != NULL && *p != '\0'; p++) {
        char c = *p;
        if (c == ',')
            crm_buf_puts(&t, ", ");
        else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')
            crm_buf_putc(&t, c);
    }
    const char *s = crm_arena_strndup(a, t.data != NULL ? t.data : "", t.len);
    crm_buf_free(&t);
    return s;
}

/* ---- the list ---- */

/* The list's parameters a link carries on; the search form has fields
   for the first three and carries the others as they were. */
static const char *const list_keep[] = { "q", "status", "owner", "tag", "sort", "limit", NULL };
static const char *const list_hidden[] = { "tag", "sort", "limit", NULL };

/* "/customers?q=..&status=.." with the current filters, and cursor when
   not NULL; written for an attribute value. */
static void list_href(crm_buf *b, crm_req *r, const char *cursor)
{
    const char *sep = "?";

    crm_buf_puts(b, "/customers");
    for (size_t i = 0; list_keep[i] != NULL; i++) {
        const char *v = crm_req_query(r, list_keep[i]);
        if (v == NULL || *v == '\0')
            continue;
        crm_buf_printf(b, "%s%s=", sep, list_keep[i]);
        crm_html_url(b, v);
        sep = "&amp;";
    }
    if (cursor != NULL) {
        crm_buf_printf(b, "%scursor=", sep);
        crm_html_url(b, cursor);
    }
}

static void search_form(crm_buf *b, crm_req *r)
{
    /* The statuses after "any" (an empty value: no filter). */
    const char *values[8] = { "" }, *labels[8] = { "any" };
    for (size_t i = 0; customer_statuses[i] != NULL && i + 2 < CRM_NELEM(values); i++)
        values[i + 1] = labels[i + 1] = customer_statuses[i];
    const char *status = crm_req_query(r, "status");

    crm_buf_puts(b, "<form method=\"get\" action=\"/customers\" role=\"search\" "
                    "class=\"filters\" aria-label=\"Search customers\">\n");
    crm_html_input(b, "q", "Search", "search", crm_req_query(r, "q"), NULL);
    crm_html_select(b, "status", "Status", values, labels, status != NULL ? status : "", NULL);
    /* A sales user's list is their own: no owner to choose. */
    if (crm_auth_owner(r) == 0)
        crm_html_input(b, "owner", "Owner id", "number", crm_req_query(r, "owner"),
                       "min=\"1\" inputmode=\"numeric\"");
    for (size_t i = 0; list_hidden[i] != NULL; i++) {
        const char *v = crm_req_query(r, list_hidden[i]);
        if (v != NULL && *v != '\0')
            crm_html_hidden(b, list_hidden[i], v);
    }
    crm_buf_puts(b, "<div class=\"field\"><button type=\"submit\">Search</button></div>\n"
                    "</form>\n");
}

static void customer_row(crm_buf *b, const customer *c)
{
    /* data-label: the column's name, shown in the cell on a phone, where
       the stacked table hides its header (style.css). */
    crm_buf_printf(b, "<tr><td data-label=\"Name\"><a href=\"/customers/%lld\">", (long long)c->id);
    crm_html_esc(b, c->name);
    crm_buf_puts(b, "</a></td><td data-label=\"Email\">");
    crm_html_esc(b, c->email);
    crm_buf_puts(b, "</td><td data-label=\"Company\">");
    put_opt(b, c->company);
    crm_buf_puts(b, "</td><td data-label=\"Status\"><span class=\"badge\">");
    crm_html_esc(b, c->status);
    crm_buf_puts(b, "</span></td><td data-label=\"Owner\">");
    put_user(b, c->owner_id);
    crm_buf_puts(b, "</td><td data-label=\"Updated\">");
    crm_html_time(b, c->updated_at);
    crm_buf_puts(b, "</td></tr>\n");
}

static void customers_table(crm_buf *b, const customer *rows, size_t n)
{
    crm_buf_puts(b, "<div class=\"table-wrap\">\n<table id=\"customers-table\" class=\"stack\">\n"
                    "<thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Email</th>"
                    "<th scope=\"col\">Company</th><th scope=\"col\">Status</th>"
                    "<th scope=\"col\">Owner</th><th scope=\"col\">Updated</th></tr></thead>\n"
                    "<tbody>\n");
    for (size_t i = 0; i < n; i++)
        customer_row(b, &rows[i]);
    crm_buf_puts(b, "</tbody>\n</table>\n</div>\n");
}

static void pager(crm_buf *b, crm_req *r, const char *next)
{
    int later = crm_req_query(r, "cursor") != NULL;

    if (!later && next == NULL)
        return;
    crm_buf_puts(b, "<nav class=\"pager\" aria-label=\"Pages\">");
    if (later) {
        crm_buf_puts(b, "<a href=\"");
        list_href(b, r, NULL);
        crm_buf_puts(b, "\" rel=\"first\">First page</a>");
    }
    if (next != NULL) {
        crm_buf_puts(b, "<a href=\"");
        list_href(b, r, next);
        crm_buf_puts(b, "\" rel=\"next\">Next page</a>");
    }
    crm_buf_puts(b, "</nav>\n");
}

int customers_page_list(crm_req *r)
{
    crm_arena *a = crm_req_arena(r);
    customer_filter f;
    crm_api_list l;
    crm_buf b;
    size_t n = 0;
    int rc;

    if ((rc = customers_list_query(r, 1, &f, &l)) != CRM_OK)
        return rc;
    customer *rows = crm_arena_alloc(a, sizeof(customer) * (size_t)f.limit);
    if ((rc = store_customer_list(customers_db(), a, &f, rows, &n)) != CRM_OK)
        return crm_api_db_error(r, customers_db(), rc);
    size_t shown = n > (size_t)l.limit ? (size_t)l.limit : n;
    const char *next = NULL;
    if (n > shown) {
        const customer *last = &rows[shown - 1];
        next = crm_cursor_encode(a, l.scope, last->sort_value ? last->sort_value : "", last->id);
    }

    page_begin(&b, r, "Customers");
    crm_buf_puts(&b, "<h1>Customers</h1>\n");
    if (crm_html_can(r, CRM_ROLES_WRITE))
        crm_buf_puts(&b, "<p class=\"actions\"><a class=\"button\" href=\"/customers/new\">"
                         "New customer</a></p>\n");
    search_form(&b, r);
    if (shown > 0)
        customers_table(&b, rows, shown);
    else
        crm_buf_puts(&b, "<p class=\"notice\" id=\"customers-empty\">No customers match these "
                         "filters.</p>\n");
    pager(&b, r, next);
    return page_send(r, &b);
}

/* ---- the forms ---- */

/* The customer's fields as the API names them, filled from c (NULL: a new
   one). Only an admin gives a customer to someone (owner_id). */
static void customer_fields(crm_buf *b, crm_req *r, const customer *c)
{
    crm_arena *a = crm_req_arena(r);

    crm_html_input(b, "name", "Name", "text", c ? c->name : NULL,
                   "required maxlength=\"200\" autocomplete=\"off\"");
    crm_html_input(b, "email", "Email", "email", c ? c->email : NULL,
                   "required maxlength=\"254\" autocomplete=\"off\"");
    crm_html_input(b, "phone", "Phone", "tel", c ? c->phone : NULL, "maxlength=\"40\"");
    crm_html_input(b, "company", "Company", "text", c ? c->company : NULL, "maxlength=\"200\"");
    crm_html_select(b, "status", "Status", customer_statuses, NULL, c ? c->status : "lead", NULL);
    crm_html_input(b, "tags", "Tags, separated by commas", "text", c ? tags_text(a, c->tags) : NULL,
                   "autocomplete=\"off\"");
    if (crm_html_can(r, CRM_ROLE_ADMIN)) {
        const char *owner =
            c && c->owner_id > 0 ? crm_arena_printf(a, "%lld", (long long)c->owner_id) : NULL;
        crm_html_input(b, "owner_id", "Owner id", "number", owner,
                       "min=\"1\" inputmode=\"numeric\"");
    }
}

int customers_page_new(crm_req *r)
{
    crm_buf b;
    int rc;

    if ((rc = crm_req_query_check(r, no_params)) != CRM_OK)
        return rc;
    page_begin(&b, r, "New customer");
    crm_buf_puts(&b, "<p><a href=\"/customers\">All customers</a></p>\n"
                     "<h1>New customer</h1>\n");
    /* Without JavaScript the API answers the form with a 303 to the new
       customer's page; with it, app.js goes to data-next. */
    crm_html_form_begin(&b, r, "/api/v1/customers", NULL, 0, NULL,
                        "novalidate data-next=\"/customers/{id}\"");
    customer_fields(&b, r, NULL);
    crm_buf_puts(&b, "<div class=\"actions\"><button type=\"submit\">Create customer</button>"
                     "<a href=\"/customers\">Cancel</a></div>\n");
    crm_html_form_end(&b);
    return page_send(r, &b);
}

int customers_page_edit(crm_req *r)
{
    crm_arena *a = crm_req_arena(r);
    customer c;
    crm_buf b;
    int64_t id;
    int rc;

    if (crm_req_path_id(r, "id", &id) != CRM_OK)
        return crm_problem(r, 404, "no such customer");
    if ((rc = crm_req_query_check(r, no_params)) != CRM_OK)
        return rc;
    if ((rc = customers_visible(r, a, id, &c)) != CRM_OK)
        return rc;
    const char *page = path_of(r, id, "");

    page_begin(&b, r, crm_arena_printf(a, "Edit %s", c.name));
    crm_buf_puts(&b, "<p><a href=\"");
    crm_html_esc(&b, page);
    crm_buf_puts(&b, "\">Back to the customer</a></p>\n<h1>Edit ");
    crm_html_esc(&b, c.name);
    crm_buf_puts(&b, "</h1>\n");
    /* The version shown goes back as If-Match: a change made since is a
       412, never overwritten. */
    crm_html_form_begin(&b, r, crm_arena_printf(a, "/api/v1/customers/%lld", (long long)id),
                        "PATCH", c.version, page, "novalidate");
    customer_fields(&b, r, &c);
    crm_buf_puts(&b, "<div class=\"actions\"><button type=\"submit\">Save changes</button>"
                     "<a href=\"");
    crm_html_esc(&b, page);
    crm_buf_puts(&b, "\">Cancel</a></div>\n");
    crm_html_form_end(&b);
    return page_send(r, &b);
}

/* ---- one customer ---- */

static void prop(crm_buf *b, const char *term)
{
    crm_buf_printf(b, "<dt>%s</dt><dd>", term);
}

static void customer_props(crm_buf *b, crm_arena *a, const customer *c)
{
    crm_buf_puts(b, "<dl class=\"props\">\n");
    prop(b, "Email");
    /* Each part percent-encoded: an address may hold '?' or '&', which in
       a mailto: link would add headers (a hidden Bcc) to the mail. */
    const char *at = strrchr(c->email, '@');
    crm_buf_puts(b, "<a href=\"mailto:");
    if (at != NULL) {
        crm_html_url(b, crm_arena_strndup(a, c->email, (size_t)(at - c->email)));
        crm_buf_putc(b, '@');
        crm_html_url(b, at + 1);
    } else {
        crm_html_url(b, c->email);
    }
    crm_buf_puts(b, "\">");
    crm_html_esc(b, c->email);
    crm_buf_puts(b, "</a></dd>\n");
    prop(b, "Phone");
    put_opt(b, c->phone);
    crm_buf_puts(b, "</dd>\n");
    prop(b, "Company");
    put_opt(b, c->company);
    crm_buf_puts(b, "</dd>\n");
    prop(b, "Status");
    crm_buf_puts(b, "<span class=\"badge\">");
    crm_html_esc(b, c->status);
    crm_buf_puts(b, "</span></dd>\n");
    prop(b, "Owner");
    put_user(b, c->owner_id);
    crm_buf_puts(b, "</dd>\n");
    prop(b, "Tags");
    put_opt(b, tags_text(a, c->tags));
    crm_buf_puts(b, "</dd>\n");
    crm_buf_printf(b, "<dt>Version</dt><dd>%lld</dd>\n", (long long)c->version);
    prop(b, "Created");
    crm_html_time(b, c->created_at);
    crm_buf_puts(b, "</dd>\n");
    prop(b, "Updated");
    crm_html_time(b, c->updated_at);
    crm_buf_puts(b, "</dd>\n</dl>\n");
}

/* For a writer: Edit, and Delete with the version shown as If-Match. */
static void customer_actions(crm_buf *b, crm_req *r, const customer *c)
{
    crm_arena *a = crm_req_arena(r);

    crm_buf_puts(b, "<div class=\"actions\">");
    crm_buf_printf(b, "<a class=\"button secondary\" href=\"/customers/%lld/edit\">Edit</a>\n",
                   (long long)c->id);
    crm_html_form_begin(b, r, crm_arena_printf(a, "/api/v1/customers/%lld", (long long)c->id),
                        "DELETE", c->version, "/customers",
                        "data-confirm=\"Delete this customer?\"");
    crm_buf_puts(b, "<button type=\"submit\" class=\"danger\">Delete customer</button>\n");
    crm_html_form_end(b);
    crm_buf_puts(b, "</div>\n");
}

static void note_form(crm_buf *b, crm_req *r, const customer *c)
{
    crm_arena *a = crm_req_arena(r);

    crm_html_form_begin(b, r, crm_arena_printf(a, "/api/v1/customers/%lld/notes", (long long)c->id),
                        NULL, 0, path_of(r, c->id, ""), "novalidate");
    crm_html_select(b, "kind", "Kind", customer_note_kinds, NULL, "note", NULL);
    crm_html_textarea(b, "body", "Note", NULL, "required maxlength=\"10000\" rows=\"4\"");
    crm_buf_puts(b, "<div class=\"actions\"><button type=\"submit\">Add note</button></div>\n");
    crm_html_form_end(b);
}

static void note_item(crm_buf *b, const note *n)
{
    crm_buf_puts(b, "<li><div class=\"meta\"><span class=\"badge\">");
    crm_html_esc(b, n->kind);
    crm_buf_puts(b, "</span> ");
    if (n->author_id > 0)
        crm_buf_printf(b, "User %lld, ", (long long)n->author_id);
    crm_html_time(b, n->created_at);
    /* The body keeps its line breaks (style.css: .note-body). */
    crm_buf_puts(b, "</div><div class=\"note-body\">");
    crm_html_esc(b, n->body);
    crm_buf_puts(b, "</div></li>\n");
}

/* Newest first; more than shown: a link to the older ones (keyset on the
   note id, like the API's timeline). */
static void notes_timeline(crm_buf *b, const customer *c, const note *rows, size_t n, int more,
                           int64_t before)
{
    crm_buf_puts(b, "<ol class=\"timeline\" id=\"notes\">\n");
    for (size_t i = 0; i < n; i++)
        note_item(b, &rows[i]);
    crm_buf_puts(b, "</ol>\n");
    if (n == 0)
        crm_buf_puts(b, "<p class=\"muted\" id=\"notes-empty\">No notes yet.</p>\n");
    if (before == 0 && !more)
        return;
    crm_buf_puts(b, "<nav class=\"pager\" aria-label=\"Notes\">");
    if (before > 0)
        crm_buf_printf(b, "<a href=\"/customers/%lld#notes\" rel=\"first\">Newest notes</a>",
                       (long long)c->id);
    if (more)
        crm_buf_printf(b,
                       "<a href=\"/customers/%lld?before=%lld#notes\" rel=\"next\">Older "
                       "notes</a>",
                       (long long)c->id, (long long)rows[n - 1].id);
    crm_buf_puts(b, "</nav>\n");
}

int customers_page_show(crm_req *r)
{
    static const char *const params[] = { "before", NULL };
    crm_arena *a = crm_req_arena(r);
    customer c;
    crm_buf b;
    int64_t id, before = 0;
    size_t n = 0;
    const char *s;
    int rc;

    if (crm_req_path_id(r, "id", &id) != CRM_OK)
        return crm_problem(r, 404, "no such customer");
    if ((rc = crm_req_query_check(r, params)) != CRM_OK)
        return rc;
    if ((s = crm_req_query(r, "before")) != NULL &&
        crm_api_parse_int(s, 1, INT64_MAX, &before) != CRM_OK) {
        crm_field_error err = { "before", "must be a note id" };
        return crm_api_bad_query(r, &err, 1);
    }
    if ((rc = customers_visible(r, a, id, &c)) != CRM_OK)
        return rc;
    note *rows = crm_arena_alloc(a, sizeof(note) * (NOTES_SHOWN + 1));
    rc = store_note_list(customers_db(), a, id, before, NOTES_SHOWN + 1, rows, &n);
    if (rc != CRM_OK)
        return crm_api_db_error(r, customers_db(), rc);
    int more = n > NOTES_SHOWN;
    int write = crm_html_can(r, CRM_ROLES_WRITE);

    page_begin(&b, r, c.name);
    crm_buf_puts(&b, "<p><a href=\"/customers\">All customers</a></p>\n<h1>");
    crm_html_esc(&b, c.name);
    crm_buf_puts(&b, "</h1>\n");
    if (write)
        customer_actions(&b, r, &c);
    customer_props(&b, a, &c);
    crm_buf_puts(&b, "<h2>Notes</h2>\n");
    if (write)
        note_form(&b, r, &c);
    notes_timeline(&b, &c, rows, more ? NOTES_SHOWN : n, more, before);
    return page_send(r, &b);
}
