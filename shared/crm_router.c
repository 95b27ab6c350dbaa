/*
 * crm_router.c - match a request against a service's static route table.
 * Tables are small (tens of routes), so a linear scan over segments beats
 * anything cleverer and keeps the table the single source of truth.
 */
#include "crm_router.h"

#include "crm_auth.h"
#include "crm_body.h"
#include "crm_problem.h"

#include <string.h>

#define MAX_PARAMS 4

int crm_router_match(crm_arena *a, const char *pattern, const char *path, const char **names,
                     const char **values, size_t max, size_t *n)
{
    const char *p = pattern, *s = path;
    size_t k = 0;

    while (*p != '\0') {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            const char *seg = s;
            if (close == NULL)
                return 0;
            while (*s >= '0' && *s <= '9')
                s++;
            if (s == seg || (*s != '/' && *s != '\0') || k >= max)
                return 0;
            names[k] = crm_arena_strndup(a, p + 1, (size_t)(close - p - 1));
            values[k] = crm_arena_strndup(a, seg, (size_t)(s - seg));
            k++;
            p = close + 1;
            continue;
        }
        if (*p != *s)
            return 0;
        p++;
        s++;
    }
    if (*s != '\0')
        return 0;
    *n = k;
    return 1;
}

/* GET routes also answer HEAD; NGINX drops the body. */
static int method_matches(const char *route_method, const char *method)
{
    if (strcmp(route_method, method) == 0)
        return 1;
    return strcmp(method, "HEAD") == 0 && strcmp(route_method, "GET") == 0;
}

int crm_router_dispatch(const crm_route *table, size_t n, crm_req *r)
{
    crm_arena *a = crm_req_arena(r);
    const char *method, *path = crm_req_path(r);
    const char *names[MAX_PARAMS], *values[MAX_PARAMS];
    char allow[128];
    size_t allow_len = 0;
    int path_known = 0;

    /* A browser form may stand for another method (crm_body.h). */
    int rc = crm_body_form_control(r);
    if (rc != CRM_OK)
        return rc;
    method = crm_req_method(r);

    allow[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t np = 0;
        if (!crm_router_match(a, table[i].pattern, path, names, values, MAX_PARAMS, &np))
            continue;
        path_known = 1;
        if (method_matches(table[i].method, method)) {
            for (size_t k = 0; k < np; k++)
                crm_req_set_path_param(r, names[k], values[k]);
            crm_req_set_route(r, (int)i);
            rc = crm_auth_route(r, table[i].roles);
            if (rc != CRM_OK)
                return rc;
            return table[i].handler(r);
        }
        const char *m = table[i].method;
        size_t ml = strlen(m);
        if (strstr(allow, m) == NULL && allow_len + ml + 8 < sizeof(allow)) {
            if (allow_len > 0) {
                memcpy(allow + allow_len, ", ", 2);
                allow_len += 2;
            }
            memcpy(allow + allow_len, m, ml + 1);
            allow_len += ml;
            if (strcmp(m, "GET") == 0) {
                memcpy(allow + allow_len, ", HEAD", 7);
                allow_len += 6;
            }
        }
    }
    if (!path_known)
        return crm_problem(r, 404, "no resource at this path");
    crm_res_header(r, "Allow", allow);
    return crm_problem(r, 405, "this resource does not support that method");
}
