/*
 * itest.c - HTTP client and helpers of the integration suites (itest.h).
 */
#include "itest.h"

#include "crm_auth.h"
#include "crm_jwt.h"

#include <ctype.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ITEST_BODY_CAP (64u << 20) /* responses bigger than this are cut */
#define ITEST_MSG_MAX  4096

static char *g_origin;                               /* scheme://host:port of CRM_BASE_URL */
static char *g_ca_file;                              /* CRM_CA_FILE or NULL: system CAs */
static long g_http_version = CURL_HTTP_VERSION_2TLS; /* ITEST_HTTP=1.1 forces HTTP/1.1 */
static long g_missing_request_ids;
static unsigned long g_counter;

/* The calling thread's curl handle, dropped when the process has forked
   since it was made (never share a TLS connection with the parent). */
typedef struct {
    CURL *curl;
    pid_t pid;
} itest_conn;

static pthread_key_t g_conn_key;
static pthread_once_t g_conn_once = PTHREAD_ONCE_INIT;
static _Thread_local long t_timeout_ms = 10000;
static _Thread_local char t_source[64]; /* "" : the system's choice */
static _Thread_local char t_auth[4096]; /* default Authorization line */
static _Thread_local int t_auth_set;    /* 0: the admin default */
static _Thread_local char t_msg[ITEST_MSG_MAX];
static _Thread_local char t_desc[ITEST_MSG_MAX];

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        fputs("itest: out of memory\n", stderr);
        abort();
    }
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (p == NULL) {
        fputs("itest: out of memory\n", stderr);
        abort();
    }
    return p;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = xmalloc(n);
    memcpy(d, s, n);
    return d;
}

/* A handle inherited from the parent process (see conn_get). */
static CURL *volatile g_inherited_curl;

static void conn_destroy(void *p)
{
    itest_conn *c = p;
    if (c->pid == getpid())
        curl_easy_cleanup(c->curl);
    free(c);
}

static void conn_key_make(void)
{
    if (pthread_key_create(&g_conn_key, conn_destroy) != 0)
        abort();
}

static CURL *conn_get(void)
{
    pthread_once(&g_conn_once, conn_key_make);
    itest_conn *c = pthread_getspecific(g_conn_key);
    if (c != NULL && c->pid != getpid()) {
        /* Inherited across fork: the parent still owns the socket, so the
           handle is neither used nor cleaned up here; it stays referenced
           (a leak checker would otherwise report the parent's handle). */
        g_inherited_curl = c->curl;
        free(c);
        c = NULL;
    }
    if (c == NULL) {
        c = xmalloc(sizeof *c);
        c->curl = curl_easy_init();
        if (c->curl == NULL) {
            fputs("itest: curl_easy_init failed\n", stderr);
            abort();
        }
        c->pid = getpid();
        pthread_setspecific(g_conn_key, c);
    }
    return c->curl;
}

void itest_init(void)
{
    const char *base = getenv("CRM_BASE_URL");
    if (base == NULL || *base == '\0') {
        fputs("itest: CRM_BASE_URL is not set (e.g. https://127.0.0.1:8443); the integration "
              "suites need a running stack (scripts/test.sh sets it)\n",
              stderr);
        exit(2);
    }
    const char *scheme = strstr(base, "://");
    if (scheme == NULL) {
        fprintf(stderr, "itest: CRM_BASE_URL=%s is not a URL\n", base);
        exit(2);
    }
    const char *slash = strchr(scheme + 3, '/');
    size_t n = slash ? (size_t)(slash - base) : strlen(base);
    g_origin = xmalloc(n + 1);
    memcpy(g_origin, base, n);
    g_origin[n] = '\0';
    const char *ca = getenv("CRM_CA_FILE");
    if (ca != NULL && *ca != '\0') {
        if (access(ca, R_OK) != 0) {
            fprintf(stderr, "itest: CRM_CA_FILE=%s is not readable\n", ca);
            exit(2);
        }
        g_ca_file = xstrdup(ca);
    }
    const char *hv = getenv("ITEST_HTTP");
    if (hv != NULL && strcmp(hv, "1.1") == 0)
        g_http_version = CURL_HTTP_VERSION_1_1;
    if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK) {
        fputs("itest: curl_global_init failed\n", stderr);
        exit(2);
    }
}

const char *itest_env(const char *name, const char *def)
{
    const char *v = getenv(name);
    return (v != NULL && *v != '\0') ? v : def;
}

void itest_note(const char *fmt, ...)
{
    const char *v = getenv("ITEST_VERBOSE");
    if (v == NULL || *v == '\0' || strcmp(v, "0") == 0)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "itest[%ld]: %s\n", (long)getpid(), line);
}

