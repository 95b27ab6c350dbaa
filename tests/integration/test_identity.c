/*
 * test_identity.c - the identity service over HTTPS through NGINX: login
 * (JSON and browser form), the session cookies, the caller's account,
 * token renewal, logout, user management by admins, the stored password
 * hashes, identical answers for every failed login, and the login
 * throttle (per account and per client address, not fooled by
 * X-Forwarded-For).
 *
 * The first admin is made the way an operator makes one: `crm-identity
 * create-admin` ($CRM_BIN/crm-identity) on the stack's identity database
 * ($CRM_DB_SOCKET, password from $CRM_STATE/secrets/identity.db). Stored
 * hashes are read over the same socket with the service's own account.
 *
 * Throttling counts failures per client address, and NGINX limits logins
 * per address too: every test sends from addresses of its own
 * (127.77-127.80.x.y, from its pid), never from 127.0.0.1, so no other
 * suite's logins are ever refused because of these.
 */
#include "itest.h"

#include "crm_jwt.h"

#include <mysql.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#define LOGIN  "/api/v1/auth/login"
#define LOGOUT "/api/v1/auth/logout"
#define ME     "/api/v1/auth/me"
#define RENEW  "/api/v1/auth/token"
#define USERS  "/api/v1/users"

#define ACCOUNT_LIMIT 10  /* CRM_LOGIN_MAX_ACCOUNT of the stack (default) */
#define ADDRESS_LIMIT 20  /* CRM_LOGIN_MAX_ADDRESS */
#define WINDOW        900 /* CRM_LOGIN_WINDOW */
#define TOKEN_TTL     900 /* CRM_TOKEN_TTL */

static const char *const JSON_CT[] = { "Accept: application/json", NULL };

/* The admin made by create-admin in main, inherited by every test. */
static int64_t g_admin_id;
static char g_admin_email[128];
static char g_admin_password[64];

/* ---- helpers ---- */

/* Send from the k-th address of this test process: 127.(77+k).a.b. */
static void from_addr(int k)
{
    char a[32];
    long pid = (long)getpid();
    snprintf(a, sizeof a, "127.%d.%ld.%ld", 77 + k, (pid / 250) % 250 + 1, pid % 250 + 1);
    itest_set_source_addr(a);
}

static void setup(void)
{
    itest_as(NULL, 0); /* no default credentials: each request says who it is */
    from_addr(0);
}

static void as_admin(void)
{
    itest_as("admin", g_admin_id);
}

static char *secret_path(const char *name)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/secrets/%s", itest_env("CRM_STATE", "state/test"), name);
    return path;
}

typedef struct {
    int status; /* exit status, -1 when it did not exit */
    char out[4096];
    char err[4096];
} cmd_result;

