/*
 * crm_valid.c - field validators. Each getter looks its field up once,
 * settles absent/null by the shared contract in crm_valid.h, then checks
 * the value; the first problem with a field is the one the client sees.
 *
 * Boundaries chosen here:
 *   - dates and date-times: years 1000..9999, the range MariaDB documents
 *     for DATE and DATETIME (also after converting a date-time to UTC);
 *   - e-mail: ASCII only (no internationalised addresses), see is_email;
 *   - phone: at most PHONE_MAX_INPUT bytes before normalising.
 */
#include "crm_valid.h"

#include "crm_utf8.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EMAIL_MAX        254
#define EMAIL_LOCAL_MAX  64
#define DOMAIN_LABEL_MAX 63
#define PHONE_MIN_DIGITS 7
#define PHONE_MAX_DIGITS 15
#define PHONE_MAX_INPUT  40
#define YEAR_MIN         1000
#define YEAR_MAX         9999

static const char MSG_REQUIRED[] = "is required";
static const char MSG_NOT_NULL[] = "must not be null";
static const char MSG_STRING[] = "must be a string";
static const char MSG_EMAIL[] = "must be a valid email address";
static const char MSG_BOOL[] = "must be true or false";
static const char MSG_PHONE[] = "must be a phone number of 7 to 15 digits";
static const char MSG_DATE[] = "must be a date like 2026-11-27";
static const char MSG_DATETIME[] = "must be a date-time like 2026-11-27T12:00:00Z";
static const char MSG_TAGS[] = "must be an array of strings";

void crm_valid_init(crm_valid *v, crm_arena *a, const crm_fields *fs)
{
    v->a = a;
    v->fs = fs;
    v->n = 0;
}

static int same_field(const char *x, const char *y)
{
    if (x == NULL || y == NULL)
        return x == y;
    return strcmp(x, y) == 0;
}

/* Keeps the first error of each field; past the cap, errors are dropped. */
void crm_valid_error(crm_valid *v, const char *field, const char *message)
{
    for (size_t i = 0; i < v->n; i++)
        if (same_field(v->errors[i].field, field))
            return;
    if (v->n >= CRM_VALID_MAX_ERRORS)
        return;
    v->errors[v->n].field = field;
    v->errors[v->n].message = message;
    v->n++;
}

int crm_valid_ok(const crm_valid *v)
{
    return v->n == 0;
}

static int in_list(const char *const *list, const char *s, size_t *at)
{
    for (size_t i = 0; list != NULL && list[i] != NULL; i++) {
        if (strcmp(list[i], s) == 0) {
            if (at != NULL)
                *at = i;
            return 1;
        }
    }
    return 0;
}

size_t crm_valid_unknown(crm_valid *v, const char *const *allowed)
{
    size_t found = 0;

    if (v->fs == NULL)
        return 0;
    for (size_t i = 0; i < v->fs->n; i++) {
        const char *name = v->fs->items[i].name;
        if (name != NULL && !in_list(allowed, name, NULL)) {
            crm_valid_error(v, name, "unknown field");
            found++;
        }
    }
    return found;
}

/*
 * Settle presence for a getter. CRM_OK with *f set: a value to check.
 * CRM_OK with *f NULL: an allowed null. Otherwise the getter's answer.
 */
static int lookup(crm_valid *v, const char *name, int required, const crm_field **f)
{
    const crm_field *x = crm_fields_get(v->fs, name);

    if (x == NULL) {
        if (!required)
            return CRM_NOTFOUND;
        crm_valid_error(v, name, MSG_REQUIRED);
        return CRM_INVALID;
    }
    if (x->type == CRM_FIELD_NULL || (v->fs->form && x->type == CRM_FIELD_STRING && x->len == 0)) {
        if (required) {
            crm_valid_error(v, name, x->type == CRM_FIELD_NULL ? MSG_NOT_NULL : MSG_REQUIRED);
            return CRM_INVALID;
        }
        *f = NULL;
        return CRM_OK;
    }
    *f = x;
    return CRM_OK;
}

static int invalid(crm_valid *v, const char *name, const char *message)
{
    crm_valid_error(v, name, message);
    return CRM_INVALID;
}

static const char *chars(size_t n)
{
    return n == 1 ? "character" : "characters";
}