void itest_set_timeout_ms(long ms)
{
    t_timeout_ms = ms;
}

double itest_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void itest_sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- responses ---------------------------------------------------------------------------- */

static void headers_clear(itest_resp *r)
{
    for (size_t i = 0; i < r->n_headers; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    r->headers = NULL;
    r->n_headers = 0;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    itest_resp *r = ud;
    size_t n = size * nmemb;
    size_t len = n;
    while (len > 0 && (data[len - 1] == '\r' || data[len - 1] == '\n'))
        len--;
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        headers_clear(r); /* a new response (after 1xx) starts */
        return n;
    }
    const char *colon = memchr(data, ':', len);
    if (colon == NULL)
        return n;
    size_t nlen = (size_t)(colon - data);
    const char *v = colon + 1;
    const char *end = data + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    r->headers = xrealloc(r->headers, (r->n_headers + 1) * sizeof *r->headers);
    itest_header *h = &r->headers[r->n_headers++];
    h->name = xmalloc(nlen + 1);
    memcpy(h->name, data, nlen);
    h->name[nlen] = '\0';
    h->value = xmalloc((size_t)(end - v) + 1);
    memcpy(h->value, v, (size_t)(end - v));
    h->value[end - v] = '\0';
    return n;
}

typedef struct {
    itest_resp *r;
    size_t cap;
} body_sink;

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    body_sink *s = ud;
    size_t n = size * nmemb;
    if (s->r->body_len + n + 1 > ITEST_BODY_CAP)
        return 0; /* abort the transfer: far beyond anything expected */
    if (s->r->body_len + n + 1 > s->cap) {
        while (s->r->body_len + n + 1 > s->cap)
            s->cap = s->cap ? s->cap * 2 : 4096;
        s->r->body = xrealloc(s->r->body, s->cap);
    }
    memcpy(s->r->body + s->r->body_len, data, n);
    s->r->body_len += n;
    s->r->body[s->r->body_len] = '\0';
    return n;
}

const char *itest_header_get(const itest_resp *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

static int has_prefix_ci(const char *s, const char *prefix)
{
    return s != NULL && strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static void parse_json(itest_resp *r)
{
    const char *ct = itest_header_get(r, "Content-Type");
    if (!has_prefix_ci(ct, "application/json") && !has_prefix_ci(ct, "application/problem+json"))
        return;
    if (r->body_len == 0 || r->body_len > INT32_MAX)
        return;
    json_tokener *tok = json_tokener_new();
    json_object *o = json_tokener_parse_ex(tok, r->body, (int)r->body_len);
    if (o != NULL && json_tokener_get_error(tok) == json_tokener_success &&
        (size_t)json_tokener_get_parse_end(tok) >= r->body_len)
        r->json = o;
    else
        json_object_put(o);
    json_tokener_free(tok);
}

static itest_resp *perform(const char *method, const char *url, const char *const *headers,
                           const char *body, size_t body_len, const char *content_type)
{
    itest_resp *r = xmalloc(sizeof *r);
    memset(r, 0, sizeof *r);
    snprintf(r->method, sizeof r->method, "%s", method);
    r->url = xstrdup(url);
    r->body = xmalloc(1);
    r->body[0] = '\0';

    CURL *c = conn_get();
    curl_easy_reset(c); /* options only: the live connection is kept */
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *hl = NULL;
    char line[512];
    if (content_type != NULL) {
        snprintf(line, sizeof line, "Content-Type: %s", content_type);
        hl = curl_slist_append(hl, line);
    } else if (body != NULL) {
        hl = curl_slist_append(hl, "Content-Type:"); /* drop curl's default */
    }
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
        hl = curl_slist_append(hl, headers[i]);

    body_sink sink = { r, 1 };
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, t_timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, t_timeout_ms < 5000 ? t_timeout_ms : 5000L);
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, g_http_version);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (g_ca_file != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO, g_ca_file);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    if (t_source[0] != '\0') {
        char iface[80];
        snprintf(iface, sizeof iface, "host!%s", t_source);
        curl_easy_setopt(c, CURLOPT_INTERFACE, iface);
    }
    if (strcmp(method, "GET") == 0 && body == NULL) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else {
        if (body != NULL || strcmp(method, "POST") == 0) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0));
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        }
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }

    r->started = itest_now();
    CURLcode rc = curl_easy_perform(c);
    r->seconds = itest_now() - r->started;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    } else {
        r->status = 0;
        snprintf(r->error, sizeof r->error, "%s: %s", curl_easy_strerror(rc),
                 errbuf[0] ? errbuf : "-");
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hl);
    if (r->status != 0)
        parse_json(r);
    return r;
}

