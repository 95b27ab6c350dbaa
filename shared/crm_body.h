/*
 * crm_body.h - read a request body and turn it into fields, whatever its
 * content type. One call per handler that takes a body.
 */
#ifndef CRM_BODY_H
#define CRM_BODY_H

#include "crm_field.h"
#include "crm_req.h"

#define CRM_FORM_MAX_FIELDS 64

/* A browser form's control fields (crm_body_form_control). */
#define CRM_BODY_METHOD   "_method"   /* PATCH, PUT or DELETE: what the POST stands for */
#define CRM_BODY_IF_MATCH "_if_match" /* a version: the If-Match the form cannot send */
#define CRM_BODY_NEXT     "_next"     /* a path here: where a success goes (303) */

/*
 * Read r's body and parse it by Content-Type: application/json (charset
 * utf-8 or none) or application/x-www-form-urlencoded. Returns CRM_OK
 * with *out filled, or sends a problem and returns its status: 413 over
 * the body cap, 415 for any other or missing type, 400 for a body that
 * does not parse (crm_json_parse / crm_form_parse rules). A form's
 * control fields (csrf_token of crm_auth.h, and the three above) are left
 * out of *out.
 */
int crm_body_fields(crm_req *r, crm_fields *out);
/*
 * The router's first look at a form POST: its _method, _if_match and
 * _next fields become the request's method, If-Match and page to go on
 * to (crm_req_form_override). CRM_OK (also for anything that is not a
 * form POST), or the status of the 400 sent for a bad control field.
 */
int crm_body_form_control(crm_req *r);

#endif