static const char *length_message(crm_valid *v, size_t len, size_t min, size_t max)
{
    if (len < min && min == 1)
        return "must not be empty";
    if (len > max && min <= 1)
        return crm_arena_printf(v->a, "must be at most %zu %s", max, chars(max));
    if (max == SIZE_MAX)
        return crm_arena_printf(v->a, "must be at least %zu %s", min, chars(min));
    if (min == max)
        return crm_arena_printf(v->a, "must be exactly %zu %s", min, chars(min));
    return crm_arena_printf(v->a, "must be between %zu and %zu characters", min, max);
}

int crm_valid_string(crm_valid *v, const char *name, int required, size_t min, size_t max,
                     const char **out)
{
    const crm_field *f;
    int rc = lookup(v, name, required, &f);

    if (rc != CRM_OK)
        return rc;
    if (f == NULL) {
        *out = NULL;
        return CRM_OK;
    }
    if (f->type != CRM_FIELD_STRING)
        return invalid(v, name, MSG_STRING);
    size_t len = crm_utf8_len(f->str, f->len);
    if (len < min || len > max)
        return invalid(v, name, length_message(v, len, min, max));
    *out = f->str;
    return CRM_OK;
}

static int is_ascii_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static void trim(const char **s, size_t *len)
{
    while (*len > 0 && is_ascii_space(**s)) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && is_ascii_space((*s)[*len - 1]))
        (*len)--;
}

static char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_local_char(char c)
{
    return is_alpha(c) || is_digit(c) || (c != '\0' && strchr("!#$%&'*+/=?^_`{|}~.-", c) != NULL);
}

/* Labels of [A-Za-z0-9-], 1..63, no '-' at either end; an alphabetic TLD. */
static int is_domain(const char *d, size_t len)
{
    size_t labels = 0;

    if (len == 0)
        return 0;
    for (size_t i = 0; i <= len;) {
        size_t j = i, alpha = 1;
        while (j < len && d[j] != '.') {
            if (!is_alpha(d[j]) && !is_digit(d[j]) && d[j] != '-')
                return 0;
            alpha = alpha && is_alpha(d[j]);
            j++;
        }
        size_t n = j - i;
        if (n == 0 || n > DOMAIN_LABEL_MAX || d[i] == '-' || d[j - 1] == '-')
            return 0;
        labels++;
        if (j == len) /* the last label: the top-level domain */
            return labels >= 2 && alpha && n >= 2;
        i = j + 1;
    }
    return 0;
}

int crm_valid_is_email(const char *s)
{
    if (s == NULL)
        return 0;
    size_t len = strlen(s);
    const char *at = strchr(s, '@');
    if (len == 0 || len > EMAIL_MAX || at == NULL || strchr(at + 1, '@') != NULL)
        return 0;

    size_t local = (size_t)(at - s);
    if (local == 0 || local > EMAIL_LOCAL_MAX || s[0] == '.' || s[local - 1] == '.')
        return 0;
    for (size_t i = 0; i < local; i++) {
        if (!is_local_char(s[i]) || (s[i] == '.' && s[i + 1] == '.'))
            return 0;
    }
    return is_domain(at + 1, len - local - 1);
}

int crm_valid_email(crm_valid *v, const char *name, int required, const char **out)
{
    const crm_field *f;
    int rc = lookup(v, name, required, &f);

    if (rc != CRM_OK)
        return rc;
    if (f == NULL) {
        *out = NULL;
        return CRM_OK;
    }
    if (f->type != CRM_FIELD_STRING)
        return invalid(v, name, MSG_STRING);

    const char *s = f->str;
    size_t len = f->len;
    trim(&s, &len);
    if (len > EMAIL_MAX)
        return invalid(v, name, "must be at most 254 characters");
    char *email = crm_arena_strndup(v->a, s, len);
    for (size_t i = 0; i < len; i++)
        email[i] = ascii_lower(email[i]);
    if (!crm_valid_is_email(email))
        return invalid(v, name, MSG_EMAIL);
    *out = email;
    return CRM_OK;
}

static const char *one_of_message(crm_valid *v, const char *const *allowed)
{
    static const char head[] = "must be one of: ";
    size_t len = sizeof(head) - 1;

    for (size_t i = 0; allowed[i] != NULL; i++)
        len += strlen(allowed[i]) + 2;
    char *msg = crm_arena_alloc(v->a, len + 1);
    char *p = msg;
    memcpy(p, head, sizeof(head) - 1);
    p += sizeof(head) - 1;
    for (size_t i = 0; allowed[i] != NULL; i++) {
        if (i > 0) {
            memcpy(p, ", ", 2);
            p += 2;
        }
        size_t n = strlen(allowed[i]);
        memcpy(p, allowed[i], n);
        p += n;
    }
    *p = '\0';
    return msg;
}

