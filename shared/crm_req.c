/*
 * crm_req.c - the request as FastCGI hands it over, and the response.
 * This is the only file that includes the FastCGI headers.
 */
#include "crm_req.h"

#include "crm_form.h"
#include "crm_log.h"
#include "crm_problem.h"

#include <ctype.h>
#include <fcgiapp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PATH_PARAMS  4
#define MAX_RES_HEADERS  16
#define MAX_QUERY_FIELDS 32

typedef struct {
    const char *name;
    const char *value;
} pair;

struct crm_req {
    crm_arena *a;
    const crm_req_io *io;
    void *ctx;
    size_t body_cap;

    const char *method;
    const char *path;
    const char *query;
    const char *id;
    int route;
    void *auth; /* crm_auth's view of the caller */

    pair params[MAX_PATH_PARAMS];
    size_t n_params;

    int query_parsed; /* 0: not yet, 1: ok, -1: did not parse */
    crm_fields qfields;

    int body_read;
    int body_rc;
    const char *body;
    size_t body_len;

    pair headers[MAX_RES_HEADERS];
    size_t n_headers;
    int status;

    /* A browser form's stand-ins (crm_req_form_override) */
    const char *if_match; /* for the If-Match header */
    const char *next;     /* the page a success goes to (303) */
};

/* ---- FastCGI transport ---- */

static long fcgi_read(void *ctx, char *buf, size_t n)
{
    FCGX_Request *fr = ctx;
    int want = n > (size_t)0x7fffffff ? 0x7fffffff : (int)n;
    return FCGX_GetStr(buf, want, fr->in);
}

static int fcgi_write(void *ctx, const char *buf, size_t n)
{
    FCGX_Request *fr = ctx;
    if (n > (size_t)0x7fffffff)
        return CRM_ERR;
    return FCGX_PutStr(buf, (int)n, fr->out) == (int)n ? CRM_OK : CRM_ERR;
}

static const char *fcgi_param(void *ctx, const char *name)
{
    FCGX_Request *fr = ctx;
    return FCGX_GetParam(name, fr->envp);
}

const crm_req_io crm_req_fcgi_io = { fcgi_read, fcgi_write, fcgi_param };

/* ---- request ---- */

/* NGINX's $request_id is 32 hex digits; accept any short token of [A-Za-z0-9-]. */
static int id_ok(const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        if (n >= 64 || !(isalnum((unsigned char)s[n]) || s[n] == '-'))
            return 0;
    }
    return n > 0;
}

crm_req *crm_req_new(crm_arena *arena, const crm_req_io *io, void *ctx, size_t body_cap)
{
    static unsigned long seq;
    crm_req *r = crm_arena_calloc(arena, sizeof(*r));
    const char *s;

    r->a = arena;
    r->io = io;
    r->ctx = ctx;
    r->body_cap = body_cap;
    r->route = -1;

    s = io->param(ctx, "REQUEST_METHOD");
    r->method = s ? s : "GET";

    /*
     * Route on the raw request target, not NGINX's decoded and normalised
     * $document_uri: "/customers/%2F1" must not become "/customers/1".
     */
    s = io->param(ctx, "REQUEST_URI");
    if (s != NULL && *s != '\0') {
        const char *q = strchr(s, '?');
        if (q != NULL)
            s = crm_arena_strndup(arena, s, (size_t)(q - s));
    } else {
        s = io->param(ctx, "DOCUMENT_URI");
        if (s == NULL || *s == '\0')
            s = "/";
    }
    r->path = s;

    s = io->param(ctx, "QUERY_STRING");
    r->query = s ? s : "";

    s = io->param(ctx, "REQUEST_ID");
    if (s != NULL && id_ok(s))
        r->id = s;
    else
        r->id = crm_arena_printf(arena, "w%ld-%lu", (long)getpid(), ++seq);
    return r;
}

void crm_req_finish(crm_req *r)
{
    if (r->status == 0)
        crm_log_error("request finished without a response");
}

crm_arena *crm_req_arena(crm_req *r)
{
    return r->a;
}

const char *crm_req_method(crm_req *r)
{
    return r->method;
}

const char *crm_req_path(crm_req *r)
{
    return r->path;
}

const char *crm_req_query_string(crm_req *r)
{
    return r->query;
}

const char *crm_req_id(crm_req *r)
{
    return r->id;
}

const char *crm_req_param(crm_req *r, const char *cgi_name)
{
    return r->io->param(r->ctx, cgi_name);
}

