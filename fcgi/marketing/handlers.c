/*
 * handlers.c - the marketing service's worker state, the analytics
 * handlers and the events route. Campaigns are in campaigns.c, segments
 * in segments.c.
 */
#include "marketing.h"

#include "crm_api.h"
#include "crm_inbox.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define OUT_CAP        (16u << 20)
#define CURRENCIES_MAX 200

crm_db *mk_db;
crm_buf mk_out; /* response body, reused by every request of the worker */
const char *mk_currency;
static const char *event_key;

int marketing_worker_init(const crm_config *conf, crm_db *conn)
{
    mk_db = conn;
    mk_currency = conf->reporting_currency;
    event_key = conf->event_key;
    crm_buf_init(&mk_out, OUT_CAP);
    store_init();
    return CRM_OK;
}

void marketing_worker_done(void)
{
    crm_buf_free(&mk_out);
    mk_db = NULL;
}

int mk_db_error(crm_req *r, int rc)
{
    return crm_api_db_error(r, mk_db, rc);
}

int marketing_ping(crm_req *r)
{
    static const char body[] = "{\"status\":\"ok\"}";
    return crm_res_send(r, 200, CRM_API_JSON, body, sizeof(body) - 1);
}

int marketing_events(crm_req *r)
{
    return crm_inbox_receive(r, mk_db, event_key, events_apply);
}

/* ---- analytics ---- */

static void put_time(crm_buf *b, crm_arena *a, const char *stored)
{
    crm_api_put_str(b, stored ? crm_api_iso(a, stored) : NULL);
}

/* Whole days from a stored time to now (both "YYYY-MM-DD HH:MM:SS..."). */
static int64_t days_between(const char *from, const char *now)
{
    struct tm a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    if (sscanf(from, "%d-%d-%d %d:%d:%d", &a.tm_year, &a.tm_mon, &a.tm_mday, &a.tm_hour, &a.tm_min,
               &a.tm_sec) != 6 ||
        sscanf(now, "%d-%d-%d %d:%d:%d", &b.tm_year, &b.tm_mon, &b.tm_mday, &b.tm_hour, &b.tm_min,
               &b.tm_sec) != 6)
        return 0;
    a.tm_year -= 1900;
    b.tm_year -= 1900;
    a.tm_mon -= 1;
    b.tm_mon -= 1;
    time_t d = timegm(&b) - timegm(&a);
    return d > 0 ? (int64_t)(d / 86400) : 0;
}

/* "rfm":{...} of a customer's metrics, or null. */
void rfm_json(crm_buf *b, const rfm_cutoffs *cut, const mcustomer *c)
{
    if (!cut->valid || c->orders_count == 0 || c->last_order_at == NULL) {
        crm_buf_puts(b, "null");
        return;
    }
    int r = rfm_score_time(c->last_order_at, cut->r);
    int f = rfm_score_int(c->orders_count, cut->f);
    int m = rfm_score_int(c->revenue_cents, cut->m);
    crm_buf_printf(b, "{\"recency\":%d,\"frequency\":%d,\"monetary\":%d,\"code\":\"%d%d%d\"}", r, f,
                   m, r, f, m);
}

static void currency_rows_json(crm_buf *b, const currency_row *rows, size_t n)
{
    crm_buf_putc(b, '[');
    for (size_t i = 0; i < n; i++) {
        crm_buf_puts(b, i > 0 ? ",{\"currency\":" : "{\"currency\":");
        crm_api_put_str(b, rows[i].currency);
        crm_buf_printf(b, ",\"orders\":%lld,\"revenue_cents\":%lld}", (long long)rows[i].orders,
                       (long long)rows[i].revenue_cents);
    }
    crm_buf_putc(b, ']');
}

int analytics_customer(crm_req *r)
{
    crm_arena *a = crm_req_arena(r);
    currency_row rows[CURRENCIES_MAX];
    size_t n = 0;
    rfm_cutoffs cut;
    mcustomer c;
    int64_t id;
    int rc;

    if (crm_req_path_id(r, "id", &id) != CRM_OK)
        return crm_problem(r, 404, "marketing has not heard of this customer");
    rc = store_customer_get(mk_db, a, id, &c);
    if (rc == CRM_NOTFOUND)
        return crm_problem(r, 404, "marketing has not heard of this customer");
    if (rc == CRM_OK)
        rc = store_customer_revenue(mk_db, a, id, rows, CURRENCIES_MAX, &n);
    if (rc == CRM_OK)
        rc = store_rfm_get(mk_db, a, &cut);
    if (rc != CRM_OK)
        return mk_db_error(r, rc);

    crm_buf_reset(&mk_out);
    crm_buf_printf(&mk_out,
                   "{\"customer_id\":%lld,\"deleted\":%s,\"orders_count\":%lld,"
                   "\"revenue_cents\":%lld,\"reporting_currency\":",
                   (long long)c.id, c.deleted ? "true" : "false", (long long)c.orders_count,
                   (long long)c.revenue_cents);
    crm_api_put_str(&mk_out, mk_currency);
    crm_buf_puts(&mk_out, ",\"revenue_by_currency\":");
    currency_rows_json(&mk_out, rows, n);
    crm_buf_puts(&mk_out, ",\"first_order_at\":");
    put_time(&mk_out, a, c.first_order_at);
    crm_buf_puts(&mk_out, ",\"last_order_at\":");
    put_time(&mk_out, a, c.last_order_at);
    if (c.last_order_at != NULL)
        crm_buf_printf(&mk_out, ",\"days_since_last_order\":%lld",
                       (long long)days_between(c.last_order_at, crm_api_now(a)));
    else
        crm_buf_puts(&mk_out, ",\"days_since_last_order\":null");
    crm_buf_puts(&mk_out, ",\"rfm\":");
    rfm_json(&mk_out, &cut, &c);
    crm_buf_puts(&mk_out, ",\"rfm_computed_at\":");
    put_time(&mk_out, a, cut.computed_at);
    crm_buf_putc(&mk_out, '}');
    return crm_api_send(r, 200, &mk_out);
}

