/*
 * test_crm_inbox.c - the receiving end of events against a live
 * MariaDB/MySQL (tcase "db"): crm_inbox_claim on its own, and
 * crm_inbox_receive answering deliveries built with the in-memory request
 * transport (../fake_req.h) - signatures, malformed batches, applying
 * each event once, refusals rolled back and deadlocks retried.
 *
 * The server comes from the environment, as scripts/test.sh provides it:
 *   CRM_TEST_DB_SOCKET    unix socket (required: without it "db" FAILS)
 *   CRM_TEST_DB_USER      an account that may create and drop a database
 *   CRM_TEST_DB_PASSWORD  its password (may be empty or unset)
 * The tests work in a scratch database crm_test_inbox_<pid>, created
 * before the first test and dropped after the last; each test starts from
 * empty tables.
 */
#include "crm_inbox.h"

#include "crm_log.h"
#include "crm_problem.h"

#include "../db_fixture.h"
#include "../fake_req.h"

#include <check.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static crm_arena *arena;
static fake_req f;

/* What the apply callbacks were called with, in order (reset by db_setup). */
static char seen[32][37];
static size_t n_seen;
static int conflicts_left;    /* apply_flaky: CRM_CONFLICT this many times first */
static const char *refuse_id; /* apply_picky: CRM_INVALID for this event */

static void reset_applies(void)
{
    memset(seen, 0, sizeof(seen));
    n_seen = 0;
    conflicts_left = 0;
    refuse_id = NULL;
}

static crm_db *db;

/*
 * The DDL of crm_inbox.h, as the consumer's schema has it, and a table the
 * apply callbacks below write to, so what they did is seen to commit or
 * roll back with the claim.
 */
