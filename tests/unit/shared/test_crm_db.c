/*
 * test_crm_db.c - crm_db against a live MariaDB/MySQL.
 *
 * The server comes from the environment, as the test runner provides it:
 *   CRM_TEST_DB_SOCKET    unix socket (required: without it the suite FAILS)
 *   CRM_TEST_DB_USER      an account that may create and drop a database
 *   CRM_TEST_DB_PASSWORD  its password (may be empty or unset)
 * The suite works in its own scratch database crm_test_db_<pid>, created
 * before the first test and dropped after the last.
 */
#include "crm_db.h"
#include "crm_log.h"

#include "../db_fixture.h"

#include <check.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static crm_db *open_db(int multi)
{
    crm_db_opts o = db_fixture_opts();
    o.multi_statements = multi;
    return crm_db_new(&o);
}

/* The single string a parameterless query returns, copied. */
static char *q_str(crm_db *db, const char *sql)
{
    crm_stmt *st = db_stmt(db, sql);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    ck_assert_int_eq(crm_stmt_fetch(st), CRM_OK);
    size_t n;
    const char *s = crm_stmt_col_str(st, 0, &n);
    ck_assert_ptr_nonnull(s);
    char *copy = strndup(s, n);
    crm_stmt_done(st);
    return copy;
}

static int64_t conn_id(crm_db *db)
{
    return db_q_int(db, "SELECT CONNECTION_ID()", NULL);
}

/* Kill a connection from another one. KILL takes a literal id: the only
   SQL built by formatting, in a test, from a number the server gave us. */
static void kill_conn(int64_t id)
{
    char sql[64];
    crm_db *k = db_fixture_open();
    snprintf(sql, sizeof(sql), "KILL %" PRId64, id);
    db_exec_ok(k, sql);
    crm_db_free(k);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------- */

START_TEST(session_settings)
{
    crm_db *db = open_db(0);
    ck_assert_int_eq(crm_db_connected(db), 0);
    ck_assert_uint_eq(crm_db_connects(db), 0);
    ck_assert_int_eq(crm_db_connect(db), CRM_OK);
    ck_assert_int_eq(crm_db_connected(db), 1);
    ck_assert_uint_eq(crm_db_connects(db), 1);
    ck_assert_int_eq(crm_db_connect(db), CRM_OK); /* already up: no new connect */
    ck_assert_uint_eq(crm_db_connects(db), 1);
    ck_assert_int_eq(crm_db_ping(db), CRM_OK);

    char *tz = q_str(db, "SELECT @@session.time_zone");
    ck_assert_str_eq(tz, "+00:00");
    free(tz);
    char *mode = q_str(db, "SELECT @@session.sql_mode");
    ck_assert_ptr_nonnull(strstr(mode, "STRICT_ALL_TABLES"));
    ck_assert_ptr_nonnull(strstr(mode, "NO_ZERO_DATE"));
    ck_assert_ptr_nonnull(strstr(mode, "ERROR_FOR_DIVISION_BY_ZERO"));
    free(mode);
    char *cs = q_str(db, "SELECT CONCAT(@@character_set_client, ',', @@character_set_connection,"
                         " ',', @@character_set_results)");
    ck_assert_str_eq(cs, "utf8mb4,utf8mb4,utf8mb4");
    free(cs);
    ck_assert_int_eq(db_q_int(db, "SELECT UNIX_TIMESTAMP('1970-01-01 00:00:01')", NULL), 1);
    ck_assert_int_eq(db_q_int(db, "SELECT @@autocommit", NULL), 1);
    char *dbn = q_str(db, "SELECT DATABASE()");
    ck_assert_str_eq(dbn, db_fixture_name());
    free(dbn);
    crm_db_free(db);
}
END_TEST

START_TEST(connect_failure)
{
    crm_db_opts o = { 0 };
    o.socket = "/nonexistent/crm-test.sock";
    o.user = db_fixture_opts().user;
    o.timeout = 2;
    crm_db *db = crm_db_new(&o);
    ck_assert_int_eq(crm_db_connect(db), CRM_GONE);
    ck_assert_int_eq(crm_db_connected(db), 0);
    ck_assert_ptr_null(crm_db_stmt(db, 1, "SELECT 1"));
    ck_assert_int_eq(crm_db_status(db), CRM_GONE);
    ck_assert_int_eq(crm_db_exec_sql(db, "DO 1"), CRM_GONE);
    ck_assert_int_eq(crm_db_begin(db), CRM_GONE);
    ck_assert_int_eq(crm_db_rollback(db), CRM_OK); /* nothing to undo */
    ck_assert_int_eq(crm_db_ping(db), CRM_GONE);
    ck_assert_int_eq(crm_db_lock(db, "x", 0), CRM_GONE);
    ck_assert_uint_eq(crm_db_connects(db), 0);
    crm_db_free(db);
    crm_db_free(NULL);
}
END_TEST

START_TEST(bind_fetch_ints)
{
    crm_db *db = db_fixture_open();
    db_exec_ok(db, "CREATE TABLE t_int (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
                   " v BIGINT NULL, u BIGINT UNSIGNED NULL, t TINYINT NULL)");
    static const int64_t vals[] = { 0, 1, -1, 42, INT64_MAX, INT64_MIN, 1LL << 53 };
    const char *ins = "INSERT INTO t_int (v, u, t) VALUES (?, ?, ?)";
    for (size_t i = 0; i < CRM_NELEM(vals); i++) {
        crm_stmt *st = db_stmt(db, ins);
        crm_stmt_bind_int(st, 0, vals[i]);
        crm_stmt_bind_int(st, 1, (int64_t)i);
        crm_stmt_bind_int(st, 2, -(int64_t)i);
        ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
        ck_assert_uint_eq(crm_stmt_affected(st), 1);
        ck_assert_uint_eq(crm_stmt_insert_id(st), i + 1);
    }
    crm_stmt *st = db_stmt(db, ins);
    crm_stmt_bind_null(st, 0);
    crm_stmt_bind_str(st, 1, "18446744073709551615", 20); /* a string into an integer */
    crm_stmt_bind_null(st, 2);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);

    st = db_stmt(db, "SELECT id, v, u, t FROM t_int ORDER BY id");
    ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    for (size_t i = 0; i < CRM_NELEM(vals); i++) {
        ck_assert_int_eq(crm_stmt_fetch(st), CRM_OK);
        ck_assert_int_eq(crm_stmt_col_int(st, 0), (int64_t)i + 1);
        ck_assert_int_eq(crm_stmt_col_null(st, 1), 0);
        ck_assert_int_eq(crm_stmt_col_int(st, 1), vals[i]);
        ck_assert_int_eq(crm_stmt_col_int(st, 2), (int64_t)i);
        ck_assert_int_eq(crm_stmt_col_int(st, 3), -(int64_t)i);
    }
    ck_assert_int_eq(crm_stmt_fetch(st), CRM_OK);
    ck_assert_int_eq(crm_stmt_col_null(st, 1), 1);
    ck_assert_int_eq(crm_stmt_col_int(st, 1), 0);
    size_t n = 99;
    ck_assert_ptr_null(crm_stmt_col_str(st, 1, &n));
    ck_assert_uint_eq(n, 0);
    /* Integers read as text, unsigned ones past INT64_MAX included. */
    ck_assert_str_eq(crm_stmt_col_str(st, 2, &n), "18446744073709551615");
    ck_assert_uint_eq(n, 20);
    ck_assert_int_eq(crm_stmt_col_null(st, 3), 1);
    ck_assert_int_eq(crm_stmt_fetch(st), CRM_NOTFOUND);
    ck_assert_int_eq(crm_stmt_fetch(st), CRM_NOTFOUND);

    /* Text of a negative integer; integer of a text column. */
    st = db_stmt(db, "SELECT v, CAST(v AS CHAR) FROM t_int WHERE id = ?");
    crm_stmt_bind_int(st, 0, 6);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    ck_assert_int_eq(crm_stmt_fetch(st), CRM_OK);
    ck_assert_str_eq(crm_stmt_col_str(st, 0, &n), "-9223372036854775808");
    ck_assert_int_eq(crm_stmt_col_int(st, 1), INT64_MIN);
    crm_stmt_done(st);
    ck_assert_int_eq(crm_stmt_fetch(st), CRM_NOTFOUND);

    /* Parameters in expressions; a placeholder's column has no type yet. */
    st = db_stmt(db, "SELECT ? + 1, ?");
    crm_stmt_bind_int(st, 0, 41);
    crm_stmt_bind_int(st, 1, -7);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    ck_assert_int_eq(crm_stmt_fetch(st), CRM_OK);
    ck_assert_int_eq(crm_stmt_col_int(st, 0), 42);
    ck_assert_int_eq(crm_stmt_col_int(st, 1), -7);
    crm_stmt_done(st);

    /* affected rows of an UPDATE; a statement without a result. */
    st = db_stmt(db, "UPDATE t_int SET t = 1 WHERE id <= ?");
    crm_stmt_bind_int(st, 0, 3);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    ck_assert_uint_eq(crm_stmt_affected(st), 3);
    ck_assert_int_eq(crm_stmt_fetch(st), CRM_NOTFOUND);
    crm_db_free(db);
}
END_TEST

