/*
 * crm_http.c - service-to-service calls on one libcurl easy handle.
 *
 * The handle is never reset between calls: it holds the open connection
 * and the options that never change (timeouts, protocols, no redirects, no
 * proxy, no signals). Each call sets everything that is its own (URL,
 * method, headers, body, where the answer goes) and clears the pointers to
 * its own memory before it returns.
 *
 * The answer is read into a capped buffer and copied into the caller's
 * arena only when it is complete; curl itself refuses a Content-Length
 * over the cap before any byte of the body is read.
 */
#include "crm_http.h"

#include "crm_buf.h"
#include "crm_log.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CONNECT_TIMEOUT_MAX_MS 1000L

_Static_assert(sizeof(curl_off_t) == sizeof(int64_t), "curl_off_t is 64 bits");

struct crm_http {
    CURL *curl;
    char *base; /* without trailing slashes */
    long timeout_ms;
    size_t body_cap;
    char errbuf[CURL_ERROR_SIZE];
};

/* Where the write callback puts the answer of one call. */
typedef struct {
    crm_buf buf;
    size_t cap;
    int too_big;
} sink;

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_init(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        crm_log_error("http: curl_global_init failed");
        abort();
    }
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    sink *s = ud;
    size_t len = size * n;

    /* Returning less than len aborts the transfer (CURLE_WRITE_ERROR). */
    if (len > s->cap - s->buf.len || crm_buf_append(&s->buf, p, len) != CRM_OK) {
        s->too_big = 1;
        return 0;
    }
    return len;
}

/* Abort when an option every call relies on cannot be set. */
static void must(CURLcode rc, const char *what)
{
    if (rc == CURLE_OK)
        return;
    if (rc == CURLE_OUT_OF_MEMORY)
        crm_oom();
    crm_log_error("http: cannot set %s: %s", what, curl_easy_strerror(rc));
    abort();
}

crm_http *crm_http_new(const char *base_url, long timeout_ms, size_t body_cap)
{
    pthread_once(&global_once, global_init);

    crm_http *h = crm_xcalloc(1, sizeof(*h));
    size_t n = strlen(base_url);
    while (n > 0 && base_url[n - 1] == '/')
        n--;
    h->base = crm_xmalloc(n + 1);
    memcpy(h->base, base_url, n);
    h->base[n] = '\0';
    h->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
    h->body_cap = body_cap;
    h->curl = curl_easy_init();
    if (h->curl == NULL)
        crm_oom();

    CURL *c = h->curl;
    /* Workers have signal handlers; curl must not touch SIGALRM/SIGPIPE. */
    must(curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L), "NOSIGNAL");
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
    must(curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https"), "PROTOCOLS_STR");
#else
    must(curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)),
         "PROTOCOLS");
#endif
    must(curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L), "FOLLOWLOCATION");
    /* Calls go to our own NGINX: an http_proxy in the environment is not for us. */
    must(curl_easy_setopt(c, CURLOPT_PROXY, ""), "PROXY");
    must(curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->timeout_ms), "TIMEOUT_MS");
    must(curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                          h->timeout_ms < CONNECT_TIMEOUT_MAX_MS ? h->timeout_ms
                                                                 : CONNECT_TIMEOUT_MAX_MS),
         "CONNECTTIMEOUT_MS");
    /* 0 would mean "no limit" to curl; the write callback covers a cap of 0. */
    if (body_cap > 0 && (uint64_t)body_cap <= (uint64_t)INT64_MAX)
        must(curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)body_cap), "MAXFILESIZE");
    must(curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body), "WRITEFUNCTION");
    must(curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf), "ERRORBUFFER");
    return h;
}

void crm_http_free(crm_http *h)
{
    if (h == NULL)
        return;
    curl_easy_cleanup(h->curl);
    free(h->base);
    free(h);
}

/* A path we put into a URL as is: "/...", no spaces or control bytes. */
static int path_ok(const char *path)
{
    if (path == NULL || path[0] != '/')
        return 0;
    for (const unsigned char *p = (const unsigned char *)path; *p != '\0'; p++)
        if (*p <= ' ' || *p == 0x7f)
            return 0;
    return 1;
}

/* A header value that cannot smuggle in another header. */
static int line_ok(const char *s)
{
    return strpbrk(s, "\r\n") == NULL;
}

static struct curl_slist *add_header(struct curl_slist *l, const char *line)
{
    struct curl_slist *n = curl_slist_append(l, line);
    if (n == NULL)
        crm_oom();
    return n;
}

