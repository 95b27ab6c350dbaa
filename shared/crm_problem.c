/*
 * crm_problem.c - RFC 9457 problem details; the one way errors leave.
 */
#include "crm_problem.h"

#include "crm_buf.h"
#include "crm_log.h"

#include <string.h>

const char *crm_problem_slug(int status)
{
    switch (status) {
    case 400: return "bad-request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not-found";
    case 405: return "method-not-allowed";
    case 409: return "conflict";
    case 412: return "precondition-failed";
    case 413: return "too-large";
    case 415: return "unsupported-media-type";
    case 422: return "validation";
    case 428: return "precondition-required";
    case 429: return "too-many-requests";
    case 503: return "unavailable";
    default: return status >= 500 ? "internal" : NULL;
    }
}

int crm_problem_send(crm_req *r, const crm_problem_t *p)
{
    crm_buf b;
    const char *type = p->type ? p->type : crm_problem_slug(p->status);
    const char *title = p->title ? p->title : crm_http_reason(p->status);
    const char *path = crm_req_path(r), *id = crm_req_id(r);

    crm_buf_init(&b, 0);
    crm_buf_puts(&b, "{\"type\":");
    if (type != NULL) {
        const char *t = crm_arena_printf(crm_req_arena(r), "/problems/%s", type);
        crm_buf_json_str(&b, t, strlen(t));
    } else {
        crm_buf_puts(&b, "\"about:blank\"");
    }
    crm_buf_puts(&b, ",\"title\":");
    crm_buf_json_str(&b, title, strlen(title));
    crm_buf_printf(&b, ",\"status\":%d", p->status);
    if (p->detail != NULL) {
        crm_buf_puts(&b, ",\"detail\":");
        crm_buf_json_str(&b, p->detail, strlen(p->detail));
    }
    crm_buf_puts(&b, ",\"instance\":");
    crm_buf_json_str(&b, path, strlen(path));
    crm_buf_puts(&b, ",\"request_id\":");
    crm_buf_json_str(&b, id, strlen(id));
    if (p->n_errors > 0) {
        crm_buf_puts(&b, ",\"errors\":[");
        for (size_t i = 0; i < p->n_errors; i++) {
            const char *f = p->errors[i].field ? p->errors[i].field : "";
            const char *m = p->errors[i].message ? p->errors[i].message : "";
            crm_buf_puts(&b, i ? ",{\"field\":" : "{\"field\":");
            crm_buf_json_str(&b, f, strlen(f));
            crm_buf_puts(&b, ",\"message\":");
            crm_buf_json_str(&b, m, strlen(m));
            crm_buf_putc(&b, '}');
        }
        crm_buf_putc(&b, ']');
    }
    if (p->extra != NULL) {
        crm_buf_putc(&b, ',');
        crm_buf_puts(&b, p->extra);
    }
    crm_buf_putc(&b, '}');

    if (p->status >= 500)
        crm_log_error("answered %d: %s", p->status, p->detail ? p->detail : title);
    int status =
        crm_res_send(r, p->status, "application/problem+json", b.data, b.len);
    crm_buf_free(&b);
    return status;
}

int crm_problem(crm_req *r, int status, const char *detail)
{
    crm_problem_t p = { .status = status, .detail = detail };
    return crm_problem_send(r, &p);
}
