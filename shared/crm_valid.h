/*
 * crm_valid.h - validators over a crm_fields view that collect one error
 * per field, so a client learns everything wrong with a body at once.
 *
 * Getters share one contract:
 *   CRM_OK        present and valid; *out set (NULL when the value is
 *                 JSON null or an empty form value and null is allowed)
 *   CRM_NOTFOUND  absent and not required; *out untouched, no error
 *   CRM_INVALID   error recorded for the field; *out untouched
 * "required" means absent or null is an error. Lengths count code points.
 * Form fields arrive as strings; getters convert them (an empty form
 * value reads as null).
 */
#ifndef CRM_VALID_H
#define CRM_VALID_H

#include "crm_arena.h"
#include "crm_field.h"
#include "crm_problem.h"

#define CRM_VALID_MAX_ERRORS 32

typedef struct {
    crm_arena *a;
    const crm_fields *fs;
    size_t n;
    crm_field_error errors[CRM_VALID_MAX_ERRORS];
} crm_valid;

void crm_valid_init(crm_valid *v, crm_arena *a, const crm_fields *fs);
/* Record an error (message copied by pointer: use literals or arena). */
void crm_valid_error(crm_valid *v, const char *field, const char *message);
/* 1 when no error has been recorded. */
int crm_valid_ok(const crm_valid *v);

/*
 * Record an error for every top-level field whose name is not in allowed
 * (NULL-terminated). Returns how many were found. Callers answer 400 for
 * these (no mass assignment) before looking at values.
 */
size_t crm_valid_unknown(crm_valid *v, const char *const *allowed);

int crm_valid_string(crm_valid *v, const char *name, int required, size_t min, size_t max,
                     const char **out);
/* Trimmed, lower-cased, at most 254 characters, one '@', a dotted domain. */
int crm_valid_email(crm_valid *v, const char *name, int required, const char **out);
/* One of allowed (NULL-terminated). */
int crm_valid_enum(crm_valid *v, const char *name, int required, const char *const *allowed,
                   const char **out);
/* Integer in [lo, hi]; JSON integer, or a form string of digits. */
int crm_valid_int(crm_valid *v, const char *name, int required, int64_t lo, int64_t hi,
                  int64_t *out);
/* JSON true/false or form "true"/"false"/"on"/"1"/"0". */
int crm_valid_bool(crm_valid *v, const char *name, int required, int *out);
/*
 * Phone number: optional leading '+', digits with spaces, dots, dashes
 * and parentheses between them, 7 to 15 digits. *out is normalised to
 * "+digits" or "digits".
 */
int crm_valid_phone(crm_valid *v, const char *name, int required, const char **out);
/* ISO 8601 calendar date YYYY-MM-DD that exists. */
int crm_valid_date(crm_valid *v, const char *name, int required, const char **out);
/*
 * ISO 8601 date-time with seconds and a zone ("Z" or +hh:mm), optional
 * fraction up to 6 digits. *out is the UTC time as "YYYY-MM-DD
 * HH:MM:SS.ffffff" ready to bind to a DATETIME(6).
 */
int crm_valid_datetime(crm_valid *v, const char *name, int required, const char **out);
/*
 * A list of short strings: a JSON array of strings, or a form string of
 * comma-separated items. Items are trimmed, each 1..item_max code points
 * of [a-z0-9_-] after lower-casing, duplicates removed, at most max_items.
 */
int crm_valid_tags(crm_valid *v, const char *name, int required, size_t max_items, size_t item_max,
                   const char ***out, size_t *n);

/* Plain checks, usable on their own. */
int crm_valid_is_email(const char *s);
int crm_valid_is_date(const char *s);
/* An ISO 4217 code of money that can be invoiced, upper case ("EUR"). */
int crm_valid_is_currency(const char *code);

#endif