static void drain(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = read(fd, buf + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = '\0';
    close(fd);
}

/*
 * Run $CRM_BIN/crm-identity args... on the stack's identity database. The
 * password comes from a file (pw_file set) or from stdin_text. Asserts
 * nothing (main uses it before any test runs): res->status is -1 and
 * res->err says why when the program could not run.
 */
static void identity_cmd(const char *const *args, const char *pw_file, const char *stdin_text,
                         cmd_result *res)
{
    char bin[4096];
    int in[2], out[2], err[2];
    memset(res, 0, sizeof *res);
    res->status = -1;
    snprintf(bin, sizeof bin, "%s/crm-identity", itest_env("CRM_BIN", "build/release"));
    if (access(bin, X_OK) != 0) {
        snprintf(res->err, sizeof res->err, "%.3000s is not there (set CRM_BIN)", bin);
        return;
    }
    if (pipe(in) != 0 || pipe(out) != 0 || pipe(err) != 0) {
        snprintf(res->err, sizeof res->err, "pipe failed");
        return;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(res->err, sizeof res->err, "fork failed");
        return;
    }
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        close(in[1]);
        close(out[0]);
        close(err[0]);
        setenv("CRM_DB_NAME", "crm_identity", 1);
        setenv("CRM_DB_USER", "crm_identity", 1);
        setenv("CRM_DB_PASSWORD_FILE", secret_path("identity.db"), 1);
        unsetenv("CRM_DB_PASSWORD");
        setenv("CRM_ADMIN_PORT", "0", 1);
        setenv("CRM_LOG_LEVEL", "warn", 1);
        if (pw_file != NULL)
            setenv("CRM_NEW_PASSWORD_FILE", pw_file, 1);
        else
            unsetenv("CRM_NEW_PASSWORD_FILE");
        char *argv[16];
        size_t i = 0;
        argv[i++] = bin;
        for (; args[i - 1] != NULL && i < 15; i++)
            argv[i] = (char *)args[i - 1];
        argv[i] = NULL;
        execv(bin, argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    close(err[1]);
    if (stdin_text != NULL) {
        ssize_t w = write(in[1], stdin_text, strlen(stdin_text));
        (void)w;
    }
    close(in[1]);
    drain(out[0], res->out, sizeof res->out);
    drain(err[0], res->err, sizeof res->err);
    int st = 0;
    if (waitpid(pid, &st, 0) == pid && WIFEXITED(st))
        res->status = WEXITSTATUS(st);
}

/* A file holding text (0600), its path in path; 0 when it could not be made. */
static int temp_file(char *path, size_t n, const char *text)
{
    snprintf(path, n, "/tmp/crm-it-identity-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return 0;
    ssize_t w = write(fd, text, strlen(text));
    close(fd);
    return w == (ssize_t)strlen(text);
}

/* A connection as the identity service's own account. */
static MYSQL *db_connect(void)
{
    char pw[256];
    FILE *f = fopen(secret_path("identity.db"), "r");
    ck_assert_msg(f != NULL, "cannot read %s", secret_path("identity.db"));
    size_t len = fread(pw, 1, sizeof pw - 1, f);
    fclose(f);
    pw[len] = '\0';
    pw[strcspn(pw, "\r\n")] = '\0';
    MYSQL *m = mysql_init(NULL);
    ck_assert_ptr_nonnull(m);
    const char *sock = itest_env("CRM_DB_SOCKET", NULL);
    ck_assert_msg(sock != NULL, "CRM_DB_SOCKET is not set");
    ck_assert_msg(mysql_real_connect(m, NULL, "crm_identity", pw, "crm_identity", 0, sock, 0) !=
                      NULL,
                  "cannot connect as crm_identity: %s", mysql_error(m));
    return m;
}

/* The stored password hash of user id (static buffer). */
static const char *stored_hash(int64_t id)
{
    static char hash[256];
    char sql[128];
    MYSQL *m = db_connect();
    snprintf(sql, sizeof sql, "SELECT password_hash FROM users WHERE id = %lld", (long long)id);
    ck_assert_int_eq(mysql_query(m, sql), 0);
    MYSQL_RES *res = mysql_store_result(m);
    ck_assert_ptr_nonnull(res);
    MYSQL_ROW row = mysql_fetch_row(res);
    ck_assert_msg(row != NULL && row[0] != NULL, "user %lld has no row", (long long)id);
    snprintf(hash, sizeof hash, "%s", row[0]);
    mysql_free_result(res);
    mysql_close(m);
    return hash;
}

static void unique_password(char *buf, size_t n)
{
    char w[32];
    itest_unique_word(w, sizeof w);
    snprintf(buf, n, "pw-%s-Long enough!", w);
}

/* POST /api/v1/users as the admin; asserts 201, returns the id. */
static int64_t new_user_at(const char *email, const char *role, const char *password,
                           const char *file, int line)
{
    char body[1024];
    as_admin();
    snprintf(body, sizeof body,
             "{\"email\":\"%s\",\"name\":\"IT user\",\"role\":\"%s\",\"password\":\"%s\"}", email,
             role, password);
    itest_resp *r = itest_json("POST", USERS, JSON_CT, body);
    ck_assert_msg(r->status == 201, "%s:%d: %s", file, line, itest_describe(r));
    int64_t id = itest_jint(r->json, "id");
    itest_free(r);
    itest_as(NULL, 0);
    return id;
}
#define new_user(email, role, pw) new_user_at((email), (role), (pw), __FILE__, __LINE__)

/* A user of role with a fresh email and password into email/pw. */
static int64_t fresh_user(const char *role, char *email, size_t en, char *pw, size_t pn)
{
    itest_unique_email(email, en, "id");
    unique_password(pw, pn);
    return new_user(email, role, pw);
}

static itest_resp *login_json(const char *email, const char *password, const char *const *headers)
{
    char body[1024];
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", email, password);
    return itest_json("POST", LOGIN, headers, body);
}

static itest_resp *login_form(const char *email, const char *password, const char *const *headers)
{
    char *e = itest_urlencode(email), *p = itest_urlencode(password);
    char body[1024];
    snprintf(body, sizeof body, "email=%s&password=%s", e, p);
    free(e);
    free(p);
    return itest_request("POST", LOGIN, headers, body, strlen(body),
                         "application/x-www-form-urlencoded");
}

/* "Origin: <the origin of CRM_BASE_URL>" (static buffer). */
static const char *origin_line(void)
{
    static char line[300];
    const char *base = itest_env("CRM_BASE_URL", "https://127.0.0.1:18443");
    const char *host = strstr(base, "://");
    host = host ? host + 3 : base;
    snprintf(line, sizeof line, "Origin: %.*s", (int)(host - base + strcspn(host, "/")), base);
    return line;
}

/* "Authorization: Bearer <access_token of r>" into out. */
static void bearer_of(const itest_resp *r, char *out, size_t n)
{
    const char *t = itest_jstr(r->json, "access_token");
    ck_assert_msg(t != NULL, "no access_token: %s", itest_describe(r));
    snprintf(out, n, "Authorization: Bearer %s", t);
}

/* The k-th Set-Cookie header of r naming cookie name, or NULL. */
static const char *set_cookie(const itest_resp *r, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < r->n_headers; i++) {
        if (strcasecmp(r->headers[i].name, "Set-Cookie") == 0 &&
            strncmp(r->headers[i].value, name, n) == 0 && r->headers[i].value[n] == '=')
            return r->headers[i].value;
    }
    return NULL;
}

/* The cookie's value (static buffer). */
static const char *cookie_value(const char *set_cookie_line)
{
    static char v[4096];
    const char *eq = strchr(set_cookie_line, '=');
    ck_assert_ptr_nonnull(eq);
    snprintf(v, sizeof v, "%.*s", (int)strcspn(eq + 1, ";"), eq + 1);
    return v;
}

/* The value of attribute attr of a Set-Cookie (static buffer; "" for a
   flag), or NULL when absent. Case-insensitive names. */
static const char *attr_of(const char *line, const char *attr)
{
    static char v[256];
    size_t n = strlen(attr);
    for (const char *p = strchr(line, ';'); p != NULL; p = strchr(p + 1, ';')) {
        const char *a = p + 1;
        while (*a == ' ')
            a++;
        if (strncasecmp(a, attr, n) != 0)
            continue;
        if (a[n] == ';' || a[n] == '\0') {
            v[0] = '\0';
            return v;
        }
        if (a[n] == '=') {
            snprintf(v, sizeof v, "%.*s", (int)strcspn(a + n + 1, ";"), a + n + 1);
            return v;
        }
    }
    return NULL;
}

static int has_attr(const char *line, const char *attr)
{
    return attr_of(line, attr) != NULL;
}

static void assert_session_cookie(const char *line, int http_only)
{
    ck_assert_msg(line != NULL, "no such Set-Cookie");
    ck_assert_msg(strncmp(line, "__Host-", 7) == 0, "not a __Host- cookie: %s", line);
    ck_assert_msg(has_attr(line, "Secure"), "not Secure: %s", line);
    const char *path = attr_of(line, "Path");
    ck_assert_msg(path != NULL && strcmp(path, "/") == 0, "Path is not /: %s", line);
    const char *same_site = attr_of(line, "SameSite");
    ck_assert_msg(same_site != NULL && strcmp(same_site, "Strict") == 0, "SameSite: %s", line);
    ck_assert_msg(!has_attr(line, "Domain"), "a __Host- cookie has no Domain: %s", line);
    ck_assert_msg(has_attr(line, "HttpOnly") == http_only, "HttpOnly %s: %s",
                  http_only ? "missing" : "set", line);
}

/* The JWT payload of token as JSON (the caller puts it). */
static json_object *jwt_payload(const char *token)
{
    const char *dot1 = strchr(token, '.');
    ck_assert_ptr_nonnull(dot1);
    const char *dot2 = strchr(dot1 + 1, '.');
    ck_assert_ptr_nonnull(dot2);
    unsigned char raw[2048];
    size_t n = 0;
    ck_assert_int_lt((size_t)(dot2 - dot1 - 1), sizeof raw);
    ck_assert_int_eq(crm_jwt_b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), raw, &n), CRM_OK);
    raw[n] = '\0';
    json_object *o = json_tokener_parse((const char *)raw);
    ck_assert_ptr_nonnull(o);
    return o;
}

static void assert_token_body(const itest_resp *r, int64_t id, const char *email, const char *role)
{
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_str_eq(itest_jstr(r->json, "token_type"), "Bearer");
    ck_assert_int_eq(itest_jint(r->json, "expires_in"), TOKEN_TTL);
    const char *csrf = itest_jstr(r->json, "csrf_token");
    ck_assert_ptr_nonnull(csrf);
    ck_assert_uint_eq(strlen(csrf), 43);
    json_object *u = itest_jget(r->json, "user");
    ck_assert_ptr_nonnull(u);
    ck_assert_int_eq(itest_jint(u, "id"), id);
    ck_assert_str_eq(itest_jstr(u, "email"), email);
    ck_assert_str_eq(itest_jstr(u, "role"), role);
    ck_assert_ptr_nonnull(itest_jstr(u, "name"));
    ck_assert_msg(strstr(r->body, "argon2") == NULL && strstr(r->body, "password") == NULL,
                  "the answer mentions the password: %s", r->body);
    const char *cc = itest_header_get(r, "Cache-Control");
    ck_assert_msg(cc != NULL && strstr(cc, "no-store") != NULL, "Cache-Control: %s",
                  cc ? cc : "(none)");

    /* The token says the same. */
    json_object *p = jwt_payload(itest_jstr(r->json, "access_token"));
    char sub[32];
    snprintf(sub, sizeof sub, "%lld", (long long)id);
    ck_assert_str_eq(itest_jstr(p, "sub"), sub);
    ck_assert_str_eq(itest_jstr(p, "role"), role);
    ck_assert_str_eq(itest_jstr(p, "csrf"), csrf);
    ck_assert_int_eq(itest_jint(p, "exp") - itest_jint(p, "iat"), TOKEN_TTL);
    json_object_put(p);

    /* And so do the cookies. */
    const char *session = set_cookie(r, "__Host-crm_session");
    const char *csrf_cookie = set_cookie(r, "__Host-crm_csrf");
    assert_session_cookie(session, 1);
    assert_session_cookie(csrf_cookie, 0);
    ck_assert_str_eq(cookie_value(session), itest_jstr(r->json, "access_token"));
    ck_assert_str_eq(cookie_value(csrf_cookie), csrf);
}

/* ---- login ---- */