static char *pattern(size_t n, char seed)
{
    char *s = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        s[i] = (char)('a' + (seed + i * 7) % 26);
    s[n] = '\0';
    return s;
}

START_TEST(bind_fetch_strings)
{
    crm_db *db = db_fixture_open();
    db_exec_ok(db, "CREATE TABLE t_str (id INT NOT NULL PRIMARY KEY, s MEDIUMTEXT NULL)"
                   " DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci");
    char *l255 = pattern(255, 1), *l256 = pattern(256, 2), *l257 = pattern(257, 3);
    char *big = pattern(100000, 4), *bigger = pattern(3u << 20, 5);
    /* Four-byte UTF-8 (emoji), accents, Polish, Japanese; 40 of them. */
    const char *uni = "😀 Zoë Łukasz José 広志 🚀";
    char *many = malloc(40 * strlen(uni) + 1);
    many[0] = '\0';
    for (int i = 0; i < 40; i++)
        strcat(many, uni);
    struct {
        const char *s;
        size_t n;
    } rows[] = {
        { "", 0 },
        { NULL, 0 },
        { "hello", 5 },
        { big, 100000 },
        { "short again", 11 },
        { uni, strlen(uni) },
        { l255, 255 },
        { l256, 256 },
        { l257, 257 },
        { bigger, 3u << 20 },
        { many, strlen(many) },
        { "a\0b", 3 }, /* lengths, not NUL-termination */
        { "x", 1 },
    };
    for (size_t i = 0; i < CRM_NELEM(rows); i++) {
        crm_stmt *st = db_stmt(db, "INSERT INTO t_str (id, s) VALUES (?, ?)");
        crm_stmt_bind_int(st, 0, (int64_t)i);
        crm_stmt_bind_str(st, 1, rows[i].s, rows[i].n);
        ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    }
    crm_stmt *st = db_stmt(db, "SELECT id, s, CHAR_LENGTH(s) FROM t_str ORDER BY id");
    ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    for (size_t i = 0; i < CRM_NELEM(rows); i++) {
        ck_assert_int_eq(crm_stmt_fetch(st), CRM_OK);
        ck_assert_int_eq(crm_stmt_col_int(st, 0), (int64_t)i);
        size_t n = 12345;
        const char *s = crm_stmt_col_str(st, 1, &n);
        if (rows[i].s == NULL) {
            ck_assert_int_eq(crm_stmt_col_null(st, 1), 1);
            ck_assert_ptr_null(s);
            ck_assert_uint_eq(n, 0);
            continue;
        }
        ck_assert_int_eq(crm_stmt_col_null(st, 1), 0);
        ck_assert_ptr_nonnull(s);
        ck_assert_uint_eq(n, rows[i].n);
        ck_assert_msg(memcmp(s, rows[i].s, n) == 0, "row %zu differs", i);
        ck_assert_int_eq(s[n], '\0');
    }
    ck_assert_int_eq(crm_stmt_fetch(st), CRM_NOTFOUND);

    /* The server sees characters, not bytes: utf8mb4 end to end. */
    st = db_stmt(db, "SELECT CHAR_LENGTH(s), LENGTH(s) FROM t_str WHERE id = ?");
    crm_stmt_bind_int(st, 0, 5);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    ck_assert_int_eq(crm_stmt_fetch(st), CRM_OK);
    ck_assert_int_eq(crm_stmt_col_int(st, 0), 22);
    ck_assert_int_eq(crm_stmt_col_int(st, 1), (int64_t)strlen(uni));
    crm_stmt_done(st);
    st = db_stmt(db, "SELECT id FROM t_str WHERE s = ?");
    crm_stmt_bind_str(st, 0, uni, strlen(uni));
    ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    ck_assert_int_eq(crm_stmt_fetch(st), CRM_OK);
    ck_assert_int_eq(crm_stmt_col_int(st, 0), 5);
    crm_stmt_done(st);

    /* Dates come back as text in UTC. */
    char *dt = q_str(db, "SELECT CAST('2026-11-27 12:00:00.123456' AS DATETIME(6))");
    ck_assert_str_eq(dt, "2026-11-27 12:00:00.123456");
    free(dt);
    dt = q_str(db, "SELECT FROM_UNIXTIME(0)");
    ck_assert_str_eq(dt, "1970-01-01 00:00:00");
    free(dt);

    free(l255);
    free(l256);
    free(l257);
    free(big);
    free(bigger);
    free(many);
    crm_db_free(db);
}
END_TEST

