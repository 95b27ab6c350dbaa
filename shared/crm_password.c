/*
 * crm_password.c - argon2id password hashes (see crm_password.h).
 */
#include "crm_password.h"

#include <argon2.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#define SALT_LEN 16
#define HASH_LEN 32

int crm_password_hash(const char *pw, size_t len, char out[CRM_PASSWORD_ENC_MAX])
{
    unsigned char salt[SALT_LEN];

    if (len > CRM_PASSWORD_MAX)
        return CRM_INVALID;
    if (RAND_bytes(salt, sizeof(salt)) != 1)
        return CRM_ERR;
    int rc = argon2id_hash_encoded(CRM_PASSWORD_T, CRM_PASSWORD_M_KIB, CRM_PASSWORD_P, pw, len,
                                   salt, sizeof(salt), HASH_LEN, out, CRM_PASSWORD_ENC_MAX);
    return rc == ARGON2_OK ? CRM_OK : CRM_ERR;
}

/* The parameters of an encoded argon2id hash, or 0 when it is not one. */
static int params_of(const char *enc, unsigned long *m, unsigned long *t, unsigned long *p)
{
    int n = 0;
    if (sscanf(enc, "$argon2id$v=19$m=%lu,t=%lu,p=%lu$%n", m, t, p, &n) != 3 || n == 0)
        return 0;
    return 1;
}

int crm_password_verify(const char *encoded, const char *pw, size_t len)
{
    unsigned long m = 0, t = 0, p = 0;
    int strong = encoded != NULL && params_of(encoded, &m, &t, &p) && m >= CRM_PASSWORD_M_KIB &&
                 t >= CRM_PASSWORD_T && p >= CRM_PASSWORD_P;

    if (len > CRM_PASSWORD_MAX)
        len = CRM_PASSWORD_MAX; /* still hashed: the time does not tell */
    /* Always one full verification, against the dummy when the hash is unusable. */
    int ok = argon2id_verify(strong ? encoded : crm_password_dummy(), pw, len) == ARGON2_OK;
    return strong && ok;
}

const char *crm_password_dummy(void)
{
    /* A fixed salt: this hash protects nothing, it only has to cost the same. */
    static const char salt[SALT_LEN] = "crm-dummy-salt!!";
    static char dummy[CRM_PASSWORD_ENC_MAX];
    if (dummy[0] == '\0')
        argon2id_hash_encoded(CRM_PASSWORD_T, CRM_PASSWORD_M_KIB, CRM_PASSWORD_P,
                              "not a password anybody has", 26, salt, sizeof(salt), HASH_LEN, dummy,
                              sizeof(dummy));
    return dummy;
}
