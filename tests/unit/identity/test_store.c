/*
 * test_store.c - the identity service's SQL (store.c) against a live
 * MariaDB/MySQL, on the schema of sql/identity applied by crm_migrate:
 * users (case-insensitive unique emails, versions, lists), and the login
 * throttle counters (counting, the window restarting, concurrent failures
 * from many connections all counted, purging).
 *
 * The server comes from the environment, as scripts/test.sh provides it
 * (see db_fixture.h). The migrations are read from sql/identity under the
 * working directory (the repository root, where scripts/test.sh runs), or
 * from $CRM_IDENTITY_SQL_DIR.
 */
#include "identity.h"

#include "crm_log.h"
#include "crm_migrate.h"

#include "../db_fixture.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define WINDOW 900

static crm_arena *arena;
static crm_db *db;

static const char *sql_dir(void)
{
    const char *d = getenv("CRM_IDENTITY_SQL_DIR");
    return d != NULL && *d != '\0' ? d : "sql/identity";
}

static crm_db *open_multi(void)
{
    crm_db_opts o = db_fixture_opts();
    o.multi_statements = 1;
    crm_db *d = crm_db_new(&o);
    ck_assert_int_eq(crm_db_connect(d), CRM_OK);
    return d;
}

/* Every test starts from the schema freshly migrated, with no rows. */
static void setup(void)
{
    arena = crm_arena_new(4096);
    crm_db *m = open_multi();
    db_exec_ok(m, "DROP TABLE IF EXISTS users, login_failures, schema_migrations");
    ck_assert_msg(crm_migrate_run(m, sql_dir(), "crm_test_identity") == CRM_OK,
                  "migrations in %s did not apply", sql_dir());
    crm_db_free(m);
    db = db_fixture_open();
}

static void teardown(void)
{
    crm_db_free(db);
    crm_arena_free(arena);
}

static user_in new_user(const char *email, const char *role, int active)
{
    user_in in = { .email = email,
                   .name = "Test User",
                   .role = role,
                   .active = active,
                   .password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaA",
                   .now = "2026-01-02 03:04:05.123456" };
    return in;
}

START_TEST(test_migration_twice)
{
    crm_db *m = open_multi();
    int pending = -1;
    ck_assert_int_eq(crm_migrate_run(m, sql_dir(), "crm_test_identity"), CRM_OK);
    ck_assert_int_eq(crm_migrate_pending(m, sql_dir(), &pending), CRM_OK);
    ck_assert_int_eq(pending, 0);
    crm_db_free(m);
}
END_TEST

START_TEST(test_user_round_trip)
{
    user_in in = new_user("ada@example.com", "sales", 1);
    user u;
    int64_t id = 0;

    ck_assert_int_eq(store_user_insert(db, &in, &id), CRM_OK);
    ck_assert_int_gt(id, 0);
    ck_assert_int_eq(store_user_get(db, arena, id, 0, &u), CRM_OK);
    ck_assert_str_eq(u.email, "ada@example.com");
    ck_assert_str_eq(u.role, "sales");
    ck_assert_int_eq(u.active, 1);
    ck_assert_int_eq(u.version, 1);
    ck_assert_str_eq(u.created_at, "2026-01-02T03:04:05.123456Z");
    ck_assert_str_eq(u.password_hash, in.password_hash);

    /* Emails are one account whatever their case. */
    ck_assert_int_eq(store_user_by_email(db, arena, "ADA@example.COM", &u), CRM_OK);
    ck_assert_int_eq(u.id, id);
    user_in dup = new_user("Ada@Example.com", "viewer", 1);
    int64_t other = 0;
    ck_assert_int_eq(store_user_insert(db, &dup, &other), CRM_DUP);
    ck_assert_int_eq(store_user_by_email(db, arena, "nobody@example.com", &u), CRM_NOTFOUND);

    /* An update bumps the version and the time. */
    in.role = "admin";
    in.active = 0;
    in.now = "2026-01-03 00:00:00.000000";
    ck_assert_int_eq(store_user_update(db, id, &in), CRM_OK);
    ck_assert_int_eq(store_user_get(db, arena, id, 0, &u), CRM_OK);
    ck_assert_int_eq(u.version, 2);
    ck_assert_str_eq(u.role, "admin");
    ck_assert_int_eq(u.active, 0);
    ck_assert_str_eq(u.updated_at, "2026-01-03T00:00:00.000000Z");
    ck_assert_int_eq(store_user_update(db, id + 1000, &in), CRM_NOTFOUND);

    /* A delete is gone for good, and frees the email. */
    ck_assert_int_eq(store_user_delete(db, id), CRM_OK);
    ck_assert_int_eq(store_user_get(db, arena, id, 0, &u), CRM_NOTFOUND);
    ck_assert_int_eq(store_user_delete(db, id), CRM_NOTFOUND);
    ck_assert_int_eq(store_user_insert(db, &dup, &other), CRM_OK);
    ck_assert_int_gt(other, id);
}
END_TEST