START_TEST(optional_binds_and_copies)
{
    crm_db *db = db_fixture_open();
    crm_arena *a = crm_arena_new(1024);
    db_exec_ok(db, "CREATE TABLE t_opt (id INT NOT NULL PRIMARY KEY, s VARCHAR(40) NULL,"
                   " ref BIGINT NULL, at DATETIME(6) NULL) DEFAULT CHARSET=utf8mb4");
    struct {
        const char *s;
        int64_t ref;
        const char *at;
    } rows[] = {
        { "Zo\xC3\xAB \xF0\x9F\x98\x80", 5, "2026-11-27 12:00:00.123456" },
        { NULL, 0, NULL },
        { "", -4, "1970-01-01 00:00:00.000001" },
        { "a", INT64_MAX, "9999-12-31 23:59:59.999999" },
    };
    const char *ins = "INSERT INTO t_opt (id, s, ref, at) VALUES (?, ?, ?, ?)";
    for (size_t i = 0; i < CRM_NELEM(rows); i++) {
        crm_stmt *st = db_stmt(db, ins);
        crm_stmt_bind_int(st, 0, (int64_t)i);
        crm_stmt_bind_opt_str(st, 1, rows[i].s);
        crm_stmt_bind_opt_id(st, 2, rows[i].ref);
        crm_stmt_bind_opt_str(st, 3, rows[i].at);
        ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    }
    /* What the server stored: NULL exactly where the binds said so. */
    ck_assert_int_eq(db_q_int(db, "SELECT COUNT(*) FROM t_opt WHERE s IS NULL", NULL), 1);
    ck_assert_int_eq(db_q_int(db, "SELECT COUNT(*) FROM t_opt WHERE ref IS NULL", NULL), 2);
    ck_assert_int_eq(db_q_int(db, "SELECT COUNT(*) FROM t_opt WHERE at IS NULL", NULL), 1);
    ck_assert_int_eq(db_q_int(db, "SELECT COUNT(*) FROM t_opt WHERE s = ''", NULL), 1);

    crm_stmt *st = db_stmt(db, "SELECT id, s, ref, at FROM t_opt ORDER BY id");
    ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    const char *first_s = NULL, *first_at = NULL;
    for (size_t i = 0; i < CRM_NELEM(rows); i++) {
        ck_assert_int_eq(crm_stmt_fetch(st), CRM_OK);
        ck_assert_int_eq(crm_stmt_col_int(st, 0), (int64_t)i);
        const char *s = crm_stmt_col_dup(st, a, 1);
        const char *at = crm_stmt_col_iso(st, a, 3);
        if (rows[i].s == NULL) {
            ck_assert_ptr_null(s);
        } else {
            ck_assert_ptr_nonnull(s); /* "" stays a value, not NULL */
            ck_assert_str_eq(s, rows[i].s);
        }
        if (rows[i].ref > 0) {
            ck_assert_int_eq(crm_stmt_col_null(st, 2), 0);
            ck_assert_int_eq(crm_stmt_col_int(st, 2), rows[i].ref);
        } else {
            ck_assert_int_eq(crm_stmt_col_null(st, 2), 1);
            ck_assert_ptr_null(crm_stmt_col_dup(st, a, 2));
            ck_assert_ptr_null(crm_stmt_col_iso(st, a, 2));
        }
        if (rows[i].at == NULL) {
            ck_assert_int_eq(crm_stmt_col_null(st, 3), 1);
            ck_assert_ptr_null(at);
        } else {
            /* DATETIME(6) as ISO 8601 UTC: "YYYY-MM-DDTHH:MM:SS.ffffffZ". */
            char want[40];
            snprintf(want, sizeof(want), "%.10sT%sZ", rows[i].at, rows[i].at + 11);
            ck_assert_str_eq(at, want);
            ck_assert_uint_eq(strlen(at), 27);
        }
        if (i == 0) {
            first_s = s;
            first_at = at;
            /* A number column copies as its text. */
            ck_assert_str_eq(crm_stmt_col_dup(st, a, 2), "5");
        }
    }
    ck_assert_int_eq(crm_stmt_fetch(st), CRM_NOTFOUND);
    crm_stmt_done(st);
    /* The copies live in the arena: past later fetches and the result's end. */
    ck_assert_str_eq(first_s, rows[0].s);
    ck_assert_str_eq(first_at, "2026-11-27T12:00:00.123456Z");

    /* A bound empty string and an id of 0 through an expression. */
    st = db_stmt(db, "SELECT ? IS NULL, ? IS NULL, ? IS NULL, ?");
    crm_stmt_bind_opt_str(st, 0, NULL);
    crm_stmt_bind_opt_str(st, 1, "");
    crm_stmt_bind_opt_id(st, 2, 0);
    crm_stmt_bind_opt_id(st, 3, 77);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    ck_assert_int_eq(crm_stmt_fetch(st), CRM_OK);
    ck_assert_int_eq(crm_stmt_col_int(st, 0), 1);
    ck_assert_int_eq(crm_stmt_col_int(st, 1), 0);
    ck_assert_int_eq(crm_stmt_col_int(st, 2), 1);
    ck_assert_int_eq(crm_stmt_col_int(st, 3), 77);
    crm_stmt_done(st);

    /* A DATETIME(6) computed by the server reads back the same way. */
    st = db_stmt(
        db, "SELECT CAST('2026-01-02 03:04:05.000000' AS DATETIME(6)), CAST(NULL AS DATETIME(6))");
    ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    ck_assert_int_eq(crm_stmt_fetch(st), CRM_OK);
    ck_assert_str_eq(crm_stmt_col_iso(st, a, 0), "2026-01-02T03:04:05.000000Z");
    ck_assert_ptr_null(crm_stmt_col_iso(st, a, 1));
    crm_stmt_done(st);
    crm_arena_free(a);
    crm_db_free(db);
}
END_TEST