/* Length of path up to its query: queries may carry tokens, logs do not. */
static int log_len(const char *path)
{
    size_t n = strcspn(path, "?");
    return n > 200 ? 200 : (int)n;
}

static int classify(CURLcode cc, const sink *s)
{
    switch (cc) {
    case CURLE_OK:
        return CRM_OK;
    case CURLE_FILESIZE_EXCEEDED:
        return CRM_TOOBIG;
    case CURLE_WRITE_ERROR:
        return s->too_big ? CRM_TOOBIG : CRM_ERR;
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
        return CRM_GONE;
    default:
        return CRM_ERR;
    }
}

static int perform(crm_http *h, crm_arena *a, const char *method, const char *path,
                   const char *request_id, const char *const *headers, const char *content_type,
                   const char *body, size_t len, crm_http_res *res)
{
    CURL *c = h->curl;
    struct curl_slist *hl = NULL;
    sink s = { .cap = h->body_cap };
    int post = strcmp(method, "POST") == 0;
    int rc = CRM_ERR;

    crm_buf_init(&s.buf, 0);
    if (!path_ok(path)) {
        crm_log_error("http: %s \"%.200s\": path must start with '/' and hold no spaces or "
                      "control characters",
                      method, path != NULL ? path : "(null)");
        goto out;
    }
    if ((request_id != NULL && !line_ok(request_id)) ||
        (content_type != NULL && !line_ok(content_type))) {
        crm_log_error("http: %s %.*s: line break in request id or content type", method,
                      log_len(path), path);
        goto out;
    }
    if (body == NULL && len > 0) {
        crm_log_error("http: %s %.*s: no body but a length of %zu", method, log_len(path), path,
                      len);
        goto out;
    }
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
        if (!line_ok(headers[i]) || strchr(headers[i], ':') == NULL) {
            crm_log_error("http: %s %.*s: extra header %zu is not one \"Name: value\" line", method,
                          log_len(path), path, i);
            goto out;
        }
    }

    if (request_id != NULL)
        hl = add_header(hl, crm_arena_printf(a, "X-Request-Id: %s", request_id));
    if (post) {
        /* An empty value removes the header curl would add. */
        hl = add_header(hl, "Expect:");
        hl = add_header(hl, content_type != NULL
                                ? crm_arena_printf(a, "Content-Type: %s", content_type)
                                : "Content-Type:");
    }
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
        hl = add_header(hl, headers[i]);

    CURLcode cc = curl_easy_setopt(c, CURLOPT_URL, crm_arena_printf(a, "%s%s", h->base, path));
    if (cc == CURLE_OUT_OF_MEMORY)
        crm_oom();
    if (cc != CURLE_OK) {
        crm_log_error("http: %s %.*s: %s", method, log_len(path), path, curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    if (post) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body != NULL ? body : "");
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    h->errbuf[0] = '\0';
    cc = curl_easy_perform(c);

    rc = classify(cc, &s);
    if (rc == CRM_TOOBIG) {
        crm_log_warn("http: %s %.*s: answer over %zu bytes refused", method, log_len(path), path,
                     h->body_cap);
        goto out;
    }
    if (rc != CRM_OK) {
        const char *why = h->errbuf[0] != '\0' ? h->errbuf : curl_easy_strerror(cc);
        if (rc == CRM_GONE)
            crm_log_warn("http: %s %.*s: no answer: %s", method, log_len(path), path, why);
        else
            crm_log_error("http: %s %.*s: %s", method, log_len(path), path, why);
        goto out;
    }

    long status = 0;
    char *ct = NULL;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    char *copy = crm_arena_alloc(a, s.buf.len + 1);
    if (s.buf.len > 0)
        memcpy(copy, s.buf.data, s.buf.len);
    copy[s.buf.len] = '\0';
    res->status = (int)status;
    res->content_type = ct != NULL ? crm_arena_strdup(a, ct) : NULL;
    res->body = copy;
    res->len = s.buf.len;
out:
    /* Nothing of this call may be reachable from the handle afterwards. */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, NULL);
    if (post)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL); /* the next call sets its method */
    curl_slist_free_all(hl);
    crm_buf_free(&s.buf);
    return rc;
}

int crm_http_get(crm_http *h, crm_arena *a, const char *path, const char *request_id,
                 const char *const *headers, crm_http_res *res)
{
    return perform(h, a, "GET", path, request_id, headers, NULL, NULL, 0, res);
}

int crm_http_post(crm_http *h, crm_arena *a, const char *path, const char *request_id,
                  const char *const *headers, const char *content_type, const char *body,
                  size_t len, crm_http_res *res)
{
    return perform(h, a, "POST", path, request_id, headers, content_type, body, len, res);
}
