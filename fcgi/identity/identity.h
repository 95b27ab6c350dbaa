/*
 * identity.h - what the identity service's handlers, rules, commands and
 * store share.
 */
#ifndef IDENTITY_H
#define IDENTITY_H

#include "crm_arena.h"
#include "crm_buf.h"
#include "crm_config.h"
#include "crm_db.h"
#include "crm_router.h"
#include "crm_service.h"
#include "crm_valid.h"

#define USER_NAME_MAX 200

/* A user row as read; strings live in the arena given. */
typedef struct {
    int64_t id;
    const char *email;
    const char *name;
    const char *role;
    int active;
    const char *password_hash; /* never leaves the service */
    int64_t version;
    const char *created_at; /* ISO 8601 UTC */
    const char *updated_at;
    const char *sort_value; /* lists only: the sort key, for the cursor */
} user;

/* Values to write; every field is written (PATCH merges first). */
typedef struct {
    const char *email;
    const char *name;
    const char *role;
    int active;
    const char *password;      /* plain text from the body, NULL: unchanged */
    const char *password_hash; /* what is stored */
    const char *now;           /* "YYYY-MM-DD HH:MM:SS.ffffff" UTC */
} user_in;

/* ---- rules.c: validation and policy, no I/O ---- */

/* What a body named; the bits of user_read_in's *present. */
enum {
    U_EMAIL = 1,
    U_NAME = 2,
    U_ROLE = 4,
    U_ACTIVE = 8,
    U_PASSWORD = 16,
};
enum { USER_CREATE, USER_PUT, USER_PATCH };

extern const char *const user_roles[];    /* "admin", "sales", "marketing", "viewer", NULL */
extern const char *const user_fields[];   /* what a body may set */
extern const char *const user_readonly[]; /* what it may not: id, version, ... password_hash */

/*
 * Validate a user body (fields already checked against user_fields) into
 * in. Create needs email, name, role and password (active defaults to
 * true); PUT needs email, name, role and active (password optional);
 * PATCH takes what is present. Errors go to v, one per field.
 */
void user_read_in(crm_valid *v, int mode, user_in *in, unsigned *present);

/* NULL when pw[0..len) is acceptable as a new password, else why not (a
   message fit for a client): valid UTF-8 without NUL, at least
   CRM_PASSWORD_MIN characters, at most CRM_PASSWORD_MAX bytes. */
const char *user_password_problem(const char *pw, size_t len);

/*
 * The change a caller would make to their own account that leaves nobody
 * able to administer: deleting themselves, deactivating themselves or
 * giving themselves another role. NULL when allowed, else a detail for
 * the 409. after is the row as the change would leave it (NULL when
 * deleting).
 */
const char *user_self_change_problem(int64_t caller, int64_t target, const user_in *after);

/*
 * Login throttling: one counter (failures in the window that holds them)
 * for a scope. remaining_us is how long the counter's window still runs
 * (<= 0: it is over, the failures no longer count). Returns 0 when an
 * attempt may go on, else the seconds until the window ends (>= 1) for
 * Retry-After.
 */
long throttle_retry_after(int64_t failures, int64_t remaining_us, long limit);

/* The account key of a login email: trimmed, ASCII lower case, cut to 254
   bytes (in the arena). Never NULL. */
const char *throttle_account_key(crm_arena *a, const char *email, size_t len);
/* The address key: REMOTE_ADDR as given, or "unknown" when absent or not
   plain text. Never NULL. */
const char *throttle_address_key(const char *remote_addr);

/* ---- handlers (auth.c, users.c); the route table is in main.c ---- */

int identity_login(crm_req *r);
int identity_logout(crm_req *r);
int identity_me(crm_req *r);
int identity_token(crm_req *r);
int users_list(crm_req *r);
int users_create(crm_req *r);
int users_get(crm_req *r);
int users_patch(crm_req *r);
int users_put(crm_req *r);
int users_delete(crm_req *r);

/* Per-worker set-up (auth.c): database, response buffer, settings. */
int identity_worker_init(const crm_config *conf, crm_db *db);
void identity_worker_done(void);

/* Shared by the handlers (auth.c). */
extern crm_db *id_db;
extern crm_buf id_out;
int id_db_error(crm_req *r, int rc);
/* {"id","email","name","role","active","version","created_at","updated_at"} */
void user_json(crm_buf *b, const user *u);

/* ---- commands.c: create-admin, create-user ---- */

int identity_cmd_create_admin(const crm_config *conf, int argc, char **argv);
int identity_cmd_create_user(const crm_config *conf, int argc, char **argv);

/* ---- store.c ---- */

/* The sorts a list may ask for, in the order of the store's table. */
enum {
    SORT_EMAIL_ASC,
    SORT_EMAIL_DESC,
    SORT_NAME_ASC,
    SORT_NAME_DESC,
    SORT_CREATED_ASC,
    SORT_CREATED_DESC,
    SORT_COUNT
};
extern const char *const user_sorts[SORT_COUNT + 1]; /* "email" ... NULL */

typedef struct {
    int sort;
    const char *role; /* NULL: any */
    int active;       /* -1: any, else 0 or 1 */
    int after;        /* cursor given */
    const char *after_value;
    int64_t after_id;
    int limit; /* rows to fetch */
} user_filter;

/* Build the list statements' text once per process. */
void store_init(void);

/* CRM_OK, CRM_NOTFOUND, CRM_DUP (email), CRM_CONFLICT, CRM_GONE, CRM_ERR. */
int store_user_get(crm_db *db, crm_arena *a, int64_t id, int for_update, user *out);
int store_user_by_email(crm_db *db, crm_arena *a, const char *email, user *out);
int store_user_insert(crm_db *db, const user_in *in, int64_t *id);
int store_user_update(crm_db *db, int64_t id, const user_in *in);
int store_user_delete(crm_db *db, int64_t id);
int store_user_list(crm_db *db, crm_arena *a, const user_filter *f, user *rows, size_t *n);
int store_user_count(crm_db *db, const user_filter *f, int64_t *count);

/* One scope's throttle counter: failures and the microseconds its window
   still runs (negative once over); both 0 when there is no row. */
typedef struct {
    int64_t failures;
    int64_t remaining_us;
} throttle_state;

/* Read the account's and the address's counters against a window of
   window_s seconds, on the database's clock. */
int store_throttle_get(crm_db *db, const char *account, const char *address, long window_s,
                       throttle_state *acct, throttle_state *addr);
/* Count one attempt for both, atomically; an expired window restarts.
   Every login attempt is counted before its password is tried. */
int store_throttle_fail(crm_db *db, const char *account, const char *address, long window_s);
/* A successful login: forget the account's failures, and give the address
   back the attempt it counted. */
int store_throttle_reset(crm_db *db, const char *account, const char *address);
/* Delete up to limit rows whose window ended more than window_s ago. */
int store_throttle_purge(crm_db *db, long window_s, int64_t limit);

#endif
