/*
 * test_crm_service.c - the program around a service: subcommands, exit
 * codes and what they print. Nothing here reaches a database or forks
 * workers: only paths that stop before that are exercised.
 */
#include "crm_service.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const crm_route no_routes[1];
static const crm_service svc = { .name = "x", .routes = no_routes, .n_routes = 0 };

typedef struct {
    int rc;
    char out[65536];
    char err[65536];
} run_result;

/* Everything the pipe holds once its writer is closed. */
static void drain(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = read(fd, buf + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = '\0';
    close(fd);
}

/* Run crm_service_main with argv, capturing stdout and stderr. */
static void run(int argc, const char *const *args, run_result *res)
{
    int po[2], pe[2];
    char *argv[8];

    ck_assert_int_lt(argc, 8);
    for (int i = 0; i < argc; i++)
        argv[i] = (char *)args[i];
    argv[argc] = NULL;

    ck_assert_int_eq(pipe(po), 0);
    ck_assert_int_eq(pipe(pe), 0);
    fflush(stdout);
    fflush(stderr);
    int saved_out = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
    ck_assert_int_ge(saved_out, 0);
    ck_assert_int_ge(saved_err, 0);
    ck_assert_int_ge(dup2(po[1], STDOUT_FILENO), 0);
    ck_assert_int_ge(dup2(pe[1], STDERR_FILENO), 0);
    close(po[1]);
    close(pe[1]);

    res->rc = crm_service_main(argc, argv, &svc);

    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, STDOUT_FILENO);
    dup2(saved_err, STDERR_FILENO);
    close(saved_out);
    close(saved_err);
    drain(po[0], res->out, sizeof(res->out));
    drain(pe[0], res->err, sizeof(res->err));
}

/* No CRM_* variable from the caller's environment may change a result. */
static void clean_env(void)
{
    char name[256];
    for (size_t i = 0; i < crm_config_table_len; i++) {
        unsetenv(crm_config_table[i].env);
        snprintf(name, sizeof(name), "%s_FILE", crm_config_table[i].env);
        unsetenv(name);
    }
}

START_TEST(test_version)
{
    static const char *const args[] = { "crm-x", "version" };
    static run_result res;
    run(2, args, &res);
    ck_assert_int_eq(res.rc, 0);
    ck_assert_str_eq(res.out, "crm-x 0.1.0\n");
    ck_assert_str_eq(res.out, "crm-x " CRM_VERSION "\n");
    ck_assert_str_eq(res.err, "");
}
END_TEST

START_TEST(test_help)
{
    static const char *const helps[] = { "help", "-h", "--help" };
    for (size_t i = 0; i < CRM_NELEM(helps); i++) {
        const char *args[] = { "crm-x", helps[i] };
        static run_result res;
        run(2, args, &res);
        ck_assert_int_eq(res.rc, 0);
        ck_assert_msg(strstr(res.err, "usage: crm-x") != NULL, "no usage: %s", res.err);
        ck_assert_ptr_nonnull(strstr(res.err, "migrate"));
        ck_assert_ptr_nonnull(strstr(res.err, "version"));
    }
}
END_TEST

START_TEST(test_unknown_subcommand)
{
    static const char *const bad[] = { "serv", "VERSION", "", "--version", "migrate-now" };
    for (size_t i = 0; i < CRM_NELEM(bad); i++) {
        const char *args[] = { "crm-x", bad[i] };
        static run_result res;
        run(2, args, &res);
        ck_assert_msg(res.rc == 2, "\"%s\" gave %d", bad[i], res.rc);
        ck_assert_ptr_nonnull(strstr(res.err, "usage: crm-x"));
        ck_assert_str_eq(res.out, "");
    }
}
END_TEST

START_TEST(test_extra_args)
{
    static run_result res;
    static const char *const a1[] = { "crm-x", "version", "extra" };
    run(3, a1, &res);
    ck_assert_int_eq(res.rc, 2);
    ck_assert_str_eq(res.out, "");
    ck_assert_ptr_nonnull(strstr(res.err, "usage: crm-x"));

    static const char *const a2[] = { "crm-x", "migrate", "now" };
    run(3, a2, &res);
    ck_assert_int_eq(res.rc, 2);

    /* Even "help" with something after it is a usage error. */
    static const char *const a3[] = { "crm-x", "help", "me" };
    run(3, a3, &res);
    ck_assert_int_eq(res.rc, 2);
}
END_TEST

