/*
 * crm_json.c - strict JSON bodies and JSON responses.
 *
 * json-c builds the tree, but it is lax even with JSON_TOKENER_STRICT
 * (0.16 takes single quotes, NaN, "1.", "00", raw control characters,
 * and turns lone surrogates into U+FFFD), keeps the last of repeated keys
 * and saturates big integers. So before json-c sees a byte, a lexer of
 * our own checks every token against RFC 8259, measures nesting, counts
 * object keys, and later hands back the literal text of each number.
 *
 * Depth counts containers: the top-level object is depth 1, and
 * CRM_JSON_MAX_DEPTH (8) nested objects/arrays are accepted, 9 are not.
 * A crm_field is some 40 times the size of the "1," it may come from, so
 * the number of values is capped too (MAX_VALUES), whatever the body cap.
 */
#include "crm_json.h"

#include "crm_utf8.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Values (scalars and containers, not keys) in one document. */
#define MAX_VALUES 10000

enum { TOK_END, TOK_ERR, TOK_PUNCT, TOK_STRING, TOK_NUMBER, TOK_LITERAL };

typedef struct {
    const char *s;
    size_t n;
    size_t pos;
    size_t start; /* of the last token */
    const char *why;
} lexer;

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void skip_ws(lexer *lx)
{
    while (lx->pos < lx->n && is_ws(lx->s[lx->pos]))
        lx->pos++;
}

static int fail(lexer *lx, const char *why)
{
    lx->why = why;
    return TOK_ERR;
}

