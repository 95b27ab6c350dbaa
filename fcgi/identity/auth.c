/*
 * auth.c - the identity service's worker state and its session routes:
 * login (with throttling), logout, the caller's own account and token
 * renewal. Users are managed in users.c.
 *
 * A login answers the same 401 for an unknown email, a wrong password and
 * a disabled account, after the same work (one argon2id verification,
 * against crm_password_dummy() when there is no such user), so neither the
 * answer nor its time tells which emails have accounts.
 */
#include "identity.h"

#include "crm_api.h"
#include "crm_auth.h"
#include "crm_body.h"
#include "crm_jwt.h"
#include "crm_log.h"
#include "crm_password.h"
#include "crm_problem.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define OUT_CAP        (4u << 20)
#define CSRF_BYTES     32  /* base64url: CRM_JWT_CSRF_MAX characters */
#define PURGE_EVERY    64  /* failures a worker counts between purges */
#define PURGE_ROWS     500 /* expired throttle rows one purge deletes at most */
#define FAIL_ATTEMPTS  3   /* a deadlocked failure count is retried */
#define INVALID_DETAIL "the email or the password is not correct, or the account is disabled"

crm_db *id_db;
crm_buf id_out; /* response body, reused by every request of the worker */

static long token_ttl;
static long account_limit, address_limit, window_s;
static unsigned failures_seen; /* by this worker, for the purge */

int identity_worker_init(const crm_config *conf, crm_db *conn)
{
    id_db = conn;
    token_ttl = conf->token_ttl;
    account_limit = conf->login_max_account;
    address_limit = conf->login_max_address;
    window_s = conf->login_window;
    crm_buf_init(&id_out, OUT_CAP);
    store_init();
    /* The dummy hash is computed on first use: do it now, so the first
       login for an unknown email costs no more than any other. */
    (void)crm_password_dummy();
    return CRM_OK;
}

void identity_worker_done(void)
{
    crm_buf_free(&id_out);
    id_db = NULL;
}

int id_db_error(crm_req *r, int rc)
{
    return crm_api_db_error(r, id_db, rc);
}

void user_json(crm_buf *b, const user *u)
{
    crm_buf_printf(b, "{\"id\":%lld,\"email\":", (long long)u->id);
    crm_api_put_str(b, u->email);
    crm_buf_puts(b, ",\"name\":");
    crm_api_put_str(b, u->name);
    crm_buf_puts(b, ",\"role\":");
    crm_api_put_str(b, u->role);
    crm_buf_printf(b,
                   ",\"active\":%s,\"version\":%lld,\"created_at\":", u->active ? "true" : "false",
                   (long long)u->version);
    crm_api_put_str(b, u->created_at);
    crm_buf_puts(b, ",\"updated_at\":");
    crm_api_put_str(b, u->updated_at);
    crm_buf_putc(b, '}');
}

/* A fresh CSRF token: base64url of CSRF_BYTES random bytes. */
static int new_csrf(char out[CRM_JWT_CSRF_MAX + 1])
{
    unsigned char raw[CSRF_BYTES];
    crm_buf b;

    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return CRM_ERR;
    crm_buf_init(&b, 0);
    crm_jwt_b64url_encode(&b, raw, sizeof(raw));
    snprintf(out, CRM_JWT_CSRF_MAX + 1, "%s", b.data);
    crm_buf_free(&b);
    return CRM_OK;
}

/*
 * Sign a token for u, set the browser's cookies and answer with it: 200
 * {"access_token","token_type","expires_in","csrf_token","user"}, or a
 * 303 to "/" for a browser's login form. csrf: the session's CSRF token
 * to keep (renewal), or NULL/"" for a new one.
 */
static int send_token(crm_req *r, const user *u, const char *csrf, int browser_form)
{
    const crm_jwt_keys *keys = crm_auth_keys();
    crm_jwt_claims c;
    crm_buf tok;
    int rc;

    memset(&c, 0, sizeof(c));
    if (csrf != NULL && *csrf != '\0')
        snprintf(c.csrf, sizeof(c.csrf), "%s", csrf);
    else if (new_csrf(c.csrf) != CRM_OK)
        return crm_problem(r, 500, "the request could not be completed");
    snprintf(c.sub, sizeof(c.sub), "%lld", (long long)u->id);
    snprintf(c.role, sizeof(c.role), "%s", u->role);
    c.iat = c.nbf = (int64_t)time(NULL);
    c.exp = c.iat + token_ttl;

    crm_buf_init(&tok, CRM_JWT_MAX);
    rc = keys != NULL ? crm_jwt_sign(keys, &c, &tok) : CRM_INVALID;
    if (rc != CRM_OK) {
        crm_buf_free(&tok);
        crm_log_error("cannot sign an access token (is CRM_JWT_SIGNING_KEY set?)");
        return crm_problem(r, 500, "the request could not be completed");
    }
    const char *token = crm_arena_strndup(crm_req_arena(r), tok.data, tok.len);
    crm_buf_free(&tok);

    crm_auth_set_cookies(r, token, c.csrf, token_ttl);
    crm_res_header(r, "Cache-Control", "no-store");
    if (browser_form) {
        crm_res_header(r, "Location", "/");
        return crm_res_send(r, 303, NULL, NULL, 0);
    }
    crm_buf_reset(&id_out);
    crm_buf_puts(&id_out, "{\"access_token\":");
    crm_api_put_str(&id_out, token);
    crm_buf_printf(&id_out,
                   ",\"token_type\":\"Bearer\",\"expires_in\":%ld,\"csrf_token\":", token_ttl);
    crm_api_put_str(&id_out, c.csrf);
    crm_buf_printf(&id_out, ",\"user\":{\"id\":%lld,\"email\":", (long long)u->id);
    crm_api_put_str(&id_out, u->email);
    crm_buf_puts(&id_out, ",\"name\":");
    crm_api_put_str(&id_out, u->name);
    crm_buf_puts(&id_out, ",\"role\":");
    crm_api_put_str(&id_out, u->role);
    crm_buf_puts(&id_out, "}}");
    return crm_api_send(r, 200, &id_out);
}

