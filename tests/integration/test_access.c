/*
 * test_access.c - who may do what, generated from the route tables.
 *
 * Every service prints its route table (`crm-<svc> routes`: method, path,
 * roles). Every route must have a case below, or the suite fails: a new
 * route cannot ship without its access being tested. For every route:
 *   - no credentials: 401 (public routes: anything but 401/403);
 *   - each role the route does not allow: 403;
 *   - each role it allows, on a read: not 401/403/404 (and a sales user's
 *     own object is found);
 *   - an object of one sales user, asked for by another: 404, and the
 *     object unchanged;
 *   - a write body that sets a field the caller may not (id, version,
 *     timestamps, role, owner_id for a sales user): 400, nothing changed;
 *   - service routes (internal listener): unsigned 401, a user token 401.
 * Then the token forgeries of the identity issue, each 401.
 */
#include "itest.h"

#include "crm_auth.h"
#include "crm_buf.h"
#include "crm_jwt.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The users the tokens name: the suites' admin (ITEST_ADMIN_ID), and one
   user of every other role made by make_users (identity checks that a
   token's user exists where it reads the account). */
static int64_t sales_a; /* owns the fixtures */
static int64_t sales_b; /* owns nothing of them */
static int64_t marketer, viewer;
#define MSG_MAX 65536

typedef struct {
    const char *method;
    const char *pattern;
    const char *path;         /* with {customer} {note} {product} {order} {line} {campaign}
                                 {segment} {user} */
    const char *body;         /* a valid body (same placeholders), or NULL */
    const char *owner_obj;    /* owned by sales_a: the object whose version must not
                                 move when sales_b tries, or NULL */
    const char *count;        /* a list to count before and after a refused create */
    const char *fields;       /* fields no writer may set, comma-separated */
    const char *sales_fields; /* more fields a sales user may not set, or NULL */
} access_case;

#define RO   "id,version,created_at,updated_at,role"
#define CUST "/api/v1/customers/{customer}"
#define ORD  "/api/v1/orders/{order}"

static const access_case cases[] = {
    /* customers */
    { "GET", "/api/v1/customers/ping", "/api/v1/customers/ping", NULL, NULL, NULL, NULL, NULL },
    { "GET", "/api/v1/customers", "/api/v1/customers", NULL, NULL, NULL, NULL, NULL },
    { "POST", "/api/v1/customers", "/api/v1/customers",
      "{\"name\":\"Access\",\"email\":\"{email}\"}", NULL, "/api/v1/customers?count=true&limit=1",
      RO, "owner_id" },
    { "GET", "/api/v1/customers/{id}", CUST, NULL, CUST, NULL, NULL, NULL },
    { "PATCH", "/api/v1/customers/{id}", CUST, "{\"company\":\"Changed\"}", CUST, NULL, RO,
      "owner_id" },
    { "PUT", "/api/v1/customers/{id}", CUST, "{\"name\":\"Put\",\"email\":\"{email}\"}", CUST, NULL,
      RO, "owner_id" },
    { "DELETE", "/api/v1/customers/{id}", CUST, NULL, CUST, NULL, NULL, NULL },
    { "GET", "/api/v1/customers/{id}/notes", CUST "/notes", NULL, CUST, NULL, NULL, NULL },
    { "POST", "/api/v1/customers/{id}/notes", CUST "/notes", "{\"body\":\"hello\"}", CUST, NULL,
      "id,created_at,customer_id", "author_id" },
    { "GET", "/api/v1/customers/{id}/notes/{note_id}", CUST "/notes/{note}", NULL, CUST, NULL, NULL,
      NULL },
    { "DELETE", "/api/v1/customers/{id}/notes/{note_id}", CUST "/notes/{note}", NULL, CUST, NULL,
      NULL, NULL },
    { "GET", "/internal/v1/customers/{id}", "/internal/v1/customers/{customer}", NULL, NULL, NULL,
      NULL, NULL },
    /* customers' pages (crm_html.h) */
    { "GET", "/customers", "/customers", NULL, NULL, NULL, NULL, NULL },
    { "GET", "/customers/new", "/customers/new", NULL, NULL, NULL, NULL, NULL },
    { "GET", "/customers/{id}", "/customers/{customer}", NULL, CUST, NULL, NULL, NULL },
    { "GET", "/customers/{id}/edit", "/customers/{customer}/edit", NULL, CUST, NULL, NULL, NULL },
    /* sales */
    { "GET", "/api/v1/sales/ping", "/api/v1/sales/ping", NULL, NULL, NULL, NULL, NULL },
    { "GET", "/api/v1/sales/summary", "/api/v1/sales/summary", NULL, NULL, NULL, NULL, NULL },
    { "GET", "/api/v1/products", "/api/v1/products", NULL, NULL, NULL, NULL, NULL },
    { "POST", "/api/v1/products", "/api/v1/products",
      "{\"sku\":\"{sku}\",\"name\":\"Access\",\"price_cents\":100,\"currency\":\"EUR\"}", NULL,
      "/api/v1/products?count=true&limit=1", RO, NULL },
    { "GET", "/api/v1/products/{id}", "/api/v1/products/{product}", NULL, NULL, NULL, NULL, NULL },
    { "PATCH", "/api/v1/products/{id}", "/api/v1/products/{product}", "{\"name\":\"Renamed\"}",
      NULL, NULL, RO, NULL },
    { "PUT", "/api/v1/products/{id}", "/api/v1/products/{product}",
      "{\"sku\":\"{sku}\",\"name\":\"Put\",\"price_cents\":100,\"currency\":\"EUR\"}", NULL, NULL,
      RO, NULL },
    { "DELETE", "/api/v1/products/{id}", "/api/v1/products/{product}", NULL, NULL, NULL, NULL,
      NULL },
    { "GET", "/api/v1/orders", "/api/v1/orders", NULL, NULL, NULL, NULL, NULL },
    { "POST", "/api/v1/orders", "/api/v1/orders",
      "{\"customer_id\":{customer},\"lines\":[{\"product_id\":{product},\"quantity\":1}]}", NULL,
      "/api/v1/orders?count=true&limit=1", RO, "owner_id" },
    { "GET", "/api/v1/orders/{id}", ORD, NULL, ORD, NULL, NULL, NULL },
    { "PATCH", "/api/v1/orders/{id}", ORD, "{\"note\":\"changed\"}", ORD, NULL, RO, "owner_id" },
    { "POST", "/api/v1/orders/{id}/lines", ORD "/lines",
      "{\"product_id\":{product},\"quantity\":1}", ORD, NULL, RO, NULL },
    { "PUT", "/api/v1/orders/{id}/lines", ORD "/lines",
      "{\"lines\":[{\"product_id\":{product},\"quantity\":2}]}", ORD, NULL, RO, NULL },
    { "GET", "/api/v1/orders/{id}/lines/{line_id}", ORD "/lines/{line}", NULL, ORD, NULL, NULL,
      NULL },
    { "PATCH", "/api/v1/orders/{id}/lines/{line_id}", ORD "/lines/{line}", "{\"quantity\":3}", ORD,
      NULL, RO, NULL },
    { "DELETE", "/api/v1/orders/{id}/lines/{line_id}", ORD "/lines/{line}", NULL, ORD, NULL, NULL,
      NULL },
    { "POST", "/api/v1/orders/{id}/confirm", ORD "/confirm", NULL, ORD, NULL, NULL, NULL },
    { "POST", "/api/v1/orders/{id}/fulfill", ORD "/fulfill", NULL, ORD, NULL, NULL, NULL },
    { "POST", "/api/v1/orders/{id}/cancel", ORD "/cancel", NULL, ORD, NULL, NULL, NULL },
    /* sales' pages */
    { "GET", "/products", "/products", NULL, NULL, NULL, NULL, NULL },
    { "GET", "/products/new", "/products/new", NULL, NULL, NULL, NULL, NULL },
    { "GET", "/products/{id}", "/products/{product}", NULL, NULL, NULL, NULL, NULL },
    { "GET", "/orders", "/orders", NULL, NULL, NULL, NULL, NULL },
    { "GET", "/orders/new", "/orders/new", NULL, NULL, NULL, NULL, NULL },
    { "GET", "/orders/{id}", "/orders/{order}", NULL, ORD, NULL, NULL, NULL },
    { "POST", "/internal/v1/events", "/internal/v1/events", "[]", NULL, NULL, NULL, NULL },
    /* marketing */
    /* marketing's pages */
    { "GET", "/campaigns", "/campaigns", NULL, NULL, NULL, NULL, NULL },
    { "GET", "/campaigns/new", "/campaigns/new", NULL, NULL, NULL, NULL, NULL },
    { "GET", "/campaigns/{id}", "/campaigns/{campaign}", NULL, NULL, NULL, NULL, NULL },
    { "GET", "/segments", "/segments", NULL, NULL, NULL, NULL, NULL },
    { "GET", "/segments/new", "/segments/new", NULL, NULL, NULL, NULL, NULL },
    { "GET", "/segments/{id}", "/segments/{segment}", NULL, NULL, NULL, NULL, NULL },
    { "GET", "/dashboard", "/dashboard", NULL, NULL, NULL, NULL, NULL },
    { "GET", "/api/v1/marketing/ping", "/api/v1/marketing/ping", NULL, NULL, NULL, NULL, NULL },
    { "GET", "/api/v1/campaigns", "/api/v1/campaigns", NULL, NULL, NULL, NULL, NULL },
    { "POST", "/api/v1/campaigns", "/api/v1/campaigns",
      "{\"name\":\"Access\",\"currency\":\"EUR\",\"channel\":\"email\"}", NULL,
      "/api/v1/campaigns?count=true&limit=1", RO, NULL },
    { "GET", "/api/v1/campaigns/{id}", "/api/v1/campaigns/{campaign}", NULL, NULL, NULL, NULL,
      NULL },
    { "PATCH", "/api/v1/campaigns/{id}", "/api/v1/campaigns/{campaign}", "{\"name\":\"Renamed\"}",
      NULL, NULL, RO, NULL },
    { "DELETE", "/api/v1/campaigns/{id}", "/api/v1/campaigns/{campaign}", NULL, NULL, NULL, NULL,
      NULL },
    { "POST", "/api/v1/campaigns/{id}/schedule", "/api/v1/campaigns/{campaign}/schedule", NULL,
      NULL, NULL, NULL, NULL },
    { "POST", "/api/v1/campaigns/{id}/activate", "/api/v1/campaigns/{campaign}/activate", NULL,
      NULL, NULL, NULL, NULL },
    { "POST", "/api/v1/campaigns/{id}/pause", "/api/v1/campaigns/{campaign}/pause", NULL, NULL,
      NULL, NULL, NULL },
    { "POST", "/api/v1/campaigns/{id}/resume", "/api/v1/campaigns/{campaign}/resume", NULL, NULL,
      NULL, NULL, NULL },
    { "POST", "/api/v1/campaigns/{id}/complete", "/api/v1/campaigns/{campaign}/complete", NULL,
      NULL, NULL, NULL, NULL },
    { "GET", "/api/v1/segments", "/api/v1/segments", NULL, NULL, NULL, NULL, NULL },
    { "POST", "/api/v1/segments", "/api/v1/segments",
      "{\"name\":\"Access\",\"rule\":{\"all\":[{\"field\":\"status\",\"op\":\"eq\","
      "\"value\":\"lead\"}]}}",
      NULL, "/api/v1/segments?count=true&limit=1", RO, NULL },
    { "POST", "/api/v1/segments/preview", "/api/v1/segments/preview",
      "{\"rule\":{\"all\":[{\"field\":\"status\",\"op\":\"eq\",\"value\":\"lead\"}]}}", NULL, NULL,
      NULL, NULL },
    { "GET", "/api/v1/segments/{id}", "/api/v1/segments/{segment}", NULL, NULL, NULL, NULL, NULL },
    { "PATCH", "/api/v1/segments/{id}", "/api/v1/segments/{segment}", "{\"name\":\"Renamed\"}",
      NULL, NULL, RO, NULL },
    { "DELETE", "/api/v1/segments/{id}", "/api/v1/segments/{segment}", NULL, NULL, NULL, NULL,
      NULL },
    { "GET", "/api/v1/segments/{id}/members", "/api/v1/segments/{segment}/members", NULL, NULL,
      NULL, NULL, NULL },
    { "GET", "/api/v1/analytics/customers/{id}", "/api/v1/analytics/customers/{customer}", NULL,
      NULL, NULL, NULL, NULL },
    { "GET", "/api/v1/analytics/rfm", "/api/v1/analytics/rfm", NULL, NULL, NULL, NULL, NULL },
    { "GET", "/api/v1/analytics/campaigns/{id}", "/api/v1/analytics/campaigns/{campaign}", NULL,
      NULL, NULL, NULL, NULL },
    /* identity */
    { "POST", "/api/v1/auth/login", "/api/v1/auth/login",
      "{\"email\":\"nobody@example.com\",\"password\":\"not-the-password\"}", NULL, NULL, NULL,
      NULL },
    { "POST", "/api/v1/auth/logout", "/api/v1/auth/logout", NULL, NULL, NULL, NULL, NULL },
    { "GET", "/api/v1/auth/me", "/api/v1/auth/me", NULL, NULL, NULL, NULL, NULL },
    { "POST", "/api/v1/auth/token", "/api/v1/auth/token", NULL, NULL, NULL, NULL, NULL },
    { "GET", "/api/v1/users", "/api/v1/users", NULL, NULL, NULL, NULL, NULL },
    { "POST", "/api/v1/users", "/api/v1/users",
      "{\"email\":\"{email}\",\"name\":\"Access\",\"role\":\"viewer\","
      "\"password\":\"correct horse battery\"}",
      NULL, "/api/v1/users?count=true&limit=1", "id,version,created_at,updated_at,password_hash",
      NULL },
    { "GET", "/api/v1/users/{id}", "/api/v1/users/{user}", NULL, NULL, NULL, NULL, NULL },
    { "PATCH", "/api/v1/users/{id}", "/api/v1/users/{user}", "{\"name\":\"Renamed\"}", NULL, NULL,
      "id,version,created_at,updated_at,password_hash", NULL },
    { "PUT", "/api/v1/users/{id}", "/api/v1/users/{user}",
      "{\"email\":\"{email}\",\"name\":\"Put\",\"role\":\"viewer\",\"active\":true}", NULL, NULL,
      "id,version,created_at,updated_at,password_hash", NULL },
    { "DELETE", "/api/v1/users/{id}", "/api/v1/users/{user}", NULL, NULL, NULL, NULL, NULL },
};

static const int64_t admin_id = ITEST_ADMIN_ID;

static const struct {
    const char *name;
    unsigned bit;
    const int64_t *user;
} roles[] = {
    { "admin", CRM_ROLE_ADMIN, &admin_id },
    { "sales", CRM_ROLE_SALES, &sales_a },
    { "marketing", CRM_ROLE_MARKETING, &marketer },
    { "viewer", CRM_ROLE_VIEWER, &viewer },
};

/* ---- the route tables ---- */

typedef struct {
    char method[16];
    char pattern[256];
    unsigned roles;
    char svc[16];
} route;

static route routes[256];
static size_t n_routes;

static unsigned role_bits(const char *list)
{
    unsigned bits = 0;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (strcmp(t, "public") == 0)
            bits |= CRM_ROLE_PUBLIC;
        else if (strcmp(t, "service") == 0)
            bits |= CRM_ROLE_SERVICE;
        else
            bits |= crm_auth_role_bit(t);
    }
    return bits;
}

