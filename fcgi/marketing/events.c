/*
 * events.c - what marketing learns from the other services' events
 * (POST /internal/v1/events, through crm_inbox: signature, batch, inbox).
 *
 *   customer.created|updated  the customer's name, email, status and tags
 *   customer.deleted          erase name, email and tags; keep the metrics
 *   order.confirmed           the order counts in its customer's metrics
 *   order.cancelled           it no longer does
 *
 * Each event carries its aggregate's version: an event not newer than what
 * is held changes nothing, so a redelivery or a late, older event is
 * harmless (and the inbox skips a redelivery before that). A customer's
 * metrics change by exactly what the event changed in this schema's copy
 * of the order: +1 when it becomes counted, -1 when it stops being
 * counted, its total likewise when in the reporting currency.
 *
 * Most order events are an order's first: its INSERT succeeds, and one
 * upsert counts it for its customer (created when unknown). An order seen
 * before takes the careful path: the customer's row lock, then the order's
 * with its previous state, then the difference; first and last order times
 * are read again only when an order stops counting. An order's customer is
 * fixed once it leaves draft (sales), so every event of an order counts for
 * the same customer.
 */
#include "marketing.h"

#include "crm_api.h"
#include "crm_inbox.h"
#include "crm_json.h"

#include <string.h>

static const crm_field *member(const crm_fields *fs, const char *name, crm_field_type t)
{
    const crm_field *f = crm_fields_get(fs, name);
    return f != NULL && f->type == t ? f : NULL;
}

/* "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" as stored, or NULL when it is not that. */
static const char *iso_to_sql(crm_arena *a, const crm_field *f)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    if (f == NULL || f->type != CRM_FIELD_STRING || f->len < 20 || f->len > 27 ||
        f->str[f->len - 1] != 'Z')
        return NULL;
    for (size_t i = 0; i < sizeof(shape) - 1; i++) {
        char c = f->str[i];
        if (shape[i] == 'd' ? (c < '0' || c > '9') : c != shape[i])
            return NULL;
    }
    char *s = crm_arena_strndup(a, f->str, f->len - 1);
    s[10] = ' ';
    return s;
}

static int apply_customer(crm_db *db, crm_arena *a, const crm_event *ev, const crm_fields *fs,
                          const char *now)
{
    int applied = 0, rc;

    if (strcmp(ev->type, "customer.deleted") == 0) {
        rc = store_customer_erase(db, ev->aggregate_id, ev->aggregate_version, now, &applied);
        if (rc == CRM_OK && applied)
            rc = store_customer_tags(db, ev->aggregate_id, NULL, 0, 1);
        return rc;
    }
    const crm_field *name = member(fs, "name", CRM_FIELD_STRING);
    const crm_field *email = member(fs, "email", CRM_FIELD_STRING);
    const crm_field *status = member(fs, "status", CRM_FIELD_STRING);
    const crm_field *tags = member(fs, "tags", CRM_FIELD_ARRAY);
    if (name == NULL || email == NULL || status == NULL || tags == NULL)
        return CRM_INVALID;
    const char **t = crm_arena_alloc(a, sizeof(char *) * (tags->n + 1));
    for (size_t i = 0; i < tags->n; i++) {
        if (tags->items[i].type != CRM_FIELD_STRING || tags->items[i].len == 0 ||
            tags->items[i].len > 32)
            return CRM_INVALID;
        t[i] = tags->items[i].str;
    }
    rc = store_customer_put(db, ev->aggregate_id, name->str, email->str, status->str,
                            ev->aggregate_version, now, strcmp(ev->type, "customer.created") == 0,
                            &applied);
    if (rc == CRM_OK && applied != CUSTOMER_STALE)
        rc = store_customer_tags(db, ev->aggregate_id, t, tags->n, applied == CUSTOMER_UPDATED);
    return rc;
}