itest_resp *itest_request_url(const char *method, const char *url, const char *const *headers,
                              const char *body, size_t body_len, const char *content_type)
{
    return perform(method, url, headers, body, body_len, content_type);
}

/* ---- credentials ---- */

static int has_credentials(const char *const *headers)
{
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
        if (has_prefix_ci(headers[i], "Authorization:") || has_prefix_ci(headers[i], "Cookie:"))
            return 1;
    return 0;
}

static crm_jwt_keys *signing_keys(void)
{
    static crm_jwt_keys *keys;
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    char path[4096], err[256];

    pthread_mutex_lock(&mu);
    if (keys == NULL) {
        const char *file = path;
        snprintf(path, sizeof path, "%s/secrets/jwt-signing.pem",
                 itest_env("CRM_STATE", "state/test"));
        FILE *f = fopen(file, "r");
        if (f == NULL) {
            fprintf(stderr, "itest: cannot read the token signing key %s: %s\n", file,
                    strerror(errno));
            abort();
        }
        char pem[8192];
        size_t len = fread(pem, 1, sizeof pem - 1, f);
        fclose(f);
        pem[len] = '\0';
        keys = crm_jwt_keys_new();
        if (crm_auth_load(keys, NULL, pem, err, sizeof err) != CRM_OK) {
            fprintf(stderr, "itest: %s: %s\n", file, err);
            abort();
        }
    }
    pthread_mutex_unlock(&mu);
    return keys;
}

void itest_token_at(char *out, size_t n, const char *role, int64_t user_id, long long iat, long ttl,
                    const char *csrf)
{
    crm_jwt_claims c;
    crm_buf b;

    memset(&c, 0, sizeof c);
    snprintf(c.sub, sizeof c.sub, "%lld", (long long)user_id);
    snprintf(c.role, sizeof c.role, "%s", role);
    if (csrf != NULL)
        snprintf(c.csrf, sizeof c.csrf, "%s", csrf);
    c.iat = iat;
    c.nbf = iat;
    c.exp = iat + ttl;
    crm_buf_init(&b, 512);
    if (crm_jwt_sign(signing_keys(), &c, &b) != CRM_OK || b.len + 1 > n) {
        fputs("itest: cannot sign a token\n", stderr);
        abort();
    }
    memcpy(out, b.data, b.len);
    out[b.len] = '\0';
    crm_buf_free(&b);
}

void itest_token(char *out, size_t n, const char *role, int64_t user_id)
{
    itest_token_at(out, n, role, user_id, (long long)time(NULL), 900, NULL);
}

void itest_bearer(char *out, size_t n, const char *role, int64_t user_id)
{
    char t[3072];
    itest_token(t, sizeof t, role, user_id);
    snprintf(out, n, "Authorization: Bearer %s", t);
}

void itest_as(const char *role, int64_t user_id)
{
    t_auth_set = 1;
    if (role == NULL) {
        t_auth[0] = '\0';
        return;
    }
    itest_bearer(t_auth, sizeof t_auth, role, user_id);
}

void itest_set_source_addr(const char *addr)
{
    snprintf(t_source, sizeof t_source, "%s", addr != NULL ? addr : "");
}

/* The thread's default Authorization line, or NULL for none. */
static const char *default_auth(void)
{
    if (!t_auth_set) {
        /* Tokens live 15 minutes; a suite runs for less, but a fresh
           thread gets a fresh one anyway. */
        itest_bearer(t_auth, sizeof t_auth, "admin", ITEST_ADMIN_ID);
        t_auth_set = 1;
    }
    return t_auth[0] != '\0' ? t_auth : NULL;
}

itest_resp *itest_request(const char *method, const char *path, const char *const *headers,
                          const char *body, size_t body_len, const char *content_type)
{
    if (g_origin == NULL) {
        fputs("itest: itest_init was not called\n", stderr);
        abort();
    }
    size_t n = strlen(g_origin) + strlen(path) + 1;
    char *url = xmalloc(n);
    snprintf(url, n, "%s%s", g_origin, path);
    /* The thread's identity, unless the caller brings its own. */
    const char *const *hs = headers;
    const char *with_auth[64];
    const char *auth = default_auth();
    if (auth != NULL && !has_credentials(headers)) {
        size_t k = 0;
        for (; headers != NULL && headers[k] != NULL && k < 62; k++)
            with_auth[k] = headers[k];
        with_auth[k++] = auth;
        with_auth[k] = NULL;
        hs = with_auth;
    }
    itest_resp *r = perform(method, url, hs, body, body_len, content_type);
    free(url);
    if (r->status != 0 && itest_header_get(r, "X-Request-Id") == NULL)
        __atomic_add_fetch(&g_missing_request_ids, 1, __ATOMIC_SEQ_CST);
    return r;
}

