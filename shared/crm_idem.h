/*
 * crm_idem.h - Idempotency-Key for POST. The key is claimed by inserting
 * it into the service's idempotency_keys table inside the same transaction
 * as the change, so a retry either waits for the first attempt to commit
 * and then replays its stored response, or (if the first rolled back)
 * runs afresh. Keys are scoped per route and per user (the caller's id,
 * crm_auth.h), and kept CRM_IDEM_TTL_HOURS.
 *
 * Table (each service's schema): idempotency_keys(scope, idem_key,
 * request_hash, status, location, etag, body, created_at).
 */
#ifndef CRM_IDEM_H
#define CRM_IDEM_H

#include "crm_db.h"
#include "crm_req.h"

#define CRM_IDEM_TTL_HOURS 24
#define CRM_IDEM_KEY_MAX   255

typedef struct {
    const char *scope; /* route and user, e.g. "customers.create@7" */
    const char *key;   /* NULL: no Idempotency-Key sent */
    char hash[65];     /* SHA-256 of the request, lower-case hex */
    /* filled by crm_idem_claim when replaying */
    int replay;
    int status;
    const char *location;
    const char *etag;
    const char *body;
    size_t body_len;
} crm_idem;

/*
 * Read the Idempotency-Key header of r and hash the request (method, path,
 * content type, body). CRM_OK (idem->key NULL when there is no header) or
 * CRM_INVALID when the key is malformed (empty, too long, not visible
 * ASCII): the caller answers 400.
 */
int crm_idem_init(crm_idem *idem, crm_req *r, const char *scope);

/*
 * In an open transaction: claim the key (nothing to do without one).
 * CRM_OK with idem->replay 0 (go ahead) or 1 (answer with crm_idem_replay);
 * CRM_INVALID when the key was used for a different request (422);
 * CRM_CONFLICT (deadlock: retry), CRM_GONE or CRM_ERR.
 */
int crm_idem_claim(crm_idem *idem, crm_db *db, crm_arena *a);

/* In the same transaction, after the change: store the response. */
int crm_idem_store(crm_idem *idem, crm_db *db, int status, const char *location, const char *etag,
                   const char *body, size_t len);

/* Send the stored response again, marked Idempotent-Replayed: true. */
int crm_idem_replay(crm_idem *idem, crm_req *r);

#endif