/* Keyset pages and single-integer queries, as the services' lists use them. */
START_TEST(page_binds_and_count)
{
    crm_db *db = db_fixture_open();
    db_exec_ok(db, "CREATE TABLE t_page (id INT NOT NULL PRIMARY KEY, k VARCHAR(8) NOT NULL)");
    db_exec_ok(db, "INSERT INTO t_page VALUES (1,'a'),(2,'b'),(3,'b'),(4,'c'),(5,'d')");
    const char *first = "SELECT id FROM t_page WHERE k <> ? ORDER BY k, id LIMIT ?";
    const char *after = "SELECT id FROM t_page WHERE k <> ?"
                        " AND (k > ? OR (k = ? AND id > ?)) ORDER BY k, id LIMIT ?";

    /* No cursor: only the limit after the filters. */
    crm_stmt *st = db_stmt(db, first);
    crm_stmt_bind_str(st, 0, "z", 1);
    ck_assert_uint_eq(crm_stmt_bind_page(st, 1, 0, "ignored", 99, 2), 2);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    ck_assert_int_eq(crm_stmt_fetch(st), CRM_OK);
    ck_assert_int_eq(crm_stmt_col_int(st, 0), 1);
    ck_assert_int_eq(crm_stmt_fetch(st), CRM_OK);
    ck_assert_int_eq(crm_stmt_col_int(st, 0), 2);
    ck_assert_int_eq(crm_stmt_fetch(st), CRM_NOTFOUND);
    crm_stmt_done(st);

    /* After ("b", 2): value, value, id, then the limit. */
    st = db_stmt(db, after);
    crm_stmt_bind_str(st, 0, "z", 1);
    ck_assert_uint_eq(crm_stmt_bind_page(st, 1, 1, "b", 2, 2), 5);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    ck_assert_int_eq(crm_stmt_fetch(st), CRM_OK);
    ck_assert_int_eq(crm_stmt_col_int(st, 0), 3);
    ck_assert_int_eq(crm_stmt_fetch(st), CRM_OK);
    ck_assert_int_eq(crm_stmt_col_int(st, 0), 4);
    ck_assert_int_eq(crm_stmt_fetch(st), CRM_NOTFOUND);
    crm_stmt_done(st);

    int64_t n = -1;
    st = db_stmt(db, "SELECT COUNT(*) FROM t_page WHERE k = ?");
    crm_stmt_bind_str(st, 0, "b", 1);
    ck_assert_int_eq(crm_stmt_exec_int(st, &n), CRM_OK);
    ck_assert_int_eq(n, 2);
    /* No row: CRM_ERR, the output untouched. */
    n = -1;
    st = db_stmt(db, "SELECT id FROM t_page WHERE id > ?");
    crm_stmt_bind_int(st, 0, 100);
    ck_assert_int_eq(crm_stmt_exec_int(st, &n), CRM_ERR);
    ck_assert_int_eq(n, -1);
    crm_db_free(db);
}
END_TEST

START_TEST(sql_append)
{
    char sql[16] = "SELECT";
    crm_db_sql_append(sql, sizeof(sql), " 1");
    crm_db_sql_append(sql, sizeof(sql), "");
    ck_assert_str_eq(sql, "SELECT 1");
    crm_db_sql_append(sql, sizeof(sql), " FROM t");
    ck_assert_str_eq(sql, "SELECT 1 FROM t"); /* 15 characters + NUL: exactly full */
}
END_TEST

START_TEST(sql_append_overflow_aborts)
{
    char sql[8] = "SELECT";
    crm_db_sql_append(sql, sizeof(sql), " 1"); /* 8 + NUL does not fit */
}
END_TEST

START_TEST(duplicate_and_errors)
{
    crm_db *db = db_fixture_open();
    db_exec_ok(db, "CREATE TABLE t_dup (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
                   " email VARCHAR(20) NOT NULL, UNIQUE KEY (email))");
    const char *ins = "INSERT INTO t_dup (email) VALUES (?)";
    crm_stmt *st = db_stmt(db, ins);
    crm_stmt_bind_str(st, 0, "a@example.com", 13);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    crm_stmt_bind_str(st, 0, "a@example.com", 13);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_DUP);
    ck_assert_int_eq(crm_db_status(db), CRM_DUP);
    crm_stmt_bind_str(st, 0, "b@example.com", 13);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    ck_assert_uint_eq(crm_stmt_insert_id(st), 3);

    /* Strict mode: too long is an error, not a silent truncation. */
    crm_stmt_bind_str(st, 0, "123456789012345678901", 21);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_ERR);
    /* Division by zero in a write is an error too. */
    st = db_stmt(db, "UPDATE t_dup SET id = id / ? WHERE id = 1");
    crm_stmt_bind_int(st, 0, 0);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_ERR);

    /* Binding mistakes fail the exec, not the process. */
    st = db_stmt(db, ins);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_ERR); /* placeholder 0 unbound */
    crm_stmt_bind_str(st, 0, "c@example.com", 13);
    crm_stmt_bind_int(st, 1, 5); /* there is no placeholder 1 */
    ck_assert_int_eq(crm_stmt_exec(st), CRM_ERR);
    /* Binds do not survive an exec (borrowed strings die with it). */
    crm_stmt_bind_str(st, 0, "c@example.com", 13);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_ERR);

    /* Bad SQL, a bad key, a key reused for other SQL. */
    ck_assert_ptr_null(crm_db_stmt(db, 1, "SELEC nonsense FROM"));
    ck_assert_int_eq(crm_db_status(db), CRM_ERR);
    ck_assert_ptr_null(crm_db_stmt(db, 2, "SELECT * FROM no_such_table"));
    ck_assert_int_eq(crm_db_status(db), CRM_ERR);
    ck_assert_ptr_null(crm_db_stmt(db, CRM_DB_MAX_STMTS, "SELECT 1"));
    ck_assert_int_eq(crm_db_status(db), CRM_ERR);
    ck_assert_ptr_nonnull(crm_db_stmt(db, 3, "SELECT 3"));
    ck_assert_ptr_null(crm_db_stmt(db, 3, "SELECT 4"));
    ck_assert_int_eq(crm_db_status(db), CRM_ERR);
    ck_assert_int_eq(crm_db_exec_sql(db, "SELEC 1"), CRM_ERR);
    ck_assert_int_eq(crm_db_exec_sql(db, "SELECT 1; SELECT 2"), CRM_ERR); /* not multi */

    /* None of that cost the connection. */
    ck_assert_int_eq(crm_db_connected(db), 1);
    ck_assert_uint_eq(crm_db_connects(db), 1);
    ck_assert_int_eq(db_q_int(db, "SELECT COUNT(*) FROM t_dup", NULL), 3);
    db_exec_ok(db, "SELECT 1"); /* a result set through exec_sql is drained */
    ck_assert_int_eq(db_q_int(db, "SELECT 7", NULL), 7);
    crm_db_free(db);
}
END_TEST

