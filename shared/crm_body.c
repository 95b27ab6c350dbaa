/*
 * crm_body.c - body by content type into the one field view.
 */
#include "crm_body.h"

#include "crm_auth.h"
#include "crm_form.h"
#include "crm_json.h"
#include "crm_problem.h"

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

/* A form's CSRF token is the router's (crm_auth.h), not a field of the
   resource: handlers never see it, so it is never an unknown field. */
static void drop_csrf_field(crm_req *r, crm_fields *fs)
{
    if (crm_fields_get(fs, CRM_AUTH_CSRF_FIELD) == NULL)
        return;
    crm_field *kept = crm_arena_alloc(crm_req_arena(r), sizeof(crm_field) * fs->n);
    size_t n = 0;
    for (size_t i = 0; i < fs->n; i++)
        if (strcmp(fs->items[i].name, CRM_AUTH_CSRF_FIELD) != 0)
            kept[n++] = fs->items[i];
    fs->items = kept;
    fs->n = n;
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
        drop_csrf_field(r, out);
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
