/*
 * test_crm_config.c - crm_config_read / crm_config_load from the
 * environment: defaults, strict integers and bounds, NAME_FILE, secrets.
 */
#include "crm_config.h"

#include <check.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[64];

static void clear_env(void)
{
    char name[128];
    for (size_t i = 0; i < crm_config_table_len; i++) {
        unsetenv(crm_config_table[i].env);
        snprintf(name, sizeof(name), "%s_FILE", crm_config_table[i].env);
        unsetenv(name);
    }
    unsetenv("T_NUM");
    unsetenv("T_NUM_FILE");
    unsetenv("T_PIN");
    unsetenv("T_PIN_FILE");
    unsetenv("T_STR");
    unsetenv("T_STR_FILE");
}

static void setup(void)
{
    clear_env();
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_crm_config.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
    clear_env();
}

static void free_config(crm_config *c)
{
    for (size_t i = 0; i < crm_config_table_len; i++) {
        if (crm_config_table[i].type != CRM_CONF_STR)
            continue;
        char **f = (char **)(void *)((char *)c + crm_config_table[i].offset);
        free(*f);
        *f = NULL;
    }
    free(c->service);
    c->service = NULL;
}

/* A file in tmpdir with the given content; returns its path (static). */
static const char *write_file(const char *name, const char *content, size_t len)
{
    static char path[256];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(content, 1, len, f), len);
    fclose(f);
    return path;
}

/* Load with the environment as it is; returns the status, fills err. */
static int load(crm_config *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    err[0] = '\0';
    return crm_config_load(c, "sales", err, errlen);
}

START_TEST(test_defaults)
{
    crm_config c;
    char err[256];

    ck_assert_int_eq(load(&c, err, sizeof(err)), CRM_OK);
    ck_assert_str_eq(c.service, "sales");
    ck_assert_str_eq(c.listen, "unix:/tmp/crm-sales.sock");
    ck_assert_int_eq(c.backlog, 1024);
    ck_assert_int_eq(c.workers, 0);
    ck_assert_int_eq(c.max_requests, 100000);
    ck_assert_int_eq(c.drain_seconds, 10);
    ck_assert_str_eq(c.admin_addr, "127.0.0.1");
    ck_assert_int_eq(c.admin_port, 9100);
    ck_assert_int_eq(c.body_max, 1048576);
    ck_assert_str_eq(c.log_level, "info");
    ck_assert_str_eq(c.db_host, "127.0.0.1");
    ck_assert_int_eq(c.db_port, 3306);
    ck_assert_ptr_null(c.db_socket);
    ck_assert_str_eq(c.db_name, "crm_sales");
    ck_assert_str_eq(c.db_user, "crm_sales");
    ck_assert_ptr_null(c.db_password);
    ck_assert_str_eq(c.db_migrate_user, "crm_sales_migrate");
    ck_assert_ptr_null(c.db_migrate_password);
    ck_assert_int_eq(c.db_timeout, 5);
    ck_assert_str_eq(c.sql_dir, "sql/sales");
    ck_assert_str_eq(c.internal_url, "http://127.0.0.1:8081");
    ck_assert_int_eq(c.http_timeout_ms, 2000);
    free_config(&c);

    /* The defaults follow the service name. */
    memset(&c, 0, sizeof(c));
    ck_assert_int_eq(crm_config_load(&c, "identity", err, sizeof(err)), CRM_OK);
    ck_assert_str_eq(c.listen, "unix:/tmp/crm-identity.sock");
    ck_assert_str_eq(c.db_migrate_user, "crm_identity_migrate");
    free_config(&c);
}
END_TEST