START_TEST(test_login_json)
{
    char email[128], pw[64], auth[4096];
    int64_t id = fresh_user("sales", email, sizeof email, pw, sizeof pw);

    itest_resp *r = login_json(email, pw, JSON_CT);
    assert_token_body(r, id, email, "sales");
    ITEST_ASSERT_SECURITY(r);
    bearer_of(r, auth, sizeof auth);
    itest_free(r);

    /* The token works, as Bearer, on identity and on another service. */
    const char *h[] = { auth, NULL };
    r = itest_get(ME, h);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_int_eq(itest_jint(r->json, "id"), id);
    ck_assert_str_eq(itest_jstr(r->json, "email"), email);
    ck_assert_str_eq(itest_jstr(r->json, "role"), "sales");
    ck_assert(json_object_get_boolean(itest_jget(r->json, "active")));
    ck_assert_ptr_null(itest_jget(r->json, "password_hash"));
    ck_assert_ptr_null(itest_jget(r->json, "password"));
    itest_free(r);
    r = itest_get(ITEST_CUSTOMERS "?limit=1", h);
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);

    /* The email is not case-sensitive, and surrounding spaces do not matter. */
    char upper[160];
    snprintf(upper, sizeof upper, " %s ", email);
    for (char *c = upper; *c; c++)
        if (*c >= 'a' && *c <= 'z')
            *c = (char)(*c - 'a' + 'A');
    r = login_json(upper, pw, JSON_CT);
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);
}
END_TEST

START_TEST(test_login_form)
{
    char email[128], pw[64];
    int64_t id = fresh_user("viewer", email, sizeof email, pw, sizeof pw);

    /* A browser on our login page: 303 to the application, with the cookies. */
    const char *browser[] = { "Accept: text/html,application/xhtml+xml", origin_line(),
                              "Sec-Fetch-Site: same-origin", NULL };
    itest_resp *r = login_form(email, pw, browser);
    ITEST_ASSERT_STATUS(r, 303);
    ck_assert_str_eq(itest_header_get(r, "Location"), "/");
    assert_session_cookie(set_cookie(r, "__Host-crm_session"), 1);
    assert_session_cookie(set_cookie(r, "__Host-crm_csrf"), 0);
    ITEST_ASSERT_SECURITY(r);
    char cookie[4096];
    snprintf(cookie, sizeof cookie, "Cookie: __Host-crm_session=%s",
             cookie_value(set_cookie(r, "__Host-crm_session")));
    itest_free(r);

    /* The cookie alone is a session. */
    const char *h[] = { cookie, NULL };
    r = itest_get(ME, h);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_int_eq(itest_jint(r->json, "id"), id);
    itest_free(r);

    /* A form from a script (no text/html): the JSON answer. */
    r = login_form(email, pw, JSON_CT);
    assert_token_body(r, id, email, "viewer");
    itest_free(r);
}
END_TEST

START_TEST(test_login_bad_requests)
{
    itest_resp *r = itest_json("POST", LOGIN, JSON_CT, "{\"email\":\"a@b.io\"}");
    ITEST_ASSERT_PROBLEM(r, 422);
    ck_assert_int_eq(itest_problem_field_count(r, "password"), 1);
    itest_free(r);

    r = itest_json("POST", LOGIN, JSON_CT, "{\"email\":\"not an email\",\"password\":\"x\"}");
    ITEST_ASSERT_PROBLEM(r, 422);
    ck_assert_int_eq(itest_problem_field_count(r, "email"), 1);
    itest_free(r);

    r = itest_json("POST", LOGIN, JSON_CT, "{\"email\":\"a@b.io\",\"password\":7}");
    ITEST_ASSERT_PROBLEM(r, 422);
    itest_free(r);

    /* No mass assignment here either. */
    r = itest_json("POST", LOGIN, JSON_CT,
                   "{\"email\":\"a@b.io\",\"password\":\"x\",\"role\":\"admin\"}");
    ITEST_ASSERT_PROBLEM(r, 400);
    ck_assert_int_eq(itest_problem_field_count(r, "role"), 1);
    itest_free(r);

    r = itest_json("POST", LOGIN, JSON_CT, "{\"email\":");
    ITEST_ASSERT_PROBLEM(r, 400);
    itest_free(r);

    r = itest_request("POST", LOGIN, JSON_CT, "email=a", 7, "text/plain");
    ITEST_ASSERT_PROBLEM(r, 415);
    itest_free(r);

    r = itest_get(LOGIN, JSON_CT);
    ITEST_ASSERT_PROBLEM(r, 405);
    ck_assert_ptr_nonnull(itest_header_get(r, "Allow"));
    itest_free(r);
}
END_TEST

/* Another site cannot log a visitor in (or out): its Origin, or
   Sec-Fetch-Site: cross-site, is refused before anything is checked. */
START_TEST(test_login_cross_site)
{
    char email[128], pw[64];
    fresh_user("viewer", email, sizeof email, pw, sizeof pw);
    static const char *const evil[][3] = {
        { "Origin: https://evil.example", "Accept: text/html", NULL },
        { "Origin: null", "Accept: text/html", NULL },
        { "Origin: http://127.0.0.1", "Accept: text/html", NULL },
        { "Sec-Fetch-Site: cross-site", "Accept: text/html", NULL },
    };
    for (size_t i = 0; i < sizeof evil / sizeof evil[0]; i++) {
        itest_resp *r = login_form(email, pw, evil[i]);
        ck_assert_msg(r->status == 403, "%s: %s", evil[i][0], itest_describe(r));
        /* A browser (text/html) is shown the refusal as a page. */
        ITEST_ASSERT_PAGE_PROBLEM(r, 403);
        ck_assert_ptr_null(set_cookie(r, "__Host-crm_session"));
        itest_free(r);
        r = itest_request("POST", LOGOUT, evil[i], "", 0, "application/x-www-form-urlencoded");
        ITEST_ASSERT_PAGE_PROBLEM(r, 403);
        ck_assert_ptr_null(set_cookie(r, "__Host-crm_session"));
        itest_free(r);
    }
    /* Our own origin is fine. */
    const char *own[] = { origin_line(), "Accept: application/json", NULL };
    itest_resp *r = login_json(email, pw, own);
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);
}
END_TEST

/* A failed login's answer with what may differ per request taken out. */
static void failure_shape(const itest_resp *r, char *out, size_t n)
{
    ITEST_ASSERT_PROBLEM_TYPE(r, 401, "/problems/invalid-credentials");
    json_object *copy = NULL;
    ck_assert_int_eq(json_object_deep_copy(r->json, &copy, NULL), 0);
    json_object_object_del(copy, "request_id");
    const char *www = itest_header_get(r, "WWW-Authenticate");
    snprintf(out, n, "%s | %s | %s", itest_header_get(r, "Content-Type"), www ? www : "-",
             json_object_to_json_string_ext(copy, JSON_C_TO_STRING_PLAIN));
    json_object_put(copy);
}

START_TEST(test_failures_look_alike)
{
    char email[128], pw[64], off_email[128], off_pw[64], unknown[128];
    fresh_user("sales", email, sizeof email, pw, sizeof pw);
    int64_t off = fresh_user("sales", off_email, sizeof off_email, off_pw, sizeof off_pw);
    itest_unique_email(unknown, sizeof unknown, "nobody");

    /* Disable the second account. */
    as_admin();
    char path[64];
    snprintf(path, sizeof path, USERS "/%lld", (long long)off);
    itest_resp *r = itest_json("PATCH", path, JSON_CT, "{\"active\":false}");
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);
    itest_as(NULL, 0);

    char a[4096], b[4096], c[4096];
    r = login_json(unknown, pw, JSON_CT);
    failure_shape(r, a, sizeof a);
    ck_assert_ptr_null(set_cookie(r, "__Host-crm_session"));
    itest_free(r);
    r = login_json(email, "wrong password!", JSON_CT);
    failure_shape(r, b, sizeof b);
    itest_free(r);
    /* The right password of a disabled account. */
    r = login_json(off_email, off_pw, JSON_CT);
    failure_shape(r, c, sizeof c);
    itest_free(r);
    ck_assert_str_eq(a, b);
    ck_assert_str_eq(b, c);
}
END_TEST

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/*
 * An unknown email costs what a wrong password costs: one argon2id
 * verification each. Medians of several tries, compared with a tolerant
 * ratio (a missing verification would be a ratio of 10 or more).
 */