itest_resp *itest_get(const char *path, const char *const *headers)
{
    return itest_request("GET", path, headers, NULL, 0, NULL);
}

itest_resp *itest_json(const char *method, const char *path, const char *const *headers,
                       const char *body)
{
    return itest_request(method, path, headers, body, body ? strlen(body) : 0,
                         body ? "application/json" : NULL);
}

void itest_free(itest_resp *r)
{
    if (r == NULL)
        return;
    headers_clear(r);
    free(r->url);
    free(r->body);
    json_object_put(r->json);
    free(r);
}

long itest_missing_request_ids(void)
{
    return __atomic_load_n(&g_missing_request_ids, __ATOMIC_SEQ_CST);
}

void itest_teardown(void)
{
    long n = itest_missing_request_ids();
    ck_assert_msg(n == 0, "%ld response(s) from the public listener had no X-Request-Id", n);
}

/* ---- checks ------------------------------------------------------------------------------- */

const char *itest_describe(const itest_resp *r)
{
    const char *rid = itest_header_get(r, "X-Request-Id");
    char body[600];
    size_t n = r->body_len < sizeof body - 1 ? r->body_len : sizeof body - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)r->body[i];
        body[i] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '.';
    }
    body[n] = '\0';
    if (r->status == 0)
        snprintf(t_desc, sizeof t_desc, "%s %s -> no response (%s) after %.2fs", r->method, r->url,
                 r->error, r->seconds);
    else
        snprintf(t_desc, sizeof t_desc, "%s %s -> %ld [X-Request-Id %s] %s%s", r->method, r->url,
                 r->status, rid ? rid : "(none)", body, r->body_len > n ? "..." : "");
    return t_desc;
}

static const char *failmsg(const itest_resp *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static const char *failmsg(const itest_resp *r, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(t_msg, sizeof t_msg, "%s: %s", what, itest_describe(r));
    return t_msg;
}

const char *itest_check_status(const itest_resp *r, long status)
{
    if (r->status != status)
        return failmsg(r, "expected status %ld", status);
    if (itest_header_get(r, "X-Request-Id") == NULL)
        return failmsg(r, "no X-Request-Id");
    return NULL;
}

const char *itest_check_page_problem(const itest_resp *r, long status)
{
    const char *m = itest_check_status(r, status);
    if (m != NULL)
        return m;
    const char *ct = itest_header_get(r, "Content-Type");
    if (!has_prefix_ci(ct, "text/html"))
        return failmsg(r, "Content-Type %s, expected text/html", ct ? ct : "(none)");
    char want[64];
    snprintf(want, sizeof want, "<section class=\"problem\" data-status=\"%ld\">", status);
    if (r->body == NULL || strstr(r->body, want) == NULL)
        return failmsg(r, "no problem page for %ld", status);
    const char *rid = itest_header_get(r, "X-Request-Id");
    if (rid == NULL || strstr(r->body, rid) == NULL)
        return failmsg(r, "the problem page does not show the request id");
    return NULL;
}

const char *itest_check_problem(const itest_resp *r, long status)
{
    const char *m = itest_check_status(r, status);
    if (m != NULL)
        return m;
    const char *ct = itest_header_get(r, "Content-Type");
    if (!has_prefix_ci(ct, "application/problem+json"))
        return failmsg(r, "Content-Type %s, expected application/problem+json", ct ? ct : "(none)");
    json_object *o = r->json;
    if (o == NULL || !json_object_is_type(o, json_type_object))
        return failmsg(r, "problem body is not a JSON object");
    static const char *const strs[] = { "type", "title", "instance", "request_id" };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        const char *v = itest_jstr(o, strs[i]);
        if (v == NULL || *v == '\0')
            return failmsg(r, "problem member \"%s\" missing or not a non-empty string", strs[i]);
    }
    if (itest_jint(o, "status") != status)
        return failmsg(r, "problem \"status\" is not %ld", status);
    json_object *d = itest_jget(o, "detail");
    if (d != NULL && !json_object_is_type(d, json_type_string))
        return failmsg(r, "problem \"detail\" is not a string");
    const char *rid = itest_header_get(r, "X-Request-Id");
    if (strcmp(itest_jstr(o, "request_id"), rid) != 0)
        return failmsg(r, "problem \"request_id\" differs from X-Request-Id");
    json_object *errs = itest_jget(o, "errors");
    if (errs != NULL) {
        if (!json_object_is_type(errs, json_type_array))
            return failmsg(r, "problem \"errors\" is not an array");
        for (size_t i = 0; i < json_object_array_length(errs); i++) {
            json_object *e = json_object_array_get_idx(errs, i);
            if (itest_jstr(e, "field") == NULL || itest_jstr(e, "message") == NULL)
                return failmsg(r, "problem errors[%zu] lacks field/message strings", i);
        }
    }
    return NULL;
}