static void load_routes(void)
{
    char services[256], cmd[1024], line[512];
    const char *bin = itest_env("CRM_BIN", "build/release");

    snprintf(services, sizeof services, "%s", itest_env("CRM_SERVICES", ""));
    ck_assert_msg(services[0] != '\0', "CRM_SERVICES is not set");
    n_routes = 0;
    for (char *save = NULL, *svc = strtok_r(services, " ", &save); svc;
         svc = strtok_r(NULL, " ", &save)) {
        snprintf(cmd, sizeof cmd, "%s/crm-%s routes", bin, svc);
        FILE *p = popen(cmd, "r");
        ck_assert_msg(p != NULL, "cannot run %s", cmd);
        size_t before = n_routes;
        while (fgets(line, sizeof line, p) != NULL) {
            char m[16], pat[256], rl[128], name[128];
            ck_assert_msg(sscanf(line, "%15s %255s %127s %127s", m, pat, rl, name) == 4,
                          "%s printed an unexpected line: %s", cmd, line);
            ck_assert_uint_lt(n_routes, CRM_NELEM(routes));
            route *rt = &routes[n_routes++];
            memcpy(rt->method, m, sizeof rt->method);
            memcpy(rt->pattern, pat, sizeof rt->pattern);
            snprintf(rt->svc, sizeof rt->svc, "%s", svc);
            rt->roles = role_bits(rl);
            ck_assert_msg(rt->roles != 0, "%s: no roles for %s %s", cmd, m, pat);
        }
        ck_assert_int_eq(pclose(p), 0);
        ck_assert_msg(n_routes > before, "%s printed no routes", cmd);
    }
}