const char *crm_req_header(crm_req *r, const char *name)
{
    char var[128];
    size_t n = 0;

    if (strcasecmp(name, "Content-Type") == 0)
        return crm_req_param(r, "CONTENT_TYPE");
    if (strcasecmp(name, "Content-Length") == 0)
        return crm_req_param(r, "CONTENT_LENGTH");
    if (r->if_match != NULL && strcasecmp(name, "If-Match") == 0)
        return r->if_match;

    memcpy(var, "HTTP_", 5);
    n = 5;
    for (const char *p = name; *p != '\0'; p++) {
        if (n + 1 >= sizeof(var))
            return NULL;
        var[n++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    }
    var[n] = '\0';
    return crm_req_param(r, var);
}

void crm_req_form_override(crm_req *r, const char *method, const char *if_match, const char *next)
{
    if (method != NULL)
        r->method = method;
    if (if_match != NULL)
        r->if_match = if_match;
    if (next != NULL)
        r->next = next;
}

int crm_req_wants_html(crm_req *r)
{
    const char *accept = crm_req_header(r, "Accept");
    return accept != NULL && strstr(accept, "text/html") != NULL;
}

static int parse_query(crm_req *r, const char **why)
{
    if (r->query_parsed == 0) {
        *why = NULL;
        int rc =
            crm_form_parse(r->a, r->query, strlen(r->query), MAX_QUERY_FIELDS, &r->qfields, why);
        r->query_parsed = rc == CRM_OK ? 1 : -1;
        if (rc == CRM_TOOBIG)
            *why = "too many query parameters";
    }
    return r->query_parsed == 1 ? CRM_OK : CRM_INVALID;
}

const char *crm_req_query(crm_req *r, const char *name)
{
    const char *why;
    if (parse_query(r, &why) != CRM_OK)
        return NULL;
    const crm_field *f = crm_fields_get(&r->qfields, name);
    return f ? f->str : NULL;
}

int crm_req_query_check(crm_req *r, const char *const *allowed)
{
    const char *why = NULL;
    crm_field_error errs[MAX_QUERY_FIELDS];
    size_t n = 0;

    r->query_parsed = 0;
    if (parse_query(r, &why) != CRM_OK) {
        crm_problem_t p = { .status = 400,
                            .type = "bad-query",
                            .title = "Invalid query string",
                            .detail = why ? why : "the query string does not parse" };
        return crm_problem_send(r, &p);
    }
    for (size_t i = 0; i < r->qfields.n; i++) {
        const char *name = r->qfields.items[i].name;
        size_t k = 0;
        while (allowed[k] != NULL && strcmp(allowed[k], name) != 0)
            k++;
        if (allowed[k] == NULL && n < MAX_QUERY_FIELDS) {
            errs[n].field = name;
            errs[n].message = "unknown query parameter";
            n++;
        }
    }
    if (n > 0) {
        crm_problem_t p = { .status = 400,
                            .type = "bad-query",
                            .title = "Invalid query string",
                            .detail = "the query string has parameters this resource does not know",
                            .errors = errs,
                            .n_errors = n };
        return crm_problem_send(r, &p);
    }
    return CRM_OK;
}

int crm_req_body(crm_req *r, const char **body, size_t *len)
{
    if (r->body_read) {
        if (r->body_rc == CRM_OK) {
            *body = r->body;
            *len = r->body_len;
        }
        return r->body_rc;
    }
    r->body_read = 1;

    /* Trust Content-Length only to refuse early; read until end of stream. */
    const char *cl = crm_req_param(r, "CONTENT_LENGTH");
    size_t expect = 0;
    if (cl != NULL && *cl != '\0') {
        char *end;
        unsigned long long v = strtoull(cl, &end, 10);
        if (*end != '\0' || cl[0] == '-') {
            r->body_rc = CRM_ERR;
            return r->body_rc;
        }
        if (v > r->body_cap) {
            r->body_rc = CRM_TOOBIG;
            return r->body_rc;
        }
        expect = (size_t)v;
    }

    /* Capacity grows up to body_cap + 1: one byte over proves "too big". */
    size_t size = expect ? expect : 4096, used = 0;
    if (size > r->body_cap + 1)
        size = r->body_cap + 1;
    char *buf = crm_arena_alloc(r->a, size + 1);
    for (;;) {
        if (used == size) {
            if (size > r->body_cap)
                break;
            size_t nsize = size * 2 > r->body_cap + 1 ? r->body_cap + 1 : size * 2;
            char *nbuf = crm_arena_alloc(r->a, nsize + 1);
            memcpy(nbuf, buf, used);
            buf = nbuf;
            size = nsize;
        }
        long got = r->io->read(r->ctx, buf + used, size - used);
        if (got < 0) {
            r->body_rc = CRM_ERR;
            return r->body_rc;
        }
        if (got == 0)
            break;
        used += (size_t)got;
    }
    if (used > r->body_cap) {
        r->body_rc = CRM_TOOBIG;
        return r->body_rc;
    }
    buf[used] = '\0';
    r->body = buf;
    r->body_len = used;
    r->body_rc = CRM_OK;
    *body = buf;
    *len = used;
    return CRM_OK;
}

void crm_req_set_path_param(crm_req *r, const char *name, const char *value)
{
    if (r->n_params < MAX_PATH_PARAMS) {
        r->params[r->n_params].name = name;
        r->params[r->n_params].value = value;
        r->n_params++;
    }
}

const char *crm_req_path_param(crm_req *r, const char *name)
{
    for (size_t i = 0; i < r->n_params; i++) {
        if (strcmp(r->params[i].name, name) == 0)
            return r->params[i].value;
    }
    return NULL;
}

int crm_req_path_id(crm_req *r, const char *name, int64_t *out)
{
    const char *s = crm_req_path_param(r, name);
    int64_t v = 0;

    if (s == NULL || *s == '\0')
        return CRM_INVALID;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return CRM_INVALID;
        int d = *p - '0';
        if (v > (INT64_MAX - d) / 10)
            return CRM_INVALID; /* past INT64_MAX */
        v = v * 10 + d;
    }
    if (v <= 0)
        return CRM_INVALID;
    *out = v;
    return CRM_OK;
}

