/*
 * test_marketing_api.c - the public API of crm-marketing (docs/api-marketing.md)
 * over HTTPS through NGINX: campaigns and their life cycle, segments, rules
 * (every field and operator, against customers and orders made through the
 * customers and sales APIs) and the analytics.
 */
#include "itest.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAMPAIGNS "/api/v1/campaigns"
#define SEGMENTS  "/api/v1/segments"
#define PREVIEW   SEGMENTS "/preview"
#define ANALYTICS "/api/v1/analytics"
#define NO_ID     999999999LL
#define FORM      "application/x-www-form-urlencoded"
#define START     "\"starts_at\":\"2031-01-01T00:00:00Z\""

#define STR_(x) #x
#define STR(x)  STR_(x)
#define HERE    __FILE__ ":" STR(__LINE__)

/* ---- helpers ------------------------------------------------------------------------------ */

static const char *str_or(const char *s)
{
    return s ? s : "(null)";
}

/* A request with a JSON body (or none) and at most one extra header. */
static itest_resp *call(const char *method, const char *path, const char *hdr, const char *body)
{
    const char *hdrs[] = { hdr, NULL };
    return itest_json(method, path, hdr ? hdrs : NULL, body);
}

/* call, asserting the status (a problem+json for >= 400, of type when not NULL). */
static itest_resp *expect_at(const char *where, long st, const char *type, const char *method,
                             const char *path, const char *hdr, const char *body)
{
    itest_resp *r = call(method, path, hdr, body);
    const char *m = st < 400 ? itest_check_status(r, st)
                    : type   ? itest_check_problem_type(r, st, type)
                             : itest_check_problem(r, st);
    ck_assert_msg(m == NULL, "%s: %s", where, m);
    return r;
}
#define EXPECT(st, m, p, h, b)         expect_at(HERE, (st), NULL, (m), (p), (h), (b))
#define PROBLEM(st, ty, m, p, h, b)    expect_at(HERE, (st), (ty), (m), (p), (h), (b))
#define DO(st, m, p, h, b)             itest_free(EXPECT((st), (m), (p), (h), (b)))
#define DO_PROBLEM(st, ty, m, p, h, b) itest_free(PROBLEM((st), (ty), (m), (p), (h), (b)))

/* The problem names field in its errors. */
static void has_field_at(const char *where, const itest_resp *r, const char *field)
{
    ck_assert_msg(itest_problem_field_count(r, field) > 0, "%s: no error on %s: %s", where, field,
                  itest_describe(r));
}
#define HAS_FIELD(r, f) has_field_at(HERE, (r), (f))
/* A problem of status st naming field f. */
#define BAD(st, m, p, h, b, f)                                                                     \
    do {                                                                                           \
        itest_resp *bad_ = expect_at(HERE, (st), NULL, (m), (p), (h), (b));                        \
        has_field_at(HERE, bad_, (f));                                                             \
        itest_free(bad_);                                                                          \
    } while (0)

/* Every member of want (a JSON object's text) is in o, equal; r for messages. */
static void has_json_at(const char *where, json_object *o, const itest_resp *r, const char *want)
{
    json_object *w = json_tokener_parse(want);
    ck_assert_msg(w != NULL, "%s: bad expectation %s", where, want);
    json_object_object_foreach(w, key, val)
    {
        json_object *got = NULL;
        int ok = json_object_object_get_ex(o, key, &got) && json_object_equal(got, val);
        ck_assert_msg(ok, "%s: %s is %s, want %s: %s", where, key,
                      got ? json_object_to_json_string(got) : "null/absent",
                      val ? json_object_to_json_string(val) : "null", itest_describe(r));
    }
    json_object_put(w);
}
#define HAS_JSON(r, want) has_json_at(HERE, (r)->json, (r), (want))

/* The strings of a JSON array joined by ','. */
static const char *joined(json_object *arr, char *buf, size_t n)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; json_object_is_type(arr, json_type_array) &&
                       i < json_object_array_length(arr) && off + 1 < n;
         i++)
        off += (size_t)snprintf(buf + off, n - off, "%s%s", i ? "," : "",
                                str_or(json_object_get_string(json_object_array_get_idx(arr, i))));
    return buf;
}

/* A 409 of this type naming the campaign's status and the actions it allows. */
static void conflict_at(const char *where, const itest_resp *r, const char *type,
                        const char *status, const char *allowed)
{
    char buf[256];
    const char *m = itest_check_problem_type(r, 409, type);
    ck_assert_msg(m == NULL, "%s: %s", where, m);
    json_object *a = itest_jget(r->json, "allowed");
    ck_assert_msg(strcmp(str_or(itest_jstr(r->json, "campaign_status")), status) == 0 &&
                      json_object_is_type(a, json_type_array) &&
                      strcmp(joined(a, buf, sizeof buf), allowed) == 0,
                  "%s: want campaign_status %s, allowed [%s]: %s", where, status, allowed,
                  itest_describe(r));
}
#define CONFLICT(r, ty, st, al) conflict_at(HERE, (r), (ty), (st), (al))

/* ---- campaigns and segments ---- */

static const char *campaign_path(int64_t id)
{
    return itest_fmt(CAMPAIGNS "/%" PRId64, id);
}

static const char *segment_path(int64_t id)
{
    return itest_fmt(SEGMENTS "/%" PRId64, id);
}

/* POST body to path, asserting 201, a Location to the new id and ETag 1: the id. */
static int64_t create_at(const char *where, const char *path, const char *body)
{
    itest_resp *r = expect_at(where, 201, NULL, "POST", path, NULL, body);
    int64_t id = itest_jint(r->json, "id");
    ck_assert_msg(id > 0 && itest_location_id(r) == id && itest_etag_version(r) == 1, "%s: %s",
                  where, itest_describe(r));
    itest_free(r);
    return id;
}
/* A campaign {"name":name,"currency":"EUR","channel":"email"[,extra]} (extra
   may name another channel). */
static int64_t new_campaign_at(const char *where, const char *name, const char *extra)
{
    int chan = extra == NULL || strstr(extra, "\"channel\"") == NULL;
    return create_at(where, CAMPAIGNS,
                     itest_fmt("{\"name\":\"%s\",\"currency\":\"EUR\"%s%s%s}", name,
                               chan ? ",\"channel\":\"email\"" : "", extra ? "," : "",
                               extra ? extra : ""));
}
#define NEW_CAMPAIGN(name, extra) new_campaign_at(HERE, (name), (extra))
#define NEW_SEGMENT(name, rule)                                                                    \
    create_at(HERE, SEGMENTS, itest_fmt("{\"name\":\"%s\",\"rule\":%s}", (name), (rule)))

/* POST /campaigns/{id}/{action} (key: an Idempotency-Key or NULL). */
static itest_resp *action(int64_t id, const char *act, const char *key)
{
    return call("POST", itest_fmt(CAMPAIGNS "/%" PRId64 "/%s", id, act),
                key ? itest_fmt("Idempotency-Key: %s", key) : NULL, NULL);
}

/* The action succeeds and leaves the campaign in status want. */
static void act_ok_at(const char *where, int64_t id, const char *act, const char *want)
{
    itest_resp *r = action(id, act, NULL);
    const char *m = itest_check_status(r, 200);
    ck_assert_msg(m == NULL, "%s: %s: %s", where, act, m);
    ck_assert_msg(strcmp(str_or(itest_jstr(r->json, "status")), want) == 0 &&
                      itest_etag_version(r) == itest_jint(r->json, "version"),
                  "%s: %s: want status %s: %s", where, act, want, itest_describe(r));
    itest_free(r);
}
#define ACT_OK(id, act, want) act_ok_at(HERE, (id), (act), (want))

/* The body holds "rule":canonical. */
static void rule_is_at(const char *where, const itest_resp *r, const char *canonical)
{
    char want[4096];
    snprintf(want, sizeof want, "\"rule\":%s", canonical);
    ck_assert_msg(strstr(r->body, want) != NULL, "%s: want %s: %s", where, want, itest_describe(r));
}
#define RULE_IS(r, c) rule_is_at(HERE, (r), (c))

/* ---- lists ---- */

/* Member key of every item of GET path (which has a query) following
   next_cursor; *count: the first page's count (-1 when absent). */
static size_t list_ids(const char *path, const char *key, int64_t *ids, size_t max, int64_t *count,
                       int *pages)
{
    size_t n = 0;
    char *cursor = NULL;
    for (int page = 0; page < 100; page++) {
        itest_resp *r =
            EXPECT(200, "GET", cursor ? itest_fmt("%s&cursor=%s", path, cursor) : path, NULL, NULL);
        free(cursor);
        cursor = NULL;
        json_object *items = itest_jget(r->json, "items"), *nc = NULL;
        ck_assert_msg(json_object_is_type(items, json_type_array) &&
                          json_object_object_get_ex(r->json, "next_cursor", &nc),
                      "not a page: %s", itest_describe(r));
        for (size_t i = 0; i < json_object_array_length(items); i++) {
            ck_assert_msg(n < max, "more than %zu items from %s", max, path);
            ids[n++] = itest_jint(json_object_array_get_idx(items, i), key);
        }
        if (page == 0 && count)
            *count = itest_jint(r->json, "count");
        if (nc != NULL)
            cursor = itest_urlencode(json_object_get_string(nc));
        itest_free(r);
        if (cursor == NULL) {
            if (pages)
                *pages = page + 1;
            return n;
        }
    }
    ck_abort_msg("%s did not end after 100 pages", path);
    return n;
}

static const char *ids_text(const int64_t *ids, size_t n)
{
    static char bufs[2][1024];
    static unsigned next;
    char *buf = bufs[next++ % 2];
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && off + 24 < sizeof bufs[0]; i++)
        off += (size_t)snprintf(buf + off, sizeof bufs[0] - off, " %" PRId64, ids[i]);
    return buf;
}

/* got (n) equals want (nw), in this order. */
static void same_ids_at(const char *where, const int64_t *got, size_t n, const int64_t *want,
                        size_t nw)
{
    int ok = n == nw;
    for (size_t i = 0; ok && i < n; i++)
        ok = got[i] == want[i];
    ck_assert_msg(ok, "%s: got [%s ], want [%s ]", where, ids_text(got, n), ids_text(want, nw));
}
#define SAME_IDS(g, n, w, nw) same_ids_at(HERE, (g), (n), (w), (nw))

/* ---- campaigns ---------------------------------------------------------------------------- */

