/*
 * test_commands.c - crm-identity's own subcommands (commands.c) as
 * crm_service_main dispatches them: the usage text lists them, arguments
 * and the password are checked before anything touches a database (exit
 * 2), the password never shows in what is printed, and the built-in
 * subcommands keep their rules. Storing a user (exit 0 or 3) needs the
 * stack: tests/integration/test_identity.c.
 */
#include "identity.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const crm_route no_routes[1];
static const crm_command commands[] = {
    { "create-admin", "--email E [--name N]", "make an admin", identity_cmd_create_admin },
    { "create-user", "--email E --name N --role R", "make a user", identity_cmd_create_user },
};
static const crm_service svc = {
    .name = "identity",
    .routes = no_routes,
    .n_routes = 0,
    .commands = commands,
    .n_commands = CRM_NELEM(commands),
};

typedef struct {
    int rc;
    char out[16384];
    char err[16384];
} run_result;

static void drain(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = read(fd, buf + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = '\0';
    close(fd);
}

/* Run crm_service_main with args and stdin_text (NULL: empty stdin),
   capturing stdout and stderr. */
static void run(const char *const *args, const char *stdin_text, run_result *res)
{
    int po[2], pe[2], pi[2];
    char *argv[16];
    int argc = 0;

    while (args[argc] != NULL) {
        ck_assert_int_lt(argc, 15);
        argv[argc] = (char *)args[argc];
        argc++;
    }
    argv[argc] = NULL;
    ck_assert_int_eq(pipe(po), 0);
    ck_assert_int_eq(pipe(pe), 0);
    ck_assert_int_eq(pipe(pi), 0);
    if (stdin_text != NULL)
        ck_assert_int_eq(write(pi[1], stdin_text, strlen(stdin_text)), (ssize_t)strlen(stdin_text));
    close(pi[1]);
    fflush(stdout);
    fflush(stderr);
    int saved_in = dup(STDIN_FILENO), saved_out = dup(STDOUT_FILENO),
        saved_err = dup(STDERR_FILENO);
    ck_assert_int_ge(dup2(pi[0], STDIN_FILENO), 0);
    ck_assert_int_ge(dup2(po[1], STDOUT_FILENO), 0);
    ck_assert_int_ge(dup2(pe[1], STDERR_FILENO), 0);
    close(pi[0]);
    close(po[1]);
    close(pe[1]);
    __fpurge(stdin); /* nothing left over from an earlier run */
    clearerr(stdin);

    res->rc = crm_service_main(argc, argv, &svc);

    fflush(stdout);
    fflush(stderr);
    dup2(saved_in, STDIN_FILENO);
    dup2(saved_out, STDOUT_FILENO);
    dup2(saved_err, STDERR_FILENO);
    close(saved_in);
    close(saved_out);
    close(saved_err);
    drain(po[0], res->out, sizeof(res->out));
    drain(pe[0], res->err, sizeof(res->err));
}

/* No CRM_* variable from the caller's environment may change a result;
   the database is one that is never reached. */
static void clean_env(void)
{
    char name[256];
    for (size_t i = 0; i < crm_config_table_len; i++) {
        unsetenv(crm_config_table[i].env);
        snprintf(name, sizeof(name), "%s_FILE", crm_config_table[i].env);
        unsetenv(name);
    }
    unsetenv("CRM_NEW_PASSWORD_FILE");
    setenv("CRM_DB_HOST", "127.0.0.1", 1);
    setenv("CRM_DB_PORT", "1", 1);
    setenv("CRM_DB_TIMEOUT", "1", 1);
    setenv("CRM_LOG_LEVEL", "error", 1);
}

static char pw_path[64];

static void password_file(const char *text)
{
    snprintf(pw_path, sizeof(pw_path), "/tmp/crm-test-commands-XXXXXX");
    int fd = mkstemp(pw_path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    setenv("CRM_NEW_PASSWORD_FILE", pw_path, 1);
}

static void setup(void)
{
    clean_env();
    pw_path[0] = '\0';
}

static void teardown(void)
{
    if (pw_path[0] != '\0')
        unlink(pw_path);
    unsetenv("CRM_NEW_PASSWORD_FILE");
}

START_TEST(test_usage_lists_commands)
{
    static const char *const args[] = { "crm-identity", "help", NULL };
    static run_result res;
    run(args, NULL, &res);
    ck_assert_int_eq(res.rc, 0);
    ck_assert_ptr_nonnull(strstr(res.err, "usage: crm-identity"));
    ck_assert_ptr_nonnull(strstr(res.err, "create-admin --email E [--name N]"));
    ck_assert_ptr_nonnull(strstr(res.err, "create-user --email E --name N --role R"));
    ck_assert_ptr_nonnull(strstr(res.err, "migrate"));
}
END_TEST

/* Arguments that cannot work: 2 and the command's usage, before any
   password is read. */
START_TEST(test_bad_arguments)
{
    const char *const *const cases[] = {
        (const char *const[]){ "crm-identity", "create-admin", NULL },
        (const char *const[]){ "crm-identity", "create-admin", "--email", NULL },
        (const char *const[]){ "crm-identity", "create-admin", "--email", "a@b.io", "--bogus",
                               NULL },
        (const char *const[]){ "crm-identity", "create-admin", "--email", "a@b.io", "--role",
                               "viewer", NULL },
        (const char *const[]){ "crm-identity", "create-admin", "--email", "a@b.io", "--email",
                               "c@d.io", NULL },
        (const char *const[]){ "crm-identity", "create-admin", "--email", "a@b.io", "--password",
                               "secret", NULL },
        (const char *const[]){ "crm-identity", "create-user", "--email", "a@b.io", "--name", "N",
                               NULL },
        (const char *const[]){ "crm-identity", "create-user", "--email=a@b.io", "--role=viewer",
                               NULL },
    };
    for (size_t i = 0; i < CRM_NELEM(cases); i++) {
        static run_result res;
        run(cases[i], "a long enough password\n", &res);
        ck_assert_msg(res.rc == 2, "case %zu gave %d: %s", i, res.rc, res.err);
        ck_assert_msg(strstr(res.err, "usage: crm-identity create-") != NULL, "case %zu: %s", i,
                      res.err);
        ck_assert_str_eq(res.out, "");
    }
}
END_TEST

/* Input the API would refuse: 2, one line per field, nothing stored (the
   database is unreachable here, so reaching it would say otherwise). */
START_TEST(test_bad_input)
{
    static run_result res;
    static const char *const bad_email[] = { "crm-identity", "create-admin", "--email",
                                             "not-an-email", NULL };
    password_file("a long enough password\n");
    run(bad_email, NULL, &res);
    ck_assert_int_eq(res.rc, 2);
    ck_assert_ptr_nonnull(strstr(res.err, "email"));
    ck_assert_ptr_null(strstr(res.err, "a long enough password"));

    static const char *const bad_role[] = { "crm-identity", "create-user", "--email",
                                            "a@b.io",       "--name",      "N",
                                            "--role",       "root",        NULL };
    run(bad_role, NULL, &res);
    ck_assert_int_eq(res.rc, 2);
    ck_assert_ptr_nonnull(strstr(res.err, "role"));

    static const char *const long_name[] = {
        "crm-identity", "create-admin", "--email", "a@b.io", "--name", "", NULL
    };
    run(long_name, NULL, &res);
    ck_assert_int_eq(res.rc, 2);
    ck_assert_ptr_nonnull(strstr(res.err, "name"));
}
END_TEST

START_TEST(test_password_sources)
{
    static run_result res;
    static const char *const args[] = { "crm-identity", "create-admin", "--email", "a@b.io", NULL };

    /* Nothing on stdin and no file. */
    run(args, NULL, &res);
    ck_assert_int_eq(res.rc, 2);
    ck_assert_ptr_nonnull(strstr(res.err, "no password"));

    /* Too short, from stdin; never echoed. */
    run(args, "tiny-secret\n", &res);
    ck_assert_int_eq(res.rc, 2);
    ck_assert_ptr_nonnull(strstr(res.err, "password must be at least 12 characters"));
    ck_assert_ptr_null(strstr(res.err, "tiny-secret"));
    ck_assert_str_eq(res.out, "");

    /* A file that is not there. */
    setenv("CRM_NEW_PASSWORD_FILE", "/nonexistent/crm-password", 1);
    run(args, "a long enough password\n", &res);
    ck_assert_int_eq(res.rc, 2);
    ck_assert_ptr_nonnull(strstr(res.err, "CRM_NEW_PASSWORD_FILE"));

    /* Too short, from a file (its one trailing newline is not part of it). */
    password_file("elevenchars\n");
    run(args, NULL, &res);
    ck_assert_int_eq(res.rc, 2);
    ck_assert_ptr_nonnull(strstr(res.err, "password"));

    /* A good password gets as far as the database, which is not there: 1. */
    teardown();
    password_file("twelve chars\n");
    run(args, NULL, &res);
    ck_assert_msg(res.rc == 1, "gave %d: %s", res.rc, res.err);
    ck_assert_ptr_null(strstr(res.err, "twelve chars"));
    ck_assert_str_eq(res.out, "");
}
END_TEST

START_TEST(test_builtins_unchanged)
{
    static run_result res;
    static const char *const version_extra[] = { "crm-identity", "version", "extra", NULL };
    run(version_extra, NULL, &res);
    ck_assert_int_eq(res.rc, 2);
    static const char *const migrate_extra[] = { "crm-identity", "migrate", "now", NULL };
    run(migrate_extra, NULL, &res);
    ck_assert_int_eq(res.rc, 2);
    static const char *const unknown[] = { "crm-identity", "create-admins", NULL };
    run(unknown, NULL, &res);
    ck_assert_int_eq(res.rc, 2);
    ck_assert_ptr_nonnull(strstr(res.err, "usage: crm-identity"));
    static const char *const version[] = { "crm-identity", "version", NULL };
    run(version, NULL, &res);
    ck_assert_int_eq(res.rc, 0);
    ck_assert_str_eq(res.out, "crm-identity " CRM_VERSION "\n");
}
END_TEST

static Suite *commands_suite(void)
{
    Suite *s = suite_create("identity commands");
    TCase *tc = tcase_create("commands");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_usage_lists_commands);
    tcase_add_test(tc, test_bad_arguments);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_password_sources);
    tcase_add_test(tc, test_builtins_unchanged);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(commands_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
