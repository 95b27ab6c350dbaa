/*
 * crm_event.c - signed deliveries, the batch envelope and the checks the
 * outbox (crm_outbox.c) and the inbox (crm_inbox.c) share with it.
 */
#include "crm_event.h"

#include "crm_json.h"
#include "crm_log.h"

#include <inttypes.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char hex[] = "0123456789abcdef";

#define MAC_LEN    32
#define SIG_PREFIX "v1="
#define SIG_LEN    (3 + 2 * MAC_LEN)
#define TS_DIGITS  18 /* below 10^18: no overflow, and centuries to spare */
#define ISO_LEN    27 /* "2026-11-27T12:00:00.000000Z" */

/* ---------------------------------------------------------------- */
/* Signatures */

/* HMAC-SHA256(key, "<ts>.<body>"), streamed: the body is not copied. */
static void mac_of(const char *key, size_t key_len, const char *ts, size_t ts_len, const char *body,
                   size_t len, unsigned char out[MAC_LEN])
{
    static const unsigned char no_key[1];
    char digest[] = "SHA256";
    OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                            OSSL_PARAM_construct_end() };
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
    size_t n = 0;

    /* A NULL key would mean "keep the previous one" to EVP_MAC_init. */
    const unsigned char *k = key_len > 0 ? (const unsigned char *)key : no_key;
    if (ctx == NULL || !EVP_MAC_init(ctx, k, key_len, params) ||
        !EVP_MAC_update(ctx, (const unsigned char *)ts, ts_len) ||
        !EVP_MAC_update(ctx, (const unsigned char *)".", 1) ||
        (len > 0 && !EVP_MAC_update(ctx, (const unsigned char *)body, len)) ||
        !EVP_MAC_final(ctx, out, &n, MAC_LEN) || n != MAC_LEN) {
        /* Only a broken OpenSSL install gets here; nothing can be signed. */
        crm_log_error("event: HMAC-SHA256 unavailable");
        abort();
    }
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
}

static void sig_text(const unsigned char mac[MAC_LEN], char out[68])
{
    memcpy(out, SIG_PREFIX, 3);
    for (size_t i = 0; i < MAC_LEN; i++) {
        out[3 + 2 * i] = hex[mac[i] >> 4];
        out[3 + 2 * i + 1] = hex[mac[i] & 15];
    }
    out[SIG_LEN] = '\0';
}

void crm_event_sign(const char *key, size_t key_len, long long ts, const char *body, size_t len,
                    char out[68])
{
    char t[24];
    unsigned char mac[MAC_LEN];
    int tn = snprintf(t, sizeof(t), "%lld", ts);

    mac_of(key, key_len, t, (size_t)tn, body, len, mac);
    sig_text(mac, out);
    OPENSSL_cleanse(mac, sizeof(mac));
}

/* 1..TS_DIGITS digits, no sign, no leading zero: one spelling per time. */
static int parse_ts(const char *s, long long *out)
{
    size_t n = strlen(s);
    long long v = 0;

    if (n == 0 || n > TS_DIGITS || (s[0] == '0' && n > 1))
        return CRM_INVALID;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return CRM_INVALID;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return CRM_OK;
}

static int is_lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

int crm_event_verify(const char *key, size_t key_len, const char *ts_header, const char *sig_header,
                     const char *body, size_t len, long long now, long max_skew)
{
    long long ts = 0;

    /* An empty secret signs nothing worth trusting. */
    if (key == NULL || key_len == 0 || ts_header == NULL || sig_header == NULL)
        return CRM_INVALID;
    if (parse_ts(ts_header, &ts) != CRM_OK)
        return CRM_INVALID;
    if (strlen(sig_header) != SIG_LEN || memcmp(sig_header, SIG_PREFIX, 3) != 0)
        return CRM_INVALID;
    for (size_t i = 3; i < SIG_LEN; i++)
        if (!is_lower_hex(sig_header[i]))
            return CRM_INVALID;

    unsigned char mac[MAC_LEN];
    char want[68];
    mac_of(key, key_len, ts_header, strlen(ts_header), body, len, mac);
    sig_text(mac, want);
    int same = CRYPTO_memcmp(want, sig_header, SIG_LEN) == 0;
    OPENSSL_cleanse(mac, sizeof(mac));
    OPENSSL_cleanse(want, sizeof(want));
    if (!same)
        return CRM_INVALID;

    /* Distances in unsigned arithmetic: now may be anything. */
    unsigned long long skew = max_skew > 0 ? (unsigned long long)max_skew : 0;
    unsigned long long d = ts > now ? (unsigned long long)ts - (unsigned long long)now
                                    : (unsigned long long)now - (unsigned long long)ts;
    return d > skew ? CRM_CONFLICT : CRM_OK;
}