/* Four hex digits at s[pos..); -1 when not. */
static long hex4(const lexer *lx, size_t pos)
{
    long v = 0;

    if (lx->n - pos < 4)
        return -1;
    for (size_t i = pos; i < pos + 4; i++) {
        char c = lx->s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    return v;
}

/* At the opening quote. Bytes >= 0x80 were checked as UTF-8 already. */
static int lex_string(lexer *lx)
{
    lx->pos++;
    while (lx->pos < lx->n) {
        unsigned char c = (unsigned char)lx->s[lx->pos];

        if (c == '"') {
            lx->pos++;
            return TOK_STRING;
        }
        if (c < 0x20)
            return fail(lx, "unescaped control character in string");
        if (c != '\\') {
            lx->pos++;
            continue;
        }
        if (lx->n - lx->pos < 2)
            break;
        c = (unsigned char)lx->s[lx->pos + 1];
        if (strchr("\"\\/bfnrt", c) != NULL && c != '\0') {
            lx->pos += 2;
            continue;
        }
        if (c != 'u')
            return fail(lx, "invalid escape in string");
        long cp = hex4(lx, lx->pos + 2);
        if (cp < 0)
            return fail(lx, lx->n - lx->pos < 6 ? "unexpected end of JSON"
                                                : "invalid escape in string");
        if (cp == 0)
            return fail(lx, "string contains a NUL character");
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return fail(lx, "string contains a lone surrogate");
        lx->pos += 6;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            long lo = -1;
            if (lx->n - lx->pos >= 6 && lx->s[lx->pos] == '\\' && lx->s[lx->pos + 1] == 'u')
                lo = hex4(lx, lx->pos + 2);
            if (lo < 0xDC00 || lo > 0xDFFF)
                return fail(lx, "string contains a lone surrogate");
            lx->pos += 6;
        }
    }
    return fail(lx, "unexpected end of JSON");
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int lex_digits(lexer *lx)
{
    size_t from = lx->pos;
    while (lx->pos < lx->n && is_digit(lx->s[lx->pos]))
        lx->pos++;
    return lx->pos > from;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? and nothing glued on. */
static int lex_number(lexer *lx)
{
    if (lx->s[lx->pos] == '-')
        lx->pos++;
    if (lx->pos < lx->n && lx->s[lx->pos] == '0')
        lx->pos++;
    else if (!lex_digits(lx))
        return fail(lx, "invalid number");
    if (lx->pos < lx->n && lx->s[lx->pos] == '.') {
        lx->pos++;
        if (!lex_digits(lx))
            return fail(lx, "invalid number");
    }
    if (lx->pos < lx->n && (lx->s[lx->pos] == 'e' || lx->s[lx->pos] == 'E')) {
        lx->pos++;
        if (lx->pos < lx->n && (lx->s[lx->pos] == '+' || lx->s[lx->pos] == '-'))
            lx->pos++;
        if (!lex_digits(lx))
            return fail(lx, "invalid number");
    }
    if (lx->pos < lx->n && strchr("0123456789.eE+-", lx->s[lx->pos]) != NULL)
        return fail(lx, "invalid number");
    return TOK_NUMBER;
}

static int lex_literal(lexer *lx)
{
    static const char *const words[] = { "true", "false", "null" };

    for (size_t i = 0; i < CRM_NELEM(words); i++) {
        size_t len = strlen(words[i]);
        if (lx->n - lx->pos >= len && memcmp(lx->s + lx->pos, words[i], len) == 0) {
            lx->pos += len;
            if (lx->pos < lx->n && strchr("{}[]:, \t\r\n", lx->s[lx->pos]) == NULL)
                break;
            return TOK_LITERAL;
        }
    }
    return fail(lx, "malformed JSON");
}

static int next_token(lexer *lx)
{
    skip_ws(lx);
    lx->start = lx->pos;
    if (lx->pos >= lx->n)
        return TOK_END;

    char c = lx->s[lx->pos];
    if (c != '\0' && strchr("{}[]:,", c) != NULL) {
        lx->pos++;
        return TOK_PUNCT;
    }
    if (c == '"')
        return lex_string(lx);
    if (c == '-' || is_digit(c))
        return lex_number(lx);
    if (c >= 'a' && c <= 'z')
        return lex_literal(lx);
    return fail(lx, "malformed JSON");
}

/*
 * Check every token, the nesting and the number of values, and count the
 * object keys: the strings followed by ':'. json-c checks the grammar
 * afterwards.
 */
static int scan(const char *s, size_t n, size_t *keys, const char **why)
{
    lexer lx = { s, n, 0, 0, NULL };
    size_t depth = 0, count = 0, values = 0;
    int closed = 0; /* the top-level object has ended */

    skip_ws(&lx);
    if (lx.pos == n) {
        *why = "body is empty";
        return CRM_INVALID;
    }
    if (n - lx.pos >= 3 && memcmp(s + lx.pos, "\xEF\xBB\xBF", 3) == 0) {
        *why = "byte order mark not allowed";
        return CRM_INVALID;
    }
    if (strchr("[\"-0123456789tfn", s[lx.pos]) != NULL) {
        *why = "top level must be an object";
        return CRM_INVALID;
    }

    for (;;) {
        if (closed) {
            skip_ws(&lx);
            if (lx.pos < n) {
                *why = "trailing data after JSON";
                return CRM_INVALID;
            }
        }
        int t = next_token(&lx);
        if (t == TOK_END)
            break;
        if (t == TOK_ERR) {
            *why = lx.why;
            return CRM_INVALID;
        }
        char c = s[lx.start];
        int value = t != TOK_PUNCT || c == '{' || c == '[';
        if (t == TOK_STRING) {
            skip_ws(&lx);
            if (lx.pos < n && s[lx.pos] == ':') {
                count++;
                value = 0; /* a key */
            }
        }
        if (value && ++values > MAX_VALUES) {
            *why = "too many values";
            return CRM_TOOBIG;
        }
        if ((c == '{' || c == '[') && ++depth > CRM_JSON_MAX_DEPTH) {
            *why = "nesting too deep";
            return CRM_INVALID;
        }
        if (c == '}' || c == ']') {
            if (depth == 0) {
                *why = "malformed JSON";
                return CRM_INVALID;
            }
            closed = --depth == 0;
        }
    }
    *keys = count;
    return CRM_OK;
}

/* Keys in every object of the tree; fewer than scanned means a repeat. */
static size_t tree_keys(struct json_object *o)
{
    size_t count = 0;

    if (json_object_is_type(o, json_type_object)) {
        json_object_object_foreach(o, key, val)
        {
            (void)key;
            count += 1 + tree_keys(val);
        }
    } else if (json_object_is_type(o, json_type_array)) {
        size_t n = json_object_array_length(o);
        for (size_t i = 0; i < n; i++)
            count += tree_keys(json_object_array_get_idx(o, i));
    }
    return count;
}

/*
 * Numbers come from their literal text, never from json-c's value: only
 * an integer literal that strtoll takes whole becomes CRM_FIELD_INT.
 */
static void number_field(crm_arena *a, const char *lit, size_t len, crm_field *f)
{
    char *text = crm_arena_strndup(a, lit, len);
    char *end;

    if (strpbrk(text, ".eE") == NULL) {
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (errno == 0 && *end == '\0') {
            f->type = CRM_FIELD_INT;
            f->i = v;
            f->d = (double)v;
            return;
        }
    }
    f->type = CRM_FIELD_NUMBER;
    f->d = strtod(text, NULL); /* +-HUGE_VAL or 0 when out of range */
    f->str = text;
    f->len = len;
}

static int convert(crm_arena *a, struct json_object *o, lexer *nums, crm_field *f)
{
    switch (json_object_get_type(o)) {
    case json_type_null:
        f->type = CRM_FIELD_NULL;
        return CRM_OK;
    case json_type_boolean:
        f->type = CRM_FIELD_BOOL;
        f->b = json_object_get_boolean(o) ? 1 : 0;
        return CRM_OK;
    case json_type_int:
    case json_type_double: {
        int t;
        while ((t = next_token(nums)) != TOK_NUMBER)
            if (t == TOK_END || t == TOK_ERR)
                return CRM_ERR;
        number_field(a, nums->s + nums->start, nums->pos - nums->start, f);
        return CRM_OK;
    }
    case json_type_string: {
        const char *str = json_object_get_string(o);
        size_t len = (size_t)json_object_get_string_len(o);
        /* The lexer already refused both; json-c must agree. */
        if (strlen(str) != len || !crm_utf8_valid(str, len))
            return CRM_ERR;
        f->type = CRM_FIELD_STRING;
        f->str = crm_arena_strndup(a, str, len);
        f->len = len;
        return CRM_OK;
    }
    case json_type_array: {
        size_t n = json_object_array_length(o);
        crm_field *items = n > 0 ? crm_arena_calloc(a, n * sizeof(*items)) : NULL;
        for (size_t i = 0; i < n; i++)
            if (convert(a, json_object_array_get_idx(o, i), nums, &items[i]) != CRM_OK)
                return CRM_ERR;
        f->type = CRM_FIELD_ARRAY;
        f->items = items;
        f->n = n;
        return CRM_OK;
    }
    case json_type_object: {
        size_t n = (size_t)json_object_object_length(o), i = 0;
        crm_field *items = n > 0 ? crm_arena_calloc(a, n * sizeof(*items)) : NULL;
        json_object_object_foreach(o, key, val)
        {
            if (!crm_utf8_valid(key, strlen(key)))
                return CRM_ERR;
            items[i].name = crm_arena_strdup(a, key);
            if (convert(a, val, nums, &items[i]) != CRM_OK)
                return CRM_ERR;
            i++;
        }
        f->type = CRM_FIELD_OBJECT;
        f->items = items;
        f->n = n;
        return CRM_OK;
    }
    }
    return CRM_ERR;
}

/*
 * Besides CRM_INVALID, fails with CRM_TOOBIG (and *why) past MAX_VALUES
 * values or INT_MAX bytes. why may be NULL.
 */
int crm_json_parse(crm_arena *a, const char *s, size_t n, crm_fields *out, const char **why)
{
    struct json_tokener *tok = NULL;
    struct json_object *root = NULL;
    const char *reason = "malformed JSON";
    enum json_tokener_error err;
    lexer nums = { s, n, 0, 0, NULL };
    crm_field top = { 0 };
    size_t keys = 0;
    int rc = CRM_INVALID;

    if (n > (size_t)INT_MAX) { /* json-c takes an int length */
        reason = "body too large";
        rc = CRM_TOOBIG;
        goto out;
    }
    if (!crm_utf8_valid(s, n)) {
        reason = memchr(s, '\0', n) != NULL ? "NUL byte not allowed" : "invalid UTF-8";
        goto out;
    }
    rc = scan(s, n, &keys, &reason);
    if (rc != CRM_OK)
        goto out;
    rc = CRM_INVALID;

    /* json-c counts the scalars inside the deepest container as a level. */
    tok = json_tokener_new_ex(CRM_JSON_MAX_DEPTH + 1);
    if (tok == NULL)
        crm_oom();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    root = json_tokener_parse_ex(tok, s, (int)n);
    err = json_tokener_get_error(tok);
    if (root == NULL || err != json_tokener_success) {
        if (err == json_tokener_continue)
            reason = "unexpected end of JSON";
        else if (err == json_tokener_error_depth)
            reason = "nesting too deep";
        goto out;
    }
    for (size_t i = json_tokener_get_parse_end(tok); i < n; i++) {
        if (!is_ws(s[i])) {
            reason = "trailing data after JSON";
            goto out;
        }
    }
    if (!json_object_is_type(root, json_type_object)) {
        reason = "top level must be an object";
        goto out;
    }
    if (tree_keys(root) != keys) {
        reason = "duplicate key";
        goto out;
    }

    if (convert(a, root, &nums, &top) != CRM_OK)
        goto out;
    out->form = 0;
    out->items = top.items;
    out->n = top.n;
    rc = CRM_OK;
out:
    json_object_put(root);
    if (tok != NULL)
        json_tokener_free(tok);
    if (rc != CRM_OK && why != NULL)
        *why = reason;
    return rc;
}

int crm_json_send(crm_req *r, int status, struct json_object *obj)
{
    size_t len = 0;
    const char *body = json_object_to_json_string_length(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);

    if (body == NULL)
        crm_oom();
    crm_res_send(r, status, "application/json; charset=utf-8", body, len);
    json_object_put(obj);
    return status;
}

struct json_object *crm_json_str(const char *s)
{
    struct json_object *o = json_object_new_string(s);
    if (o == NULL)
        crm_oom();
    return o;
}

struct json_object *crm_json_strn(const char *s, size_t n)
{
    if (n > (size_t)INT_MAX)
        crm_oom(); /* json-c cannot hold it; nothing we build is this big */
    struct json_object *o = json_object_new_string_len(s, (int)n);
    if (o == NULL)
        crm_oom();
    return o;
}
