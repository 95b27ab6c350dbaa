/*
 * crm_body.h - read a request body and turn it into fields, whatever its
 * content type. One call per handler that takes a body.
 */
#ifndef CRM_BODY_H
#define CRM_BODY_H

#include "crm_field.h"
#include "crm_req.h"

#define CRM_FORM_MAX_FIELDS 64

/*
 * Read r's body and parse it by Content-Type: application/json (charset
 * utf-8 or none) or application/x-www-form-urlencoded. Returns CRM_OK
 * with *out filled, or sends a problem and returns its status: 413 over
 * the body cap, 415 for any other or missing type, 400 for a body that
 * does not parse (crm_json_parse / crm_form_parse rules). A form's
 * csrf_token field (crm_auth.h) is left out of *out.
 */
int crm_body_fields(crm_req *r, crm_fields *out);

#endif
