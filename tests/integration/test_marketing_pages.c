/*
 * test_marketing_pages.c - the pages crm-marketing renders for browsers
 * (/campaigns, /segments, /dashboard) over the real stack:
 *
 *   render     every page is a 200 text/html with the security headers,
 *              user data escaped, no inline script and no style attribute
 *              (the CSP forbids both);
 *   forms      the pages' forms work without JavaScript: a form post that
 *              asks for HTML gets a 303 to the page, which shows the
 *              result; a 422 is a page listing each field's error (named
 *              after the form's inputs, the rule builder's rows too); a
 *              stale _if_match is a 412 page and changes nothing;
 *   lists      filters kept, keyset pages ("Next page") that walk exactly
 *              what the API lists;
 *   roles      a viewer sees no write form or link and the API still
 *              refuses the write (403); sales users have no marketing pages
 *              at all (they read no campaign or segment: no object scope to
 *              check here);
 *   dashboard  revenue, the RFM grid and the campaigns' ROI follow an order
 *              confirmed in sales within seconds.
 *
 * Requests carry a bearer token (itest's default, admin), so the CSRF rules
 * of cookie sessions do not apply.
 */
#include "itest.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAMPAIGNS "/api/v1/campaigns"
#define SEGMENTS  "/api/v1/segments"
#define FORM      "application/x-www-form-urlencoded"
#define HTML      "Accept: text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"

#define STR_(x) #x
#define STR(x)  STR_(x)
#define HERE    __FILE__ ":" STR(__LINE__)

/* ---- helpers ------------------------------------------------------------------------------ */

static const char *str_or(const char *s)
{
    return s ? s : "(null)";
}

