/*
 * test_crm_event.c - signed deliveries, UUIDs, the batch envelope and the
 * checks the outbox and the inbox share (tcases "sign", "uuid", "batch",
 * "checks"). No database: the outbox is tested in test_crm_outbox.c and
 * the inbox in test_crm_inbox.c.
 */
#include "crm_event.h"
#include "crm_log.h"

#include <check.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static crm_arena *arena;

static void setup(void)
{
    arena = crm_arena_new(4096);
}

static void teardown(void)
{
    crm_arena_free(arena);
}

/* ---------------------------------------------------------------- */
/* sign / verify */

#define KEY "test-secret"

/* "v1=" + HMAC-SHA256(key, "<ts>.<body>"), computed apart from the module. */
static void reference_sig(const char *key, size_t key_len, long long ts, const char *body,
                          char out[68])
{
    char *msg = crm_arena_printf(arena, "%lld.%s", ts, body);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int ml = 0;
    static const unsigned char empty[1];
    HMAC(EVP_sha256(), key_len ? key : (const void *)empty, (int)key_len,
         (const unsigned char *)msg, strlen(msg), mac, &ml);
    ck_assert_uint_eq(ml, 32);
    strcpy(out, "v1=");
    for (unsigned i = 0; i < ml; i++)
        snprintf(out + 3 + 2 * i, 3, "%02x", mac[i]);
}

static int verify(const char *ts, const char *sig, const char *body, long long now)
{
    return crm_event_verify(KEY, strlen(KEY), ts, sig, body, strlen(body), now, CRM_EVENT_MAX_SKEW);
}

START_TEST(test_sign_known_vectors)
{
    char sig[68];

    /* printf '%s' '1700000000.{}' | openssl dgst -sha256 -hmac key */
    crm_event_sign("key", 3, 1700000000LL, "{}", 2, sig);
    ck_assert_str_eq(sig, "v1=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae");
    /* printf '%s' '1700000000.{"events":[]}' | openssl dgst -sha256 -hmac test-secret */
    const char *body = "{\"events\":[]}";
    crm_event_sign(KEY, strlen(KEY), 1700000000LL, body, strlen(body), sig);
    ck_assert_str_eq(sig, "v1=701cff562429740008efe21fbe67b094cde993ac4e1efd061122119d53a6d2c9");
    /* Python: hmac.new(b'', b'0.', sha256): an empty key and no body. */
    crm_event_sign("", 0, 0, NULL, 0, sig);
    ck_assert_str_eq(sig, "v1=b849d5a581847b281957065739df36df2463d1977ea8d6e1e4e6cf33fadc68c3");
    ck_assert_uint_eq(strlen(sig), 67);
}
END_TEST

START_TEST(test_sign_matches_reference)
{
    /* Keys shorter and longer than SHA-256's block, binary bytes, bodies of all sizes. */
    char key[200];
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (char)(i * 37 + 1);
    static const size_t key_lens[] = { 1, 16, 63, 64, 65, 200 };
    static const char *const bodies[] = { "", "x", "{\"events\":[{\"a\":\"é\"}]}",
                                          "line\nbreak\ttab" };
    static const long long times[] = { 0, 1, 1700000000LL, 999999999999999999LL, -5 };
    for (size_t k = 0; k < CRM_NELEM(key_lens); k++)
        for (size_t b = 0; b < CRM_NELEM(bodies); b++)
            for (size_t t = 0; t < CRM_NELEM(times); t++) {
                char got[68], want[68];
                crm_event_sign(key, key_lens[k], times[t], bodies[b], strlen(bodies[b]), got);
                reference_sig(key, key_lens[k], times[t], bodies[b], want);
                ck_assert_str_eq(got, want);
            }

    /* A body with a NUL byte is signed whole, not up to the NUL. */
    char a[68], c[68];
    crm_event_sign(KEY, strlen(KEY), 1, "ab\0cd", 5, a);
    crm_event_sign(KEY, strlen(KEY), 1, "ab\0ce", 5, c);
    ck_assert_str_ne(a, c);
}
END_TEST

START_TEST(test_verify_ok_and_tampering)
{
    const char *body = "{\"events\":[]}";
    char sig[68], bad[68];
    crm_event_sign(KEY, strlen(KEY), 1700000000LL, body, strlen(body), sig);

    ck_assert_int_eq(verify("1700000000", sig, body, 1700000000LL), CRM_OK);
    /* The body: changed, extended, cut. */
    ck_assert_int_eq(verify("1700000000", sig, "{\"events\":[ ]}", 1700000000LL), CRM_INVALID);
    ck_assert_int_eq(verify("1700000000", sig, "{\"events\":[]} ", 1700000000LL), CRM_INVALID);
    ck_assert_int_eq(verify("1700000000", sig, "{\"events\":[]", 1700000000LL), CRM_INVALID);
    ck_assert_int_eq(verify("1700000000", sig, "", 1700000000LL), CRM_INVALID);
    /* The timestamp is signed: another one (still fresh) does not match. */
    ck_assert_int_eq(verify("1700000001", sig, body, 1700000000LL), CRM_INVALID);
    /* Another key. */
    ck_assert_int_eq(crm_event_verify("test-secreT", strlen(KEY), "1700000000", sig, body,
                                      strlen(body), 1700000000LL, CRM_EVENT_MAX_SKEW),
                     CRM_INVALID);
    ck_assert_int_eq(crm_event_verify(KEY, strlen(KEY) - 1, "1700000000", sig, body, strlen(body),
                                      1700000000LL, CRM_EVENT_MAX_SKEW),
                     CRM_INVALID);
    /* Every hex digit of the signature matters. */
    for (size_t i = 3; i < 67; i++) {
        strcpy(bad, sig);
        bad[i] = bad[i] == '0' ? '1' : '0';
        ck_assert_msg(verify("1700000000", bad, body, 1700000000LL) == CRM_INVALID,
                      "digit %zu not checked", i);
    }
    /* A body with a NUL byte: all of it is covered. */
    crm_event_sign(KEY, strlen(KEY), 5, "ab\0cd", 5, sig);
    ck_assert_int_eq(crm_event_verify(KEY, strlen(KEY), "5", sig, "ab\0cd", 5, 5, 0), CRM_OK);
    ck_assert_int_eq(crm_event_verify(KEY, strlen(KEY), "5", sig, "ab\0ce", 5, 5, 0), CRM_INVALID);
    ck_assert_int_eq(crm_event_verify(KEY, strlen(KEY), "5", sig, "ab", 2, 5, 0), CRM_INVALID);
    /* No body at all. */
    crm_event_sign(KEY, strlen(KEY), 5, NULL, 0, sig);
    ck_assert_int_eq(crm_event_verify(KEY, strlen(KEY), "5", sig, NULL, 0, 5, 0), CRM_OK);
}
END_TEST

