/*
 * test_db_isolation.c - each service's database accounts (sql/grants.sql)
 * as the stack created them: the service's account reads and writes its
 * own schema only (DML, no DDL, nothing in another service's schema, no
 * global privilege such as FILE, PROCESS or SUPER, no GRANT OPTION) and
 * holds at most its share of connections; the migration account also
 * changes its own schema's tables, and no other's.
 *
 * Connects over the stack's MariaDB socket ($CRM_DB_SOCKET) with each
 * account's password from $CRM_STATE/secrets/<service>.db|.migrate, for
 * every service in $CRM_SERVICES.
 */
#include "itest.h"

#include <mysql.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SERVICES    8
#define MAX_CONNECTIONS 100 /* CRM_DB_MAX_CONNECTIONS of the test stack (its default) */

static char services[MAX_SERVICES][32];
static int n_services;

static void load_services(void)
{
    const char *list = itest_env("CRM_SERVICES", "customers sales marketing");
    char buf[256];
    n_services = 0;
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *w = strtok_r(buf, " ", &save); w && n_services < MAX_SERVICES;
         w = strtok_r(NULL, " ", &save))
        snprintf(services[n_services++], sizeof services[0], "%s", w);
    ck_assert_msg(n_services >= 2, "CRM_SERVICES lists fewer than two services: '%s'", list);
}

static void read_secret(const char *name, char *out, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/secrets/%s", itest_env("CRM_STATE", "state/test"), name);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot read %s", path);
    size_t len = fread(out, 1, n - 1, f);
    fclose(f);
    out[len] = '\0';
    out[strcspn(out, "\r\n")] = '\0';
    ck_assert_msg(out[0] != '\0', "%s is empty", path);
}

/* A connection as crm_<svc> (migrate: crm_<svc>_migrate), or NULL with *err set. */
static MYSQL *connect_as(const char *svc, int migrate, unsigned *err)
{
    char user[64], pw[128], secret[64];
    snprintf(user, sizeof user, migrate ? "crm_%s_migrate" : "crm_%s", svc);
    snprintf(secret, sizeof secret, migrate ? "%s.migrate" : "%s.db", svc);
    read_secret(secret, pw, sizeof pw);
    MYSQL *m = mysql_init(NULL);
    ck_assert_ptr_nonnull(m);
    unsigned timeout = 5;
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    const char *sock = itest_env("CRM_DB_SOCKET", NULL);
    ck_assert_msg(sock != NULL, "CRM_DB_SOCKET is not set");
    if (mysql_real_connect(m, NULL, user, pw, NULL, 0, sock, 0) == NULL) {
        *err = mysql_errno(m);
        mysql_close(m);
        return NULL;
    }
    *err = 0;
    return m;
}

static MYSQL *must_connect(const char *svc, int migrate)
{
    unsigned err = 0;
    MYSQL *m = connect_as(svc, migrate, &err);
    ck_assert_msg(m != NULL, "cannot connect as the %s account of %s: error %u",
                  migrate ? "migration" : "service", svc, err);
    return m;
}

/* Run sql; 0 when it succeeded (results drained), else the error number. */
static unsigned run(MYSQL *m, const char *sql)
{
    if (mysql_query(m, sql) != 0)
        return mysql_errno(m);
    MYSQL_RES *res = mysql_store_result(m);
    if (res != NULL)
        mysql_free_result(res);
    return 0;
}

static int denied(unsigned err)
{
    return err == ER_TABLEACCESS_DENIED_ERROR || err == ER_DBACCESS_DENIED_ERROR ||
           err == ER_ACCESS_DENIED_ERROR || err == ER_SPECIFIC_ACCESS_DENIED_ERROR ||
           err == ER_COLUMNACCESS_DENIED_ERROR;
}

#define EXPECT_OK(m, sql)                                                                          \
    do {                                                                                           \
        unsigned e_ = run((m), (sql));                                                             \
        ck_assert_msg(e_ == 0, "%s: %s failed: %u %s", who, (sql), e_, mysql_error(m));            \
    } while (0)
#define EXPECT_DENIED(m, sql)                                                                      \
    do {                                                                                           \
        unsigned e_ = run((m), (sql));                                                             \
        ck_assert_msg(denied(e_), "%s: %s was not refused for lack of privilege: %u %s", who,      \
                      (sql), e_, e_ ? mysql_error(m) : "(it succeeded)");                          \
    } while (0)

/* Every row of SHOW GRANTS, joined with newlines, into buf. */
static void grants_of(MYSQL *m, char *buf, size_t n)
{
    ck_assert_int_eq(mysql_query(m, "SHOW GRANTS"), 0);
    MYSQL_RES *res = mysql_store_result(m);
    ck_assert_ptr_nonnull(res);
    size_t off = 0;
    buf[0] = '\0';
    for (MYSQL_ROW row; (row = mysql_fetch_row(res)) != NULL;)
        off += (size_t)snprintf(buf + off, off < n ? n - off : 0, "%s\n", row[0] ? row[0] : "");
    mysql_free_result(res);
}

