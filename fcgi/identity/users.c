/*
 * users.c - user management, admins only: list, create, read, change and
 * delete users. The router lets only admin tokens in; each handler also
 * reads the caller's account again, so an admin demoted or disabled since
 * their token was issued manages nothing more. Writes hold the caller's
 * row locked while they change another, so two admins cannot take the
 * admin role from each other at once and leave nobody to administer.
 *
 * Passwords are write-only: hashed (argon2id) before any transaction
 * opens, never returned, never logged.
 */
#include "identity.h"

#include "crm_api.h"
#include "crm_auth.h"
#include "crm_body.h"
#include "crm_log.h"
#include "crm_password.h"
#include "crm_problem.h"

#include <string.h>

#define TX_ATTEMPTS 3 /* deadlocks are retried this many times */

static int not_found(crm_req *r)
{
    return crm_problem(r, 404, "no such user");
}

static int email_taken(crm_req *r)
{
    return crm_problem(r, 409, "a user with this email already exists");
}

static int send_user(crm_req *r, int status, const user *u)
{
    crm_buf_reset(&id_out);
    user_json(&id_out, u);
    crm_res_header(r, "ETag", crm_api_etag(crm_req_arena(r), u->version));
    return crm_api_send(r, status, &id_out);
}

/*
 * CRM_OK when the caller's account is, right now, an active admin (read
 * with a row lock, inside the caller's transaction, when lock is set).
 * Otherwise the 403 sent (a positive status; the transaction rolled
 * back), or the store's failure (negative, nothing sent: a transaction
 * may retry it).
 */
static int require_admin(crm_req *r, int lock, int64_t *caller)
{
    const crm_identity *id = crm_auth_identity(r);
    user me;
    int rc =
        id != NULL ? store_user_get(id_db, crm_req_arena(r), id->user_id, lock, &me) : CRM_NOTFOUND;

    if (rc != CRM_OK && rc != CRM_NOTFOUND)
        return rc;
    if (rc == CRM_NOTFOUND || !me.active || strcmp(me.role, "admin") != 0) {
        if (lock)
            crm_db_rollback(id_db);
        return crm_problem(r, 403, "your account may not manage users");
    }
    *caller = me.id;
    return CRM_OK;
}

/* require_admin outside a transaction: CRM_OK or the status sent. */
static int check_admin(crm_req *r, int64_t *caller)
{
    int rc = require_admin(r, 0, caller);
    return rc < 0 ? id_db_error(r, rc) : rc;
}

/* Hash in->password into in->password_hash (arena); CRM_OK or the 500 sent. */
static int hash_password(crm_req *r, user_in *in)
{
    char enc[CRM_PASSWORD_ENC_MAX];

    if (crm_password_hash(in->password, strlen(in->password), enc) != CRM_OK) {
        crm_log_error("cannot hash a password");
        return crm_problem(r, 500, "the request could not be completed");
    }
    in->password_hash = crm_arena_strdup(crm_req_arena(r), enc);
    return CRM_OK;
}

/* Read and validate a body for mode; CRM_OK or the status sent. */
static int read_body(crm_req *r, int mode, crm_fields *fs, user_in *in, unsigned *present)
{
    crm_valid v;
    int rc;

    if ((rc = crm_body_fields(r, fs)) != CRM_OK)
        return rc;
    if ((rc = crm_api_check_fields(r, fs->items, fs->n, NULL, user_fields, user_readonly)) !=
        CRM_OK)
        return rc;
    memset(in, 0, sizeof(*in));
    crm_valid_init(&v, crm_req_arena(r), fs);
    if (mode == USER_PATCH && fs->n == 0)
        crm_valid_error(&v, "", "the body names no field to change");
    user_read_in(&v, mode, in, present);
    if (!crm_valid_ok(&v))
        return crm_api_invalid(r, v.errors, v.n);
    in->now = crm_api_now(crm_req_arena(r));
    if (in->password != NULL)
        return hash_password(r, in);
    return CRM_OK;
}