START_TEST(test_campaign_create_get)
{
    itest_resp *r = EXPECT(201, "POST", CAMPAIGNS, NULL,
                           "{\"name\":\"Black Friday\",\"description\":\"big sale\","
                           "\"channel\":\"social\",\"budget_cents\":500000,\"currency\":\"EUR\","
                           "\"starts_at\":\"2030-11-27T02:00:00+02:00\","
                           "\"ends_at\":\"2030-11-30T23:59:59Z\"}");
    int64_t id = itest_jint(r->json, "id");
    ck_assert_msg(id > 0 && itest_location_id(r) == id && itest_etag_version(r) == 1 &&
                      strstr(str_or(itest_header_get(r, "Location")), campaign_path(id)),
                  "Location/ETag: %s", itest_describe(r));
    HAS_JSON(r, "{\"status\":\"draft\",\"name\":\"Black Friday\",\"description\":\"big sale\","
                "\"channel\":\"social\",\"budget_cents\":500000,\"currency\":\"EUR\","
                "\"starts_at\":\"2030-11-27T00:00:00.000000Z\","
                "\"ends_at\":\"2030-11-30T23:59:59.000000Z\",\"segment_id\":null,\"version\":1}");
    ck_assert_msg(itest_jstr(r->json, "created_at") && itest_jstr(r->json, "updated_at"), "%s",
                  itest_describe(r));
    /* GET answers the same representation; If-None-Match: 304. */
    itest_resp *g = EXPECT(200, "GET", campaign_path(id), NULL, NULL);
    ck_assert_msg(json_object_equal(r->json, g->json) && itest_etag_version(g) == 1,
                  "GET differs from POST: %s / %s", r->body, g->body);
    itest_free(g);
    itest_free(r);
    r = EXPECT(304, "GET", campaign_path(id), "If-None-Match: \"1\"", NULL);
    ck_assert_msg(itest_etag_version(r) == 1 && r->body_len == 0, "%s", itest_describe(r));
    itest_free(r);
    DO(304, "GET", campaign_path(id), "If-None-Match: \"7\", \"1\"", NULL);
    DO(200, "GET", campaign_path(id), "If-None-Match: \"2\"", NULL);
    /* Defaults; "" is null. */
    r = EXPECT(201, "POST", CAMPAIGNS, NULL,
               "{\"name\":\"d\",\"channel\":\"ads\",\"currency\":\"USD\",\"description\":\"\"}");
    HAS_JSON(r, "{\"budget_cents\":0,\"description\":null,\"starts_at\":null,\"ends_at\":null}");
    itest_free(r);
    /* Not found: unknown, or not an id. */
    DO_PROBLEM(404, NULL, "GET", campaign_path(NO_ID), NULL, NULL);
    DO_PROBLEM(404, NULL, "GET", CAMPAIGNS "/abc", NULL, NULL);
    DO_PROBLEM(404, NULL, "GET", CAMPAIGNS "/0", NULL, NULL);
    DO_PROBLEM(404, NULL, "PATCH", campaign_path(NO_ID), NULL, "{\"name\":\"x\"}");
    DO_PROBLEM(404, NULL, "DELETE", campaign_path(NO_ID), NULL, NULL);
    DO_PROBLEM(404, NULL, "POST", itest_fmt(CAMPAIGNS "/%lld/pause", NO_ID), NULL, NULL);
}
END_TEST