/* *out points into allowed, not at the request's copy. */
int crm_valid_enum(crm_valid *v, const char *name, int required, const char *const *allowed,
                   const char **out)
{
    const crm_field *f;
    size_t at;
    int rc = lookup(v, name, required, &f);

    if (rc != CRM_OK)
        return rc;
    if (f == NULL) {
        *out = NULL;
        return CRM_OK;
    }
    if (f->type != CRM_FIELD_STRING || !in_list(allowed, f->str, &at))
        return invalid(v, name, one_of_message(v, allowed));
    *out = allowed[at];
    return CRM_OK;
}

/* -?[0-9]+ that fits int64, nothing else (no '+', no spaces). */
static int parse_int64(const char *s, size_t len, int64_t *out)
{
    size_t i = 0;
    int neg = 0;
    uint64_t limit, acc = 0;

    if (len > 0 && s[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i == len)
        return 0;
    limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < len; i++) {
        if (!is_digit(s[i]))
            return 0;
        unsigned d = (unsigned)(s[i] - '0');
        if (acc > (limit - d) / 10)
            return 0;
        acc = acc * 10 + d;
    }
    if (neg)
        *out = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
    else
        *out = (int64_t)acc;
    return 1;
}

/*
 * An int64 has no null to hand back, so an allowed null (JSON null or an
 * empty form value) answers CRM_NOTFOUND, like an absent field. Callers
 * that must tell the two apart look at crm_fields_get() themselves.
 */
int crm_valid_int(crm_valid *v, const char *name, int required, int64_t lo, int64_t hi,
                  int64_t *out)
{
    const crm_field *f;
    int64_t x = 0;
    int ok = 0;
    int rc = lookup(v, name, required, &f);

    if (rc != CRM_OK)
        return rc;
    if (f == NULL)
        return CRM_NOTFOUND;
    if (v->fs->form)
        ok = f->type == CRM_FIELD_STRING && parse_int64(f->str, f->len, &x);
    else if (f->type == CRM_FIELD_INT) {
        x = f->i;
        ok = 1;
    }
    if (!ok || x < lo || x > hi)
        return invalid(
            v, name,
            crm_arena_printf(v->a, "must be an integer between %" PRId64 " and %" PRId64, lo, hi));
    *out = x;
    return CRM_OK;
}

/* Like crm_valid_int, an allowed null answers CRM_NOTFOUND. */
int crm_valid_bool(crm_valid *v, const char *name, int required, int *out)
{
    static const char *const yes[] = { "true", "on", "1", NULL };
    static const char *const no[] = { "false", "0", NULL };
    const crm_field *f;
    int rc = lookup(v, name, required, &f);

    if (rc != CRM_OK)
        return rc;
    if (f == NULL)
        return CRM_NOTFOUND;
    if (!v->fs->form && f->type == CRM_FIELD_BOOL) {
        *out = f->b ? 1 : 0;
        return CRM_OK;
    }
    if (v->fs->form && f->type == CRM_FIELD_STRING) {
        if (in_list(yes, f->str, NULL)) {
            *out = 1;
            return CRM_OK;
        }
        if (in_list(no, f->str, NULL)) {
            *out = 0;
            return CRM_OK;
        }
    }
    return invalid(v, name, MSG_BOOL);
}

/*
 * Separators (space . -) sit between a digit or ')' and a digit or '(';
 * parentheses hold digits only and do not nest. Writes the digits to out
 * (room for PHONE_MAX_DIGITS + 2) as "+digits" or "digits".
 */
