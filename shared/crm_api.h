/*
 * crm_api.h - the HTTP API conventions (DESIGN.md §3) that every service's
 * handlers share: entity tags and preconditions, the time of a write,
 * query integers, list pages, "created" answers (201, or 303 for a
 * browser form) and the problems every route sends the same way.
 *
 * Strings returned here live in the arena given (or the request's).
 */
#ifndef CRM_API_H
#define CRM_API_H

#include "crm_buf.h"
#include "crm_cursor.h"
#include "crm_db.h"
#include "crm_field.h"
#include "crm_idem.h"
#include "crm_problem.h"

#define CRM_API_JSON "application/json; charset=utf-8"

/* If-Match / If-None-Match: "*" or a list of "N" / W/"N" (N = a version). */
typedef struct {
    int present;
    int star;
    size_t n;
    int64_t v[8];
    int weak[8];
} crm_etags;

/* Parse header h (NULL: absent, CRM_OK). CRM_INVALID for anything else. */
int crm_api_etags_parse(const char *h, crm_etags *e);
/*
 * 1 when version matches. If-Match compares strongly (strong = 1: a weak
 * tag never matches, RFC 9110 13.1.1); If-None-Match weakly.
 */
int crm_api_etags_match(const crm_etags *e, int64_t version, int strong);
/*
 * Read the request's If-Match / If-None-Match into e: CRM_OK, else the
 * status of the 400 sent for a malformed header.
 */
int crm_api_if_match(crm_req *r, crm_etags *e);
int crm_api_if_none_match(crm_req *r, crm_etags *e);
/* A GET whose If-None-Match matches version: 304 with the ETag is sent
   and 1 returned; else 0. */
int crm_api_not_modified(crm_req *r, const crm_etags *inm, int64_t version);
/* "\"<version>\"" */
const char *crm_api_etag(crm_arena *a, int64_t version);

/*
 * The time of a write from this host's clock, UTC, as
 * "YYYY-MM-DD HH:MM:SS.ffffff" ready to bind to a DATETIME(6).
 */
const char *crm_api_now(crm_arena *a);
/* That form turned into ISO 8601 ("...T...Z") for a response. */
const char *crm_api_iso(crm_arena *a, const char *sql_time);

/* Decimal digits only, value in [lo, hi]: CRM_OK, else CRM_INVALID. */
int crm_api_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out);
/* 1 when s is in the NULL-terminated list (a NULL list is empty). */
int crm_api_in_list(const char *const *list, const char *s);
/* 1 when the member is JSON null or an empty form value. */
int crm_api_is_null(const crm_fields *fs, const char *name);

/*
 * 400 for every member of items[0..n) whose name is not in allowed
 * ("read-only field" when it is in readonly, else "unknown field"): no
 * mass assignment. prefix (NULL or e.g. "lines[2].") goes before each
 * name in the problem. Returns CRM_OK when all are allowed, else the
 * status sent.
 */
int crm_api_check_fields(crm_req *r, const crm_field *items, size_t n, const char *prefix,
                         const char *const *allowed, const char *const *readonly);

/* JSON output: a string or null; a positive id or null. */
void crm_api_put_str(crm_buf *b, const char *s);
void crm_api_put_id(crm_buf *b, int64_t v);
/* A list page: {"items":[ ... ],"next_cursor":... ; the caller adds
   members (",\"count\":N") and the closing brace. */
void crm_api_page_begin(crm_buf *b);
void crm_api_page_sep(crm_buf *b, size_t i);
void crm_api_page_end(crm_buf *b, const char *next_cursor);

/*
 * The parameters every list takes: limit (1..200, default 50), sort (one
 * of sorts, the first by default), count (true|false) and cursor (one this
 * list gave out for this sort: its scope is "<list>:<sort>").
 */
#define CRM_API_LIMIT_DEFAULT 50
#define CRM_API_LIMIT_MAX     200

typedef struct {
    int64_t limit;
    int sort;  /* index into sorts */
    int count; /* count=true */
    int after; /* a cursor was given: after_value, after_id */
    const char *after_value;
    int64_t after_id;
    const char *scope; /* cursor scope, in the arena */
} crm_api_list;

/*
 * Read them from r's query into l. Each problem is appended to errs[*ne]
 * (room for 4 is needed); the caller answers crm_api_bad_query with the
 * errors of every parameter at once.
 */
void crm_api_list_params(crm_req *r, const char *list, const char *const *sorts, crm_api_list *l,
                         crm_field_error *errs, size_t *ne);
/*
 * Close a page begun by crm_api_page_begin whose rows were fetched with
 * limit + 1: next_cursor from the last row shown (value and id) when more
 * came, ",\"count\":N" when asked, and the closing brace.
 */
void crm_api_page_finish(crm_buf *b, crm_arena *a, const crm_api_list *l, size_t fetched,
                         const char *last_value, int64_t last_id, int64_t count);

/* 200/201... with body b as JSON. Returns status. */
int crm_api_send(crm_req *r, int status, const crm_buf *b);
/*
 * A created resource: 201 with Location, ETag (may be NULL) and body b;
 * or, for a browser form post (form set, client wants HTML), 303 to page.
 */
int crm_api_created(crm_req *r, int form, const char *location, const char *page, const char *etag,
                    const crm_buf *b);
/* A replayed Idempotency-Key: the stored answer, or 303 to page for a form. */
int crm_api_replay(crm_req *r, int form, crm_idem *idem, const char *page);

/* The problems every service sends alike. Each returns the status sent. */
int crm_api_bad_header(crm_req *r, const char *name, const char *why);    /* 400 */
int crm_api_bad_query(crm_req *r, const crm_field_error *errs, size_t n); /* 400 */
int crm_api_invalid(crm_req *r, const crm_field_error *errs, size_t n);   /* 422 */
int crm_api_idem_reused(crm_req *r);                                      /* 422 */
/* Roll back db and answer for a failed statement: 503 + Retry-After for a
   lost connection or a deadlock that kept recurring, 500 otherwise. */
int crm_api_db_error(crm_req *r, crm_db *db, int rc);

#endif
