/*
 * crm_outbox.h - the producing end of events (crm_event.h): an event is
 * written into the outbox table in the same transaction as the change
 * that caused it, and a dispatcher (crm_relay.c) reads it back in seq
 * order after a per-subscriber cursor it moves once a batch is
 * acknowledged.
 *
 * Why seq and not id: ids are handed out when a row is inserted, but
 * transactions commit in another order. A reader that moved its cursor
 * past id 12 would never see id 11 if 11 committed after 12 was read.
 * So the dispatcher numbers events itself, in a second step, once they
 * are committed (crm_outbox_sequence): seq only ever grows in the order
 * events became visible, and a cursor on seq skips nothing. Two events of
 * one aggregate keep their order: the second one's transaction waited for
 * the first one's row lock, so the first committed, and is numbered,
 * first.
 *
 * Tables (the producer's schema; the statements use crm_db keys 500-504
 * and 509-511):
 *   outbox(id BIGINT UNSIGNED AUTO_INCREMENT PK, event_id CHAR(36) ascii
 *          UNIQUE, type VARCHAR(64), aggregate_id BIGINT UNSIGNED,
 *          aggregate_version INT UNSIGNED, occurred_at DATETIME(6),
 *          payload MEDIUMTEXT, seq BIGINT UNSIGNED NULL UNIQUE)
 *   outbox_cursors(subscriber VARCHAR(32) PK, last_id BIGINT UNSIGNED NOT
 *          NULL DEFAULT 0, updated_at DATETIME(6))
 */
#ifndef CRM_OUTBOX_H
#define CRM_OUTBOX_H

#include "crm_arena.h"
#include "crm_db.h"
#include "crm_event.h"

/*
 * In the caller's open transaction: insert one event with a new UUID.
 * occurred_sql is the time of the change as "YYYY-MM-DD HH:MM:SS.ffffff"
 * UTC. payload must be a JSON object (as crm_json_parse takes it) within
 * CRM_EVENT_PAYLOAD_MAX_DEPTH/_VALUES, type 1..64 of [a-z._],
 * aggregate_id >= 1 and aggregate_version 1..CRM_EVENT_VERSION_MAX: an
 * event the consumers would refuse would block its subscribers forever,
 * so it is refused here with CRM_INVALID (logged). Otherwise CRM_OK or
 * the crm_db status (CRM_ERR for a malformed occurred_sql).
 */
int crm_outbox_add(crm_db *db, const char *type, int64_t aggregate_id, int64_t aggregate_version,
                   const char *occurred_sql, const char *payload, size_t len);

/*
 * Number the committed events that have no seq yet, oldest id first, up
 * to max of them: MAX(seq) + 1, + 2 ... In its own short transaction at
 * READ COMMITTED; rows of transactions still open are skipped (SKIP
 * LOCKED) and numbered by a later call once committed. Only one caller at
 * a time (the relay holding its lock). CRM_OK with *n numbered, else the
 * crm_db status (rolled back).
 */
int crm_outbox_sequence(crm_db *db, size_t max, size_t *n);

/*
 * Read up to max numbered events with seq > after, in seq order, into
 * ev[0..max) (ev->seq is the event's seq).
 * CRM_OK with *n (0..max), strings in arena a; source is NULL (the outbox
 * does not store it: the dispatcher sets its own service name). Else the
 * crm_db status, *n untouched.
 */
int crm_outbox_fetch(crm_db *db, crm_arena *a, int64_t after, size_t max, crm_event *ev, size_t *n);

/*
 * Delivery cursors per subscriber (1..CRM_EVENT_SUBSCRIBER_MAX bytes).
 * get: CRM_OK with *last, 0 when the subscriber has no row yet (no lock
 * is taken: a dispatcher that must run alone holds a crm_db_lock).
 * set: upsert; the cursor never moves back (a smaller last is ignored).
 * Both: CRM_INVALID for a bad subscriber or a negative last, else the
 * crm_db status.
 */
int crm_outbox_cursor_get(crm_db *db, const char *subscriber, int64_t *last);
int crm_outbox_cursor_set(crm_db *db, const char *subscriber, int64_t last);

/*
 * What subscriber has yet to receive: the number of events after its
 * cursor or not numbered yet, and the age in seconds of the oldest of them by occurred_at
 * (0 when none; never negative). CRM_OK, CRM_INVALID or the crm_db status.
 */
int crm_outbox_pending(crm_db *db, const char *subscriber, int64_t *count, double *oldest_age);

#endif