START_TEST(transactions)
{
    crm_db *db = db_fixture_open();
    crm_db *other = db_fixture_open();
    db_exec_ok(db, "CREATE TABLE t_tx (id INT NOT NULL PRIMARY KEY) ENGINE=InnoDB");
    const char *ins = "INSERT INTO t_tx (id) VALUES (?)";
    const char *count = "SELECT COUNT(*) FROM t_tx";

    ck_assert_int_eq(crm_db_begin(db), CRM_OK);
    crm_stmt *st = db_stmt(db, ins);
    crm_stmt_bind_int(st, 0, 1);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    ck_assert_int_eq(db_q_int(db, count, NULL), 1);
    ck_assert_int_eq(db_q_int(other, count, NULL), 0);
    ck_assert_int_eq(crm_db_rollback(db), CRM_OK);
    ck_assert_int_eq(db_q_int(db, count, NULL), 0);

    ck_assert_int_eq(crm_db_begin(db), CRM_OK);
    crm_stmt_bind_int(st, 0, 2);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    ck_assert_int_eq(db_q_int(other, count, NULL), 0);
    ck_assert_int_eq(crm_db_commit(db), CRM_OK);
    ck_assert_int_eq(db_q_int(other, count, NULL), 1);

    /* A begin inside a forgotten transaction rolls that one back rather
       than committing it (which START TRANSACTION alone would do). */
    ck_assert_int_eq(crm_db_begin(db), CRM_OK);
    crm_stmt_bind_int(st, 0, 3);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    ck_assert_int_eq(crm_db_begin(db), CRM_OK);
    crm_stmt_bind_int(st, 0, 4);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    ck_assert_int_eq(crm_db_commit(db), CRM_OK);
    ck_assert_int_eq(db_q_int(other, "SELECT SUM(id) FROM t_tx", NULL), 2 + 4);

    /* A duplicate inside a transaction leaves it usable. */
    ck_assert_int_eq(crm_db_begin(db), CRM_OK);
    crm_stmt_bind_int(st, 0, 2);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_DUP);
    crm_stmt_bind_int(st, 0, 5);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    ck_assert_int_eq(crm_db_commit(db), CRM_OK);
    ck_assert_int_eq(db_q_int(other, count, NULL), 3);
    crm_db_free(other);
    crm_db_free(db);
}
END_TEST

START_TEST(lock_wait_is_conflict)
{
    crm_db *a = db_fixture_open();
    crm_db *b = db_fixture_open();
    db_exec_ok(a, "CREATE TABLE t_lw (id INT NOT NULL PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB");
    db_exec_ok(a, "INSERT INTO t_lw VALUES (1, 0)");
    db_exec_ok(b, "SET SESSION innodb_lock_wait_timeout = 1");
    const char *upd = "UPDATE t_lw SET v = v + 1 WHERE id = ?";

    ck_assert_int_eq(crm_db_begin(a), CRM_OK);
    crm_stmt *sa = db_stmt(a, upd);
    crm_stmt_bind_int(sa, 0, 1);
    ck_assert_int_eq(crm_stmt_exec(sa), CRM_OK);

    ck_assert_int_eq(crm_db_begin(b), CRM_OK);
    crm_stmt *sb = db_stmt(b, upd);
    crm_stmt_bind_int(sb, 0, 1);
    ck_assert_int_eq(crm_stmt_exec(sb), CRM_CONFLICT);
    ck_assert_int_eq(crm_db_rollback(b), CRM_OK);
    ck_assert_int_eq(crm_db_commit(a), CRM_OK);

    /* Retried after the holder committed: goes through. */
    ck_assert_int_eq(crm_db_begin(b), CRM_OK);
    crm_stmt_bind_int(sb, 0, 1);
    ck_assert_int_eq(crm_stmt_exec(sb), CRM_OK);
    ck_assert_int_eq(crm_db_commit(b), CRM_OK);
    ck_assert_int_eq(db_q_int(a, "SELECT v FROM t_lw WHERE id = 1", NULL), 2);
    crm_db_free(b);
    crm_db_free(a);
}
END_TEST

/* Com_stmt_prepare counts the prepares this session sent to the server. */
static int64_t prepares(crm_db *db)
{
    return db_q_int(db,
                    "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS"
                    " WHERE VARIABLE_NAME = 'COM_STMT_PREPARE'",
                    NULL);
}

START_TEST(statement_reuse)
{
    crm_db *db = db_fixture_open();
    int64_t p0 = prepares(db);
    const char *sql = "SELECT ? * 2";
    crm_stmt *st = crm_db_stmt(db, 7, sql);
    ck_assert_ptr_nonnull(st);
    for (int i = 0; i < 500; i++) {
        ck_assert_ptr_eq(crm_db_stmt(db, 7, sql), st);
        crm_stmt_bind_int(st, 0, i);
        ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
        ck_assert_int_eq(crm_stmt_fetch(st), CRM_OK);
        ck_assert_int_eq(crm_stmt_col_int(st, 0), 2 * i);
        /* Rows left unread are freed by the next exec. */
    }
    ck_assert_int_eq(prepares(db) - p0, 1);

    /* A buffered result survives other statements running meanwhile. */
    db_exec_ok(db, "CREATE TABLE t_reuse (id INT NOT NULL PRIMARY KEY)");
    db_exec_ok(db, "INSERT INTO t_reuse VALUES (1), (2), (3)");
    crm_stmt *all = db_stmt(db, "SELECT id FROM t_reuse ORDER BY id");
    ck_assert_int_eq(crm_stmt_exec(all), CRM_OK);
    ck_assert_uint_eq(crm_stmt_affected(all), 3);
    int64_t sum = 0;
    while (crm_stmt_fetch(all) == CRM_OK) {
        sum += crm_stmt_col_int(all, 0);
        crm_stmt_bind_int(st, 0, 1);
        ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    }
    ck_assert_int_eq(sum, 6);
    ck_assert_int_eq(prepares(db) - p0, 2);

    /* A table changes shape under a prepared SELECT *: the new columns
       are bound at the next exec. */
    db_exec_ok(db, "CREATE TABLE t_shape (a INT NOT NULL)");
    db_exec_ok(db, "INSERT INTO t_shape VALUES (1)");
    crm_stmt *shape = db_stmt(db, "SELECT * FROM t_shape");
    ck_assert_int_eq(crm_stmt_exec(shape), CRM_OK);
    ck_assert_int_eq(crm_stmt_fetch(shape), CRM_OK);
    ck_assert_int_eq(crm_stmt_col_int(shape, 0), 1);
    db_exec_ok(db, "ALTER TABLE t_shape ADD COLUMN b VARCHAR(10) NOT NULL DEFAULT 'bee'");
    ck_assert_int_eq(crm_stmt_exec(shape), CRM_OK);
    ck_assert_int_eq(crm_stmt_fetch(shape), CRM_OK);
    ck_assert_int_eq(crm_stmt_col_int(shape, 0), 1);
    ck_assert_str_eq(crm_stmt_col_str(shape, 1, NULL), "bee");
    crm_stmt_done(shape);
    ck_assert_int_eq(db_q_int(db, "SELECT 8", NULL), 8);
    ck_assert_uint_eq(crm_db_connects(db), 1);
    crm_db_free(db);
}
END_TEST