START_TEST(test_failures_take_alike)
{
    enum { TRIES = 7 };
    char email[128], pw[64], unknown[128];
    double t_unknown[TRIES] = { 0 }, t_wrong[TRIES] = { 0 };
    fresh_user("viewer", email, sizeof email, pw, sizeof pw);

    for (int i = 0; i < TRIES + 1; i++) {
        itest_unique_email(unknown, sizeof unknown, "nobody");
        from_addr(1); /* each kind from an address of its own: under every limit */
        itest_resp *u = login_json(unknown, "wrong password!", JSON_CT);
        from_addr(2);
        itest_resp *w = login_json(email, "wrong password!", JSON_CT);
        ITEST_ASSERT_STATUS(u, 401);
        ITEST_ASSERT_STATUS(w, 401);
        if (i > 0) { /* the first pair warms connections up */
            t_unknown[i - 1] = u->seconds;
            t_wrong[i - 1] = w->seconds;
        }
        itest_free(u);
        itest_free(w);
    }
    qsort(t_unknown, TRIES, sizeof(double), cmp_double);
    qsort(t_wrong, TRIES, sizeof(double), cmp_double);
    double mu = t_unknown[TRIES / 2], mw = t_wrong[TRIES / 2];
    double ratio = mu > mw ? mu / mw : mw / mu;
    itest_note("login failure medians: unknown %.1f ms, wrong password %.1f ms", mu * 1e3,
               mw * 1e3);
    ck_assert_msg(ratio < 2.5, "unknown email %.1f ms vs wrong password %.1f ms (median)", mu * 1e3,
                  mw * 1e3);
}
END_TEST

/* ---- sessions: me, renewal, logout ---- */

START_TEST(test_me_and_renew)
{
    char email[128], pw[64], auth[4096], auth2[4096];
    int64_t id = fresh_user("marketing", email, sizeof email, pw, sizeof pw);

    itest_resp *r = login_json(email, pw, JSON_CT);
    ITEST_ASSERT_STATUS(r, 200);
    bearer_of(r, auth, sizeof auth);
    char old_token[4096];
    snprintf(old_token, sizeof old_token, "%s", itest_jstr(r->json, "access_token"));
    itest_free(r);

    /* Renewal: a new token for the same user. */
    const char *h[] = { auth, NULL };
    r = itest_json("POST", RENEW, h, NULL);
    assert_token_body(r, id, email, "marketing");
    ck_assert_str_ne(itest_jstr(r->json, "access_token"), old_token);
    bearer_of(r, auth2, sizeof auth2);
    itest_free(r);

    /* The role comes from the account as it is now. */
    as_admin();
    char path[64];
    snprintf(path, sizeof path, USERS "/%lld", (long long)id);
    r = itest_json("PATCH", path, JSON_CT, "{\"role\":\"viewer\"}");
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);
    itest_as(NULL, 0);
    r = itest_json("POST", RENEW, h, NULL);
    assert_token_body(r, id, email, "viewer");
    itest_free(r);
    r = itest_get(ME, h);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_str_eq(itest_jstr(r->json, "role"), "viewer");
    ck_assert_ptr_nonnull(itest_header_get(r, "ETag"));
    itest_free(r);

    /* A disabled account: its still-valid tokens get nothing from identity. */
    as_admin();
    r = itest_json("PATCH", path, JSON_CT, "{\"active\":false}");
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);
    itest_as(NULL, 0);
    r = itest_json("POST", RENEW, h, NULL);
    ITEST_ASSERT_PROBLEM(r, 401);
    ck_assert_ptr_null(set_cookie(r, "__Host-crm_session"));
    itest_free(r);
    const char *h2[] = { auth2, NULL };
    r = itest_get(ME, h2);
    ITEST_ASSERT_PROBLEM(r, 401);
    itest_free(r);

    /* Without a token: 401. */
    r = itest_get(ME, JSON_CT);
    ITEST_ASSERT_PROBLEM(r, 401);
    itest_free(r);
    r = itest_json("POST", RENEW, JSON_CT, NULL);
    ITEST_ASSERT_PROBLEM(r, 401);
    itest_free(r);
}
END_TEST

START_TEST(test_cookie_renewal_needs_csrf)
{
    char email[128], pw[64], cookie[4096], csrf_h[128];
    const char *origin = origin_line();
    int64_t id = fresh_user("sales", email, sizeof email, pw, sizeof pw);

    itest_resp *r = login_json(email, pw, JSON_CT);
    ITEST_ASSERT_STATUS(r, 200);
    snprintf(cookie, sizeof cookie, "Cookie: __Host-crm_session=%s; __Host-crm_csrf=%s",
             itest_jstr(r->json, "access_token"), itest_jstr(r->json, "csrf_token"));
    snprintf(csrf_h, sizeof csrf_h, "X-CSRF-Token: %s", itest_jstr(r->json, "csrf_token"));
    char csrf[64];
    snprintf(csrf, sizeof csrf, "%s", itest_jstr(r->json, "csrf_token"));
    itest_free(r);

    /* A cookie without the CSRF token: refused. */
    const char *no_csrf[] = { cookie, origin, NULL };
    r = itest_json("POST", RENEW, no_csrf, NULL);
    ITEST_ASSERT_PROBLEM(r, 403);
    itest_free(r);

    /* With it: renewed, same session CSRF token, cookies set again. */
    const char *ok[] = { cookie, origin, csrf_h, NULL };
    r = itest_json("POST", RENEW, ok, NULL);
    assert_token_body(r, id, email, "sales");
    ck_assert_str_eq(itest_jstr(r->json, "csrf_token"), csrf);
    itest_free(r);
}
END_TEST

START_TEST(test_logout)
{
    itest_resp *r = itest_json("POST", LOGOUT, JSON_CT, NULL);
    ITEST_ASSERT_STATUS(r, 204);
    const char *s = set_cookie(r, "__Host-crm_session");
    const char *c = set_cookie(r, "__Host-crm_csrf");
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_nonnull(c);
    ck_assert_msg(strstr(s, "Max-Age=0") != NULL, "not expired: %s", s);
    ck_assert_msg(strstr(c, "Max-Age=0") != NULL, "not expired: %s", c);
    ck_assert_str_eq(cookie_value(s), "");
    assert_session_cookie(s, 1);
    ITEST_ASSERT_SECURITY(r);
    itest_free(r);

    /* A browser goes back to the login page. */
    const char *browser[] = { "Accept: text/html", NULL };
    r = itest_request("POST", LOGOUT, browser, "", 0, "application/x-www-form-urlencoded");
    ITEST_ASSERT_STATUS(r, 303);
    ck_assert_str_eq(itest_header_get(r, "Location"), "/login.html");
    ck_assert_ptr_nonnull(set_cookie(r, "__Host-crm_session"));
    itest_free(r);
}
END_TEST

/* ---- users ---- */

static itest_resp *user_req(const char *method, int64_t id, const char *const *headers,
                            const char *body)
{
    char path[64];
    snprintf(path, sizeof path, USERS "/%lld", (long long)id);
    return itest_json(method, path, headers, body);
}

static void assert_user_json(json_object *u)
{
    static const char *const keys[] = { "id",     "email",   "name",       "role",
                                        "active", "version", "created_at", "updated_at" };
    ck_assert_ptr_nonnull(u);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        ck_assert_msg(itest_jget(u, keys[i]) != NULL, "no %s", keys[i]);
    ck_assert_int_eq(json_object_object_length(u), 8);
}