START_TEST(test_verify_missing_and_empty_key)
{
    char sig[68];
    crm_event_sign(KEY, strlen(KEY), 100, "{}", 2, sig);
    ck_assert_int_eq(verify(NULL, sig, "{}", 100), CRM_INVALID);
    ck_assert_int_eq(verify("100", NULL, "{}", 100), CRM_INVALID);
    ck_assert_int_eq(verify(NULL, NULL, "{}", 100), CRM_INVALID);
    ck_assert_int_eq(verify("", sig, "{}", 100), CRM_INVALID);
    ck_assert_int_eq(verify("100", "", "{}", 100), CRM_INVALID);

    /* An empty secret is refused even with a matching signature. */
    crm_event_sign("", 0, 100, "{}", 2, sig);
    ck_assert_int_eq(crm_event_verify("", 0, "100", sig, "{}", 2, 100, 300), CRM_INVALID);
    ck_assert_int_eq(crm_event_verify(NULL, 0, "100", sig, "{}", 2, 100, 300), CRM_INVALID);
}
END_TEST

START_TEST(test_verify_signature_format)
{
    char sig[68], s[80];
    crm_event_sign(KEY, strlen(KEY), 100, "{}", 2, sig);
    ck_assert_int_eq(verify("100", sig, "{}", 100), CRM_OK);

    const char *hexpart = sig + 3;
    const char *const prefixes[] = { "", "v2=", "V1=", "v1:", "v1 =", " v1=", "v1==", "sha256=" };
    for (size_t i = 0; i < CRM_NELEM(prefixes); i++) {
        snprintf(s, sizeof(s), "%s%s", prefixes[i], hexpart);
        ck_assert_msg(verify("100", s, "{}", 100) == CRM_INVALID, "prefix '%s' taken", prefixes[i]);
    }
    /* Length: one digit short, one more, a trailing space or newline. */
    snprintf(s, sizeof(s), "%.*s", 66, sig);
    ck_assert_int_eq(verify("100", s, "{}", 100), CRM_INVALID);
    const char *const tails[] = { "0", " ", "\n", "\r\n" };
    for (size_t i = 0; i < CRM_NELEM(tails); i++) {
        snprintf(s, sizeof(s), "%s%s", sig, tails[i]);
        ck_assert_int_eq(verify("100", s, "{}", 100), CRM_INVALID);
    }
    /* A non-hex digit. */
    strcpy(s, sig);
    s[10] = 'g';
    ck_assert_int_eq(verify("100", s, "{}", 100), CRM_INVALID);
    strcpy(s, sig);
    s[66] = ' ';
    ck_assert_int_eq(verify("100", s, "{}", 100), CRM_INVALID);

    /* Upper-case hex is refused by design (the header documents it), even
       when it spells the right MAC. Make sure the MAC has a letter in it. */
    long long ts = 100;
    for (;; ts++) {
        char t[24];
        snprintf(t, sizeof(t), "%lld", ts);
        crm_event_sign(KEY, strlen(KEY), ts, "{}", 2, sig);
        if (strpbrk(sig + 3, "abcdef") == NULL)
            continue;
        ck_assert_int_eq(verify(t, sig, "{}", ts), CRM_OK);
        strcpy(s, sig);
        for (char *p = s + 3; *p; p++)
            if (*p >= 'a' && *p <= 'f')
                *p = (char)(*p - 'a' + 'A');
        ck_assert_int_eq(verify(t, s, "{}", ts), CRM_INVALID);
        break;
    }
}
END_TEST

START_TEST(test_verify_timestamp_format)
{
    /* Each header is refused though signed as sent (no parse-then-print loophole). */
    const char *const bad[] = { "-1",  "+100", "0100", "00",     " 100", "100 ",
                                "1e3", "1.0",  "0x64", "１００", "abc",  "1000000000000000000" };
    for (size_t i = 0; i < CRM_NELEM(bad); i++) {
        char want[68];
        char *msg = crm_arena_printf(arena, "%s.{}", bad[i]);
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int ml = 0;
        HMAC(EVP_sha256(), KEY, (int)strlen(KEY), (const unsigned char *)msg, strlen(msg), mac,
             &ml);
        strcpy(want, "v1=");
        for (unsigned j = 0; j < ml; j++)
            snprintf(want + 3 + 2 * j, 3, "%02x", mac[j]);
        ck_assert_msg(verify(bad[i], want, "{}", 100) == CRM_INVALID, "timestamp '%s' taken",
                      bad[i]);
    }

    /* "0" and 18 digits are fine as far as the format goes. */
    char sig[68];
    crm_event_sign(KEY, strlen(KEY), 0, "{}", 2, sig);
    ck_assert_int_eq(verify("0", sig, "{}", 0), CRM_OK);
    crm_event_sign(KEY, strlen(KEY), 999999999999999999LL, "{}", 2, sig);
    ck_assert_int_eq(verify("999999999999999999", sig, "{}", 999999999999999999LL), CRM_OK);
}
END_TEST

