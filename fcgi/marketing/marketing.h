/*
 * marketing.h - what the marketing service's handlers, rules, events and
 * store share.
 */
#ifndef MARKETING_H
#define MARKETING_H

#include "crm_api.h"
#include "crm_arena.h"
#include "crm_buf.h"
#include "crm_config.h"
#include "crm_db.h"
#include "crm_event.h"
#include "crm_router.h"
#include "crm_valid.h"

#define MONEY_MAX   INT64_C(9007199254740991) /* 2^53 - 1, as sales */
#define TX_ATTEMPTS 3                         /* deadlocks are retried this many times */

/* ---- RFM (rfm.c) ---- */

/*
 * Quintile cut-offs over the customers with orders: c[0..3] ascending.
 * r: last_order_at as stored ("YYYY-MM-DD HH:MM:SS.ffffff"); f: orders;
 * m: revenue in the reporting currency. valid = 0 before the first
 * refresh (no customer with orders): every score is then absent.
 */
typedef struct {
    int valid;
    int64_t customers;
    const char *r[4];
    int64_t f[4];
    int64_t m[4];
    const char *computed_at; /* as stored, or NULL */
} rfm_cutoffs;

/* 1 + the number of cut-offs v is strictly greater than. */
int rfm_score_int(int64_t v, const int64_t c[4]);
int rfm_score_time(const char *v, const char *const c[4]);
/* The sidecar: recompute cut-offs and grid when metrics changed. */
int rfm_refresher_run(const crm_config *conf);

/* ---- rules.c: segment rules ---- */

typedef struct {
    int is_str;
    int64_t i;
    const char *s;
} rule_bind;

/* Groups in groups: 3 levels. A JSON body allows 8 nested containers
   (crm_json): a rule 3 groups deep fits, with an in-list only in the
   first two levels (the body, the rule and each group's array count). */
#define RULE_DEPTH_MAX      3
#define RULE_ITEMS_MAX      20
#define RULE_CONDITIONS_MAX 50
#define RULE_VALUES_MAX     100
#define RULE_BINDS_MAX      1024

typedef struct {
    const char *sql;  /* a condition on customers c, with ? placeholders */
    rule_bind *binds; /* values, in placeholder order */
    size_t n_binds;
    const char *json; /* the canonical JSON of the rule */
} rule_sql;

/*
 * Check the rule (a JSON object) and compile it. Problems go to v, named
 * from prefix ("rule", "rule.all[2].op"). cut: the cut-offs the score
 * fields compare with; now: the time "days since" counts from, as stored
 * ("YYYY-MM-DD HH:MM:SS.ffffff"). CRM_OK or CRM_INVALID.
 */
int rule_compile(crm_arena *a, const crm_field *rule, const char *prefix, const rfm_cutoffs *cut,
                 const char *now, crm_valid *v, rule_sql *out);
/* Bind out's values into st from placeholder i on; returns the next index. */
unsigned rule_bind_all(crm_stmt *st, unsigned i, const rule_sql *rs);
/* The fields and operators a condition takes, NULL-terminated. */
extern const char *const rule_fields[];
extern const char *const rule_ops[];

/* ---- ruleform.c: the segment pages' rule builder ---- */

/*
 * A form cannot send a JSON object: the segment pages send a rule as rows,
 *   rule.match = all | any
 *   rule.conditions[i].field, rule.conditions[i].op, rule.conditions[i].value
 * (i < RULE_FORM_ROWS). A value is text: an integer for the numeric fields,
 * comma-separated items for in and not_in. At 3 fields a row, 16 rows with
 * the match, name, description and a form's control fields stay within a
 * form body's 64 fields (crm_body.h).
 */
#define RULE_FORM_ROWS  16
#define RULE_FORM_SHOWN 4 /* the rows a new rule offers without JavaScript */

typedef struct {
    size_t rows[RULE_FORM_ROWS]; /* rows[k]: the form row of the rule's k-th condition */
    size_t n;
} rule_form_map;

/* 1 when name is one of the builder's fields. */
int rule_form_name(const char *name);
/*
 * The rule the builder's fields of a form describe, as the JSON object
 * rule_compile reads ({"all": [...]}, in the arena), rows without field
 * and value left out; map says which row each condition came from.
 * Mistakes only the form can make go to v under the row's names. Returns
 * 0 (nothing set) when fs is not a form or has no builder field.
 */
