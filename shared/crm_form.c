/*
 * crm_form.c - application/x-www-form-urlencoded bodies and query strings.
 * Every decoded name and value is checked to be UTF-8 without NUL bytes,
 * so nothing downstream sees bytes a JSON body could not have carried.
 */
#include "crm_form.h"

#include "crm_utf8.h"

#include <stdlib.h>
#include <string.h>

static int hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* crm_form_decode() that also says why it failed. */
static int decode(crm_arena *a, const char *s, size_t n, int plus_is_space, char **out,
                  size_t *outlen, const char **why)
{
    char *buf = crm_arena_alloc(a, n + 1);
    size_t len = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '%') {
            int hi = n - i > 2 ? hex_digit((unsigned char)s[i + 1]) : -1;
            int lo = n - i > 2 ? hex_digit((unsigned char)s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                *why = "bad percent-encoding";
                return CRM_INVALID;
            }
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        if (c == '\0') {
            *why = "NUL byte not allowed";
            return CRM_INVALID;
        }
        buf[len++] = (char)c;
    }
    buf[len] = '\0';
    if (!crm_utf8_valid(buf, len)) {
        *why = "invalid UTF-8";
        return CRM_INVALID;
    }
    *out = buf;
    *outlen = len;
    return CRM_OK;
}

int crm_form_decode(crm_arena *a, const char *s, size_t n, int plus_is_space, char **out,
                    size_t *outlen)
{
    const char *why;
    return decode(a, s, n, plus_is_space, out, outlen, &why);
}

static int cmp_names(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* Length of the pair starting at s[0..n): up to the next '&' or the end. */
static size_t pair_len(const char *s, size_t n)
{
    const char *amp = memchr(s, '&', n);
    return amp != NULL ? (size_t)(amp - s) : n;
}

/* why may be NULL when the caller does not need the reason. */
int crm_form_parse(crm_arena *a, const char *s, size_t n, size_t max_fields, crm_fields *out,
                   const char **why)
{
    const char *reason = NULL;
    crm_field *items = NULL;
    const char **names = NULL;
    size_t count = 0;
    int rc = CRM_INVALID;

    /* Count first so an oversize body costs one pass and no decoding. */
    for (size_t i = 0; i < n;) {
        size_t len = pair_len(s + i, n - i);
        if (len > 0 && ++count > max_fields) {
            reason = "too many fields";
            rc = CRM_TOOBIG;
            goto out;
        }
        i += len + 1;
    }
    if (count > 0) {
        items = crm_arena_calloc(a, count * sizeof(*items));
        names = crm_arena_alloc(a, count * sizeof(*names));
    }

    size_t k = 0;
    for (size_t i = 0; i < n;) {
        size_t len = pair_len(s + i, n - i);
        const char *pair = s + i;
        i += len + 1;
        if (len == 0)
            continue;

        const char *eq = memchr(pair, '=', len);
        size_t name_len = eq != NULL ? (size_t)(eq - pair) : len;
        const char *val = eq != NULL ? eq + 1 : pair + len;
        size_t val_len = len - name_len - (eq != NULL ? 1 : 0);
        char *name, *value;
        size_t dlen;

        if (name_len == 0) {
            reason = "empty field name";
            goto out;
        }
        if (decode(a, pair, name_len, 1, &name, &dlen, &reason) != CRM_OK)
            goto out;
        if (decode(a, val, val_len, 1, &value, &dlen, &reason) != CRM_OK)
            goto out;
        items[k].name = name;
        items[k].type = CRM_FIELD_STRING;
        items[k].str = value;
        items[k].len = dlen;
        names[k] = name;
        k++;
    }

    if (count > 1) {
        qsort(names, count, sizeof(*names), cmp_names);
        for (size_t j = 1; j < count; j++) {
            if (strcmp(names[j - 1], names[j]) == 0) {
                reason = "repeated field";
                goto out;
            }
        }
    }

    out->form = 1;
    out->items = items;
    out->n = count;
    rc = CRM_OK;
out:
    if (rc != CRM_OK && why != NULL)
        *why = reason;
    return rc;
}