START_TEST(test_verify_skew)
{
    const long long ts = 1700000000LL;
    char sig[68];
    crm_event_sign(KEY, strlen(KEY), ts, "{}", 2, sig);

    ck_assert_int_eq(verify("1700000000", sig, "{}", ts), CRM_OK);
    /* Exactly CRM_EVENT_MAX_SKEW either way is accepted, one more is not. */
    ck_assert_int_eq(verify("1700000000", sig, "{}", ts + 300), CRM_OK);
    ck_assert_int_eq(verify("1700000000", sig, "{}", ts - 300), CRM_OK);
    ck_assert_int_eq(verify("1700000000", sig, "{}", ts + 301), CRM_CONFLICT);
    ck_assert_int_eq(verify("1700000000", sig, "{}", ts - 301), CRM_CONFLICT);
    ck_assert_int_eq(verify("1700000000", sig, "{}", ts + 86400), CRM_CONFLICT);
    ck_assert_int_eq(verify("1700000000", sig, "{}", 0), CRM_CONFLICT);
    /* Extreme clocks: no overflow. */
    ck_assert_int_eq(verify("1700000000", sig, "{}", LLONG_MAX), CRM_CONFLICT);
    ck_assert_int_eq(verify("1700000000", sig, "{}", LLONG_MIN), CRM_CONFLICT);

    /* Another window; zero and negative mean "this very second". */
    ck_assert_int_eq(crm_event_verify(KEY, strlen(KEY), "1700000000", sig, "{}", 2, ts + 10, 10),
                     CRM_OK);
    ck_assert_int_eq(crm_event_verify(KEY, strlen(KEY), "1700000000", sig, "{}", 2, ts + 11, 10),
                     CRM_CONFLICT);
    ck_assert_int_eq(crm_event_verify(KEY, strlen(KEY), "1700000000", sig, "{}", 2, ts, 0), CRM_OK);
    ck_assert_int_eq(crm_event_verify(KEY, strlen(KEY), "1700000000", sig, "{}", 2, ts + 1, 0),
                     CRM_CONFLICT);
    ck_assert_int_eq(crm_event_verify(KEY, strlen(KEY), "1700000000", sig, "{}", 2, ts, -1),
                     CRM_OK);
    ck_assert_int_eq(crm_event_verify(KEY, strlen(KEY), "1700000000", sig, "{}", 2, ts - 1, -1),
                     CRM_CONFLICT);

    /* A stale delivery with a wrong signature is INVALID: time is only
       discussed with whoever holds the key. */
    char bad[68];
    strcpy(bad, sig);
    bad[3] = bad[3] == '0' ? '1' : '0';
    ck_assert_int_eq(verify("1700000000", bad, "{}", ts + 10000), CRM_INVALID);
}
END_TEST

/* ---------------------------------------------------------------- */
/* uuid */

static int is_lhex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp((const char *)x, (const char *)y);
}

START_TEST(test_uuid_format_and_unique)
{
    enum { N = 10000 };
    char(*ids)[37] = calloc(N, sizeof(*ids));
    ck_assert_ptr_nonnull(ids);
    unsigned variants[4] = { 0 };

    for (size_t k = 0; k < N; k++) {
        char *u = ids[k];
        memset(u, 'X', 37);
        crm_event_uuid(u);
        ck_assert_uint_eq(strlen(u), 36);
        for (size_t i = 0; i < 36; i++) {
            if (i == 8 || i == 13 || i == 18 || i == 23)
                ck_assert_msg(u[i] == '-', "%s: no dash at %zu", u, i);
            else
                ck_assert_msg(is_lhex(u[i]), "%s: '%c' at %zu", u, u[i], i);
        }
        ck_assert_msg(u[14] == '4', "%s: not version 4", u);
        ck_assert_msg(strchr("89ab", u[19]) != NULL, "%s: not variant 10", u);
        variants[strchr("89ab", u[19]) - "89ab"]++;
    }
    /* The two free bits of the variant digit are random too. */
    for (size_t i = 0; i < 4; i++)
        ck_assert_uint_gt(variants[i], N / 8);

    qsort(ids, N, sizeof(*ids), cmp_str);
    for (size_t k = 1; k < N; k++)
        ck_assert_msg(strcmp(ids[k - 1], ids[k]) != 0, "duplicate %s", ids[k]);
    free(ids);
}
END_TEST

/* ---------------------------------------------------------------- */
/* batch */

static const char *batch_of(const crm_event *ev, size_t n, size_t *len)
{
    crm_buf b;
    crm_buf_init(&b, 0);
    crm_event_batch_json(&b, ev, n);
    char *s = crm_arena_strndup(arena, b.data, b.len);
    *len = b.len;
    crm_buf_free(&b);
    return s;
}

static crm_event sample(size_t i)
{
    crm_event e = { 0 };
    char id[37];
    crm_event_uuid(id);
    e.seq = (int64_t)i + 1;
    e.id = crm_arena_strdup(arena, id);
    e.type = i % 2 ? "customer.updated" : "customer.created";
    e.aggregate_id = 1000 + (int64_t)i;
    e.aggregate_version = 1 + (int64_t)i;
    e.occurred_at = "2026-11-27T12:00:00.123456Z";
    e.source = "customers";
    e.payload = crm_arena_printf(arena, "{\"id\":%zu,\"name\":\"Ada\"}", 1000 + i);
    e.payload_len = strlen(e.payload);
    return e;
}

