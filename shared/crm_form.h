/*
 * crm_form.h - application/x-www-form-urlencoded and query strings.
 */
#ifndef CRM_FORM_H
#define CRM_FORM_H

#include "crm_arena.h"
#include "crm_field.h"

/*
 * Percent-decode s[0..n) into the arena ('+' becomes a space when
 * plus_is_space). Fails with CRM_INVALID on a bad escape ("%4", "%zz"),
 * a decoded NUL byte, or a result that is not valid UTF-8.
 */
int crm_form_decode(crm_arena *a, const char *s, size_t n, int plus_is_space, char **out,
                    size_t *outlen);

/*
 * Parse a form body or query string into fields (all CRM_FIELD_STRING,
 * `form` set). Empty pairs ("a=1&&b=2") are skipped; a name without '='
 * has the empty value. A repeated name, an empty name, a bad escape or
 * invalid UTF-8 fails with CRM_INVALID and *why says which, in words
 * fit for a client. At most max_fields pairs (CRM_TOOBIG beyond).
 */
int crm_form_parse(crm_arena *a, const char *s, size_t n, size_t max_fields, crm_fields *out,
                   const char **why);

#endif
