/*
 * crm_router.h - one static route table per service. The router matches
 * method and path, captures {name} segments, answers 404 and 405 (with
 * Allow) itself and checks the route's roles (crm_auth.h) before calling
 * the handler.
 */
#ifndef CRM_ROUTER_H
#define CRM_ROUTER_H

#include "crm_req.h"

/* Handlers return the HTTP status they sent. */
typedef int (*crm_handler)(crm_req *r);

/* Roles, a bit each; a route's `roles` is the set allowed. */
enum {
    CRM_ROLE_ADMIN = 1u << 0,
    CRM_ROLE_SALES = 1u << 1,
    CRM_ROLE_MARKETING = 1u << 2,
    CRM_ROLE_VIEWER = 1u << 3,
    CRM_ROLE_SERVICE = 1u << 4, /* signed service-to-service calls */
    CRM_ROLE_PUBLIC = 1u << 5,  /* no identity needed */
};
#define CRM_ROLES_ALL   (CRM_ROLE_ADMIN | CRM_ROLE_SALES | CRM_ROLE_MARKETING | CRM_ROLE_VIEWER)
#define CRM_ROLES_WRITE (CRM_ROLE_ADMIN | CRM_ROLE_SALES)

typedef struct {
    const char *method;  /* "GET", "POST", ... */
    const char *pattern; /* "/api/v1/customers/{id}/notes"; {x} matches one
                            segment of digits only */
    crm_handler handler;
    unsigned roles;
    const char *name; /* metrics label, e.g. "customers.get" */
} crm_route;

/*
 * Find the route for r, store its index (crm_req_set_route) and path
 * parameters, check its roles (crm_auth_route: 401/403) and call its
 * handler. Unknown path: 404. Known path, other
 * method: 405 with Allow (GET routes also answer HEAD, and Allow says so).
 * Returns the status sent.
 */
int crm_router_dispatch(const crm_route *table, size_t n, crm_req *r);

/*
 * Match one pattern against a path. Returns 1 and fills params (up to
 * max, name/value pairs in the arena) when it matches, 0 otherwise.
 */
int crm_router_match(crm_arena *a, const char *pattern, const char *path, const char **names,
                     const char **values, size_t max, size_t *n);

#endif