START_TEST(test_batch_round_trip)
{
    crm_event ev[4];
    for (size_t i = 0; i < 3; i++)
        ev[i] = sample(i);
    /* A payload with every kind of value, spaces, escapes, and numbers
       that must keep their text. */
    ev[3] = sample(3);
    ev[3].aggregate_id = INT64_MAX;
    ev[3].aggregate_version = 4294967295LL;
    ev[3].type = "deal.stage_changed";
    ev[3].source = "sales-2_x";
    ev[3].payload = "{ \"s\" : \"q\\\"b\\\\n\\nt\\u0001\\u00e9\\ud83d\\ude00/\\/\" ,\n"
                    "  \"i\": -42, \"z\": 0, \"big\": 123456789012345678901234567890,"
                    "  \"f\": 1.50, \"e\": -2E+3, \"t\": true, \"n\": null, \"no\": false,"
                    "  \"a\": [1, [2, {\"b\": []}], {}], \"o\": {\"k\": {\"k\": 1}}, \"\": \"\" }";
    ev[3].payload_len = strlen(ev[3].payload);

    size_t len = 0;
    const char *body = batch_of(ev, 4, &len);
    ck_assert_uint_eq(len, strlen(body));
    ck_assert_msg(strncmp(body, "{\"events\":[{\"id\":\"", 18) == 0, "%s", body);

    crm_event *got = NULL;
    size_t n = 0;
    const char *why = NULL;
    ck_assert_msg(crm_event_batch_parse(arena, body, len, &got, &n, &why) == CRM_OK, "%s: %s", why,
                  body);
    ck_assert_uint_eq(n, 4);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(got[i].seq, 0);
        ck_assert_str_eq(got[i].id, ev[i].id);
        ck_assert_str_eq(got[i].type, ev[i].type);
        ck_assert_int_eq(got[i].aggregate_id, ev[i].aggregate_id);
        ck_assert_int_eq(got[i].aggregate_version, ev[i].aggregate_version);
        ck_assert_str_eq(got[i].occurred_at, ev[i].occurred_at);
        ck_assert_str_eq(got[i].source, ev[i].source);
        ck_assert_uint_eq(got[i].payload_len, strlen(got[i].payload));
    }
    for (size_t i = 0; i < 3; i++)
        ck_assert_str_eq(got[i].payload, ev[i].payload);
    /* Compact, same members in the same order, numbers as written,
       strings decoded and escaped again the one way. */
    ck_assert_str_eq(got[3].payload,
                     "{\"s\":\"q\\\"b\\\\n\\nt\\u0001\xC3\xA9\xF0\x9F\x98\x80//\","
                     "\"i\":-42,\"z\":0,\"big\":123456789012345678901234567890,"
                     "\"f\":1.50,\"e\":-2E+3,\"t\":true,\"n\":null,\"no\":false,"
                     "\"a\":[1,[2,{\"b\":[]}],{}],\"o\":{\"k\":{\"k\":1}},\"\":\"\"}");

    /* What came out goes round again unchanged. */
    size_t len2 = 0;
    const char *again = batch_of(got, n, &len2);
    crm_event *got2 = NULL;
    size_t n2 = 0;
    ck_assert_int_eq(crm_event_batch_parse(arena, again, len2, &got2, &n2, &why), CRM_OK);
    ck_assert_uint_eq(n2, 4);
    for (size_t i = 0; i < n; i++)
        ck_assert_str_eq(got2[i].payload, got[i].payload);
    ck_assert_str_eq(batch_of(got2, n2, &len2), again);
}
END_TEST

START_TEST(test_batch_json_shape)
{
    crm_event e = sample(0);
    e.id = "0b7c5d0e-3f1a-4b2c-8d9e-0f1a2b3c4d5e";
    e.payload = "{\"x\":1}";
    e.payload_len = 7;
    size_t len = 0;
    ck_assert_str_eq(batch_of(&e, 1, &len),
                     "{\"events\":[{\"id\":\"0b7c5d0e-3f1a-4b2c-8d9e-0f1a2b3c4d5e\","
                     "\"type\":\"customer.created\",\"aggregate_id\":1000,"
                     "\"aggregate_version\":1,\"occurred_at\":\"2026-11-27T12:00:00.123456Z\","
                     "\"source\":\"customers\",\"payload\":{\"x\":1}}]}");
    ck_assert_str_eq(batch_of(NULL, 0, &len), "{\"events\":[]}");

    /* payload_len counts, not the NUL: a longer buffer is cut. */
    e.payload = "{\"x\":1}TRAILING";
    ck_assert_ptr_nonnull(strstr(batch_of(&e, 1, &len), "\"payload\":{\"x\":1}}]}"));
    /* An empty payload is written as {}, a NULL string as "". */
    e.payload = NULL;
    e.payload_len = 0;
    e.source = NULL;
    const char *s = batch_of(&e, 1, &len);
    ck_assert_ptr_nonnull(strstr(s, "\"source\":\"\",\"payload\":{}}"));

    /* Appended after what b holds. */
    crm_buf b;
    crm_buf_init(&b, 0);
    crm_buf_puts(&b, "X");
    crm_event_batch_json(&b, NULL, 0);
    ck_assert_str_eq(b.data, "X{\"events\":[]}");
    crm_buf_free(&b);

    /* Over b's cap: b is left as it was. */
    crm_event many[3] = { sample(0), sample(1), sample(2) };
    crm_buf_init(&b, 200);
    crm_buf_puts(&b, "keep");
    crm_event_batch_json(&b, many, 3);
    ck_assert_uint_eq(b.len, 4);
    ck_assert_str_eq(b.data, "keep");
    crm_buf_free(&b);
}
END_TEST