int rule_form_read(crm_arena *a, const crm_fields *fs, crm_valid *v, crm_field *rule,
                   rule_form_map *map);
/* Give v's errors from index `from` on that name the compiled rule's places
   ("rule.all[2].value") the names of the rows' fields ("rule.conditions[5].value"). */
void rule_form_rename(crm_arena *a, crm_valid *v, size_t from, const rule_form_map *map);

/* ---- campaigns (campaigns.c): the life cycle ---- */

typedef enum {
    CAMPAIGN_DRAFT,
    CAMPAIGN_SCHEDULED,
    CAMPAIGN_ACTIVE,
    CAMPAIGN_PAUSED,
    CAMPAIGN_COMPLETED,
    CAMPAIGN_NSTATUS
} campaign_status;
typedef enum {
    CACT_SCHEDULE,
    CACT_ACTIVATE,
    CACT_PAUSE,
    CACT_RESUME,
    CACT_COMPLETE,
    CACT_N
} campaign_action;

/* email, sms, ...: NULL-terminated. */
extern const char *const campaign_channels[];

const char *campaign_status_name(campaign_status s);
int campaign_status_parse(const char *s, campaign_status *out);
const char *campaign_action_name(campaign_action a);
/* CRM_OK with *to set, or CRM_CONFLICT when act is not allowed from `from`. */
int campaign_transition(campaign_status from, campaign_action act, campaign_status *to);

/* ---- rows (strings in the request arena) ---- */

typedef struct {
    int64_t id;
    const char *name;
    const char *description;
    const char *channel;
    campaign_status status;
    int64_t budget_cents;
    const char *currency;
    const char *starts_at; /* as stored, or NULL */
    const char *ends_at;
    int64_t segment_id; /* 0: none */
    int64_t version;
    const char *created_at; /* ISO */
    const char *updated_at;
    const char *sort_value; /* lists only */
} campaign;

typedef struct {
    int64_t id;
    const char *name;
    const char *description;
    const char *rule; /* canonical JSON */
    int64_t version;
    const char *created_at;
    const char *updated_at;
    const char *sort_value;
} segment;

typedef struct {
    int64_t id;
    const char *name;
    const char *email;
    const char *status;
    int deleted;
    int64_t version;
    int64_t orders_count;
    int64_t revenue_cents;
    const char *first_order_at; /* as stored, or NULL */
    const char *last_order_at;
} mcustomer;

typedef struct {
    const char *currency;
    int64_t orders;
    int64_t revenue_cents;
} currency_row;

/* What a campaign brought (handlers.c), as GET /analytics/campaigns/{id}
   reports it: orders attributed to it in its own currency against its budget. */
typedef struct {
    int64_t orders;
    int64_t revenue_cents;
    int has_roi;         /* 0: no budget, no ROI */
    double roi;          /* (revenue - budget) / budget, to 4 decimals */
    currency_row *other; /* attributed in other currencies: not in the ROI */
    size_t n_other;
} campaign_figures;

int campaign_figures_get(crm_db *db, crm_arena *a, const campaign *c, campaign_figures *out);

/* Counted orders of one currency and UTC day ("YYYY-MM-DD"). */
typedef struct {
    const char *currency;
    const char *day;
    int64_t orders;
    int64_t revenue_cents;
} day_row;

enum { SORT_CREATED_DESC, SORT_CREATED_ASC, SORT_NAME_ASC, SORT_NAME_DESC, SORT_COUNT };
extern const char *const list_sorts[SORT_COUNT + 1];

void store_init(void);

typedef struct {
    int sort;
    const char *status;  /* campaigns: NULL any */
    const char *channel; /* campaigns */
    int64_t segment;     /* campaigns: 0 any */
    int after;
    const char *after_value;
    int64_t after_id;
    int limit;
} list_filter;

/* f's sort, cursor and limit (one more row than shown) from l. */
void list_filter_from(list_filter *f, const crm_api_list *l);
/*
 * The campaigns list's query (the API's and the page's): crm_api_list
 * parameters and the status, channel and segment filters into f and l;
 * each problem appended to errs[*ne] (room for 7). form: an empty value
 * means "any" (a GET form sends every field).
 */
