/*
 * ruleform.c - the segment pages' rule builder, read on the server so
 * that it works without JavaScript.
 *
 * A browser form sends only text, and only flat names. The segment pages
 * therefore send a rule as a "match" select and rows of field, operator
 * and value (marketing.h). This file turns those rows into the very JSON
 * object a JSON body would carry, and rule_compile then checks it: one
 * set of rules and messages for both. Its problems name places in that
 * object ("rule.all[1].value"); the rows a user left empty are not in it,
 * so rule_form_rename gives each problem back the name of the input it is
 * about ("rule.conditions[3].value"), where app.js shows it.
 */
#include "marketing.h"

#include <stdio.h>
#include <string.h>

static const char CONDITIONS[] = "rule.conditions[";
static const char MATCH[] = "rule.match";

enum { PART_FIELD, PART_OP, PART_VALUE, PART_N };
static const char *const parts[PART_N] = { "].field", "].op", "].value" };

/* "rule.conditions[12].op": row 12, PART_OP. 1 when name is one. */
static int parse_name(const char *name, size_t *row, int *part)
{
    size_t i = 0, digits = 0;
    const char *p;

    if (strncmp(name, CONDITIONS, sizeof(CONDITIONS) - 1) != 0)
        return 0;
    p = name + sizeof(CONDITIONS) - 1;
    /* canonical numbers only, so one row has one name */
    if (p[0] == '0' && p[1] >= '0' && p[1] <= '9')
        return 0;
    for (; *p >= '0' && *p <= '9' && digits < 3; p++, digits++)
        i = i * 10 + (size_t)(*p - '0');
    if (digits == 0 || i >= RULE_FORM_ROWS)
        return 0;
    for (int k = 0; k < PART_N; k++) {
        if (strcmp(p, parts[k]) == 0) {
            *row = i;
            *part = k;
            return 1;
        }
    }
    return 0;
}

int rule_form_name(const char *name)
{
    size_t row;
    int part;
    return name != NULL && (strcmp(name, MATCH) == 0 || parse_name(name, &row, &part));
}

