/*
 * crm_problem.c - RFC 9457 problem details; the one way errors leave.
 */
#include "crm_problem.h"

#include "crm_buf.h"
#include "crm_html.h"
#include "crm_log.h"
#include "crm_utf8.h"

#include <string.h>

const char *crm_problem_slug(int status)
{
    switch (status) {
    case 400:
        return "bad-request";
    case 401:
        return "unauthorized";
    case 403:
        return "forbidden";
    case 404:
        return "not-found";
    case 405:
        return "method-not-allowed";
    case 409:
        return "conflict";
    case 412:
        return "precondition-failed";
    case 413:
        return "too-large";
    case 415:
        return "unsupported-media-type";
    case 422:
        return "validation";
    case 428:
        return "precondition-required";
    case 429:
        return "too-many-requests";
    case 503:
        return "unavailable";
    default:
        return status >= 500 ? "internal" : NULL;
    }
}

/* Bytes in the valid UTF-8 character at s[0..n), 0 when it is not one. */
static size_t char_len(const char *s, size_t n)
{
    unsigned char c = (unsigned char)s[0];
    size_t k = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    return k <= n && crm_utf8_valid(s, k) ? k : 0;
}

/*
 * Append s as a JSON string. The path comes percent-decoded from NGINX and
 * may hold any byte: invalid UTF-8 becomes U+FFFD so the body stays JSON.
 */
static void put_str(crm_buf *b, crm_arena *a, const char *s)
{
    size_t n = strlen(s);

    if (!crm_utf8_valid(s, n)) {
        char *clean = crm_arena_alloc(a, n * 3 + 1), *o = clean;
        for (size_t i = 0; i < n;) {
            size_t k = char_len(s + i, n - i);
            if (k == 0) {
                memcpy(o, "\xEF\xBF\xBD", 3);
                o += 3;
                i++;
            } else {
                memcpy(o, s + i, k);
                o += k;
                i += k;
            }
        }
        s = clean;
        n = (size_t)(o - clean);
    }
    crm_buf_json_str(b, s, n);
}

int crm_problem_send(crm_req *r, const crm_problem_t *p)
{
    crm_buf b;
    const char *type = p->type ? p->type : crm_problem_slug(p->status);
    const char *title = p->title ? p->title : crm_http_reason(p->status);
    const char *path = crm_req_path(r), *id = crm_req_id(r);
    crm_arena *a = crm_req_arena(r);

    if (p->status >= 500)
        crm_log_error("answered %d: %s", p->status, p->detail ? p->detail : title);
    /* A browser gets a page: a reader who is not logged in, the login page. */
    if (crm_req_wants_html(r)) {
        const char *m = crm_req_method(r);
        if (p->status == 401 && (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0)) {
            crm_res_header(r, "Location", "/login.html");
            return crm_res_send(r, 303, NULL, NULL, 0);
        }
        return crm_html_problem(r, p, title);
    }

    crm_buf_init(&b, 0);
    crm_buf_puts(&b, "{\"type\":");
    if (type != NULL)
        put_str(&b, a, crm_arena_printf(a, "/problems/%s", type));
    else
        crm_buf_puts(&b, "\"about:blank\"");
    crm_buf_puts(&b, ",\"title\":");
    put_str(&b, a, title);
    crm_buf_printf(&b, ",\"status\":%d", p->status);
    if (p->detail != NULL) {
        crm_buf_puts(&b, ",\"detail\":");
        put_str(&b, a, p->detail);
    }
    crm_buf_puts(&b, ",\"instance\":");
    put_str(&b, a, path);
    crm_buf_puts(&b, ",\"request_id\":");
    put_str(&b, a, id);
    if (p->n_errors > 0) {
        crm_buf_puts(&b, ",\"errors\":[");
        for (size_t i = 0; i < p->n_errors; i++) {
            crm_buf_puts(&b, i ? ",{\"field\":" : "{\"field\":");
            put_str(&b, a, p->errors[i].field ? p->errors[i].field : "");
            crm_buf_puts(&b, ",\"message\":");
            put_str(&b, a, p->errors[i].message ? p->errors[i].message : "");
            crm_buf_putc(&b, '}');
        }
        crm_buf_putc(&b, ']');
    }
    if (p->extra != NULL) {
        crm_buf_putc(&b, ',');
        crm_buf_puts(&b, p->extra);
    }
    crm_buf_putc(&b, '}');

    int status = crm_res_send(r, p->status, "application/problem+json", b.data, b.len);
    crm_buf_free(&b);
    return status;
}

int crm_problem(crm_req *r, int status, const char *detail)
{
    crm_problem_t p = { .status = status, .detail = detail };
    return crm_problem_send(r, &p);
}
