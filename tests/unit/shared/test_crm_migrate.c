/*
 * test_crm_migrate.c - crm_migrate against a live MariaDB/MySQL.
 *
 * Connection from the environment, as in test_crm_db.c:
 *   CRM_TEST_DB_SOCKET (required: without it the suite FAILS),
 *   CRM_TEST_DB_USER, CRM_TEST_DB_PASSWORD (may be empty or unset).
 * Every test starts from an empty scratch database crm_test_migrate_<pid>
 * and a fresh temporary directory of migration files. The test of the real
 * schema reads sql/customers relative to the working directory (the
 * repository root) or CRM_TEST_SQL_DIR.
 */
#include "crm_log.h"
#include "crm_migrate.h"

#include "../db_fixture.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char t_lock[64];
static char t_dir[64];

static unsigned t_timeout = 30;

/* Migrations need multi-statement connections. */
static crm_db *open_mig(void)
{
    crm_db_opts o = db_fixture_opts();
    o.timeout = t_timeout;
    o.multi_statements = 1;
    return crm_db_new(&o);
}

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", t_dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
}

static void remove_file(const char *name)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", t_dir, name);
    ck_assert_int_eq(unlink(path), 0);
}

static void setup(void)
{
    ck_assert_int_eq(db_fixture_create(), CRM_OK);
    strcpy(t_dir, "/tmp/crm_test_migrate_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(t_dir));
}

static void teardown(void)
{
    DIR *d = opendir(t_dir);
    if (d == NULL)
        return;
    const struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            char path[512];
            snprintf(path, sizeof(path), "%s/%s", t_dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
    rmdir(t_dir);
}

static int table_exists(crm_db *db, const char *table)
{
    const char *sql = "SELECT COUNT(*) FROM information_schema.TABLES"
                      " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?";
    crm_stmt *st = crm_db_stmt(db, db_key_for(sql), sql);
    ck_assert_ptr_nonnull(st);
    crm_stmt_bind_str(st, 0, table, strlen(table));
    ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    ck_assert_int_eq(crm_stmt_fetch(st), CRM_OK);
    int n = (int)crm_stmt_col_int(st, 0);
    crm_stmt_done(st);
    return n > 0;
}

static int pending(crm_db *db)
{
    int n = -1;
    ck_assert_int_eq(crm_migrate_pending(db, t_dir, &n), CRM_OK);
    return n;
}

/* The recorded versions, comma-separated, in order. */
static char *recorded(crm_db *db)
{
    const char *sql = "SELECT GROUP_CONCAT(version ORDER BY version SEPARATOR ',')"
                      " FROM schema_migrations";
    crm_stmt *st = crm_db_stmt(db, db_key_for(sql), sql);
    ck_assert_ptr_nonnull(st);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    ck_assert_int_eq(crm_stmt_fetch(st), CRM_OK);
    size_t n;
    const char *s = crm_stmt_col_str(st, 0, &n);
    char *out = strdup(s ? s : "");
    crm_stmt_done(st);
    return out;
}

static void assert_recorded(crm_db *db, const char *want)
{
    char *got = recorded(db);
    ck_assert_str_eq(got, want);
    free(got);
}

/* ---------------------------------------------------------------- */

START_TEST(apply_then_nothing_twice)
{
    write_file("001_first.sql", "CREATE TABLE a (i INT NOT NULL);\n"
                                "INSERT INTO a VALUES (1);\n");
    write_file("002_second.sql", "-- a comment\nINSERT INTO a VALUES (2);\n"
                                 "CREATE TABLE b (j INT NOT NULL);\n");
    write_file("003_blank.sql", "\n  \n");
    /* Not migrations: other names are ignored, whatever they contain. */
    write_file("grants.sql", "THIS IS NOT SQL;");
    write_file("README.md", "THIS IS NOT SQL;");
    write_file("004_x.sql.bak", "THIS IS NOT SQL;");
    write_file("005_.sql", "THIS IS NOT SQL;");
    write_file("6a_x.sql", "THIS IS NOT SQL;");
    write_file("_7_x.sql", "THIS IS NOT SQL;");
    write_file("008.sql", "THIS IS NOT SQL;");
    write_file("009_x.SQL", "THIS IS NOT SQL;");

    crm_db *db = open_mig();
    /* No schema_migrations yet: everything is pending, nothing created. */
    ck_assert_int_eq(pending(db), 3);
    ck_assert_int_eq(table_exists(db, "schema_migrations"), 0);

    ck_assert_int_eq(crm_migrate_run(db, t_dir, t_lock), CRM_OK);
    ck_assert_int_eq(pending(db), 0);
    assert_recorded(db, "1,2,3");
    ck_assert_int_eq(db_q_int(db, "SELECT SUM(i) FROM a", NULL), 3);
    ck_assert_int_eq(table_exists(db, "b"), 1);
    ck_assert_int_eq(
        db_q_int(db,
                 "SELECT COUNT(*) FROM schema_migrations"
                 " WHERE name = '002_second.sql' AND applied_at > NOW(6) - INTERVAL 1 MINUTE",
                 NULL),
        1);

    /* Again, and from another connection: nothing runs twice. */
    ck_assert_int_eq(crm_migrate_run(db, t_dir, t_lock), CRM_OK);
    crm_db *db2 = open_mig();
    ck_assert_int_eq(crm_migrate_run(db2, t_dir, t_lock), CRM_OK);
    ck_assert_int_eq(db_q_int(db, "SELECT SUM(i) FROM a", NULL), 3);

    /* A new file is pending, then applied alone. */
    write_file("004_third.sql", "INSERT INTO a VALUES (4)");
    ck_assert_int_eq(pending(db), 1);
    ck_assert_int_eq(crm_migrate_run(db2, t_dir, t_lock), CRM_OK);
    ck_assert_int_eq(pending(db), 0);
    ck_assert_int_eq(db_q_int(db, "SELECT SUM(i) FROM a", NULL), 7);
    assert_recorded(db, "1,2,3,4");

    /* The lock was released: another connection takes it at once. */
    ck_assert_int_eq(crm_db_lock(db, t_lock, 0), CRM_OK);
    ck_assert_int_eq(crm_db_unlock(db, t_lock), CRM_OK);
    crm_db_free(db2);
    crm_db_free(db);
}
END_TEST

START_TEST(numeric_order)
{
    /* Each file appends its number; 10 must come after 2 and 9. */
    write_file("10_ten.sql", "INSERT INTO seq (n) VALUES (10)");
    write_file("2_two.sql", "INSERT INTO seq (n) VALUES (2)");
    write_file("0001_one.sql", "CREATE TABLE seq (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
                               " n INT NOT NULL); INSERT INTO seq (n) VALUES (1)");
    write_file("9_nine.sql", "INSERT INTO seq (n) VALUES (9)");
    write_file("100_hundred.sql", "ALTER TABLE seq ADD COLUMN m INT NULL;"
                                  " INSERT INTO seq (n) VALUES (100)");
    crm_db *db = open_mig();
    ck_assert_int_eq(pending(db), 5);
    ck_assert_int_eq(crm_migrate_run(db, t_dir, t_lock), CRM_OK);
    assert_recorded(db, "1,2,9,10,100");
    const char *sql = "SELECT GROUP_CONCAT(n ORDER BY id SEPARATOR ',') FROM seq";
    crm_stmt *st = crm_db_stmt(db, db_key_for(sql), sql);
    ck_assert_ptr_nonnull(st);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    ck_assert_int_eq(crm_stmt_fetch(st), CRM_OK);
    ck_assert_str_eq(crm_stmt_col_str(st, 0, NULL), "1,2,9,10,100");
    crm_stmt_done(st);
    crm_db_free(db);
}
END_TEST

START_TEST(failing_file_stops_the_run)
{
    write_file("001_a.sql", "CREATE TABLE a (i INT NOT NULL)");
    write_file("002_bad.sql", "INSERT INTO a VALUES (1);\n"
                              "INSERT INTO no_such_table VALUES (1);\n"
                              "INSERT INTO a VALUES (2);\n");
    write_file("003_c.sql", "CREATE TABLE c (i INT NOT NULL)");
    crm_db *db = open_mig();
    ck_assert_int_eq(crm_migrate_run(db, t_dir, t_lock), CRM_ERR);
    assert_recorded(db, "1");
    ck_assert_int_eq(pending(db), 2);
    ck_assert_int_eq(table_exists(db, "c"), 0);
    /* Statements before the error ran (MySQL has no transactional DDL),
       the ones after it did not. */
    ck_assert_int_eq(db_q_int(db, "SELECT COALESCE(SUM(i), 0) FROM a", NULL), 1);
    /* The lock was released despite the failure. */
    ck_assert_int_eq(crm_db_lock(db, t_lock, 0), CRM_OK);
    ck_assert_int_eq(crm_db_unlock(db, t_lock), CRM_OK);

    /* Fixed, the run resumes at the failed file. */
    write_file("002_bad.sql", "INSERT INTO a VALUES (2);\n");
    ck_assert_int_eq(crm_migrate_run(db, t_dir, t_lock), CRM_OK);
    assert_recorded(db, "1,2,3");
    ck_assert_int_eq(table_exists(db, "c"), 1);
    ck_assert_int_eq(pending(db), 0);
    crm_db_free(db);
}
END_TEST

START_TEST(bad_directories)
{
    crm_db *db = open_mig();
    int n = -1;
    /* Two files with one number: refused before anything runs. */
    write_file("001_a.sql", "CREATE TABLE a (i INT NOT NULL)");
    write_file("1_b.sql", "CREATE TABLE b (i INT NOT NULL)");
    ck_assert_int_eq(crm_migrate_run(db, t_dir, t_lock), CRM_ERR);
    ck_assert_int_eq(crm_migrate_pending(db, t_dir, &n), CRM_ERR);
    ck_assert_int_eq(n, -1);
    ck_assert_int_eq(table_exists(db, "a"), 0);
    ck_assert_int_eq(table_exists(db, "b"), 0);
    remove_file("1_b.sql");
    remove_file("001_a.sql");

    /* An empty directory is nothing to do. */
    ck_assert_int_eq(pending(db), 0);
    ck_assert_int_eq(crm_migrate_run(db, t_dir, t_lock), CRM_OK);
    ck_assert_int_eq(pending(db), 0);

    /* A missing directory is an error. */
    ck_assert_int_eq(crm_migrate_run(db, "/nonexistent/crm-sql", t_lock), CRM_ERR);
    ck_assert_int_eq(crm_migrate_pending(db, "/nonexistent/crm-sql", &n), CRM_ERR);

    /* A lost connection is reported as such by pending. */
    crm_db *dead = crm_db_new(&(crm_db_opts){ .socket = "/nonexistent/crm.sock", .timeout = 1 });
    ck_assert_int_eq(crm_migrate_pending(dead, t_dir, &n), CRM_GONE);
    ck_assert_int_eq(crm_migrate_run(dead, t_dir, t_lock), CRM_ERR);
    crm_db_free(dead);
    crm_db_free(db);
}
END_TEST

/* Run the migrations in a child process; its exit status says how it went.
   timeout is the child's connection timeout in seconds. */
static pid_t run_child(unsigned timeout)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        t_timeout = timeout;
        crm_db *db = open_mig();
        int rc = crm_migrate_run(db, t_dir, t_lock);
        crm_db_free(db);
        _exit(rc == CRM_OK ? 0 : 1);
    }
    return pid;
}

