/*
 * test_customers_pages.c - the customers pages (fcgi/customers/pages.c)
 * over the real stack: what they show (escaped), the forms' flows without
 * JavaScript (a form post that wants HTML: 303 on success, a page naming
 * the problem otherwise), what each role is offered and refused, and a
 * sales user's scope.
 */
#include "itest.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FORM_TYPE "application/x-www-form-urlencoded"
#define EVIL      "<script>alert(1)</script>"
#define EVIL_ESC  "&lt;script&gt;alert(1)&lt;/script&gt;"

static const char *const html_hdrs[] = { "Accept: text/html,application/xhtml+xml;q=0.9", NULL };

/* Two sales users of this run only: the customers service trusts the
   token and keeps no user table, so any id will do. */
static int64_t sales_id(int which)
{
    return INT64_C(900000000) + (int64_t)getpid() * 2 + which;
}

/* ---- helpers ------------------------------------------------------------------------------ */

static itest_resp *page(const char *path)
{
    return itest_get(path, html_hdrs);
}

/* A browser's form post without JavaScript. */
static itest_resp *form_post(const char *path, const char *body)
{
    return itest_request("POST", path, html_hdrs, body, strlen(body), FORM_TYPE);
}

static int has(const itest_resp *r, const char *needle)
{
    return r->body != NULL && strstr(r->body, needle) != NULL;
}

#define ASSERT_HAS(r, needle)                                                                      \
    ck_assert_msg(has((r), (needle)), "no %s in %s", (needle), itest_describe(r))
#define ASSERT_LACKS(r, needle)                                                                    \
    ck_assert_msg(!has((r), (needle)), "%s in %s", (needle), itest_describe(r))

/* status, text/html, the security headers. */
static void assert_html(const itest_resp *r, long status)
{
    ITEST_ASSERT_STATUS(r, status);
    const char *type = itest_header_get(r, "Content-Type");
    ck_assert_msg(type != NULL && strncmp(type, "text/html", 9) == 0, "type %s: %s",
                  type ? type : "(none)", itest_describe(r));
    ITEST_ASSERT_SECURITY(r);
    /* A problem page tells nothing of the server's insides. (Pages that
       show data are not scanned: cursors and names may hold anything.) */
    if (status >= 400)
        ck_assert_msg(itest_leak(r) == NULL, "leak %s", itest_leak(r));
}

/* A 303 whose Location's path is want. */
static void assert_see_other(const itest_resp *r, const char *want)
{
    ITEST_ASSERT_STATUS(r, 303);
    const char *loc = itest_header_get(r, "Location");
    ck_assert_msg(loc != NULL, "303 without Location: %s", itest_describe(r));
    const char *path = loc;
    if (strstr(loc, "://") != NULL)
        path = strchr(strstr(loc, "://") + 3, '/');
    ck_assert_msg(path != NULL && strcmp(path, want) == 0, "Location %s, want %s", loc, want);
}

static int64_t new_customer_json(const char *name, const char *extra)
{
    char email[128], body[1024];
    itest_unique_email(email, sizeof email, "pages");
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"email\":\"%s\"%s%s}", name, email,
             extra ? "," : "", extra ? extra : "");
    itest_resp *r = itest_json("POST", ITEST_CUSTOMERS, NULL, body);
    ITEST_ASSERT_STATUS(r, 201);
    int64_t id = itest_jint(r->json, "id");
    itest_free(r);
    return id;
}

static itest_resp *customer_json(int64_t id)
{
    char path[128];
    snprintf(path, sizeof path, ITEST_CUSTOMERS "/%" PRId64, id);
    return itest_get(path, NULL);
}

static void add_note(int64_t id, const char *json_body)
{
    char path[128];
    snprintf(path, sizeof path, ITEST_CUSTOMERS "/%" PRId64 "/notes", id);
    itest_resp *r = itest_json("POST", path, NULL, json_body);
    ITEST_ASSERT_STATUS(r, 201);
    itest_free(r);
}