void crm_req_set_route(crm_req *r, int route)
{
    r->route = route;
}

void crm_req_set_auth(crm_req *r, void *auth)
{
    r->auth = auth;
}

void *crm_req_auth(crm_req *r)
{
    return r->auth;
}

int crm_req_route(crm_req *r)
{
    return r->route;
}

/* ---- response ---- */

void crm_res_header(crm_req *r, const char *name, const char *value)
{
    if (r->n_headers >= MAX_RES_HEADERS) {
        crm_log_error("too many response headers, dropped %s", name);
        return;
    }
    /* Header injection is a bug in our code, never client-controlled. */
    if (strpbrk(value, "\r\n") != NULL) {
        crm_log_error("response header %s has a line break, dropped", name);
        return;
    }
    r->headers[r->n_headers].name = crm_arena_strdup(r->a, name);
    r->headers[r->n_headers].value = crm_arena_strdup(r->a, value);
    r->n_headers++;
}

int crm_res_status(crm_req *r)
{
    return r->status;
}

const char *crm_http_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 428:
        return "Precondition Required";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return status < 400 ? "OK" : "Error";
    }
}

int crm_res_send(crm_req *r, int status, const char *content_type, const char *body, size_t len)
{
    if (r->status != 0) {
        crm_log_error("second response for one request (%d after %d) ignored", status, r->status);
        return r->status;
    }
    /* A browser's form that succeeded goes on to the page it named. */
    if (r->next != NULL && status >= 200 && status < 300 && crm_req_wants_html(r)) {
        crm_res_header(r, "Location", r->next);
        status = 303;
        content_type = NULL;
        len = 0;
    }
    r->status = status;

    /* Headers and body go out in one write. */
    size_t head = 160 + (content_type ? strlen(content_type) + 16 : 0);
    for (size_t i = 0; i < r->n_headers; i++)
        head += strlen(r->headers[i].name) + strlen(r->headers[i].value) + 4;
    char *out = crm_arena_alloc(r->a, head + len);
    size_t n = (size_t)snprintf(out, head, "Status: %d %s\r\n", status, crm_http_reason(status));
    for (size_t i = 0; i < r->n_headers; i++)
        n += (size_t)snprintf(out + n, head - n, "%s: %s\r\n", r->headers[i].name,
                              r->headers[i].value);
    if (content_type != NULL)
        n += (size_t)snprintf(out + n, head - n, "Content-Type: %s\r\n", content_type);
    n += (size_t)snprintf(out + n, head - n, "Content-Length: %zu\r\n\r\n", len);
    if (len > 0)
        memcpy(out + n, body, len);
    if (r->io->write(r->ctx, out, n + len) != CRM_OK)
        crm_log_warn("response write failed (client gone?)");
    return status;
}
