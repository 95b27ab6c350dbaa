/*
 * crm_buf.h - a growable byte buffer with a hard cap. Used for response
 * bodies, log lines and anything else built piecewise. The buffer owns its
 * heap memory; crm_buf_free() releases it.
 */
#ifndef CRM_BUF_H
#define CRM_BUF_H

#include "crm.h"
#include <stdarg.h>

typedef struct {
    char *data; /* always NUL-terminated when len > 0 or after any append */
    size_t len;
    size_t size;
    size_t cap; /* appends past this fail with CRM_TOOBIG; 0 = no cap */
} crm_buf;

void crm_buf_init(crm_buf *b, size_t cap);
void crm_buf_free(crm_buf *b);
void crm_buf_reset(crm_buf *b); /* len = 0, memory kept */

/* Appends return CRM_OK or CRM_TOOBIG (buffer unchanged). */
int crm_buf_append(crm_buf *b, const void *p, size_t n);
int crm_buf_puts(crm_buf *b, const char *s);
int crm_buf_putc(crm_buf *b, char c);
int crm_buf_printf(crm_buf *b, const char *fmt, ...) CRM_PRINTF(2, 3);
int crm_buf_vprintf(crm_buf *b, const char *fmt, va_list ap);

/* Append s as a JSON string literal, quotes included. */
int crm_buf_json_str(crm_buf *b, const char *s, size_t n);

#endif
