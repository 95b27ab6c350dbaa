/*
 * customers.h - what the customers service's handlers and store share.
 */
#ifndef CUSTOMERS_H
#define CUSTOMERS_H

#include "crm_api.h"
#include "crm_arena.h"
#include "crm_config.h"
#include "crm_db.h"
#include "crm_router.h"

/* A customer row as read; strings live in the request arena. */
typedef struct {
    int64_t id;
    const char *name;
    const char *email;
    const char *phone;   /* NULL: none */
    const char *company; /* NULL: none */
    const char *status;
    int64_t owner_id; /* 0: none */
    const char *tags; /* JSON array text, as stored */
    int64_t version;
    const char *created_at; /* ISO 8601 UTC */
    const char *updated_at;
    const char *sort_value; /* lists only: the sort key, for the cursor */
} customer;

/* Values to write; every field is written (PATCH merges first). */
typedef struct {
    const char *name;
    const char *email;
    const char *phone;
    const char *company;
    const char *status;
    int64_t owner_id;
    const char *const *tags;
    size_t n_tags;
    const char *tags_json;
    int set_tags;    /* update: rewrite the tag index from tags/n_tags */
    const char *now; /* "YYYY-MM-DD HH:MM:SS.ffffff" UTC: created_at/updated_at */
} customer_in;

typedef struct {
    int64_t id;
    int64_t customer_id;
    const char *kind;
    const char *body;
    int64_t author_id; /* 0: none */
    const char *created_at;
} note;

/* The sorts a list may ask for, in the order of the store's table. */
enum {
    SORT_CREATED_DESC,
    SORT_CREATED_ASC,
    SORT_NAME_ASC,
    SORT_NAME_DESC,
    SORT_UPDATED_ASC,
    SORT_UPDATED_DESC,
    SORT_COUNT
};
extern const char *const customer_sorts[SORT_COUNT + 1]; /* "-created_at" ... NULL */

typedef struct {
    int sort;
    const char *status; /* NULL: any */
    int64_t owner;      /* 0: any */
    const char *tag;    /* NULL: any */
    const char *fts;    /* boolean-mode query or NULL */
    int after;          /* cursor given */
    const char *after_value;
    int64_t after_id;
    int limit; /* rows to fetch */
} customer_filter;

/* Handlers (handlers.c); the route table is in main.c. */
int customers_ping(crm_req *r);
int customers_list(crm_req *r);
int customers_create(crm_req *r);
int customers_get(crm_req *r);
int customers_patch(crm_req *r);
int customers_put(crm_req *r);
int customers_delete(crm_req *r);
int customers_notes_list(crm_req *r);
int customers_notes_create(crm_req *r);
int customers_notes_get(crm_req *r);
int customers_notes_delete(crm_req *r);
/* Internal listener only: GET /internal/v1/customers/{id}. */
int customers_internal_get(crm_req *r);

/* Pages for browsers (pages.c). */
int customers_page_list(crm_req *r);
int customers_page_new(crm_req *r);
int customers_page_show(crm_req *r);
int customers_page_edit(crm_req *r);

/* What the API handlers share with the pages (handlers.c). */
extern const char *const customer_statuses[];   /* "lead" ... NULL */
extern const char *const customer_note_kinds[]; /* "note" ... NULL */
/* The worker's database connection. */
crm_db *customers_db(void);
/*
 * The customer id as r may see it: CRM_OK with *c (strings in a), or the
 * problem sent - 404 for a customer that does not exist, is deleted, or
 * belongs to another sales user (their customers are not even named to
 * them).
 */
int customers_visible(crm_req *r, crm_arena *a, int64_t id, customer *c);
/*
 * The list's query string (limit, cursor, status, owner, tag, q, sort,
 * count) as a filter in the caller's scope (a sales user: their own) and
 * the list's paging in *l; f->limit is l->limit + 1, to tell whether a
 * next page exists. form: an empty value means "any" (a search form sends
 * all its fields). CRM_OK, or the status of the 400 sent.
 */
int customers_list_query(crm_req *r, int form, customer_filter *f, crm_api_list *l);

/* Per-worker set-up of the handlers (response buffer, database). */
int customers_worker_init(const crm_config *conf, crm_db *db);
void customers_worker_done(void);

/* Store: CRM_OK, CRM_NOTFOUND, CRM_DUP (email), CRM_GONE, CRM_ERR. */
int store_customer_get(crm_db *db, crm_arena *a, int64_t id, int for_update, customer *out);
/* Live or deleted (*deleted says which): for other services' replicas. */
int store_customer_get_any(crm_db *db, crm_arena *a, int64_t id, customer *out, int *deleted);
int store_customer_insert(crm_db *db, const customer_in *in, int64_t *id);
int store_customer_update(crm_db *db, int64_t id, const customer_in *in);
int store_customer_delete(crm_db *db, int64_t id);
int store_customer_list(crm_db *db, crm_arena *a, const customer_filter *f, customer *rows,
                        size_t *n);
int store_customer_count(crm_db *db, const customer_filter *f, int64_t *count);
/* CRM_OK when the customer exists and is not deleted (share-locked). */
int store_customer_lock_live(crm_db *db, int64_t id);

int store_note_insert(crm_db *db, int64_t customer_id, const char *kind, const char *body,
                      int64_t author_id, int64_t *id);
int store_note_get(crm_db *db, crm_arena *a, int64_t customer_id, int64_t note_id, note *out);
int store_note_list(crm_db *db, crm_arena *a, int64_t customer_id, int64_t before_id, int limit,
                    note *rows, size_t *n);
int store_note_delete(crm_db *db, int64_t customer_id, int64_t note_id);

/* Build the list statements' text once per process. */
void store_init(void);

#endif