/* The one answer to every failed login. */
static int invalid_credentials(crm_req *r)
{
    crm_problem_t p = { .status = 401,
                        .type = "invalid-credentials",
                        .title = "Invalid credentials",
                        .detail = INVALID_DETAIL };
    crm_res_header(r, "WWW-Authenticate", "Bearer");
    crm_res_header(r, "Cache-Control", "no-store");
    return crm_problem_send(r, &p);
}

static int throttled(crm_req *r, long retry_after)
{
    char secs[32];
    crm_problem_t p = {
        .status = 429,
        .type = "login-throttled",
        .title = "Too many failed logins",
        .detail = "too many failed logins for this account or from this address; "
                  "try again after the time in Retry-After",
    };
    snprintf(secs, sizeof(secs), "%ld", retry_after);
    crm_res_header(r, "Retry-After", secs);
    return crm_problem_send(r, &p);
}

/*
 * A browser's request from another site: an Origin that is not this one
 * ("https://" + Host; "null" included), or Sec-Fetch-Site: cross-site.
 * Login and logout are public, so the router's CSRF rule does not cover
 * them; this keeps another site from logging a visitor in to an account
 * of its choosing (or out). Clients that are not browsers send neither
 * header and are not concerned.
 */
static int cross_site(crm_req *r)
{
    const char *origin = crm_req_header(r, "Origin");
    const char *host = crm_req_header(r, "Host");
    const char *site = crm_req_header(r, "Sec-Fetch-Site");

    if (origin != NULL)
        return host == NULL || strncmp(origin, "https://", 8) != 0 ||
               strcasecmp(origin + 8, host) != 0;
    /* Without Origin: a browser's Sec-Fetch-Site must say same-origin (as
       for the router's CSRF rule); a client that sends neither is no
       browser. */
    return site != NULL && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0;
}

static int cross_site_refused(crm_req *r)
{
    crm_problem_t p = { .status = 403,
                        .type = "csrf",
                        .title = "Forbidden",
                        .detail = "log in and out from this site's own pages" };
    return crm_problem_send(r, &p);
}

/* Count an attempt for both keys (retried on deadlock) and now and then
   drop expired rows. CRM_OK, or the status sent (503: an attempt that
   cannot be counted is not tried - logins fail closed). */
static int count_attempt(crm_req *r, const char *account, const char *address)
{
    int rc = CRM_ERR;

    for (int i = 0; i < FAIL_ATTEMPTS; i++) {
        rc = store_throttle_fail(id_db, account, address, window_s);
        if (rc != CRM_CONFLICT)
            break;
    }
    if (rc != CRM_OK)
        return id_db_error(r, rc);
    if (++failures_seen % PURGE_EVERY == 0 &&
        store_throttle_purge(id_db, window_s, PURGE_ROWS) != CRM_OK)
        crm_log_warn("cannot purge expired login failures");
    return CRM_OK;
}

/* The login body: CRM_OK with *email (normalised) and *pw, or the status
   sent (400, 415, 422). */
static int read_login(crm_req *r, crm_fields *fs, const char **email, const crm_field **pw)
{
    static const char *const fields[] = { "email", "password", NULL };
    crm_valid v;
    int rc;

    if ((rc = crm_body_fields(r, fs)) != CRM_OK)
        return rc;
    if ((rc = crm_api_check_fields(r, fs->items, fs->n, NULL, fields, NULL)) != CRM_OK)
        return rc;
    crm_valid_init(&v, crm_req_arena(r), fs);
    crm_valid_email(&v, "email", 1, email);
    const crm_field *p = crm_fields_get(fs, "password");
    if (p == NULL || p->type == CRM_FIELD_NULL || (p->type == CRM_FIELD_STRING && p->len == 0))
        crm_valid_error(&v, "password", "is required");
    else if (p->type != CRM_FIELD_STRING)
        crm_valid_error(&v, "password", "must be a string");
    if (!crm_valid_ok(&v))
        return crm_api_invalid(r, v.errors, v.n);
    *pw = p;
    return CRM_OK;
}

/* CRM_OK when neither the account nor the address is over its limit,
   else the status sent (429, or 503 when the counters cannot be read:
   logins fail closed). */