const char *itest_check_problem_type(const itest_resp *r, long status, const char *type)
{
    const char *m = itest_check_problem(r, status);
    if (m != NULL)
        return m;
    const char *t = itest_jstr(r->json, "type");
    size_t tl = strlen(t), want = strlen(type);
    if (strcmp(t, type) != 0 && !(tl > want && strcmp(t + tl - want, type) == 0))
        return failmsg(r, "problem type is not %s", type);
    return NULL;
}

const char *itest_check_security_headers(const itest_resp *r)
{
    const char *xcto = itest_header_get(r, "X-Content-Type-Options");
    if (xcto == NULL || strcasecmp(xcto, "nosniff") != 0)
        return failmsg(r, "X-Content-Type-Options: nosniff missing");
    const char *hsts = itest_header_get(r, "Strict-Transport-Security");
    if (hsts == NULL || strstr(hsts, "max-age=") == NULL)
        return failmsg(r, "Strict-Transport-Security missing");
    if (itest_header_get(r, "Content-Security-Policy") == NULL)
        return failmsg(r, "Content-Security-Policy missing");
    return NULL;
}

/* Text no answer may hold: it would tell an attacker about the insides. */
const char *itest_leak(const itest_resp *r)
{
    static const char *const bad[] = {
        "SQL",        "sql",     "mysql",   "MariaDB",      "MySQL",     "errno",    "Errcode",
        "Duplicate ", "syntax",  ".c:",     ".h:",          "/usr/",     "/tmp/",    "/work/",
        "/home/",     "/var/",   "state/",  "0x",           "Traceback", "at line ", "SELECT ",
        "INSERT ",    "UPDATE ", "DELETE ", "Segmentation", "abort",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (r->body != NULL && strstr(r->body, bad[i]) != NULL)
            return bad[i];
    return NULL;
}

/* ---- JSON --------------------------------------------------------------------------------- */

json_object *itest_jget(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (o == NULL || !json_object_is_type(o, json_type_object))
        return NULL;
    if (!json_object_object_get_ex(o, key, &v))
        return NULL;
    return v;
}

const char *itest_jstr(json_object *o, const char *key)
{
    json_object *v = itest_jget(o, key);
    return (v != NULL && json_object_is_type(v, json_type_string)) ? json_object_get_string(v)
                                                                   : NULL;
}

int64_t itest_jint(json_object *o, const char *key)
{
    json_object *v = itest_jget(o, key);
    return (v != NULL && json_object_is_type(v, json_type_int)) ? json_object_get_int64(v)
                                                                : INT64_MIN;
}

int itest_jnull(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (o == NULL || !json_object_object_get_ex(o, key, &v))
        return 1;
    return v == NULL;
}

int itest_problem_field_count(const itest_resp *r, const char *field)
{
    json_object *errs = itest_jget(r->json, "errors");
    int n = 0;
    if (errs == NULL || !json_object_is_type(errs, json_type_array))
        return 0;
    for (size_t i = 0; i < json_object_array_length(errs); i++) {
        const char *f = itest_jstr(json_object_array_get_idx(errs, i), "field");
        if (f != NULL && strcmp(f, field) == 0)
            n++;
    }
    return n;
}

char *itest_urlencode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = xmalloc(strlen(s) * 3 + 1);
    char *o = out;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';
    return out;
}

/* ---- metrics ------------------------------------------------------------------------------ */

/*
 * The label set of a sample, p just past its '{': sets *match when it has
 * every pair of want. Returns the character after the '}', or NULL when
 * the set is malformed.
 */
static const char *metric_labels(const char *p, const char *const *want, int *match)
{
    unsigned long found = 0;
    size_t npairs = 0;
    while (want != NULL && want[2 * npairs] != NULL && want[2 * npairs + 1] != NULL &&
           npairs < 16) /* pairs past the 16th are ignored */
        npairs++;
    unsigned long all = (1UL << npairs) - 1;
    for (;;) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == '}') {
            *match = found == all;
            return p + 1;
        }
        const char *k = p;
        while (*p != '\0' && *p != '=' && *p != '\n' && *p != '}')
            p++;
        if (*p != '=' || p[1] != '"')
            return NULL;
        size_t klen = (size_t)(p - k);
        p += 2;
        char val[512];
        size_t vn = 0;
        while (*p != '\0' && *p != '"' && *p != '\n') {
            char ch = *p++;
            if (ch == '\\' && *p != '\0' && *p != '\n') {
                ch = *p++;
                if (ch == 'n')
                    ch = '\n';
            }
            if (vn + 1 < sizeof val)
                val[vn++] = ch;
        }
        if (*p != '"')
            return NULL;
        p++;
        val[vn] = '\0';
        for (size_t i = 0; i < npairs; i++)
            if (strlen(want[2 * i]) == klen && strncmp(want[2 * i], k, klen) == 0 &&
                strcmp(want[2 * i + 1], val) == 0)
                found |= 1UL << i;
    }
}