static const access_case *case_for(const route *rt)
{
    for (size_t i = 0; i < CRM_NELEM(cases); i++)
        if (strcmp(cases[i].method, rt->method) == 0 && strcmp(cases[i].pattern, rt->pattern) == 0)
            return &cases[i];
    return NULL;
}

/* ---- fixtures ---- */

typedef struct {
    int64_t customer, note, product, order, line, campaign, segment, user;
} fixtures;

static fixtures fx;

static int64_t created_id(itest_resp *r, const char *what)
{
    ck_assert_msg(r->status == 201, "creating %s: %s", what, itest_describe(r));
    int64_t id = itest_jint(r->json, "id");
    ck_assert_msg(id > 0, "%s without id: %s", what, itest_describe(r));
    itest_free(r);
    return id;
}

static int64_t make_user(const char *role)
{
    char email[128], body[512];
    itest_unique_email(email, sizeof email, role);
    snprintf(body, sizeof body,
             "{\"email\":\"%s\",\"name\":\"Access %s\",\"role\":\"%s\","
             "\"password\":\"correct horse battery\"}",
             email, role, role);
    return created_id(itest_json("POST", "/api/v1/users", NULL, body), "user");
}

static void make_fixtures(void)
{
    char email[128], body[512], sku[64];

    itest_as("admin", ITEST_ADMIN_ID);
    sales_a = make_user("sales");
    sales_b = make_user("sales");
    marketer = make_user("marketing");
    viewer = make_user("viewer");
    itest_unique_email(email, sizeof email, "access");
    snprintf(body, sizeof body, "{\"name\":\"Owned\",\"email\":\"%s\",\"owner_id\":%" PRId64 "}",
             email, sales_a);
    fx.customer = created_id(itest_json("POST", "/api/v1/customers", NULL, body), "customer");
    snprintf(body, sizeof body, "/api/v1/customers/%" PRId64 "/notes", fx.customer);
    fx.note = created_id(itest_json("POST", body, NULL, "{\"body\":\"a note\"}"), "note");
    itest_unique_sku(sku, sizeof sku);
    snprintf(body, sizeof body,
             "{\"sku\":\"%s\",\"name\":\"Access\",\"price_cents\":250,\"currency\":\"EUR\"}", sku);
    fx.product = created_id(itest_json("POST", "/api/v1/products", NULL, body), "product");
    snprintf(body, sizeof body,
             "{\"customer_id\":%" PRId64 ",\"lines\":[{\"product_id\":%" PRId64
             ",\"quantity\":1}]}",
             fx.customer, fx.product);
    itest_resp *r = itest_json("POST", "/api/v1/orders", NULL, body);
    ck_assert_msg(r->status == 201, "order: %s", itest_describe(r));
    fx.order = itest_jint(r->json, "id");
    ck_assert_int_eq(itest_jint(r->json, "owner_id"), sales_a);
    json_object *lines = itest_jget(r->json, "lines");
    ck_assert_ptr_nonnull(lines);
    fx.line = itest_jint(json_object_array_get_idx(lines, 0), "id");
    itest_free(r);
    fx.campaign =
        created_id(itest_json("POST", "/api/v1/campaigns", NULL,
                              "{\"name\":\"Access\",\"currency\":\"EUR\",\"channel\":\"email\"}"),
                   "campaign");
    fx.segment = created_id(itest_json("POST", "/api/v1/segments", NULL,
                                       "{\"name\":\"Access\",\"rule\":{\"all\":[{\"field\":"
                                       "\"status\",\"op\":\"eq\",\"value\":\"lead\"}]}}"),
                            "segment");
    itest_unique_email(email, sizeof email, "access-user");
    snprintf(body, sizeof body,
             "{\"email\":\"%s\",\"name\":\"Access\",\"role\":\"viewer\","
             "\"password\":\"correct horse battery\"}",
             email);
    fx.user = created_id(itest_json("POST", "/api/v1/users", NULL, body), "user");
}