static int normalise_phone(const char *s, size_t len, char *out)
{
    size_t i = 0, digits = 0, o = 0;
    int open = 0;

    if (len > PHONE_MAX_INPUT)
        return 0;
    if (len > 0 && s[0] == '+') {
        out[o++] = '+';
        i = 1;
    }
    if (i == len || !(is_digit(s[i]) || s[i] == '('))
        return 0;
    if (!is_digit(s[len - 1]))
        return 0;
    for (; i < len; i++) {
        char c = s[i];
        char next = i + 1 < len ? s[i + 1] : '\0';
        char prev = s[i - (i > 0)];

        if (is_digit(c)) {
            if (++digits > PHONE_MAX_DIGITS)
                return 0;
            out[o++] = c;
        } else if (c == '(') {
            if (open || !is_digit(next))
                return 0;
            open = 1;
        } else if (c == ')') {
            if (!open || !is_digit(prev))
                return 0;
            open = 0;
        } else if (c == ' ' || c == '.' || c == '-') {
            if (open || !(is_digit(prev) || prev == ')') || !(is_digit(next) || next == '('))
                return 0;
        } else {
            return 0;
        }
    }
    out[o] = '\0';
    return !open && digits >= PHONE_MIN_DIGITS;
}

int crm_valid_phone(crm_valid *v, const char *name, int required, const char **out)
{
    const crm_field *f;
    char norm[PHONE_MAX_DIGITS + 2];
    int rc = lookup(v, name, required, &f);

    if (rc != CRM_OK)
        return rc;
    if (f == NULL) {
        *out = NULL;
        return CRM_OK;
    }
    if (f->type != CRM_FIELD_STRING)
        return invalid(v, name, MSG_STRING);
    const char *s = f->str;
    size_t len = f->len;
    trim(&s, &len);
    if (!normalise_phone(s, len, norm))
        return invalid(v, name, MSG_PHONE);
    *out = crm_arena_strdup(v->a, norm);
    return CRM_OK;
}

/* n decimal digits at s; -1 when any is not a digit. */
static int digits(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int days_in_month(int y, int m)
{
    static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* "YYYY-MM-DD" at s (10 bytes available) naming a day that exists. */
static int parse_date(const char *s, int *y, int *m, int *d)
{
    if (s[4] != '-' || s[7] != '-')
        return 0;
    *y = digits(s, 4);
    *m = digits(s + 5, 2);
    *d = digits(s + 8, 2);
    if (*y < YEAR_MIN || *y > YEAR_MAX || *m < 1 || *m > 12)
        return 0;
    return *d >= 1 && *d <= days_in_month(*y, *m);
}

int crm_valid_is_date(const char *s)
{
    int y, m, d;
    return s != NULL && strlen(s) == 10 && parse_date(s, &y, &m, &d);
}

int crm_valid_date(crm_valid *v, const char *name, int required, const char **out)
{
    const crm_field *f;
    int rc = lookup(v, name, required, &f);

    if (rc != CRM_OK)
        return rc;
    if (f == NULL) {
        *out = NULL;
        return CRM_OK;
    }
    if (f->type != CRM_FIELD_STRING || !crm_valid_is_date(f->str))
        return invalid(v, name, MSG_DATE);
    *out = f->str;
    return CRM_OK;
}

/* "HH:MM" with hours 0..23 and minutes 0..59, as seconds. */
static int parse_hhmm(const char *s, long *secs)
{
    int h = digits(s, 2), m = digits(s + 3, 2);
    if (s[2] != ':' || h < 0 || h > 23 || m < 0 || m > 59)
        return 0;
    *secs = h * 3600L + m * 60L;
    return 1;
}

/* YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|+hh:mm|-hh:mm) to UTC, or NULL. */
static const char *datetime_utc(crm_arena *a, const char *s, size_t len)
{
    int y, mo, d, sec;
    long tod, off = 0, usec = 0;
    size_t i = 19;

    if (len < 20 || !parse_date(s, &y, &mo, &d) || (s[10] != 'T' && s[10] != 't'))
        return NULL;
    sec = digits(s + 17, 2);
    if (!parse_hhmm(s + 11, &tod) || s[16] != ':' || sec < 0 || sec > 59)
        return NULL;
    if (s[i] == '.') {
        size_t from = ++i;
        while (i < len && is_digit(s[i]) && i - from < 6)
            usec = usec * 10 + (s[i++] - '0');
        if (i == from)
            return NULL;
        for (size_t k = i - from; k < 6; k++)
            usec *= 10;
    }
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        if (len - i < 6 || !parse_hhmm(s + i + 1, &off))
            return NULL;
        if (s[i] == '-')
            off = -off;
        i += 6;
    } else {
        return NULL;
    }
    if (i != len)
        return NULL;

    struct tm tm = { 0 };
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    time_t t = timegm(&tm) + tod + sec - off;
    if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 < YEAR_MIN || tm.tm_year + 1900 > YEAR_MAX)
        return NULL;
    return crm_arena_printf(a, "%04d-%02d-%02d %02d:%02d:%02d.%06ld", tm.tm_year + 1900,
                            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, usec);
}