int itest_metric(const char *text, const char *name, const char *const *labels, double *value)
{
    size_t nl = strlen(name);
    const char *next = NULL;
    for (const char *line = text; line != NULL && *line != '\0'; line = next) {
        const char *eol = strchr(line, '\n');
        next = eol ? eol + 1 : NULL;
        if (*line == '#' || strncmp(line, name, nl) != 0)
            continue;
        const char *p = line + nl;
        int match = labels == NULL || labels[0] == NULL;
        if (*p == '{') {
            p = metric_labels(p + 1, labels, &match);
            if (p == NULL)
                continue;
        } else if (*p != ' ' && *p != '\t') {
            continue; /* a longer name */
        }
        while (*p == ' ' || *p == '\t')
            p++;
        if (!match || *p == '\n' || *p == '\0')
            continue; /* no value on the line */
        char *end = NULL;
        double v = strtod(p, &end);
        if (end == p)
            continue;
        *value = v;
        return 1;
    }
    return 0;
}

/* ---- customers ---------------------------------------------------------------------------- */

static unsigned long next_count(void)
{
    return __atomic_add_fetch(&g_counter, 1, __ATOMIC_SEQ_CST);
}

void itest_unique_email(char *buf, size_t n, const char *label)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(buf, n, "it.%ld.%lu.%lld%06ld%s%s@example.com", (long)getpid(), next_count(),
             (long long)ts.tv_sec, ts.tv_nsec / 1000, label ? "." : "", label ? label : "");
}

static void letters(char *out, size_t n, unsigned long long v)
{
    size_t i = 0;
    do {
        if (i + 1 >= n)
            break;
        out[i++] = (char)('a' + v % 26);
        v /= 26;
    } while (v != 0);
    out[i] = '\0';
}

void itest_unique_word(char *buf, size_t n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char a[16], b[16], c[16];
    letters(a, sizeof a, (unsigned long long)getpid());
    letters(b, sizeof b, next_count());
    letters(
        c, sizeof c,
        ((unsigned long long)ts.tv_sec * 1000ULL + (unsigned long long)ts.tv_nsec / 1000000ULL) %
            308915776ULL); /* 26^6 */
    snprintf(buf, n, "zq%sq%sq%s", a, b, c);
}

itest_resp *itest_create_customer(const char *extra, const char *const *headers)
{
    char email[128];
    itest_unique_email(email, sizeof email, NULL);
    size_t n = strlen(email) + (extra ? strlen(extra) : 0) + 64;
    char *body = xmalloc(n);
    snprintf(body, n, "{\"name\":\"IT customer\",\"email\":\"%s\"%s%s}", email, extra ? "," : "",
             extra ? extra : "");
    itest_resp *r = itest_json("POST", ITEST_CUSTOMERS, headers, body);
    free(body);
    return r;
}

int64_t itest_new_customer_at(const char *extra, const char *file, int line)
{
    itest_resp *r = itest_create_customer(extra, NULL);
    const char *m = itest_check_status(r, 201);
    ck_assert_msg(m == NULL, "%s:%d: creating a customer: %s", file, line, m);
    int64_t id = itest_jint(r->json, "id");
    ck_assert_msg(id > 0, "%s:%d: created customer has no id: %s", file, line, itest_describe(r));
    itest_free(r);
    return id;
}

/* ---- sales -------------------------------------------------------------------------------- */

void itest_unique_sku(char *buf, size_t n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(buf, n, "IT-%ld-%lu-%lld%03ld", (long)getpid(), next_count(), (long long)ts.tv_sec,
             ts.tv_nsec / 1000000);
}

itest_resp *itest_create_product(int64_t price_cents, const char *currency, const char *extra,
                                 const char *const *headers)
{
    char sku[64];
    itest_unique_sku(sku, sizeof sku);
    size_t n = 2 * strlen(sku) + strlen(currency) + (extra ? strlen(extra) : 0) + 128;
    char *body = xmalloc(n);
    snprintf(
        body, n,
        "{\"sku\":\"%s\",\"name\":\"IT product %s\",\"price_cents\":%lld,\"currency\":\"%s\"%s%s}",
        sku, sku, (long long)price_cents, currency, extra ? "," : "", extra ? extra : "");
    itest_resp *r = itest_json("POST", ITEST_PRODUCTS, headers, body);
    free(body);
    return r;
}

