/*
 * test_crm_outbox.c - the outbox and its delivery cursors against a live
 * MariaDB/MySQL (tcase "db"): what crm_outbox_add writes,
 * crm_outbox_sequence numbers, crm_outbox_fetch reads back and
 * crm_event_batch_json carries, the events it refuses, cursors and what is
 * pending, and events whose transactions commit out of id order.
 *
 * The server comes from the environment, as scripts/test.sh provides it:
 *   CRM_TEST_DB_SOCKET    unix socket (required: without it "db" FAILS)
 *   CRM_TEST_DB_USER      an account that may create and drop a database
 *   CRM_TEST_DB_PASSWORD  its password (may be empty or unset)
 * The tests work in a scratch database crm_test_outbox_<pid>, created
 * before the first test and dropped after the last; each test starts from
 * empty tables.
 */
#include "crm_outbox.h"

#include "crm_log.h"

#include "../db_fixture.h"

#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static crm_arena *arena;

static void setup(void)
{
    arena = crm_arena_new(4096);
}

static void teardown(void)
{
    crm_arena_free(arena);
}

static crm_db *db;

/* The DDL of crm_outbox.h, as the producer's schema has it. */
static void db_setup(void)
{
    setup();
    db = db_fixture_open();
    db_exec_ok(db, "DROP TABLE IF EXISTS outbox, outbox_cursors");
    db_exec_ok(db, "CREATE TABLE outbox ("
                   " id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,"
                   " event_id CHAR(36) CHARACTER SET ascii NOT NULL UNIQUE,"
                   " type VARCHAR(64) NOT NULL,"
                   " aggregate_id BIGINT UNSIGNED NOT NULL,"
                   " aggregate_version INT UNSIGNED NOT NULL,"
                   " occurred_at DATETIME(6) NOT NULL,"
                   " payload MEDIUMTEXT NOT NULL,"
                   " seq BIGINT UNSIGNED NULL UNIQUE"
                   ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4");
    db_exec_ok(db, "CREATE TABLE outbox_cursors ("
                   " subscriber VARCHAR(32) CHARACTER SET ascii NOT NULL PRIMARY KEY,"
                   " last_id BIGINT UNSIGNED NOT NULL DEFAULT 0,"
                   " updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)"
                   ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4");
}

static void db_teardown(void)
{
    crm_db_free(db);
    db = NULL;
    teardown();
}

/* now - ago seconds, UTC, as crm_outbox_add takes it. */
static const char *sql_time(int ago, long usec)
{
    time_t t = time(NULL) - ago;
    struct tm tm;
    char buf[32];
    gmtime_r(&t, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
    return crm_arena_printf(arena, "%s.%06ld", buf, usec);
}

/* Number what committed, as the relay does each round; returns how many. */
static size_t sequence(crm_db *conn)
{
    size_t n = 999;
    ck_assert_int_eq(crm_outbox_sequence(conn, 1000, &n), CRM_OK);
    return n;
}

/* One event in its own transaction, then numbered. */
static void add_ok(const char *type, int64_t agg, int64_t ver, const char *at, const char *payload)
{
    ck_assert_int_eq(crm_db_begin(db), CRM_OK);
    ck_assert_int_eq(crm_outbox_add(db, type, agg, ver, at, payload, strlen(payload)), CRM_OK);
    ck_assert_int_eq(crm_db_commit(db), CRM_OK);
    ck_assert_uint_eq(sequence(db), 1);
}

static int64_t outbox_rows(void)
{
    return db_q_int(db, "SELECT COUNT(*) FROM outbox", NULL);
}

START_TEST(test_outbox_add_fetch)
{
    crm_event ev[10];
    size_t n = 99;
    ck_assert_int_eq(crm_outbox_fetch(db, arena, 0, 10, ev, &n), CRM_OK);
    ck_assert_uint_eq(n, 0);

    const char *payloads[] = { "{\"n\":0}", "{\"n\":1,\"name\":\"Zo\xC3\xAB\"}", "{\"n\":2}",
                               "{ \"n\" : 3 }", "{\"n\":4,\"a\":[1,{\"b\":null}]}" };
    for (int i = 0; i < 5; i++)
        add_ok(i == 0 ? "customer.created" : "customer.updated", 42, i + 1,
               "2026-11-27 12:00:00.123456", payloads[i]);

    ck_assert_int_eq(crm_outbox_fetch(db, arena, 0, 10, ev, &n), CRM_OK);
    ck_assert_uint_eq(n, 5);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_gt(ev[i].seq, i > 0 ? ev[i - 1].seq : 0);
        ck_assert_uint_eq(strlen(ev[i].id), 36);
        ck_assert_str_eq(ev[i].type, i == 0 ? "customer.created" : "customer.updated");
        ck_assert_int_eq(ev[i].aggregate_id, 42);
        ck_assert_int_eq(ev[i].aggregate_version, (int64_t)i + 1);
        ck_assert_str_eq(ev[i].occurred_at, "2026-11-27T12:00:00.123456Z");
        ck_assert_ptr_null(ev[i].source);
        ck_assert_str_eq(ev[i].payload, payloads[i]); /* stored and read verbatim */
        ck_assert_uint_eq(ev[i].payload_len, strlen(payloads[i]));
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(ev[i].id, ev[j].id);
    }
    /* Ids are the event ids in the table. */
    ck_assert_int_eq(db_q_int(db, "SELECT COUNT(*) FROM outbox WHERE event_id = ?", ev[2].id), 1);

    /* Paging with after and max. */
    crm_event page[2];
    ck_assert_int_eq(crm_outbox_fetch(db, arena, 0, 2, page, &n), CRM_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(page[0].seq, ev[0].seq);
    ck_assert_int_eq(page[1].seq, ev[1].seq);
    ck_assert_int_eq(crm_outbox_fetch(db, arena, page[1].seq, 2, page, &n), CRM_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(page[0].id, ev[2].id);
    ck_assert_str_eq(page[1].id, ev[3].id);
    ck_assert_int_eq(crm_outbox_fetch(db, arena, page[1].seq, 2, page, &n), CRM_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(page[0].id, ev[4].id);
    ck_assert_int_eq(crm_outbox_fetch(db, arena, ev[4].seq, 2, page, &n), CRM_OK);
    ck_assert_uint_eq(n, 0);
    n = 5;
    ck_assert_int_eq(crm_outbox_fetch(db, arena, 0, 0, page, &n), CRM_OK);
    ck_assert_uint_eq(n, 0);

    /* The statement is reused after a partly read result (LIMIT = max). */
    ck_assert_int_eq(crm_outbox_fetch(db, arena, 0, 1, page, &n), CRM_OK);
    ck_assert_int_eq(crm_outbox_fetch(db, arena, 0, 1, page, &n), CRM_OK);
    ck_assert_str_eq(page[0].id, ev[0].id);

    /* What the outbox gives, the envelope carries and the consumer parses. */
    for (size_t i = 0; i < 5; i++)
        ev[i].source = "customers";
    crm_buf b;
    crm_buf_init(&b, 0);
    crm_event_batch_json(&b, ev, 5);
    crm_event *got = NULL;
    const char *why = NULL;
    ck_assert_msg(crm_event_batch_parse(arena, b.data, b.len, &got, &n, &why) == CRM_OK, "%s", why);
    crm_buf_free(&b);
    ck_assert_uint_eq(n, 5);
    ck_assert_str_eq(got[3].payload, "{\"n\":3}");
    ck_assert_str_eq(got[4].occurred_at, "2026-11-27T12:00:00.123456Z");
}
END_TEST

START_TEST(test_outbox_add_in_transaction)
{
    /* Rolled back with the change it belonged to. */
    ck_assert_int_eq(crm_db_begin(db), CRM_OK);
    ck_assert_int_eq(crm_outbox_add(db, "customer.created", 1, 1, sql_time(0, 0), "{}", 2), CRM_OK);
    ck_assert_int_eq(crm_db_rollback(db), CRM_OK);
    ck_assert_int_eq(outbox_rows(), 0);

    /* Not seen by another connection before the commit. */
    crm_db *other = db_fixture_open();
    crm_event ev[2];
    size_t n = 9;
    ck_assert_int_eq(crm_db_begin(db), CRM_OK);
    ck_assert_int_eq(crm_outbox_add(db, "customer.created", 1, 1, sql_time(0, 0), "{}", 2), CRM_OK);
    ck_assert_uint_eq(sequence(other), 0); /* skipped while its transaction is open */
    ck_assert_int_eq(crm_outbox_fetch(other, arena, 0, 2, ev, &n), CRM_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(crm_db_commit(db), CRM_OK);
    /* Committed but not numbered yet: not delivered, but pending. */
    ck_assert_int_eq(crm_outbox_fetch(other, arena, 0, 2, ev, &n), CRM_OK);
    ck_assert_uint_eq(n, 0);
    int64_t count = 0;
    double age = 0;
    ck_assert_int_eq(crm_outbox_pending(other, "sales", &count, &age), CRM_OK);
    ck_assert_int_eq(count, 1);
    ck_assert_uint_eq(sequence(other), 1);
    ck_assert_int_eq(crm_outbox_fetch(other, arena, 0, 2, ev, &n), CRM_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(sequence(other), 0); /* numbered once */
    crm_db_free(other);
}
END_TEST

/*
 * The bug this order of numbering exists for: A inserts (id 1) and stays
 * open, B inserts (id 2) and commits, a subscriber receives everything
 * visible and its cursor moves; then A commits. A cursor on ids would now
 * be past A's event forever. Numbered at commit, A comes after B.
 */
START_TEST(test_outbox_commit_order)
{
    crm_db *b = db_fixture_open();
    crm_event ev[4];
    size_t n = 0;

    ck_assert_int_eq(crm_db_begin(db), CRM_OK);
    ck_assert_int_eq(crm_outbox_add(db, "customer.created", 1, 1, sql_time(0, 0), "{\"a\":1}", 7),
                     CRM_OK);
    ck_assert_int_eq(crm_db_begin(b), CRM_OK);
    ck_assert_int_eq(crm_outbox_add(b, "customer.created", 2, 1, sql_time(0, 0), "{\"b\":1}", 7),
                     CRM_OK);
    ck_assert_int_eq(crm_db_commit(b), CRM_OK);
    ck_assert_int_eq(db_q_int(b, "SELECT COUNT(*) FROM outbox WHERE aggregate_id = 1", NULL), 0);

    /* The relay's round: B only (A's row is locked by its open transaction). */
    ck_assert_uint_eq(sequence(b), 1);
    ck_assert_int_eq(crm_outbox_fetch(b, arena, 0, 4, ev, &n), CRM_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(ev[0].aggregate_id, 2);
    int64_t cursor = ev[0].seq;
    ck_assert_int_eq(crm_outbox_cursor_set(b, "sales", cursor), CRM_OK);

    /* A commits later, with the smaller id. */
    ck_assert_int_eq(crm_db_commit(db), CRM_OK);
    ck_assert_int_lt(db_q_int(b, "SELECT id FROM outbox WHERE aggregate_id = 1", NULL),
                     db_q_int(b, "SELECT id FROM outbox WHERE aggregate_id = 2", NULL));
    int64_t count = 0;
    double age = 0;
    ck_assert_int_eq(crm_outbox_pending(b, "sales", &count, &age), CRM_OK);
    ck_assert_int_eq(count, 1);
    ck_assert_uint_eq(sequence(b), 1);
    ck_assert_int_eq(crm_outbox_fetch(b, arena, cursor, 4, ev, &n), CRM_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(ev[0].aggregate_id, 1);
    ck_assert_int_gt(ev[0].seq, cursor);
    crm_db_free(b);
}
END_TEST

START_TEST(test_outbox_add_refuses)
{
    const char *at = "2026-11-27 12:00:00.000000";
    char t65[70];
    memset(t65, 'a', 65);
    t65[65] = '\0';
    const char *deep = "{\"a\":{\"b\":[[{\"c\":[]}]]}}";   /* 6 levels */
    const char *deep_ok = "{\"a\":{\"b\":[[{\"c\":1}]]}}"; /* 5 levels */
    /* 9001 values: an object of 9000 members. */
    crm_buf big;
    crm_buf_init(&big, 0);
    crm_buf_putc(&big, '{');
    for (int i = 0; i < 9000; i++)
        crm_buf_printf(&big, "%s\"k%d\":0", i ? "," : "", i);
    crm_buf_putc(&big, '}');

    ck_assert_int_eq(crm_db_begin(db), CRM_OK);
    ck_assert_int_eq(crm_outbox_add(db, "", 1, 1, at, "{}", 2), CRM_INVALID);
    ck_assert_int_eq(crm_outbox_add(db, NULL, 1, 1, at, "{}", 2), CRM_INVALID);
    ck_assert_int_eq(crm_outbox_add(db, t65, 1, 1, at, "{}", 2), CRM_INVALID);
    ck_assert_int_eq(crm_outbox_add(db, "Customer.created", 1, 1, at, "{}", 2), CRM_INVALID);
    ck_assert_int_eq(crm_outbox_add(db, "customer.created", 0, 1, at, "{}", 2), CRM_INVALID);
    ck_assert_int_eq(crm_outbox_add(db, "customer.created", -1, 1, at, "{}", 2), CRM_INVALID);
    ck_assert_int_eq(crm_outbox_add(db, "customer.created", 1, 0, at, "{}", 2), CRM_INVALID);
    ck_assert_int_eq(crm_outbox_add(db, "customer.created", 1, 4294967296LL, at, "{}", 2),
                     CRM_INVALID);
    ck_assert_int_eq(crm_outbox_add(db, "customer.created", 1, 1, NULL, "{}", 2), CRM_INVALID);
    const char *const bad[] = { "",           "[]",    "null", "{", "{\"a\":1,\"a\":2}",
                                "{\"a\":01}", "{} {}", deep };
    for (size_t i = 0; i < CRM_NELEM(bad); i++)
        ck_assert_msg(crm_outbox_add(db, "customer.created", 1, 1, at, bad[i], strlen(bad[i])) ==
                          CRM_INVALID,
                      "payload '%s' taken", bad[i]);
    ck_assert_int_eq(crm_outbox_add(db, "customer.created", 1, 1, at, NULL, 0), CRM_INVALID);
    ck_assert_int_eq(crm_outbox_add(db, "customer.created", 1, 1, at, big.data, big.len),
                     CRM_INVALID);
    /* The payload is taken up to len, not to a NUL. */
    ck_assert_int_eq(crm_outbox_add(db, "customer.created", 1, 1, at, "{}junk", 2), CRM_OK);
    /* A time the database cannot take is its error. */
    ck_assert_int_eq(crm_outbox_add(db, "customer.created", 1, 1, "yesterday", "{}", 2), CRM_ERR);
    ck_assert_int_eq(crm_db_rollback(db), CRM_OK);
    ck_assert_int_eq(outbox_rows(), 0);

    /* At the limits: accepted. */
    big.len = 0;
    crm_buf_putc(&big, '{');
    for (int i = 0; i < 8999; i++)
        crm_buf_printf(&big, "%s\"k%d\":0", i ? "," : "", i);
    crm_buf_putc(&big, '}');
    ck_assert_int_eq(crm_db_begin(db), CRM_OK);
    ck_assert_int_eq(crm_outbox_add(db, "customer.created", 1, 1, at, big.data, big.len), CRM_OK);
    ck_assert_int_eq(crm_outbox_add(db, "customer.created", INT64_MAX, 4294967295LL, at, deep_ok,
                                    strlen(deep_ok)),
                     CRM_OK);
    ck_assert_int_eq(crm_db_commit(db), CRM_OK);
    crm_buf_free(&big);
    ck_assert_uint_eq(sequence(db), 2);

    /* ... and each fits a batch on its own. */
    crm_event ev[2];
    size_t n = 0;
    ck_assert_int_eq(crm_outbox_fetch(db, arena, 0, 2, ev, &n), CRM_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(ev[1].aggregate_id, INT64_MAX);
    ck_assert_int_eq(ev[1].aggregate_version, 4294967295LL);
    for (size_t i = 0; i < 2; i++) {
        crm_buf b;
        crm_event *got = NULL;
        size_t m = 0;
        const char *why = NULL;
        ev[i].source = "customers";
        crm_buf_init(&b, 0);
        crm_event_batch_json(&b, &ev[i], 1);
        ck_assert_msg(crm_event_batch_parse(arena, b.data, b.len, &got, &m, &why) == CRM_OK,
                      "event %zu: %s", i, why);
        ck_assert_str_eq(got[0].payload, ev[i].payload);
        crm_buf_free(&b);
    }
}
END_TEST

START_TEST(test_cursor_get_set)
{
    int64_t last = 77;
    ck_assert_int_eq(crm_outbox_cursor_get(db, "sales", &last), CRM_OK);
    ck_assert_int_eq(last, 0);

    ck_assert_int_eq(crm_outbox_cursor_set(db, "sales", 5), CRM_OK);
    ck_assert_int_eq(crm_outbox_cursor_get(db, "sales", &last), CRM_OK);
    ck_assert_int_eq(last, 5);
    /* Never backwards. */
    ck_assert_int_eq(crm_outbox_cursor_set(db, "sales", 3), CRM_OK);
    ck_assert_int_eq(crm_outbox_cursor_get(db, "sales", &last), CRM_OK);
    ck_assert_int_eq(last, 5);
    ck_assert_int_eq(crm_outbox_cursor_set(db, "sales", 5), CRM_OK);
    ck_assert_int_eq(crm_outbox_cursor_set(db, "sales", 0), CRM_OK);
    ck_assert_int_eq(crm_outbox_cursor_get(db, "sales", &last), CRM_OK);
    ck_assert_int_eq(last, 5);
    ck_assert_int_eq(crm_outbox_cursor_set(db, "sales", 9), CRM_OK);
    ck_assert_int_eq(crm_outbox_cursor_get(db, "sales", &last), CRM_OK);
    ck_assert_int_eq(last, 9);
    ck_assert_int_eq(crm_outbox_cursor_set(db, "sales", INT64_MAX), CRM_OK);
    ck_assert_int_eq(crm_outbox_cursor_get(db, "sales", &last), CRM_OK);
    ck_assert_int_eq(last, INT64_MAX);

    /* Subscribers are independent; a first set of 0 makes a row. */
    ck_assert_int_eq(crm_outbox_cursor_get(db, "billing", &last), CRM_OK);
    ck_assert_int_eq(last, 0);
    ck_assert_int_eq(crm_outbox_cursor_set(db, "billing", 0), CRM_OK);
    ck_assert_int_eq(db_q_int(db, "SELECT COUNT(*) FROM outbox_cursors", NULL), 2);
    ck_assert_int_eq(
        db_q_int(
            db,
            "SELECT COUNT(*) FROM outbox_cursors WHERE subscriber = ? AND updated_at IS NOT NULL",
            "billing"),
        1);

    /* Inside a transaction, undone with it. */
    ck_assert_int_eq(crm_db_begin(db), CRM_OK);
    ck_assert_int_eq(crm_outbox_cursor_set(db, "billing", 4), CRM_OK);
    ck_assert_int_eq(crm_db_rollback(db), CRM_OK);
    ck_assert_int_eq(crm_outbox_cursor_get(db, "billing", &last), CRM_OK);
    ck_assert_int_eq(last, 0);

    /* Bad arguments. */
    char name33[40];
    memset(name33, 's', 33);
    name33[33] = '\0';
    ck_assert_int_eq(crm_outbox_cursor_set(db, "sales", -1), CRM_INVALID);
    ck_assert_int_eq(crm_outbox_cursor_set(db, "", 1), CRM_INVALID);
    ck_assert_int_eq(crm_outbox_cursor_set(db, NULL, 1), CRM_INVALID);
    ck_assert_int_eq(crm_outbox_cursor_set(db, name33, 1), CRM_INVALID);
    ck_assert_int_eq(crm_outbox_cursor_get(db, "", &last), CRM_INVALID);
    ck_assert_int_eq(crm_outbox_cursor_get(db, name33, &last), CRM_INVALID);
    name33[32] = '\0';
    ck_assert_int_eq(crm_outbox_cursor_set(db, name33, 1), CRM_OK);
}
END_TEST

START_TEST(test_pending)
{
    int64_t count = 9;
    double age = 9;
    ck_assert_int_eq(crm_outbox_pending(db, "sales", &count, &age), CRM_OK);
    ck_assert_int_eq(count, 0);
    ck_assert(age == 0.0);

    add_ok("customer.created", 1, 1, sql_time(100, 0), "{}");
    add_ok("customer.updated", 1, 2, sql_time(50, 0), "{}");
    add_ok("customer.updated", 1, 3, sql_time(10, 500000), "{}");
    crm_event ev[3];
    size_t n = 0;
    ck_assert_int_eq(crm_outbox_fetch(db, arena, 0, 3, ev, &n), CRM_OK);
    ck_assert_uint_eq(n, 3);

    /* No cursor yet: everything is pending, the oldest 100 s old. */
    ck_assert_int_eq(crm_outbox_pending(db, "sales", &count, &age), CRM_OK);
    ck_assert_int_eq(count, 3);
    ck_assert_msg(age >= 99.0 && age < 130.0, "age %f", age);

    ck_assert_int_eq(crm_outbox_cursor_set(db, "sales", ev[0].seq), CRM_OK);
    ck_assert_int_eq(crm_outbox_pending(db, "sales", &count, &age), CRM_OK);
    ck_assert_int_eq(count, 2);
    ck_assert_msg(age >= 49.0 && age < 80.0, "age %f", age);

    ck_assert_int_eq(crm_outbox_cursor_set(db, "sales", ev[1].seq), CRM_OK);
    ck_assert_int_eq(crm_outbox_pending(db, "sales", &count, &age), CRM_OK);
    ck_assert_int_eq(count, 1);
    ck_assert_msg(age >= 9.5 && age < 40.0, "age %f", age);

    /* Another subscriber still has all three. */
    ck_assert_int_eq(crm_outbox_pending(db, "billing", &count, &age), CRM_OK);
    ck_assert_int_eq(count, 3);

    ck_assert_int_eq(crm_outbox_cursor_set(db, "sales", ev[2].seq), CRM_OK);
    ck_assert_int_eq(crm_outbox_pending(db, "sales", &count, &age), CRM_OK);
    ck_assert_int_eq(count, 0);
    ck_assert(age == 0.0);

    /* An event stamped in the future (a producer clock ahead): never negative. */
    add_ok("customer.updated", 1, 4, sql_time(-60, 0), "{}");
    ck_assert_int_eq(crm_outbox_pending(db, "sales", &count, &age), CRM_OK);
    ck_assert_int_eq(count, 1);
    ck_assert(age == 0.0);

    ck_assert_int_eq(crm_outbox_pending(db, "", &count, &age), CRM_INVALID);
}
END_TEST

static Suite *outbox_suite(void)
{
    Suite *s = suite_create("crm_outbox");

    TCase *tc = tcase_create("db");
    tcase_set_timeout(tc, 60);
    if (db_fixture_live(tc)) {
        tcase_add_checked_fixture(tc, db_setup, db_teardown);
        tcase_add_test(tc, test_outbox_add_fetch);
        tcase_add_test(tc, test_outbox_add_in_transaction);
        tcase_add_test(tc, test_outbox_commit_order);
        tcase_add_test(tc, test_outbox_add_refuses);
        tcase_add_test(tc, test_cursor_get_set);
        tcase_add_test(tc, test_pending);
    }
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    crm_log_init("test_crm_outbox", CRM_LOG_WARN);
    if (db_fixture_init("outbox") && db_fixture_create() != CRM_OK)
        return EXIT_FAILURE;
    return db_fixture_run(outbox_suite());
}