START_TEST(test_update_to_taken_email)
{
    user_in a = new_user("a@example.com", "sales", 1);
    user_in b = new_user("b@example.com", "sales", 1);
    int64_t ida = 0, idb = 0;
    ck_assert_int_eq(store_user_insert(db, &a, &ida), CRM_OK);
    ck_assert_int_eq(store_user_insert(db, &b, &idb), CRM_OK);
    b.email = "A@EXAMPLE.COM";
    ck_assert_int_eq(store_user_update(db, idb, &b), CRM_DUP);
}
END_TEST

START_TEST(test_list)
{
    static const char *const roles[] = { "sales", "viewer", "sales", "admin", "sales" };
    char emails[5][32];
    int64_t ids[5];
    for (int i = 0; i < 5; i++) {
        snprintf(emails[i], sizeof(emails[i]), "u%d@example.com", 4 - i); /* reverse order */
        user_in in = new_user(emails[i], roles[i], i != 2);
        ck_assert_int_eq(store_user_insert(db, &in, &ids[i]), CRM_OK);
    }
    user rows[8];
    size_t n = 0;
    int64_t count = 0;

    /* By email: u0 (ids[4]) first. */
    user_filter f = { .sort = SORT_EMAIL_ASC, .active = -1, .limit = 8 };
    ck_assert_int_eq(store_user_list(db, arena, &f, rows, &n), CRM_OK);
    ck_assert_uint_eq(n, 5);
    ck_assert_int_eq(rows[0].id, ids[4]);
    ck_assert_str_eq(rows[0].sort_value, "u0@example.com");

    /* Filters: sales and active. */
    f.role = "sales";
    f.active = 1;
    ck_assert_int_eq(store_user_list(db, arena, &f, rows, &n), CRM_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(store_user_count(db, &f, &count), CRM_OK);
    ck_assert_int_eq(count, 2);
    f.active = 0;
    ck_assert_int_eq(store_user_count(db, &f, &count), CRM_OK);
    ck_assert_int_eq(count, 1);

    /* Keyset paging: after u1, descending by email. */
    user_filter p = { .sort = SORT_EMAIL_DESC,
                      .active = -1,
                      .after = 1,
                      .after_value = "u2@example.com",
                      .after_id = ids[2],
                      .limit = 8 };
    ck_assert_int_eq(store_user_list(db, arena, &p, rows, &n), CRM_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(rows[0].email, "u1@example.com");
    ck_assert_str_eq(rows[1].email, "u0@example.com");

    /* Every sort runs. */
    for (int s = 0; s < SORT_COUNT; s++) {
        user_filter q = { .sort = s, .active = -1, .limit = 2 };
        ck_assert_int_eq(store_user_list(db, arena, &q, rows, &n), CRM_OK);
        ck_assert_uint_eq(n, 2);
        q.after = 1;
        q.after_value = rows[1].sort_value;
        q.after_id = rows[1].id;
        ck_assert_int_eq(store_user_list(db, arena, &q, rows, &n), CRM_OK);
        ck_assert_uint_eq(n, 2);
    }
}
END_TEST

static void get(const char *account, const char *address, throttle_state *acct,
                throttle_state *addr)
{
    ck_assert_int_eq(store_throttle_get(db, account, address, WINDOW, acct, addr), CRM_OK);
}

START_TEST(test_throttle_counts)
{
    throttle_state acct, addr;
    get("a@x.io", "10.0.0.1", &acct, &addr);
    ck_assert_int_eq(acct.failures, 0);
    ck_assert_int_eq(addr.failures, 0);

    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(store_throttle_fail(db, "a@x.io", "10.0.0.1", WINDOW), CRM_OK);
    get("a@x.io", "10.0.0.1", &acct, &addr);
    ck_assert_int_eq(acct.failures, 3);
    ck_assert_int_eq(addr.failures, 3);
    /* The window runs about WINDOW seconds from the first failure. */
    ck_assert_int_gt(acct.remaining_us, (int64_t)(WINDOW - 30) * 1000000);
    ck_assert_int_le(acct.remaining_us, (int64_t)WINDOW * 1000000);

    /* Another account from the same address: the address counts both. */
    ck_assert_int_eq(store_throttle_fail(db, "b@x.io", "10.0.0.1", WINDOW), CRM_OK);
    get("b@x.io", "10.0.0.1", &acct, &addr);
    ck_assert_int_eq(acct.failures, 1);
    ck_assert_int_eq(addr.failures, 4);
    /* The same account from another address: the account counts both. */
    get("a@x.io", "10.0.0.2", &acct, &addr);
    ck_assert_int_eq(acct.failures, 3);
    ck_assert_int_eq(addr.failures, 0);

    /* A success forgets the account's failures, and gives the address back
       the one attempt it counted (the login itself), not the others. */
    ck_assert_int_eq(store_throttle_fail(db, "a@x.io", "10.0.0.1", WINDOW), CRM_OK);
    ck_assert_int_eq(store_throttle_reset(db, "a@x.io", "10.0.0.1"), CRM_OK);
    get("a@x.io", "10.0.0.1", &acct, &addr);
    ck_assert_int_eq(acct.failures, 0);
    ck_assert_int_eq(addr.failures, 4);
    /* Never below zero. */
    ck_assert_int_eq(store_throttle_reset(db, "b@x.io", "10.0.0.9"), CRM_OK);
    get("b@x.io", "10.0.0.9", &acct, &addr);
    ck_assert_int_eq(addr.failures, 0);
}
END_TEST

START_TEST(test_throttle_window_restarts)
{
    throttle_state acct, addr;
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(store_throttle_fail(db, "a@x.io", "10.0.0.1", WINDOW), CRM_OK);
    /* The window ended a second ago. */
    db_exec_ok(db, "UPDATE login_failures SET window_start = window_start - INTERVAL 901 SECOND");
    get("a@x.io", "10.0.0.1", &acct, &addr);
    ck_assert_int_eq(acct.failures, 5);
    ck_assert_int_lt(acct.remaining_us, 0);
    ck_assert_int_eq(throttle_retry_after(acct.failures, acct.remaining_us, 5), 0);

    /* The next failure starts a new window at 1. */
    ck_assert_int_eq(store_throttle_fail(db, "a@x.io", "10.0.0.1", WINDOW), CRM_OK);
    get("a@x.io", "10.0.0.1", &acct, &addr);
    ck_assert_int_eq(acct.failures, 1);
    ck_assert_int_eq(addr.failures, 1);
    ck_assert_int_gt(acct.remaining_us, (int64_t)(WINDOW - 30) * 1000000);
}
END_TEST

START_TEST(test_throttle_concurrent)
{
    enum { PROCS = 8, EACH = 25 };
    pid_t pids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        pids[p] = fork();
        ck_assert_int_ge(pids[p], 0);
        if (pids[p] == 0) {
            crm_db_opts o = db_fixture_opts();
            crm_db *mine = crm_db_new(&o);
            int bad = crm_db_connect(mine) != CRM_OK;
            for (int i = 0; i < EACH && !bad; i++) {
                int rc;
                do
                    rc = store_throttle_fail(mine, "a@x.io", "10.0.0.1", WINDOW);
                while (rc == CRM_CONFLICT);
                bad = rc != CRM_OK;
            }
            crm_db_free(mine);
            _exit(bad ? 1 : 0);
        }
    }
    for (int p = 0; p < PROCS; p++) {
        int st = 0;
        ck_assert_int_eq(waitpid(pids[p], &st, 0), pids[p]);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a writer failed");
    }
    throttle_state acct, addr;
    get("a@x.io", "10.0.0.1", &acct, &addr);
    ck_assert_int_eq(acct.failures, PROCS * EACH);
    ck_assert_int_eq(addr.failures, PROCS * EACH);
}
END_TEST

START_TEST(test_throttle_purge)
{
    ck_assert_int_eq(store_throttle_fail(db, "old@x.io", "10.0.0.1", WINDOW), CRM_OK);
    db_exec_ok(db, "UPDATE login_failures SET window_start = window_start - INTERVAL 2000 SECOND");
    ck_assert_int_eq(store_throttle_fail(db, "new@x.io", "10.0.0.2", WINDOW), CRM_OK);
    ck_assert_int_eq(store_throttle_purge(db, WINDOW, 100), CRM_OK);
    crm_db *q = db_fixture_open();
    ck_assert_int_eq(db_q_int(q, "SELECT COUNT(*) FROM login_failures", NULL), 2);
    ck_assert_int_eq(
        db_q_int(q, "SELECT COUNT(*) FROM login_failures WHERE throttle_key = ?", "new@x.io"), 1);
    crm_db_free(q);
}
END_TEST

static Suite *store_suite(void)
{
    Suite *s = suite_create("identity store");
    TCase *tc = tcase_create("db");
    tcase_set_timeout(tc, 60);
    if (db_fixture_live(tc)) {
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_migration_twice);
        tcase_add_test(tc, test_user_round_trip);
        tcase_add_test(tc, test_update_to_taken_email);
        tcase_add_test(tc, test_list);
        tcase_add_test(tc, test_throttle_counts);
        tcase_add_test(tc, test_throttle_window_restarts);
        tcase_add_test(tc, test_throttle_concurrent);
        tcase_add_test(tc, test_throttle_purge);
    }
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    crm_log_init("test_store", CRM_LOG_WARN);
    store_init();
    if (db_fixture_init("identity_store") && db_fixture_create() != CRM_OK)
        return EXIT_FAILURE;
    return db_fixture_run(store_suite());
}