int64_t itest_new_product_at(int64_t price_cents, const char *currency, const char *extra,
                             const char *file, int line)
{
    itest_resp *r = itest_create_product(price_cents, currency, extra, NULL);
    const char *m = itest_check_status(r, 201);
    ck_assert_msg(m == NULL, "%s:%d: creating a product: %s", file, line, m);
    int64_t id = itest_jint(r->json, "id");
    ck_assert_msg(id > 0, "%s:%d: created product has no id: %s", file, line, itest_describe(r));
    itest_free(r);
    return id;
}

itest_resp *itest_create_order(int64_t customer_id, const char *lines, const char *extra,
                               const char *const *headers)
{
    size_t n = (lines ? strlen(lines) : 0) + (extra ? strlen(extra) : 0) + 96;
    char *body = xmalloc(n);
    snprintf(body, n, "{\"customer_id\":%lld%s%s%s%s}", (long long)customer_id,
             lines ? ",\"lines\":" : "", lines ? lines : "", extra ? "," : "", extra ? extra : "");
    itest_resp *r = itest_json("POST", ITEST_ORDERS, headers, body);
    free(body);
    return r;
}

int64_t itest_new_order_at(int64_t customer_id, const char *lines, const char *extra,
                           const char *file, int line)
{
    itest_resp *r = itest_create_order(customer_id, lines, extra, NULL);
    const char *m = itest_check_status(r, 201);
    ck_assert_msg(m == NULL, "%s:%d: creating an order: %s", file, line, m);
    int64_t id = itest_jint(r->json, "id");
    ck_assert_msg(id > 0, "%s:%d: created order has no id: %s", file, line, itest_describe(r));
    itest_free(r);
    return id;
}

void itest_utc_date(char *buf, size_t n, int offset_days)
{
    time_t t = time(NULL) + (time_t)offset_days * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%d", &tm);
}

int64_t itest_location_id(const itest_resp *r)
{
    const char *loc = itest_header_get(r, "Location");
    if (loc == NULL)
        return -1;
    const char *slash = strrchr(loc, '/');
    if (slash == NULL || slash[1] == '\0')
        return -1;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(slash + 1, &end, 10);
    if (errno != 0 || *end != '\0' || v <= 0)
        return -1;
    return (int64_t)v;
}

long itest_etag_version(const itest_resp *r)
{
    const char *e = itest_header_get(r, "ETag");
    if (e == NULL || e[0] != '"')
        return -1;
    char *end = NULL;
    long v = strtol(e + 1, &end, 10);
    if (end == e + 1 || strcmp(end, "\"") != 0)
        return -1;
    return v;
}

/* ---- stack control ------------------------------------------------------------------------ */

int itest_stack(char *out, size_t outlen, const char *const *args)
{
    const char *repo = itest_env("CRM_REPO", ".");
    char script[4096];
    snprintf(script, sizeof script, "%s/scripts/stack.sh", repo);
    char tmpl[] = "/tmp/itest-stack-XXXXXX";
    /* A file, not a pipe: daemons the script starts may keep its stdout. */
    int fd = mkstemp(tmpl);
    if (fd < 0)
        return -1;
    unlink(tmpl);
    const char *argv[32];
    size_t argc = 0;
    argv[argc++] = script;
    for (size_t i = 0; args != NULL && args[i] != NULL && argc < 31; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd);
        return -1;
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(script, (char *const *)argv);
        dprintf(2, "itest: cannot run %s: %s\n", script, strerror(errno));
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (out != NULL && outlen > 0) {
        ssize_t n = pread(fd, out, outlen - 1, 0);
        out[n > 0 ? n : 0] = '\0';
    }
    close(fd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

pid_t itest_pool_pid(const char *service)
{
    char out[4096];
    const char *args[] = { "pool-pid", service, NULL };
    if (itest_stack(out, sizeof out, args) != 0)
        return -1;
    /* The last number printed. */
    long pid = -1;
    for (const char *p = out; *p;) {
        if (isdigit((unsigned char)*p)) {
            char *end = NULL;
            long v = strtol(p, &end, 10);
            if (end == p)
                break;
            if (*end == '\0' || isspace((unsigned char)*end))
                pid = v;
            p = end;
        } else {
            p++;
        }
    }
    return pid > 1 ? (pid_t)pid : -1;
}

/* state and ppid of pid from /proc/pid/stat; 0 on success. */
static int proc_stat(pid_t pid, char *state, pid_t *ppid, int *exit_code)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* comm may hold spaces and parens */
    if (p == NULL || p[1] != ' ')
        return -1;
    p += 2;
    *state = *p;
    long pp = 0;
    if (sscanf(p + 1, " %ld", &pp) != 1)
        return -1;
    *ppid = (pid_t)pp;
    if (exit_code != NULL) {
        /* Field 52 (exit_code); p points at field 3. */
        int field = 3;
        const char *q = p;
        while (*q && field < 52) {
            if (*q == ' ')
                field++;
            q++;
        }
        *exit_code = field == 52 ? atoi(q) : -1;
    }
    return 0;
}

size_t itest_children(pid_t parent, pid_t *out, size_t max)
{
    DIR *d = opendir("/proc");
    size_t n = 0;
    if (d == NULL)
        return 0;
    const struct dirent *e;
    while ((e = readdir(d)) != NULL && n < max) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        pid_t pid = (pid_t)atol(e->d_name);
        char state = 0;
        pid_t pp = 0;
        if (proc_stat(pid, &state, &pp, NULL) == 0 && pp == parent && state != 'Z' && state != 'X')
            out[n++] = pid;
    }
    closedir(d);
    return n;
}

