/*
 * crm_password.h - password hashes: argon2id (libargon2) at or above
 * OWASP's minimum (m = 19 MiB, t = 2, p = 1), in the PHC string format
 * "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>" that is stored as it is.
 */
#ifndef CRM_PASSWORD_H
#define CRM_PASSWORD_H

#include "crm.h"

#define CRM_PASSWORD_M_KIB   19456 /* memory, KiB */
#define CRM_PASSWORD_T       2     /* passes */
#define CRM_PASSWORD_P       1     /* lanes */
#define CRM_PASSWORD_ENC_MAX 128   /* bytes of an encoded hash, NUL included */
#define CRM_PASSWORD_MIN     12    /* characters a new password needs at least */
#define CRM_PASSWORD_MAX     256   /* bytes of a password we hash at all */

/* Hash pw with a random 16-byte salt into out. CRM_OK, CRM_INVALID (pw
   longer than CRM_PASSWORD_MAX) or CRM_ERR. */
int crm_password_hash(const char *pw, size_t len, char out[CRM_PASSWORD_ENC_MAX]);

/*
 * 1 when pw matches encoded, 0 otherwise: a wrong password, or an encoded
 * hash that is not argon2id or is weaker than the minimum above (never
 * verified, so an old weak hash cannot be used). Takes as long for a
 * wrong password as for a right one.
 */
int crm_password_verify(const char *encoded, const char *pw, size_t len);

/* A hash to verify against when the account does not exist, so that an
   unknown email costs as much time as a wrong password. */
const char *crm_password_dummy(void);

#endif