int users_list(crm_req *r)
{
    static const char *const params[] = {
        "limit", "cursor", "role", "active", "sort", "count", NULL,
    };
    crm_arena *a = crm_req_arena(r);
    crm_field_error errs[8];
    size_t ne = 0;
    user_filter f;
    crm_api_list l;
    int64_t caller;
    const char *s;
    int rc;

    if ((rc = crm_req_query_check(r, params)) != CRM_OK)
        return rc;
    memset(&f, 0, sizeof(f));
    f.active = -1;
    crm_api_list_params(r, "users", user_sorts, &l, errs, &ne);
    if ((s = crm_req_query(r, "role")) != NULL) {
        if (crm_api_in_list(user_roles, s)) {
            f.role = s;
        } else {
            errs[ne].field = "role";
            errs[ne++].message = "must be one of: admin, sales, marketing, viewer";
        }
    }
    if ((s = crm_req_query(r, "active")) != NULL) {
        if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0) {
            f.active = s[0] == 't';
        } else {
            errs[ne].field = "active";
            errs[ne++].message = "must be true or false";
        }
    }
    if (ne > 0)
        return crm_api_bad_query(r, errs, ne);
    if ((rc = check_admin(r, &caller)) != CRM_OK)
        return rc;

    f.sort = l.sort;
    f.after = l.after;
    f.after_value = l.after_value;
    f.after_id = l.after_id;
    f.limit = (int)l.limit + 1; /* one more tells whether a next page exists */
    user *rows = crm_arena_alloc(a, sizeof(user) * (size_t)f.limit);
    size_t n = 0;
    int64_t count = 0;
    if ((rc = store_user_list(id_db, a, &f, rows, &n)) != CRM_OK)
        return id_db_error(r, rc);
    if (l.count && (rc = store_user_count(id_db, &f, &count)) != CRM_OK)
        return id_db_error(r, rc);

    size_t shown = n > (size_t)l.limit ? (size_t)l.limit : n;
    crm_buf_reset(&id_out);
    crm_api_page_begin(&id_out);
    for (size_t i = 0; i < shown; i++) {
        crm_api_page_sep(&id_out, i);
        user_json(&id_out, &rows[i]);
    }
    const user *last = &rows[shown > 0 ? shown - 1 : 0];
    crm_api_page_finish(&id_out, a, &l, n, last->sort_value, last->id, count);
    return crm_api_send(r, 200, &id_out);
}

int users_get(crm_req *r)
{
    crm_etags inm;
    int64_t id, caller;
    user u;
    int rc;

    if (crm_req_path_id(r, "id", &id) != CRM_OK)
        return not_found(r);
    if ((rc = crm_api_if_none_match(r, &inm)) != CRM_OK)
        return rc;
    if ((rc = check_admin(r, &caller)) != CRM_OK)
        return rc;
    rc = store_user_get(id_db, crm_req_arena(r), id, 0, &u);
    if (rc == CRM_NOTFOUND)
        return not_found(r);
    if (rc != CRM_OK)
        return id_db_error(r, rc);
    if (crm_api_not_modified(r, &inm, u.version))
        return 304;
    return send_user(r, 200, &u);
}

int users_create(crm_req *r)
{
    crm_arena *a = crm_req_arena(r);
    crm_fields fs;
    user_in in;
    unsigned present;
    int64_t id = 0, caller;
    int rc;

    if ((rc = check_admin(r, &caller)) != CRM_OK)
        return rc;
    if ((rc = read_body(r, USER_CREATE, &fs, &in, &present)) != CRM_OK)
        return rc;
    /* The password was hashed meanwhile: the caller is checked again, row
       locked, in the insert's transaction, so an admin demoted during the
       hash creates nobody (as writes to users do, begin_change). */
    if ((rc = crm_db_begin(id_db)) != CRM_OK)
        return id_db_error(r, rc);
    if ((rc = require_admin(r, 1, &caller)) > 0)
        return rc;
    if (rc == CRM_OK)
        rc = store_user_insert(id_db, &in, &id);
    if (rc == CRM_OK)
        rc = crm_db_commit(id_db);
    if (rc != CRM_OK)
        crm_db_rollback(id_db);
    if (rc == CRM_DUP)
        return email_taken(r);
    if (rc != CRM_OK)
        return id_db_error(r, rc);
    crm_log_info("user %lld created by user %lld", (long long)id, (long long)caller);

    const char *now = crm_api_iso(a, in.now);
    user u = { .id = id,
               .email = in.email,
               .name = in.name,
               .role = in.role,
               .active = in.active,
               .version = 1,
               .created_at = now,
               .updated_at = now };
    crm_buf_reset(&id_out);
    user_json(&id_out, &u);
    return crm_api_created(r, fs.form, crm_arena_printf(a, "/api/v1/users/%lld", (long long)id),
                           crm_arena_printf(a, "/users/%lld", (long long)id), crm_api_etag(a, 1),
                           &id_out);
}

/* PATCH: what the body left out stays as it is. */
static void merge(user_in *in, unsigned present, const user *cur)
{
    if (!(present & U_EMAIL))
        in->email = cur->email;
    if (!(present & U_NAME))
        in->name = cur->name;
    if (!(present & U_ROLE))
        in->role = cur->role;
    if (!(present & U_ACTIVE))
        in->active = cur->active;
}

/*
 * Open a change of user id: a transaction with the caller's row locked and
 * checked (an active admin) and the target's locked and compared with
 * If-Match. CRM_OK with the transaction open, *u and *caller; otherwise
 * the transaction is over and either *sent is the answer already sent
 * (403, 412) or the store's status is returned.
 */