START_TEST(test_batch_sizes)
{
    crm_event ev[CRM_EVENT_BATCH_MAX + 1];
    for (size_t i = 0; i < CRM_NELEM(ev); i++)
        ev[i] = sample(i);
    crm_event *got = NULL;
    size_t n = 99, len = 0;
    const char *why = NULL;

    const char *body = batch_of(ev, 0, &len);
    ck_assert_int_eq(crm_event_batch_parse(arena, body, len, &got, &n, &why), CRM_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_nonnull(got);

    body = batch_of(ev, CRM_EVENT_BATCH_MAX, &len);
    ck_assert_int_eq(crm_event_batch_parse(arena, body, len, &got, &n, &why), CRM_OK);
    ck_assert_uint_eq(n, CRM_EVENT_BATCH_MAX);
    ck_assert_str_eq(got[99].id, ev[99].id);

    got = NULL;
    n = 7;
    body = batch_of(ev, CRM_EVENT_BATCH_MAX + 1, &len);
    ck_assert_int_eq(crm_event_batch_parse(arena, body, len, &got, &n, &why), CRM_INVALID);
    ck_assert_ptr_nonnull(strstr(why, "too many events"));
    ck_assert_ptr_null(got);
    ck_assert_uint_eq(n, 7);
}
END_TEST

/* A batch of one event whose members are given as JSON text. */
static const char *one_event(const char *id, const char *type, const char *agg, const char *ver,
                             const char *at, const char *source, const char *payload)
{
    crm_buf b;
    crm_buf_init(&b, 0);
    crm_buf_puts(&b, "{\"events\":[{");
    const char *names[] = { "id",          "type",   "aggregate_id", "aggregate_version",
                            "occurred_at", "source", "payload" };
    const char *vals[] = { id, type, agg, ver, at, source, payload };
    int first = 1;
    for (size_t i = 0; i < CRM_NELEM(names); i++) {
        if (vals[i] == NULL)
            continue; /* member left out */
        crm_buf_printf(&b, "%s\"%s\":%s", first ? "" : ",", names[i], vals[i]);
        first = 0;
    }
    crm_buf_puts(&b, "}]}");
    char *s = crm_arena_strdup(arena, b.data);
    crm_buf_free(&b);
    return s;
}

#define GOOD_ID  "\"0b7c5d0e-3f1a-4b2c-8d9e-0f1a2b3c4d5e\""
#define GOOD_TY  "\"customer.created\""
#define GOOD_AT  "\"2026-11-27T12:00:00.000000Z\""
#define GOOD_SRC "\"customers\""
#define GOOD_PL  "{\"a\":1}"

/* Parse s expecting CRM_INVALID; why must mention want. Outputs untouched. */
static void refused(const char *s, const char *want)
{
    crm_event *ev = (crm_event *)(uintptr_t)0x1;
    size_t n = 12345;
    const char *why = NULL;
    int rc = crm_event_batch_parse(arena, s, strlen(s), &ev, &n, &why);
    ck_assert_msg(rc == CRM_INVALID, "accepted (%d): %s", rc, s);
    ck_assert_msg(why != NULL, "no reason for %s", s);
    ck_assert_msg(strstr(why, want) != NULL, "reason '%s' for %s lacks '%s'", why, s, want);
    ck_assert_ptr_eq(ev, (crm_event *)(uintptr_t)0x1);
    ck_assert_uint_eq(n, 12345);
}

static void accepted(const char *s)
{
    crm_event *ev = NULL;
    size_t n = 0;
    const char *why = NULL;
    ck_assert_msg(crm_event_batch_parse(arena, s, strlen(s), &ev, &n, &why) == CRM_OK, "%s: %s",
                  why, s);
    ck_assert_uint_eq(n, 1);
}

START_TEST(test_batch_parse_envelope)
{
    accepted(one_event(GOOD_ID, GOOD_TY, "1", "1", GOOD_AT, GOOD_SRC, GOOD_PL));

    refused("", "empty");
    refused("[]", "object");
    refused("\"events\"", "object");
    refused("null", "object");
    refused("{\"events\":[]", "end");
    refused("{\"events\":[]} x", "trailing");
    refused("{}", "events is required");
    refused("{\"Events\":[]}", "events is required");
    refused("{\"events\":{}}", "events must be an array");
    refused("{\"events\":null}", "events must be an array");
    refused("{\"events\":\"[]\"}", "events must be an array");
    refused("{\"events\":[1]}", "events[0] must be an object");
    refused("{\"events\":[[]]}", "events[0] must be an object");
    refused("{\"events\":[null]}", "events[0] must be an object");
    /* Strict JSON underneath: duplicate keys at every level. */
    refused("{\"events\":[],\"events\":[]}", "duplicate");
    refused(one_event(GOOD_ID ",\"id\":" GOOD_ID, GOOD_TY, "1", "1", GOOD_AT, GOOD_SRC, GOOD_PL),
            "duplicate");
    refused(one_event(GOOD_ID, GOOD_TY, "1", "1", GOOD_AT, GOOD_SRC, "{\"a\":1,\"a\":2}"),
            "duplicate");
    refused("{\"events\":[]}\xff", "UTF-8");

    /* The index of the bad event is named. */
    char *two = crm_arena_printf(
        arena, "{\"events\":[%s,%s]}",
        "{\"id\":" GOOD_ID ",\"type\":" GOOD_TY ",\"aggregate_id\":1,\"aggregate_version\":1,"
        "\"occurred_at\":" GOOD_AT ",\"source\":" GOOD_SRC ",\"payload\":{}}",
        "{\"id\":\"nope\",\"type\":" GOOD_TY ",\"aggregate_id\":1,\"aggregate_version\":1,"
        "\"occurred_at\":" GOOD_AT ",\"source\":" GOOD_SRC ",\"payload\":{}}");
    refused(two, "events[1]: id must be a lower-case UUID");

    /* Unknown members are ignored (producers may add some first). */
    accepted("{\"events\":[{\"id\":" GOOD_ID ",\"type\":" GOOD_TY ",\"aggregate_id\":1,"
             "\"aggregate_version\":1,\"occurred_at\":" GOOD_AT ",\"source\":" GOOD_SRC
             ",\"payload\":{},\"trace\":\"x\"}],\"batch\":7}");
}
END_TEST

START_TEST(test_batch_parse_members)
{
    /* Each member missing. */
    refused(one_event(NULL, GOOD_TY, "1", "1", GOOD_AT, GOOD_SRC, GOOD_PL), "id is required");
    refused(one_event(GOOD_ID, NULL, "1", "1", GOOD_AT, GOOD_SRC, GOOD_PL), "type is required");
    refused(one_event(GOOD_ID, GOOD_TY, NULL, "1", GOOD_AT, GOOD_SRC, GOOD_PL),
            "aggregate_id is required");
    refused(one_event(GOOD_ID, GOOD_TY, "1", NULL, GOOD_AT, GOOD_SRC, GOOD_PL),
            "aggregate_version is required");
    refused(one_event(GOOD_ID, GOOD_TY, "1", "1", NULL, GOOD_SRC, GOOD_PL),
            "occurred_at is required");
    refused(one_event(GOOD_ID, GOOD_TY, "1", "1", GOOD_AT, NULL, GOOD_PL), "source is required");
    refused(one_event(GOOD_ID, GOOD_TY, "1", "1", GOOD_AT, GOOD_SRC, NULL), "payload is required");

    /* id */
    const char *const bad_ids[] = { "1",
                                    "null",
                                    "\"\"",
                                    "\"0B7C5D0E-3F1A-4B2C-8D9E-0F1A2B3C4D5E\"",
                                    "\"0b7c5d0e3f1a4b2c8d9e0f1a2b3c4d5e\"",
                                    "\"0b7c5d0e-3f1a-4b2c-8d9e-0f1a2b3c4d5\"",
                                    "\"0b7c5d0e-3f1a-4b2c-8d9e-0f1a2b3c4d5e0\"",
                                    "\"0b7c5d0e-3f1a-4b2c-8d9e_0f1a2b3c4d5e\"",
                                    "\"0b7c5d0g-3f1a-4b2c-8d9e-0f1a2b3c4d5e\"",
                                    "\"{0b7c5d0e-3f1a-4b2c-8d9e-0f1a2b3c4d5}\"",
                                    "[\"0b7c5d0e-3f1a-4b2c-8d9e-0f1a2b3c4d5e\"]" };
    for (size_t i = 0; i < CRM_NELEM(bad_ids); i++)
        refused(one_event(bad_ids[i], GOOD_TY, "1", "1", GOOD_AT, GOOD_SRC, GOOD_PL),
                "id must be a lower-case UUID");
    /* Any version: only the shape is checked. */
    accepted(one_event("\"00000000-0000-0000-0000-000000000000\"", GOOD_TY, "1", "1", GOOD_AT,
                       GOOD_SRC, GOOD_PL));

    /* type */
    char t64[70], t65[70];
    memset(t64, 'a', 64);
    t64[64] = '\0';
    memset(t65, 'a', 65);
    t65[65] = '\0';
    accepted(one_event(GOOD_ID, crm_arena_printf(arena, "\"%s\"", t64), "1", "1", GOOD_AT, GOOD_SRC,
                       GOOD_PL));
    accepted(one_event(GOOD_ID, "\"x\"", "1", "1", GOOD_AT, GOOD_SRC, GOOD_PL));
    accepted(one_event(GOOD_ID, "\"deal.stage_changed\"", "1", "1", GOOD_AT, GOOD_SRC, GOOD_PL));
    const char *const bad_types[] = { "\"\"",
                                      crm_arena_printf(arena, "\"%s\"", t65),
                                      "\"Customer.created\"",
                                      "\"customer-created\"",
                                      "\"customer created\"",
                                      "\"customer.created2\"",
                                      "\"caf\xC3\xA9\"",
                                      "1",
                                      "null" };
    for (size_t i = 0; i < CRM_NELEM(bad_types); i++)
        refused(one_event(GOOD_ID, bad_types[i], "1", "1", GOOD_AT, GOOD_SRC, GOOD_PL),
                "type must be 1 to 64 of [a-z._]");

    /* aggregate_id and aggregate_version: integers, in range. */
    accepted(one_event(GOOD_ID, GOOD_TY, "9223372036854775807", "4294967295", GOOD_AT, GOOD_SRC,
                       GOOD_PL));
    const char *const bad_ids2[] = { "0",    "-1",    "1.0",
                                     "1e0",  "\"1\"", "null",
                                     "true", "[1]",   "9223372036854775808" };
    for (size_t i = 0; i < CRM_NELEM(bad_ids2); i++) {
        refused(one_event(GOOD_ID, GOOD_TY, bad_ids2[i], "1", GOOD_AT, GOOD_SRC, GOOD_PL),
                "aggregate_id must be an integer");
        refused(one_event(GOOD_ID, GOOD_TY, "1", bad_ids2[i], GOOD_AT, GOOD_SRC, GOOD_PL),
                "aggregate_version must be an integer");
    }
    refused(one_event(GOOD_ID, GOOD_TY, "1", "4294967296", GOOD_AT, GOOD_SRC, GOOD_PL),
            "aggregate_version must be an integer from 1 to 4294967295");

    /* occurred_at */
    const char *const bad_times[] = { "\"2026-11-27T12:00:00Z\"",
                                      "\"2026-11-27T12:00:00.000000\"",
                                      "\"2026-11-27 12:00:00.000000Z\"",
                                      "\"2026-11-27T12:00:00.000000+00:00\"",
                                      "\"2026-13-27T12:00:00.000000Z\"",
                                      "\"2026-00-27T12:00:00.000000Z\"",
                                      "\"2026-11-32T12:00:00.000000Z\"",
                                      "\"2026-11-27T24:00:00.000000Z\"",
                                      "\"2026-11-27T12:60:00.000000Z\"",
                                      "\"2026-11-27T12:00:60.000000Z\"",
                                      "\"0000-11-27T12:00:00.000000Z\"",
                                      "\"2026-11-27T12:00:00.00000aZ\"",
                                      "\"2026-11-27t12:00:00.000000z\"",
                                      "1700000000",
                                      "null" };
    for (size_t i = 0; i < CRM_NELEM(bad_times); i++)
        refused(one_event(GOOD_ID, GOOD_TY, "1", "1", bad_times[i], GOOD_SRC, GOOD_PL),
                "occurred_at must be an ISO 8601 UTC time");
    accepted(one_event(GOOD_ID, GOOD_TY, "1", "1", "\"1999-01-01T00:00:00.999999Z\"", GOOD_SRC,
                       GOOD_PL));

    /* source */
    accepted(one_event(GOOD_ID, GOOD_TY, "1", "1", GOOD_AT, "\"sales-2_x\"", GOOD_PL));
    const char *const bad_sources[] = { "\"\"",
                                        "\"Sales\"",
                                        "\"sales.eu\"",
                                        "\"sales eu\"",
                                        "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
                                        "null",
                                        "1" };
    for (size_t i = 0; i < CRM_NELEM(bad_sources); i++)
        refused(one_event(GOOD_ID, GOOD_TY, "1", "1", GOOD_AT, bad_sources[i], GOOD_PL),
                "source must be 1 to 32 of [a-z0-9_-]");

    /* payload: an object, nothing else. */
    accepted(one_event(GOOD_ID, GOOD_TY, "1", "1", GOOD_AT, GOOD_SRC, "{}"));
    const char *const bad_payloads[] = { "[]", "[{}]", "\"{}\"", "null", "1", "true" };
    for (size_t i = 0; i < CRM_NELEM(bad_payloads); i++)
        refused(one_event(GOOD_ID, GOOD_TY, "1", "1", GOOD_AT, GOOD_SRC, bad_payloads[i]),
                "payload must be an object");

    /* A payload may nest CRM_EVENT_PAYLOAD_MAX_DEPTH levels in a batch. */
    accepted(
        one_event(GOOD_ID, GOOD_TY, "1", "1", GOOD_AT, GOOD_SRC, "{\"a\":{\"b\":[[{\"c\":1}]]}}"));
    refused(
        one_event(GOOD_ID, GOOD_TY, "1", "1", GOOD_AT, GOOD_SRC, "{\"a\":{\"b\":[[{\"c\":[]}]]}}"),
        "nesting too deep");
}
END_TEST

/* ---------------------------------------------------------------- */
/* checks */

START_TEST(test_type_ok)
{
    char t64[70], t65[70];
    memset(t64, 'a', 64);
    t64[64] = '\0';
    memset(t65, 'a', 65);
    t65[65] = '\0';

    const char *const good[] = { "a", "customer.created", "deal.stage_changed", "._", t64 };
    for (size_t i = 0; i < CRM_NELEM(good); i++)
        ck_assert_msg(crm_event_type_ok(good[i], strlen(good[i])) == 1, "'%s' refused", good[i]);

    const char *const bad[] = { "",
                                t65,
                                "Customer.created",
                                "customer-created",
                                "customer created",
                                "customer.created2",
                                "customer/created",
                                "caf\xC3\xA9",
                                " customer.created" };
    for (size_t i = 0; i < CRM_NELEM(bad); i++)
        ck_assert_msg(crm_event_type_ok(bad[i], strlen(bad[i])) == 0, "'%s' taken", bad[i]);

    /* Exactly n bytes are read: no NUL needed, one inside counts. */
    ck_assert_int_eq(crm_event_type_ok("customer.created!!", 16), 1);
    ck_assert_int_eq(crm_event_type_ok("ab\0cd", 5), 0);
    ck_assert_int_eq(crm_event_type_ok(NULL, 0), 0);
}
END_TEST

START_TEST(test_id_ok)
{
    char id[37];
    for (int i = 0; i < 100; i++) {
        crm_event_uuid(id);
        ck_assert_msg(crm_event_id_ok(id, 36) == 1, "%s refused", id);
    }
    /* Any version: only the shape is checked. */
    ck_assert_int_eq(crm_event_id_ok("00000000-0000-0000-0000-000000000000", 36), 1);
    ck_assert_int_eq(crm_event_id_ok("0b7c5d0e-3f1a-1b2c-cd9e-0f1a2b3c4d5e", 36), 1);

    const char *const bad[] = { "",
                                "0B7C5D0E-3F1A-4B2C-8D9E-0F1A2B3C4D5E",
                                "0b7c5d0e-3f1a-4b2c-8d9e-0f1a2b3c4d5E",
                                "0b7c5d0e3f1a4b2c8d9e0f1a2b3c4d5e",
                                "0b7c5d0e-3f1a-4b2c-8d9e-0f1a2b3c4d5",
                                "0b7c5d0e-3f1a-4b2c-8d9e-0f1a2b3c4d5e0",
                                "0b7c5d0e-3f1a-4b2c-8d9e_0f1a2b3c4d5e",
                                "0b7c5d0-e3f1a-4b2c-8d9e-0f1a2b3c4d5e",
                                "0b7c5d0g-3f1a-4b2c-8d9e-0f1a2b3c4d5e",
                                "{0b7c5d0e-3f1a-4b2c-8d9e-0f1a2b3c4d5}",
                                "0b7c5d0e-3f1a-4b2c-8d9e-0f1a2b3c4d5 ",
                                "------------------------------------" };
    for (size_t i = 0; i < CRM_NELEM(bad); i++)
        ck_assert_msg(crm_event_id_ok(bad[i], strlen(bad[i])) == 0, "'%s' taken", bad[i]);

    /* Exactly n bytes are read. */
    ck_assert_int_eq(crm_event_id_ok("0b7c5d0e-3f1a-4b2c-8d9e-0f1a2b3c4d5eXX", 36), 1);
    ck_assert_int_eq(crm_event_id_ok("0b7c5d0e-3f1a-4b2c-8d9e-0f1a2b3c4d5e", 35), 0);
    ck_assert_int_eq(crm_event_id_ok("0b7c5d0e-3f1a-4b2c-8d9e\0000f1a2b3c4d5e", 36), 0);
    ck_assert_int_eq(crm_event_id_ok(NULL, 0), 0);
}
END_TEST

/* An object of members "k0":0 ... as text in the arena: members + 1 values. */
static const char *object_of(int members)
{
    crm_buf b;
    crm_buf_init(&b, 0);
    crm_buf_putc(&b, '{');
    for (int i = 0; i < members; i++)
        crm_buf_printf(&b, "%s\"k%d\":0", i ? "," : "", i);
    crm_buf_putc(&b, '}');
    const char *s = crm_arena_strndup(arena, b.data, b.len);
    crm_buf_free(&b);
    return s;
}

static const char *problem_of(const char *payload)
{
    return crm_event_payload_problem(payload, strlen(payload));
}

START_TEST(test_payload_problem)
{
    /* Fine: objects within the limits (5 levels; 9000 values, itself included). */
    const char *const good[] = { "{}", "{\"a\":1}", "{ \"a\" : [1, {\"b\": null}] }",
                                 "{\"a\":{\"b\":[[{\"c\":1}]]}}", object_of(8999) };
    for (size_t i = 0; i < CRM_NELEM(good); i++)
        ck_assert_msg(problem_of(good[i]) == NULL, "payload %zu refused: %s", i,
                      problem_of(good[i]));

    /* Not a strict JSON object: crm_json_parse's words. */
    struct {
        const char *payload, *want;
    } bad[] = {
        { "", "empty" },
        { "[]", "object" },
        { "null", "object" },
        { "\"{}\"", "object" },
        { "{", "end" },
        { "{} {}", "trailing" },
        { "{\"a\":1,\"a\":2}", "duplicate" },
        { "{\"a\":01}", "invalid number" },
        { "{\"a\":\"\xff\"}", "UTF-8" },
        /* Past what fits a batch: ours. */
        { "{\"a\":{\"b\":[[{\"c\":[]}]]}}", "nested too deep for a batch" },
        { object_of(9000), "has too many values for a batch" },
        /* Past what crm_json_parse takes at all. */
        { "{\"a\":[[[[[[[[1]]]]]]]]}", "nesting too deep" },
        { object_of(10000), "too many values" },
    };
    for (size_t i = 0; i < CRM_NELEM(bad); i++) {
        const char *why = problem_of(bad[i].payload);
        ck_assert_msg(why != NULL, "payload %zu taken", i);
        /* Still readable: static, not in the scratch arena just freed. */
        ck_assert_msg(strstr(why, bad[i].want) != NULL, "payload %zu: '%s' lacks '%s'", i, why,
                      bad[i].want);
    }

    /* NULL is refused; the payload is read up to len, not to a NUL. */
    ck_assert_ptr_nonnull(crm_event_payload_problem(NULL, 0));
    ck_assert_ptr_null(crm_event_payload_problem("{}junk", 2));
    ck_assert_ptr_nonnull(crm_event_payload_problem("{}junk", 6));
    ck_assert_ptr_nonnull(crm_event_payload_problem("{}", 1));
}
END_TEST

static Suite *event_suite(void)
{
    Suite *s = suite_create("crm_event");

    TCase *tc = tcase_create("sign");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_sign_known_vectors);
    tcase_add_test(tc, test_sign_matches_reference);
    tcase_add_test(tc, test_verify_ok_and_tampering);
    tcase_add_test(tc, test_verify_missing_and_empty_key);
    tcase_add_test(tc, test_verify_signature_format);
    tcase_add_test(tc, test_verify_timestamp_format);
    tcase_add_test(tc, test_verify_skew);
    suite_add_tcase(s, tc);

    tc = tcase_create("uuid");
    tcase_add_test(tc, test_uuid_format_and_unique);
    suite_add_tcase(s, tc);

    tc = tcase_create("batch");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_batch_round_trip);
    tcase_add_test(tc, test_batch_json_shape);
    tcase_add_test(tc, test_batch_sizes);
    tcase_add_test(tc, test_batch_parse_envelope);
    tcase_add_test(tc, test_batch_parse_members);
    suite_add_tcase(s, tc);

    tc = tcase_create("checks");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_type_ok);
    tcase_add_test(tc, test_id_ok);
    tcase_add_test(tc, test_payload_problem);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    crm_log_init("test_crm_event", CRM_LOG_WARN);
    SRunner *sr = srunner_create(event_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