static int apply_order(crm_db *db, crm_arena *a, const crm_event *ev, const crm_fields *fs,
                       const char *now)
{
    int confirmed = strcmp(ev->type, "order.confirmed") == 0;
    const crm_field *cust = member(fs, "customer_id", CRM_FIELD_INT);
    const crm_field *total = member(fs, "total_cents", CRM_FIELD_INT);
    const crm_field *cur = member(fs, "currency", CRM_FIELD_STRING);
    const crm_field *camp = member(fs, "campaign_id", CRM_FIELD_INT);
    const crm_field *prev = member(fs, "previous_status", CRM_FIELD_STRING);
    const char *confirmed_at = iso_to_sql(a, crm_fields_get(fs, "confirmed_at"));
    int rc;

    if (cust == NULL || cust->i < 1 || total == NULL || total->i < 0 || total->i > MONEY_MAX ||
        cur == NULL || !crm_valid_is_currency(cur->str) || prev == NULL)
        return CRM_INVALID;
    if (confirmed && confirmed_at == NULL)
        return CRM_INVALID;
    /* A draft that was cancelled never counted: nothing to learn. */
    if (!confirmed && strcmp(prev->str, "draft") == 0)
        return CRM_OK;
    order_in in = {
        .id = ev->aggregate_id,
        .customer_id = cust->i,
        .campaign_id = camp ? camp->i : 0,
        .currency = cur->str,
        .total_cents = total->i,
        .counted = confirmed,
        .confirmed_at = confirmed_at,
        .version = ev->aggregate_version,
    };
    int64_t revenue_in = confirmed && strcmp(in.currency, mk_currency) == 0 ? in.total_cents : 0;

    /* The likely case, an order not seen before: two statements. */
    rc = store_order_insert(db, &in);
    if (rc == CRM_OK && confirmed)
        return store_customer_add(db, cust->i, revenue_in, confirmed_at, now);
    if (rc == CRM_OK) /* cancelled before its confirmation arrived: nothing counts */
        return store_customer_lock(db, cust->i, now);
    if (rc != CRM_DUP)
        return rc;

    /* Known: under the customer's lock, then the order's, see what changes. */
    if ((rc = store_customer_lock(db, cust->i, now)) != CRM_OK)
        return rc;
    order_held held;
    rc = store_order_put(db, &in, &held);
    if (rc == CRM_DUP)
        return CRM_OK; /* stale: a newer state of this order is held */
    if (rc != CRM_OK)
        return rc;
    int64_t orders = (in.counted ? 1 : 0) - (held.counted ? 1 : 0);
    int64_t revenue =
        revenue_in -
        (held.counted && strcmp(held.currency, mk_currency) == 0 ? held.total_cents : 0);
    if (in.counted && !held.counted)
        return store_customer_count(db, cust->i, revenue, in.confirmed_at, now);
    if (!in.counted && !held.counted)
        return CRM_OK;
    return store_customer_metrics(db, cust->i, orders, revenue, now);
}

int events_apply(crm_db *db, crm_arena *a, const crm_event *ev)
{
    int customer = strncmp(ev->type, "customer.", 9) == 0;
    int order =
        strcmp(ev->type, "order.confirmed") == 0 || strcmp(ev->type, "order.cancelled") == 0;
    crm_fields fs;
    const char *why = NULL;

    if (customer && strcmp(ev->type, "customer.created") != 0 &&
        strcmp(ev->type, "customer.updated") != 0 && strcmp(ev->type, "customer.deleted") != 0)
        customer = 0;
    if (!customer && !order)
        return CRM_OK; /* not ours to use: acknowledged */
    if (crm_json_parse(a, ev->payload, ev->payload_len, &fs, &why) != CRM_OK)
        return CRM_INVALID;
    const char *now = crm_api_now(a);
    return customer ? apply_customer(db, a, ev, &fs, now) : apply_order(db, a, ev, &fs, now);
}