static int child_status(pid_t pid)
{
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st));
    return WEXITSTATUS(st);
}

START_TEST(waits_for_the_lock)
{
    write_file("001_a.sql", "CREATE TABLE a (i INT NOT NULL); INSERT INTO a VALUES (1)");
    crm_db *holder = open_mig();
    ck_assert_int_eq(crm_db_lock(holder, t_lock, 0), CRM_OK);
    /* The wait outlasts the runner's 1 s read timeout: no harm done. */
    pid_t pid = run_child(1);
    sleep(2);
    ck_assert_int_eq(table_exists(holder, "a"), 0); /* still waiting */
    ck_assert_int_eq(crm_db_unlock(holder, t_lock), CRM_OK);
    ck_assert_int_eq(child_status(pid), 0);
    ck_assert_int_eq(table_exists(holder, "a"), 1);
    crm_db_free(holder);
}
END_TEST

START_TEST(concurrent_runners_apply_once)
{
    write_file("001_a.sql", "CREATE TABLE a (i INT NOT NULL); INSERT INTO a VALUES (1)");
    write_file("002_b.sql", "INSERT INTO a VALUES (2); DO SLEEP(0.2)");
    write_file("003_c.sql", "INSERT INTO a VALUES (3)");
    pid_t pids[4];
    for (size_t i = 0; i < CRM_NELEM(pids); i++)
        pids[i] = run_child(30);
    for (size_t i = 0; i < CRM_NELEM(pids); i++)
        ck_assert_int_eq(child_status(pids[i]), 0);
    crm_db *db = open_mig();
    ck_assert_int_eq(db_q_int(db, "SELECT COUNT(*) FROM a", NULL), 3);
    ck_assert_int_eq(db_q_int(db, "SELECT SUM(i) FROM a", NULL), 6);
    assert_recorded(db, "1,2,3");
    crm_db_free(db);
}
END_TEST