/* text with every placeholder replaced; the caller frees. */
static char *expand(const char *text)
{
    char email[128], sku[64];
    itest_unique_email(email, sizeof email, "access-body");
    itest_unique_sku(sku, sizeof sku);
    int64_t ids[] = { fx.customer, fx.note,     fx.product, fx.order,
                      fx.line,     fx.campaign, fx.segment, fx.user };
    static const char *const keys[] = {
        "{customer}", "{note}",    "{product}", "{order}", "{line}",
        "{campaign}", "{segment}", "{user}",    "{email}", "{sku}"
    };
    crm_buf b;
    crm_buf_init(&b, 256);
    for (const char *p = text; *p != '\0';) {
        size_t k = 0;
        for (; k < CRM_NELEM(keys); k++)
            if (strncmp(p, keys[k], strlen(keys[k])) == 0)
                break;
        if (k == CRM_NELEM(keys)) {
            crm_buf_putc(&b, *p++);
            continue;
        }
        if (k < CRM_NELEM(ids))
            crm_buf_printf(&b, "%" PRId64, ids[k]);
        else
            crm_buf_puts(&b, k == 8 ? email : sku);
        p += strlen(keys[k]);
    }
    char *out = strndup(b.data, b.len);
    crm_buf_free(&b);
    return out;
}

/* ---- checks, collected: one run reports every route that fails ---- */

static char msgs[MSG_MAX];
static size_t msgs_len;
static int failures;

static void fail_route(const route *rt, const char *fmt, ...) CRM_PRINTF(2, 3);
static void fail_route(const route *rt, const char *fmt, ...)
{
    va_list ap;
    failures++;
    if (msgs_len + 512 >= sizeof msgs)
        return;
    msgs_len += (size_t)snprintf(msgs + msgs_len, sizeof msgs - msgs_len, "\n%s %s: ", rt->method,
                                 rt->pattern);
    va_start(ap, fmt);
    msgs_len += (size_t)vsnprintf(msgs + msgs_len, sizeof msgs - msgs_len, fmt, ap);
    va_end(ap);
}

static itest_resp *send(const route *rt, const access_case *c, const char *body_override)
{
    char *path = expand(c->path);
    char *body = body_override ? strdup(body_override) : c->body ? expand(c->body) : NULL;
    /* PUT needs If-Match (428 otherwise): any version will do here. */
    static const char *const if_match[] = { "If-Match: *", NULL };
    itest_resp *r =
        itest_request(rt->method, path, strcmp(rt->method, "PUT") == 0 ? if_match : NULL, body,
                      body ? strlen(body) : 0, body ? "application/json" : NULL);
    free(path);
    free(body);
    return r;
}

/* The version of an owned object as the admin reads it. */
static long version_of(const char *obj)
{
    char *path = expand(obj);
    itest_as("admin", ITEST_ADMIN_ID);
    itest_resp *r = itest_get(path, NULL);
    long v = r->status == 200 ? (long)itest_jint(r->json, "version") : -1;
    itest_free(r);
    free(path);
    return v;
}

