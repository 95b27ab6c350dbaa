/*
 * db_fixture.c - the live MariaDB/MySQL set-up shared by the unit suites.
 */
#include "db_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *t_suite;
static const char *t_socket;
static const char *t_user;
static const char *t_password;
static char t_dbname[64];

int db_fixture_init(const char *suite)
{
    t_suite = suite;
    t_socket = getenv("CRM_TEST_DB_SOCKET");
    if (t_socket != NULL && *t_socket == '\0')
        t_socket = NULL;
    t_user = getenv("CRM_TEST_DB_USER");
    t_password = getenv("CRM_TEST_DB_PASSWORD");
    snprintf(t_dbname, sizeof(t_dbname), "crm_test_%s_%ld", suite, (long)getpid());
    if (t_socket == NULL)
        fprintf(stderr, "test_crm_%s: FAIL: CRM_TEST_DB_SOCKET is not set\n", suite);
    return t_socket != NULL;
}

START_TEST(environment_missing)
{
    ck_abort_msg("CRM_TEST_DB_SOCKET is not set: these tests need a live MariaDB/MySQL "
                 "(CRM_TEST_DB_SOCKET, CRM_TEST_DB_USER, CRM_TEST_DB_PASSWORD)");
}
END_TEST

int db_fixture_live(TCase *tc)
{
    if (t_socket == NULL)
        tcase_add_test(tc, environment_missing);
    return t_socket != NULL;
}

const char *db_fixture_name(void)
{
    return t_dbname;
}

crm_db_opts db_fixture_opts(void)
{
    crm_db_opts o = { 0 };
    o.socket = t_socket;
    o.user = t_user;
    o.password = t_password;
    o.database = t_dbname;
    o.timeout = 10;
    return o;
}

/* Create or drop the scratch database; identifiers cannot be bound, and
   the name is ours (a prefix, the suite and our pid). */
static int scratch(const char *verb)
{
    char sql[128];
    crm_db_opts o = db_fixture_opts();
    o.database = NULL;
    crm_db *d = crm_db_new(&o);
    snprintf(sql, sizeof(sql), "%s DATABASE %s`%s`", verb,
             strcmp(verb, "DROP") == 0 ? "IF EXISTS " : "", t_dbname);
    int rc = crm_db_exec_sql(d, sql);
    crm_db_free(d);
    return rc;
}

int db_fixture_create(void)
{
    int rc = scratch("DROP");
    if (rc == CRM_OK)
        rc = scratch("CREATE");
    if (rc != CRM_OK)
        fprintf(stderr, "test_crm_%s: FAIL: cannot create database %s over %s\n", t_suite, t_dbname,
                t_socket);
    return rc;
}

int db_fixture_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (t_socket != NULL && scratch("DROP") != CRM_OK)
        failed++;
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

crm_db *db_fixture_open(void)
{
    crm_db_opts o = db_fixture_opts();
    crm_db *d = crm_db_new(&o);
    ck_assert_int_eq(crm_db_connect(d), CRM_OK);
    return d;
}

void db_exec_ok(crm_db *d, const char *sql)
{
    ck_assert_msg(crm_db_exec_sql(d, sql) == CRM_OK, "failed: %s", sql);
}

unsigned db_key_for(const char *sql)
{
    static const char *known[100];
    static unsigned n;
    for (unsigned i = 0; i < n; i++)
        if (strcmp(known[i], sql) == 0)
            return 100 + i;
    ck_assert_uint_lt(n, CRM_NELEM(known));
    known[n] = sql;
    return 100 + n++;
}

crm_stmt *db_stmt(crm_db *d, const char *sql)
{
    crm_stmt *st = crm_db_stmt(d, db_key_for(sql), sql);
    ck_assert_msg(st != NULL, "prepare failed (%d): %s", crm_db_status(d), sql);
    return st;
}

int64_t db_q_int(crm_db *d, const char *sql, const char *param)
{
    crm_stmt *st = db_stmt(d, sql);
    if (param != NULL)
        crm_stmt_bind_str(st, 0, param, strlen(param));
    ck_assert_int_eq(crm_stmt_exec(st), CRM_OK);
    ck_assert_int_eq(crm_stmt_fetch(st), CRM_OK);
    int64_t v = crm_stmt_col_int(st, 0);
    ck_assert_int_eq(crm_stmt_fetch(st), CRM_NOTFOUND);
    return v;
}