static void db_setup(void)
{
    reset_applies();
    arena = crm_arena_new(4096);
    fake_req_init(&f);
    db = db_fixture_open();
    db_exec_ok(db, "DROP TABLE IF EXISTS inbox, applied");
    db_exec_ok(db, "CREATE TABLE inbox ("
                   " event_id CHAR(36) CHARACTER SET ascii NOT NULL PRIMARY KEY,"
                   " type VARCHAR(64) NOT NULL,"
                   " received_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)"
                   ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4");
    db_exec_ok(db, "CREATE TABLE applied ("
                   " seq INT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
                   " event_id CHAR(36) CHARACTER SET ascii NOT NULL"
                   ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4");
}

static void db_teardown(void)
{
    crm_db_free(db);
    db = NULL;
    fake_req_done(&f);
    crm_arena_free(arena);
}

START_TEST(test_inbox_claim)
{
    char id[37], other[37];
    crm_event_uuid(id);
    crm_event_uuid(other);

    ck_assert_int_eq(crm_db_begin(db), CRM_OK);
    ck_assert_int_eq(crm_inbox_claim(db, id, "customer.created"), CRM_OK);
    /* Again in the same transaction: already there. */
    ck_assert_int_eq(crm_inbox_claim(db, id, "customer.created"), CRM_DUP);
    ck_assert_int_eq(crm_db_commit(db), CRM_OK);

    /* Redelivered later: acknowledged, nothing recorded twice. */
    ck_assert_int_eq(crm_db_begin(db), CRM_OK);
    ck_assert_int_eq(crm_inbox_claim(db, id, "customer.created"), CRM_DUP);
    ck_assert_int_eq(crm_inbox_claim(db, other, "customer.updated"), CRM_OK);
    ck_assert_int_eq(crm_db_commit(db), CRM_OK);
    ck_assert_int_eq(db_q_int(db, "SELECT COUNT(*) FROM inbox", NULL), 2);
    ck_assert_int_eq(db_q_int(db,
                              "SELECT COUNT(*) FROM inbox WHERE event_id = ?"
                              " AND type = 'customer.created' AND received_at IS NOT NULL",
                              id),
                     1);

    /* Another connection sees it too. */
    crm_db *d2 = db_fixture_open();
    ck_assert_int_eq(crm_db_begin(d2), CRM_OK);
    ck_assert_int_eq(crm_inbox_claim(d2, other, "customer.updated"), CRM_DUP);
    ck_assert_int_eq(crm_db_rollback(d2), CRM_OK);
    crm_db_free(d2);

    /* Malformed arguments never reach the table. */
    ck_assert_int_eq(crm_inbox_claim(db, "not-a-uuid", "customer.created"), CRM_INVALID);
    ck_assert_int_eq(crm_inbox_claim(db, NULL, "customer.created"), CRM_INVALID);
    ck_assert_int_eq(
        crm_inbox_claim(db, "0B7C5D0E-3F1A-4B2C-8D9E-0F1A2B3C4D5E", "customer.created"),
        CRM_INVALID);
    ck_assert_int_eq(crm_inbox_claim(db, id, "Bad Type"), CRM_INVALID);
    ck_assert_int_eq(crm_inbox_claim(db, id, NULL), CRM_INVALID);
}
END_TEST

START_TEST(test_inbox_rollback)
{
    char id[37];
    crm_event_uuid(id);

    /* Applying failed: the claim goes with the rollback... */
    ck_assert_int_eq(crm_db_begin(db), CRM_OK);
    ck_assert_int_eq(crm_inbox_claim(db, id, "customer.created"), CRM_OK);
    ck_assert_int_eq(crm_db_rollback(db), CRM_OK);
    ck_assert_int_eq(db_q_int(db, "SELECT COUNT(*) FROM inbox", NULL), 0);

    /* ... so the redelivery applies it. */
    ck_assert_int_eq(crm_db_begin(db), CRM_OK);
    ck_assert_int_eq(crm_inbox_claim(db, id, "customer.created"), CRM_OK);
    ck_assert_int_eq(crm_db_commit(db), CRM_OK);
    ck_assert_int_eq(crm_db_begin(db), CRM_OK);
    ck_assert_int_eq(crm_inbox_claim(db, id, "customer.created"), CRM_DUP);
    ck_assert_int_eq(crm_db_rollback(db), CRM_OK);
    ck_assert_int_eq(db_q_int(db, "SELECT COUNT(*) FROM inbox", NULL), 1);
}
END_TEST

/* ---------------------------------------------------------------- */
/* crm_inbox_receive */

#define KEY "test-secret"

static const char SQL_APPLIED[] = "INSERT INTO applied (event_id) VALUES (?)";

/* Record ev and write a row in the caller's transaction, as a real apply would. */
static int record(crm_db *d, const crm_event *ev)
{
    ck_assert_uint_lt(n_seen, CRM_NELEM(seen));
    ck_assert_uint_eq(strlen(ev->id), 36);
    memcpy(seen[n_seen++], ev->id, 37);
    crm_stmt *st = crm_db_stmt(d, db_key_for(SQL_APPLIED), SQL_APPLIED);
    ck_assert_ptr_nonnull(st);
    crm_stmt_bind_str(st, 0, ev->id, strlen(ev->id));
    return crm_stmt_exec(st);
}

static int apply_ok(crm_db *d, crm_arena *a, const crm_event *ev)
{
    (void)a;
    return record(d, ev);
}

static int apply_picky(crm_db *d, crm_arena *a, const crm_event *ev)
{
    (void)a;
    int rc = record(d, ev);
    if (rc == CRM_OK && refuse_id != NULL && strcmp(ev->id, refuse_id) == 0)
        rc = CRM_INVALID;
    return rc;
}

static int apply_flaky(crm_db *d, crm_arena *a, const crm_event *ev)
{
    (void)a;
    int rc = record(d, ev);
    if (rc == CRM_OK && conflicts_left > 0) {
        conflicts_left--;
        rc = CRM_CONFLICT;
    }
    return rc;
}

/* A new event (fresh UUID) as a producer would send it. */
static crm_event new_event(int64_t aggregate_id, int64_t version)
{
    crm_event e = { 0 };
    char id[37];
    crm_event_uuid(id);
    e.id = crm_arena_strdup(arena, id);
    e.type = version == 1 ? "customer.created" : "customer.updated";
    e.aggregate_id = aggregate_id;
    e.aggregate_version = version;
    e.occurred_at = "2026-11-27T12:00:00.123456Z";
    e.source = "customers";
    e.payload = crm_arena_printf(arena, "{\"id\":%lld,\"v\":%lld}", (long long)aggregate_id,
                                 (long long)version);
    e.payload_len = strlen(e.payload);
    return e;
}

/* The envelope of ev[0..n), in the arena. */
static const char *batch_of(const crm_event *ev, size_t n)
{
    crm_buf b;
    crm_buf_init(&b, 0);
    crm_event_batch_json(&b, ev, n);
    ck_assert_uint_gt(b.len, 0);
    const char *s = crm_arena_strndup(arena, b.data, b.len);
    crm_buf_free(&b);
    return s;
}

/*
 * POST body to the events endpoint with the signature headers given (NULL:
 * absent) and let crm_inbox_receive answer it with key and apply. The
 * previous response is dropped. Returns the status it says it sent.
 */
static int post(const char *key, const char *ts, const char *sig, const char *body,
                crm_inbox_apply apply)
{
    fake_req_done(&f);
    fake_req_init(&f);
    fake_req_set(&f, "REQUEST_METHOD", "POST");
    fake_req_set(&f, "REQUEST_URI", "/internal/v1/events");
    fake_req_set(&f, "DOCUMENT_URI", "/internal/v1/events");
    fake_req_set(&f, "REQUEST_ID", "req-inbox-1");
    fake_req_set(&f, "CONTENT_TYPE", "application/json");
    if (ts != NULL)
        fake_req_set(&f, "HTTP_X_CRM_TIMESTAMP", ts);
    if (sig != NULL)
        fake_req_set(&f, "HTTP_X_CRM_SIGNATURE", sig);
    fake_req_body(&f, body, strlen(body));
    f.out_max = 65536;
    crm_req *r = crm_req_new(arena, &fake_req_io, &f, 1 << 20);
    return crm_inbox_receive(r, db, key, apply);
}

/* body signed with signing_key at now + skew seconds, POSTed to a receiver holding KEY. */
static int deliver_as(const char *signing_key, long skew, const char *body, crm_inbox_apply apply)
{
    long long ts = (long long)time(NULL) + skew;
    char *sig = crm_arena_alloc(arena, 68);
    crm_event_sign(signing_key, strlen(signing_key), ts, body, strlen(body), sig);
    return post(KEY, crm_arena_printf(arena, "%lld", ts), sig, body, apply);
}

static int deliver(const char *body, crm_inbox_apply apply)
{
    return deliver_as(KEY, 0, body, apply);
}

/* One response was written, with this status line. */
static void assert_status(int status)
{
    char want[64];
    snprintf(want, sizeof(want), "Status: %d ", status);
    ck_assert_int_eq(f.writes, 1);
    ck_assert_msg(strncmp(f.out, want, strlen(want)) == 0, "%s", f.out);
}

/* The 200 answer, exactly. */
static void assert_ok(int rc, size_t applied, size_t duplicates)
{
    char want[64];
    ck_assert_int_eq(rc, 200);
    assert_status(200);
    ck_assert_str_eq(fake_res_header(&f, "Content-Type"), "application/json; charset=utf-8");
    snprintf(want, sizeof(want), "{\"applied\":%zu,\"duplicates\":%zu}", applied, duplicates);
    ck_assert_str_eq(fake_res_body(&f), want);
}

/* A problem answer: status, type slug, and a detail containing detail (NULL: any). */
static void assert_problem(int rc, int status, const char *slug, const char *detail)
{
    char type[128];
    ck_assert_int_eq(rc, status);
    assert_status(status);
    ck_assert_str_eq(fake_res_header(&f, "Content-Type"), "application/problem+json");
    json_object *o = fake_res_json(&f), *v;
    ck_assert(json_object_object_get_ex(o, "status", &v));
    ck_assert_int_eq(json_object_get_int(v), status);
    ck_assert(json_object_object_get_ex(o, "type", &v));
    snprintf(type, sizeof(type), "/problems/%s", slug);
    ck_assert_str_eq(json_object_get_string(v), type);
    if (detail != NULL) {
        ck_assert(json_object_object_get_ex(o, "detail", &v));
        ck_assert_msg(strstr(json_object_get_string(v), detail) != NULL, "detail '%s' lacks '%s'",
                      json_object_get_string(v), detail);
    }
    json_object_put(o);
}

static int64_t inbox_rows(void)
{
    return db_q_int(db, "SELECT COUNT(*) FROM inbox", NULL);
}

static int64_t applied_rows(void)
{
    return db_q_int(db, "SELECT COUNT(*) FROM applied", NULL);
}

static int64_t in_inbox(const char *id)
{
    return db_q_int(db, "SELECT COUNT(*) FROM inbox WHERE event_id = ?", id);
}

static int64_t applied_times(const char *id)
{
    return db_q_int(db, "SELECT COUNT(*) FROM applied WHERE event_id = ?", id);
}

START_TEST(test_receive_unauthorized)
{
    crm_event ev[1] = { new_event(7, 1) };
    const char *body = batch_of(ev, 1);
    long long now = (long long)time(NULL);
    const char *ts = crm_arena_printf(arena, "%lld", now);
    char sig[68];
    crm_event_sign(KEY, strlen(KEY), now, body, strlen(body), sig);

    /* Unsigned: no headers, or one of the two. */
    assert_problem(post(KEY, NULL, NULL, body, apply_ok), 401, "bad-signature",
                   "missing or wrong signature");
    assert_problem(post(KEY, ts, NULL, body, apply_ok), 401, "bad-signature", NULL);
    assert_problem(post(KEY, NULL, sig, body, apply_ok), 401, "bad-signature", NULL);

    /* Badly signed: another key, another body, a malformed header. */
    assert_problem(deliver_as("other-secret", 0, body, apply_ok), 401, "bad-signature",
                   "missing or wrong signature");
    const char *changed = batch_of((crm_event[]){ new_event(7, 1) }, 1);
    assert_problem(post(KEY, ts, sig, changed, apply_ok), 401, "bad-signature", NULL);
    char upper[68];
    memcpy(upper, sig, sizeof(upper));
    upper[0] = 'V';
    assert_problem(post(KEY, ts, upper, body, apply_ok), 401, "bad-signature", NULL);

    /* Stale or from the future: signed right, but too far from now. */
    assert_problem(deliver_as(KEY, -(CRM_EVENT_MAX_SKEW + 60), body, apply_ok), 401,
                   "bad-signature", "the timestamp is too far from now");
    assert_problem(deliver_as(KEY, CRM_EVENT_MAX_SKEW + 60, body, apply_ok), 401, "bad-signature",
                   "the timestamp is too far from now");

    /* No key configured: every delivery is refused, even one signed right. */
    assert_problem(post(NULL, ts, sig, body, apply_ok), 401, "bad-signature", "no event key");
    assert_problem(post("", ts, sig, body, apply_ok), 401, "bad-signature", "no event key");

    /* Nothing was applied or claimed; the same delivery, signed right, is. */
    ck_assert_uint_eq(n_seen, 0);
    ck_assert_int_eq(inbox_rows(), 0);
    assert_ok(post(KEY, ts, sig, body, apply_ok), 1, 0);
}
END_TEST

START_TEST(test_receive_malformed)
{
    crm_event ev[CRM_EVENT_BATCH_MAX + 1];
    for (size_t i = 0; i < CRM_NELEM(ev); i++)
        ev[i] = new_event((int64_t)i + 1, 1);

    /* Signed right, but not a batch: 400 with the parser's words. */
    struct {
        const char *body, *detail;
    } bad[] = {
        { "not json", "top level must be an object" },
        { "{\"events\":[]", "end of JSON" },
        { "", "empty" },
        { "{}", "events is required" },
        { "{\"events\":{}}", "events must be an array" },
        { "{\"events\":[{\"id\":\"nope\"}]}", "events[0]: id must be a lower-case UUID" },
        { batch_of(ev, CRM_EVENT_BATCH_MAX + 1), "too many events" },
    };
    for (size_t i = 0; i < CRM_NELEM(bad); i++)
        assert_problem(deliver(bad[i].body, apply_ok), 400, crm_problem_slug(400), bad[i].detail);

    /* A bad event anywhere refuses the whole batch before anything is applied. */
    const char *good = batch_of(ev, 2);
    const char *second_bad =
        crm_arena_printf(arena, "%.*s,{\"id\":1}]}", (int)(strlen(good) - 2), good);
    assert_problem(deliver(second_bad, apply_ok), 400, crm_problem_slug(400), "events[2]");

    ck_assert_uint_eq(n_seen, 0);
    ck_assert_int_eq(inbox_rows(), 0);
    ck_assert_int_eq(applied_rows(), 0);
}
END_TEST

START_TEST(test_receive_applies_once)
{
    crm_event ev[3] = { new_event(7, 1), new_event(7, 2), new_event(8, 1) };
    const char *body = batch_of(ev, 2);

    /* A good batch: each event applied, in order, and claimed. */
    assert_ok(deliver(body, apply_ok), 2, 0);
    ck_assert_uint_eq(n_seen, 2);
    ck_assert_str_eq(seen[0], ev[0].id);
    ck_assert_str_eq(seen[1], ev[1].id);
    ck_assert_int_eq(in_inbox(ev[0].id), 1);
    ck_assert_int_eq(in_inbox(ev[1].id), 1);
    ck_assert_int_eq(
        db_q_int(db, "SELECT COUNT(*) FROM inbox WHERE event_id = ? AND type = 'customer.updated'",
                 ev[1].id),
        1);
    ck_assert_int_eq(applied_rows(), 2);

    /* The same batch again (a lost acknowledgement): nothing applied. */
    assert_ok(deliver(body, apply_ok), 0, 2);
    ck_assert_uint_eq(n_seen, 2);
    ck_assert_int_eq(inbox_rows(), 2);
    ck_assert_int_eq(applied_rows(), 2);

    /* Old and new together: only the new one is applied. */
    assert_ok(deliver(batch_of(ev, 3), apply_ok), 1, 2);
    ck_assert_uint_eq(n_seen, 3);
    ck_assert_str_eq(seen[2], ev[2].id);
    ck_assert_int_eq(inbox_rows(), 3);
    ck_assert_int_eq(applied_rows(), 3);

    /* An empty batch is fine. */
    assert_ok(deliver("{\"events\":[]}", apply_ok), 0, 0);
    ck_assert_uint_eq(n_seen, 3);
}
END_TEST

/* What apply is given: the event as sent, payload included. */
static crm_event got;
static int apply_keep(crm_db *d, crm_arena *a, const crm_event *ev)
{
    (void)d;
    got = *ev;
    got.id = crm_arena_strdup(a, ev->id);
    got.payload = crm_arena_strndup(a, ev->payload, ev->payload_len);
    got.payload_len = ev->payload_len;
    return CRM_OK;
}

START_TEST(test_receive_passes_the_event)
{
    crm_event ev[1] = { new_event(42, 3) };
    ev[0].payload = "{ \"name\" : \"Zo\xC3\xAB\", \"n\": 1.50 }";
    ev[0].payload_len = strlen(ev[0].payload);
    assert_ok(deliver(batch_of(ev, 1), apply_keep), 1, 0);
    ck_assert_str_eq(got.id, ev[0].id);
    ck_assert_int_eq(got.aggregate_id, 42);
    ck_assert_int_eq(got.aggregate_version, 3);
    ck_assert_int_eq(got.seq, 0);
    ck_assert_str_eq(got.type, "customer.updated");
    ck_assert_str_eq(got.source, "customers");
    ck_assert_str_eq(got.occurred_at, "2026-11-27T12:00:00.123456Z");
    ck_assert_str_eq(got.payload, "{\"name\":\"Zo\xC3\xAB\",\"n\":1.50}"); /* compact */
}
END_TEST

START_TEST(test_receive_invalid_rolls_back)
{
    crm_event ev[2] = { new_event(7, 1), new_event(7, 2) };
    const char *body = batch_of(ev, 2);

    /* The second event cannot be applied: 422. The batch's transaction
       (ev0, ev1) is rolled back and the events are tried one by one
       (ev0 applied and kept, ev1 refused): the second's claim and what its
       apply wrote are rolled back. */
    refuse_id = ev[1].id;
    assert_problem(deliver(body, apply_picky), 422, crm_problem_slug(422), "cannot be applied");
    ck_assert_uint_eq(n_seen, 4);
    ck_assert_str_eq(seen[0], ev[0].id);
    ck_assert_str_eq(seen[1], ev[1].id);
    ck_assert_str_eq(seen[2], ev[0].id);
    ck_assert_str_eq(seen[3], ev[1].id);
    ck_assert_int_eq(in_inbox(ev[0].id), 1);
    ck_assert_int_eq(in_inbox(ev[1].id), 0);
    ck_assert_int_eq(applied_times(ev[0].id), 1);
    ck_assert_int_eq(applied_times(ev[1].id), 0);

    /* Redelivered while still refused: the same answer, nothing doubled
       (ev0 is a duplicate now, so only ev1 is tried: in the batch, then alone). */
    assert_problem(deliver(body, apply_picky), 422, crm_problem_slug(422), NULL);
    ck_assert_uint_eq(n_seen, 6);
    ck_assert_str_eq(seen[4], ev[1].id);
    ck_assert_str_eq(seen[5], ev[1].id);
    ck_assert_int_eq(in_inbox(ev[1].id), 0);
    ck_assert_int_eq(applied_rows(), 1);

    /* Once apply is fixed, the redelivery applies it (in one batch). */
    assert_ok(deliver(body, apply_ok), 1, 1);
    ck_assert_uint_eq(n_seen, 7);
    ck_assert_str_eq(seen[6], ev[1].id);
    ck_assert_int_eq(in_inbox(ev[1].id), 1);
    ck_assert_int_eq(applied_times(ev[1].id), 1);
    ck_assert_int_eq(applied_rows(), 2);
}
END_TEST

START_TEST(test_receive_conflict_retried)
{
    crm_event ev[2] = { new_event(7, 1), new_event(8, 1) };

    /* A deadlock once, then fine: retried in a new transaction and applied once. */
    conflicts_left = 1;
    assert_ok(deliver(batch_of(ev, 1), apply_flaky), 1, 0);
    ck_assert_uint_eq(n_seen, 2);
    ck_assert_str_eq(seen[0], ev[0].id);
    ck_assert_str_eq(seen[1], ev[0].id);
    ck_assert_int_eq(in_inbox(ev[0].id), 1);
    ck_assert_int_eq(applied_times(ev[0].id), 1);

    /* A deadlock every time: given up after a few tries, 503 to be retried
       later, and nothing of the event kept. */
    conflicts_left = 1000;
    n_seen = 0;
    int rc = deliver(batch_of(&ev[1], 1), apply_flaky);
    assert_problem(rc, 503, crm_problem_slug(503), NULL);
    ck_assert_str_eq(fake_res_header(&f, "Retry-After"), "1");
    ck_assert_uint_gt(n_seen, 1);
    ck_assert_int_eq(in_inbox(ev[1].id), 0);
    ck_assert_int_eq(applied_times(ev[1].id), 0);

    /* The next delivery, without the deadlock, applies it. */
    conflicts_left = 0;
    assert_ok(deliver(batch_of(ev, 2), apply_flaky), 1, 1);
    ck_assert_int_eq(in_inbox(ev[1].id), 1);
    ck_assert_int_eq(applied_times(ev[1].id), 1);
}
END_TEST

static Suite *inbox_suite(void)
{
    Suite *s = suite_create("crm_inbox");

    TCase *tc = tcase_create("db");
    tcase_set_timeout(tc, 60);
    if (db_fixture_live(tc)) {
        tcase_add_checked_fixture(tc, db_setup, db_teardown);
        tcase_add_test(tc, test_inbox_claim);
        tcase_add_test(tc, test_inbox_rollback);
        tcase_add_test(tc, test_receive_unauthorized);
        tcase_add_test(tc, test_receive_malformed);
        tcase_add_test(tc, test_receive_applies_once);
        tcase_add_test(tc, test_receive_passes_the_event);
        tcase_add_test(tc, test_receive_invalid_rolls_back);
        tcase_add_test(tc, test_receive_conflict_retried);
    }
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    crm_log_init("test_crm_inbox", CRM_LOG_WARN);
    if (db_fixture_init("inbox") && db_fixture_create() != CRM_OK)
        return EXIT_FAILURE;
    return db_fixture_run(inbox_suite());
}
