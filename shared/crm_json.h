/*
 * crm_json.h - strict JSON input (json-c underneath) and JSON output.
 */
#ifndef CRM_JSON_H
#define CRM_JSON_H

#include "crm_arena.h"
#include "crm_field.h"
#include "crm_req.h"

struct json_object;

#define CRM_JSON_MAX_DEPTH 8

/*
 * Parse s[0..n) as one JSON object into fields in the arena. Rejects with
 * CRM_INVALID (and *why in words fit for a client): invalid UTF-8,
 * malformed JSON, trailing garbage, a top level that is not an object,
 * nesting deeper than CRM_JSON_MAX_DEPTH, a key repeated in any object,
 * a string holding a NUL (\u0000) or a lone surrogate. More than 10000
 * values is CRM_TOOBIG. *why may be NULL on failure.
 */
int crm_json_parse(crm_arena *a, const char *s, size_t n, crm_fields *out, const char **why);

/*
 * Serialise obj and send it with status and application/json. Takes
 * ownership of obj (released before return). Returns status.
 */
int crm_json_send(crm_req *r, int status, struct json_object *obj);

/* New json-c strings; never NULL. */
struct json_object *crm_json_str(const char *s);
struct json_object *crm_json_strn(const char *s, size_t n);

#endif