/* The href of the link whose rel is rel, with &amp; turned back into &;
   the caller frees; NULL when there is none. */
static char *link_rel(const itest_resp *r, const char *rel)
{
    char marker[64];
    snprintf(marker, sizeof marker, "\" rel=\"%s\"", rel);
    const char *end = r->body ? strstr(r->body, marker) : NULL;
    if (end == NULL)
        return NULL;
    const char *start = end;
    while (start > r->body && strncmp(start, "href=\"", 6) != 0)
        start--;
    start += 6;
    char *out = calloc(1, (size_t)(end - start) + 1);
    size_t n = 0;
    for (const char *p = start; p < end; p++) {
        out[n++] = *p;
        if (strncmp(p, "&amp;", 5) == 0)
            p += 4;
    }
    return out;
}

static size_t count_of(const itest_resp *r, const char *needle)
{
    size_t n = 0;
    for (const char *p = r->body; p && (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* ---- the list ----------------------------------------------------------------------------- */

START_TEST(test_list_renders_escaped)
{
    char word[40], name[128], path[256], link[64];
    itest_unique_word(word, sizeof word);
    snprintf(name, sizeof name, EVIL " %s", word);
    int64_t id = new_customer_json(name, "\"company\":\"A & B\"");

    snprintf(path, sizeof path, "/customers?q=%s", word);
    itest_resp *r = page(path);
    assert_html(r, 200);
    ASSERT_HAS(r, "<h1>Customers</h1>");
    ASSERT_HAS(r, "<table id=\"customers-table\"");
    ASSERT_HAS(r, "<th scope=\"col\">Name</th>");
    ASSERT_HAS(r, EVIL_ESC);
    ASSERT_LACKS(r, EVIL);
    ASSERT_HAS(r, "A &amp; B");
    snprintf(link, sizeof link, "<a href=\"/customers/%" PRId64 "\">", id);
    ASSERT_HAS(r, link);
    /* An admin may create; the search keeps its word. */
    ASSERT_HAS(r, "<a class=\"button\" href=\"/customers/new\">New customer</a>");
    snprintf(path, sizeof path, "name=\"q\" aria-describedby=\"e-q\" value=\"%s\"", word);
    ASSERT_HAS(r, path);
    ASSERT_HAS(r, "<label for=\"f-q\">Search</label>");
    ASSERT_HAS(r, "<label for=\"f-owner\">Owner id</label>");
    itest_free(r);

    /* A page for a client that asks for nothing in particular, too. */
    r = itest_get("/customers", NULL);
    assert_html(r, 200);
    itest_free(r);
}
END_TEST

START_TEST(test_list_paging_keeps_filters)
{
    char tag[40], extra[128], path[256];
    itest_unique_word(tag, sizeof tag);
    snprintf(extra, sizeof extra, "\"tags\":[\"%s\"],\"status\":\"prospect\"", tag);
    int64_t ids[3];
    for (int i = 0; i < 3; i++)
        ids[i] = new_customer_json("Paged customer", extra);

    /* The search form's empty fields mean "any". */
    snprintf(path, sizeof path, "/customers?q=&status=prospect&owner=&tag=%s&limit=2", tag);
    itest_resp *r = page(path);
    assert_html(r, 200);
    ck_assert_int_eq(count_of(r, "<tr><td data-label=\"Name\"><a href=\"/customers/"), 2);
    ASSERT_HAS(r, "<option value=\"prospect\" selected>");
    snprintf(path, sizeof path, "<input type=\"hidden\" name=\"tag\" value=\"%s\">", tag);
    ASSERT_HAS(r, path);
    ASSERT_LACKS(r, "rel=\"first\"");
    char *next = link_rel(r, "next");
    ck_assert_msg(next != NULL, "no next link: %s", itest_describe(r));
    ck_assert_msg(strstr(next, "status=prospect") && strstr(next, tag) && strstr(next, "limit=2") &&
                      strstr(next, "cursor="),
                  "next link %s", next);
    /* Newest first: the last two made are on the first page. */
    snprintf(path, sizeof path, "<a href=\"/customers/%" PRId64 "\">", ids[2]);
    ASSERT_HAS(r, path);
    itest_free(r);

    r = page(next);
    assert_html(r, 200);
    ck_assert_int_eq(count_of(r, "<tr><td data-label=\"Name\"><a href=\"/customers/"), 1);
    snprintf(path, sizeof path, "<a href=\"/customers/%" PRId64 "\">", ids[0]);
    ASSERT_HAS(r, path);
    ASSERT_LACKS(r, "rel=\"next\"");
    char *first = link_rel(r, "first");
    ck_assert_msg(first != NULL && strstr(first, "cursor=") == NULL && strstr(first, tag),
                  "first link %s", first ? first : "(none)");
    ASSERT_HAS(r, ">First page</a>");
    free(first);
    free(next);
    itest_free(r);

    /* Nothing found: the empty state, no table. */
    itest_unique_word(tag, sizeof tag);
    snprintf(path, sizeof path, "/customers?tag=%s", tag);
    r = page(path);
    assert_html(r, 200);
    ASSERT_HAS(r, "No customers match these filters.");
    ASSERT_LACKS(r, "customers-table");
    itest_free(r);
}
END_TEST

START_TEST(test_list_bad_query)
{
    itest_resp *r = page("/customers?status=bogus&q=ab");
    assert_html(r, 400);
    ASSERT_HAS(r, "<strong>status</strong>: must be one of");
    ASSERT_HAS(r, "<strong>q</strong>");
    itest_free(r);
    r = page("/customers?colour=red");
    assert_html(r, 400);
    itest_free(r);
    r = page("/customers?cursor=nonsense");
    assert_html(r, 400);
    ASSERT_HAS(r, "<strong>cursor</strong>");
    itest_free(r);
}
END_TEST

/* ---- creating ----------------------------------------------------------------------------- */

START_TEST(test_new_form)
{
    itest_resp *r = page("/customers/new");
    assert_html(r, 200);
    ASSERT_HAS(r, "<h1>New customer</h1>");
    ASSERT_HAS(r, "action=\"/api/v1/customers\" data-enhance");
    ASSERT_HAS(r, "novalidate");
    ASSERT_HAS(r, "data-next=\"/customers/{id}\"");
    ASSERT_HAS(r, "name=\"csrf_token\"");
    static const char *const fields[] = { "name",   "email", "phone",   "company",
                                          "status", "tags",  "owner_id" };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        char want[128];
        snprintf(want, sizeof want, "<label for=\"f-%s\">", fields[i]);
        ASSERT_HAS(r, want);
        snprintf(want, sizeof want, "data-error-for=\"%s\"", fields[i]);
        ASSERT_HAS(r, want);
    }
    ASSERT_HAS(r, "<input type=\"email\" id=\"f-email\"");
    ASSERT_HAS(r, "<button type=\"submit\">Create customer</button>");
    itest_free(r);
}
END_TEST

START_TEST(test_create_flow)
{
    char email[128], body[512], path[128], word[40];
    itest_unique_email(email, sizeof email, "newform");
    itest_unique_word(word, sizeof word);
    char *enc = itest_urlencode(email);
    /* Every field as the form sends it: the empty ones too. */
    snprintf(body, sizeof body,
             "name=%%3Cb%%3EFormed%%3C%%2Fb%%3E+%s&email=%s&phone=&company=&status=prospect"
             "&tags=vip%%2C+b2b&owner_id=",
             word, enc);
    itest_resp *r = form_post("/api/v1/customers", body);
    ITEST_ASSERT_STATUS(r, 303);
    int64_t id = itest_location_id(r);
    ck_assert_msg(id > 0, "%s", itest_describe(r));
    snprintf(path, sizeof path, "/customers/%" PRId64, id);
    assert_see_other(r, path);
    itest_free(r);

    r = page(path);
    assert_html(r, 200);
    ASSERT_HAS(r, "<h1>&lt;b&gt;Formed&lt;/b&gt; ");
    ASSERT_HAS(r, email);
    ASSERT_HAS(r, "<span class=\"badge\">prospect</span>");
    ASSERT_HAS(r, "vip, b2b");
    itest_free(r);

    /* A bad email: a page naming the field, and nothing made. */
    snprintf(body, sizeof body, "name=Bad+%s&email=not-an-email&phone=&company=&status=lead", word);
    r = form_post("/api/v1/customers", body);
    assert_html(r, 422);
    ASSERT_HAS(r, "<strong>email</strong>: must be a valid email address");
    itest_free(r);
    /* With JavaScript the same post asks for JSON: the error names the
       field whose slot the form has (data-error-for="email"). */
    const char *json_hdrs[] = { "Accept: application/json", NULL };
    r = itest_request("POST", "/api/v1/customers", json_hdrs, body, strlen(body), FORM_TYPE);
    ITEST_ASSERT_PROBLEM(r, 422);
    ck_assert_int_eq(itest_problem_field_count(r, "email"), 1);
    itest_free(r);
    snprintf(path, sizeof path, "/customers?q=%s", word);
    r = page(path);
    ck_assert_int_eq(count_of(r, "<tr><td data-label=\"Name\"><a href=\"/customers/"), 1);
    itest_free(r);
    free(enc);
}
END_TEST

/* ---- one customer ------------------------------------------------------------------------- */

START_TEST(test_show_page)
{
    char path[256], want[256];
    int64_t id = new_customer_json(EVIL " Shown", "\"phone\":\"+1 555 0100\",\"tags\":[\"vip\"]");
    add_note(id, "{\"body\":\"older note\",\"kind\":\"call\"}");
    add_note(id, "{\"body\":\"first line\\nsecond <b>line</b>\"}");

    snprintf(path, sizeof path, "/customers/%" PRId64, id);
    itest_resp *r = page(path);
    assert_html(r, 200);
    ASSERT_HAS(r, "<h1>" EVIL_ESC " Shown</h1>");
    ASSERT_HAS(r, "<title>" EVIL_ESC " Shown - CRM</title>");
    ASSERT_LACKS(r, EVIL);
    ASSERT_HAS(r, "<dl class=\"props\">");
    ASSERT_HAS(r, "<dt>Phone</dt><dd>+15550100</dd>");
    ASSERT_HAS(r, "<dt>Tags</dt><dd>vip</dd>");
    ASSERT_HAS(r, "<dt>Version</dt><dd>1</dd>");
    ASSERT_HAS(r, "<dt>Created</dt><dd><time datetime=");
    /* The writer's actions. */
    snprintf(want, sizeof want,
             "<a class=\"button secondary\" href=\"/customers/%" PRId64 "/edit\">Edit</a>", id);
    ASSERT_HAS(r, want);
    snprintf(want, sizeof want,
             "action=\"/api/v1/customers/%" PRId64
             "\" data-enhance data-confirm=\"Delete this customer?\">",
             id);
    ASSERT_HAS(r, want);
    ASSERT_HAS(r, "<input type=\"hidden\" name=\"_method\" value=\"DELETE\"><input "
                  "type=\"hidden\" name=\"_if_match\" value=\"1\"><input type=\"hidden\" "
                  "name=\"_next\" value=\"/customers\">");
    ASSERT_HAS(r, "Delete customer</button>");
    snprintf(want, sizeof want, "action=\"/api/v1/customers/%" PRId64 "/notes\"", id);
    ASSERT_HAS(r, want);
    ASSERT_HAS(r, "<label for=\"f-body\">");
    ASSERT_HAS(r, "<button type=\"submit\">Add note</button>");
    /* The timeline: newest first, escaped, line breaks kept. */
    ASSERT_HAS(r, "<ol class=\"timeline\" id=\"notes\">");
    ASSERT_HAS(r, "first line\nsecond &lt;b&gt;line&lt;/b&gt;");
    const char *newer = strstr(r->body, "first line");
    const char *older = strstr(r->body, "older note");
    ck_assert_msg(newer && older && newer < older, "notes not newest first");
    ASSERT_HAS(r, "User 1, <time");
    itest_free(r);

    /* Unknown, bad or deleted: 404 like the API. */
    r = page("/customers/999999999999");
    assert_html(r, 404);
    itest_free(r);
    snprintf(path, sizeof path, ITEST_CUSTOMERS "/%" PRId64, id);
    r = itest_request("DELETE", path, NULL, NULL, 0, NULL);
    ITEST_ASSERT_STATUS(r, 204);
    itest_free(r);
    snprintf(path, sizeof path, "/customers/%" PRId64, id);
    r = page(path);
    assert_html(r, 404);
    itest_free(r);
    snprintf(path, sizeof path, "/customers/%" PRId64 "/edit", id);
    r = page(path);
    assert_html(r, 404);
    itest_free(r);
}
END_TEST

START_TEST(test_notes_paging)
{
    char path[128], body[64];
    int64_t id = new_customer_json("Many notes", NULL);
    for (int i = 0; i < 52; i++) {
        snprintf(body, sizeof body, "{\"body\":\"note number %d.\"}", i);
        add_note(id, body);
    }
    snprintf(path, sizeof path, "/customers/%" PRId64, id);
    itest_resp *r = page(path);
    assert_html(r, 200);
    ck_assert_int_eq(count_of(r, "<div class=\"note-body\">"), 50);
    ASSERT_HAS(r, "note number 51.");
    ASSERT_LACKS(r, "note number 1.");
    char *older = link_rel(r, "next");
    ck_assert_msg(older != NULL && strstr(older, "?before="), "older link %s",
                  older ? older : "(none)");
    itest_free(r);
    *strchr(older, '#') = '\0';
    r = page(older);
    assert_html(r, 200);
    ck_assert_int_eq(count_of(r, "<div class=\"note-body\">"), 2);
    ASSERT_HAS(r, "note number 1.");
    ASSERT_HAS(r, "note number 0.");
    ASSERT_HAS(r, ">Newest notes</a>");
    itest_free(r);
    free(older);

    snprintf(path, sizeof path, "/customers/%" PRId64 "?before=x", id);
    r = page(path);
    assert_html(r, 400);
    itest_free(r);
}
END_TEST

START_TEST(test_note_form_flow)
{
    char path[128], action[128], body[256];
    int64_t id = new_customer_json("Noted", NULL);
    snprintf(path, sizeof path, "/customers/%" PRId64, id);
    snprintf(action, sizeof action, ITEST_CUSTOMERS "/%" PRId64 "/notes", id);

    snprintf(body, sizeof body,
             "_next=%%2Fcustomers%%2F%" PRId64 "&kind=meeting&body=Met+%%3Ci%%3Etoday%%3C%%2Fi%%3E"
             "%%0D%%0Anext+steps",
             id);
    itest_resp *r = form_post(action, body);
    assert_see_other(r, path);
    itest_free(r);
    r = page(path);
    ASSERT_HAS(r, "<span class=\"badge\">meeting</span>");
    ASSERT_HAS(r, "Met &lt;i&gt;today&lt;/i&gt;\r\nnext steps");
    itest_free(r);

    /* An empty note: a page naming body. */
    snprintf(body, sizeof body, "_next=%%2Fcustomers%%2F%" PRId64 "&kind=note&body=", id);
    r = form_post(action, body);
    assert_html(r, 422);
    ASSERT_HAS(r, "<strong>body</strong>");
    itest_free(r);
}
END_TEST

/* ---- editing ------------------------------------------------------------------------------ */

/* The edit form's body for customer id at version, as a browser sends it. */
static void edit_body(char *out, size_t n, int64_t id, long version, const char *email,
                      const char *company)
{
    char *enc = itest_urlencode(email);
    snprintf(out, n,
             "_method=PATCH&_if_match=%ld&_next=%%2Fcustomers%%2F%" PRId64
             "&name=Edited+one&email=%s&phone=&company=%s&status=lead&tags=&owner_id=",
             version, id, enc, company);
    free(enc);
}

START_TEST(test_edit_flow)
{
    char email[128], path[128], action[128], body[1024], want[256];
    itest_unique_email(email, sizeof email, "edit");
    snprintf(body, sizeof body, "{\"name\":\"Edited one\",\"email\":\"%s\"}", email);
    itest_resp *r = itest_json("POST", ITEST_CUSTOMERS, NULL, body);
    ITEST_ASSERT_STATUS(r, 201);
    int64_t id = itest_jint(r->json, "id");
    itest_free(r);
    snprintf(path, sizeof path, "/customers/%" PRId64, id);
    snprintf(action, sizeof action, ITEST_CUSTOMERS "/%" PRId64, id);

    snprintf(want, sizeof want, "/customers/%" PRId64 "/edit", id);
    r = page(want);
    assert_html(r, 200);
    ASSERT_HAS(r, "<h1>Edit Edited one</h1>");
    snprintf(want, sizeof want, "action=\"%s\" data-enhance novalidate>", action);
    ASSERT_HAS(r, want);
    snprintf(want, sizeof want,
             "<input type=\"hidden\" name=\"_method\" value=\"PATCH\"><input type=\"hidden\" "
             "name=\"_if_match\" value=\"1\"><input type=\"hidden\" name=\"_next\" "
             "value=\"/customers/%" PRId64 "\">",
             id);
    ASSERT_HAS(r, want);
    ASSERT_HAS(r, "value=\"Edited one\"");
    snprintf(want, sizeof want, "value=\"%s\"", email);
    ASSERT_HAS(r, want);
    ASSERT_HAS(r, "<option value=\"lead\" selected>");
    ASSERT_HAS(r, "<button type=\"submit\">Save changes</button>");
    itest_free(r);

    /* Saved unchanged, empty optional fields and all: a new version. */
    edit_body(body, sizeof body, id, 1, email, "");
    r = form_post(action, body);
    assert_see_other(r, path);
    itest_free(r);
    r = customer_json(id);
    ck_assert_int_eq(itest_jint(r->json, "version"), 2);
    ck_assert(itest_jnull(r->json, "company") && itest_jnull(r->json, "phone"));
    itest_free(r);

    /* A change shows on the page. */
    edit_body(body, sizeof body, id, 2, email, "New+%26+Co");
    r = form_post(action, body);
    assert_see_other(r, path);
    itest_free(r);
    r = page(path);
    ASSERT_HAS(r, "<dt>Company</dt><dd>New &amp; Co</dd>");
    ASSERT_HAS(r, "<dt>Version</dt><dd>3</dd>");
    itest_free(r);

    /* A form opened at version 2 is stale now: the conflict page, nothing saved. */
    edit_body(body, sizeof body, id, 2, email, "Stale+Inc");
    r = form_post(action, body);
    assert_html(r, 412);
    ASSERT_HAS(r, "Someone changed this record after you opened the form");
    itest_free(r);
    r = customer_json(id);
    ck_assert_int_eq(itest_jint(r->json, "version"), 3);
    ck_assert_str_eq(itest_jstr(r->json, "company"), "New & Co");
    itest_free(r);

    /* A bad value: the page names it, nothing saved. */
    edit_body(body, sizeof body, id, 3, "broken", "");
    r = form_post(action, body);
    assert_html(r, 422);
    ASSERT_HAS(r, "<strong>email</strong>");
    itest_free(r);
}
END_TEST

START_TEST(test_delete_flow)
{
    char path[128], action[128], body[256];
    int64_t id = new_customer_json("To delete", NULL);
    snprintf(path, sizeof path, "/customers/%" PRId64, id);
    snprintf(action, sizeof action, ITEST_CUSTOMERS "/%" PRId64, id);

    /* Stale first: refused, still there. */
    itest_resp *r = form_post(action, "_method=DELETE&_if_match=7&_next=%2Fcustomers");
    assert_html(r, 412);
    itest_free(r);
    r = page(path);
    assert_html(r, 200);
    itest_free(r);

    snprintf(body, sizeof body, "_method=DELETE&_if_match=1&_next=%%2Fcustomers");
    r = form_post(action, body);
    assert_see_other(r, "/customers");
    itest_free(r);
    r = page(path);
    assert_html(r, 404);
    itest_free(r);
}
END_TEST

/* ---- roles -------------------------------------------------------------------------------- */

START_TEST(test_viewer_reads_only)
{
    char path[128], action[128];
    int64_t id = new_customer_json("Viewed", NULL);
    snprintf(path, sizeof path, "/customers/%" PRId64, id);
    snprintf(action, sizeof action, ITEST_CUSTOMERS "/%" PRId64, id);

    static const char *const readers[] = { "viewer", "marketing" };
    for (size_t i = 0; i < 2; i++) {
        itest_as(readers[i], 4242);
        itest_resp *r = page("/customers");
        assert_html(r, 200);
        ASSERT_LACKS(r, "/customers/new");
        ASSERT_HAS(r, "<label for=\"f-owner\">");
        itest_free(r);
        r = page(path);
        assert_html(r, 200);
        ASSERT_HAS(r, "<h1>Viewed</h1>");
        ASSERT_LACKS(r, "data-enhance");
        ASSERT_LACKS(r, "_method");
        ASSERT_LACKS(r, "/edit\"");
        ASSERT_LACKS(r, "Add note");
        ASSERT_HAS(r, "<ol class=\"timeline\" id=\"notes\">");
        itest_free(r);
        r = page("/customers/new");
        assert_html(r, 403);
        itest_free(r);
        snprintf(action, sizeof action, "/customers/%" PRId64 "/edit", id);
        r = page(action);
        assert_html(r, 403);
        itest_free(r);

        /* The server refuses the writes anyway. */
        r = form_post(ITEST_CUSTOMERS, "name=Nope&email=nope%40example.com");
        assert_html(r, 403);
        itest_free(r);
        snprintf(action, sizeof action, ITEST_CUSTOMERS "/%" PRId64, id);
        r = form_post(action, "_method=PATCH&_if_match=1&company=Nope");
        assert_html(r, 403);
        itest_free(r);
        r = form_post(action, "_method=DELETE&_if_match=1");
        assert_html(r, 403);
        itest_free(r);
    }
    itest_as("admin", ITEST_ADMIN_ID);
    itest_resp *r = customer_json(id);
    ck_assert_int_eq(itest_jint(r->json, "version"), 1);
    itest_free(r);
}
END_TEST

START_TEST(test_sales_scope)
{
    char extra[64], path[128], want[128], word[40], body[512], email[128];
    int64_t a = sales_id(0), b = sales_id(1);
    itest_unique_word(word, sizeof word);
    snprintf(extra, sizeof extra, "\"owner_id\":%" PRId64, a);
    snprintf(body, sizeof body, "Owned %s", word);
    int64_t id = new_customer_json(body, extra);
    snprintf(path, sizeof path, "/customers/%" PRId64, id);
    snprintf(want, sizeof want, "<a href=\"/customers/%" PRId64 "\">", id);

    /* The owner sees it, and may edit it; no owner to choose anywhere. */
    itest_as("sales", a);
    itest_resp *r = page("/customers");
    assert_html(r, 200);
    ASSERT_HAS(r, want);
    ASSERT_LACKS(r, "f-owner");
    ASSERT_HAS(r, "/customers/new");
    itest_free(r);
    r = page(path);
    assert_html(r, 200);
    ASSERT_HAS(r, "Delete customer");
    itest_free(r);
    snprintf(body, sizeof body, "/customers/%" PRId64 "/edit", id);
    r = page(body);
    assert_html(r, 200);
    ASSERT_LACKS(r, "owner_id");
    itest_free(r);
    r = page("/customers/new");
    assert_html(r, 200);
    ASSERT_LACKS(r, "owner_id");
    itest_free(r);
    /* What a sales user creates through the form is theirs. */
    itest_unique_email(email, sizeof email, "salesform");
    char *enc = itest_urlencode(email);
    snprintf(body, sizeof body, "name=Mine&email=%s&phone=&company=&status=lead&tags=", enc);
    free(enc);
    r = form_post(ITEST_CUSTOMERS, body);
    ITEST_ASSERT_STATUS(r, 303);
    int64_t mine = itest_location_id(r);
    itest_free(r);
    r = customer_json(mine);
    ck_assert_int_eq(itest_jint(r->json, "owner_id"), a);
    itest_free(r);
    /* Asking for someone else's list: the 400 page. */
    snprintf(body, sizeof body, "/customers?owner=%" PRId64, b);
    r = page(body);
    assert_html(r, 400);
    ASSERT_HAS(r, "<strong>owner</strong>");
    itest_free(r);

    /* Another sales user: not listed, not found. */
    itest_as("sales", b);
    snprintf(body, sizeof body, "/customers?q=%s", word);
    r = page(body);
    assert_html(r, 200);
    ASSERT_LACKS(r, want);
    ASSERT_HAS(r, "No customers match these filters.");
    itest_free(r);
    r = page(path);
    assert_html(r, 404);
    itest_free(r);
    snprintf(body, sizeof body, "/customers/%" PRId64 "/edit", id);
    r = page(body);
    assert_html(r, 404);
    itest_free(r);
    snprintf(body, sizeof body, ITEST_CUSTOMERS "/%" PRId64, id);
    r = form_post(body, "_method=DELETE&_if_match=1&_next=%2Fcustomers");
    assert_html(r, 404);
    itest_free(r);
}
END_TEST

/* No credentials: a browser is sent to log in. */
START_TEST(test_logged_out)
{
    itest_as(NULL, 0);
    itest_resp *r = page("/customers");
    assert_see_other(r, "/login.html");
    itest_free(r);
    r = itest_get("/customers", NULL);
    ITEST_ASSERT_PROBLEM(r, 401);
    itest_free(r);
}
END_TEST

/* An address may hold '?', '&' and '=': in a mailto: link they would add
   headers (a hidden Bcc), so the page percent-encodes each part. */
START_TEST(test_mailto_encoded)
{
    char body[256], path[64];
    snprintf(body, sizeof body, "{\"name\":\"Mail\",\"email\":\"b&c?bcc=x%lld@example.com\"}",
             (long long)time(NULL));
    itest_resp *r = itest_json("POST", ITEST_CUSTOMERS, NULL, body);
    ITEST_ASSERT_STATUS(r, 201);
    int64_t id = itest_jint(r->json, "id");
    itest_free(r);
    snprintf(path, sizeof path, "/customers/%" PRId64, id);
    r = page(path);
    assert_html(r, 200);
    ASSERT_HAS(r, "href=\"mailto:b%26c%3Fbcc%3Dx");
    ASSERT_HAS(r, "@example.com\">b&amp;c?bcc=x");
    ASSERT_LACKS(r, "mailto:b&");
    itest_free(r);
}
END_TEST

static Suite *pages_suite(void)
{
    Suite *s = suite_create("customers_pages");
    TCase *tc = tcase_create("pages");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, itest_teardown);
    tcase_add_test(tc, test_list_renders_escaped);
    tcase_add_test(tc, test_list_paging_keeps_filters);
    tcase_add_test(tc, test_list_bad_query);
    tcase_add_test(tc, test_new_form);
    tcase_add_test(tc, test_create_flow);
    tcase_add_test(tc, test_show_page);
    tcase_add_test(tc, test_notes_paging);
    tcase_add_test(tc, test_note_form_flow);
    tcase_add_test(tc, test_edit_flow);
    tcase_add_test(tc, test_delete_flow);
    tcase_add_test(tc, test_viewer_reads_only);
    tcase_add_test(tc, test_sales_scope);
    tcase_add_test(tc, test_logged_out);
    tcase_add_test(tc, test_mailto_encoded);
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
