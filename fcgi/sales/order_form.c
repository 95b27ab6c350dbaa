/*
 * order_form.c - an order's lines as the order form sends them
 * (order_form_lines in sales.h): rows of flat fields become the JSON
 * body's "lines" array, so one validation (orders.c) serves both, and its
 * errors name the form's own fields.
 */
#include "sales.h"

#include <string.h>

#define LINES_PREFIX "lines["

/* name is "lines[N].<member>": *row = N, *member; else 0. */
static int line_field(const char *name, size_t *row, const char **member)
{
    const char *p = name + sizeof(LINES_PREFIX) - 1;
    size_t n = 0;

    if (strncmp(name, LINES_PREFIX, sizeof(LINES_PREFIX) - 1) != 0)
        return 0;
    /* Plain decimal: "lines[01]" is not row 1, so no two names mean one field. */
    if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] != ']'))
        return 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (size_t)(*p - '0');
        if (n >= ORDER_LINES_MAX)
            return 0;
    }
    if (p[0] != ']' || p[1] != '.' || p[2] == '\0')
        return 0;
    *row = n;
    *member = p + 2;
    return 1;
}

void order_form_lines(crm_arena *a, crm_fields *fs, const size_t **rows)
{
    size_t members[ORDER_LINES_MAX] = { 0 }; /* fields per row */
    int filled[ORDER_LINES_MAX] = { 0 };     /* a row with a non-empty field */
    size_t row, n_lines = 0, n_items = 0, first = fs->n;
    const char *member;

    *rows = NULL;
    if (crm_fields_get(fs, "lines") != NULL)
        return;
    for (size_t i = 0; i < fs->n; i++) {
        if (!line_field(fs->items[i].name, &row, &member))
            continue;
        if (first == fs->n)
            first = i;
        members[row]++;
        if (fs->items[i].type != CRM_FIELD_STRING || fs->items[i].len > 0)
            filled[row] = 1;
    }
    if (first == fs->n)
        return;
    for (row = 0; row < ORDER_LINES_MAX; row++)
        n_lines += filled[row] != 0;

    /* One object per filled row, its members in the order they came. */
    crm_field *lines = crm_arena_calloc(a, sizeof(crm_field) * (n_lines > 0 ? n_lines : 1));
    size_t *line_rows = crm_arena_calloc(a, sizeof(size_t) * (n_lines > 0 ? n_lines : 1));
    size_t k = 0;
    for (row = 0; row < ORDER_LINES_MAX; row++) {
        if (!filled[row])
            continue;
        crm_field *items = crm_arena_calloc(a, sizeof(crm_field) * members[row]);
        size_t m = 0;
        for (size_t i = 0; i < fs->n; i++) {
            size_t r;
            if (!line_field(fs->items[i].name, &r, &member) || r != row)
                continue;
            items[m] = fs->items[i];
            items[m++].name = member;
        }
        lines[k].type = CRM_FIELD_OBJECT;
        lines[k].items = items;
        lines[k].n = m;
        line_rows[k++] = row;
    }

    /* The other fields as they were, with "lines" where the first row began. */
    crm_field *out = crm_arena_calloc(a, sizeof(crm_field) * fs->n);
    for (size_t i = 0; i < fs->n; i++) {
        if (i == first) {
            out[n_items].name = "lines";
            out[n_items].type = CRM_FIELD_ARRAY;
            out[n_items].items = lines;
            out[n_items++].n = n_lines;
        }
        if (!line_field(fs->items[i].name, &row, &member))
            out[n_items++] = fs->items[i];
    }
    fs->items = out;
    fs->n = n_items;
    *rows = line_rows;
}