/* s without the spaces around it, in the arena. */
static const char *trimmed(crm_arena *a, const char *s, size_t n)
{
    while (n > 0 && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    return crm_arena_strndup(a, s, n);
}

static const char *text_of(crm_arena *a, const crm_field *f)
{
    return f != NULL && f->type == CRM_FIELD_STRING ? trimmed(a, f->str, f->len) : "";
}

/* Digits with an optional '-', that fit: *out. */
static int parse_int(const char *s, int64_t *out)
{
    int neg = *s == '-';
    int64_t v = 0;
    size_t n = 0;

    for (s += neg; s[n] != '\0'; n++) {
        if (s[n] < '0' || s[n] > '9' || n >= 18)
            return 0;
        v = v * 10 + (s[n] - '0');
    }
    if (n == 0)
        return 0;
    *out = neg ? -v : v;
    return 1;
}

/* A value as JSON would have it: an integer where the field takes one
   (else the text, which rule_compile refuses in its own words). */
static void scalar(crm_field *out, const char *s, int numeric)
{
    memset(out, 0, sizeof(*out));
    out->type = CRM_FIELD_STRING;
    out->str = s;
    out->len = strlen(s);
    if (numeric && parse_int(s, &out->i))
        out->type = CRM_FIELD_INT;
}

/* "a, b,c" as an array; empty items (a trailing comma) are dropped. */
static void list(crm_arena *a, crm_field *out, const char *s, int numeric)
{
    size_t most = 1, n = 0;
    for (const char *p = s; *p != '\0'; p++)
        most += *p == ',';
    crm_field *items = crm_arena_calloc(a, sizeof(*items) * most);
    while (*s != '\0') {
        const char *end = strchr(s, ',');
        size_t len = end != NULL ? (size_t)(end - s) : strlen(s);
        const char *item = trimmed(a, s, len);
        if (*item != '\0')
            scalar(&items[n++], item, numeric);
        s += len + (end != NULL);
    }
    memset(out, 0, sizeof(*out));
    out->type = CRM_FIELD_ARRAY;
    out->items = items;
    out->n = n;
}

static void string_member(crm_field *m, const char *name, const char *s)
{
    memset(m, 0, sizeof(*m));
    m->name = name;
    m->type = CRM_FIELD_STRING;
    m->str = s;
    m->len = strlen(s);
}

/* One row as {"field":..., "op":..., "value":...}; a member the row left
   empty is absent, and rule_compile says it is needed. */
static void condition(crm_arena *a, const char *field, const char *op, const char *value,
                      crm_field *out)
{
    crm_field *m = crm_arena_calloc(a, sizeof(*m) * 3);
    size_t n = 0;
    /* status and tag take text; any other known field an integer */
    int numeric = strcmp(field, "status") != 0 && strcmp(field, "tag") != 0;

    string_member(&m[n++], "field", field);
    if (*op != '\0')
        string_member(&m[n++], "op", op);
    if (*value != '\0') {
        if (strcmp(op, "in") == 0 || strcmp(op, "not_in") == 0)
            list(a, &m[n], value, numeric);
        else
            scalar(&m[n], value, numeric);
        m[n++].name = "value";
    }
    memset(out, 0, sizeof(*out));
    out->type = CRM_FIELD_OBJECT;
    out->items = m;
    out->n = n;
}

int rule_form_read(crm_arena *a, const crm_fields *fs, crm_valid *v, crm_field *rule,
                   rule_form_map *map)
{
    const crm_field *rows[RULE_FORM_ROWS][PART_N];
    const crm_field *match = NULL;
    const char *group = "all";
    int seen = 0;

    if (!fs->form)
        return 0;
    memset(rows, 0, sizeof(rows));
    for (size_t i = 0; i < fs->n; i++) {
        size_t row;
        int part;
        if (strcmp(fs->items[i].name, MATCH) == 0) {
            match = &fs->items[i];
            seen = 1;
        } else if (parse_name(fs->items[i].name, &row, &part)) {
            rows[row][part] = &fs->items[i];
            seen = 1;
        }
    }
    if (!seen)
        return 0;

    const char *m = text_of(a, match);
    if (strcmp(m, "any") == 0)
        group = "any";
    else if (*m != '\0' && strcmp(m, "all") != 0)
        crm_valid_error(v, MATCH, "must be all or any");

    crm_field *items = crm_arena_calloc(a, sizeof(*items) * RULE_FORM_ROWS);
    map->n = 0;
    for (size_t i = 0; i < RULE_FORM_ROWS; i++) {
        const char *field = text_of(a, rows[i][PART_FIELD]);
        const char *value = text_of(a, rows[i][PART_VALUE]);
        if (*field == '\0' && *value == '\0')
            continue; /* an empty row: the operator alone always has a value */
        if (*field == '\0') {
            crm_valid_error(v, crm_arena_printf(a, "%s%zu].field", CONDITIONS, i),
                            "choose the field this value is for");
            continue;
        }
        condition(a, field, text_of(a, rows[i][PART_OP]), value, &items[map->n]);
        map->rows[map->n++] = i;
    }

    crm_field *members = crm_arena_calloc(a, sizeof(*members));
    members->name = group;
    members->type = CRM_FIELD_ARRAY;
    members->items = items;
    members->n = map->n;
    memset(rule, 0, sizeof(*rule));
    rule->name = "rule";
    rule->type = CRM_FIELD_OBJECT;
    rule->items = members;
    rule->n = 1;
    return 1;
}

/* "[12]rest" -> 12 and rest. */
static const char *index_of(const char *p, size_t *i)
{
    size_t digits = 0;
    if (*p++ != '[')
        return NULL;
    for (*i = 0; *p >= '0' && *p <= '9' && digits < 4; p++, digits++)
        *i = *i * 10 + (size_t)(*p - '0');
    return digits > 0 && *p == ']' ? p + 1 : NULL;
}

static void rename_one(crm_arena *a, crm_field_error *e, const rule_form_map *map)
{
    const char *p = e->field;
    size_t k, item;

    if (p == NULL || strncmp(p, "rule.", 5) != 0 ||
        (strncmp(p + 5, "all", 3) != 0 && strncmp(p + 5, "any", 3) != 0))
        return;
    p += 8;
    if (*p == '\0') { /* the group's list: only an empty form has none */
        e->field = "rule.conditions";
        if (map->n == 0)
            e->message = "add at least one condition";
        return;
    }
    if ((p = index_of(p, &k)) == NULL || k >= map->n)
        return;
    /* one input holds all the items of an in-list: name the input */
    if (strncmp(p, ".value[", 7) == 0 && index_of(p + 6, &item) != NULL) {
        e->field = crm_arena_printf(a, "%s%zu].value", CONDITIONS, map->rows[k]);
        e->message = crm_arena_printf(a, "item %zu %s", item + 1, e->message);
        return;
    }
    e->field = crm_arena_printf(a, "%s%zu]%s", CONDITIONS, map->rows[k], p);
}

void rule_form_rename(crm_arena *a, crm_valid *v, size_t from, const rule_form_map *map)
{
    for (size_t i = from; i < v->n; i++)
        rename_one(a, &v->errors[i], map);
}