START_TEST(customers_schema)
{
    /* The service's own migrations apply, and apply once. */
    crm_db *db = open_mig();
    const char *dir = getenv("CRM_TEST_SQL_DIR");
    if (dir == NULL)
        dir = "sql/customers";
    ck_assert_msg(access(dir, F_OK) == 0,
                  "%s not found: run from the repository root or set CRM_TEST_SQL_DIR", dir);
    int n = -1;
    ck_assert_int_eq(crm_migrate_pending(db, dir, &n), CRM_OK);
    ck_assert_int_ge(n, 1);
    ck_assert_int_eq(crm_migrate_run(db, dir, t_lock), CRM_OK);
    ck_assert_int_eq(crm_migrate_pending(db, dir, &n), CRM_OK);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(crm_migrate_run(db, dir, t_lock), CRM_OK);
    ck_assert_int_eq(table_exists(db, "customers"), 1);
    ck_assert_int_eq(table_exists(db, "customer_notes"), 1);
    ck_assert_int_eq(table_exists(db, "customer_tags"), 1);
    ck_assert_int_eq(table_exists(db, "idempotency_keys"), 1);

    /* Live emails are unique; a deleted customer's email is free again. */
    const char *ins = "INSERT INTO customers (name, email) VALUES (?, ?)";
    crm_stmt *st = crm_db_stmt(db, db_key_for(ins), ins);
    ck_assert_ptr_nonnull(st);
    crm_stmt_bind_str(st, 0, "Zoë", strlen("Zoë"));
    crm_stmt_bind_str(st, 1, "zoe@example.com", 15);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    crm_stmt_bind_str(st, 0, "Zoë 2", strlen("Zoë 2"));
    crm_stmt_bind_str(st, 1, "zoe@example.com", 15);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_DUP);
    const char *del = "UPDATE customers SET deleted_at = NOW(6) WHERE email = ?";
    st = crm_db_stmt(db, db_key_for(del), del);
    ck_assert_ptr_nonnull(st);
    crm_stmt_bind_str(st, 0, "zoe@example.com", 15);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    st = crm_db_stmt(db, db_key_for(ins), ins);
    crm_stmt_bind_str(st, 0, "Zoë 3", strlen("Zoë 3"));
    crm_stmt_bind_str(st, 1, "zoe@example.com", 15);
    ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    ck_assert_int_eq(db_q_int(db,
                              "SELECT COUNT(*) FROM customers WHERE tags = '[]'"
                              " AND status = 'lead' AND version = 1",
                              NULL),
                     2);
    crm_db_free(db);
}
END_TEST

/* ---------------------------------------------------------------- */

static Suite *migrate_suite(void)
{
    Suite *s = suite_create("crm_migrate");
    TCase *tc = tcase_create("live");
    tcase_set_timeout(tc, 60);
    if (db_fixture_live(tc)) {
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, apply_then_nothing_twice);
        tcase_add_test(tc, numeric_order);
        tcase_add_test(tc, failing_file_stops_the_run);
        tcase_add_test(tc, bad_directories);
        tcase_add_test(tc, waits_for_the_lock);
        tcase_add_test(tc, concurrent_runners_apply_once);
        tcase_add_test(tc, customers_schema);
    }
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    crm_log_init("test_crm_migrate", CRM_LOG_WARN);
    db_fixture_init("migrate");
    snprintf(t_lock, sizeof(t_lock), "crm_test_migrate_%ld", (long)getpid());
    return db_fixture_run(migrate_suite());
}