void campaigns_filter(crm_req *r, int form, list_filter *f, crm_api_list *l, crm_field_error *errs,
                      size_t *ne);

/* ---- handlers; routes in main.c ---- */

int marketing_ping(crm_req *r);
int campaigns_list(crm_req *r);
int campaigns_create(crm_req *r);
int campaigns_get(crm_req *r);
int campaigns_patch(crm_req *r);
int campaigns_delete(crm_req *r);
int campaigns_schedule(crm_req *r);
int campaigns_activate(crm_req *r);
int campaigns_pause(crm_req *r);
int campaigns_resume(crm_req *r);
int campaigns_complete(crm_req *r);
int segments_list(crm_req *r);
int segments_create(crm_req *r);
int segments_get(crm_req *r);
int segments_patch(crm_req *r);
int segments_delete(crm_req *r);
int segments_members(crm_req *r);
int segments_preview(crm_req *r);
int analytics_customer(crm_req *r);
int analytics_rfm(crm_req *r);
int analytics_campaign(crm_req *r);
int marketing_events(crm_req *r);

/* The stored rule of s compiled against cut (segments.c): CRM_OK or CRM_ERR. */
int segments_stored_rule(crm_req *r, const segment *s, const rfm_cutoffs *cut, rule_sql *rs);

/* Pages for browsers (pages.c, charts.c); the same roles as the API's. */
#define MK_WRITERS (CRM_ROLE_ADMIN | CRM_ROLE_MARKETING)
int campaigns_page_list(crm_req *r);
int campaigns_page_new(crm_req *r);
int campaigns_page_show(crm_req *r);
int segments_page_list(crm_req *r);
int segments_page_new(crm_req *r);
int segments_page_show(crm_req *r);
int dashboard_page(crm_req *r);
/* A cell's column named inside it, for narrow screens where a stacked
   table hides its header (style.css shows it there only). */
#define PAGE_CELL_LABEL(text) "<span class=\"cell-label\">" text ": </span>"
/* A campaign's ROI as a page shows it: "+12.5 %", or "none" without a budget. */
void pages_roi(crm_buf *b, const campaign_figures *f);

int marketing_worker_init(const crm_config *conf, crm_db *db);
void marketing_worker_done(void);

/* Worker state (handlers.c). */
extern crm_db *mk_db;
extern crm_buf mk_out;
extern const char *mk_currency; /* CRM_REPORTING_CURRENCY */
int mk_db_error(crm_req *r, int rc);
/* "rfm":{...} of a customer's metrics against cut, or null. */
void rfm_json(crm_buf *b, const rfm_cutoffs *cut, const mcustomer *c);
/* 1 for an ISO 4217 code (sales' table: pricing.c). */
int crm_valid_is_currency(const char *code);

/* ---- events.c ---- */

/* Apply one event inside the inbox's transaction (crm_inbox_apply). */
int events_apply(crm_db *db, crm_arena *a, const crm_event *ev);

/* ---- store.c: every fixed SQL statement. CRM_OK, CRM_NOTFOUND, CRM_DUP,
   CRM_CONFLICT (deadlock), CRM_GONE, CRM_ERR. ---- */

#define STORE_IN_USE 3

int store_campaign_get(crm_db *db, crm_arena *a, int64_t id, int for_update, campaign *out);
int store_campaign_insert(crm_db *db, const campaign *c, const char *now, int64_t *id);
int store_campaign_update(crm_db *db, const campaign *c, const char *now);
int store_campaign_set_status(crm_db *db, int64_t id, campaign_status s, const char *now);
int store_campaign_delete(crm_db *db, int64_t id);
int store_campaign_list(crm_db *db, crm_arena *a, const list_filter *f, campaign *rows, size_t *n);
int store_campaign_count(crm_db *db, const list_filter *f, int64_t *count);
/* Orders and revenue of the campaign, per currency. */
int store_campaign_revenue(crm_db *db, crm_arena *a, int64_t id, currency_row *rows, size_t max,
                           size_t *n);
/* Counted orders confirmed at or after since (as stored), per currency and
   UTC day, by currency then day; at most max rows. */
int store_revenue_by_day(crm_db *db, crm_arena *a, const char *since, day_row *rows, size_t max,
                         size_t *n);