static long count_of(const char *list)
{
    itest_as("admin", ITEST_ADMIN_ID);
    itest_resp *r = itest_get(list, NULL);
    long n = r->status == 200 ? (long)itest_jint(r->json, "count") : -1;
    itest_free(r);
    return n;
}

/* body with "field":<value> added first. */
static char *with_field(const char *body, const char *field)
{
    char *base = expand(body);
    size_t n = strlen(base) + strlen(field) + 64;
    char *out = malloc(n);
    ck_assert_ptr_nonnull(out);
    const char *value = strstr(field, "_at") != NULL ? "\"2020-01-01T00:00:00Z\""
                        : strcmp(field, "role") == 0 ? "\"admin\""
                                                     : "7";
    snprintf(out, n, "{\"%s\":%s%s%s", field, value, base[1] == '}' ? "" : ",", base + 1);
    free(base);
    return out;
}

static void check_mass_assignment(const route *rt, const access_case *c)
{
    for (size_t k = 0; k < CRM_NELEM(roles); k++) {
        if (!(rt->roles & roles[k].bit))
            continue;
        char fields[256];
        int sales = roles[k].bit == CRM_ROLE_SALES && c->sales_fields != NULL;
        snprintf(fields, sizeof fields, "%s%s%s", c->fields, sales ? "," : "",
                 sales ? c->sales_fields : "");
        for (char *save = NULL, *f = strtok_r(fields, ",", &save); f;
             f = strtok_r(NULL, ",", &save)) {
            long before = c->owner_obj ? version_of(c->owner_obj)
                          : c->count   ? count_of(c->count)
                                       : 0;
            char *body = with_field(c->body, f);
            itest_as(roles[k].name, *roles[k].user);
            itest_resp *r = send(rt, c, body);
            free(body);
            if (r->status != 400 || itest_problem_field_count(r, f) < 1)
                fail_route(rt, "as %s, setting %s: want 400 naming it, got %s", roles[k].name, f,
                           itest_describe(r));
            itest_free(r);
            long after = c->owner_obj ? version_of(c->owner_obj)
                         : c->count   ? count_of(c->count)
                                      : 0;
            if (before != after)
                fail_route(rt, "as %s, setting %s changed something (%ld -> %ld)", roles[k].name, f,
                           before, after);
        }
    }
}

static void check_user_route(const route *rt, const access_case *c)
{
    itest_as(NULL, 0);
    itest_resp *r = send(rt, c, NULL);
    if (r->status != 401 || itest_header_get(r, "WWW-Authenticate") == NULL ||
        itest_check_problem(r, 401) != NULL)
        fail_route(rt, "no credentials: want 401 problem with WWW-Authenticate, got %s",
                   itest_describe(r));
    itest_free(r);

    for (size_t k = 0; k < CRM_NELEM(roles); k++) {
        if (rt->roles & roles[k].bit)
            continue;
        long before = c->owner_obj ? version_of(c->owner_obj) : 0;
        itest_as(roles[k].name, *roles[k].user);
        r = send(rt, c, NULL);
        if (r->status != 403 || itest_check_problem(r, 403) != NULL)
            fail_route(rt, "as %s: want 403, got %s", roles[k].name, itest_describe(r));
        itest_free(r);
        if (c->owner_obj && version_of(c->owner_obj) != before)
            fail_route(rt, "as %s: refused, but the object changed", roles[k].name);
    }

    /* Reads: every allowed role gets through (a sales user to their own). */
    if (strcmp(rt->method, "GET") == 0) {
        for (size_t k = 0; k < CRM_NELEM(roles); k++) {
            if (!(rt->roles & roles[k].bit))
                continue;
            itest_as(roles[k].name, *roles[k].user);
            r = send(rt, c, NULL);
            if (r->status != 200)
                fail_route(rt, "as %s: want 200, got %s", roles[k].name, itest_describe(r));
            itest_free(r);
        }
    }

    /* Another sales user's object does not exist for this one. */
    if (c->owner_obj != NULL && (rt->roles & CRM_ROLE_SALES)) {
        long before = version_of(c->owner_obj);
        itest_as("sales", sales_b);
        r = send(rt, c, NULL);
        if (r->status != 404 || itest_check_problem(r, 404) != NULL)
            fail_route(rt, "as another sales user: want 404, got %s", itest_describe(r));
        itest_free(r);
        long after = version_of(c->owner_obj);
        if (before < 1 || after != before)
            fail_route(rt, "as another sales user: the object changed (%ld -> %ld)", before, after);
    }

    if (c->fields != NULL && c->body != NULL)
        check_mass_assignment(rt, c);
}

static void check_service_route(const route *rt, const access_case *c)
{
    const char *base = getenv("CRM_INTERNAL_URL");
    char url[512], bearer[4096];
    char *path = expand(c->path);
    const char *host = strcmp(rt->svc, "customers") == 0 ? NULL : rt->svc;
    char host_line[64];
    const char *headers[3] = { NULL, NULL, NULL };

    ck_assert_msg(base != NULL, "CRM_INTERNAL_URL is not set");
    snprintf(url, sizeof url, "%s%s", base, path);
    if (host != NULL) {
        snprintf(host_line, sizeof host_line, "Host: %s.internal", host);
        headers[0] = host_line;
    }
    const char *body = c->body;
    itest_resp *r = itest_request_url(rt->method, url, headers, body, body ? strlen(body) : 0,
                                      body ? "application/json" : NULL);
    if (r->status != 401)
        fail_route(rt, "unsigned service call: want 401, got %s", itest_describe(r));
    itest_free(r);
    itest_bearer(bearer, sizeof bearer, "admin", ITEST_ADMIN_ID);
    headers[host != NULL ? 1 : 0] = bearer;
    r = itest_request_url(rt->method, url, headers, body, body ? strlen(body) : 0,
                          body ? "application/json" : NULL);
    if (r->status != 401)
        fail_route(rt, "a user token on a service route: want 401, got %s", itest_describe(r));
    itest_free(r);
    /* And the public listener does not even have it. */
    itest_as(NULL, 0);
    r = itest_request(rt->method, path, NULL, body, body ? strlen(body) : 0,
                      body ? "application/json" : NULL);
    if (r->status != 404)
        fail_route(rt, "on the public listener: want 404, got %s", itest_describe(r));
    itest_free(r);
    free(path);
}