START_TEST(test_env_values)
{
    crm_config c;
    char err[256];

    setenv("CRM_LISTEN", ":9000", 1);
    setenv("CRM_WORKERS", "8", 1);
    setenv("CRM_MAX_REQUESTS", "+0", 1);
    setenv("CRM_ADMIN_PORT", "0", 1);
    setenv("CRM_LOG_LEVEL", "debug", 1);
    setenv("CRM_DB_SOCKET", "/run/mysqld/mysqld.sock", 1);
    setenv("CRM_DB_PASSWORD", "pw", 1);
    setenv("CRM_DB_NAME", "literal_%s", 1); /* only defaults expand */
    ck_assert_int_eq(load(&c, err, sizeof(err)), CRM_OK);
    ck_assert_str_eq(c.listen, ":9000");
    ck_assert_int_eq(c.workers, 8);
    ck_assert_int_eq(c.max_requests, 0);
    ck_assert_int_eq(c.admin_port, 0);
    ck_assert_str_eq(c.log_level, "debug");
    ck_assert_str_eq(c.db_socket, "/run/mysqld/mysqld.sock");
    ck_assert_str_eq(c.db_password, "pw");
    ck_assert_str_eq(c.db_name, "literal_%s");
    free_config(&c);

    setenv("CRM_LISTEN", "127.0.0.1:9000", 1);
    ck_assert_int_eq(load(&c, err, sizeof(err)), CRM_OK);
    free_config(&c);
    setenv("CRM_LISTEN", "[::1]:9000", 1);
    ck_assert_int_eq(load(&c, err, sizeof(err)), CRM_OK);
    free_config(&c);
}
END_TEST

START_TEST(test_bounds)
{
    static const struct {
        const char *var, *value;
        int ok;
    } cases[] = {
        { "CRM_WORKERS", "0", 1 },
        { "CRM_WORKERS", "256", 1 },
        { "CRM_WORKERS", "257", 0 },
        { "CRM_WORKERS", "-1", 0 },
        { "CRM_WORKERS", "-0", 1 },
        { "CRM_BACKLOG", "0", 0 },
        { "CRM_BACKLOG", "65535", 1 },
        { "CRM_BACKLOG", "65536", 0 },
        { "CRM_DRAIN_SECONDS", "0", 0 },
        { "CRM_DRAIN_SECONDS", "600", 1 },
        { "CRM_ADMIN_PORT", "65536", 0 },
        { "CRM_BODY_MAX", "1023", 0 },
        { "CRM_BODY_MAX", "67108864", 1 },
        { "CRM_BODY_MAX", "67108865", 0 },
        { "CRM_DB_PORT", "0", 0 },
        { "CRM_DB_TIMEOUT", "301", 0 },
        { "CRM_MAX_REQUESTS", "100000000", 1 },
        { "CRM_MAX_REQUESTS", "100000001", 0 },
        { "CRM_HTTP_TIMEOUT_MS", "99", 0 },
        { "CRM_HTTP_TIMEOUT_MS", "100", 1 },
        { "CRM_HTTP_TIMEOUT_MS", "60000", 1 },
        { "CRM_HTTP_TIMEOUT_MS", "60001", 0 },
    };
    crm_config c;
    char err[256];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        clear_env();
        setenv(cases[i].var, cases[i].value, 1);
        int rc = load(&c, err, sizeof(err));
        ck_assert_msg((rc == CRM_OK) == cases[i].ok, "%s=%s: rc %d (%s)", cases[i].var,
                      cases[i].value, rc, err);
        if (rc == CRM_OK) {
            free_config(&c);
        } else {
            ck_assert_int_eq(rc, CRM_INVALID);
            ck_assert_msg(strstr(err, cases[i].var) == err, "%s", err);
        }
    }
}
END_TEST

START_TEST(test_bad_ints)
{
    static const char *const bad[] = { "abc",
                                       "12abc",
                                       "",
                                       " 12",
                                       "12 ",
                                       "0x10",
                                       "1e3",
                                       "1.5",
                                       "+",
                                       "-",
                                       "--1",
                                       "+-1",
                                       "99999999999999999999",
                                       "-99999999999999999999",
                                       "١٢" };
    crm_config c;
    char err[256];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        setenv("CRM_WORKERS", bad[i], 1);
        ck_assert_int_eq(load(&c, err, sizeof(err)), CRM_INVALID);
        ck_assert_msg(strncmp(err, "CRM_WORKERS: must be an integer between 0 and 256", 49) == 0,
                      "%s", err);
    }
    setenv("CRM_WORKERS", "abc", 1);
    ck_assert_int_eq(load(&c, err, sizeof(err)), CRM_INVALID);
    ck_assert_str_eq(err, "CRM_WORKERS: must be an integer between 0 and 256 (got \"abc\")");
}
END_TEST