int store_segment_get(crm_db *db, crm_arena *a, int64_t id, int for_update, segment *out);
/* 1 in *exists when the segment exists (locks it in share mode). */
int store_segment_exists(crm_db *db, int64_t id, int *exists);
int store_segment_insert(crm_db *db, const segment *s, const char *now, int64_t *id);
int store_segment_update(crm_db *db, const segment *s, const char *now);
/* STORE_IN_USE when a campaign targets it. */
int store_segment_delete(crm_db *db, int64_t id);
int store_segment_list(crm_db *db, crm_arena *a, const list_filter *f, segment *rows, size_t *n);
int store_segment_count(crm_db *db, const list_filter *f, int64_t *count);

int store_rfm_get(crm_db *db, crm_arena *a, rfm_cutoffs *out);
/* cells[(r-1)*5 + (f-1)] = {customers, revenue} */
int store_rfm_grid(crm_db *db, int64_t cells[25][2]);

int store_customer_get(crm_db *db, crm_arena *a, int64_t id, mcustomer *out);
/* Segment members: live customers for which rs holds, id > after, by id. */
int store_members(crm_db *db, crm_arena *a, const rule_sql *rs, int64_t after, int limit,
                  mcustomer *rows, size_t *n);
int store_members_count(crm_db *db, const rule_sql *rs, int64_t *count);

/* The refresher (rfm.c). */
int store_rfm_state(crm_db *db, crm_arena *a, const char **changed_at, const char **seen_at,
                    const char **computed_at);
int store_rfm_customers(crm_db *db, int64_t *n);
/* The value at 1-based position pos of dimension 'r', 'f' or 'm'. */
int store_rfm_value(crm_db *db, crm_arena *a, char dim, int64_t pos, const char **r, int64_t *v);
int store_rfm_compute_grid(crm_db *db, const rfm_cutoffs *cut, int64_t cells[25][2]);
int store_rfm_save(crm_db *db, const rfm_cutoffs *cut, int64_t cells[25][2], const char *seen_at,
                   const char *now);
int store_customer_revenue(crm_db *db, crm_arena *a, int64_t id, currency_row *rows, size_t max,
                           size_t *n);

/* Events. A customer event: *applied says what became of it. */
enum { CUSTOMER_STALE, CUSTOMER_INSERTED, CUSTOMER_UPDATED };
int store_customer_put(crm_db *db, int64_t id, const char *name, const char *email,
                       const char *status, int64_t version, const char *now, int created,
                       int *applied);
int store_customer_erase(crm_db *db, int64_t id, int64_t version, const char *now, int *applied);
/* Set the customer's tags; clear: remove the ones it had first. */
int store_customer_tags(crm_db *db, int64_t id, const char *const *tags, size_t n, int clear);
typedef struct {
    int64_t id;
    int64_t customer_id;
    int64_t campaign_id; /* 0: none */
    const char *currency;
    int64_t total_cents;
    int counted;              /* confirmed: in the metrics */
    const char *confirmed_at; /* as stored, or NULL */
    int64_t version;
} order_in;

typedef struct {
    int exists;
    int64_t version;
    int counted;
    char currency[4];
    int64_t total_cents;
} order_held;

/* A order not seen before: CRM_DUP when it was. */
int store_order_insert(crm_db *db, const order_in *in);
/* A new order that counts: its customer gets one more order, revenue
   added, at widening first..last; the row is created when missing. */
int store_customer_add(crm_db *db, int64_t id, int64_t revenue, const char *at, const char *now);
/* Write the order unless the copy held is as new (CRM_DUP: stale);
   held says what the copy was before. */
int store_order_put(crm_db *db, const order_in *in, order_held *held);
/* Lock the customer row (created, version 0, when missing). */
int store_customer_lock(crm_db *db, int64_t id, const char *now);
/* An order of the customer started counting: one more order, revenue
   added, its confirmation time at (as stored) widens first..last. */
int store_customer_count(crm_db *db, int64_t id, int64_t revenue, const char *at, const char *now);
/* Any other change: add orders and revenue (negative to remove); first and
   last order times are read again from its counted orders. */
int store_customer_metrics(crm_db *db, int64_t id, int64_t orders, int64_t revenue,
                           const char *now);

#endif