START_TEST(test_every_route)
{
    load_routes();
    make_fixtures();
    msgs_len = 0;
    msgs[0] = '\0';
    failures = 0;
    for (size_t i = 0; i < n_routes; i++) {
        const route *rt = &routes[i];
        const access_case *c = case_for(rt);
        if (c == NULL) {
            fail_route(rt, "no access case in test_access.c: add one");
            continue;
        }
        if (rt->roles & CRM_ROLE_PUBLIC) {
            itest_as(NULL, 0);
            itest_resp *r = send(rt, c, NULL);
            /* A public route may refuse (login: bad credentials), but never
               for want of a token. */
            const char *type = itest_jstr(r->json, "type");
            if (r->status == 0 || r->status == 403 ||
                (r->status == 401 && (type == NULL || strstr(type, "unauthorized") != NULL)))
                fail_route(rt, "public: got %s", itest_describe(r));
            itest_free(r);
        } else if (rt->roles & CRM_ROLE_SERVICE) {
            check_service_route(rt, c);
        } else {
            check_user_route(rt, c);
        }
    }
    /* Every case is a route: a renamed route must not leave its case behind. */
    for (size_t i = 0; i < CRM_NELEM(cases); i++) {
        int found = 0;
        for (size_t k = 0; k < n_routes && !found; k++)
            found = strcmp(cases[i].method, routes[k].method) == 0 &&
                    strcmp(cases[i].pattern, routes[k].pattern) == 0;
        if (!found) {
            failures++;
            msgs_len +=
                (size_t)snprintf(msgs + msgs_len, sizeof msgs - msgs_len,
                                 "\ncase %s %s has no route", cases[i].method, cases[i].pattern);
        }
    }
    /* Check's messages are short: all of them go to stderr, the first ones
       into the failure. */
    if (failures > 0)
        fprintf(stderr, "test_access: %d failures:%s\n", failures, msgs);
    ck_assert_msg(failures == 0, "%d access failures over %zu routes:%.3000s", failures, n_routes,
                  msgs);
}
END_TEST

/* A sales user's lists and orders: only what is theirs. */
START_TEST(test_sales_scope)
{
    char email[128], body[512], path[128];

    make_fixtures();
    /* Sales B makes a customer: it is B's, whatever the body says is refused. */
    itest_as("sales", sales_b);
    itest_unique_email(email, sizeof email, "scope");
    snprintf(body, sizeof body, "{\"name\":\"Mine\",\"email\":\"%s\"}", email);
    itest_resp *r = itest_json("POST", "/api/v1/customers", NULL, body);
    ITEST_ASSERT_STATUS(r, 201);
    ck_assert_int_eq(itest_jint(r->json, "owner_id"), sales_b);
    int64_t mine = itest_jint(r->json, "id");
    itest_free(r);

    /* B's list holds B's customer and not A's; asking for A's is refused. */
    r = itest_get("/api/v1/customers?limit=200&sort=-created_at", NULL);
    ITEST_ASSERT_STATUS(r, 200);
    json_object *items = itest_jget(r->json, "items");
    int saw_mine = 0;
    for (size_t i = 0; i < json_object_array_length(items); i++) {
        json_object *it = json_object_array_get_idx(items, i);
        ck_assert_int_eq(itest_jint(it, "owner_id"), sales_b);
        saw_mine |= itest_jint(it, "id") == mine;
    }
    ck_assert(saw_mine);
    itest_free(r);
    snprintf(path, sizeof path, "/api/v1/customers?owner=%" PRId64, sales_a);
    r = itest_get(path, NULL);
    ITEST_ASSERT_PROBLEM(r, 400);
    itest_free(r);

    /* B cannot sell to A's customer: it does not exist for B. */
    snprintf(body, sizeof body,
             "{\"customer_id\":%" PRId64 ",\"lines\":[{\"product_id\":%" PRId64
             ",\"quantity\":1}]}",
             fx.customer, fx.product);
    r = itest_json("POST", "/api/v1/orders", NULL, body);
    ITEST_ASSERT_PROBLEM(r, 422);
    ck_assert_int_ge(itest_problem_field_count(r, "customer_id"), 1);
    itest_free(r);

    /* B's order list has none of A's orders. */
    r = itest_get("/api/v1/orders?limit=200", NULL);
    ITEST_ASSERT_STATUS(r, 200);
    items = itest_jget(r->json, "items");
    for (size_t i = 0; i < json_object_array_length(items); i++)
        ck_assert_int_eq(itest_jint(json_object_array_get_idx(items, i), "owner_id"), sales_b);
    itest_free(r);

    /* A sees the order and the customer. */
    itest_as("sales", sales_a);
    snprintf(path, sizeof path, "/api/v1/orders/%" PRId64, fx.order);
    r = itest_get(path, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);
    /* A's PUT of A's customer keeps it A's (the body cannot name an owner). */
    snprintf(path, sizeof path, "/api/v1/customers/%" PRId64, fx.customer);
    itest_unique_email(email, sizeof email, "scope-put");
    snprintf(body, sizeof body, "{\"name\":\"Put by A\",\"email\":\"%s\"}", email);
    const char *any[] = { "If-Match: *", NULL };
    r = itest_json("PUT", path, any, body);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_int_eq(itest_jint(r->json, "owner_id"), sales_a);
    itest_free(r);
    r = itest_get(path, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);

    /* An Idempotency-Key is its user's: B replaying A's key on A's order
       gets a 404, not A's answer. */
    char key_line[96];
    snprintf(key_line, sizeof key_line, "Idempotency-Key: scope-%d-%ld", (int)getpid(),
             (long)time(NULL));
    const char *keyed[] = { key_line, NULL };
    snprintf(path, sizeof path, "/api/v1/orders/%" PRId64 "/cancel", fx.order);
    r = itest_request("POST", path, keyed, NULL, 0, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);
    itest_as("sales", sales_b);
    r = itest_request("POST", path, keyed, NULL, 0, NULL);
    ITEST_ASSERT_PROBLEM(r, 404);
    ck_assert_ptr_null(itest_header_get(r, "Idempotent-Replayed"));
    itest_free(r);
    itest_as("sales", sales_a);

    /* A note by a sales user is theirs, whatever they would like it to say. */
    snprintf(path, sizeof path, "/api/v1/customers/%" PRId64 "/notes", fx.customer);
    r = itest_json("POST", path, NULL, "{\"body\":\"mine\"}");
    ITEST_ASSERT_STATUS(r, 201);
    ck_assert_int_eq(itest_jint(r->json, "author_id"), sales_a);
    itest_free(r);
    /* An admin's note is the admin's unless they name another author. */
    itest_as("admin", ITEST_ADMIN_ID);
    r = itest_json("POST", path, NULL, "{\"body\":\"by the admin\"}");
    ITEST_ASSERT_STATUS(r, 201);
    ck_assert_int_eq(itest_jint(r->json, "author_id"), ITEST_ADMIN_ID);
    itest_free(r);
    snprintf(body, sizeof body, "{\"body\":\"for A\",\"author_id\":%" PRId64 "}", sales_a);
    r = itest_json("POST", path, NULL, body);
    ITEST_ASSERT_STATUS(r, 201);
    ck_assert_int_eq(itest_jint(r->json, "author_id"), sales_a);
    itest_free(r);
}
END_TEST