START_TEST(test_campaign_validation)
{
#define NCE "\"name\":\"n\",\"channel\":\"email\",\"currency\":\"EUR\""
    static const struct {
        const char *body, *field;
    } cases[] = {
        { "{\"channel\":\"email\",\"currency\":\"EUR\"}", "name" },
        { "{\"name\":\"\",\"channel\":\"email\",\"currency\":\"EUR\"}", "name" },
        { "{\"name\":\"n\",\"currency\":\"EUR\"}", "channel" },
        { "{\"name\":\"n\",\"channel\":\"email\"}", "currency" },
        { "{\"name\":\"n\",\"channel\":\"fax\",\"currency\":\"EUR\"}", "channel" },
        { "{\"name\":\"n\",\"channel\":\"email\",\"currency\":\"eur\"}", "currency" },
        { "{\"name\":\"n\",\"channel\":\"email\",\"currency\":\"EURO\"}", "currency" },
        { "{\"name\":\"n\",\"channel\":\"email\",\"currency\":\"QQQ\"}", "currency" },
        { "{" NCE ",\"budget_cents\":-1}", "budget_cents" },
        { "{" NCE ",\"budget_cents\":9007199254740992}", "budget_cents" },
        { "{" NCE ",\"budget_cents\":null}", "budget_cents" },
        { "{" NCE ",\"budget_cents\":\"5\"}", "budget_cents" },
        { "{" NCE ",\"starts_at\":\"2030-01-02T00:00:00Z\",\"ends_at\":\"2030-01-01T00:00:00Z\"}",
          "ends_at" },
        { "{" NCE ",\"starts_at\":\"2030-01-01T02:00:00+02:00\","
          "\"ends_at\":\"2030-01-01T00:00:00Z\"}",
          "ends_at" },
        { "{" NCE ",\"starts_at\":\"2030-01-01\"}", "starts_at" },
        { "{" NCE ",\"segment_id\":999999999}", "segment_id" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        itest_resp *r =
            PROBLEM(422, "/problems/validation", "POST", CAMPAIGNS, NULL, cases[i].body);
        ck_assert_msg(itest_problem_field_count(r, cases[i].field) > 0, "case %zu: no %s: %s", i,
                      cases[i].field, itest_describe(r));
        itest_free(r);
    }
    /* Every field at once. */
    itest_resp *r = PROBLEM(422, NULL, "POST", CAMPAIGNS, NULL, "{\"budget_cents\":-5}");
    HAS_FIELD(r, "name");
    HAS_FIELD(r, "channel");
    HAS_FIELD(r, "currency");
    HAS_FIELD(r, "budget_cents");
    itest_free(r);
    /* The largest budget is fine. */
    r = EXPECT(201, "POST", CAMPAIGNS, NULL, "{" NCE ",\"budget_cents\":9007199254740991}");
    HAS_JSON(r, "{\"budget_cents\":9007199254740991}");
    itest_free(r);
    /* Unknown and read-only fields: 400 naming them. */
    static const char *const bad[] = { "id",         "status",     "version",
                                       "created_at", "updated_at", "colour" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        BAD(400, "POST", CAMPAIGNS, NULL, itest_fmt("{" NCE ",\"%s\":1}", bad[i]), bad[i]);
    DO_PROBLEM(400, "/problems/malformed-body", "POST", CAMPAIGNS, NULL, "{\"name\":");
#undef NCE
}
END_TEST

START_TEST(test_campaign_patch)
{
    int64_t id = NEW_CAMPAIGN("Spring", "\"description\":\"d\",\"budget_cents\":100");
    char path[64];
    snprintf(path, sizeof path, "%s", campaign_path(id));
    /* Partial: only the name changes; the version moves. */
    itest_resp *r = EXPECT(200, "PATCH", path, NULL, "{\"name\":\"Spring 2\"}");
    HAS_JSON(r, "{\"name\":\"Spring 2\",\"description\":\"d\",\"channel\":\"email\","
                "\"budget_cents\":100,\"version\":2}");
    ck_assert_int_eq(itest_etag_version(r), 2);
    itest_free(r);
    r = EXPECT(200, "GET", path, NULL, NULL);
    HAS_JSON(r, "{\"name\":\"Spring 2\",\"version\":2}");
    itest_free(r);
    /* If-Match: stale 412 (with the current ETag), current 200. */
    r = PROBLEM(412, NULL, "PATCH", path, "If-Match: \"1\"", "{\"name\":\"x\"}");
    ck_assert_int_eq(itest_etag_version(r), 2);
    itest_free(r);
    r = EXPECT(200, "PATCH", path, "If-Match: \"2\"",
               "{\"channel\":\"sms\",\"budget_cents\":0,\"currency\":\"USD\","
               "\"description\":null," START "}");
    HAS_JSON(r, "{\"name\":\"Spring 2\",\"channel\":\"sms\",\"currency\":\"USD\","
                "\"description\":null,\"budget_cents\":0,"
                "\"starts_at\":\"2031-01-01T00:00:00.000000Z\",\"version\":3}");
    itest_free(r);
    /* Read-only and unknown fields: 400; null name/channel/currency/budget: 422. */
    static const char *const ro[] = {
        "id", "status", "version", "created_at", "updated_at", "owner"
    };
    for (size_t i = 0; i < sizeof ro / sizeof ro[0]; i++)
        BAD(400, "PATCH", path, NULL, itest_fmt("{\"name\":\"y\",\"%s\":\"x\"}", ro[i]), ro[i]);
    static const char *const notnull[] = { "name", "channel", "currency", "budget_cents" };
    for (size_t i = 0; i < 4; i++)
        BAD(422, "PATCH", path, NULL, itest_fmt("{\"%s\":null}", notnull[i]), notnull[i]);
    /* ends_at not after the stored starts_at; an unknown segment; an empty body. */
    BAD(422, "PATCH", path, NULL, "{\"ends_at\":\"2030-12-31T23:59:59Z\"}", "ends_at");
    BAD(422, "PATCH", path, NULL, "{\"segment_id\":999999999}", "segment_id");
    BAD(422, "PATCH", path, NULL, "{}", "");
    DO_PROBLEM(400, "/problems/bad-header", "PATCH", path, "If-Match: 3", "{\"name\":\"x\"}");
    DO_PROBLEM(412, NULL, "PATCH", path, "If-Match: W/\"3\"", "{\"name\":\"x\"}"); /* strong */
    r = EXPECT(200, "GET", path, NULL, NULL);
    HAS_JSON(r, "{\"name\":\"Spring 2\",\"version\":3}");
    itest_free(r);
    /* A scheduled campaign keeps its start: clearing it is a 422. */
    ACT_OK(id, "schedule", "scheduled");
    BAD(422, "PATCH", path, NULL, "{\"starts_at\":null}", "starts_at");
    r = EXPECT(200, "PATCH", path, NULL, "{\"ends_at\":\"2031-02-01T00:00:00Z\"}");
    HAS_JSON(r, "{\"status\":\"scheduled\",\"ends_at\":\"2031-02-01T00:00:00.000000Z\"}");
    itest_free(r);
    ACT_OK(id, "activate", "active");
    ACT_OK(id, "complete", "completed");
    /* A completed campaign cannot be changed. */
    r = call("PATCH", path, NULL, "{\"name\":\"late\"}");
    CONFLICT(r, "/problems/campaign-completed", "completed", "");
    itest_free(r);
}
END_TEST

START_TEST(test_campaign_transitions)
{
    int64_t id = NEW_CAMPAIGN("Life", NULL);
    itest_resp *r = action(id, "schedule", NULL);
    CONFLICT(r, "/problems/campaign-not-ready", "draft", "schedule");
    itest_free(r);
    DO(200, "PATCH", campaign_path(id), NULL, "{" START "}");
    /* Each step: an action the status refuses, then one it allows. */
    static const struct {
        const char *bad, *status, *allowed, *act, *to;
    } steps[] = {
        { "activate", "draft", "schedule", "schedule", "scheduled" },
        { "pause", "scheduled", "activate", "activate", "active" },
        { "resume", "active", "pause,complete", "pause", "paused" },
        { "activate", "paused", "resume,complete", "resume", "active" },
        { "schedule", "active", "pause,complete", "pause", "paused" },
        { "pause", "paused", "resume,complete", "complete", "completed" },
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        r = action(id, steps[i].bad, NULL);
        CONFLICT(r, "/problems/invalid-transition", steps[i].status, steps[i].allowed);
        itest_free(r);
        ACT_OK(id, steps[i].act, steps[i].to);
    }
    static const char *const all[] = { "schedule", "activate", "pause", "resume", "complete" };
    for (size_t i = 0; i < 5; i++) {
        r = action(id, all[i], NULL);
        CONFLICT(r, "/problems/invalid-transition", "completed", "");
        itest_free(r);
    }
    r = EXPECT(200, "GET", campaign_path(id), NULL, NULL);
    HAS_JSON(r, "{\"status\":\"completed\",\"version\":8}"); /* a PATCH and six actions */
    itest_free(r);
    /* active -> completed directly; If-Match on an action. */
    int64_t b = NEW_CAMPAIGN("Direct", START);
    ACT_OK(b, "schedule", "scheduled");
    DO_PROBLEM(412, NULL, "POST", itest_fmt(CAMPAIGNS "/%" PRId64 "/activate", b),
               "If-Match: \"1\"", NULL);
    DO(200, "POST", itest_fmt(CAMPAIGNS "/%" PRId64 "/activate", b), "If-Match: \"2\"", NULL);
    ACT_OK(b, "complete", "completed");
    /* DELETE: drafts only. */
    r = call("DELETE", campaign_path(b), NULL, NULL);
    CONFLICT(r, "/problems/campaign-not-draft", "completed", "");
    itest_free(r);
    int64_t c = NEW_CAMPAIGN("Sched", START);
    ACT_OK(c, "schedule", "scheduled");
    r = call("DELETE", campaign_path(c), NULL, NULL);
    CONFLICT(r, "/problems/campaign-not-draft", "scheduled", "activate");
    itest_free(r);
    DO(200, "GET", campaign_path(c), NULL, NULL);
    int64_t d = NEW_CAMPAIGN("Draft", NULL);
    DO_PROBLEM(412, NULL, "DELETE", campaign_path(d), "If-Match: \"2\"", NULL);
    DO(204, "DELETE", campaign_path(d), "If-Match: \"1\"", NULL);
    DO_PROBLEM(404, NULL, "GET", campaign_path(d), NULL, NULL);
    DO_PROBLEM(404, NULL, "DELETE", campaign_path(d), NULL, NULL);
}
END_TEST

START_TEST(test_campaign_idempotency_and_form)
{
    char word[64], key[128], h[200], body[512];
    itest_unique_word(word, sizeof word);
    /* A segment of its own, so the campaigns made here can be counted. */
    int64_t seg = NEW_SEGMENT("idem", "{\"all\":[{\"field\":\"orders_count\",\"op\":\"gte\","
                                      "\"value\":0}]}");
    snprintf(h, sizeof h, "Idempotency-Key: it-%s-create", word);
    snprintf(body, sizeof body,
             "{\"name\":\"%s\",\"channel\":\"email\",\"currency\":\"EUR\",\"segment_id\":%" PRId64
             "}",
             word, seg);
    itest_resp *a = EXPECT(201, "POST", CAMPAIGNS, h, body);
    itest_resp *b = EXPECT(201, "POST", CAMPAIGNS, h, body);
    int64_t id = itest_jint(a->json, "id");
    ck_assert_msg(strcmp(str_or(itest_header_get(b, "Idempotent-Replayed")), "true") == 0 &&
                      itest_jint(b->json, "id") == id &&
                      strcmp(str_or(itest_header_get(a, "Location")),
                             str_or(itest_header_get(b, "Location"))) == 0,
                  "not a replay: %s", itest_describe(b));
    itest_free(a);
    itest_free(b);
    int64_t ids[8], count;
    size_t n = list_ids(itest_fmt(CAMPAIGNS "?segment=%" PRId64 "&count=true", seg), "id", ids, 8,
                        &count, NULL);
    ck_assert_msg(n == 1 && count == 1 && ids[0] == id, "one campaign expected, not %zu", n);
    /* The same key with another body: 422. */
    DO_PROBLEM(422, "/problems/idempotency-key-reused", "POST", CAMPAIGNS, h,
               "{\"name\":\"other\",\"channel\":\"sms\",\"currency\":\"EUR\"}");
    /* An action retried with its key replays the first answer (not a 409). */
    DO(200, "PATCH", campaign_path(id), NULL, "{" START "}");
    ACT_OK(id, "schedule", "scheduled");
    ACT_OK(id, "activate", "active");
    snprintf(key, sizeof key, "it-%s-pause", word);
    a = action(id, "pause", key);
    ITEST_ASSERT_STATUS(a, 200);
    b = action(id, "pause", key);
    ITEST_ASSERT_STATUS(b, 200);
    ck_assert_msg(strcmp(str_or(itest_header_get(b, "Idempotent-Replayed")), "true") == 0 &&
                      json_object_equal(a->json, b->json),
                  "not a replay: %s / %s", a->body, itest_describe(b));
    HAS_JSON(b, "{\"status\":\"paused\"}");
    itest_free(a);
    itest_free(b);
    a = action(id, "pause", itest_fmt("it-%s-pause-2", word));
    CONFLICT(a, "/problems/invalid-transition", "paused", "resume,complete");
    itest_free(a);
    a = EXPECT(200, "GET", campaign_path(id), NULL, NULL);
    HAS_JSON(a, "{\"version\":5}");
    itest_free(a);
    char long_key[320] = "Idempotency-Key: ";
    memset(long_key + strlen(long_key), 'k', 256);
    DO_PROBLEM(400, "/problems/bad-header", "POST", CAMPAIGNS, long_key, body);
    /* A form post; from a browser, 303 to the campaign's page. */
    snprintf(body, sizeof body, "name=Form+%s&channel=sms&currency=EUR&budget_cents=250", word);
    a = itest_request("POST", CAMPAIGNS, NULL, body, strlen(body), FORM);
    ITEST_ASSERT_STATUS(a, 201);
    HAS_JSON(a, "{\"channel\":\"sms\",\"budget_cents\":250}");
    itest_free(a);
    const char *html[] = { "Accept: text/html,application/xhtml+xml;q=0.9,*/*;q=0.8", NULL };
    snprintf(body, sizeof body, "name=Browser+%s&channel=ads&currency=USD", word);
    a = itest_request("POST", CAMPAIGNS, html, body, strlen(body), FORM);
    ITEST_ASSERT_STATUS(a, 303);
    const char *loc = str_or(itest_header_get(a, "Location"));
    const char *at = strstr(loc, "/campaigns/");
    ck_assert_msg(at && !strstr(loc, "/api/") && strtoll(at + 11, NULL, 10) > 0, "Location %s",
                  loc);
    b = EXPECT(200, "GET", campaign_path(strtoll(at + 11, NULL, 10)), NULL, NULL);
    HAS_JSON(b,
             itest_fmt("{\"name\":\"Browser %s\",\"channel\":\"ads\",\"currency\":\"USD\"}", word));
    itest_free(b);
    itest_free(a);
}
END_TEST

START_TEST(test_campaign_list)
{
    char word[64], base[128];
    itest_unique_word(word, sizeof word);
    int64_t seg = NEW_SEGMENT("list", "{\"any\":[{\"field\":\"status\",\"op\":\"eq\","
                                      "\"value\":\"lead\"}]}");
    /* Created in this order; names sort c, a, e, b, d. */
    static const char *const names[] = { "c", "a", "e", "b", "d" };
    static const char *const chans[] = { "email", "sms", "email", "ads", "email" };
    int64_t id[5];
    for (int i = 0; i < 5; i++)
        id[i] = NEW_CAMPAIGN(
            itest_fmt("%s %s", names[i], word),
            itest_fmt("\"channel\":\"%s\",\"segment_id\":%" PRId64 "," START, chans[i], seg));
    ACT_OK(id[2], "schedule", "scheduled");
    ACT_OK(id[4], "schedule", "scheduled");
    ACT_OK(id[4], "activate", "active");
    snprintf(base, sizeof base, CAMPAIGNS "?segment=%" PRId64, seg);
    const int64_t newest[] = { id[4], id[3], id[2], id[1], id[0] };
    const int64_t oldest[] = { id[0], id[1], id[2], id[3], id[4] };
    const int64_t by_name[] = { id[1], id[3], id[0], id[4], id[2] };
    const int64_t by_name_desc[] = { id[2], id[4], id[0], id[3], id[1] };
    const int64_t emails[] = { id[4], id[2], id[0] }, drafts[] = { id[0], id[1], id[3] };
    const struct {
        const char *query;
        const int64_t *want;
        size_t n;
        int pages;
    } cases[] = {
        { "&count=true", newest, 5, 1 },
        { "&sort=-created_at&limit=2&count=true", newest, 5, 3 },
        { "&sort=created_at&limit=4&count=true", oldest, 5, 2 },
        { "&sort=name&limit=2&count=true", by_name, 5, 3 },
        { "&sort=-name&limit=1&count=true", by_name_desc, 5, 5 },
        { "&sort=name&limit=200&count=true", by_name, 5, 1 },
        { "&channel=email&count=true", emails, 3, 1 },
        { "&status=draft&sort=created_at&limit=2&count=true", drafts, 3, 2 },
        { "&status=active&channel=email&count=true", &id[4], 1, 1 },
        { "&status=paused&count=true", NULL, 0, 1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t got[16], count;
        int pages;
        size_t n = list_ids(itest_fmt("%s%s", base, cases[i].query), "id", got, 16, &count, &pages);
        same_ids_at(itest_fmt("%s", cases[i].query), got, n, cases[i].want, cases[i].n);
        ck_assert_msg(count == (int64_t)cases[i].n && pages == cases[i].pages,
                      "%s: count %" PRId64 ", %d pages", cases[i].query, count, pages);
    }
    /* Bad queries: 400 naming the parameter. */
    static const struct {
        const char *q, *field;
    } bad[] = {
        { "status=running", "status" }, { "channel=fax", "channel" }, { "segment=abc", "segment" },
        { "segment=0", "segment" },     { "sort=id", "sort" },        { "limit=0", "limit" },
        { "limit=201", "limit" },       { "cursor=xyz", "cursor" },   { "count=yes", "count" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        BAD(400, "GET", itest_fmt(CAMPAIGNS "?%s", bad[i].q), NULL, NULL, bad[i].field);
    DO_PROBLEM(400, "/problems/bad-query", "GET", CAMPAIGNS "?colour=red", NULL, NULL);
    /* A cursor of one sort order is refused by another. */
    itest_resp *r = EXPECT(200, "GET", itest_fmt("%s&sort=name&limit=1", base), NULL, NULL);
    char *cur = itest_urlencode(str_or(itest_jstr(r->json, "next_cursor")));
    itest_free(r);
    BAD(400, "GET", itest_fmt("%s&sort=-name&cursor=%s", base, cur), NULL, NULL, "cursor");
    free(cur);
}
END_TEST

/* ---- segments ----------------------------------------------------------------------------- */

#define TAG_RULE(t) "{\"all\":[{\"field\":\"tag\",\"op\":\"eq\",\"value\":\"" t "\"}]}"

START_TEST(test_segment_crud)
{
    static const char loose[] =
        "{ \"all\" : [ {\"value\":4, \"op\":\"gte\", \"field\":\"f_score\"},"
        " {\"op\":\"gt\",\"field\":\"days_since_last_order\",\"value\":60},"
        " {\"any\":[{\"field\":\"tag\",\"value\":\"vip\",\"op\":\"eq\"},"
        " {\"field\":\"status\",\"op\":\"in\",\"value\":[\"customer\",\"churned\"]}]}]}";
    static const char canonical[] =
        "{\"all\":[{\"field\":\"f_score\",\"op\":\"gte\",\"value\":4},"
        "{\"field\":\"days_since_last_order\",\"op\":\"gt\",\"value\":60},"
        "{\"any\":[{\"field\":\"tag\",\"op\":\"eq\",\"value\":\"vip\"},"
        "{\"field\":\"status\",\"op\":\"in\",\"value\":[\"customer\",\"churned\"]}]}]}";
    itest_resp *r =
        EXPECT(201, "POST", SEGMENTS, NULL,
               itest_fmt("{\"name\":\"Loyal, lapsing\",\"description\":\"good ones\",\"rule\":%s}",
                         loose));
    int64_t id = itest_jint(r->json, "id");
    char path[64];
    snprintf(path, sizeof path, "%s", segment_path(id));
    ck_assert_msg(id > 0 && itest_location_id(r) == id && itest_etag_version(r) == 1 &&
                      strstr(str_or(itest_header_get(r, "Location")), path),
                  "%s", itest_describe(r));
    HAS_JSON(r, "{\"name\":\"Loyal, lapsing\",\"description\":\"good ones\",\"version\":1}");
    RULE_IS(r, canonical);
    itest_resp *g = EXPECT(200, "GET", path, NULL, NULL);
    ck_assert_msg(json_object_equal(r->json, g->json), "GET differs: %s / %s", r->body, g->body);
    RULE_IS(g, canonical);
    itest_free(g);
    itest_free(r);
    DO(304, "GET", path, "If-None-Match: \"1\"", NULL);
    DO_PROBLEM(404, NULL, "GET", segment_path(NO_ID), NULL, NULL);
    DO_PROBLEM(404, NULL, "GET", SEGMENTS "/x1", NULL, NULL);
    /* PATCH: partial; null clears the description only. */
    r = EXPECT(200, "PATCH", path, NULL, "{\"name\":\"Renamed\"}");
    HAS_JSON(r, "{\"name\":\"Renamed\",\"description\":\"good ones\",\"version\":2}");
    RULE_IS(r, canonical);
    itest_free(r);
    r = EXPECT(200, "PATCH", path, "If-Match: \"2\"",
               "{\"description\":null,\"rule\":{\"any\":[{\"op\":\"lt\",\"value\":3,"
               "\"field\":\"orders_count\"}]}}");
    HAS_JSON(r, "{\"name\":\"Renamed\",\"description\":null,\"version\":3}");
    RULE_IS(r, "{\"any\":[{\"field\":\"orders_count\",\"op\":\"lt\",\"value\":3}]}");
    itest_free(r);
    DO_PROBLEM(412, NULL, "PATCH", path, "If-Match: \"2\"", "{\"name\":\"n\"}");
    BAD(422, "PATCH", path, NULL, "{\"name\":null}", "name");
    BAD(422, "PATCH", path, NULL, "{\"rule\":null}", "rule");
    BAD(422, "PATCH", path, NULL,
        "{\"rule\":{\"all\":[{\"field\":\"tag\",\"op\":\"gt\",\"value\":\"a\"}]}}",
        "rule.all[0].op");
    BAD(422, "PATCH", path, NULL, "{}", "");
    BAD(400, "PATCH", path, NULL, "{\"version\":3}", "version");
    BAD(400, "PATCH", path, NULL, "{\"members\":[]}", "members");
    r = PROBLEM(422, NULL, "POST", SEGMENTS, NULL, "{\"description\":\"x\"}");
    HAS_FIELD(r, "name");
    HAS_FIELD(r, "rule");
    itest_free(r);
    /* DELETE: refused while any campaign (in any status) targets it. */
    int64_t camp = NEW_CAMPAIGN("targets", itest_fmt("\"segment_id\":%" PRId64, id));
    DO_PROBLEM(409, "/problems/segment-in-use", "DELETE", path, NULL, NULL);
    int64_t seg2 = NEW_SEGMENT("done", TAG_RULE("b"));
    int64_t camp2 = NEW_CAMPAIGN("done", itest_fmt("\"segment_id\":%" PRId64 "," START, seg2));
    ACT_OK(camp2, "schedule", "scheduled");
    ACT_OK(camp2, "activate", "active");
    ACT_OK(camp2, "complete", "completed");
    DO_PROBLEM(409, "/problems/segment-in-use", "DELETE", segment_path(seg2), NULL, NULL);
    r = EXPECT(200, "PATCH", campaign_path(camp), NULL, "{\"segment_id\":null}");
    HAS_JSON(r, "{\"segment_id\":null}");
    itest_free(r);
    DO_PROBLEM(412, NULL, "DELETE", path, "If-Match: \"1\"", NULL);
    DO(204, "DELETE", path, NULL, NULL);
    DO_PROBLEM(404, NULL, "GET", path, NULL, NULL);
    DO_PROBLEM(404, NULL, "DELETE", path, NULL, NULL);
    BAD(422, "PATCH", campaign_path(camp), NULL, itest_fmt("{\"segment_id\":%" PRId64 "}", id),
        "segment_id");
    /* Forms: the rule is its JSON text; a browser gets a 303. */
    char *rule = itest_urlencode(loose);
    char *body = malloc(strlen(rule) + 64);
    ck_assert_ptr_nonnull(body);
    sprintf(body, "name=Form+segment&rule=%s", rule);
    r = itest_request("POST", SEGMENTS, NULL, body, strlen(body), FORM);
    ITEST_ASSERT_STATUS(r, 201);
    RULE_IS(r, canonical);
    itest_free(r);
    free(body);
    free(rule);
}
END_TEST

START_TEST(test_segment_list)
{
    char word[64];
    itest_unique_word(word, sizeof word);
    /* Created b, c, a; mine[] in name order. */
    int64_t b = NEW_SEGMENT(itest_fmt("%s b", word), TAG_RULE("b"));
    int64_t c = NEW_SEGMENT(itest_fmt("%s c", word), TAG_RULE("c"));
    int64_t a = NEW_SEGMENT(itest_fmt("%s a", word), TAG_RULE("a"));
    const int64_t mine[] = { a, b, c };
    static const struct {
        const char *query;
        int order[3];
    } sorts[] = {
        { "sort=name&limit=3", { 0, 1, 2 } },
        { "sort=-name&limit=2", { 2, 1, 0 } },
        { "sort=created_at&limit=3", { 1, 2, 0 } },
        { "sort=-created_at&limit=4", { 0, 2, 1 } },
        { "limit=200", { 0, 2, 1 } }, /* -created_at */
    };
    for (size_t i = 0; i < sizeof sorts / sizeof sorts[0]; i++) {
        int64_t all[512], got[3], want[3], count;
        size_t n = list_ids(itest_fmt(SEGMENTS "?%s&count=true", sorts[i].query), "id", all, 512,
                            &count, NULL),
               k = 0;
        ck_assert_msg(count == (int64_t)n && n >= 3, "%s: %zu rows, count %" PRId64, sorts[i].query,
                      n, count);
        for (size_t j = 0; j < n; j++)
            if ((all[j] == a || all[j] == b || all[j] == c) && k < 3)
                got[k++] = all[j];
        for (int j = 0; j < 3; j++)
            want[j] = mine[sorts[i].order[j]];
        same_ids_at(sorts[i].query, got, k, want, 3);
    }
    static const char *const bad[] = { "sort=id", "limit=0",    "limit=x",
                                       "count=1", "cursor=abc", "status=draft" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        DO_PROBLEM(400, "/problems/bad-query", "GET", itest_fmt(SEGMENTS "?%s", bad[i]), NULL,
                   NULL);
}
END_TEST

START_TEST(test_segment_preview_basics)
{
    char word[64];
    itest_unique_word(word, sizeof word);
    itest_resp *r = EXPECT(
        200, "POST", PREVIEW, NULL,
        itest_fmt("{\"rule\":{\"all\":[{\"value\":\"%s\",\"field\":\"tag\",\"op\":\"eq\"}]}}",
                  word));
    HAS_JSON(r, "{\"count\":0,\"sample\":[]}");
    RULE_IS(r, itest_fmt("{\"all\":[{\"field\":\"tag\",\"op\":\"eq\",\"value\":\"%s\"}]}", word));
    itest_free(r);
    r = EXPECT(200, "GET", SEGMENTS "?limit=1&count=true", NULL, NULL);
    int64_t before = itest_jint(r->json, "count");
    itest_free(r);
    /* An unknown member of the body is a 400, and the worker still answers. */
    for (int i = 0; i < 3; i++)
        BAD(400, "POST", PREVIEW, NULL,
            itest_fmt("{\"rule\":" TAG_RULE("a") ",\"name\":\"x%d\"}", i), "name");
    BAD(400, "POST", PREVIEW, NULL, "{\"limit\":5}", "limit");
    BAD(400, "POST", PREVIEW, NULL, "{\"id\":1,\"rule\":" TAG_RULE("a") "}", "id");
    BAD(422, "POST", PREVIEW, NULL, "{}", "rule");
    DO(200, "POST", PREVIEW, NULL, "{\"rule\":" TAG_RULE("a") "}");
    /* It wrote nothing. */
    r = EXPECT(200, "GET", SEGMENTS "?limit=1&count=true", NULL, NULL);
    HAS_JSON(r, itest_fmt("{\"count\":%" PRId64 "}", before));
    itest_free(r);
    DO_PROBLEM(404, NULL, "GET", itest_fmt(SEGMENTS "/%lld/members", NO_ID), NULL, NULL);
    DO_PROBLEM(405, NULL, "GET", PREVIEW, NULL, NULL); /* never taken for an id */
    /* The members query is checked before the segment's existence. */
    DO_PROBLEM(400, NULL, "GET", itest_fmt(SEGMENTS "/%lld/members?sort=id", NO_ID), NULL, NULL);
}
END_TEST

/* ---- rules against real customers --------------------------------------------------------- */

/*
 * The fixture (made once, before the "rules" tests): six customers with a
 * tag of their own (g_tag), so that a rule ANDed with it sees only them.
 *   c0 lead      -        no orders
 *   c1 prospect  t2       1 order,  EUR 1000
 *   c2 customer  -        2 orders, EUR 1000 + 2000
 *   c3 customer  t2 t3    3 orders, EUR 1000 + 2000 + 3000
 *   c4 churned   t3       1 order in USD (500): no revenue in EUR
 *   c5 lead      -        no orders
 */
enum { NC = 6 };
#define C(i)        (1u << (i))
#define WITH_ORDERS (C(1) | C(2) | C(3) | C(4))
static int64_t g_cust[NC];
static char g_tag[40], g_t2[40], g_t3[40];
static char g_last_confirm[64]; /* the latest confirmed_at seen (ISO, UTC) */

/* An order of qty x product in currency, confirmed; campaign 0: none. */
static int64_t confirmed_order(int64_t cust, int64_t product, int qty, const char *currency,
                               int64_t campaign)
{
    char lines[128], extra[128];
    snprintf(lines, sizeof lines, "[{\"product_id\":%" PRId64 ",\"quantity\":%d}]", product, qty);
    int off = snprintf(extra, sizeof extra, "\"currency\":\"%s\"", currency);
    if (campaign > 0)
        snprintf(extra + off, sizeof extra - (size_t)off, ",\"campaign_id\":%" PRId64, campaign);
    int64_t id = itest_new_order(cust, lines, extra);
    itest_resp *r =
        EXPECT(200, "POST", itest_fmt(ITEST_ORDERS "/%" PRId64 "/confirm", id), NULL, NULL);
    const char *at = itest_jstr(r->json, "confirmed_at");
    ck_assert_msg(at != NULL, "no confirmed_at: %s", itest_describe(r));
    if (strcmp(at, g_last_confirm) > 0)
        snprintf(g_last_confirm, sizeof g_last_confirm, "%s", at);
    itest_free(r);
    return id;
}

/* Poll (<= 5 s) GET path until its member key is want; the response. */
static itest_resp *poll_at(const char *where, const char *path, const char *key, int64_t want)
{
    double end = itest_now() + 5;
    for (;;) {
        itest_resp *r = call("GET", path, NULL, NULL);
        int ok = r->status == 200 && itest_jint(r->json, key) == want;
        ck_assert_msg(ok || itest_now() < end, "%s: %s not %" PRId64 " after 5 s: %s", where, key,
                      want, itest_describe(r));
        if (ok)
            return r;
        itest_free(r);
        itest_sleep_ms(50);
    }
}
#define POLL(path, key, want) poll_at(HERE, (path), (key), (want))

static const char *customer_analytics(int64_t id)
{
    return itest_fmt(ANALYTICS "/customers/%" PRId64, id);
}

/* {"field":f,"op":o,"value":v} with v as JSON text. */
static const char *cnd(const char *field, const char *op, const char *value)
{
    return itest_fmt("{\"field\":\"%s\",\"op\":\"%s\",\"value\":%s}", field, op, value);
}

static itest_resp *preview_of(const char *rule)
{
    char *body = malloc(strlen(rule) + 16);
    ck_assert_ptr_nonnull(body);
    sprintf(body, "{\"rule\":%s}", rule);
    itest_resp *r = call("POST", PREVIEW, NULL, body);
    free(body);
    return r;
}

/* NULL when the preview of {"all":[tag eq g_tag, cond]} is exactly the
   customers in mask (count and sample), else why not. */
static const char *selects(const char *cond, unsigned mask)
{
    static char why[4096];
    char rule[8192];
    int64_t want[NC] = { 0 }, got[16] = { 0 };
    size_t nw = 0, n = 0;
    snprintf(rule, sizeof rule, "{\"all\":[%s,%s]}",
             itest_fmt("{\"field\":\"tag\",\"op\":\"eq\",\"value\":\"%s\"}", g_tag), cond);
    for (int i = 0; i < NC; i++)
        if (mask & C(i))
            want[nw++] = g_cust[i];
    itest_resp *r = preview_of(rule);
    json_object *sample = itest_jget(r->json, "sample");
    for (size_t i = 0; json_object_is_type(sample, json_type_array) &&
                       i < json_object_array_length(sample) && i < 16;
         i++)
        got[n++] = json_object_get_int64(json_object_array_get_idx(sample, i));
    int ok = r->status == 200 && itest_jint(r->json, "count") == (int64_t)nw && n == nw;
    for (size_t i = 0; ok && i < n; i++)
        ok = got[i] == want[i];
    if (!ok)
        snprintf(why, sizeof why, "%s: want [%s ] (c0..c5 =%s): %s", cond, ids_text(want, nw),
                 ids_text(g_cust, NC), itest_describe(r));
    itest_free(r);
    return ok ? NULL : why;
}
#define SEL(cond, mask) ITEST_OK_(selects((cond), (mask)))

static void rules_setup(void)
{
    static const char *const status[NC] = { "lead",     "prospect", "customer",
                                            "customer", "churned",  "lead" };
    static const int64_t orders[NC] = { 0, 1, 2, 3, 1, 0 };
    itest_unique_word(g_tag, sizeof g_tag);
    itest_unique_word(g_t2, sizeof g_t2);
    itest_unique_word(g_t3, sizeof g_t3);
    const char *more[NC] = { "",
                             itest_fmt(",\"%s\"", g_t2),
                             "",
                             itest_fmt(",\"%s\",\"%s\"", g_t2, g_t3),
                             itest_fmt(",\"%s\"", g_t3),
                             "" };
    for (int i = 0; i < NC; i++)
        g_cust[i] = itest_new_customer(
            itest_fmt("\"status\":\"%s\",\"tags\":[\"%s\"%s]", status[i], g_tag, more[i]));
    int64_t eur = itest_new_product(500, "EUR", NULL), usd = itest_new_product(500, "USD", NULL);
    /* Marketing knows them all (from the customer events). */
    double end = itest_now() + 5;
    const char *m;
    while ((m = selects("{\"field\":\"orders_count\",\"op\":\"gte\",\"value\":0}", 0x3f))) {
        ck_assert_msg(itest_now() < end, "customers unknown to marketing after 5 s: %s", m);
        itest_sleep_ms(50);
    }
    for (int i = 1; i <= 3; i++)
        for (int k = 1; k <= orders[i]; k++)
            confirmed_order(g_cust[i], eur, 2 * k, "EUR", 0);
    confirmed_order(g_cust[4], usd, 1, "USD", 0);
    for (int i = 1; i <= 4; i++)
        itest_free(POLL(customer_analytics(g_cust[i]), "orders_count", orders[i]));
    /* The refresher has run since the last confirmation. */
    end = itest_now() + 5;
    for (;;) {
        itest_resp *r = EXPECT(200, "GET", ANALYTICS "/rfm", NULL, NULL);
        const char *at = itest_jstr(r->json, "computed_at");
        int fresh = at != NULL && strcmp(at, g_last_confirm) > 0;
        ck_assert_msg(fresh || itest_now() < end, "RFM not computed after %s: %s", g_last_confirm,
                      itest_describe(r));
        itest_free(r);
        if (fresh)
            break;
        itest_sleep_ms(100);
    }
}

START_TEST(test_rule_status_tag)
{
    SEL(cnd("status", "eq", "\"customer\""), C(2) | C(3));
    SEL(cnd("status", "eq", "\"churned\""), C(4));
    SEL(cnd("status", "ne", "\"lead\""), C(1) | C(2) | C(3) | C(4));
    SEL(cnd("status", "in", "[\"prospect\",\"churned\"]"), C(1) | C(4));
    SEL(cnd("status", "in", "[\"lead\"]"), C(0) | C(5));
    SEL(cnd("status", "not_in", "[\"lead\",\"customer\"]"), C(1) | C(4));
    SEL(cnd("tag", "eq", itest_fmt("\"%s\"", g_tag)), 0x3f);
    SEL(cnd("tag", "eq", itest_fmt("\"%s\"", g_t2)), C(1) | C(3));
    SEL(cnd("tag", "ne", itest_fmt("\"%s\"", g_t2)), C(0) | C(2) | C(4) | C(5));
    SEL(cnd("tag", "in", itest_fmt("[\"%s\",\"%s\"]", g_t2, g_t3)), C(1) | C(3) | C(4));
    SEL(cnd("tag", "not_in", itest_fmt("[\"%s\",\"%s\"]", g_t2, g_t3)), C(0) | C(2) | C(5));
    SEL(cnd("tag", "eq", "\"zz-no-such-tag\""), 0);
    SEL(cnd("tag", "not_in", "[\"zz-no-such-tag\"]"), 0x3f);
    /* any, and groups in groups (3 levels). */
    char g[1024];
    snprintf(g, sizeof g, "{\"any\":[%s,%s]}", cnd("status", "eq", "\"prospect\""),
             cnd("orders_count", "gte", "3"));
    SEL(g, C(1) | C(3));
    snprintf(g, sizeof g, "{\"any\":[{\"all\":[%s,%s]},%s]}", cnd("status", "eq", "\"lead\""),
             cnd("orders_count", "eq", "0"), cnd("tag", "eq", itest_fmt("\"%s\"", g_t3)));
    SEL(g, C(0) | C(3) | C(4) | C(5));
}
END_TEST

START_TEST(test_rule_orders_revenue)
{
    SEL(cnd("orders_count", "eq", "1"), C(1) | C(4));
    SEL(cnd("orders_count", "eq", "0"), C(0) | C(5));
    SEL(cnd("orders_count", "ne", "1"), C(0) | C(2) | C(3) | C(5));
    SEL(cnd("orders_count", "lt", "2"), C(0) | C(1) | C(4) | C(5));
    SEL(cnd("orders_count", "lte", "2"), C(0) | C(1) | C(2) | C(4) | C(5));
    SEL(cnd("orders_count", "gt", "1"), C(2) | C(3));
    SEL(cnd("orders_count", "gte", "3"), C(3));
    SEL(cnd("orders_count", "in", "[0,3]"), C(0) | C(3) | C(5));
    SEL(cnd("orders_count", "not_in", "[0,1]"), C(2) | C(3));
    /* Revenue counts EUR only: c4's USD order adds nothing. */
    SEL(cnd("revenue", "eq", "0"), C(0) | C(4) | C(5));
    SEL(cnd("revenue", "eq", "6000"), C(3));
    SEL(cnd("revenue", "ne", "0"), C(1) | C(2) | C(3));
    SEL(cnd("revenue", "lt", "3000"), C(0) | C(1) | C(4) | C(5));
    SEL(cnd("revenue", "lte", "3000"), C(0) | C(1) | C(2) | C(4) | C(5));
    SEL(cnd("revenue", "gt", "1000"), C(2) | C(3));
    SEL(cnd("revenue", "gte", "1000"), C(1) | C(2) | C(3));
    SEL(cnd("revenue", "in", "[1000,6000]"), C(1) | C(3));
    SEL(cnd("revenue", "not_in", "[0,3000]"), C(1) | C(3));
    /* What the analytics say of them. */
    static const char *const want[NC] = {
        "{\"orders_count\":0,\"revenue_cents\":0,\"last_order_at\":null,"
        "\"days_since_last_order\":null,\"rfm\":null,\"revenue_by_currency\":[]}",
        "{\"orders_count\":1,\"revenue_cents\":1000,\"days_since_last_order\":0,"
        "\"revenue_by_currency\":[{\"currency\":\"EUR\",\"orders\":1,\"revenue_cents\":1000}]}",
        "{\"orders_count\":2,\"revenue_cents\":3000,\"days_since_last_order\":0}",
        "{\"orders_count\":3,\"revenue_cents\":6000,\"days_since_last_order\":0}",
        "{\"orders_count\":1,\"revenue_cents\":0,\"days_since_last_order\":0,"
        "\"revenue_by_currency\":[{\"currency\":\"USD\",\"orders\":1,\"revenue_cents\":500}]}",
        "{\"orders_count\":0,\"rfm\":null}",
    };
    for (int i = 0; i < NC; i++) {
        itest_resp *r = EXPECT(200, "GET", customer_analytics(g_cust[i]), NULL, NULL);
        HAS_JSON(r, want[i]);
        HAS_JSON(r, itest_fmt("{\"customer_id\":%" PRId64 ",\"deleted\":false,"
                              "\"reporting_currency\":\"EUR\"}",
                              g_cust[i]));
        itest_free(r);
    }
}
END_TEST

START_TEST(test_rule_days)
{
    /* Every order was confirmed just now: 0 days; c0 and c5 have none. */
    /* "op value" then + (the customers with orders) or - (nobody). */
    char cases[] = "eq 0 +|eq 1 -|ne 0 -|ne 3 +|lt 1 +|lt 0 -|lte 0 +|lte 36500 +|gt 0 -|gte 0 +|"
                   "gte 1 -|in [0,7] +|in [1,2] -|not_in [0] -|not_in [5,6] +";
    char *save = NULL;
    for (char *c = strtok_r(cases, "|", &save); c; c = strtok_r(NULL, "|", &save)) {
        char op[16], v[16], who[2];
        ck_assert_int_eq(sscanf(c, "%15s %15s %1s", op, v, who), 3);
        ITEST_OK_(selects(cnd("days_since_last_order", op, v), *who == '+' ? WITH_ORDERS : 0));
    }
}
END_TEST

static int op_holds(const char *op, int s, int k)
{
    return strcmp(op, "eq") == 0    ? s == k
           : strcmp(op, "ne") == 0  ? s != k
           : strcmp(op, "lt") == 0  ? s < k
           : strcmp(op, "lte") == 0 ? s <= k
           : strcmp(op, "gt") == 0  ? s > k
                                    : s >= k;
}

/* 1 + the number of cut-offs (a JSON array) v (or the time t) is strictly greater than. */
static int score_of(json_object *cuts, int64_t v, const char *t)
{
    int s = 1;
    for (size_t i = 0; i < 4; i++) {
        json_object *c = json_object_array_get_idx(cuts, i);
        s += t ? strcmp(t, str_or(json_object_get_string(c))) > 0 : v > json_object_get_int64(c);
    }
    return s;
}

/* One pass over every score field, operator and value: NULL when every
   preview agreed with the customers' rfm objects read just before. */
static const char *score_pass(char *computed, size_t n)
{
    static const char *const fields[] = { "r_score", "f_score", "m_score" };
    static const char *const keys[] = { "recency", "frequency", "monetary" };
    static const char *const ops[] = { "eq", "ne", "lt", "lte", "gt", "gte" };
    static char why[4096];
    int sc[NC][3];
    itest_resp *rfm = EXPECT(200, "GET", ANALYTICS "/rfm", NULL, NULL);
    snprintf(computed, n, "%s", str_or(itest_jstr(rfm->json, "computed_at")));
    json_object *cut = itest_jget(rfm->json, "cutoffs");
    ck_assert_msg(json_object_is_type(cut, json_type_object), "%s", itest_describe(rfm));
    for (int i = 0; i < NC; i++) {
        itest_resp *r = EXPECT(200, "GET", customer_analytics(g_cust[i]), NULL, NULL);
        json_object *o = itest_jget(r->json, "rfm");
        ck_assert_msg((o == NULL) == !(WITH_ORDERS & C(i)), "rfm of c%d: %s", i, itest_describe(r));
        for (int f = 0; f < 3; f++)
            sc[i][f] = o ? (int)itest_jint(o, keys[f]) : 0;
        /* its scores are its metrics placed against the cut-offs */
        int want[3] = {
            score_of(itest_jget(cut, "recency"), 0, str_or(itest_jstr(r->json, "last_order_at"))),
            score_of(itest_jget(cut, "frequency"), itest_jint(r->json, "orders_count"), NULL),
            score_of(itest_jget(cut, "monetary"), itest_jint(r->json, "revenue_cents"), NULL)
        };
        ck_assert_msg(!o || (want[0] == sc[i][0] && want[1] == sc[i][1] && want[2] == sc[i][2] &&
                             strcmp(itest_fmt("%d%d%d", want[0], want[1], want[2]),
                                    str_or(itest_jstr(o, "code"))) == 0),
                      "c%d: rfm should be %d%d%d against %s: %s", i, want[0], want[1], want[2],
                      json_object_to_json_string(cut), itest_describe(r));
        itest_note("c%d: rfm %d%d%d", i, sc[i][0], sc[i][1], sc[i][2]);
        itest_free(r);
    }
    itest_free(rfm);
    for (int f = 0; f < 3; f++) {
        for (int k = 1; k <= 5; k++) {
            const char *m = NULL;
            unsigned in = 0, not_in = 0;
            for (size_t o = 0; o < 6 && m == NULL; o++) {
                unsigned mask = 0;
                for (int i = 0; i < NC; i++)
                    if (sc[i][f] > 0 && op_holds(ops[o], sc[i][f], k))
                        mask |= C(i);
                m = selects(cnd(fields[f], ops[o], itest_fmt("%d", k)), mask);
            }
            int k2 = k % 5 + 1;
            for (int i = 0; i < NC; i++) {
                in |= sc[i][f] > 0 && (sc[i][f] == k || sc[i][f] == k2) ? C(i) : 0;
                not_in |= sc[i][f] > 0 && sc[i][f] != k ? C(i) : 0;
            }
            if (m == NULL)
                m = selects(cnd(fields[f], "in", itest_fmt("[%d,%d]", k, k2)), in);
            if (m == NULL)
                m = selects(cnd(fields[f], "not_in", itest_fmt("[%d]", k)), not_in);
            if (m != NULL)
                return snprintf(why, sizeof why, "%s", m), why;
        }
    }
    return NULL;
}

START_TEST(test_rule_scores)
{
    /* The cut-offs may move under a pass (the refresher): then pass again. */
    for (int attempt = 0; attempt < 4; attempt++) {
        char before[64];
        const char *m = score_pass(before, sizeof before);
        itest_resp *r = EXPECT(200, "GET", ANALYTICS "/rfm", NULL, NULL);
        int same = strcmp(before, str_or(itest_jstr(r->json, "computed_at"))) == 0;
        itest_free(r);
        if (same) {
            ck_assert_msg(m == NULL, "%s", m);
            return;
        }
        itest_sleep_ms(300);
    }
    ck_abort_msg("the RFM cut-offs kept moving");
}
END_TEST

/* ---- bad rules ---------------------------------------------------------------------------- */

#define T "{\"field\":\"tag\",\"op\":\"eq\",\"value\":\"t\"}"

/* The preview of rule is a 422 validation problem naming field. */
static void bad_rule_at(const char *where, const char *rule, const char *field)
{
    itest_resp *r = preview_of(rule);
    const char *m = itest_check_problem_type(r, 422, "/problems/validation");
    ck_assert_msg(m == NULL, "%s: %s", where, m);
    has_field_at(where, r, field);
    itest_free(r);
}
#define BAD_RULE(rule, field) bad_rule_at(HERE, (rule), (field))
/* {"all":[T, cond]}: the error is on rule.all[1]<member>. */
#define BAD_COND(cond, member)                                                                     \
    BAD_RULE(itest_fmt("{\"all\":[" T ",%s]}", (cond)), "rule.all[1]" member)

/* "[1,2,...,n]" (the caller frees). */
static char *int_list(int n)
{
    char *s = malloc((size_t)n * 8 + 4);
    ck_assert_ptr_nonnull(s);
    size_t off = (size_t)sprintf(s, "[");
    for (int i = 1; i <= n; i++)
        off += (size_t)sprintf(s + off, "%s%d", i > 1 ? "," : "", i);
    strcpy(s + off, "]");
    return s;
}

/* {"all":[groups of items conditions T each]} into buf. */
static void groups_of(char *buf, size_t n, int groups, const int *items, const char *cond)
{
    size_t off = (size_t)snprintf(buf, n, "{\"all\":[");
    for (int g = 0; g < groups; g++) {
        off += (size_t)snprintf(buf + off, n - off, "%s{\"any\":[", g ? "," : "");
        for (int i = 0; i < items[g]; i++)
            off += (size_t)snprintf(buf + off, n - off, "%s%s", i ? "," : "", cond);
        off += (size_t)snprintf(buf + off, n - off, "]}");
    }
    snprintf(buf + off, n - off, "]}");
}

START_TEST(test_rule_errors)
{
    BAD_COND(cnd("colour", "eq", "\"red\""), ".field");
    BAD_COND("{\"op\":\"eq\",\"value\":1}", ".field");
    BAD_COND(cnd("status", "like", "\"lead\""), ".op");
    BAD_COND("{\"field\":\"status\",\"value\":\"lead\"}", ".op");
    static const char *const cmp[] = { "lt", "lte", "gt", "gte" };
    for (int i = 0; i < 4; i++) {
        BAD_COND(cnd("status", cmp[i], "\"lead\""), ".op");
        BAD_COND(cnd("tag", cmp[i], "\"vip\""), ".op");
    }
    /* Values of the wrong type or out of range; in/not_in take 1..100 values, the others one. */
    char values[] = "status eq 1|status eq \"active\"|tag eq \"\"|tag eq \"VIP\"|tag eq null|"
                    "tag eq \"abcdefghijklmnopqrstuvwxyz0123456\"|orders_count eq \"3\"|"
                    "orders_count eq -1|orders_count eq 4294967296|orders_count eq true|"
                    "revenue gt 1.5|revenue gt 9007199254740992|revenue lt {}|"
                    "days_since_last_order eq 36501|days_since_last_order eq -1|r_score eq 0|"
                    "f_score eq 0|m_score lt 0|r_score gte 6|f_score ne 6|m_score eq 6|"
                    "status in []|orders_count not_in []|status in \"lead\"|orders_count eq [1]|"
                    "status ne [\"lead\",\"prospect\"]";
    char *save = NULL;
    for (char *c = strtok_r(values, "|", &save); c; c = strtok_r(NULL, "|", &save)) {
        char f[32], o[16], v[64];
        ck_assert_int_eq(sscanf(c, "%31s %15s %63[^\n]", f, o, v), 3);
        bad_rule_at(c, itest_fmt("{\"all\":[" T ",%s]}", cnd(f, o, v)), "rule.all[1].value");
    }
    BAD_COND(cnd("m_score", "in", "[1,6]"), ".value[1]");
    BAD_COND(cnd("tag", "not_in", "[\"ok\",\"NOT OK\"]"), ".value[1]");
    char *list = int_list(101);
    BAD_COND(cnd("orders_count", "in", list), ".value");
    free(list);
    list = int_list(100);
    DO(200, "POST", PREVIEW, NULL,
       itest_fmt("{\"rule\":{\"all\":[%s]}}", cnd("orders_count", "not_in", list)));
    BAD_COND("{\"field\":\"status\",\"op\":\"eq\"}", ".value");
    BAD_COND("{\"field\":\"status\",\"op\":\"eq\",\"value\":\"lead\",\"negate\":true}", ".negate");
    /* Groups; the rule is an object. */
    BAD_RULE("{\"all\":[" T "],\"any\":[" T "]}", "rule");
    BAD_RULE("{\"all\":[" T ",{\"all\":[" T "],\"any\":[" T "]}]}", "rule.all[1]");
    BAD_RULE("{\"none\":[" T "]}", "rule");
    BAD_RULE("{}", "rule");
    BAD_RULE("{\"all\":[]}", "rule.all");
    BAD_RULE("{\"any\":" T "}", "rule.any");
    BAD_RULE("{\"all\":[" T ",1]}", "rule.all[1]");
    BAD_RULE("{\"all\":[" T ",{\"any\":[" T ",{\"field\":\"status\",\"op\":\"lt\","
             "\"value\":\"lead\"}]}]}",
             "rule.all[1].any[1].op");
    BAD_RULE("5", "rule");
    BAD_RULE("\"{\\\"all\\\":[]}\"", "rule");
    BAD_RULE("[" T "]", "rule");
    BAD_RULE("null", "rule");
    /* Every place is reported at once. */
    itest_resp *r =
        preview_of(itest_fmt("{\"all\":[%s,%s,{\"any\":[%s]}]}", cnd("colour", "eq", "1"),
                             cnd("status", "gt", "\"lead\""), cnd("m_score", "eq", "9")));
    ITEST_ASSERT_PROBLEM(r, 422);
    HAS_FIELD(r, "rule.all[0].field");
    HAS_FIELD(r, "rule.all[1].op");
    HAS_FIELD(r, "rule.all[2].any[0].value");
    itest_free(r);
    /* 20 items a group, 50 conditions a rule, 1024 values compiled. */
    char big[16384];
    int items[11] = { 21 };
    groups_of(big, sizeof big, 1, items, T);
    BAD_RULE(big, "rule.all[0].any");
    items[0] = 20;
    groups_of(big, sizeof big, 1, items, T);
    r = preview_of(big);
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);
    items[0] = items[1] = 20;
    items[2] = 10;
    groups_of(big, sizeof big, 3, items, T); /* 50 */
    r = preview_of(big);
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);
    items[2] = 11;
    groups_of(big, sizeof big, 3, items, T);
    BAD_RULE(big, "rule.all[2].any[10]"); /* the 51st condition */
    for (int i = 0; i < 11; i++)
        items[i] = 1;
    groups_of(big, sizeof big, 11, items, cnd("orders_count", "not_in", list)); /* 1100 */
    BAD_RULE(big, "rule");
    free(list);
}
END_TEST

START_TEST(test_rule_nesting)
{
    /* Three levels of groups; in a JSON body in/not_in fit in the first two. */
    char in[128], rule[512];
    snprintf(in, sizeof in, "%s", cnd("status", "in", "[\"lead\"]"));
    DO(200, "POST", PREVIEW, NULL, "{\"rule\":{\"all\":[{\"any\":[{\"all\":[" T "]}]}]}}");
    DO(200, "POST", PREVIEW, NULL, itest_fmt("{\"rule\":{\"all\":[{\"any\":[%s]}]}}", in));
    snprintf(rule, sizeof rule, "{\"all\":[{\"any\":[{\"all\":[%s]}]}]}", in);
    itest_resp *r = PROBLEM(400, "/problems/malformed-body", "POST", PREVIEW, NULL,
                            itest_fmt("{\"rule\":%s}", rule));
    ck_assert_msg(strstr(str_or(itest_jstr(r->json, "detail")), "nesting") != NULL, "%s",
                  itest_describe(r));
    itest_free(r);
    DO_PROBLEM(400, "/problems/malformed-body", "POST", PREVIEW, NULL,
               "{\"rule\":{\"all\":[{\"any\":[{\"all\":[{\"any\":[" T "]}]}]}]}}");
    DO_PROBLEM(400, "/problems/malformed-body", "POST", SEGMENTS, NULL,
               "{\"name\":\"deep\",\"rule\":{\"all\":[{\"any\":[{\"all\":[{\"any\":[" T
               "]}]}]}]}}");
    /* In a form the rule is parsed on its own: the third level takes in;
       a fourth level is refused by the rule's own limit. */
    static const char deep4[] = "{\"all\":[{\"all\":[{\"all\":[{\"all\":[1]}]}]}]}";
    for (int i = 0; i < 2; i++) {
        char *enc = itest_urlencode(i ? deep4 : rule);
        char body[2048];
        snprintf(body, sizeof body, "rule=%s", enc);
        free(enc);
        r = itest_request("POST", PREVIEW, NULL, body, strlen(body), FORM);
        if (i == 0) {
            ITEST_ASSERT_STATUS(r, 200);
            RULE_IS(r, rule);
        } else {
            ITEST_ASSERT_PROBLEM(r, 422);
            HAS_FIELD(r, "rule.all[0].all[0].all[0]");
        }
        itest_free(r);
    }
}
END_TEST

START_TEST(test_rule_hostile_values)
{
    char *longv = malloc(10003), *rule = malloc(20000);
    ck_assert_ptr_nonnull(longv);
    ck_assert_ptr_nonnull(rule);
    longv[0] = '"';
    memset(longv + 1, 'a', 10000);
    strcpy(longv + 10001, "\"");
    const char *const values[] = {
        "\"x' OR '1'='1\"",
        "\"vip; DROP TABLE customers; --\"",
        longv,
        "\"vip\\u00e9\"",
        "\"\u30bf\u30b0\"",
        "\"lead\\n\"",
        "\"lead' --\"",
        "\"%\"",
    };
    static const char *const ops[] = { "eq", "ne", "in" };
    itest_resp *r =
        preview_of(itest_fmt("{\"all\":[%s]}", cnd("tag", "eq", itest_fmt("\"%s\"", g_tag))));
    ITEST_ASSERT_STATUS(r, 200);
    HAS_JSON(r, "{\"count\":6}");
    itest_free(r);
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        for (int f = 0; f < 2; f++) {
            for (int o = 0; o < 3; o++) {
                snprintf(rule, 20000,
                         "{\"all\":[" T ",{\"field\":\"%s\",\"op\":\"%s\",\"value\":%s%s%s}]}",
                         f ? "status" : "tag", ops[o], o == 2 ? "[" : "", values[i],
                         o == 2 ? "]" : "");
                bad_rule_at(itest_fmt("%s value %zu op %s", f ? "status" : "tag", i, ops[o]), rule,
                            o == 2 ? "rule.all[1].value[0]" : "rule.all[1].value");
            }
        }
    }
    static const char *const nums[] = { "orders_count", "revenue", "days_since_last_order",
                                        "r_score",      "f_score", "m_score" };
    for (int i = 0; i < 6; i++)
        BAD_COND(cnd(nums[i], "eq", "\"1 OR 1=1\""), ".value");
    /* Nothing changed. */
    r = preview_of(itest_fmt("{\"all\":[%s]}", cnd("tag", "eq", itest_fmt("\"%s\"", g_tag))));
    ITEST_ASSERT_STATUS(r, 200);
    HAS_JSON(r, "{\"count\":6}");
    itest_free(r);
    SEL(cnd("status", "eq", "\"customer\""), C(2) | C(3));
    free(rule);
    free(longv);
}
END_TEST

START_TEST(test_segment_members)
{
    char rule[512], seg_path[64], seg2_path[64];
    snprintf(rule, sizeof rule, "{\"all\":[%s]}", cnd("tag", "eq", itest_fmt("\"%s\"", g_tag)));
    int64_t seg = NEW_SEGMENT("members", rule);
    snprintf(seg_path, sizeof seg_path, "%s/members", segment_path(seg));
    int64_t ids[16], count;
    int pages;
    size_t n = list_ids(itest_fmt("%s?limit=2&count=true", seg_path), "customer_id", ids, 16,
                        &count, &pages);
    SAME_IDS(ids, n, g_cust, NC);
    ck_assert_msg(count == NC && pages == 3, "count %" PRId64 ", %d pages", count, pages);
    n = list_ids(itest_fmt("%s?count=false", seg_path), "customer_id", ids, 16, NULL, &pages);
    SAME_IDS(ids, n, g_cust, NC);
    ck_assert_int_eq(pages, 1);
    /* The preview of the same rule agrees. */
    itest_resp *r = preview_of(rule);
    ITEST_ASSERT_STATUS(r, 200);
    char list[256];
    for (size_t i = 0, off = 0; i < NC; i++)
        off +=
            (size_t)snprintf(list + off, sizeof list - off, "%s%" PRId64, i ? "," : "", g_cust[i]);
    HAS_JSON(r, itest_fmt("{\"count\":6,\"sample\":[%s]}", list));
    itest_free(r);
    /* A member's shape. */
    r = EXPECT(200, "GET", itest_fmt("%s?limit=4", seg_path), NULL, NULL);
    json_object *items = itest_jget(r->json, "items");
    json_object *m3 = json_object_array_get_idx(items, 3);
    has_json_at(HERE, m3, r,
                itest_fmt("{\"customer_id\":%" PRId64
                          ",\"name\":\"IT customer\",\"status\":\"customer\","
                          "\"orders_count\":3,\"revenue_cents\":6000}",
                          g_cust[3]));
    ck_assert_msg(itest_jstr(m3, "email") && itest_jstr(m3, "last_order_at") &&
                      itest_jint(itest_jget(m3, "rfm"), "frequency") >= 1,
                  "member c3: %s", itest_describe(r));
    has_json_at(HERE, json_object_array_get_idx(items, 0), r,
                "{\"status\":\"lead\",\"orders_count\":0,\"rfm\":null,\"last_order_at\":null}");
    char *cur = itest_urlencode(str_or(itest_jstr(r->json, "next_cursor")));
    itest_free(r);
    /* A narrower rule: the customers with orders. */
    snprintf(rule, sizeof rule, "{\"all\":[%s,%s]}", cnd("tag", "eq", itest_fmt("\"%s\"", g_tag)),
             cnd("orders_count", "gte", "1"));
    snprintf(seg2_path, sizeof seg2_path, "%s/members", segment_path(NEW_SEGMENT("buyers", rule)));
    n = list_ids(itest_fmt("%s?limit=3&count=true", seg2_path), "customer_id", ids, 16, &count,
                 NULL);
    SAME_IDS(ids, n, &g_cust[1], 4);
    ck_assert_int_eq(count, 4);
    SEL(cnd("orders_count", "gte", "1"), WITH_ORDERS);
    /* Bad queries: no sort; another segment's cursor. */
    static const char *const bad[] = { "sort=id", "limit=0", "limit=201", "count=2", "status=x" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        DO_PROBLEM(400, "/problems/bad-query", "GET", itest_fmt("%s?%s", seg_path, bad[i]), NULL,
                   NULL);
    BAD(400, "GET", itest_fmt("%s?cursor=%s", seg2_path, cur), NULL, NULL, "cursor");
    n = list_ids(itest_fmt("%s?cursor=%s", seg_path, cur), "customer_id", ids, 16, NULL, NULL);
    SAME_IDS(ids, n, &g_cust[4], 2);
    free(cur);
    /* A deleted customer leaves every segment; its analytics say so. */
    DO(204, "DELETE", itest_fmt(ITEST_CUSTOMERS "/%" PRId64, g_cust[5]), NULL, NULL);
    itest_free(POLL(itest_fmt("%s?count=true", seg_path), "count", NC - 1));
    r = EXPECT(200, "GET", customer_analytics(g_cust[5]), NULL, NULL);
    HAS_JSON(r, "{\"deleted\":true}");
    itest_free(r);
    SEL(cnd("orders_count", "eq", "0"), C(0));
}
END_TEST

/* ---- analytics ---------------------------------------------------------------------------- */

/* (revenue - cost) / cost rounded half away from zero to 4 decimals. */
static double roi_of(int64_t revenue, int64_t cost)
{
    int64_t num = (revenue - cost) * 10000, q = num / cost, rem = num % cost;
    if (2 * (rem < 0 ? -rem : rem) >= cost)
        q += num < 0 ? -1 : 1;
    return (double)q / 10000.0;
}

/* The campaign's analytics once its orders are want (poll <= 5 s): EUR
   revenue, cost, ROI and the other currencies ("USD:orders:revenue,..."). */
static void figures_at(const char *where, int64_t id, int64_t orders, int64_t revenue,
                       int64_t budget, const char *others)
{
    itest_resp *r =
        poll_at(where, itest_fmt(ANALYTICS "/campaigns/%" PRId64, id), "orders", orders);
    has_json_at(where, r->json, r,
                itest_fmt("{\"campaign_id\":%" PRId64
                          ",\"currency\":\"EUR\",\"revenue_cents\":%" PRId64
                          ",\"cost_cents\":%" PRId64 "}",
                          id, revenue, budget));
    json_object *roi = itest_jget(r->json, "roi");
    double want = budget ? roi_of(revenue, budget) : 0, got = json_object_get_double(roi);
    ck_assert_msg(budget ? roi != NULL && got - want < 1e-9 && want - got < 1e-9
                         : strstr(r->body, "\"roi\":null") != NULL,
                  "%s: roi should be %.4f: %s", where, want, itest_describe(r));
    char buf[256] = "";
    json_object *oc = itest_jget(r->json, "other_currencies");
    for (size_t i = 0, off = 0;
         json_object_is_type(oc, json_type_array) && i < json_object_array_length(oc); i++) {
        json_object *row = json_object_array_get_idx(oc, i);
        off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s:%" PRId64 ":%" PRId64,
                                i ? "," : "", str_or(itest_jstr(row, "currency")),
                                itest_jint(row, "orders"), itest_jint(row, "revenue_cents"));
    }
    ck_assert_msg(json_object_is_type(oc, json_type_array) && strcmp(buf, others) == 0,
                  "%s: other_currencies %s, want %s: %s", where, buf, others, itest_describe(r));
    itest_free(r);
}
#define FIGURES(id, o, rev, b, oth) figures_at(HERE, (id), (o), (rev), (b), (oth))

START_TEST(test_campaign_analytics)
{
    int64_t camp = NEW_CAMPAIGN("ROI", "\"budget_cents\":10000");
    int64_t cust = itest_new_customer(NULL);
    int64_t eur = itest_new_product(1100, "EUR", NULL), usd = itest_new_product(990, "USD", NULL);
    FIGURES(camp, 0, 0, 10000, "");
    confirmed_order(cust, eur, 2, "EUR", camp);
    int64_t o2 = confirmed_order(cust, eur, 1, "EUR", camp);
    confirmed_order(cust, usd, 1, "USD", camp);
    confirmed_order(cust, eur, 5, "EUR", 0); /* not the campaign's */
    /* a draft carrying the campaign's id counts for nothing */
    itest_new_order(cust, itest_fmt("[{\"product_id\":%" PRId64 ",\"quantity\":9}]", eur),
                    itest_fmt("\"campaign_id\":%" PRId64, camp));
    itest_free(POLL(customer_analytics(cust), "orders_count", 4));
    FIGURES(camp, 2, 3300, 10000, "USD:1:990");
    /* A cancelled order no longer counts. */
    DO(200, "POST", itest_fmt(ITEST_ORDERS "/%" PRId64 "/cancel", o2), NULL, NULL);
    FIGURES(camp, 1, 2200, 10000, "USD:1:990");
    itest_resp *r = POLL(customer_analytics(cust), "orders_count", 3);
    HAS_JSON(r, "{\"revenue_cents\":7700}");
    itest_free(r);
    /* The budget is the cost; 0 gives no ROI. */
    DO(200, "PATCH", campaign_path(camp), NULL, "{\"budget_cents\":1000}");
    FIGURES(camp, 1, 2200, 1000, "USD:1:990");
    DO(200, "PATCH", campaign_path(camp), NULL, "{\"budget_cents\":0}");
    FIGURES(camp, 1, 2200, 0, "USD:1:990");
    /* A USD campaign counts the USD orders and lists EUR apart. */
    int64_t camp2 = NEW_CAMPAIGN("USD", "\"budget_cents\":990");
    DO(200, "PATCH", campaign_path(camp2), NULL, "{\"currency\":\"USD\"}");
    confirmed_order(cust, usd, 2, "USD", camp2);
    confirmed_order(cust, eur, 1, "EUR", camp2);
    itest_free(POLL(customer_analytics(cust), "orders_count", 5));
    r = POLL(itest_fmt(ANALYTICS "/campaigns/%" PRId64, camp2), "orders", 1);
    HAS_JSON(r, "{\"currency\":\"USD\",\"revenue_cents\":1980,\"cost_cents\":990,\"roi\":1.0,"
                "\"other_currencies\":[{\"currency\":\"EUR\",\"orders\":1,"
                "\"revenue_cents\":1100}]}");
    itest_free(r);
    /* Unknown campaigns and customers: 404. */
    DO_PROBLEM(404, NULL, "GET", itest_fmt(ANALYTICS "/campaigns/%lld", NO_ID), NULL, NULL);
    DO_PROBLEM(404, NULL, "GET", ANALYTICS "/campaigns/x", NULL, NULL);
    DO_PROBLEM(404, NULL, "GET", itest_fmt(ANALYTICS "/customers/%lld", NO_ID), NULL, NULL);
    DO_PROBLEM(404, NULL, "GET", ANALYTICS "/customers/-3", NULL, NULL);
    int64_t gone = NEW_CAMPAIGN("gone", NULL);
    DO(204, "DELETE", campaign_path(gone), NULL, NULL);
    DO_PROBLEM(404, NULL, "GET", itest_fmt(ANALYTICS "/campaigns/%" PRId64, gone), NULL, NULL);
    /* The grid: 25 cells, recency-major, adding up to the customers. */
    r = EXPECT(200, "GET", ANALYTICS "/rfm", NULL, NULL);
    json_object *grid = itest_jget(r->json, "grid");
    int64_t sum = 0;
    for (size_t i = 0; json_object_is_type(grid, json_type_array) && i < 25; i++) {
        json_object *c = json_object_array_get_idx(grid, i);
        ck_assert_msg(itest_jint(c, "recency") == (int64_t)i / 5 + 1 &&
                          itest_jint(c, "frequency") == (int64_t)i % 5 + 1,
                      "cell %zu: %s", i, itest_describe(r));
        sum += itest_jint(c, "customers");
    }
    ck_assert_msg(json_object_array_length(grid) == 25 && sum == itest_jint(r->json, "customers") &&
                      strcmp(str_or(itest_jstr(r->json, "reporting_currency")), "EUR") == 0,
                  "grid: %s", itest_describe(r));
    itest_free(r);
}
END_TEST

START_TEST(test_campaign_roi_rounding)
{
    /* (3300 - 3200) / 3200 = 0.03125 and (3100 - 3200) / 3200 = -0.03125,
       exactly: rounded half away from zero, 0.0313 and -0.0313. */
    int64_t cust = itest_new_customer(NULL);
    int64_t p33 = itest_new_product(3300, "EUR", NULL), p31 = itest_new_product(3100, "EUR", NULL);
    int64_t up = NEW_CAMPAIGN("tie up", "\"budget_cents\":3200");
    int64_t down = NEW_CAMPAIGN("tie down", "\"budget_cents\":3200");
    confirmed_order(cust, p33, 1, "EUR", up);
    confirmed_order(cust, p31, 1, "EUR", down);
    itest_resp *a = POLL(itest_fmt(ANALYTICS "/campaigns/%" PRId64, up), "revenue_cents", 3300);
    itest_resp *b = POLL(itest_fmt(ANALYTICS "/campaigns/%" PRId64, down), "revenue_cents", 3100);
    double ra = json_object_get_double(itest_jget(a->json, "roi"));
    double rb = json_object_get_double(itest_jget(b->json, "roi"));
    ck_assert_msg(
        ra - 0.0313 < 1e-9 && 0.0313 - ra < 1e-9 && rb + 0.0313 < 1e-9 && -0.0313 - rb < 1e-9,
        "roi %.4f (want 0.0313) and %.4f (want -0.0313): %s / %s", ra, rb, a->body, b->body);
    itest_free(a);
    itest_free(b);
}
END_TEST

static Suite *marketing_suite(void)
{
    Suite *s = suite_create("marketing_api");
    TCase *tc = tcase_create("api");
    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, NULL, itest_teardown);
    tcase_add_test(tc, test_campaign_create_get);
    tcase_add_test(tc, test_campaign_validation);
    tcase_add_test(tc, test_campaign_patch);
    tcase_add_test(tc, test_campaign_transitions);
    tcase_add_test(tc, test_campaign_idempotency_and_form);
    tcase_add_test(tc, test_campaign_list);
    tcase_add_test(tc, test_segment_crud);
    tcase_add_test(tc, test_segment_list);
    tcase_add_test(tc, test_segment_preview_basics);
    tcase_add_test(tc, test_rule_errors);
    tcase_add_test(tc, test_rule_nesting);
    tcase_add_test(tc, test_campaign_analytics);
    tcase_add_test(tc, test_campaign_roi_rounding);
    suite_add_tcase(s, tc);
    /* Customers and orders made once, then read by every test. */
    tc = tcase_create("rules");
    tcase_set_timeout(tc, 30);
    tcase_add_unchecked_fixture(tc, rules_setup, NULL);
    tcase_add_checked_fixture(tc, NULL, itest_teardown);
    tcase_add_test(tc, test_rule_status_tag);
    tcase_add_test(tc, test_rule_orders_revenue);
    tcase_add_test(tc, test_rule_days);
    tcase_add_test(tc, test_rule_scores);
    tcase_add_test(tc, test_rule_hostile_values);
    tcase_add_test(tc, test_segment_members); /* last: deletes c5 */
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    itest_init();
    SRunner *sr = srunner_create(marketing_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
