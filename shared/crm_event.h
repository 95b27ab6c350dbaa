/*
 * crm_event.h - reliable events between services: the event, its signed
 * batch envelope, and the checks both ends make. The producer writes an
 * event into its outbox table in the same transaction as the change that
 * caused it (crm_outbox.h); a dispatcher reads the outbox in id order
 * after a per-subscriber cursor and POSTs batches, signed with
 * HMAC-SHA256 over "<timestamp>.<body>". The consumer verifies the
 * signature, and applies each event in its own transaction after claiming
 * its id in the inbox table (crm_inbox.h), so a redelivered event is
 * acknowledged and changes nothing. Delivery is at least once; the inbox
 * makes applying it exactly once.
 *
 * Nothing here touches a database.
 */
#ifndef CRM_EVENT_H
#define CRM_EVENT_H

#include "crm.h"
#include "crm_arena.h"
#include "crm_buf.h"

/* Headers a delivery carries. */
#define CRM_EVENT_TS_HEADER  "X-CRM-Timestamp" /* unix seconds, decimal */
#define CRM_EVENT_SIG_HEADER "X-CRM-Signature" /* "v1=" + 64 lower-case hex */
#define CRM_EVENT_MAX_SKEW   300               /* seconds either way */
#define CRM_EVENT_BATCH_MAX  100               /* events in one delivery */

#define CRM_EVENT_TYPE_MAX       64 /* bytes of a type, [a-z._] */
#define CRM_EVENT_SOURCE_MAX     32 /* bytes of a source, [a-z0-9_-] */
#define CRM_EVENT_SUBSCRIBER_MAX 32 /* bytes of a subscriber name */
/* The largest aggregate_version (its column is INT UNSIGNED). */
#define CRM_EVENT_VERSION_MAX 4294967295LL
/*
 * A payload sits at depth 4 of a batch ({"events":[{"payload":{...}}]}),
 * and a batch is parsed with CRM_JSON_MAX_DEPTH (8) levels and at most
 * 10000 values, so a payload may nest 5 levels (itself included) and hold
 * at most CRM_EVENT_PAYLOAD_MAX_VALUES values: one event always fits a
 * batch. Several big events may not: the relay keeps a batch body under
 * 512 KiB, and when a receiver answers 400 or 413 to several events it
 * sends half as many at a time.
 */
#define CRM_EVENT_PAYLOAD_MAX_DEPTH  5
#define CRM_EVENT_PAYLOAD_MAX_VALUES 9000

/*
 * HMAC-SHA256(key, "<ts>.<body>") as "v1=" + 64 lower-case hex + NUL
 * into out (68 bytes). body may be NULL when len is 0.
 */
void crm_event_sign(const char *key, size_t key_len, long long ts, const char *body, size_t len,
                    char out[68]);

/*
 * Check a delivery. ts_header: 1 to 18 decimal digits, no sign, no
 * leading zero. sig_header: "v1=" + exactly 64 lower-case hex digits
 * (upper case is refused: we only ever send lower case, and one spelling
 * per signature keeps the check simple). Either header may be NULL
 * (missing).
 *   CRM_OK        authentic and fresh;
 *   CRM_INVALID   a header missing or malformed, an empty key, or a
 *                 signature that does not match (compared in constant
 *                 time) - answer 401/400;
 *   CRM_CONFLICT  authentic but the timestamp is more than max_skew
 *                 seconds from now, either way (exactly max_skew is fine).
 * The signature is checked before the time, so CRM_CONFLICT is only ever
 * said to the key holder. Logs nothing (never the key).
 */
int crm_event_verify(const char *key, size_t key_len, const char *ts_header, const char *sig_header,
                     const char *body, size_t len, long long now, long max_skew);

/* A random UUID v4 (RAND_bytes) as 36 lower-case characters + NUL. */
void crm_event_uuid(char out[37]);

/* An event as stored and sent. Strings are borrowed or in an arena. */
typedef struct {
    int64_t seq;               /* outbox id (order of delivery); 0 on the consumer side */
    const char *id;            /* UUID, lower case */
    const char *type;          /* "customer.created" */
    int64_t aggregate_id;      /* >= 1 */
    int64_t aggregate_version; /* 1 .. UINT32_MAX */
    const char *occurred_at;   /* ISO 8601 UTC "2026-11-27T12:00:00.000000Z" */
    const char *source;        /* producing service, "customers" */
    const char *payload;       /* JSON object text */
    size_t payload_len;
} crm_event;

/*
 * Append the envelope of ev[0..n) to b:
 * {"events":[{"id","type","aggregate_id","aggregate_version",
 * "occurred_at","source","payload":{...}},...]}
 * The payload goes in verbatim (the producer wrote it as JSON; an empty
 * one is written as {}); a NULL string member is written as "". If b's
 * cap is reached, b is put back to its length on entry (check b->len).
 */
void crm_event_batch_json(crm_buf *b, const crm_event *ev, size_t n);

/*
 * Parse a delivery body (strictly, by crm_json_parse): an object whose
 * "events" is an array of at most CRM_EVENT_BATCH_MAX objects, each with
 * every member above, typed and checked (id a lower-case UUID, type 1..64
 * of [a-z._], source 1..32 of [a-z0-9_-], occurred_at as crm_event says,
 * payload an object). Unknown members are ignored, so a producer may add
 * one before its consumers know it. Each payload is re-serialised
 * compactly from the parsed tree (same members, order and number text).
 * CRM_OK with *ev (arena; seq 0) and *n, or CRM_INVALID with *why (words
 * fit for a 400, naming the event by index; static or in the arena);
 * *ev and *n untouched on failure.
 */
int crm_event_batch_parse(crm_arena *a, const char *body, size_t len, crm_event **ev, size_t *n,
                          const char **why);

/*
 * Checks shared by the producer (crm_outbox_add), the consumer
 * (crm_inbox_claim) and crm_event_batch_parse, so that what one end
 * accepts the other does too. Each reads s[0..n) (no NUL needed; s may be
 * NULL when n is 0), allocates nothing and logs nothing.
 *   crm_event_type_ok  1 when s is 1..CRM_EVENT_TYPE_MAX of [a-z._], else 0;
 *   crm_event_id_ok    1 when s is a UUID as 8-4-4-4-12 lower-case hex
 *                      digits (any version, as crm_event_uuid writes v4),
 *                      else 0.
 */
int crm_event_type_ok(const char *s, size_t n);
int crm_event_id_ok(const char *s, size_t n);

/*
 * NULL when payload[0..len) is a JSON object (strictly, as crm_json_parse
 * takes it) that fits a batch: at most CRM_EVENT_PAYLOAD_MAX_DEPTH levels
 * and CRM_EVENT_PAYLOAD_MAX_VALUES values (itself included). Else a static
 * string saying why, fit for a log line (it never quotes the payload). A
 * NULL payload is refused. Parses in a scratch arena of its own, freed
 * before it returns; logs nothing.
 */
const char *crm_event_payload_problem(const char *payload, size_t len);

#endif