/* A browser's session cookie: reads as is, writes with the CSRF token
   and from this site only. */
START_TEST(test_cookie_csrf)
{
    char token[4096], cookie[4200], origin[256], email[128], body[256];
    const char *base = itest_env("CRM_BASE_URL", "");
    const char *csrf = "c2VjcmV0LWNzcmYtdG9rZW4tZm9yLXRoZS10ZXN0cw";

    itest_token_at(token, sizeof token, "admin", ITEST_ADMIN_ID, (long long)time(NULL), 900, csrf);
    snprintf(cookie, sizeof cookie, "Cookie: theme=dark; " CRM_AUTH_COOKIE "=%s", token);
    /* The origin of CRM_BASE_URL, as a browser on our pages sends it. */
    snprintf(origin, sizeof origin, "Origin: %s", base);
    char *slash = strchr(origin + strlen("Origin: https://"), '/');
    if (slash != NULL)
        *slash = '\0';
    char csrf_line[128];
    snprintf(csrf_line, sizeof csrf_line, "X-CSRF-Token: %s", csrf);

    const char *read[] = { cookie, NULL };
    itest_resp *r = itest_get("/api/v1/customers?limit=1", read);
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);

    itest_unique_email(email, sizeof email, "cookie");
    snprintf(body, sizeof body, "{\"name\":\"Cookie\",\"email\":\"%s\"}", email);
    const char *no_token[] = { cookie, origin, NULL };
    const char *other_site[] = { cookie, "Origin: https://evil.example", csrf_line, NULL };
    const char *no_origin[] = { cookie, csrf_line, NULL };
    const char *wrong[] = { cookie, origin, "X-CSRF-Token: not-the-token", NULL };
    const char *const *refused[] = { no_token, other_site, no_origin, wrong };
    for (size_t i = 0; i < 4; i++) {
        r = itest_json("POST", "/api/v1/customers", refused[i], body);
        ITEST_ASSERT_PROBLEM_TYPE(r, 403, "/problems/csrf");
        itest_free(r);
    }
    /* Nothing was made by the refused ones. */
    char *q = itest_urlencode(email);
    char path[512];
    snprintf(path, sizeof path, "/api/v1/customers?q=%s&count=true", q);
    free(q);
    r = itest_get(path, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_int_eq(itest_jint(r->json, "count"), 0);
    itest_free(r);

    const char *good[] = { cookie, origin, csrf_line, NULL };
    r = itest_json("POST", "/api/v1/customers", good, body);
    ITEST_ASSERT_STATUS(r, 201);
    itest_free(r);
    /* The same search finds it now: it could have found the others. */
    r = itest_get(path, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_int_eq(itest_jint(r->json, "count"), 1);
    itest_free(r);
    const char *fetch_site[] = { cookie, "Sec-Fetch-Site: same-origin", csrf_line, NULL };
    itest_unique_email(email, sizeof email, "cookie2");
    snprintf(body, sizeof body, "{\"name\":\"Cookie\",\"email\":\"%s\"}", email);
    r = itest_json("POST", "/api/v1/customers", fetch_site, body);
    ITEST_ASSERT_STATUS(r, 201);
    itest_free(r);

    /* A plain form post carries the token as a field. */
    itest_unique_email(email, sizeof email, "cookie3");
    snprintf(body, sizeof body, "name=Form&email=%s&csrf_token=%s", email, csrf);
    const char *form[] = { cookie, origin, NULL };
    r = itest_request("POST", "/api/v1/customers", form, body, strlen(body),
                      "application/x-www-form-urlencoded");
    ITEST_ASSERT_STATUS(r, 201);
    itest_free(r);
}
END_TEST

/* The token keys were made private to their owner. */
START_TEST(test_key_files_private)
{
    static const char *const names[] = { "jwt-signing.pem", "jwt-public.pem" };
    for (size_t i = 0; i < 2; i++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/secrets/%s", itest_env("CRM_STATE", "state/test"),
                 names[i]);
        ck_assert_msg(stat(path, &st) == 0, "%s is missing", path);
        ck_assert_msg((st.st_mode & 0777) == 0600, "%s has mode %o", path, st.st_mode & 0777);
    }
}
END_TEST

/* ---- forged tokens ---- */

static void b64url(crm_buf *b, const char *s)
{
    crm_jwt_b64url_encode(b, (const unsigned char *)s, strlen(s));
}

/* The kid of the stack's signing key, from a real token's header. */
static void real_kid(char *out, size_t n)
{
    char t[4096], hdr[512];
    unsigned char raw[512];
    size_t rl = 0;
    itest_token(t, sizeof t, "admin", ITEST_ADMIN_ID);
    const char *dot = strchr(t, '.');
    ck_assert_ptr_nonnull(dot);
    ck_assert_int_eq(crm_jwt_b64url_decode(t, (size_t)(dot - t), raw, &rl), CRM_OK);
    snprintf(hdr, sizeof hdr, "%.*s", (int)rl, (const char *)raw);
    const char *k = strstr(hdr, "\"kid\":\"");
    ck_assert_ptr_nonnull(k);
    k += 7;
    snprintf(out, n, "%.*s", (int)strcspn(k, "\""), k);
}

