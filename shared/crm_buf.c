/*
 * crm_buf.c - growable, capped byte buffer.
 */
#include "crm_buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void crm_buf_init(crm_buf *b, size_t cap)
{
    b->data = NULL;
    b->len = 0;
    b->size = 0;
    b->cap = cap;
}

void crm_buf_free(crm_buf *b)
{
    free(b->data);
    crm_buf_init(b, b->cap);
}

void crm_buf_reset(crm_buf *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

/* Make room for n more bytes plus the terminating NUL. */
static int reserve(crm_buf *b, size_t n)
{
    size_t need = b->len + n + 1;

    if (need < n || (b->cap != 0 && b->len + n > b->cap))
        return CRM_TOOBIG;
    if (need <= b->size)
        return CRM_OK;
    size_t size = b->size ? b->size : 256;
    while (size < need)
        size *= 2;
    b->data = crm_xrealloc(b->data, size);
    b->size = size;
    return CRM_OK;
}

int crm_buf_append(crm_buf *b, const void *p, size_t n)
{
    if (reserve(b, n) != CRM_OK)
        return CRM_TOOBIG;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return CRM_OK;
}

int crm_buf_puts(crm_buf *b, const char *s)
{
    return crm_buf_append(b, s, strlen(s));
}

int crm_buf_putc(crm_buf *b, char c)
{
    return crm_buf_append(b, &c, 1);
}

int crm_buf_vprintf(crm_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    char small[256];

    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof(small), fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return CRM_ERR;
    if ((size_t)n < sizeof(small))
        return crm_buf_append(b, small, (size_t)n);
    if (reserve(b, (size_t)n) != CRM_OK)
        return CRM_TOOBIG;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return CRM_OK;
}

int crm_buf_printf(crm_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = crm_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int crm_buf_json_str(crm_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = b->len;

    if (crm_buf_putc(b, '"') != CRM_OK)
        return CRM_TOOBIG;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[7];
        const char *out = NULL;
        size_t outn = 2;

        switch (c) {
        case '"':
            out = "\\\"";
            break;
        case '\\':
            out = "\\\\";
            break;
        case '\n':
            out = "\\n";
            break;
        case '\r':
            out = "\\r";
            break;
        case '\t':
            out = "\\t";
            break;
        case '\b':
            out = "\\b";
            break;
        case '\f':
            out = "\\f";
            break;
        default:
            if (c < 0x20) {
                esc[0] = '\\';
                esc[1] = 'u';
                esc[2] = '0';
                esc[3] = '0';
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                out = esc;
                outn = 6;
            }
        }
        int rc = out ? crm_buf_append(b, out, outn) : crm_buf_putc(b, (char)c);
        if (rc != CRM_OK) {
            b->len = start;
            b->data[start] = '\0';
            return CRM_TOOBIG;
        }
    }
    if (crm_buf_putc(b, '"') != CRM_OK) {
        b->len = start;
        b->data[start] = '\0';
        return CRM_TOOBIG;
    }
    return CRM_OK;
}
