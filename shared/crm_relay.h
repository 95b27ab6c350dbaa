/*
 * crm_relay.h - the event relay of a producing service: delivers the events
 * of its outbox, in order, to each subscriber's POST /internal/v1/events
 * through NGINX's internal listener, signed with HMAC-SHA256.
 *
 * It runs as the pool's sidecar process (crm_pool_spec.sidecar). Any number
 * of pods may run one: the relay that holds the MySQL named lock
 * "crm_relay.<schema>" delivers, the others wait to take over. Each round
 * it first numbers the events committed since the last one
 * (crm_outbox_sequence: in the order they became visible, so that a cursor
 * skips none). Each subscriber has its own cursor on those numbers
 * (outbox_cursors), advanced only after the subscriber acknowledged a
 * batch, so an event is delivered at least once and never skipped;
 * consumers make the effect exactly-once (inbox). Batches due to several
 * subscribers go out at once (one thread each for the HTTP call; the
 * database work stays in the relay's own thread): a round takes as long
 * as its slowest delivery, not the sum of them, and a subscriber that is
 * down (failing fast, then backing off) costs the others nothing.
 * A failed delivery is retried with capped exponential backoff and jitter,
 * forever: events are never dropped. Pending count, age of the oldest,
 * deliveries, failures and attempts go to /metrics on the admin port.
 */
#ifndef CRM_RELAY_H
#define CRM_RELAY_H

#include "crm_config.h"

#define CRM_RELAY_BACKOFF_MIN_MS 100
#define CRM_RELAY_BACKOFF_MAX_MS 30000

/*
 * Run until crm_pool_stopping(). subscribers: NULL-terminated service
 * names; subscriber S is reached at conf->internal_url with "Host:
 * S.internal". Returns the process exit status (0 when stopped).
 */
int crm_relay_run(const crm_config *conf, const char *service, const char *const *subscribers);

/*
 * The delay before retry number `failures` (1, 2, ...): between half and
 * all of d = min(MAX, MIN x 2^(failures-1)), placed by `jitter` (a random
 * number in [0, 1)), so relays that failed together do not retry together.
 * Exposed for tests.
 */
long crm_relay_backoff_ms(unsigned failures, double jitter);

#endif