static long get_with(const char *token)
{
    char line[4096];
    snprintf(line, sizeof line, "Authorization: Bearer %s", token);
    const char *h[] = { line, NULL };
    itest_resp *r = itest_get("/api/v1/customers?limit=1", h);
    long st = r->status;
    if (st == 401)
        ck_assert_ptr_null(itest_check_problem(r, 401));
    itest_free(r);
    return st;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot read %s", path);
    char *buf = calloc(1, 16384);
    size_t n = fread(buf, 1, 16383, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

START_TEST(test_forged_tokens)
{
    char t[4096], kid[64], payload[512];
    crm_buf b;
    long long now = (long long)time(NULL);

    /* The real thing works. */
    itest_token(t, sizeof t, "admin", ITEST_ADMIN_ID);
    ck_assert_int_eq(get_with(t), 200);

    /* Tampered payload: the role changed after signing. */
    {
        itest_token(t, sizeof t, "viewer", 5);
        char *p1 = strchr(t, '.'), *p2 = strrchr(t, '.');
        crm_buf_init(&b, 1024);
        crm_buf_append(&b, t, (size_t)(p1 - t) + 1);
        snprintf(payload, sizeof payload,
                 "{\"sub\":\"5\",\"role\":\"admin\",\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld}", now,
                 now, now + 600);
        b64url(&b, payload);
        crm_buf_puts(&b, p2);
        crm_buf_putc(&b, '\0');
        ck_assert_int_eq(get_with(b.data), 401);
        crm_buf_free(&b);
    }

    real_kid(kid, sizeof kid);
    snprintf(payload, sizeof payload,
             "{\"sub\":\"1\",\"role\":\"admin\",\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld}", now, now,
             now + 600);

    /* alg none, with and without a signature part. */
    {
        char hdr[128];
        snprintf(hdr, sizeof hdr, "{\"alg\":\"none\",\"typ\":\"JWT\",\"kid\":\"%s\"}", kid);
        crm_buf_init(&b, 1024);
        b64url(&b, hdr);
        crm_buf_putc(&b, '.');
        b64url(&b, payload);
        crm_buf_putc(&b, '.');
        crm_buf_putc(&b, '\0');
        ck_assert_int_eq(get_with(b.data), 401);
        b.len--;
        b.len--;
        crm_buf_putc(&b, '\0');
        ck_assert_int_eq(get_with(b.data), 401);
        crm_buf_free(&b);
    }

    /* HS256 keyed with the public key (the classic confusion). */
    {
        char path[4096], hdr[128];
        snprintf(path, sizeof path, "%s/secrets/jwt-public.pem",
                 itest_env("CRM_STATE", "state/test"));
        char *pub = read_file(path);
        snprintf(hdr, sizeof hdr, "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", kid);
        crm_buf_init(&b, 1024);
        b64url(&b, hdr);
        crm_buf_putc(&b, '.');
        b64url(&b, payload);
        unsigned char mac[32];
        unsigned int ml = 0;
        ck_assert_ptr_nonnull(HMAC(EVP_sha256(), pub, (int)strlen(pub),
                                   (const unsigned char *)b.data, b.len, mac, &ml));
        crm_buf_putc(&b, '.');
        crm_jwt_b64url_encode(&b, mac, ml);
        crm_buf_putc(&b, '\0');
        ck_assert_int_eq(get_with(b.data), 401);
        crm_buf_free(&b);
        free(pub);
    }

    /* Expired, and not valid yet (beyond the leeway both ways). */
    itest_token_at(t, sizeof t, "admin", ITEST_ADMIN_ID, now - 3600, 600, NULL);
    ck_assert_int_eq(get_with(t), 401);
    itest_token_at(t, sizeof t, "admin", ITEST_ADMIN_ID, now + 3600, 600, NULL);
    ck_assert_int_eq(get_with(t), 401);

    /* A well-made token from a key the stack does not know. */
    {
        EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        ck_assert_ptr_nonnull(k);
        BIO *bio = BIO_new(BIO_s_mem());
        ck_assert_int_eq(PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL), 1);
        char *pem = NULL;
        long pl = BIO_get_mem_data(bio, &pem);
        char *copy = strndup(pem, (size_t)pl);
        crm_jwt_keys *other = crm_jwt_keys_new();
        char err[128];
        ck_assert_int_eq(crm_auth_load(other, NULL, copy, err, sizeof err), CRM_OK);
        crm_jwt_claims c;
        memset(&c, 0, sizeof c);
        snprintf(c.sub, sizeof c.sub, "1");
        snprintf(c.role, sizeof c.role, "admin");
        c.iat = c.nbf = now;
        c.exp = now + 600;
        crm_buf_init(&b, 1024);
        ck_assert_int_eq(crm_jwt_sign(other, &c, &b), CRM_OK);
        crm_buf_putc(&b, '\0');
        ck_assert_int_eq(get_with(b.data), 401);
        crm_buf_free(&b);
        crm_jwt_keys_free(other);
        free(copy);
        BIO_free(bio);
        EVP_PKEY_free(k);
    }

    /* An unknown role, and garbage. */
    itest_token(t, sizeof t, "root", ITEST_ADMIN_ID);
    ck_assert_int_eq(get_with(t), 401);
    ck_assert_int_eq(get_with("not.a.token"), 401);
    ck_assert_int_eq(get_with(""), 401);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("access");
    TCase *tc = tcase_create("routes");
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, NULL, itest_teardown);
    tcase_add_test(tc, test_every_route);
    tcase_add_test(tc, test_sales_scope);
    tcase_add_test(tc, test_forged_tokens);
    tcase_add_test(tc, test_cookie_csrf);
    tcase_add_test(tc, test_key_files_private);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    itest_init();
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