/*
 * The ad-hoc slot: one statement composed per request (a segment's rule),
 * kept while the same text comes back, replaced when the text differs, and
 * beside the keyed statements, never in their way.
 */
START_TEST(adhoc_statement)
{
    crm_db *db = db_fixture_open();
    db_exec_ok(db, "CREATE TABLE t_adhoc (id INT NOT NULL PRIMARY KEY, tag VARCHAR(32) NOT NULL,"
                   " n BIGINT NOT NULL) DEFAULT CHARSET=utf8mb4");
    db_exec_ok(db, "INSERT INTO t_adhoc VALUES (1, 'vip', 10), (2, 'b2b', 20), (3, 'vip', 30),"
                   " (4, 'or-1-1', 40)");
    const char *keyed_sql = "SELECT ? * 3";
    crm_stmt *keyed = crm_db_stmt(db, 9, keyed_sql);
    ck_assert_ptr_nonnull(keyed);
    int64_t p0 = prepares(db); /* after the counter's own statement */

    /* Two different texts in a row: each prepared, each right. */
    const char *by_tag = "SELECT COUNT(*), COALESCE(SUM(n), 0) FROM t_adhoc WHERE tag = ?";
    const char *by_range = "SELECT id FROM t_adhoc WHERE n > ? AND tag IN (?, ?) ORDER BY id";
    crm_stmt *st = crm_db_stmt_adhoc(db, by_tag);
    ck_assert_ptr_nonnull(st);
    ck_assert_int_eq(crm_db_status(db), CRM_OK);
    crm_stmt_bind_str(st, 0, "vip", 3);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    ck_assert_int_eq(crm_stmt_fetch(st), CRM_OK);
    ck_assert_int_eq(crm_stmt_col_int(st, 0), 2);
    ck_assert_int_eq(crm_stmt_col_int(st, 1), 40);
    crm_stmt_done(st);

    st = crm_db_stmt_adhoc(db, by_range);
    ck_assert_ptr_nonnull(st);
    crm_stmt_bind_int(st, 0, 15);
    crm_stmt_bind_opt_str(st, 1, "vip");
    crm_stmt_bind_opt_str(st, 2, "or-1-1");
    ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    ck_assert_int_eq(crm_stmt_fetch(st), CRM_OK);
    ck_assert_int_eq(crm_stmt_col_int(st, 0), 3);
    ck_assert_int_eq(crm_stmt_fetch(st), CRM_OK);
    ck_assert_int_eq(crm_stmt_col_int(st, 0), 4);
    ck_assert_int_eq(crm_stmt_fetch(st), CRM_NOTFOUND);
    ck_assert_int_eq(prepares(db) - p0, 2);

    /* The same text again (also from another buffer): the slot's statement,
       not prepared again; new binds, new rows. */
    crm_stmt *again = crm_db_stmt_adhoc(db, by_range);
    ck_assert_ptr_eq(again, st);
    crm_stmt_bind_int(again, 0, 0);
    crm_stmt_bind_opt_str(again, 1, "b2b");
    crm_stmt_bind_opt_str(again, 2, "vip");
    ck_assert_int_eq(crm_stmt_exec(again), CRM_OK);
    int64_t ids = 0;
    while (crm_stmt_fetch(again) == CRM_OK)
        ids = ids * 10 + crm_stmt_col_int(again, 0);
    ck_assert_int_eq(ids, 123);
    char copy[128];
    snprintf(copy, sizeof(copy), "%s", by_range);
    again = crm_db_stmt_adhoc(db, copy);
    ck_assert_ptr_eq(again, st);
    crm_stmt_bind_int(again, 0, 1000);
    crm_stmt_bind_opt_str(again, 1, "vip");
    crm_stmt_bind_opt_str(again, 2, "b2b");
    ck_assert_int_eq(crm_stmt_exec(again), CRM_OK);
    ck_assert_int_eq(crm_stmt_fetch(again), CRM_NOTFOUND);
    ck_assert_int_eq(prepares(db) - p0, 2);

    /* Back to the first text: prepared once more, and right. */
    st = crm_db_stmt_adhoc(db, by_tag);
    ck_assert_ptr_nonnull(st);
    crm_stmt_bind_str(st, 0, "b2b", 3);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    ck_assert_int_eq(crm_stmt_fetch(st), CRM_OK);
    ck_assert_int_eq(crm_stmt_col_int(st, 0), 1);
    ck_assert_int_eq(crm_stmt_col_int(st, 1), 20);
    crm_stmt_done(st);
    ck_assert_int_eq(prepares(db) - p0, 3);

    /* The keyed statement was not disturbed: same handle, no prepare. */
    ck_assert_ptr_eq(crm_db_stmt(db, 9, keyed_sql), keyed);
    crm_stmt_bind_int(keyed, 0, 14);
    ck_assert_int_eq(crm_stmt_exec(keyed), CRM_OK);
    ck_assert_int_eq(crm_stmt_fetch(keyed), CRM_OK);
    ck_assert_int_eq(crm_stmt_col_int(keyed, 0), 42);
    crm_stmt_done(keyed);
    ck_assert_int_eq(prepares(db) - p0, 3);

    /* The keyed statement's text in the slot is a statement of its own. */
    crm_stmt *twin = crm_db_stmt_adhoc(db, keyed_sql);
    ck_assert_ptr_nonnull(twin);
    ck_assert_ptr_ne(twin, keyed);
    crm_stmt_bind_int(twin, 0, 5);
    crm_stmt_bind_int(keyed, 0, 7);
    ck_assert_int_eq(crm_stmt_exec(twin), CRM_OK);
    ck_assert_int_eq(crm_stmt_exec(keyed), CRM_OK);
    ck_assert_int_eq(crm_stmt_fetch(twin), CRM_OK);
    ck_assert_int_eq(crm_stmt_col_int(twin, 0), 15);
    ck_assert_int_eq(crm_stmt_fetch(keyed), CRM_OK);
    ck_assert_int_eq(crm_stmt_col_int(keyed, 0), 21);
    crm_stmt_done(keyed);
    ck_assert_int_eq(prepares(db) - p0, 4);

    /* Bad SQL in the slot fails as a keyed one does; the next text works. */
    ck_assert_ptr_null(crm_db_stmt_adhoc(db, "SELEC nonsense FROM"));
    ck_assert_int_eq(crm_db_status(db), CRM_ERR);
    ck_assert_ptr_null(crm_db_stmt_adhoc(db, "SELEC nonsense FROM"));
    ck_assert_int_eq(crm_db_status(db), CRM_ERR);
    st = crm_db_stmt_adhoc(db, by_tag);
    ck_assert_ptr_nonnull(st);
    ck_assert_int_eq(crm_db_status(db), CRM_OK);
    crm_stmt_bind_str(st, 0, "or-1-1", 6);
    ck_assert_int_eq(crm_stmt_exec_int(st, &ids), CRM_OK);
    ck_assert_int_eq(ids, 1);
    ck_assert_uint_eq(crm_db_connects(db), 1);

    /* A lost connection: the same text reconnects and prepares again. */
    kill_conn(conn_id(db));
    crm_stmt_bind_str(st, 0, "vip", 3);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_GONE);
    st = crm_db_stmt_adhoc(db, by_tag);
    ck_assert_ptr_nonnull(st);
    ck_assert_uint_eq(crm_db_connects(db), 2);
    crm_stmt_bind_str(st, 0, "vip", 3);
    ck_assert_int_eq(crm_stmt_exec_int(st, &ids), CRM_OK);
    ck_assert_int_eq(ids, 2);
    ck_assert_int_eq(db_q_int(db, "SELECT 6", NULL), 6);
    crm_db_free(db);
}
END_TEST