START_TEST(test_service_accounts)
{
    char sql[512], grants[4096], who[300];

    load_services();
    for (int i = 0; i < n_services; i++) {
        const char *svc = services[i];
        snprintf(who, sizeof who, "crm_%s", svc);
        MYSQL *m = must_connect(svc, 0);

        /* Its own schema: rows yes, tables no. */
        snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM crm_%s.schema_migrations", svc);
        EXPECT_OK(m, sql);
        snprintf(sql, sizeof sql, "CREATE TABLE crm_%s.isolation_probe (i INT)", svc);
        EXPECT_DENIED(m, sql);
        snprintf(sql, sizeof sql, "DROP TABLE crm_%s.schema_migrations", svc);
        EXPECT_DENIED(m, sql);
        snprintf(sql, sizeof sql, "ALTER TABLE crm_%s.schema_migrations ADD COLUMN x INT", svc);
        EXPECT_DENIED(m, sql);

        /* Another service's schema: nothing at all. */
        for (int j = 0; j < n_services; j++) {
            if (j == i)
                continue;
            snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM crm_%s.schema_migrations", services[j]);
            EXPECT_DENIED(m, sql);
            snprintf(sql, sizeof sql, "DELETE FROM crm_%s.schema_migrations", services[j]);
            EXPECT_DENIED(m, sql);
            snprintf(sql, sizeof sql, "USE crm_%s", services[j]);
            EXPECT_DENIED(m, sql);
        }

        /* No global privilege: files, other sessions, the server's users. */
        EXPECT_DENIED(m, "SELECT 1 INTO OUTFILE '/tmp/crm-isolation-probe'");
        EXPECT_DENIED(m, "SELECT COUNT(*) FROM mysql.user");
        EXPECT_DENIED(m, "CREATE USER 'crm_isolation_probe'@'localhost'");
        EXPECT_DENIED(m, "SET GLOBAL max_connections = 1000");
        grants_of(m, grants, sizeof grants);
        static const char *const forbidden[] = { "ALL PRIVILEGES", "FILE",         "PROCESS",
                                                 "SUPER",          "GRANT OPTION", "CREATE",
                                                 "DROP",           "ALTER",        "*.* TO" };
        for (size_t k = 0; k < sizeof forbidden / sizeof forbidden[0]; k++) {
            /* "GRANT USAGE ON *.* TO" is the account itself: no privilege. */
            const char *hit = strstr(grants, forbidden[k]);
            if (hit != NULL && strcmp(forbidden[k], "*.* TO") == 0 &&
                strstr(grants, "GRANT USAGE ON *.* TO") != NULL &&
                strstr(hit + 1, "*.* TO") == NULL)
                hit = NULL;
            ck_assert_msg(hit == NULL, "%s holds %s:\n%s", who, forbidden[k], grants);
        }
        snprintf(sql, sizeof sql, "GRANT SELECT, INSERT, UPDATE, DELETE ON `crm_%s`.*", svc);
        ck_assert_msg(strstr(grants, sql) != NULL, "%s lacks DML on its schema:\n%s", who, grants);
        snprintf(sql, sizeof sql, "MAX_USER_CONNECTIONS %d", MAX_CONNECTIONS);
        ck_assert_msg(strstr(grants, sql) != NULL, "%s has no connection limit of %d:\n%s", who,
                      MAX_CONNECTIONS, grants);
        mysql_close(m);
    }
}
END_TEST

START_TEST(test_migration_accounts)
{
    char sql[512], who[300];

    load_services();
    for (int i = 0; i < n_services; i++) {
        const char *svc = services[i];
        snprintf(who, sizeof who, "crm_%s_migrate", svc);
        MYSQL *m = must_connect(svc, 1);
        snprintf(sql, sizeof sql, "CREATE TABLE crm_%s.isolation_probe (i INT)", svc);
        EXPECT_OK(m, sql);
        snprintf(sql, sizeof sql, "DROP TABLE crm_%s.isolation_probe", svc);
        EXPECT_OK(m, sql);
        for (int j = 0; j < n_services; j++) {
            if (j == i)
                continue;
            snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM crm_%s.schema_migrations", services[j]);
            EXPECT_DENIED(m, sql);
            snprintf(sql, sizeof sql, "CREATE TABLE crm_%s.isolation_probe (i INT)", services[j]);
            EXPECT_DENIED(m, sql);
        }
        EXPECT_DENIED(m, "SELECT 1 INTO OUTFILE '/tmp/crm-isolation-probe'");
        EXPECT_DENIED(m, "CREATE USER 'crm_isolation_probe'@'localhost'");
        mysql_close(m);
    }
}
END_TEST

/*
 * The connection cap: connections beyond it are refused (ER_USER_LIMIT_
 * REACHED) while the other services' accounts still connect. The pools of
 * the stack hold some of the account's connections already.
 */
START_TEST(test_connection_limit)
{
    static MYSQL *held[MAX_CONNECTIONS + 1];
    unsigned err = 0;
    int n = 0;

    load_services();
    const char *svc = services[n_services - 1];
    while (n <= MAX_CONNECTIONS) {
        MYSQL *m = connect_as(svc, 0, &err);
        if (m == NULL)
            break;
        held[n++] = m;
    }
    ck_assert_msg(err == ER_USER_LIMIT_REACHED,
                  "crm_%s opened %d connections; the next one failed with %u, want %d (limit %d)",
                  svc, n, err, ER_USER_LIMIT_REACHED, MAX_CONNECTIONS);
    ck_assert_int_le(n, MAX_CONNECTIONS);
    /* Another service is not affected. */
    MYSQL *other = connect_as(services[0], 0, &err);
    ck_assert_msg(other != NULL, "crm_%s cannot connect while crm_%s is at its limit: %u",
                  services[0], svc, err);
    mysql_close(other);
    while (n > 0)
        mysql_close(held[--n]);
}
END_TEST

static Suite *isolation_suite(void)
{
    Suite *s = suite_create("db_isolation");
    TCase *tc = tcase_create("accounts");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, itest_teardown);
    tcase_add_test(tc, test_service_accounts);
    tcase_add_test(tc, test_migration_accounts);
    tcase_add_test(tc, test_connection_limit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    itest_init();
    SRunner *sr = srunner_create(isolation_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