START_TEST(test_users_crud)
{
    char email[128], pw[64], body[1024], ifm[64];
    as_admin();
    itest_unique_email(email, sizeof email, "crud");
    unique_password(pw, sizeof pw);

    snprintf(body, sizeof body,
             "{\"email\":\"%s\",\"name\":\"Cru D\",\"role\":\"sales\",\"password\":\"%s\"}", email,
             pw);
    itest_resp *r = itest_json("POST", USERS, JSON_CT, body);
    ITEST_ASSERT_STATUS(r, 201);
    assert_user_json(r->json);
    int64_t id = itest_jint(r->json, "id");
    ck_assert_int_eq(itest_location_id(r), id);
    ck_assert_int_eq(itest_etag_version(r), 1);
    ck_assert(json_object_get_boolean(itest_jget(r->json, "active")));
    ck_assert_msg(strstr(r->body, pw) == NULL && strstr(r->body, "argon2") == NULL, "%s", r->body);
    itest_free(r);

    /* Read, and 304 for the version already held. */
    r = user_req("GET", id, JSON_CT, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    assert_user_json(r->json);
    ck_assert_str_eq(itest_jstr(r->json, "email"), email);
    ck_assert_int_eq(itest_etag_version(r), 1);
    itest_free(r);
    const char *inm[] = { "If-None-Match: \"1\"", NULL };
    r = user_req("GET", id, inm, NULL);
    ITEST_ASSERT_STATUS(r, 304);
    itest_free(r);

    /* Another email that differs in case only: taken. */
    char upper[160];
    snprintf(upper, sizeof upper, "%s", email);
    for (char *c = upper; *c; c++)
        if (*c >= 'a' && *c <= 'z')
            *c = (char)(*c - 'a' + 'A');
    snprintf(body, sizeof body,
             "{\"email\":\"%s\",\"name\":\"Cru D\",\"role\":\"sales\",\"password\":\"%s\"}", upper,
             pw);
    r = itest_json("POST", USERS, JSON_CT, body);
    ITEST_ASSERT_PROBLEM(r, 409);
    itest_free(r);

    /* PATCH with a stale version: 412 with the current ETag; then right. */
    const char *stale[] = { "If-Match: \"7\"", NULL };
    r = user_req("PATCH", id, stale, "{\"name\":\"New Name\"}");
    ITEST_ASSERT_PROBLEM(r, 412);
    ck_assert_int_eq(itest_etag_version(r), 1);
    itest_free(r);
    const char *m1[] = { "If-Match: \"1\"", NULL };
    r = user_req("PATCH", id, m1, "{\"name\":\"New Name\",\"active\":false}");
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_str_eq(itest_jstr(r->json, "name"), "New Name");
    ck_assert(!json_object_get_boolean(itest_jget(r->json, "active")));
    ck_assert_str_eq(itest_jstr(r->json, "role"), "sales"); /* untouched */
    ck_assert_int_eq(itest_jint(r->json, "version"), 2);
    itest_free(r);

    /* PUT states everything but the password, and needs If-Match. */
    snprintf(body, sizeof body,
             "{\"email\":\"%s\",\"name\":\"Put Name\",\"role\":\"viewer\",\"active\":true}", email);
    r = user_req("PUT", id, JSON_CT, body);
    ITEST_ASSERT_PROBLEM(r, 428);
    itest_free(r);
    snprintf(ifm, sizeof ifm, "If-Match: \"2\"");
    const char *m2[] = { ifm, NULL };
    r = user_req("PUT", id, m2, body);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_str_eq(itest_jstr(r->json, "role"), "viewer");
    ck_assert_int_eq(itest_etag_version(r), 3);
    itest_free(r);
    r = user_req("PUT", id, (const char *const[]){ "If-Match: \"3\"", NULL },
                 "{\"email\":\"x@y.io\"}");
    ITEST_ASSERT_PROBLEM(r, 422);
    ck_assert_int_eq(itest_problem_field_count(r, "active"), 1);
    itest_free(r);

    /* The password still works after all that; DELETE with a stale
       If-Match is refused, then the user is gone. */
    itest_as(NULL, 0);
    r = login_json(email, pw, JSON_CT);
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);
    as_admin();
    r = user_req("DELETE", id, m1, NULL);
    ITEST_ASSERT_PROBLEM(r, 412);
    itest_free(r);
    r = user_req("DELETE", id, JSON_CT, NULL);
    ITEST_ASSERT_STATUS(r, 204);
    itest_free(r);
    r = user_req("GET", id, JSON_CT, NULL);
    ITEST_ASSERT_PROBLEM(r, 404);
    itest_free(r);
    r = user_req("DELETE", id, JSON_CT, NULL);
    ITEST_ASSERT_PROBLEM(r, 404);
    itest_free(r);
    r = user_req("PATCH", id, JSON_CT, "{\"name\":\"x\"}");
    ITEST_ASSERT_PROBLEM(r, 404);
    itest_free(r);
}
END_TEST

START_TEST(test_users_validation)
{
    as_admin();
    char email[128], body[1024];
    itest_unique_email(email, sizeof email, "val");

    /* Every bad field at once, one error each. */
    itest_resp *r = itest_json("POST", USERS, JSON_CT,
                               "{\"email\":\"nope\",\"name\":\"\",\"role\":\"root\","
                               "\"active\":\"yes\",\"password\":\"short\"}");
    ITEST_ASSERT_PROBLEM(r, 422);
    static const char *const fields[] = { "email", "name", "role", "active", "password" };
    for (size_t i = 0; i < 5; i++)
        ck_assert_msg(itest_problem_field_count(r, fields[i]) == 1, "%s: %s", fields[i],
                      itest_describe(r));
    itest_free(r);

    r = itest_json("POST", USERS, JSON_CT, "{}");
    ITEST_ASSERT_PROBLEM(r, 422);
    ck_assert_int_eq(itest_problem_field_count(r, "password"), 1);
    itest_free(r);

    /* Read-only and unknown fields: 400, nothing created. */
    static const char *const extra[] = { "\"id\":5",
                                         "\"version\":1",
                                         "\"created_at\":\"x\"",
                                         "\"updated_at\":\"x\"",
                                         "\"password_hash\":\"x\"",
                                         "\"is_admin\":true" };
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
        snprintf(body, sizeof body,
                 "{\"email\":\"%s\",\"name\":\"N\",\"role\":\"viewer\","
                 "\"password\":\"long enough password\",%s}",
                 email, extra[i]);
        r = itest_json("POST", USERS, JSON_CT, body);
        ck_assert_msg(r->status == 400, "%s: %s", extra[i], itest_describe(r));
        ITEST_ASSERT_PROBLEM(r, 400);
        itest_free(r);
    }

    /* Form bodies go through the same rules; a browser gets a 303. */
    char *e = itest_urlencode(email);
    snprintf(body, sizeof body, "email=%s&name=Form+User&role=viewer&password=long+enough+pw1", e);
    free(e);
    const char *browser[] = { "Accept: text/html", NULL };
    r = itest_request("POST", USERS, browser, body, strlen(body),
                      "application/x-www-form-urlencoded");
    ITEST_ASSERT_STATUS(r, 303);
    ck_assert_ptr_nonnull(strstr(itest_header_get(r, "Location"), "/users/"));
    itest_free(r);

    /* PATCH: nothing to change, null, bad password. */
    int64_t id = 0;
    {
        char em2[128], pw[64];
        id = fresh_user("viewer", em2, sizeof em2, pw, sizeof pw);
        as_admin();
    }
    r = user_req("PATCH", id, JSON_CT, "{}");
    ITEST_ASSERT_PROBLEM(r, 422);
    itest_free(r);
    r = user_req("PATCH", id, JSON_CT, "{\"role\":null}");
    ITEST_ASSERT_PROBLEM(r, 422);
    itest_free(r);
    r = user_req("PATCH", id, JSON_CT, "{\"password\":\"elevenchars\"}");
    ITEST_ASSERT_PROBLEM(r, 422);
    ck_assert_int_eq(itest_problem_field_count(r, "password"), 1);
    itest_free(r);
    r = user_req("PATCH", id, JSON_CT, "{\"password_hash\":\"$argon2id$x\"}");
    ITEST_ASSERT_PROBLEM(r, 400);
    itest_free(r);
    r = user_req("PATCH", id, JSON_CT, "{\"version\":9}");
    ITEST_ASSERT_PROBLEM(r, 400);
    itest_free(r);
}
END_TEST