START_TEST(lost_connection_reconnects)
{
    crm_db *db = db_fixture_open();
    const char *sql = "SELECT ? + 1";
    crm_stmt *st = db_stmt(db, sql);
    crm_stmt *other = db_stmt(db, "SELECT 'other'");
    int64_t id = conn_id(db);
    kill_conn(id);

    crm_stmt_bind_int(st, 0, 1);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_GONE);
    ck_assert_int_eq(crm_db_status(db), CRM_GONE);
    ck_assert_int_eq(crm_db_connected(db), 0);
    /* Statements of the lost connection keep answering GONE, harmlessly. */
    ck_assert_int_eq(crm_stmt_exec(other), CRM_GONE);
    ck_assert_int_eq(crm_stmt_fetch(other), CRM_GONE);

    /* The next call reconnects and prepares again. */
    st = db_stmt(db, sql);
    ck_assert_int_eq(crm_db_connected(db), 1);
    ck_assert_uint_eq(crm_db_connects(db), 2);
    crm_stmt_bind_int(st, 0, 41);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    ck_assert_int_eq(crm_stmt_fetch(st), CRM_OK);
    ck_assert_int_eq(crm_stmt_col_int(st, 0), 42);
    crm_stmt_done(st);
    ck_assert_int_ne(conn_id(db), id);
    char *s = q_str(db, "SELECT 'other'");
    ck_assert_str_eq(s, "other");
    free(s);
    /* The new session has the same settings. */
    char *tz = q_str(db, "SELECT @@session.time_zone");
    ck_assert_str_eq(tz, "+00:00");
    free(tz);

    /* exec_sql notices too; begin reconnects. */
    kill_conn(conn_id(db));
    ck_assert_int_eq(crm_db_exec_sql(db, "DO 1"), CRM_GONE);
    ck_assert_int_eq(crm_db_connected(db), 0);
    ck_assert_int_eq(crm_db_begin(db), CRM_OK);
    ck_assert_uint_eq(crm_db_connects(db), 3);
    ck_assert_int_eq(crm_db_commit(db), CRM_OK);

    /* ping notices, and the ping after reconnects. */
    kill_conn(conn_id(db));
    ck_assert_int_eq(crm_db_ping(db), CRM_GONE);
    ck_assert_int_eq(crm_db_ping(db), CRM_OK);
    ck_assert_uint_eq(crm_db_connects(db), 4);
    crm_db_free(db);
}
END_TEST

/* A connection that died while idle (a server restart) is found out by
   a ping before its next use: that use succeeds on a new connection
   instead of answering GONE. One used within the idle time is not
   pinged: it fails as before. */
START_TEST(idle_connection_replaced)
{
    crm_db *db = db_fixture_open();
    const char *sql = "SELECT ? + 1";
    crm_stmt *st = db_stmt(db, sql);
    unsigned long connects = crm_db_connects(db);

    kill_conn(conn_id(db));
    usleep((CRM_DB_IDLE_PING_MS + 200) * 1000);
    st = db_stmt(db, sql);
    ck_assert_ptr_nonnull(st);
    crm_stmt_bind_int(st, 0, 1);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    ck_assert_int_eq(crm_stmt_fetch(st), CRM_OK);
    ck_assert_int_eq(crm_stmt_col_int(st, 0), 2);
    crm_stmt_done(st);
    ck_assert_uint_eq(crm_db_connects(db), connects + 1);

    /* begin does the same. */
    kill_conn(conn_id(db));
    usleep((CRM_DB_IDLE_PING_MS + 200) * 1000);
    ck_assert_int_eq(crm_db_begin(db), CRM_OK);
    ck_assert_int_eq(crm_db_commit(db), CRM_OK);
    ck_assert_uint_eq(crm_db_connects(db), connects + 2);

    /* Busy: no ping, so the loss shows. */
    st = db_stmt(db, sql);
    kill_conn(conn_id(db));
    st = db_stmt(db, sql);
    crm_stmt_bind_int(st, 0, 1);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_GONE);
    crm_db_free(db);
}
END_TEST

