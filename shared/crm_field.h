/*
 * crm_field.h - the one view of a request body that validators read,
 * whether it came as JSON or as an HTML form. Form values are always
 * strings (`form` is set) and validators convert them; JSON values keep
 * their JSON type. All memory belongs to the request arena.
 */
#ifndef CRM_FIELD_H
#define CRM_FIELD_H

#include "crm.h"

typedef enum {
    CRM_FIELD_NULL,
    CRM_FIELD_BOOL,
    CRM_FIELD_INT,    /* JSON integer that fits int64 */
    CRM_FIELD_NUMBER, /* JSON number that is not an int64 (fraction,
                         exponent, or out of range): `d`, `str` = text */
    CRM_FIELD_STRING, /* `str`/`len`: valid UTF-8, no NUL byte */
    CRM_FIELD_ARRAY,  /* `items`/`n` (item names are NULL) */
    CRM_FIELD_OBJECT, /* `items`/`n` (members, in document order) */
} crm_field_type;

typedef struct crm_field {
    const char *name;
    crm_field_type type;
    const char *str;
    size_t len;
    int64_t i;
    double d;
    int b;
    const struct crm_field *items;
    size_t n;
} crm_field;

typedef struct {
    int form;               /* parsed from x-www-form-urlencoded */
    const crm_field *items; /* top-level members, document order */
    size_t n;
} crm_fields;

/* The member called name, or NULL. */
const crm_field *crm_fields_get(const crm_fields *fs, const char *name);

#endif