START_TEST(test_users_bad_paths)
{
    as_admin();
    static const char *const paths[] = { USERS "/abc",         USERS "/0",  USERS "/-1",
                                         USERS "/99999999999", USERS "/1x", USERS "/1/extra" };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        itest_resp *r = itest_get(paths[i], JSON_CT);
        ck_assert_msg(r->status == 404, "%s: %s", paths[i], itest_describe(r));
        itest_free(r);
    }
    itest_resp *r = itest_json("POST", USERS "/5", JSON_CT, "{}");
    ITEST_ASSERT_PROBLEM(r, 405);
    itest_free(r);
    r = itest_json("DELETE", USERS, JSON_CT, NULL);
    ITEST_ASSERT_PROBLEM(r, 405);
    itest_free(r);
    r = itest_get(USERS "?nope=1", JSON_CT);
    ITEST_ASSERT_PROBLEM(r, 400);
    itest_free(r);
}
END_TEST

START_TEST(test_users_list)
{
    char role_email[4][128], pw[64];
    int64_t ids[4];
    for (int i = 0; i < 4; i++) {
        itest_unique_email(role_email[i], sizeof role_email[i], "list");
        unique_password(pw, sizeof pw);
        ids[i] = new_user(role_email[i], i < 3 ? "marketing" : "viewer", pw);
    }
    as_admin();
    itest_resp *r = user_req("PATCH", ids[0], JSON_CT, "{\"active\":false}");
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);

    /* Walk every marketing user by pages of one; ours are all there. */
    char path[2048];
    int seen[4] = { 0 }, pages = 0;
    const char *cursor = NULL;
    char cur[1024] = "";
    do {
        if (cursor != NULL) {
            char *c = itest_urlencode(cursor);
            snprintf(path, sizeof path, USERS "?role=marketing&limit=1&cursor=%s", c);
            free(c);
        } else {
            snprintf(path, sizeof path, USERS "?role=marketing&limit=1&count=true");
        }
        r = itest_get(path, JSON_CT);
        ITEST_ASSERT_STATUS(r, 200);
        json_object *items = itest_jget(r->json, "items");
        ck_assert_ptr_nonnull(items);
        ck_assert_int_le(json_object_array_length(items), 1);
        for (size_t i = 0; i < json_object_array_length(items); i++) {
            json_object *u = json_object_array_get_idx(items, i);
            assert_user_json(u);
            ck_assert_str_eq(itest_jstr(u, "role"), "marketing");
            for (int k = 0; k < 4; k++)
                if (itest_jint(u, "id") == ids[k])
                    seen[k]++;
        }
        if (cursor == NULL)
            ck_assert_int_ge(itest_jint(r->json, "count"), 3);
        const char *next = itest_jstr(r->json, "next_cursor");
        if (next != NULL) {
            snprintf(cur, sizeof cur, "%s", next);
            cursor = cur;
        } else {
            cursor = NULL;
        }
        itest_free(r);
        pages++;
    } while (cursor != NULL && pages < 2000);
    ck_assert_int_eq(seen[0], 1);
    ck_assert_int_eq(seen[1], 1);
    ck_assert_int_eq(seen[2], 1);
    ck_assert_int_eq(seen[3], 0); /* a viewer */

    /* active=false: the disabled one, no active one. */
    r = itest_get(USERS "?role=marketing&active=false&limit=200", JSON_CT);
    ITEST_ASSERT_STATUS(r, 200);
    json_object *items = itest_jget(r->json, "items");
    int found = 0;
    for (size_t i = 0; i < json_object_array_length(items); i++) {
        json_object *u = json_object_array_get_idx(items, i);
        ck_assert(!json_object_get_boolean(itest_jget(u, "active")));
        found += itest_jint(u, "id") == ids[0];
    }
    ck_assert_int_eq(found, 1);
    itest_free(r);

    /* Sorts and bad parameters. */
    static const char *const sorts[] = { "email", "-email",     "name",
                                         "-name", "created_at", "-created_at" };
    for (size_t i = 0; i < 6; i++) {
        snprintf(path, sizeof path, USERS "?sort=%s&limit=2", sorts[i]);
        r = itest_get(path, JSON_CT);
        ck_assert_msg(r->status == 200, "%s: %s", sorts[i], itest_describe(r));
        itest_free(r);
    }
    static const char *const bad[] = { "?role=root",
                                       "?active=yes",
                                       "?limit=0",
                                       "?limit=201",
                                       "?sort=password_hash",
                                       "?cursor=abc",
                                       "?role=admin&role=viewer" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(path, sizeof path, USERS "%s", bad[i]);
        r = itest_get(path, JSON_CT);
        ck_assert_msg(r->status == 400, "%s: %s", bad[i], itest_describe(r));
        itest_free(r);
    }
}
END_TEST

START_TEST(test_users_admins_only)
{
    char email[128], pw[64], auth[4096];
    int64_t id = fresh_user("sales", email, sizeof email, pw, sizeof pw);

    /* Every role but admin: 403, whatever the route. */
    static const char *const roles[] = { "sales", "marketing", "viewer" };
    for (size_t i = 0; i < 3; i++) {
        itest_as(roles[i], id);
        itest_resp *r = itest_get(USERS, JSON_CT);
        ITEST_ASSERT_PROBLEM(r, 403);
        itest_free(r);
        r = user_req("GET", id, JSON_CT, NULL);
        ITEST_ASSERT_PROBLEM(r, 403);
        itest_free(r);
        r = user_req("PATCH", id, JSON_CT, "{\"role\":\"admin\"}");
        ITEST_ASSERT_PROBLEM(r, 403);
        itest_free(r);
        r = itest_json("POST", USERS, JSON_CT, "{}");
        ITEST_ASSERT_PROBLEM(r, 403);
        itest_free(r);
    }
    /* No token: 401. */
    itest_as(NULL, 0);
    itest_resp *r = itest_get(USERS, JSON_CT);
    ITEST_ASSERT_PROBLEM(r, 401);
    itest_free(r);

    /* A real login of a sales user cannot manage users either. */
    r = login_json(email, pw, JSON_CT);
    bearer_of(r, auth, sizeof auth);
    itest_free(r);
    const char *h[] = { auth, NULL };
    r = itest_get(USERS, h);
    ITEST_ASSERT_PROBLEM(r, 403);
    itest_free(r);

    /* An admin token whose account is not (or no longer) an admin: the
       account is checked, not only the token. */
    itest_as("admin", id);
    r = itest_get(USERS, JSON_CT);
    ITEST_ASSERT_PROBLEM(r, 403);
    itest_free(r);
    itest_as("admin", INT64_C(999999999));
    r = user_req("DELETE", id, JSON_CT, NULL);
    ITEST_ASSERT_PROBLEM(r, 403);
    itest_free(r);
    as_admin();
    r = user_req("GET", id, JSON_CT, NULL);
    ITEST_ASSERT_STATUS(r, 200); /* still there */
    itest_free(r);
}
END_TEST

