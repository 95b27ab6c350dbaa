/*
 * crm_inbox.h - the receiving end of events: POST /internal/v1/events.
 * The signature is checked (401), the batch parsed (400), and each event
 * applied after its id is claimed in the inbox table (crm_inbox_claim
 * below), in the same transaction, so a redelivered event is acknowledged
 * and changes nothing. A batch is applied in one transaction; when that
 * fails, it is applied again event by event, each in its own, so that the
 * events before a bad one are kept and the answer names the failure.
 */
#ifndef CRM_INBOX_H
#define CRM_INBOX_H

#include "crm_db.h"
#include "crm_event.h"
#include "crm_req.h"

/*
 * Apply one event inside the open transaction: CRM_OK (also for an event
 * the service ignores), CRM_CONFLICT (deadlock: the event is retried),
 * CRM_INVALID (an event this service cannot use: the batch is refused
 * with 422 and the relay keeps retrying it, so nothing is skipped
 * silently) or another crm_db status (503).
 */
typedef int (*crm_inbox_apply)(crm_db *db, crm_arena *a, const crm_event *ev);

/*
 * Answer the request: 401 for a bad or missing signature or a stale
 * timestamp, 400 for a malformed batch, 200 {"applied":N,"duplicates":M}
 * when every event was applied now or before, 422/503/500 when one could
 * not be (events before it stay applied; the relay sends the batch again
 * and the inbox skips those). key: CRM_EVENT_KEY (NULL: every delivery is
 * refused). Returns the status sent.
 */
int crm_inbox_receive(crm_req *r, crm_db *db, const char *key, crm_inbox_apply apply);

/*
 * In the caller's open transaction: record event_id in the inbox table,
 *   inbox(event_id CHAR(36) ascii PK, type VARCHAR(64), received_at
 *         DATETIME(6) DEFAULT CURRENT_TIMESTAMP(6))
 * (the consumer's schema; the statement uses crm_db key 508). CRM_OK the
 * first time (apply the event), CRM_DUP when it was recorded before
 * (acknowledge, change nothing), CRM_INVALID when event_id is not a
 * lower-case UUID or type not 1..64 of [a-z._] (crm_event_id_ok,
 * crm_event_type_ok), else the crm_db status. A concurrent claim of the
 * same id waits for this transaction: it gets CRM_DUP after a commit and
 * CRM_OK after a rollback.
 */
int crm_inbox_claim(crm_db *db, const char *event_id, const char *type);

#endif