/* A bad setting stops migrate (and serve) before anything else, naming it. */
static void assert_bad_config(const char *var, const char *value, const char *cmd)
{
    clean_env();
    ck_assert_int_eq(setenv(var, value, 1), 0);
    const char *args[] = { "crm-x", cmd };
    static run_result res;
    run(2, args, &res);
    ck_assert_msg(res.rc == 2, "%s=%s %s gave %d", var, value, cmd, res.rc);
    ck_assert_msg(strstr(res.err, var) != NULL, "stderr does not name %s: %s", var, res.err);
    ck_assert_msg(strncmp(res.err, "crm-x: ", 7) == 0, "stderr: %s", res.err);
    ck_assert_str_eq(res.out, "");
    unsetenv(var);
}

START_TEST(test_bad_config)
{
    assert_bad_config("CRM_WORKERS", "abc", "migrate");
    assert_bad_config("CRM_WORKERS", "-1", "migrate");
    assert_bad_config("CRM_WORKERS", "999999", "migrate");
    assert_bad_config("CRM_DB_PORT", "0", "migrate");
    assert_bad_config("CRM_LOG_LEVEL", "loud", "migrate");
    assert_bad_config("CRM_WORKERS", "abc", "serve");
}
END_TEST

START_TEST(test_bad_config_default_serve)
{
    /* No subcommand means serve: config is still checked first. */
    clean_env();
    setenv("CRM_BODY_MAX", "lots", 1);
    static const char *const args[] = { "crm-x" };
    static run_result res;
    run(1, args, &res);
    ck_assert_int_eq(res.rc, 2);
    ck_assert_ptr_nonnull(strstr(res.err, "CRM_BODY_MAX"));
    unsetenv("CRM_BODY_MAX");
}
END_TEST

START_TEST(test_secret_not_printed)
{
    /* Both a value and a file for a secret: an error that never shows it. */
    clean_env();
    setenv("CRM_DB_PASSWORD", "hunter2-secret", 1);
    setenv("CRM_DB_PASSWORD_FILE", "/nonexistent", 1);
    static const char *const args[] = { "crm-x", "migrate" };
    static run_result res;
    run(2, args, &res);
    ck_assert_int_eq(res.rc, 2);
    ck_assert_ptr_nonnull(strstr(res.err, "CRM_DB_PASSWORD"));
    ck_assert_ptr_null(strstr(res.err, "hunter2"));
    clean_env();
}
END_TEST

START_TEST(test_no_worker_db_outside_workers)
{
    ck_assert_ptr_null(crm_service_db());
}
END_TEST

START_TEST(test_db_opts)
{
    crm_config c;
    crm_db_opts o;
    memset(&c, 0, sizeof(c));
    c.db_host = "db.local";
    c.db_port = 3307;
    c.db_socket = NULL;
    c.db_name = "crm_x";
    c.db_user = "crm_x";
    c.db_password = "pw";
    c.db_migrate_user = "crm_x_migrate";
    c.db_migrate_password = "mpw";
    c.db_timeout = 7;

    crm_service_db_opts(&c, 0, &o);
    ck_assert_str_eq(o.host, "db.local");
    ck_assert_uint_eq(o.port, 3307);
    ck_assert_ptr_null(o.socket);
    ck_assert_str_eq(o.database, "crm_x");
    ck_assert_str_eq(o.user, "crm_x");
    ck_assert_str_eq(o.password, "pw");
    ck_assert_uint_eq(o.timeout, 7);
    ck_assert_int_eq(o.multi_statements, 0);

    crm_service_db_opts(&c, 1, &o);
    ck_assert_str_eq(o.user, "crm_x_migrate");
    ck_assert_str_eq(o.password, "mpw");
    ck_assert_int_ne(o.multi_statements, 0);
}
END_TEST

static Suite *service_suite(void)
{
    Suite *s = suite_create("crm_service");
    TCase *tc = tcase_create("main");
    tcase_add_test(tc, test_version);
    tcase_add_test(tc, test_help);
    tcase_add_test(tc, test_unknown_subcommand);
    tcase_add_test(tc, test_extra_args);
    tcase_add_test(tc, test_bad_config);
    tcase_add_test(tc, test_bad_config_default_serve);
    tcase_add_test(tc, test_secret_not_printed);
    suite_add_tcase(s, tc);

    tc = tcase_create("db");
    tcase_add_test(tc, test_no_worker_db_outside_workers);
    tcase_add_test(tc, test_db_opts);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(service_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