int itest_pid_alive(pid_t pid)
{
    if (kill(pid, 0) != 0 && errno == ESRCH)
        return 0;
    char state = 0;
    pid_t pp = 0;
    if (proc_stat(pid, &state, &pp, NULL) != 0)
        return 0;
    return state != 'Z' && state != 'X';
}

pid_t itest_parent_pid(pid_t pid)
{
    char state = 0;
    pid_t pp = 0;
    if (proc_stat(pid, &state, &pp, NULL) != 0)
        return -1;
    return pp;
}

int itest_zombie_exit_code(pid_t pid)
{
    char state = 0;
    pid_t pp = 0;
    int code = -1;
    if (proc_stat(pid, &state, &pp, &code) != 0 || state != 'Z')
        return -1;
    return code;
}

/* ---- events (POST /internal/v1/events) ---- */

void itest_event_key(char *key, size_t n)
{
    char path[4096];
    const char *file = getenv("CRM_EVENT_KEY_FILE");
    if (file == NULL || *file == '\0') {
        snprintf(path, sizeof path, "%s/secrets/events.key", itest_env("CRM_STATE", "state/test"));
        file = path;
    }
    FILE *f = fopen(file, "r");
    ck_assert_msg(f != NULL, "cannot read the event key %s: %s", file, strerror(errno));
    size_t len = fread(key, 1, n - 1, f);
    fclose(f);
    key[len] = '\0';
    char *nl = strchr(key, '\n');
    if (nl != NULL)
        *nl = '\0';
    len = strlen(key);
    if (len > 0 && key[len - 1] == '\r')
        key[len - 1] = '\0';
    ck_assert_msg(key[0] != '\0', "the event key %s is empty", file);
}

void itest_event_sign(const char *key, long long ts, const char *body, char out[68])
{
    size_t blen = strlen(body);
    char *msg = malloc(blen + 32);
    ck_assert_ptr_nonnull(msg);
    int plen = snprintf(msg, 32, "%lld.", ts);
    memcpy(msg + plen, body, blen);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    ck_assert_ptr_nonnull(HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)msg,
                               (size_t)plen + blen, md, &mdlen));
    free(msg);
    ck_assert_uint_eq(mdlen, 32);
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "v1=", 3);
    for (unsigned i = 0; i < mdlen; i++) {
        out[3 + 2 * i] = hex[md[i] >> 4];
        out[4 + 2 * i] = hex[md[i] & 15];
    }
    out[3 + 2 * mdlen] = '\0';
}

void itest_uuid4(char out[37])
{
    unsigned char b[16];
    ck_assert_int_eq(RAND_bytes(b, sizeof b), 1);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* variant 10 */
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

/* ---- pools ---- */

void itest_stack_ok(const char *cmd, const char *svc)
{
    char out[8192];
    const char *args[] = { cmd, svc, NULL };
    int rc = itest_stack(out, sizeof out, args);
    ck_assert_msg(rc == 0, "stack.sh %s %s exited %d: %s", cmd, svc, rc, out);
}

int itest_wait_serving(const char *path, double secs)
{
    double until = itest_now() + secs;
    while (itest_now() < until) {
        itest_resp *r = itest_get(path, NULL);
        long st = r->status;
        itest_free(r);
        if (st == 200)
            return 1;
        itest_sleep_ms(100);
    }
    return 0;
}

int itest_child_of(pid_t pid, pid_t parent)
{
    return pid > 0 && itest_pid_alive(pid) && itest_parent_pid(pid) == parent;
}

const char *itest_fmt(const char *fmt, ...)
{
    static char bufs[8][4096];
    static unsigned next;
    char *b = bufs[next++ % 8];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof bufs[0], fmt, ap);
    va_end(ap);
    return b;
}