START_TEST(test_bad_strings)
{
    crm_config c;
    char err[256];

    setenv("CRM_LOG_LEVEL", "verbose", 1);
    ck_assert_int_eq(load(&c, err, sizeof(err)), CRM_INVALID);
    ck_assert_msg(strstr(err, "CRM_LOG_LEVEL") == err, "%s", err);
    ck_assert_ptr_nonnull(strstr(err, "verbose"));
    unsetenv("CRM_LOG_LEVEL");

    static const char *const listen_bad[] = { "unix:",  "localhost", "host:",    ":0",
                                              ":65536", ":-1",       "host:http" };
    for (size_t i = 0; i < sizeof(listen_bad) / sizeof(listen_bad[0]); i++) {
        setenv("CRM_LISTEN", listen_bad[i], 1);
        ck_assert_int_eq(load(&c, err, sizeof(err)), CRM_INVALID);
        ck_assert_msg(strstr(err, "CRM_LISTEN") == err, "%s", err);
    }
    char longpath[200] = "unix:/";
    memset(longpath + 6, 'a', 150);
    longpath[156] = '\0';
    setenv("CRM_LISTEN", longpath, 1);
    ck_assert_int_eq(load(&c, err, sizeof(err)), CRM_INVALID);
}
END_TEST

START_TEST(test_file_values)
{
    crm_config c;
    char err[256];

    setenv("CRM_DB_PASSWORD_FILE", write_file("pw1", "s3cret\n", 7), 1);
    setenv("CRM_DB_MIGRATE_PASSWORD_FILE", write_file("pw2", "other", 5), 1);
    setenv("CRM_WORKERS_FILE", write_file("workers", "12\n", 3), 1);
    setenv("CRM_DB_USER_FILE", write_file("user", "two\n\n", 5), 1);
    setenv("CRM_DB_HOST_FILE", write_file("host", "", 0), 1);
    setenv("CRM_DB_NAME_FILE", write_file("name", "crlf\r\n", 6), 1);
    ck_assert_int_eq(load(&c, err, sizeof(err)), CRM_OK);
    ck_assert_str_eq(c.db_password, "s3cret");
    ck_assert_str_eq(c.db_migrate_password, "other");
    ck_assert_int_eq(c.workers, 12);
    ck_assert_str_eq(c.db_user, "two\n"); /* only one newline is stripped */
    ck_assert_str_eq(c.db_host, "");
    ck_assert_str_eq(c.db_name, "crlf");
    free_config(&c);

    /* Integers from a file are as strict as from the environment. */
    setenv("CRM_WORKERS_FILE", write_file("workers2", "12 \n", 4), 1);
    ck_assert_int_eq(load(&c, err, sizeof(err)), CRM_INVALID);
    ck_assert_msg(strstr(err, "CRM_WORKERS_FILE: must be an integer") == err, "%s", err);
}
END_TEST

START_TEST(test_file_errors)
{
    crm_config c;
    char err[256];

    /* Both forms set: refuse, and do not show the secret. */
    setenv("CRM_DB_PASSWORD", "hunter2", 1);
    setenv("CRM_DB_PASSWORD_FILE", write_file("pw", "hunter3\n", 8), 1);
    ck_assert_int_eq(load(&c, err, sizeof(err)), CRM_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "CRM_DB_PASSWORD"));
    ck_assert_ptr_nonnull(strstr(err, "CRM_DB_PASSWORD_FILE"));
    ck_assert_ptr_null(strstr(err, "hunter"));
    unsetenv("CRM_DB_PASSWORD");

    /* Missing file. */
    char missing[128];
    snprintf(missing, sizeof(missing), "%s/nope", tmpdir);
    setenv("CRM_DB_PASSWORD_FILE", missing, 1);
    ck_assert_int_eq(load(&c, err, sizeof(err)), CRM_INVALID);
    ck_assert_msg(strstr(err, "CRM_DB_PASSWORD_FILE") == err, "%s", err);

    /* A directory is not a value. */
    setenv("CRM_DB_PASSWORD_FILE", tmpdir, 1);
    ck_assert_int_eq(load(&c, err, sizeof(err)), CRM_INVALID);
    ck_assert_msg(strstr(err, "CRM_DB_PASSWORD_FILE") == err, "%s", err);

    /* Over 64 KiB, and exactly 64 KiB. */
    size_t big = 64 * 1024;
    char *content = malloc(big + 2);
    memset(content, 'p', big + 2);
    setenv("CRM_DB_PASSWORD_FILE", write_file("big", content, big + 1), 1);
    ck_assert_int_eq(load(&c, err, sizeof(err)), CRM_INVALID);
    ck_assert_msg(strstr(err, "CRM_DB_PASSWORD_FILE") == err, "%s", err);
    ck_assert_ptr_null(strstr(err, "ppp"));
    setenv("CRM_DB_PASSWORD_FILE", write_file("big", content, big), 1);
    ck_assert_int_eq(load(&c, err, sizeof(err)), CRM_OK);
    ck_assert_uint_eq(strlen(c.db_password), big);
    free_config(&c);
    free(content);

    /* A NUL inside would silently cut a secret short. */
    setenv("CRM_DB_PASSWORD_FILE", write_file("nul", "ab\0cd", 5), 1);
    ck_assert_int_eq(load(&c, err, sizeof(err)), CRM_INVALID);
}
END_TEST