void crm_event_uuid(char out[37])
{
    unsigned char r[16];

    if (RAND_bytes(r, (int)sizeof(r)) != 1) {
        /* No randomness left: ids could collide, so stop the worker. */
        crm_log_error("event: RAND_bytes failed");
        abort();
    }
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40); /* version 4 */
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80); /* variant 10 */
    char *o = out;
    for (size_t i = 0; i < sizeof(r); i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[r[i] >> 4];
        *o++ = hex[r[i] & 15];
    }
    *o = '\0';
}

/* ---------------------------------------------------------------- */
/* What both ends check (crm_outbox.c and crm_inbox.c use these too) */

/* 8-4-4-4-12 lower-case hex digits; any version, so ids may change kind. */
int crm_event_id_ok(const char *s, size_t n)
{
    if (n != 36)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!is_lower_hex(s[i])) {
            return 0;
        }
    }
    return 1;
}

int crm_event_type_ok(const char *s, size_t n)
{
    if (n == 0 || n > CRM_EVENT_TYPE_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '.' || s[i] == '_'))
            return 0;
    return 1;
}

static int is_source(const char *s, size_t n)
{
    if (n == 0 || n > CRM_EVENT_SOURCE_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
              s[i] == '-'))
            return 0;
    return 1;
}

/* Digits at s[from..from+n) as a number in [lo, hi]. */
static int digits_in(const char *s, size_t from, size_t n, int lo, int hi)
{
    int v = 0;
    for (size_t i = from; i < from + n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    return v >= lo && v <= hi;
}

/* "YYYY-MM-DDTHH:MM:SS.ffffffZ", fields in range (the day is not checked
   against the month: the consumer's DATETIME refuses a 31 April). */
static int is_iso(const char *s, size_t n)
{
    return n == ISO_LEN && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' &&
           s[16] == ':' && s[19] == '.' && s[26] == 'Z' && digits_in(s, 0, 4, 1, 9999) &&
           digits_in(s, 5, 2, 1, 12) && digits_in(s, 8, 2, 1, 31) && digits_in(s, 11, 2, 0, 23) &&
           digits_in(s, 14, 2, 0, 59) && digits_in(s, 17, 2, 0, 59) &&
           digits_in(s, 20, 6, 0, 999999);
}

/* Values in f (itself included) and its depth in containers. */
static void measure(const crm_field *f, size_t *values, size_t *depth)
{
    size_t deepest = 0;

    *values += 1;
    if (f->type != CRM_FIELD_OBJECT && f->type != CRM_FIELD_ARRAY) {
        *depth = 0;
        return;
    }
    for (size_t i = 0; i < f->n; i++) {
        size_t d = 0;
        measure(&f->items[i], values, &d);
        if (d > deepest)
            deepest = d;
    }
    *depth = deepest + 1;
}

const char *crm_event_payload_problem(const char *payload, size_t len)
{
    crm_arena *a = crm_arena_new(4096);
    crm_fields fs;
    const char *why = NULL;
    const char *problem = NULL;

    if (payload == NULL || crm_json_parse(a, payload, len, &fs, &why) != CRM_OK) {
        problem = why != NULL ? why : "not a JSON object";
    } else {
        crm_field top = { .type = CRM_FIELD_OBJECT, .items = fs.items, .n = fs.n };
        size_t values = 0, depth = 0;
        measure(&top, &values, &depth);
        if (depth > CRM_EVENT_PAYLOAD_MAX_DEPTH)
            problem = "nested too deep for a batch";
        else if (values > CRM_EVENT_PAYLOAD_MAX_VALUES)
            problem = "has too many values for a batch";
    }
    crm_arena_free(a); /* why and problem are static strings */
    return problem;
}

/* ---------------------------------------------------------------- */
/* Envelope */

static int put_str_member(crm_buf *b, const char *name, const char *s, int comma)
{
    int rc = crm_buf_printf(b, "%s\"%s\":", comma ? "," : "", name);
    if (rc == CRM_OK)
        rc = crm_buf_json_str(b, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
    return rc;
}

static int put_event(crm_buf *b, const crm_event *e)
{
    int rc = crm_buf_putc(b, '{');
    if (rc == CRM_OK)
        rc = put_str_member(b, "id", e->id, 0);
    if (rc == CRM_OK)
        rc = put_str_member(b, "type", e->type, 1);
    if (rc == CRM_OK)
        rc = crm_buf_printf(b, ",\"aggregate_id\":%" PRId64 ",\"aggregate_version\":%" PRId64,
                            e->aggregate_id, e->aggregate_version);
    if (rc == CRM_OK)
        rc = put_str_member(b, "occurred_at", e->occurred_at, 1);
    if (rc == CRM_OK)
        rc = put_str_member(b, "source", e->source, 1);
    if (rc == CRM_OK)
        rc = crm_buf_puts(b, ",\"payload\":");
    if (rc == CRM_OK) {
        if (e->payload != NULL && e->payload_len > 0)
            rc = crm_buf_append(b, e->payload, e->payload_len);
        else
            rc = crm_buf_puts(b, "{}");
    }
    if (rc == CRM_OK)
        rc = crm_buf_putc(b, '}');
    return rc;
}

void crm_event_batch_json(crm_buf *b, const crm_event *ev, size_t n)
{
    size_t start = b->len;
    int rc = crm_buf_puts(b, "{\"events\":[");

    for (size_t i = 0; i < n && rc == CRM_OK; i++) {
        if (i > 0)
            rc = crm_buf_putc(b, ',');
        if (rc == CRM_OK)
            rc = put_event(b, &ev[i]);
    }
    if (rc == CRM_OK)
        rc = crm_buf_puts(b, "]}");
    if (rc != CRM_OK) {
        b->len = start;
        if (b->data != NULL)
            b->data[start] = '\0';
    }
}

/* f written back as compact JSON: the text of numbers as received. */
static int put_field(crm_buf *b, const crm_field *f)
{
    int rc = CRM_OK;

    switch (f->type) {
    case CRM_FIELD_NULL:
        return crm_buf_puts(b, "null");
    case CRM_FIELD_BOOL:
        return crm_buf_puts(b, f->b ? "true" : "false");
    case CRM_FIELD_INT:
        return crm_buf_printf(b, "%" PRId64, f->i);
    case CRM_FIELD_NUMBER:
        return crm_buf_append(b, f->str, f->len);
    case CRM_FIELD_STRING:
        return crm_buf_json_str(b, f->str, f->len);
    case CRM_FIELD_ARRAY:
    case CRM_FIELD_OBJECT: {
        int obj = f->type == CRM_FIELD_OBJECT;
        rc = crm_buf_putc(b, obj ? '{' : '[');
        for (size_t i = 0; i < f->n && rc == CRM_OK; i++) {
            if (i > 0)
                rc = crm_buf_putc(b, ',');
            if (rc == CRM_OK && obj) {
                rc = crm_buf_json_str(b, f->items[i].name, strlen(f->items[i].name));
                if (rc == CRM_OK)
                    rc = crm_buf_putc(b, ':');
            }
            if (rc == CRM_OK)
                rc = put_field(b, &f->items[i]);
        }
        if (rc == CRM_OK)
            rc = crm_buf_putc(b, obj ? '}' : ']');
        return rc;
    }
    }
    return CRM_ERR;
}

static const crm_field *member(const crm_field *obj, const char *name)
{
    crm_fields fs = { 0, obj->items, obj->n };
    return crm_fields_get(&fs, name);
}

/* A string member checked by ok; why set (for event i) when it is not. */
static const char *str_member(crm_arena *a, const crm_field *obj, size_t i, const char *name,
                              int (*ok)(const char *, size_t), const char *shape, const char **why)
{
    const crm_field *f = member(obj, name);
    if (f == NULL)
        *why = crm_arena_printf(a, "events[%zu]: %s is required", i, name);
    else if (f->type != CRM_FIELD_STRING || !ok(f->str, f->len))
        *why = crm_arena_printf(a, "events[%zu]: %s must be %s", i, name, shape);
    else
        return f->str;
    return NULL;
}

/* An integer member in [lo, hi]; why set (for event i) when it is not. */
static int int_member(crm_arena *a, const crm_field *obj, size_t i, const char *name, int64_t lo,
                      int64_t hi, int64_t *out, const char **why)
{
    const crm_field *f = member(obj, name);
    if (f == NULL)
        *why = crm_arena_printf(a, "events[%zu]: %s is required", i, name);
    else if (f->type != CRM_FIELD_INT || f->i < lo || f->i > hi)
        *why = crm_arena_printf(
            a, "events[%zu]: %s must be an integer from %" PRId64 " to %" PRId64, i, name, lo, hi);
    else {
        *out = f->i;
        return CRM_OK;
    }
    return CRM_INVALID;
}

static int parse_event(crm_arena *a, crm_buf *b, const crm_field *f, size_t i, crm_event *e,
                       const char **why)
{
    if (f->type != CRM_FIELD_OBJECT) {
        *why = crm_arena_printf(a, "events[%zu] must be an object", i);
        return CRM_INVALID;
    }
    memset(e, 0, sizeof(*e));
    if ((e->id = str_member(a, f, i, "id", crm_event_id_ok, "a lower-case UUID", why)) == NULL ||
        (e->type = str_member(a, f, i, "type", crm_event_type_ok, "1 to 64 of [a-z._]", why)) ==
            NULL ||
        int_member(a, f, i, "aggregate_id", 1, INT64_MAX, &e->aggregate_id, why) != CRM_OK ||
        int_member(a, f, i, "aggregate_version", 1, CRM_EVENT_VERSION_MAX, &e->aggregate_version,
                   why) != CRM_OK ||
        (e->occurred_at = str_member(a, f, i, "occurred_at", is_iso,
                                     "an ISO 8601 UTC time with microseconds", why)) == NULL ||
        (e->source = str_member(a, f, i, "source", is_source, "1 to 32 of [a-z0-9_-]", why)) ==
            NULL)
        return CRM_INVALID;

    const crm_field *p = member(f, "payload");
    if (p == NULL || p->type != CRM_FIELD_OBJECT) {
        *why = crm_arena_printf(a, "events[%zu]: payload %s", i,
                                p == NULL ? "is required" : "must be an object");
        return CRM_INVALID;
    }
    crm_buf_reset(b);
    if (put_field(b, p) != CRM_OK) {
        *why = "payload too large"; /* cannot happen: the text only shrinks */
        return CRM_INVALID;
    }
    e->payload = crm_arena_strndup(a, b->data, b->len);
    e->payload_len = b->len;
    return CRM_OK;
}

int crm_event_batch_parse(crm_arena *a, const char *body, size_t len, crm_event **ev, size_t *n,
                          const char **why)
{
    crm_fields fs;
    const char *reason = NULL;
    crm_buf b;
    int rc = CRM_INVALID;

    /* Re-serialised payloads are never longer than the body they came in. */
    crm_buf_init(&b, len + 16);
    if (crm_json_parse(a, body != NULL ? body : "", body != NULL ? len : 0, &fs, &reason) !=
        CRM_OK) {
        if (reason == NULL)
            reason = "malformed JSON";
        goto out;
    }
    const crm_field *events = crm_fields_get(&fs, "events");
    if (events == NULL) {
        reason = "events is required";
        goto out;
    }
    if (events->type != CRM_FIELD_ARRAY) {
        reason = "events must be an array";
        goto out;
    }
    if (events->n > CRM_EVENT_BATCH_MAX) {
        reason = "too many events (at most 100)";
        goto out;
    }
    crm_event *list = crm_arena_calloc(a, (events->n > 0 ? events->n : 1) * sizeof(*list));
    for (size_t i = 0; i < events->n; i++)
        if (parse_event(a, &b, &events->items[i], i, &list[i], &reason) != CRM_OK)
            goto out;
    *ev = list;
    *n = events->n;
    rc = CRM_OK;
out:
    crm_buf_free(&b);
    if (rc != CRM_OK && why != NULL)
        *why = reason;
    return rc;
}
