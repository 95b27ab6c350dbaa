/*
 * test_crm_log.c - crm_log: one well-formed JSON line per call on stderr.
 */
#include "crm_log.h"

#include <check.h>
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Everything written to stderr while fn runs. Caller frees. */
static char *capture(void (*fn)(void), size_t *len)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    int saved = dup(STDERR_FILENO);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_ge(dup2(p[1], STDERR_FILENO), 0);
    close(p[1]);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);

    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    ssize_t r;
    while ((r = read(p[0], buf + n, cap - n)) > 0)
        n += (size_t)r;
    close(p[0]);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Parse one line strictly (valid UTF-8 required). */
static json_object *parse_line(const char *line, size_t len)
{
    ck_assert_uint_gt(len, 0);
    ck_assert_int_eq(line[len - 1], '\n');
    ck_assert_ptr_null(memchr(line, '\n', len - 1));
    json_tokener *tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *o = json_tokener_parse_ex(tok, line, (int)len - 1);
    ck_assert_msg(o != NULL, "not JSON: %s", line);
    ck_assert_int_eq(json_tokener_get_error(tok), json_tokener_success);
    json_tokener_free(tok);
    ck_assert(json_object_is_type(o, json_type_object));
    return o;
}

static const char *get_str(json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v))
        return NULL;
    ck_assert(json_object_is_type(v, json_type_string));
    return json_object_get_string(v);
}

static const char *g_msg; /* what the logging callbacks log */

static void log_info_msg(void)
{
    crm_log_info("%s", g_msg);
}

static void log_plain(void)
{
    crm_log_info("hello %d", 42);
}