/* A table of our own, as a service with extra settings would have. */
typedef struct {
    long num;
    long pin;
    char *str;
} own;

static const crm_conf_entry own_table[] = {
    { "T_NUM", CRM_CONF_INT, NULL, 1, 10, offsetof(own, num), 0, "required int" },
    { "T_PIN", CRM_CONF_INT, "1234", 0, 9999, offsetof(own, pin), 1, "secret int" },
    { "T_STR", CRM_CONF_STR, "db_%s", 0, 0, offsetof(own, str), 0, "string" },
};

START_TEST(test_own_table)
{
    own o = { -7, -7, (char *)"untouched" };
    char err[256];

    /* A required integer. On failure nothing in base changes. */
    ck_assert_int_eq(crm_config_read(own_table, 3, &o, err, sizeof(err)), CRM_INVALID);
    ck_assert_msg(strstr(err, "T_NUM") == err, "%s", err);
    ck_assert_int_eq(o.num, -7);
    ck_assert_str_eq(o.str, "untouched");

    /* A bad secret integer is not echoed. */
    setenv("T_NUM", "5", 1);
    setenv("T_PIN", "hunter2", 1);
    ck_assert_int_eq(crm_config_read(own_table, 3, &o, err, sizeof(err)), CRM_INVALID);
    ck_assert_msg(strstr(err, "T_PIN: must be an integer") == err, "%s", err);
    ck_assert_ptr_null(strstr(err, "hunter2"));
    ck_assert_int_eq(o.num, -7);

    /* "%s" expands to the service of the last crm_config_load(). */
    crm_config c;
    ck_assert_int_eq(load(&c, err, sizeof(err)), CRM_OK);
    free_config(&c);
    unsetenv("T_PIN");
    ck_assert_int_eq(crm_config_read(own_table, 3, &o, err, sizeof(err)), CRM_OK);
    ck_assert_int_eq(o.num, 5);
    ck_assert_int_eq(o.pin, 1234);
    ck_assert_str_eq(o.str, "db_sales");
    free(o.str);

    /* Tiny error buffers are never overrun. */
    char small[8];
    unsetenv("T_NUM");
    ck_assert_int_eq(crm_config_read(own_table, 3, &o, small, sizeof(small)), CRM_INVALID);
    ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
}
END_TEST

START_TEST(test_table_complete)
{
    /* Every crm_config field but service is in the table exactly once. */
    ck_assert_uint_eq(crm_config_table_len, 31);
    for (size_t i = 0; i < crm_config_table_len; i++) {
        ck_assert_ptr_nonnull(crm_config_table[i].help);
        ck_assert(strncmp(crm_config_table[i].env, "CRM_", 4) == 0);
        for (size_t j = i + 1; j < crm_config_table_len; j++)
            ck_assert_uint_ne(crm_config_table[i].offset, crm_config_table[j].offset);
        /* Passwords and keys are secrets; public keys are not. */
        int secret = strstr(crm_config_table[i].env, "PASSWORD") != NULL ||
                     (strstr(crm_config_table[i].env, "KEY") != NULL &&
                      strstr(crm_config_table[i].env, "PUBLIC") == NULL);
        ck_assert_int_eq(crm_config_table[i].secret, secret);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("crm_config");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_env_values);
    tcase_add_test(tc, test_bounds);
    tcase_add_test(tc, test_bad_ints);
    tcase_add_test(tc, test_bad_strings);
    tcase_add_test(tc, test_file_values);
    tcase_add_test(tc, test_file_errors);
    tcase_add_test(tc, test_own_table);
    tcase_add_test(tc, test_table_complete);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