int crm_valid_datetime(crm_valid *v, const char *name, int required, const char **out)
{
    const crm_field *f;
    const char *utc = NULL;
    int rc = lookup(v, name, required, &f);

    if (rc != CRM_OK)
        return rc;
    if (f == NULL) {
        *out = NULL;
        return CRM_OK;
    }
    if (f->type == CRM_FIELD_STRING)
        utc = datetime_utc(v->a, f->str, f->len);
    if (utc == NULL)
        return invalid(v, name, MSG_DATETIME);
    *out = utc;
    return CRM_OK;
}

/* Trim, lower-case and check one tag; NULL when it is not a valid tag. */
static char *tag_item(crm_arena *a, const char *s, size_t len, size_t item_max)
{
    trim(&s, &len);
    if (len == 0 || len > item_max)
        return NULL;
    char *t = crm_arena_strndup(a, s, len);
    for (size_t i = 0; i < len; i++) {
        t[i] = ascii_lower(t[i]);
        if (!(is_alpha(t[i]) || is_digit(t[i]) || t[i] == '_' || t[i] == '-'))
            return NULL;
    }
    return t;
}

int crm_valid_tags(crm_valid *v, const char *name, int required, size_t max_items, size_t item_max,
                   const char ***out, size_t *n)
{
    const crm_field *f;
    size_t raw = 0, count = 0;
    int rc = lookup(v, name, required, &f);

    if (rc != CRM_OK)
        return rc;
    if (f == NULL) {
        *out = NULL;
        *n = 0;
        return CRM_OK;
    }
    if (v->fs->form && f->type == CRM_FIELD_STRING) {
        raw = 1;
        for (size_t i = 0; i < f->len; i++)
            raw += f->str[i] == ',';
    } else if (!v->fs->form && f->type == CRM_FIELD_ARRAY) {
        raw = f->n;
        for (size_t i = 0; i < f->n; i++)
            if (f->items[i].type != CRM_FIELD_STRING)
                return invalid(v, name, MSG_TAGS);
    } else {
        return invalid(v, name, MSG_TAGS);
    }

    /* A NULL-terminated list of the unique tags so far, max_items at most. */
    size_t room = raw < max_items ? raw : max_items;
    const char **tags = crm_arena_alloc(v->a, (room + 1) * sizeof(*tags));
    const char *p = f->str;
    tags[0] = NULL;
    for (size_t k = 0; k < raw; k++) {
        const char *item;
        size_t len;
        if (v->fs->form) {
            size_t left = f->len - (size_t)(p - f->str);
            const char *comma = memchr(p, ',', left);
            len = comma != NULL ? (size_t)(comma - p) : left;
            item = p;
            p += len + 1;
        } else {
            item = f->items[k].str;
            len = f->items[k].len;
        }
        const char *tag = tag_item(v->a, item, len, item_max);
        if (tag == NULL)
            return invalid(v, name,
                           crm_arena_printf(v->a,
                                            "each tag must be 1 to %zu characters of a-z, 0-9, "
                                            "_ or -",
                                            item_max));
        if (in_list(tags, tag, NULL))
            continue;
        if (count == max_items)
            return invalid(v, name,
                           crm_arena_printf(v->a, "must have at most %zu tags", max_items));
        tags[count++] = tag;
        tags[count] = NULL;
    }
    *out = tags;
    *n = count;
    return CRM_OK;
}

/*
 * ISO 4217 codes of money that can be invoiced (funds codes, precious
 * metals, test and "no currency" codes are left out), sorted for bsearch.
 */
static const char currencies[][4] = {
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD",
    "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD",
    "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ",
    "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD",
    "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR",
    "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR",
    "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN",
    "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR",
    "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB",
    "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS",
    "VES", "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
};

static int cmp_code(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

int crm_valid_is_currency(const char *code)
{
    if (code == NULL || strlen(code) != 3)
        return 0;
    return bsearch(code, currencies, CRM_NELEM(currencies), sizeof(currencies[0]), cmp_code) !=
           NULL;
}