static int check_throttle(crm_req *r, const char *account, const char *address)
{
    throttle_state acct, addr;
    int rc = store_throttle_get(id_db, account, address, window_s, &acct, &addr);

    if (rc != CRM_OK)
        return id_db_error(r, rc);
    /* The counts include the attempt in hand: limit failures may come
       before it, so it is refused from limit + 1 on. */
    long wait_acct = throttle_retry_after(acct.failures, acct.remaining_us, account_limit + 1);
    long wait_addr = throttle_retry_after(addr.failures, addr.remaining_us, address_limit + 1);
    if (wait_acct == 0 && wait_addr == 0)
        return CRM_OK;
    crm_log_warn("login refused: too many failures for the %s",
                 wait_acct > 0 ? "account" : "client address");
    return throttled(r, wait_acct > wait_addr ? wait_acct : wait_addr);
}

int identity_login(crm_req *r)
{
    crm_arena *a = crm_req_arena(r);
    crm_fields fs;
    const char *email = NULL;
    const crm_field *pw = NULL;
    user u;
    int rc;

    if (cross_site(r))
        return cross_site_refused(r);
    if ((rc = read_login(r, &fs, &email, &pw)) != CRM_OK)
        return rc;
    /* Throttling comes first: the attempt is counted, then the counts are
       checked, and only then is the password tried. Attempts sent at the
       same moment are all counted before any is tried, so none slips
       under the limit; past it not even the right password is tried, so
       guessing on cannot tell a hit. */
    const char *account = throttle_account_key(a, email, strlen(email));
    const char *address = throttle_address_key(crm_req_param(r, "REMOTE_ADDR"));
    if ((rc = count_attempt(r, account, address)) != CRM_OK)
        return rc;
    if ((rc = check_throttle(r, account, address)) != CRM_OK)
        return rc;

    rc = store_user_by_email(id_db, a, email, &u);
    if (rc != CRM_OK && rc != CRM_NOTFOUND)
        return id_db_error(r, rc);
    /* Always one verification, the same whatever the account. */
    int match = crm_password_verify(rc == CRM_OK ? u.password_hash : crm_password_dummy(), pw->str,
                                    pw->len);
    if (rc != CRM_OK || !match || !u.active) {
        if (rc == CRM_OK)
            crm_log_info("failed login for user %lld%s", (long long)u.id,
                         u.active ? "" : " (disabled)");
        else
            crm_log_info("failed login for an email without an account");
        return invalid_credentials(r);
    }
    if ((rc = store_throttle_reset(id_db, account, address)) != CRM_OK)
        crm_log_warn("cannot reset the login failures of user %lld (status %d)", (long long)u.id,
                     rc);
    crm_log_info("user %lld logged in", (long long)u.id);
    return send_token(r, &u, NULL, fs.form && crm_req_wants_html(r));
}

int identity_logout(crm_req *r)
{
    if (cross_site(r))
        return cross_site_refused(r);
    crm_auth_clear_cookies(r);
    crm_res_header(r, "Cache-Control", "no-store");
    if (crm_req_wants_html(r)) {
        crm_res_header(r, "Location", "/login.html");
        return crm_res_send(r, 303, NULL, NULL, 0);
    }
    return crm_res_send(r, 204, NULL, NULL, 0);
}

/* The caller's account as it is now, or the 401 sent when it is gone or
   disabled (its token is still good, the account is not). */
static int current_user(crm_req *r, user *u)
{
    const crm_identity *id = crm_auth_identity(r);
    int rc = id != NULL ? store_user_get(id_db, crm_req_arena(r), id->user_id, 0, u) : CRM_NOTFOUND;

    if (rc != CRM_OK && rc != CRM_NOTFOUND)
        return id_db_error(r, rc);
    if (rc == CRM_NOTFOUND || !u->active) {
        crm_problem_t p = { .status = 401,
                            .type = "account-disabled",
                            .title = "Account unavailable",
                            .detail = "the account of this token no longer exists or is disabled" };
        crm_res_header(r, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
        return crm_problem_send(r, &p);
    }
    return CRM_OK;
}

int identity_me(crm_req *r)
{
    user u;
    int rc;

    if ((rc = current_user(r, &u)) != CRM_OK)
        return rc;
    crm_buf_reset(&id_out);
    user_json(&id_out, &u);
    crm_res_header(r, "Cache-Control", "no-store");
    crm_res_header(r, "ETag", crm_api_etag(crm_req_arena(r), u.version));
    return crm_api_send(r, 200, &id_out);
}

/*
 * A fresh token for a caller whose token is still valid. The account is
 * read again: a disabled one gets no new token, and the role is the one
 * the account has now, not the one the old token carried. A cookie
 * session keeps its CSRF token, so pages open in other tabs go on working.
 */
int identity_token(crm_req *r)
{
    const crm_identity *id = crm_auth_identity(r);
    user u;
    int rc;

    if ((rc = current_user(r, &u)) != CRM_OK)
        return rc;
    return send_token(r, &u, id != NULL ? id->csrf : NULL, 0);
}
