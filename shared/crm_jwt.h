/*
 * crm_jwt.h - access tokens: JSON Web Tokens (RFC 7519) signed with
 * Ed25519, "alg": "EdDSA" (RFC 8037), as the identity service issues them
 * and every service checks them, locally, with the public keys.
 *
 *   header   {"alg":"EdDSA","typ":"JWT","kid":"<key id>"}
 *   payload  {"sub":"<user id>","role":"admin|sales|marketing|viewer",
 *             "iat":N,"nbf":N,"exp":N,"jti":"<random>"[,"csrf":"<random>"]}
 *
 * csrf, when present, is the token a cookie-authenticated request must
 * repeat (crm_auth.h): bound to the session, unreadable from the cookie.
 *
 * Verification trusts nothing in the token that the keys do not: the
 * algorithm must be EdDSA (never "none", never an HMAC keyed with the
 * public key), the key id must name a key of the set, the signature must
 * verify, exp must be in the future and nbf not, within a leeway. Any
 * other member of the header (crit, jku, x5u ...) is refused.
 */
#ifndef CRM_JWT_H
#define CRM_JWT_H

#include "crm.h"
#include "crm_buf.h"

#define CRM_JWT_MAX      2048 /* bytes of a token we read at all */
#define CRM_JWT_KID_MAX  64
#define CRM_JWT_SUB_MAX  64
#define CRM_JWT_ROLE_MAX 16
#define CRM_JWT_CSRF_MAX 43 /* base64url of 32 bytes */
#define CRM_JWT_KEYS_MAX 8  /* keys a set holds: the current one and older ones */

typedef struct crm_jwt_keys crm_jwt_keys;

typedef struct {
    char sub[CRM_JWT_SUB_MAX + 1];
    char role[CRM_JWT_ROLE_MAX + 1];
    char jti[40];
    char csrf[CRM_JWT_CSRF_MAX + 1]; /* "" when the token has none */
    int64_t iat;
    int64_t nbf;
    int64_t exp;
} crm_jwt_claims;

crm_jwt_keys *crm_jwt_keys_new(void);
void crm_jwt_keys_free(crm_jwt_keys *k);
/*
 * Add a public key (PEM "PUBLIC KEY", Ed25519) under kid (1..64 of
 * [A-Za-z0-9._-]). CRM_OK, CRM_INVALID (not an Ed25519 public key, bad or
 * repeated kid) or CRM_TOOBIG (the set is full).
 */
int crm_jwt_keys_add_public(crm_jwt_keys *k, const char *kid, const char *pem, size_t len);
/*
 * The signing key (PEM "PRIVATE KEY", Ed25519) and its kid; its public
 * half is added to the set too. CRM_OK or CRM_INVALID.
 */
int crm_jwt_keys_set_private(crm_jwt_keys *k, const char *kid, const char *pem, size_t len);

/* Append the signed token of c to out. CRM_OK, CRM_INVALID (no signing
   key, or a sub/role that is empty or too long). */
int crm_jwt_sign(const crm_jwt_keys *k, const crm_jwt_claims *c, crm_buf *out);

/*
 * Check token[0..len) at time now (unix seconds), allowing leeway seconds
 * of clock difference. CRM_OK with *out filled, else CRM_INVALID with *why
 * (a static string, safe to log: it never holds the token).
 */
int crm_jwt_verify(const crm_jwt_keys *k, const char *token, size_t len, int64_t now,
                   int64_t leeway, crm_jwt_claims *out, const char **why);

/* base64url without padding (RFC 4648 §5), exposed for tests. decode:
   CRM_OK with *outlen, CRM_INVALID for any other character, padding, an
   impossible length or non-zero trailing bits; out holds len * 3 / 4. */
void crm_jwt_b64url_encode(crm_buf *b, const unsigned char *p, size_t n);
int crm_jwt_b64url_decode(const char *s, size_t len, unsigned char *out, size_t *outlen);

#endif