START_TEST(test_fields)
{
    size_t len;
    crm_log_init("customers", CRM_LOG_INFO);
    crm_log_set_request(NULL);
    char *out = capture(log_plain, &len);
    json_object *o = parse_line(out, len);

    ck_assert_str_eq(get_str(o, "level"), "info");
    ck_assert_str_eq(get_str(o, "service"), "customers");
    ck_assert_str_eq(get_str(o, "msg"), "hello 42");
    ck_assert_ptr_null(get_str(o, "request_id"));
    json_object *pid;
    ck_assert(json_object_object_get_ex(o, "pid", &pid));
    ck_assert(json_object_is_type(pid, json_type_int));
    ck_assert_int_eq(json_object_get_int(pid), getpid());

    regex_t re;
    ck_assert_int_eq(regcomp(&re,
                             "^[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]"
                             "\\.[0-9]{3}Z$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    ck_assert_msg(regexec(&re, get_str(o, "ts"), 0, NULL, 0) == 0, "ts %s", get_str(o, "ts"));
    regfree(&re);
    ck_assert(strncmp(out, "{\"ts\":", 6) == 0);
    json_object_put(o);
    free(out);
}
END_TEST

static void log_all_levels(void)
{
    crm_log_debug("d");
    crm_log_info("i");
    crm_log_warn("w");
    crm_log_error("e");
}

START_TEST(test_min_level)
{
    size_t len;
    crm_log_init("svc", CRM_LOG_WARN);
    char *out = capture(log_all_levels, &len);
    char *nl = strchr(out, '\n');
    ck_assert_ptr_nonnull(nl);
    json_object *a = parse_line(out, (size_t)(nl - out) + 1);
    json_object *b = parse_line(nl + 1, len - (size_t)(nl - out) - 1);
    ck_assert_str_eq(get_str(a, "level"), "warn");
    ck_assert_str_eq(get_str(b, "level"), "error");
    json_object_put(a);
    json_object_put(b);
    free(out);

    crm_log_init("svc", CRM_LOG_DEBUG);
    out = capture(log_all_levels, &len);
    int lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += out[i] == '\n';
    ck_assert_int_eq(lines, 4);
    free(out);
}
END_TEST

START_TEST(test_level_names)
{
    ck_assert_int_eq(crm_log_level("debug"), CRM_LOG_DEBUG);
    ck_assert_int_eq(crm_log_level("info"), CRM_LOG_INFO);
    ck_assert_int_eq(crm_log_level("warn"), CRM_LOG_WARN);
    ck_assert_int_eq(crm_log_level("error"), CRM_LOG_ERROR);
    ck_assert_int_eq(crm_log_level("INFO"), -1);
    ck_assert_int_eq(crm_log_level(""), -1);
    ck_assert_int_eq(crm_log_level("warning"), -1);
    ck_assert_int_eq(crm_log_level(NULL), -1);
}
END_TEST

START_TEST(test_request_id)
{
    size_t len;
    crm_log_init("svc", CRM_LOG_INFO);
    crm_log_set_request("abc\"123\n");
    g_msg = "in request";
    char *out = capture(log_info_msg, &len);
    json_object *o = parse_line(out, len);
    ck_assert_str_eq(get_str(o, "request_id"), "abc\"123\n");
    json_object_put(o);
    free(out);

    crm_log_set_request(NULL);
    out = capture(log_info_msg, &len);
    o = parse_line(out, len);
    ck_assert_ptr_null(get_str(o, "request_id"));
    json_object_put(o);
    free(out);
}
END_TEST

START_TEST(test_hostile_message)
{
    size_t len;
    crm_log_init("svc", CRM_LOG_INFO);
    crm_log_set_request(NULL);
    g_msg = "q\" b\\ nl\n cr\r tab\t bell\x07 esc\x1b del\x7f "
            "utf8 \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 "
            "bad \xff \xc3 \xed\xa0\x80 end\"}";
    char *out = capture(log_info_msg, &len);
    json_object *o = parse_line(out, len);
    ck_assert_str_eq(get_str(o, "msg"),
                     "q\" b\\ nl\n cr\r tab\t bell\x07 esc\x1b del\x7f "
                     "utf8 \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 "
                     "bad \xef\xbf\xbd \xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd end\"}");
    /* Raw control characters never reach the line. */
    for (size_t i = 0; i + 1 < len; i++)
        ck_assert_int_ge((unsigned char)out[i], 0x20);
    json_object_put(o);
    free(out);
}
END_TEST

static void check_truncated(const char *expect_char, size_t char_len)
{
    size_t len;
    char *out = capture(log_info_msg, &len);
    ck_assert_uint_le(len, PIPE_BUF);
    json_object *o = parse_line(out, len);
    json_object *t;
    ck_assert(json_object_object_get_ex(o, "truncated", &t));
    ck_assert(json_object_get_boolean(t));
    const char *msg = get_str(o, "msg");
    size_t n = strlen(msg);
    ck_assert_uint_gt(n, PIPE_BUF / 8);
    ck_assert_uint_eq(n % char_len, 0);
    for (size_t i = 0; i < n; i += char_len)
        ck_assert(memcmp(msg + i, expect_char, char_len) == 0);
    json_object_put(o);
    free(out);
}

START_TEST(test_truncation)
{
    size_t big = 100000;
    char *s = malloc(big + 1);
    crm_log_init("svc", CRM_LOG_INFO);
    crm_log_set_request("req-1");

    memset(s, 'x', big);
    s[big] = '\0';
    g_msg = s;
    check_truncated("x", 1);

    /* Every byte escapes to two: the cut must fall between escapes. */
    memset(s, '"', big);
    check_truncated("\"", 1);

    /* Two-byte characters, with and without an odd start. */
    for (size_t i = 0; i + 1 < big; i += 2)
        memcpy(s + i, "\xc3\xa9", 2);
    check_truncated("\xc3\xa9", 2);
    s[0] = '\x01';
    g_msg = s + 1; /* starts on a continuation byte: one U+FFFD first */
    {
        size_t len;
        char *out = capture(log_info_msg, &len);
        json_object *o = parse_line(out, len);
        ck_assert(strncmp(get_str(o, "msg"), "\xef\xbf\xbd\xc3\xa9", 5) == 0);
        json_object_put(o);
        free(out);
    }

    /* Four-byte characters cut by the formatting buffer. */
    for (size_t i = 0; i + 3 < big; i += 4)
        memcpy(s + i, "\xf0\x9f\x98\x80", 4);
    s[big - big % 4] = '\0';
    g_msg = s;
    check_truncated("\xf0\x9f\x98\x80", 4);

    /* Control characters escape to six bytes each. */
    memset(s, '\x01', big);
    s[big] = '\0';
    check_truncated("\x01", 1);

    crm_log_set_request(NULL);
    free(s);
}
END_TEST

static void log_keeps_errno(void)
{
    errno = EACCES;
    crm_log_error("failed");
    ck_assert_int_eq(errno, EACCES);
}

START_TEST(test_errno_preserved)
{
    size_t len;
    crm_log_init("svc", CRM_LOG_INFO);
    free(capture(log_keeps_errno, &len));
}
END_TEST

START_TEST(test_long_service_and_request_id)
{
    char name[300];
    size_t len;
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    crm_log_init(name, CRM_LOG_INFO);
    crm_log_set_request(name);
    g_msg = "m";
    char *out = capture(log_info_msg, &len);
    json_object *o = parse_line(out, len);
    ck_assert_uint_lt(strlen(get_str(o, "service")), sizeof(name) - 1);
    ck_assert_uint_lt(strlen(get_str(o, "request_id")), sizeof(name) - 1);
    ck_assert_str_eq(get_str(o, "msg"), "m");
    json_object_put(o);
    free(out);
    crm_log_set_request(NULL);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("crm_log");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_fields);
    tcase_add_test(tc, test_min_level);
    tcase_add_test(tc, test_level_names);
    tcase_add_test(tc, test_request_id);
    tcase_add_test(tc, test_hostile_message);
    tcase_add_test(tc, test_truncation);
    tcase_add_test(tc, test_errno_preserved);
    tcase_add_test(tc, test_long_service_and_request_id);
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