START_TEST(test_admin_cannot_lock_self_out)
{
    char email[128], pw[64];
    int64_t me = fresh_user("admin", email, sizeof email, pw, sizeof pw);
    int64_t other = fresh_user("admin", email, sizeof email, pw, sizeof pw);

    itest_as("admin", me);
    itest_resp *r = user_req("PATCH", me, JSON_CT, "{\"role\":\"sales\"}");
    ITEST_ASSERT_PROBLEM(r, 409);
    itest_free(r);
    r = user_req("PATCH", me, JSON_CT, "{\"active\":false}");
    ITEST_ASSERT_PROBLEM(r, 409);
    itest_free(r);
    r = user_req("DELETE", me, JSON_CT, NULL);
    ITEST_ASSERT_PROBLEM(r, 409);
    itest_free(r);
    /* Their own name and password are theirs to change. */
    r = user_req("PATCH", me, JSON_CT, "{\"name\":\"Still Admin\"}");
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_str_eq(itest_jstr(r->json, "role"), "admin");
    itest_free(r);
    /* Another admin they may demote and delete. */
    r = user_req("PATCH", other, JSON_CT, "{\"role\":\"viewer\"}");
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);
    r = user_req("DELETE", other, JSON_CT, NULL);
    ITEST_ASSERT_STATUS(r, 204);
    itest_free(r);
}
END_TEST

START_TEST(test_password_change)
{
    char email[128], pw[64], pw2[64], body[256];
    int64_t id = fresh_user("viewer", email, sizeof email, pw, sizeof pw);
    const char *before = stored_hash(id);
    char old_hash[256];
    snprintf(old_hash, sizeof old_hash, "%s", before);

    unique_password(pw2, sizeof pw2);
    snprintf(body, sizeof body, "{\"password\":\"%s\"}", pw2);
    as_admin();
    itest_resp *r = user_req("PATCH", id, JSON_CT, body);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_int_eq(itest_jint(r->json, "version"), 2);
    ck_assert_ptr_null(strstr(r->body, pw2));
    itest_free(r);
    ck_assert_str_ne(stored_hash(id), old_hash);

    itest_as(NULL, 0);
    r = login_json(email, pw, JSON_CT);
    ITEST_ASSERT_PROBLEM(r, 401);
    itest_free(r);
    r = login_json(email, pw2, JSON_CT);
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);
}
END_TEST

/* Stored hashes are argon2id at OWASP's minimum or above, salted. */
START_TEST(test_stored_hashes)
{
    char e1[128], e2[128], pw[64];
    unique_password(pw, sizeof pw);
    itest_unique_email(e1, sizeof e1, "hash");
    itest_unique_email(e2, sizeof e2, "hash");
    int64_t a = new_user(e1, "viewer", pw);
    int64_t b = new_user(e2, "viewer", pw); /* the same password */
    char ha[256];
    snprintf(ha, sizeof ha, "%s", stored_hash(a));
    const char *hb = stored_hash(b);
    const int64_t ids[] = { a, b, g_admin_id };
    for (size_t i = 0; i < 3; i++) {
        const char *h = stored_hash(ids[i]);
        unsigned long m = 0, t = 0, p = 0;
        int n = 0;
        ck_assert_msg(sscanf(h, "$argon2id$v=19$m=%lu,t=%lu,p=%lu$%n", &m, &t, &p, &n) == 3 &&
                          n > 0,
                      "not an argon2id PHC string: %.20s...", h);
        ck_assert_uint_ge(m, 19456);
        ck_assert_uint_ge(t, 2);
        ck_assert_uint_ge(p, 1);
        /* "$salt$hash" follow, both non-empty. */
        const char *salt = h + n, *dollar = strchr(salt, '$');
        ck_assert_ptr_nonnull(dollar);
        ck_assert_int_ge(dollar - salt, 16);
        ck_assert_int_ge((int)strlen(dollar + 1), 32);
        ck_assert_ptr_null(strstr(h, pw));
    }
    ck_assert_str_ne(ha, hb); /* salted: the same password, two hashes */
}
END_TEST

/* ---- throttling ---- */

/* Retry-After of r as seconds, or -1. */
static long retry_after(const itest_resp *r)
{
    const char *v = itest_header_get(r, "Retry-After");
    if (v == NULL || *v < '0' || *v > '9')
        return -1;
    return strtol(v, NULL, 10);
}

/* The application's 429 (not NGINX's): its problem, with the seconds
   left of the window. */
static void assert_app_throttled(const itest_resp *r)
{
    ITEST_ASSERT_PROBLEM_TYPE(r, 429, "/problems/login-throttled");
    long s = retry_after(r);
    ck_assert_msg(s > 10 && s <= WINDOW, "Retry-After %ld: %s", s, itest_describe(r));
}

/*
 * 30 fast wrong passwords for one account, each with another
 * X-Forwarded-For: 401 until the account's limit, 429 with Retry-After
 * ever after (the service's own, then NGINX's), and the right password is
 * refused too, even from another address.
 */
START_TEST(test_throttle_account)
{
    char email[128], pw[64], xff[64], xri[64], other_email[128], other_pw[64];
    fresh_user("viewer", email, sizeof email, pw, sizeof pw);
    fresh_user("viewer", other_email, sizeof other_email, other_pw, sizeof other_pw);

    int app_429 = 0;
    for (int i = 0; i < 30; i++) {
        snprintf(xff, sizeof xff, "X-Forwarded-For: 10.%d.%d.%d", i, i * 7 % 256, i + 1);
        snprintf(xri, sizeof xri, "X-Real-IP: 10.9.%d.1", i);
        const char *h[] = { "Accept: application/json", xff, xri, NULL };
        itest_resp *r = login_json(email, "not the password", h);
        if (i < ACCOUNT_LIMIT) {
            ITEST_ASSERT_PROBLEM_TYPE(r, 401, "/problems/invalid-credentials");
        } else {
            ck_assert_msg(r->status == 429, "attempt %d: %s", i + 1, itest_describe(r));
            ck_assert_msg(retry_after(r) >= 1, "attempt %d: no Retry-After", i + 1);
            if (i == ACCOUNT_LIMIT)
                assert_app_throttled(r);
            if (r->json != NULL && itest_jstr(r->json, "type") != NULL &&
                strstr(itest_jstr(r->json, "type"), "login-throttled") != NULL)
                app_429++;
        }
        itest_free(r);
    }
    ck_assert_int_ge(app_429, 1);

    /* The right password, from a fresh address: still refused. */
    from_addr(1);
    itest_resp *r = login_json(email, pw, JSON_CT);
    assert_app_throttled(r);
    ck_assert_ptr_null(set_cookie(r, "__Host-crm_session"));
    itest_free(r);
    /* Another account from that address is not concerned. */
    r = login_json(other_email, other_pw, JSON_CT);
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);
}
END_TEST

/*
 * One address trying many accounts (one wrong password each, every
 * request claiming another X-Forwarded-For): refused once the address's
 * limit is reached, for any account, even with the right password.
 */
START_TEST(test_throttle_address)
{
    char email[128], pw[64], unknown[128], xff[64];
    fresh_user("viewer", email, sizeof email, pw, sizeof pw);

    for (int i = 0; i < ADDRESS_LIMIT; i++) {
        itest_unique_email(unknown, sizeof unknown, "spray");
        snprintf(xff, sizeof xff, "X-Forwarded-For: 192.0.2.%d", i + 1);
        const char *h[] = { "Accept: application/json", xff, NULL };
        itest_resp *r = login_json(unknown, "Spring2026!!", h);
        ck_assert_msg(r->status == 401, "attempt %d: %s", i + 1, itest_describe(r));
        itest_free(r);
    }
    /* The next one, for an account never tried, with its right password. */
    const char *h[] = { "Accept: application/json", "X-Forwarded-For: 198.51.100.7", NULL };
    itest_resp *r = login_json(email, pw, h);
    assert_app_throttled(r);
    itest_free(r);

    /* The same account from another address is fine (its own counter is clean). */
    from_addr(1);
    r = login_json(email, pw, JSON_CT);
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);
}
END_TEST

