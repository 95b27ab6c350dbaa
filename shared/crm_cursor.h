/*
 * crm_cursor.h - opaque keyset-pagination cursors. A cursor names the
 * sort it belongs to, the last row's sort value and its id, base64url
 * encoded. Values are only ever bound as SQL parameters, so a forged
 * cursor can at most move the page; a malformed one is CRM_INVALID (400).
 */
#ifndef CRM_CURSOR_H
#define CRM_CURSOR_H

#include "crm_arena.h"

#define CRM_CURSOR_MAX 1024 /* encoded length accepted */

/*
 * Set the signing key (copied). Every worker and pod of a service must use
 * the same key, or cursors break across them. Before any call, a fixed
 * built-in key is used (tests).
 */
void crm_cursor_set_key(const void *key, size_t len);

/* Encode (sort, value, id) into the arena. value may be "" but not NULL. */
char *crm_cursor_encode(crm_arena *a, const char *sort, const char *value, int64_t id);

/*
 * Decode cursor. CRM_OK with *sort, *value (arena) and *id > 0, or
 * CRM_INVALID for anything that is not a cursor we made.
 */
int crm_cursor_decode(crm_arena *a, const char *cursor, const char **sort, const char **value,
                      int64_t *id);

#endif
