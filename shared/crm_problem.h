/*
 * crm_problem.h - the one writer of error responses: RFC 9457 problem
 * details, application/problem+json. Every error any service sends leaves
 * through crm_problem_send().
 *
 * Body: {"type","title","status","detail","instance","request_id",
 *        "errors":[{"field","message"}]} plus optional extra members.
 * No SQL text, errno or file name ever goes into a problem.
 */
#ifndef CRM_PROBLEM_H
#define CRM_PROBLEM_H

#include "crm_req.h"

typedef struct {
    const char *field;
    const char *message;
} crm_field_error;

typedef struct {
    int status;
    const char *type;   /* slug, sent as "/problems/<slug>"; NULL:
                           "about:blank" */
    const char *title;  /* NULL: the status's reason phrase */
    const char *detail; /* NULL: omitted */
    const crm_field_error *errors;
    size_t n_errors;
    const char *extra; /* NULL, or JSON members built by code, e.g.
                          "\"allowed\":[\"confirm\"]" */
} crm_problem_t;

/* Send p. Returns p->status. */
int crm_problem_send(crm_req *r, const crm_problem_t *p);

/* Shorthand: status with a detail and the default type for the status. */
int crm_problem(crm_req *r, int status, const char *detail);

/* Default type slug for a status ("not-found" for 404 ...). */
const char *crm_problem_slug(int status);

#endif