static int begin_change(crm_req *r, int64_t id, const crm_etags *im, user *u, int64_t *caller,
                        int *sent)
{
    crm_arena *a = crm_req_arena(r);
    int rc;

    if ((rc = crm_db_begin(id_db)) != CRM_OK)
        return rc;
    if ((rc = require_admin(r, 1, caller)) > 0) {
        *sent = rc;
        return CRM_ERR;
    }
    if (rc == CRM_OK)
        rc = store_user_get(id_db, a, id, 1, u);
    if (rc != CRM_OK) {
        crm_db_rollback(id_db);
        return rc;
    }
    if (im->present && !crm_api_etags_match(im, u->version, 1)) {
        crm_db_rollback(id_db);
        crm_res_header(r, "ETag", crm_api_etag(a, u->version));
        *sent = crm_problem(r, 412, "the user changed since you read it");
        return CRM_CONFLICT;
    }
    return CRM_OK;
}

/*
 * One attempt at a change in one transaction: the caller's row locked and
 * checked, the target's locked and compared with If-Match, the change
 * checked against the caller's own account, then written and read back.
 * CRM_OK with *u, or the store's status; *sent is set when an answer
 * (403, 409, 412) was already sent.
 */
static int update_tx(crm_req *r, int mode, int64_t id, const crm_etags *im, const user_in *in,
                     unsigned present, user *u, int *sent)
{
    crm_arena *a = crm_req_arena(r);
    user_in w = *in;
    int64_t caller;
    int rc;

    if ((rc = begin_change(r, id, im, u, &caller, sent)) != CRM_OK)
        return rc;
    if (mode == USER_PATCH)
        merge(&w, present, u);
    if (w.password_hash == NULL)
        w.password_hash = u->password_hash;
    const char *why = user_self_change_problem(caller, id, &w);
    if (why != NULL) {
        crm_db_rollback(id_db);
        *sent = crm_problem(r, 409, why);
        return CRM_CONFLICT;
    }
    if ((rc = store_user_update(id_db, id, &w)) != CRM_OK)
        goto out;
    if ((rc = store_user_get(id_db, a, id, 0, u)) != CRM_OK)
        goto out;
    rc = crm_db_commit(id_db);
out:
    if (rc != CRM_OK)
        crm_db_rollback(id_db);
    return rc;
}

/* PATCH and PUT. */
static int update(crm_req *r, int mode)
{
    crm_fields fs;
    crm_etags im;
    user_in in;
    user u;
    unsigned present;
    int64_t id;
    int rc, sent = 0;

    if (crm_req_path_id(r, "id", &id) != CRM_OK)
        return not_found(r);
    if ((rc = crm_api_if_match(r, &im)) != CRM_OK)
        return rc;
    if (mode == USER_PUT && !im.present)
        return crm_problem(r, 428, "PUT needs If-Match with the version you read");
    if ((rc = read_body(r, mode, &fs, &in, &present)) != CRM_OK)
        return rc;

    for (int attempt = 0; attempt < TX_ATTEMPTS; attempt++) {
        rc = update_tx(r, mode, id, &im, &in, present, &u, &sent);
        if (sent)
            return sent;
        if (rc != CRM_CONFLICT)
            break;
    }
    if (rc == CRM_NOTFOUND)
        return not_found(r);
    if (rc == CRM_DUP)
        return email_taken(r);
    if (rc != CRM_OK)
        return id_db_error(r, rc);
    if (present & U_PASSWORD)
        crm_log_info("password of user %lld changed", (long long)id);
    return send_user(r, 200, &u);
}

int users_patch(crm_req *r)
{
    return update(r, USER_PATCH);
}

int users_put(crm_req *r)
{
    return update(r, USER_PUT);
}

static int delete_tx(crm_req *r, int64_t id, const crm_etags *im, int *sent)
{
    int64_t caller;
    user u;
    int rc;

    if ((rc = begin_change(r, id, im, &u, &caller, sent)) != CRM_OK)
        return rc;
    const char *why = user_self_change_problem(caller, id, NULL);
    if (why != NULL) {
        crm_db_rollback(id_db);
        *sent = crm_problem(r, 409, why);
        return CRM_CONFLICT;
    }
    if ((rc = store_user_delete(id_db, id)) != CRM_OK)
        goto out;
    rc = crm_db_commit(id_db);
out:
    if (rc != CRM_OK)
        crm_db_rollback(id_db);
    return rc;
}

int users_delete(crm_req *r)
{
    crm_etags im;
    int64_t id;
    int rc, sent = 0;

    if (crm_req_path_id(r, "id", &id) != CRM_OK)
        return not_found(r);
    if ((rc = crm_api_if_match(r, &im)) != CRM_OK)
        return rc;
    for (int attempt = 0; attempt < TX_ATTEMPTS; attempt++) {
        rc = delete_tx(r, id, &im, &sent);
        if (sent)
            return sent;
        if (rc != CRM_CONFLICT)
            break;
    }
    if (rc == CRM_NOTFOUND)
        return not_found(r);
    if (rc != CRM_OK)
        return id_db_error(r, rc);
    crm_log_info("user %lld deleted", (long long)id);
    return crm_res_send(r, 204, NULL, NULL, 0);
}