/* A success resets the account's counter: failures below the limit,
   a good login, then as many failures again, still no 429. */
START_TEST(test_throttle_success_resets)
{
    char email[128], pw[64];
    fresh_user("viewer", email, sizeof email, pw, sizeof pw);
    for (int round = 0; round < 2; round++) {
        from_addr(round * 2);
        for (int i = 0; i < ACCOUNT_LIMIT - 1; i++) {
            itest_resp *r = login_json(email, "wrong password!", JSON_CT);
            ITEST_ASSERT_PROBLEM(r, 401);
            itest_free(r);
        }
        from_addr(round * 2 + 1);
        itest_resp *r = login_json(email, pw, JSON_CT);
        ITEST_ASSERT_STATUS(r, 200);
        itest_free(r);
    }
}
END_TEST

/*
 * Attempts sent at the same moment cannot all slip under the limit: with
 * one failure left, 8 wrong logins at once (from 8 addresses) are all
 * counted before any password is tried, so at most one gets its 401 and
 * the others 429.
 */
typedef struct {
    int k;
    const char *email;
    long status;
} racer;

static void *race_login(void *arg)
{
    racer *rc = arg;
    from_addr(4 + rc->k);
    itest_resp *r = login_json(rc->email, "a guess at once", JSON_CT);
    rc->status = r->status;
    itest_free(r);
    return NULL;
}

START_TEST(test_throttle_parallel)
{
    char email[128], pw[64];
    fresh_user("viewer", email, sizeof email, pw, sizeof pw);
    from_addr(3);
    for (int i = 0; i < ACCOUNT_LIMIT - 1; i++) {
        itest_resp *r = login_json(email, "wrong password!", JSON_CT);
        ITEST_ASSERT_PROBLEM(r, 401);
        itest_free(r);
    }
    enum { N = 8 };
    pthread_t t[N];
    racer rc[N];
    for (int i = 0; i < N; i++) {
        rc[i] = (racer){ .k = i, .email = email, .status = 0 };
        ck_assert_int_eq(pthread_create(&t[i], NULL, race_login, &rc[i]), 0);
    }
    int tried = 0, refused = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        tried += rc[i].status == 401;
        refused += rc[i].status == 429;
    }
    /* At most the one guess left: each attempt reads the counts after its
       own count, so when the others were counted first, even that one is
       refused (never more tried, which is the point). */
    ck_assert_msg(tried <= 1 && tried + refused == N,
                  "with one failure left, %d of %d parallel guesses were tried (%d refused)", tried,
                  N, refused);
}
END_TEST

/* ---- create-admin ---- */

START_TEST(test_create_admin_command)
{
    cmd_result res;
    char pwfile[64], email[128], pw[64], line[128];

    /* The admin of main exists: exit 3, nothing printed on stdout. */
    ck_assert(temp_file(pwfile, sizeof pwfile, "another long password\n"));
    const char *again[] = { "create-admin", "--email", g_admin_email, NULL };
    identity_cmd(again, pwfile, NULL, &res);
    ck_assert_msg(res.status == 3, "exit %d: %s", res.status, res.err);
    ck_assert_str_eq(res.out, "");
    ck_assert_ptr_nonnull(strstr(res.err, "already exists"));
    ck_assert_ptr_null(strstr(res.err, "another long password"));

    /* A user through stdin, then a login with it. */
    itest_unique_email(email, sizeof email, "cmd");
    unique_password(pw, sizeof pw);
    snprintf(line, sizeof line, "%s\n", pw);
    const char *user[] = { "create-user", "--email", email,       "--name",
                           "Cmd User",    "--role",  "marketing", NULL };
    identity_cmd(user, NULL, line, &res);
    ck_assert_msg(res.status == 0, "exit %d: %s", res.status, res.err);
    int64_t id = strtoll(res.out, NULL, 10);
    ck_assert_int_gt(id, 0);
    itest_resp *r = login_json(email, pw, JSON_CT);
    assert_token_body(r, id, email, "marketing");
    itest_free(r);

    /* Bad input: exit 2, nothing created. */
    char email2[128];
    itest_unique_email(email2, sizeof email2, "cmd");
    const char *bad_role[] = { "create-user", "--email", email2, "--name",
                               "X",           "--role",  "root", NULL };
    identity_cmd(bad_role, pwfile, NULL, &res);
    ck_assert_int_eq(res.status, 2);
    const char *short_pw[] = { "create-admin", "--email", email2, NULL };
    identity_cmd(short_pw, NULL, "short\n", &res);
    ck_assert_int_eq(res.status, 2);
    ck_assert_ptr_nonnull(strstr(res.err, "password"));
    const char *no_email[] = { "create-admin", "--name", "X", NULL };
    identity_cmd(no_email, pwfile, NULL, &res);
    ck_assert_int_eq(res.status, 2);
    const char *unknown[] = { "create-admin", "--email", email2, "--password", "x", NULL };
    identity_cmd(unknown, pwfile, NULL, &res);
    ck_assert_int_eq(res.status, 2);
    r = login_json(email2, "another long password", JSON_CT);
    ITEST_ASSERT_PROBLEM(r, 401);
    itest_free(r);
    unlink(pwfile);
}
END_TEST

/* ---- suite ---- */

/* The admin every test manages users as, made by create-admin. */
static void make_admin(void)
{
    cmd_result res;
    char pwfile[64], text[96];
    itest_unique_email(g_admin_email, sizeof g_admin_email, "admin");
    unique_password(g_admin_password, sizeof g_admin_password);
    snprintf(text, sizeof text, "%s\n", g_admin_password);
    if (!temp_file(pwfile, sizeof pwfile, text)) {
        fputs("test_identity: cannot write a temporary file\n", stderr);
        exit(1);
    }
    const char *args[] = { "create-admin", "--email", g_admin_email, "--name", "IT Admin", NULL };
    identity_cmd(args, pwfile, NULL, &res);
    unlink(pwfile);
    if (res.status != 0) {
        fprintf(stderr, "test_identity: create-admin failed (exit %d): %s\n", res.status, res.err);
        exit(1);
    }
    g_admin_id = strtoll(res.out, NULL, 10);
}

static Suite *identity_suite(void)
{
    Suite *s = suite_create("identity");
    TCase *tc = tcase_create("auth");
    tcase_add_checked_fixture(tc, setup, itest_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_login_json);
    tcase_add_test(tc, test_login_form);
    tcase_add_test(tc, test_login_bad_requests);
    tcase_add_test(tc, test_login_cross_site);
    tcase_add_test(tc, test_failures_look_alike);
    tcase_add_test(tc, test_failures_take_alike);
    tcase_add_test(tc, test_me_and_renew);
    tcase_add_test(tc, test_cookie_renewal_needs_csrf);
    tcase_add_test(tc, test_logout);
    suite_add_tcase(s, tc);

    tc = tcase_create("users");
    tcase_add_checked_fixture(tc, setup, itest_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_users_crud);
    tcase_add_test(tc, test_users_validation);
    tcase_add_test(tc, test_users_bad_paths);
    tcase_add_test(tc, test_users_list);
    tcase_add_test(tc, test_users_admins_only);
    tcase_add_test(tc, test_admin_cannot_lock_self_out);
    tcase_add_test(tc, test_password_change);
    tcase_add_test(tc, test_stored_hashes);
    tcase_add_test(tc, test_create_admin_command);
    suite_add_tcase(s, tc);

    tc = tcase_create("throttle");
    tcase_add_checked_fixture(tc, setup, itest_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_throttle_account);
    tcase_add_test(tc, test_throttle_address);
    tcase_add_test(tc, test_throttle_success_resets);
    tcase_add_test(tc, test_throttle_parallel);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    itest_init();
    make_admin();
    SRunner *sr = srunner_create(identity_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