static size_t count_of(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* Pages never carry inline script or style (the CSP would block them). */
static void clean_at(const char *where, const itest_resp *r)
{
    for (const char *p = r->body; (p = strstr(p, "<script")) != NULL; p++)
        ck_assert_msg(strncmp(p, "<script src=\"/assets/", 21) == 0, "%s: inline script: %.80s",
                      where, p);
    ck_assert_msg(strstr(r->body, " style=") == NULL, "%s: a style attribute", where);
    ck_assert_msg(strstr(r->body, " onclick=") == NULL && strstr(r->body, " onload=") == NULL,
                  "%s: an inline handler", where);
}

/* GET path as a browser, asserting a 200 page; the caller frees. */
static itest_resp *page_at(const char *where, const char *path)
{
    const char *h[] = { HTML, NULL };
    itest_resp *r = itest_get(path, h);
    ck_assert_msg(r->status == 200, "%s: %s", where, itest_describe(r));
    const char *ct = str_or(itest_header_get(r, "Content-Type"));
    ck_assert_msg(strncmp(ct, "text/html", 9) == 0, "%s: Content-Type %s", where, ct);
    ITEST_ASSERT_SECURITY(r);
    clean_at(where, r);
    return r;
}
#define PAGE(path) page_at(HERE, (path))

/* POST a form body as a browser does (it asks for HTML). */
static itest_resp *form_post(const char *path, const char *body)
{
    const char *h[] = { HTML, NULL };
    return itest_request("POST", path, h, body, strlen(body), FORM);
}

/* A form post answered 303 to a page; returns that page's path. */
static const char *see_other_at(const char *where, itest_resp *r, const char *prefix)
{
    static char loc[256];
    ck_assert_msg(r->status == 303, "%s: want 303: %s", where, itest_describe(r));
    snprintf(loc, sizeof loc, "%s", str_or(itest_header_get(r, "Location")));
    ck_assert_msg(strncmp(loc, prefix, strlen(prefix)) == 0, "%s: Location %s, want %s...", where,
                  loc, prefix);
    itest_free(r);
    return loc;
}
#define SEE_OTHER(r, prefix) see_other_at(HERE, (r), (prefix))

/* A problem answered as a page: status, text/html, data-status. */
static void problem_page_at(const char *where, const itest_resp *r, long status)
{
    ck_assert_msg(r->status == status, "%s: want %ld: %s", where, status, itest_describe(r));
    const char *ct = str_or(itest_header_get(r, "Content-Type"));
    ck_assert_msg(strncmp(ct, "text/html", 9) == 0, "%s: Content-Type %s", where, ct);
    ck_assert_msg(strstr(r->body, itest_fmt("data-status=\"%ld\"", status)) != NULL, "%s: %s",
                  where, r->body);
}
#define PROBLEM_PAGE(r, st) problem_page_at(HERE, (r), (st))

#define HAS(r, text)                                                                               \
    ck_assert_msg(strstr((r)->body, (text)) != NULL, "%s: no %s in %s", HERE, (text), (r)->body)
#define HAS_NOT(r, text)                                                                           \
    ck_assert_msg(strstr((r)->body, (text)) == NULL, "%s: %s in the page", HERE, (text))

/* The value of attribute attr in the first tag at or after anchor (HTML
   escapes undone for &amp; only: enough for our links); "" when missing. */
static const char *attr_after(const char *body, const char *anchor, const char *attr)
{
    static char out[2048];
    const char *p = strstr(body, anchor), *end;
    char key[64];
    out[0] = '\0';
    if (p == NULL)
        return out;
    snprintf(key, sizeof key, " %s=\"", attr);
    end = strchr(p, '>');
    p = strstr(p, key);
    if (p == NULL || (end != NULL && p > end))
        return out;
    p += strlen(key);
    size_t n = 0;
    while (*p != '\0' && *p != '"' && n + 1 < sizeof out) {
        if (strncmp(p, "&amp;", 5) == 0) {
            out[n++] = '&';
            p += 5;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
    return out;
}

static int64_t attr_int(const char *body, const char *anchor, const char *attr)
{
    const char *v = attr_after(body, anchor, attr);
    return *v ? strtoll(v, NULL, 10) : INT64_MIN;
}

static int64_t created_at(const char *where, const char *path, const char *body)
{
    itest_resp *r = itest_json("POST", path, NULL, body);
    ck_assert_msg(r->status == 201, "%s: %s", where, itest_describe(r));
    int64_t id = itest_jint(r->json, "id");
    itest_free(r);
    return id;
}
#define CREATED(path, body) created_at(HERE, (path), (body))

static itest_resp *api_get(const char *path)
{
    itest_resp *r = itest_get(path, NULL);
    ck_assert_msg(r->status == 200, "%s", itest_describe(r));
    return r;
}

/* The ids of rows linking to prefix ("/campaigns/") in the table with id. */
static size_t linked_ids(const char *body, const char *table, const char *prefix, int64_t *ids,
                         size_t max)
{
    const char *p = strstr(body, table), *end = p ? strstr(p, "</table>") : NULL;
    char href[64];
    size_t n = 0;
    if (p == NULL || end == NULL)
        return 0;
    snprintf(href, sizeof href, "<a href=\"%s", prefix);
    for (p = strstr(p, href); p != NULL && p < end && n < max; p = strstr(p, href)) {
        p += strlen(href);
        ids[n++] = strtoll(p, NULL, 10);
    }
    return n;
}

/* Every id of an API list (following next_cursor). */
static size_t api_ids(const char *path, int64_t *ids, size_t max)
{
    char url[2048];
    size_t n = 0;
    snprintf(url, sizeof url, "%s", path);
    for (;;) {
        itest_resp *r = api_get(url);
        json_object *items = itest_jget(r->json, "items");
        for (size_t i = 0; items && i < json_object_array_length(items) && n < max; i++)
            ids[n++] = itest_jint(json_object_array_get_idx(items, i), "id");
        const char *cur = itest_jstr(r->json, "next_cursor");
        if (cur == NULL) {
            itest_free(r);
            return n;
        }
        char *enc = itest_urlencode(cur);
        snprintf(url, sizeof url, "%s%scursor=%s", path, strchr(path, '?') ? "&" : "?", enc);
        free(enc);
        itest_free(r);
    }
}

/* Walk a page list by its "Next page" links; every id of the table. */
static size_t page_ids(const char *path, const char *table, const char *prefix, int64_t *ids,
                       size_t max, int *pages)
{
    char url[2048];
    size_t n = 0;
    snprintf(url, sizeof url, "%s", path);
    for (*pages = 1;; (*pages)++) {
        itest_resp *r = PAGE(url);
        n += linked_ids(r->body, table, prefix, ids + n, max - n);
        const char *next = attr_after(r->body, "rel=\"next\"", "href");
        if (*next == '\0') {
            itest_free(r);
            return n;
        }
        snprintf(url, sizeof url, "%s", next);
        itest_free(r);
        ck_assert_msg(*pages < 1000, "pages without end");
    }
}

static void same_ids(const char *what, const int64_t *a, size_t na, const int64_t *b, size_t nb)
{
    ck_assert_msg(na == nb, "%s: %zu ids, want %zu", what, na, nb);
    for (size_t i = 0; i < na; i++)
        ck_assert_msg(a[i] == b[i], "%s: id %zu is %" PRId64 ", want %" PRId64, what, i, a[i],
                      b[i]);
}

/* A row of the rule builder (brackets as they are: the unit test has them
   percent-encoded; the bodies here are also printf formats). */
#define ROW(i, f, o, v)                                                                            \
    "&rule.conditions[" #i "].field=" f "&rule.conditions[" #i "].op=" o "&rule.conditions[" #i    \
    "].value=" v

/* ---- render ------------------------------------------------------------------------------- */

START_TEST(test_pages_render_escaped)
{
    const char *evil = "<script>alert(1)</script> & \\\"q\\\"";
    int64_t seg = CREATED(SEGMENTS, itest_fmt("{\"name\":\"%s seg\",\"description\":\"<b>d</b>\","
                                              "\"rule\":{\"all\":[{\"field\":\"tag\",\"op\":\"eq\","
                                              "\"value\":\"zz-none\"}]}}",
                                              evil));
    int64_t c =
        CREATED(CAMPAIGNS, itest_fmt("{\"name\":\"%s camp\",\"channel\":\"email\",\"currency\":"
                                     "\"EUR\",\"budget_cents\":1000,\"segment_id\":%" PRId64 "}",
                                     evil, seg));
    const char *const paths[] = {
        "/campaigns",    itest_fmt("/campaigns/%" PRId64, c),  "/campaigns/new", "/segments",
        "/segments/new", itest_fmt("/segments/%" PRId64, seg), "/dashboard",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        itest_resp *r = PAGE(paths[i]);
        HAS_NOT(r, "<script>alert");
        HAS_NOT(r, "<b>d</b>");
        if (strstr(paths[i], "new") == NULL)
            HAS(r, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot;");
        itest_free(r);
    }
    /* the segment's page links the script of the rule builder, nothing else does */
    itest_resp *r = PAGE(itest_fmt("/segments/%" PRId64, seg));
    HAS(r, "<script src=\"/assets/segments.");
    HAS(r, "<output id=\"segment-preview\" aria-live=\"polite\">");
    itest_free(r);
    r = PAGE(itest_fmt("/campaigns/%" PRId64, c));
    HAS_NOT(r, "assets/segments.");
    /* its segment, linked by name */
    HAS(r, itest_fmt("<a href=\"/segments/%" PRId64 "\">&lt;script&gt;", seg));
    itest_free(r);
    /* not found: a page too */
    const char *h[] = { HTML, NULL };
    r = itest_get("/campaigns/999999999", h);
    PROBLEM_PAGE(r, 404);
    itest_free(r);
    r = itest_get("/segments/999999999", h);
    PROBLEM_PAGE(r, 404);
    itest_free(r);
}
END_TEST

/* ---- campaigns ---------------------------------------------------------------------------- */

START_TEST(test_campaign_form_flow)
{
    char word[64];
    itest_unique_word(word, sizeof word);

    /* the new-campaign page's form, as the browser posts it */
    itest_resp *r = PAGE("/campaigns/new");
    HAS(r, "action=\"/api/v1/campaigns\" data-enhance data-next=\"/campaigns/{id}\" novalidate");
    HAS(r, "name=\"segment_id\"");
    HAS(r, ">Create campaign</button>");
    itest_free(r);
    const char *page = SEE_OTHER(
        form_post(CAMPAIGNS, itest_fmt("name=Form+%s&description=&channel=sms&budget_cents=5000"
                                       "&currency=EUR&starts_at=&ends_at=&segment_id=",
                                       word)),
        "/campaigns/");
    int64_t id = strtoll(page + 11, NULL, 10);
    char path[64];
    snprintf(path, sizeof path, "%s", page);
    r = PAGE(path);
    HAS(r, itest_fmt("<h1>Form %s</h1>", word));
    HAS(r, "data-status=\"draft\"");
    HAS(r, "50.00 EUR");
    /* a draft: schedule, edit and delete are offered, nothing else */
    HAS(r, itest_fmt("action=\"/api/v1/campaigns/%" PRId64 "/schedule\"", id));
    HAS_NOT(r, "/activate\"");
    HAS(r, "name=\"_method\" value=\"PATCH\"");
    HAS(r, "name=\"_method\" value=\"DELETE\"");
    HAS(r, "data-confirm=");
    itest_free(r);

    /* edit: PATCH with the version read, back to the page */
    const char *back = SEE_OTHER(
        form_post(
            itest_fmt(CAMPAIGNS "/%" PRId64, id),
            itest_fmt("_method=PATCH&_if_match=1&_next=%%2Fcampaigns%%2F%" PRId64
                      "&name=Renamed+%s&description=Said&channel=ads&budget_cents=7000&currency=EUR"
                      "&starts_at=2031-01-01T09%%3A00%%3A00Z&ends_at=&segment_id=",
                      id, word)),
        path);
    ck_assert_str_eq(back, path);
    r = PAGE(path);
    HAS(r, itest_fmt("<h1>Renamed %s</h1>", word));
    HAS(r, "<dt>Version</dt><dd>2</dd>");
    HAS(r, "2031-01-01 09:00");
    HAS(r, "value=\"2031-01-01T09:00:00.000000Z\""); /* the edit form reads back */
    itest_free(r);

    /* an action: schedule, then the page offers activate */
    SEE_OTHER(form_post(itest_fmt(CAMPAIGNS "/%" PRId64 "/schedule", id),
                        itest_fmt("_if_match=2&_next=%%2Fcampaigns%%2F%" PRId64, id)),
              path);
    r = PAGE(path);
    HAS(r, "data-status=\"scheduled\"");
    HAS(r, itest_fmt("action=\"/api/v1/campaigns/%" PRId64 "/activate\"", id));
    HAS_NOT(r, "/schedule\"");
    HAS_NOT(r, "value=\"DELETE\""); /* only a draft can be deleted */
    itest_free(r);

    /* stale: the form read version 2, the campaign is at 3 */
    r = form_post(
        itest_fmt(CAMPAIGNS "/%" PRId64, id),
        itest_fmt("_method=PATCH&_if_match=2&_next=%%2Fcampaigns%%2F%" PRId64 "&name=Lost", id));
    PROBLEM_PAGE(r, 412);
    HAS(r, "Someone changed this record");
    itest_free(r);
    r = api_get(itest_fmt(CAMPAIGNS "/%" PRId64, id));
    ck_assert_str_eq(str_or(itest_jstr(r->json, "name")), itest_fmt("Renamed %s", word));
    ck_assert_int_eq(itest_jint(r->json, "version"), 3);
    itest_free(r);
    /* a stale action changes nothing either */
    r = form_post(itest_fmt(CAMPAIGNS "/%" PRId64 "/activate", id), "_if_match=2");
    PROBLEM_PAGE(r, 412);
    itest_free(r);
    r = api_get(itest_fmt(CAMPAIGNS "/%" PRId64, id));
    ck_assert_str_eq(str_or(itest_jstr(r->json, "status")), "scheduled");
    itest_free(r);
}
END_TEST

START_TEST(test_campaign_form_errors)
{
    /* 422: a page naming each field's problem */
    itest_resp *r = form_post(CAMPAIGNS, "name=&channel=fax&budget_cents=lots&currency=eu"
                                         "&starts_at=tomorrow&segment_id=");
    PROBLEM_PAGE(r, 422);
    HAS(r, "<li><strong>name</strong>");
    HAS(r, "<li><strong>channel</strong>");
    HAS(r, "<li><strong>budget_cents</strong>");
    HAS(r, "<li><strong>currency</strong>");
    HAS(r, "<li><strong>starts_at</strong>");
    itest_free(r);
    /* the same body from app.js (JSON): the field names of the form's inputs */
    const char *body = "name=&channel=fax&budget_cents=lots&currency=EUR";
    r = itest_request("POST", CAMPAIGNS, NULL, body, strlen(body), FORM);
    ITEST_ASSERT_PROBLEM(r, 422);
    ck_assert_int_eq(itest_problem_field_count(r, "name"), 1);
    ck_assert_int_eq(itest_problem_field_count(r, "channel"), 1);
    ck_assert_int_eq(itest_problem_field_count(r, "budget_cents"), 1);
    itest_free(r);
    /* delete from the page: a draft, then gone */
    int64_t id = CREATED(CAMPAIGNS, "{\"name\":\"doomed\",\"channel\":\"email\",\"currency\":"
                                    "\"EUR\"}");
    r = form_post(itest_fmt(CAMPAIGNS "/%" PRId64, id),
                  "_method=DELETE&_if_match=7&_next=%2Fcampaigns");
    PROBLEM_PAGE(r, 412);
    itest_free(r);
    SEE_OTHER(form_post(itest_fmt(CAMPAIGNS "/%" PRId64, id),
                        "_method=DELETE&_if_match=1&_next=%2Fcampaigns"),
              "/campaigns");
    const char *h[] = { HTML, NULL };
    r = itest_get(itest_fmt("/campaigns/%" PRId64, id), h);
    PROBLEM_PAGE(r, 404);
    itest_free(r);
}
END_TEST

START_TEST(test_campaign_list_filters_and_pages)
{
    int64_t want[4096], got[4096];
    int pages;

    /* a few of our own in one filter, so there is more than one page */
    for (int i = 0; i < 3; i++)
        CREATED(CAMPAIGNS,
                itest_fmt("{\"name\":\"page %d\",\"channel\":\"event\",\"currency\":\"EUR\"}", i));
    size_t nw = api_ids(CAMPAIGNS "?status=draft&channel=event&limit=200", want, 4096);
    size_t ng = page_ids("/campaigns?status=draft&channel=event&limit=2", "id=\"campaigns-table\"",
                         "/campaigns/", got, 4096, &pages);
    same_ids("draft event campaigns", got, ng, want, nw);
    ck_assert_int_eq(pages, (int)((nw + 1) / 2));
    /* the filters keep their values; later pages lead back to the first */
    itest_resp *r = PAGE("/campaigns?status=draft&channel=event&limit=2");
    HAS(r, "<option value=\"draft\" selected>");
    HAS(r, "<option value=\"event\" selected>");
    HAS(r, "<table id=\"campaigns-table\"");
    HAS(r, "<th scope=\"col\">Name</th>");
    HAS(r, ">New campaign</a>");
    const char *next = attr_after(r->body, "rel=\"next\"", "href");
    ck_assert_msg(strstr(next, "status=draft") && strstr(next, "channel=event") &&
                      strstr(next, "limit=2") && strstr(next, "cursor="),
                  "next page %s", next);
    char later[2048];
    snprintf(later, sizeof later, "%s", next);
    itest_free(r);
    r = PAGE(later);
    HAS(r, "href=\"/campaigns?status=draft&amp;channel=event&amp;limit=2\">First page</a>");
    itest_free(r);
    /* "any" (an empty value) is no filter */
    nw = api_ids(CAMPAIGNS "?channel=event&limit=200", want, 4096);
    ng = page_ids("/campaigns?status=&channel=event&limit=50", "id=\"campaigns-table\"",
                  "/campaigns/", got, 4096, &pages);
    same_ids("event campaigns", got, ng, want, nw);
    /* a bad filter: 400, as a page */
    const char *h[] = { HTML, NULL };
    r = itest_get("/campaigns?status=sleeping", h);
    PROBLEM_PAGE(r, 400);
    HAS(r, "<li><strong>status</strong>");
    itest_free(r);
}
END_TEST

/* ---- segments ----------------------------------------------------------------------------- */

START_TEST(test_segment_form_flow)
{
    char word[64], tag[64], body[2048];
    itest_unique_word(word, sizeof word);
    itest_unique_word(tag, sizeof tag);
    int64_t c1 = itest_new_customer(itest_fmt("\"tags\":[\"%s\"],\"status\":\"lead\"", tag));
    int64_t c2 = itest_new_customer(itest_fmt("\"tags\":[\"%s\"],\"status\":\"customer\"", tag));

    itest_resp *r = PAGE("/segments/new");
    HAS(r, "action=\"/api/v1/segments\" data-enhance data-next=\"/segments/{id}\" novalidate");
    ck_assert_int_eq(count_of(r->body, "data-rule-row"), 4);
    HAS(r, "name=\"rule.match\"");
    HAS(r, "name=\"rule.conditions[3].value\"");
    HAS(r, "data-error-for=\"rule.conditions[3].value\"");
    HAS(r, "data-error-for=\"rule.conditions\"");
    itest_free(r);

    /* rows 0 and 2 empty, as a browser sends the untouched ones */
    snprintf(body, sizeof body,
             "name=Tagged+%s&description=&rule.match=all" ROW(0, "", "eq", "")
                 ROW(1, "tag", "eq", "%s") ROW(2, "", "eq", "")
                     ROW(3, "status", "in", "lead%%2C+customer%%2C"),
             word, tag);
    const char *page = SEE_OTHER(form_post(SEGMENTS, body), "/segments/");
    int64_t id = strtoll(page + 10, NULL, 10);
    char path[64];
    snprintf(path, sizeof path, "%s", page);
    r = api_get(itest_fmt(SEGMENTS "/%" PRId64, id));
    char want[512];
    snprintf(want, sizeof want,
             "{\"all\":[{\"field\":\"tag\",\"op\":\"eq\",\"value\":\"%s\"},{\"field\":\"status\","
             "\"op\":\"in\",\"value\":[\"lead\",\"customer\"]}]}",
             tag);
    json_object *rule = itest_jget(r->json, "rule");
    ck_assert_str_eq(json_object_to_json_string_ext(rule, JSON_C_TO_STRING_PLAIN), want);
    itest_free(r);

    /* the page: the rule in words, the members (events arrive within seconds) */
    double end = itest_now() + 10;
    for (;;) {
        r = PAGE(path);
        if (attr_int(r->body, "id=\"segment-count\"", "data-count") == 2 || itest_now() > end)
            break;
        itest_free(r);
        itest_sleep_ms(100);
    }
    ck_assert_msg(attr_int(r->body, "id=\"segment-count\"", "data-count") == 2, "count: %s",
                  r->body);
    HAS(r, "All of these hold:");
    HAS(r, itest_fmt("Tag is <strong>%s</strong>", tag));
    HAS(r, "Status is one of <strong>lead, customer</strong>");
    HAS(r, itest_fmt("<a href=\"/customers/%" PRId64 "\">", c1));
    HAS(r, itest_fmt("<a href=\"/customers/%" PRId64 "\">", c2));
    /* the edit form holds the rule in its rows, and one more */
    HAS(r, "<option value=\"tag\" selected>");
    HAS(r, itest_fmt(
               "name=\"rule.conditions[0].value\" aria-describedby=\"e-rule-conditions-0--value\" "
               "value=\"%s\"",
               tag));
    HAS(r, "value=\"lead, customer\"");
    ck_assert_int_eq(count_of(r->body, "data-rule-row"), 4);
    itest_free(r);

    /* members page by page */
    int64_t ids[8];
    int pages;
    size_t n = page_ids(itest_fmt("%s?limit=1", path), "id=\"members-table\"", "/customers/", ids,
                        8, &pages);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(pages, 2);
    ck_assert_int_eq(ids[0], c1 < c2 ? c1 : c2);
    ck_assert_int_eq(ids[1], c1 < c2 ? c2 : c1);

    /* edit by rows: any of, one condition; back to the page */
    snprintf(body, sizeof body,
             "_method=PATCH&_if_match=1&_next=%%2Fsegments%%2F%" PRId64
             "&name=Leads+%s&description=Only+leads&rule.match=any" ROW(0, "status", "eq", "lead")
                 ROW(1, "", "eq", ""),
             id, word);
    ck_assert_str_eq(SEE_OTHER(form_post(itest_fmt(SEGMENTS "/%" PRId64, id), body), path), path);
    r = api_get(itest_fmt(SEGMENTS "/%" PRId64, id));
    rule = itest_jget(r->json, "rule");
    ck_assert_str_eq(json_object_to_json_string_ext(rule, JSON_C_TO_STRING_PLAIN),
                     "{\"any\":[{\"field\":\"status\",\"op\":\"eq\",\"value\":\"lead\"}]}");
    ck_assert_int_eq(itest_jint(r->json, "version"), 2);
    itest_free(r);

    /* stale: 412 page, nothing changed */
    r = form_post(itest_fmt(SEGMENTS "/%" PRId64, id),
                  "_method=PATCH&_if_match=1&name=Lost&rule.match=all" ROW(0, "tag", "eq", "x"));
    PROBLEM_PAGE(r, 412);
    itest_free(r);
    r = api_get(itest_fmt(SEGMENTS "/%" PRId64, id));
    ck_assert_str_eq(str_or(itest_jstr(r->json, "name")), itest_fmt("Leads %s", word));
    ck_assert_int_eq(itest_jint(r->json, "version"), 2);
    itest_free(r);

    /* delete from the page */
    SEE_OTHER(form_post(itest_fmt(SEGMENTS "/%" PRId64, id),
                        "_method=DELETE&_if_match=2&_next=%2Fsegments"),
              "/segments");
    r = itest_get(itest_fmt(SEGMENTS "/%" PRId64, id), NULL);
    ITEST_ASSERT_PROBLEM(r, 404);
    itest_free(r);
}
END_TEST

START_TEST(test_segment_form_errors)
{
    /* the problems name the rows' inputs, on the page and for app.js */
    const char *body = "name=&rule.match=all" ROW(0, "", "eq", "") ROW(1, "status", "gt", "lead")
        ROW(2, "f_score", "eq", "9") ROW(3, "", "eq", "stray");
    itest_resp *r = form_post(SEGMENTS, body);
    PROBLEM_PAGE(r, 422);
    HAS(r, "<li><strong>name</strong>");
    HAS(r, "<li><strong>rule.conditions[1].op</strong>");
    HAS(r, "<li><strong>rule.conditions[2].value</strong>");
    HAS(r, "<li><strong>rule.conditions[3].field</strong>");
    itest_free(r);
    r = itest_request("POST", SEGMENTS, NULL, body, strlen(body), FORM);
    ITEST_ASSERT_PROBLEM(r, 422);
    ck_assert_int_eq(itest_problem_field_count(r, "rule.conditions[1].op"), 1);
    ck_assert_int_eq(itest_problem_field_count(r, "rule.conditions[2].value"), 1);
    ck_assert_int_eq(itest_problem_field_count(r, "rule.conditions[3].field"), 1);
    ck_assert_int_eq(itest_problem_field_count(r, "rule.conditions[0].field"), 0);
    itest_free(r);
    /* no condition at all */
    body = "name=Empty&rule.match=any" ROW(0, "", "eq", "");
    r = itest_request("POST", SEGMENTS, NULL, body, strlen(body), FORM);
    ITEST_ASSERT_PROBLEM(r, 422);
    ck_assert_int_eq(itest_problem_field_count(r, "rule.conditions"), 1);
    itest_free(r);
    /* a name the builder does not have is an unknown field (400) */
    body = "name=X&rule.match=all" ROW(0, "tag", "eq", "a") "&rule.conditions%5B99%5D.field=tag";
    r = itest_request("POST", SEGMENTS, NULL, body, strlen(body), FORM);
    ITEST_ASSERT_PROBLEM(r, 400);
    itest_free(r);
    /* the preview reads the same rows (what segments.js posts) */
    body = "rule.match=all" ROW(0, "orders_count", "gte", "0") ROW(1, "", "eq", "");
    r = itest_request("POST", SEGMENTS "/preview", NULL, body, strlen(body), FORM);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_msg(itest_jint(r->json, "count") >= 0, "%s", itest_describe(r));
    itest_free(r);
    body = "rule.match=all" ROW(0, "orders_count", "gte", "many");
    r = itest_request("POST", SEGMENTS "/preview", NULL, body, strlen(body), FORM);
    ITEST_ASSERT_PROBLEM(r, 422);
    ck_assert_int_eq(itest_problem_field_count(r, "rule.conditions[0].value"), 1);
    itest_free(r);
}
END_TEST

START_TEST(test_segment_with_groups_edits_as_json)
{
    int64_t id =
        CREATED(SEGMENTS, "{\"name\":\"grouped\",\"rule\":{\"all\":[{\"field\":\"orders_count\","
                          "\"op\":\"gte\",\"value\":1},{\"any\":[{\"field\":\"tag\",\"op\":\"eq\","
                          "\"value\":\"vip\"},{\"field\":\"revenue\",\"op\":\"gt\",\"value\":"
                          "500000}]}]}}");
    itest_resp *r = PAGE(itest_fmt("/segments/%" PRId64, id));
    HAS(r, "Any of these hold:");
    HAS(r, "Revenue is more than <strong>5,000.00");
    HAS_NOT(r, "data-rule-row");
    HAS(r, "<textarea id=\"f-rule\" name=\"rule\"");
    itest_free(r);
    /* the JSON text the page holds goes back as it is */
    const char *body =
        "_method=PATCH&_if_match=1&name=regrouped&rule=%7B%22any%22%3A%5B%7B%22field%22%3A%22tag"
        "%22%2C%22op%22%3A%22eq%22%2C%22value%22%3A%22vip%22%7D%5D%7D";
    r = form_post(itest_fmt(SEGMENTS "/%" PRId64, id), body);
    ck_assert_msg(r->status == 200 || r->status == 303, "%s", itest_describe(r));
    itest_free(r);
    r = api_get(itest_fmt(SEGMENTS "/%" PRId64, id));
    ck_assert_str_eq(str_or(itest_jstr(r->json, "name")), "regrouped");
    itest_free(r);
}
END_TEST

START_TEST(test_segment_list_pages)
{
    int64_t want[4096], got[4096];
    int pages;
    for (int i = 0; i < 3; i++)
        CREATED(SEGMENTS,
                itest_fmt("{\"name\":\"list %d\",\"rule\":{\"all\":[{\"field\":\"tag\",\"op\":"
                          "\"eq\",\"value\":\"t%d\"}]}}",
                          i, i));
    size_t nw = api_ids(SEGMENTS "?limit=200&sort=name", want, 4096);
    size_t ng = page_ids("/segments?limit=7&sort=name", "id=\"segments-table\"", "/segments/", got,
                         4096, &pages);
    same_ids("segments by name", got, ng, want, nw);
    ck_assert_int_ge(pages, 1);
    itest_resp *r = PAGE("/segments");
    HAS(r, ">New segment</a>");
    HAS(r, "Tag is <strong>t2</strong>");
    itest_free(r);
}
END_TEST

/* ---- roles -------------------------------------------------------------------------------- */

START_TEST(test_viewer_reads_only)
{
    int64_t seg = CREATED(SEGMENTS, "{\"name\":\"seen\",\"rule\":{\"all\":[{\"field\":\"tag\","
                                    "\"op\":\"eq\",\"value\":\"seen\"}]}}");
    int64_t c =
        CREATED(CAMPAIGNS, "{\"name\":\"seen\",\"channel\":\"email\",\"currency\":\"EUR\"}");
    const char *h[] = { HTML, NULL };

    itest_as("viewer", 4242);
    const char *const paths[] = { "/campaigns", itest_fmt("/campaigns/%" PRId64, c), "/segments",
                                  itest_fmt("/segments/%" PRId64, seg), "/dashboard" };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        itest_resp *r = PAGE(paths[i]);
        /* the logout button is the one form that posts */
        ck_assert_msg(count_of(r->body, "method=\"post\"") == 1, "%s: a write form for a viewer",
                      paths[i]);
        HAS_NOT(r, "/new\"");
        HAS_NOT(r, "_method");
        HAS_NOT(r, "assets/segments.");
        itest_free(r);
    }
    itest_resp *r = itest_get("/campaigns/new", h);
    PROBLEM_PAGE(r, 403);
    itest_free(r);
    r = itest_get("/segments/new", h);
    PROBLEM_PAGE(r, 403);
    itest_free(r);
    /* and the server refuses the write anyway */
    r = form_post(CAMPAIGNS, "name=x&channel=email&currency=EUR");
    PROBLEM_PAGE(r, 403);
    itest_free(r);
    r = form_post(itest_fmt(CAMPAIGNS "/%" PRId64 "/schedule", c), "_if_match=1");
    PROBLEM_PAGE(r, 403);
    itest_free(r);
    r = form_post(itest_fmt(SEGMENTS "/%" PRId64, seg), "_method=DELETE&_if_match=1");
    PROBLEM_PAGE(r, 403);
    itest_free(r);

    /* marketing writes: the forms are there */
    itest_as("marketing", 4343);
    r = PAGE(itest_fmt("/campaigns/%" PRId64, c));
    HAS(r, "name=\"_method\" value=\"PATCH\"");
    itest_free(r);
    r = PAGE("/segments/new");
    HAS(r, ">Create segment</button>");
    itest_free(r);

    /* sales: no marketing page at all, as no marketing API */
    itest_as("sales", 4444);
    const char *const all[] = {
        "/campaigns", "/campaigns/new", itest_fmt("/campaigns/%" PRId64, c),
        "/segments",  "/segments/new",  itest_fmt("/segments/%" PRId64, seg),
        "/dashboard"
    };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        r = itest_get(all[i], h);
        PROBLEM_PAGE(r, 403);
        itest_free(r);
    }
    itest_as("admin", ITEST_ADMIN_ID);
}
END_TEST

/* ---- dashboard ---------------------------------------------------------------------------- */

START_TEST(test_dashboard)
{
    itest_resp *r = PAGE("/dashboard");
    HAS(r, "<svg class=\"chart\" id=\"revenue-chart\" role=\"img\"");
    HAS(r, "aria-labelledby=\"revenue-chart-title revenue-chart-desc\"");
    HAS(r, "<table class=\"heat\" id=\"rfm-heat\"");
    HAS(r, "id=\"dashboard-asof\"");
    HAS(r, "<details><summary>");
    ck_assert_int_eq(count_of(r->body, "<td class=\"h"), 25);
    /* the table holds the 30 days the chart draws */
    const char *t = strstr(r->body, "id=\"revenue-table\"");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(count_of(t, "<th scope=\"row\">"), 30 + 5 /* the heat map's rows */);
    char currency[8];
    snprintf(currency, sizeof currency, "%s",
             attr_after(r->body, "id=\"revenue-total\"", "data-currency"));
    int64_t cents = attr_int(r->body, "id=\"revenue-total\"", "data-cents");
    int64_t customers = attr_int(r->body, "id=\"rfm-heat\"", "data-customers");
    ck_assert_msg(strlen(currency) == 3 && cents >= 0 && customers >= 0, "figures: %s", r->body);
    itest_free(r);

    /* a campaign, a new customer and a confirmed order of 33.00 for it */
    int64_t camp =
        CREATED(CAMPAIGNS, itest_fmt("{\"name\":\"dash\",\"channel\":\"ads\",\"currency\":"
                                     "\"%s\",\"budget_cents\":1000}",
                                     currency));
    int64_t cust = itest_new_customer(NULL);
    int64_t prod = itest_new_product(3300, currency, NULL);
    int64_t order =
        itest_new_order(cust, itest_fmt("[{\"product_id\":%" PRId64 ",\"quantity\":1}]", prod),
                        itest_fmt("\"currency\":\"%s\",\"campaign_id\":%" PRId64, currency, camp));
    r = itest_request("POST", itest_fmt("/api/v1/orders/%" PRId64 "/confirm", order), NULL, NULL, 0,
                      NULL);
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);

    /* the page follows: revenue and ROI from the order event, the grid
       from the refresher */
    double end = itest_now() + 15;
    int revenue_ok = 0, grid_ok = 0, roi_ok = 0;
    const char *row = itest_fmt("<tr data-campaign=\"%" PRId64 "\">", camp);
    while (!(revenue_ok && grid_ok && roi_ok) && itest_now() < end) {
        r = PAGE("/dashboard");
        /* at least: nothing else confirms orders now, but an earlier suite's
           events may still be arriving */
        revenue_ok = attr_int(r->body, "id=\"revenue-total\"", "data-cents") >= cents + 3300;
        grid_ok = attr_int(r->body, "id=\"rfm-heat\"", "data-customers") >= customers + 1;
        /* ROI (3300 - 1000) / 1000 */
        const char *at = strstr(r->body, row);
        roi_ok = at != NULL && strstr(at, "data-roi=\"2.3000\"") != NULL &&
                 strstr(at, "data-roi=\"2.3000\"") < strstr(at, "</tr>");
        itest_free(r);
        if (!(revenue_ok && grid_ok && roi_ok))
            itest_sleep_ms(200);
    }
    ck_assert_msg(revenue_ok, "revenue did not grow by 33.00 %s", currency);
    ck_assert_msg(grid_ok, "the RFM grid did not count the new customer");
    ck_assert_msg(roi_ok, "campaign %" PRId64 " has no ROI of 230 %%", camp);
    r = PAGE("/dashboard");
    HAS(r, "id=\"roi-chart\"");
    HAS(r, "class=\"bar\"");
    HAS(r, "+230.0 %");
    itest_free(r);
    r = PAGE(itest_fmt("/campaigns/%" PRId64, camp));
    HAS(r, "data-roi=\"2.3000\"");
    HAS(r, "data-cents=\"3300\"");
    itest_free(r);
}
END_TEST

static Suite *pages_suite(void)
{
    Suite *s = suite_create("marketing_pages");
    TCase *tc = tcase_create("pages");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, itest_teardown);
    tcase_add_test(tc, test_pages_render_escaped);
    tcase_add_test(tc, test_campaign_form_flow);
    tcase_add_test(tc, test_campaign_form_errors);
    tcase_add_test(tc, test_campaign_list_filters_and_pages);
    tcase_add_test(tc, test_segment_form_flow);
    tcase_add_test(tc, test_segment_form_errors);
    tcase_add_test(tc, test_segment_with_groups_edits_as_json);
    tcase_add_test(tc, test_segment_list_pages);
    tcase_add_test(tc, test_viewer_reads_only);
    tcase_add_test(tc, test_dashboard);
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
