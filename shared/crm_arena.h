/*
 * crm_arena.h - per-request memory. Everything a request allocates comes
 * from its arena and is released at once by crm_arena_reset() after the
 * response is sent. Objects the arena cannot own (json-c trees, MySQL
 * results) register a cleanup that runs at reset, last registered first.
 */
#ifndef CRM_ARENA_H
#define CRM_ARENA_H

#include "crm.h"
#include <stdarg.h>

typedef struct crm_arena crm_arena;

typedef void (*crm_cleanup_fn)(void *arg);

/* A new arena whose first block holds `block` bytes. Never NULL. */
crm_arena *crm_arena_new(size_t block);

/* Memory aligned for any type, valid until the next reset. Never NULL. */
void *crm_arena_alloc(crm_arena *a, size_t n);
void *crm_arena_calloc(crm_arena *a, size_t n);
char *crm_arena_strdup(crm_arena *a, const char *s);
char *crm_arena_strndup(crm_arena *a, const char *s, size_t n);
char *crm_arena_printf(crm_arena *a, const char *fmt, ...) CRM_PRINTF(2, 3);

/* Run fn(arg) at the next reset or free. */
void crm_arena_cleanup(crm_arena *a, crm_cleanup_fn fn, void *arg);

/* Run cleanups, keep the first block, free the rest. */
void crm_arena_reset(crm_arena *a);
void crm_arena_free(crm_arena *a);

/* Bytes handed out since the last reset (for tests and metrics). */
size_t crm_arena_used(const crm_arena *a);

#endif