int analytics_rfm(crm_req *r)
{
    crm_arena *a = crm_req_arena(r);
    int64_t cells[25][2];
    rfm_cutoffs cut;
    int rc;

    if ((rc = store_rfm_get(mk_db, a, &cut)) == CRM_OK)
        rc = store_rfm_grid(mk_db, cells);
    if (rc != CRM_OK)
        return mk_db_error(r, rc);
    crm_buf_reset(&mk_out);
    crm_buf_puts(&mk_out, "{\"reporting_currency\":");
    crm_api_put_str(&mk_out, mk_currency);
    crm_buf_puts(&mk_out, ",\"computed_at\":");
    put_time(&mk_out, a, cut.computed_at);
    crm_buf_printf(&mk_out, ",\"customers\":%lld,\"cutoffs\":", (long long)cut.customers);
    if (cut.valid) {
        crm_buf_puts(&mk_out, "{\"recency\":[");
        for (int i = 0; i < 4; i++) {
            if (i > 0)
                crm_buf_putc(&mk_out, ',');
            put_time(&mk_out, a, cut.r[i]);
        }
        crm_buf_printf(&mk_out, "],\"frequency\":[%lld,%lld,%lld,%lld]", (long long)cut.f[0],
                       (long long)cut.f[1], (long long)cut.f[2], (long long)cut.f[3]);
        crm_buf_printf(&mk_out, ",\"monetary\":[%lld,%lld,%lld,%lld]}", (long long)cut.m[0],
                       (long long)cut.m[1], (long long)cut.m[2], (long long)cut.m[3]);
    } else {
        crm_buf_puts(&mk_out, "null");
    }
    crm_buf_puts(&mk_out, ",\"grid\":[");
    for (int i = 0; i < 25; i++)
        crm_buf_printf(&mk_out,
                       "%s{\"recency\":%d,\"frequency\":%d,\"customers\":%lld,"
                       "\"revenue_cents\":%lld}",
                       i > 0 ? "," : "", i / 5 + 1, i % 5 + 1, (long long)cells[i][0],
                       (long long)cells[i][1]);
    crm_buf_puts(&mk_out, "]}");
    return crm_api_send(r, 200, &mk_out);
}

int campaign_figures_get(crm_db *db, crm_arena *a, const campaign *c, campaign_figures *out)
{
    currency_row *rows = crm_arena_alloc(a, sizeof(*rows) * CURRENCIES_MAX);
    size_t n = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = store_campaign_revenue(db, a, c->id, rows, CURRENCIES_MAX, &n)) != CRM_OK)
        return rc;
    out->other = crm_arena_alloc(a, sizeof(*rows) * CURRENCIES_MAX);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(rows[i].currency, c->currency) == 0) {
            out->orders = rows[i].orders;
            out->revenue_cents = rows[i].revenue_cents;
        } else {
            out->other[out->n_other++] = rows[i];
        }
    }
    if (c->budget_cents > 0) {
        /* (revenue - cost) / cost to 4 decimals, half away from zero
           (printf alone rounds an exact half to even) */
        double roi =
            ((double)out->revenue_cents - (double)c->budget_cents) / (double)c->budget_cents;
        double q = round(roi * 10000.0) / 10000.0;
        out->has_roi = 1;
        out->roi = q == 0 ? 0.0 : q;
    }
    return CRM_OK;
}

int analytics_campaign(crm_req *r)
{
    crm_arena *a = crm_req_arena(r);
    campaign_figures fig;
    int64_t id;
    campaign c;
    int rc;

    if (crm_req_path_id(r, "id", &id) != CRM_OK)
        return crm_problem(r, 404, "no such campaign");
    rc = store_campaign_get(mk_db, a, id, 0, &c);
    if (rc == CRM_NOTFOUND)
        return crm_problem(r, 404, "no such campaign");
    if (rc == CRM_OK)
        rc = campaign_figures_get(mk_db, a, &c, &fig);
    if (rc != CRM_OK)
        return mk_db_error(r, rc);
    crm_buf_reset(&mk_out);
    crm_buf_printf(&mk_out, "{\"campaign_id\":%lld,\"currency\":", (long long)c.id);
    crm_api_put_str(&mk_out, c.currency);
    crm_buf_printf(&mk_out, ",\"orders\":%lld,\"revenue_cents\":%lld,\"cost_cents\":%lld,\"roi\":",
                   (long long)fig.orders, (long long)fig.revenue_cents, (long long)c.budget_cents);
    if (fig.has_roi)
        crm_buf_printf(&mk_out, "%.4f", fig.roi);
    else
        crm_buf_puts(&mk_out, "null");
    crm_buf_puts(&mk_out, ",\"other_currencies\":");
    currency_rows_json(&mk_out, fig.other, fig.n_other);
    crm_buf_putc(&mk_out, '}');
    return crm_api_send(r, 200, &mk_out);
}
