/*
 * crm_body.c - body by content type into the one field view.
 */
#include "crm_body.h"

#include "crm_api.h"
#include "crm_auth.h"
#include "crm_form.h"
#include "crm_json.h"
#include "crm_problem.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

enum { BODY_JSON, BODY_FORM, BODY_OTHER };

/* Media type without parameters, case-insensitive; JSON may say charset=utf-8 only. */
static int body_kind(const char *ct)
{
    size_t n;

    if (ct == NULL)
        return BODY_OTHER;
    while (*ct == ' ')
        ct++;
    n = strcspn(ct, ";");
    while (n > 0 && ct[n - 1] == ' ')
        n--;
    if (n == 16 && strncasecmp(ct, "application/json", n) == 0) {
        const char *params = ct + strcspn(ct, ";");
        while (*params == ';') {
            params++;
            while (*params == ' ')
                params++;
            size_t pl = strcspn(params, ";");
            if (pl >= 8 && strncasecmp(params, "charset=", 8) == 0) {
                const char *v = params + 8;
                size_t vl = pl - 8;
                while (vl > 0 && v[vl - 1] == ' ')
                    vl--;
                if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
                    v++;
                    vl -= 2;
                }
                if (!(vl == 5 && strncasecmp(v, "utf-8", 5) == 0))
                    return BODY_OTHER;
            }
            params += pl;
        }
        return BODY_JSON;
    }
    if (n == 33 && strncasecmp(ct, "application/x-www-form-urlencoded", n) == 0)
        return BODY_FORM;
    return BODY_OTHER;
}

/* A form's control fields - the CSRF token (crm_auth.h), _method,
   _if_match and _next (crm_body_form_control) - belong to the transport,
   not to the resource: handlers never see them, so they are never
   unknown fields. */
static int is_control(const char *name)
{
    return strcmp(name, CRM_AUTH_CSRF_FIELD) == 0 || strcmp(name, CRM_BODY_METHOD) == 0 ||
           strcmp(name, CRM_BODY_IF_MATCH) == 0 || strcmp(name, CRM_BODY_NEXT) == 0;
}

static void drop_control_fields(crm_req *r, crm_fields *fs)
{
    size_t n = 0;
    for (size_t i = 0; i < fs->n; i++)
        n += is_control(fs->items[i].name);
    if (n == 0)
        return;
    crm_field *kept = crm_arena_alloc(crm_req_arena(r), sizeof(crm_field) * fs->n);
    n = 0;
    for (size_t i = 0; i < fs->n; i++)
        if (!is_control(fs->items[i].name))
            kept[n++] = fs->items[i];
    fs->items = kept;
    fs->n = n;
}

/* A page of this site: a path, not "//host" or "/\host", printable. */
static int local_page(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 512 || s[0] != '/' || s[1] == '/' || s[1] == '\\')
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f || s[i] == '\\')
            return 0;
    return 1;
}

int crm_body_form_control(crm_req *r)
{
    const char *body, *why = NULL;
    size_t len;
    crm_fields fs;

    if (strcmp(crm_req_method(r), "POST") != 0 ||
        body_kind(crm_req_header(r, "Content-Type")) != BODY_FORM)
        return CRM_OK;
    /* Whatever fails here fails again, with its problem, in the handler's
       crm_body_fields. */
    if (crm_req_body(r, &body, &len) != CRM_OK ||
        crm_form_parse(crm_req_arena(r), body, len, CRM_FORM_MAX_FIELDS, &fs, &why) != CRM_OK)
        return CRM_OK;

    const crm_field *m = crm_fields_get(&fs, CRM_BODY_METHOD);
    const crm_field *v = crm_fields_get(&fs, CRM_BODY_IF_MATCH);
    const crm_field *nx = crm_fields_get(&fs, CRM_BODY_NEXT);
    const char *method = NULL, *if_match = NULL, *next = NULL;
    crm_field_error err = { NULL, NULL };

    if (m != NULL) {
        const char *s = m->str;
        if (strcmp(s, "PATCH") == 0 || strcmp(s, "PUT") == 0 || strcmp(s, "DELETE") == 0)
            method = s;
        else if (strcmp(s, "POST") != 0)
            err = (crm_field_error){ CRM_BODY_METHOD, "must be PATCH, PUT, DELETE or POST" };
    }
    if (v != NULL && err.field == NULL) {
        int64_t version;
        if (crm_api_parse_int(v->str, 1, INT64_MAX, &version) == CRM_OK)
            if_match = crm_arena_printf(crm_req_arena(r), "\"%lld\"", (long long)version);
        else
            err = (crm_field_error){ CRM_BODY_IF_MATCH, "must be a version (a positive integer)" };
    }
    if (nx != NULL && err.field == NULL) {
        if (local_page(nx->str))
            next = nx->str;
        else
            err = (crm_field_error){ CRM_BODY_NEXT, "must be a path on this site" };
    }
    if (err.field != NULL) {
        crm_problem_t p = { .status = 400,
                            .type = "bad-form-control",
                            .title = "Invalid form control field",
                            .detail = err.message,
                            .errors = &err,
                            .n_errors = 1 };
        return crm_problem_send(r, &p);
    }
    crm_req_form_override(r, method, if_match, next);
    return CRM_OK;
}

int crm_body_fields(crm_req *r, crm_fields *out)
{
    const char *body, *why = NULL;
    size_t len;
    int kind = body_kind(crm_req_header(r, "Content-Type"));
    int rc;

    if (kind == BODY_OTHER)
        return crm_problem(r, 415,
                           "send application/json (UTF-8) or application/x-www-form-urlencoded");
    rc = crm_req_body(r, &body, &len);
    if (rc == CRM_TOOBIG)
        return crm_problem(r, 413, "the request body is over the size limit");
    if (rc != CRM_OK)
        return crm_problem(r, 400, "the request body could not be read");

    if (kind == BODY_JSON)
        rc = crm_json_parse(crm_req_arena(r), body, len, out, &why);
    else
        rc = crm_form_parse(crm_req_arena(r), body, len, CRM_FORM_MAX_FIELDS, out, &why);
    if (rc == CRM_OK && kind == BODY_FORM)
        drop_control_fields(r, out);
    if (rc == CRM_TOOBIG && why == NULL)
        why = "too many fields";
    if (rc != CRM_OK) {
        crm_problem_t p = { .status = 400,
                            .type = "malformed-body",
                            .title = "Malformed request body",
                            .detail = why ? why : "the request body does not parse" };
        return crm_problem_send(r, &p);
    }
    return CRM_OK;
}