START_TEST(lost_connection_in_transaction)
{
    crm_db *db = db_fixture_open();
    db_exec_ok(db, "CREATE TABLE t_lost (id INT NOT NULL PRIMARY KEY) ENGINE=InnoDB");
    const char *ins = "INSERT INTO t_lost (id) VALUES (?)";
    ck_assert_int_eq(crm_db_begin(db), CRM_OK);
    crm_stmt *st = db_stmt(db, ins);
    crm_stmt_bind_int(st, 0, 1);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    kill_conn(conn_id(db));
    crm_stmt_bind_int(st, 0, 2);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_GONE);

    /* Until the caller ends the transaction nothing reconnects: the rest
       of it must not run in autocommit on a new connection. */
    ck_assert_ptr_null(crm_db_stmt(db, db_key_for(ins), ins));
    ck_assert_int_eq(crm_db_status(db), CRM_GONE);
    ck_assert_int_eq(crm_db_exec_sql(db, "DO 1"), CRM_GONE);
    ck_assert_uint_eq(crm_db_connects(db), 1);
    ck_assert_int_eq(crm_db_commit(db), CRM_GONE);

    /* Ended: the next call reconnects; the lost transaction left nothing. */
    ck_assert_int_eq(db_q_int(db, "SELECT COUNT(*) FROM t_lost", NULL), 0);
    ck_assert_uint_eq(crm_db_connects(db), 2);

    /* Same with rollback, which has nothing left to undo. */
    ck_assert_int_eq(crm_db_begin(db), CRM_OK);
    st = db_stmt(db, ins);
    kill_conn(conn_id(db));
    crm_stmt_bind_int(st, 0, 3);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_GONE);
    ck_assert_int_eq(crm_db_rollback(db), CRM_OK);
    st = db_stmt(db, ins);
    crm_stmt_bind_int(st, 0, 3);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    ck_assert_uint_eq(crm_db_connects(db), 3);
    crm_db_free(db);
}
END_TEST

START_TEST(named_locks)
{
    char name[64];
    snprintf(name, sizeof(name), "crm_test_lock_%ld", (long)getpid());
    crm_db *a = db_fixture_open();
    crm_db *b = db_fixture_open();
    ck_assert_int_eq(crm_db_lock(a, name, 0), CRM_OK);
    ck_assert_int_eq(crm_db_lock(b, name, 0), CRM_CONFLICT);
    double t0 = now_s();
    ck_assert_int_eq(crm_db_lock(b, name, 1), CRM_CONFLICT);
    ck_assert_double_ge(now_s() - t0, 0.9);
    ck_assert_int_eq(crm_db_unlock(b, name), CRM_NOTFOUND); /* not b's */
    ck_assert_int_eq(crm_db_unlock(a, name), CRM_OK);
    ck_assert_int_eq(crm_db_unlock(a, name), CRM_NOTFOUND);
    ck_assert_int_eq(crm_db_lock(b, name, 0), CRM_OK);
    ck_assert_int_eq(crm_db_lock(a, name, 0), CRM_CONFLICT);
    /* A lost connection releases its locks. */
    kill_conn(conn_id(b));
    ck_assert_int_eq(crm_db_ping(b), CRM_GONE);
    ck_assert_int_eq(crm_db_unlock(b, name), CRM_GONE);
    ck_assert_int_eq(crm_db_lock(a, name, 5), CRM_OK);
    ck_assert_int_eq(crm_db_unlock(a, name), CRM_OK);
    /* Lock statements do not take callers' keys. */
    for (unsigned k = 0; k < 256; k += 85)
        ck_assert_ptr_nonnull(crm_db_stmt(a, k, "SELECT 1"));
    ck_assert_int_eq(crm_db_lock(a, name, 0), CRM_OK);
    crm_db_free(b);
    crm_db_free(a);
}
END_TEST

START_TEST(multi_statements)
{
    crm_db *db = open_db(1);
    db_exec_ok(db, "CREATE TABLE t_multi (i INT NOT NULL);"
                   " INSERT INTO t_multi VALUES (1), (2);"
                   " SELECT * FROM t_multi; SELECT 'x', 'y';"
                   " INSERT INTO t_multi VALUES (3)");
    ck_assert_int_eq(db_q_int(db, "SELECT COUNT(*) FROM t_multi", NULL), 3);
    /* An error in the middle: statements before it stay, after it do not run. */
    ck_assert_int_eq(crm_db_exec_sql(db, "INSERT INTO t_multi VALUES (4);"
                                         " INSERT INTO t_no_such VALUES (1);"
                                         " INSERT INTO t_multi VALUES (5)"),
                     CRM_ERR);
    ck_assert_int_eq(crm_db_connected(db), 1);
    ck_assert_int_eq(db_q_int(db, "SELECT SUM(i) FROM t_multi", NULL), 1 + 2 + 3 + 4);
    db_exec_ok(db, "DO 1;");
    ck_assert_int_eq(db_q_int(db, "SELECT 5", NULL), 5);
    crm_db_free(db);
}
END_TEST

/* ---------------------------------------------------------------- */

static Suite *db_suite(void)
{
    Suite *s = suite_create("crm_db");
    TCase *tc = tcase_create("live");
    tcase_set_timeout(tc, 60);
    if (db_fixture_live(tc)) {
        tcase_add_test(tc, session_settings);
        tcase_add_test(tc, connect_failure);
        tcase_add_test(tc, bind_fetch_ints);
        tcase_add_test(tc, bind_fetch_strings);
        tcase_add_test(tc, optional_binds_and_copies);
        tcase_add_test(tc, page_binds_and_count);
        tcase_add_test(tc, sql_append);
        tcase_add_test_raise_signal(tc, sql_append_overflow_aborts, SIGABRT);
        tcase_add_test(tc, duplicate_and_errors);
        tcase_add_test(tc, transactions);
        tcase_add_test(tc, lock_wait_is_conflict);
        tcase_add_test(tc, statement_reuse);
        tcase_add_test(tc, adhoc_statement);
        tcase_add_test(tc, lost_connection_reconnects);
        tcase_add_test(tc, idle_connection_replaced);
        tcase_add_test(tc, lost_connection_in_transaction);
        tcase_add_test(tc, named_locks);
        tcase_add_test(tc, multi_statements);
    }
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    crm_log_init("test_crm_db", CRM_LOG_WARN);
    if (db_fixture_init("db") && db_fixture_create() != CRM_OK)
        return EXIT_FAILURE;
    return db_fixture_run(db_suite());
}
