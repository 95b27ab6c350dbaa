/*
 * crm_auth.h - who is asking, and whether they may. The router calls
 * crm_auth_route() before every handler with the roles of the route:
 *
 *   CRM_ROLE_PUBLIC   anyone (ping, login);
 *   CRM_ROLE_SERVICE  a call signed with CRM_EVENT_KEY (crm_event_sign over
 *                     the body, or over the target - path, and "?query"
 *                     when there is one - for a request without a body);
 *                     user tokens are never enough;
 *   user roles        an access token (crm_jwt.h) from `Authorization:
 *                     Bearer` or the browser's session cookie, checked
 *                     here with the identity service's public keys: 401
 *                     without a valid one, 403 when its role is not in
 *                     the route's set.
 *
 * Cookie-authenticated POST, PUT, PATCH and DELETE must also prove they
 * come from our own pages (403 otherwise): the token's csrf claim repeated
 * in the X-CSRF-Token header or the csrf_token form field, and an Origin
 * of this site (or Sec-Fetch-Site: same-origin when the browser sent no
 * Origin). Bearer requests need neither: no browser adds that header on
 * its own.
 *
 * Verified tokens are cached per worker until they expire, so the
 * steady-state cost of a request is one lookup, not a signature check.
 */
#ifndef CRM_AUTH_H
#define CRM_AUTH_H

#include "crm_buf.h"
#include "crm_config.h"
#include "crm_jwt.h"
#include "crm_req.h"
#include "crm_router.h" /* the CRM_ROLE_* bits */

#define CRM_AUTH_COOKIE       "__Host-crm_session" /* the access token; HttpOnly */
#define CRM_AUTH_CSRF_COOKIE  "__Host-crm_csrf"    /* its csrf claim, for our pages' scripts */
#define CRM_AUTH_CSRF_HEADER  "X-CSRF-Token"
#define CRM_AUTH_CSRF_FIELD   "csrf_token" /* form field; the body readers skip it */
#define CRM_AUTH_LEEWAY       30           /* seconds of clock difference tolerated */
#define CRM_AUTH_SERVICE_SKEW 300          /* seconds a signed service call stays valid */

typedef struct {
    int64_t user_id; /* the token's sub */
    unsigned role;   /* one CRM_ROLE_* bit */
    const char *role_name;
    int cookie;  /* 1: came in the session cookie (CSRF rules apply) */
    int64_t exp; /* unix seconds */
    char csrf[CRM_JWT_CSRF_MAX + 1];
} crm_identity;

/*
 * Read the keys of c: CRM_JWT_PUBLIC_KEYS (one or more PEM public keys:
 * the current one and those still trusted) and, when set,
 * CRM_JWT_SIGNING_KEY (the identity service's private key, whose public
 * half is trusted too). A key's id is crm_auth_kid() of it. Called once
 * per process before the workers fork. CRM_OK, or CRM_INVALID with err
 * set (no key at all, a key that is not Ed25519, too many keys).
 */
int crm_auth_init(const crm_config *c, char *err, size_t errlen);
void crm_auth_done(void);

/* The key set (signing key included when configured), or NULL. */
const crm_jwt_keys *crm_auth_keys(void);

/*
 * Load PEM text holding public keys (any number of "PUBLIC KEY" blocks)
 * and/or one private key into k, each under its crm_auth_kid().
 * Either may be NULL. CRM_OK, or CRM_INVALID with err set.
 */
int crm_auth_load(crm_jwt_keys *k, const char *public_pem, const char *private_pem, char *err,
                  size_t errlen);

/* A key's id: base64url of the first 12 bytes of SHA-256 over its DER
   SubjectPublicKeyInfo (16 characters + NUL). pem holds one public or
   private key. CRM_OK or CRM_INVALID. */
int crm_auth_kid(const char *pem, size_t len, char out[17]);

/*
 * The router's check for a route allowing `roles`: CRM_OK when r may go
 * on (its identity, if any, is then crm_auth_identity(r)), or the status
 * of the problem already sent: 401 (no or bad credentials, with
 * WWW-Authenticate: Bearer), 403 (a role the route does not allow, or a
 * cookie request failing the CSRF rules).
 */
int crm_auth_route(crm_req *r, unsigned roles);

/* The identity of r, or NULL (public and service routes). */
const crm_identity *crm_auth_identity(crm_req *r);

/* 1 when r's identity has one of roles. */
int crm_auth_has(crm_req *r, unsigned roles);

/* Object-level scope: the user whose objects r is limited to (a sales
   user: their own id), or 0 for no limit. */
int64_t crm_auth_owner(crm_req *r);

/* "admin" -> CRM_ROLE_ADMIN ...; 0 for anything else. */
unsigned crm_auth_role_bit(const char *name);
const char *crm_auth_role_name(unsigned bit);

/*
 * The browser's cookies for a new token: the session (HttpOnly) and the
 * csrf cookie (readable by our scripts), both __Host-, Secure, Path=/,
 * SameSite=Strict, Max-Age ttl. crm_auth_clear_cookies expires both.
 */
void crm_auth_set_cookies(crm_req *r, const char *token, const char *csrf, long ttl);
void crm_auth_clear_cookies(crm_req *r);

/* A cookie's value from the request's Cookie header (arena), or NULL. */
const char *crm_auth_cookie(crm_req *r, const char *name);

/*
 * Headers a service adds to sign a call without a body with key, path
 * being the whole target (path and query): "X-CRM-Timestamp: <ts>" and "X-CRM-Signature: v1=..."
 * into ts_line and sig_line.
 */
void crm_auth_sign_path(const char *key, const char *path, char ts_line[64], char sig_line[96]);

/* Empty the per-worker token cache (tests). */
void crm_auth_cache_clear(void);

#endif
