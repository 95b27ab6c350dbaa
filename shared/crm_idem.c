/*
 * crm_idem.c - Idempotency-Key claims and replays.
 */
#include "crm_idem.h"

#include "crm_auth.h"

#include "crm_log.h"

#include <openssl/evp.h>
#include <string.h>

enum {
    ST_CLAIM = 496,
    ST_LOOKUP,
    ST_STORE,
    ST_EXPIRE,
};

static const char SQL_CLAIM[] =
    "INSERT INTO idempotency_keys (scope, idem_key, request_hash) VALUES (?, ?, ?)";
/* A shared lock: waiters that all lost the insert race must not deadlock. */
static const char SQL_LOOKUP[] =
    "SELECT request_hash, status, location, etag, body,"
    " created_at < CURRENT_TIMESTAMP(6) - INTERVAL 24 HOUR"
    " FROM idempotency_keys WHERE scope = ? AND idem_key = ? LOCK IN SHARE MODE";
static const char SQL_STORE[] =
    "UPDATE idempotency_keys SET status = ?, location = ?, etag = ?, body = ?"
    " WHERE scope = ? AND idem_key = ?";
static const char SQL_EXPIRE[] = "DELETE FROM idempotency_keys WHERE scope = ? AND idem_key = ?";

int crm_idem_init(crm_idem *idem, crm_req *r, const char *scope)
{
    const char *key = crm_req_header(r, "Idempotency-Key");
    const char *ct = crm_req_header(r, "Content-Type");
    const char *body = "";
    size_t len = 0;

    memset(idem, 0, sizeof(*idem));
    /* A key is the caller's own: another user's retry with the same key
       (guessed or leaked) must not replay this user's answer. */
    const crm_identity *who = crm_auth_identity(r);
    idem->scope =
        who != NULL ? crm_arena_printf(crm_req_arena(r), "%s@%lld", scope, (long long)who->user_id)
                    : scope;
    if (key == NULL)
        return CRM_OK;
    size_t n = strlen(key);
    if (n == 0 || n > CRM_IDEM_KEY_MAX)
        return CRM_INVALID;
    for (size_t i = 0; i < n; i++) {
        if (key[i] < 0x21 || key[i] > 0x7e)
            return CRM_INVALID;
    }
    idem->key = key;

    if (crm_req_body(r, &body, &len) != CRM_OK) {
        body = "";
        len = 0;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char digest[32];
    unsigned int hl = 0;
    if (md == NULL)
        crm_oom();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    EVP_DigestUpdate(md, crm_req_method(r), strlen(crm_req_method(r)) + 1);
    EVP_DigestUpdate(md, crm_req_path(r), strlen(crm_req_path(r)) + 1);
    EVP_DigestUpdate(md, ct ? ct : "", ct ? strlen(ct) + 1 : 1);
    EVP_DigestUpdate(md, body, len);
    EVP_DigestFinal_ex(md, digest, &hl);
    EVP_MD_CTX_free(md);
    /* Hex, so the column is plain ASCII whatever the connection charset. */
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof(digest); i++) {
        idem->hash[2 * i] = hex[digest[i] >> 4];
        idem->hash[2 * i + 1] = hex[digest[i] & 15];
    }
    idem->hash[64] = '\0';
    return CRM_OK;
}

static int claim_once(crm_idem *idem, crm_db *db)
{
    crm_stmt *st = crm_db_stmt(db, ST_CLAIM, SQL_CLAIM);
    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_str(st, 0, idem->scope, strlen(idem->scope));
    crm_stmt_bind_str(st, 1, idem->key, strlen(idem->key));
    crm_stmt_bind_str(st, 2, idem->hash, 64);
    return crm_stmt_exec(st);
}

int crm_idem_claim(crm_idem *idem, crm_db *db, crm_arena *a)
{
    if (idem->key == NULL)
        return CRM_OK;
    for (int attempt = 0; attempt < 2; attempt++) {
        int rc = claim_once(idem, db);
        if (rc != CRM_DUP)
            return rc;

        crm_stmt *st = crm_db_stmt(db, ST_LOOKUP, SQL_LOOKUP);
        if (st == NULL)
            return crm_db_status(db);
        crm_stmt_bind_str(st, 0, idem->scope, strlen(idem->scope));
        crm_stmt_bind_str(st, 1, idem->key, strlen(idem->key));
        if ((rc = crm_stmt_exec(st)) != CRM_OK)
            return rc;
        rc = crm_stmt_fetch(st);
        if (rc == CRM_NOTFOUND)
            continue; /* the first attempt rolled back meanwhile: claim again */
        if (rc != CRM_OK)
            return rc;

        size_t hl = 0, n = 0;
        const char *hash = crm_stmt_col_str(st, 0, &hl);
        int expired = crm_stmt_col_int(st, 5) != 0;
        if (expired) {
            crm_stmt_done(st);
            crm_stmt *del = crm_db_stmt(db, ST_EXPIRE, SQL_EXPIRE);
            if (del == NULL)
                return crm_db_status(db);
            crm_stmt_bind_str(del, 0, idem->scope, strlen(idem->scope));
            crm_stmt_bind_str(del, 1, idem->key, strlen(idem->key));
            if ((rc = crm_stmt_exec(del)) != CRM_OK)
                return rc;
            continue;
        }
        if (hash == NULL || hl != 64 || memcmp(hash, idem->hash, 64) != 0 ||
            crm_stmt_col_null(st, 1)) {
            crm_stmt_done(st);
            return CRM_INVALID;
        }
        idem->replay = 1;
        idem->status = (int)crm_stmt_col_int(st, 1);
        if (!crm_stmt_col_null(st, 2))
            idem->location = crm_arena_strdup(a, crm_stmt_col_str(st, 2, &n));
        if (!crm_stmt_col_null(st, 3))
            idem->etag = crm_arena_strdup(a, crm_stmt_col_str(st, 3, &n));
        const char *body = crm_stmt_col_null(st, 4) ? "" : crm_stmt_col_str(st, 4, &n);
        idem->body_len = crm_stmt_col_null(st, 4) ? 0 : n;
        idem->body = crm_arena_strndup(a, body, idem->body_len);
        crm_stmt_done(st);
        return CRM_OK;
    }
    crm_log_error("idempotency key could not be claimed");
    return CRM_ERR;
}

int crm_idem_store(crm_idem *idem, crm_db *db, int status, const char *location, const char *etag,
                   const char *body, size_t len)
{
    if (idem->key == NULL)
        return CRM_OK;
    crm_stmt *st = crm_db_stmt(db, ST_STORE, SQL_STORE);
    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, status);
    crm_stmt_bind_str(st, 1, location, location ? strlen(location) : 0);
    crm_stmt_bind_str(st, 2, etag, etag ? strlen(etag) : 0);
    crm_stmt_bind_str(st, 3, body, len);
    crm_stmt_bind_str(st, 4, idem->scope, strlen(idem->scope));
    crm_stmt_bind_str(st, 5, idem->key, strlen(idem->key));
    return crm_stmt_exec(st);
}

int crm_idem_replay(crm_idem *idem, crm_req *r)
{
    crm_res_header(r, "Idempotent-Replayed", "true");
    if (idem->location != NULL)
        crm_res_header(r, "Location", idem->location);
    if (idem->etag != NULL)
        crm_res_header(r, "ETag", idem->etag);
    return crm_res_send(r, idem->status, idem->body_len ? "application/json; charset=utf-8" : NULL,
                        idem->body, idem->body_len);
}
