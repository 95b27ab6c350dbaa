/*
 * crm_jwt.c - Ed25519 JSON Web Tokens (see crm_jwt.h).
 */
#include "crm_jwt.h"

#include "crm_arena.h"
#include "crm_json.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIG_LEN     64
#define HEADER_MAX  256  /* decoded bytes */
#define PAYLOAD_MAX 1024 /* decoded bytes */

struct crm_jwt_keys {
    size_t n;
    char kid[CRM_JWT_KEYS_MAX][CRM_JWT_KID_MAX + 1];
    EVP_PKEY *pub[CRM_JWT_KEYS_MAX];
    EVP_PKEY *priv; /* signing key, or NULL */
    char priv_kid[CRM_JWT_KID_MAX + 1];
};

/* ---- base64url ---- */

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void crm_jwt_b64url_encode(crm_buf *b, const unsigned char *p, size_t n)
{
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        char q[4] = { b64url[v >> 18], b64url[(v >> 12) & 63], b64url[(v >> 6) & 63],
                      b64url[v & 63] };
        crm_buf_append(b, q, 4);
    }
    if (n - i == 1) {
        unsigned v = (unsigned)p[i] << 16;
        char q[2] = { b64url[v >> 18], b64url[(v >> 12) & 63] };
        crm_buf_append(b, q, 2);
    } else if (n - i == 2) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
        char q[3] = { b64url[v >> 18], b64url[(v >> 12) & 63], b64url[(v >> 6) & 63] };
        crm_buf_append(b, q, 3);
    }
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

int crm_jwt_b64url_decode(const char *s, size_t len, unsigned char *out, size_t *outlen)
{
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;

    if (len % 4 == 1)
        return CRM_INVALID; /* no byte count gives that length */
    for (size_t i = 0; i < len; i++) {
        int v = b64_value(s[i]);
        if (v < 0)
            return CRM_INVALID;
        acc = acc << 6 | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0)
        return CRM_INVALID; /* one spelling per value: unused bits are zero */
    *outlen = o;
    return CRM_OK;
}

/* ---- keys ---- */

crm_jwt_keys *crm_jwt_keys_new(void)
{
    return crm_xcalloc(1, sizeof(crm_jwt_keys));
}

void crm_jwt_keys_free(crm_jwt_keys *k)
{
    if (k == NULL)
        return;
    for (size_t i = 0; i < k->n; i++)
        EVP_PKEY_free(k->pub[i]);
    EVP_PKEY_free(k->priv);
    free(k);
}

static int kid_ok(const char *kid)
{
    size_t n = kid != NULL ? strlen(kid) : 0;
    if (n == 0 || n > CRM_JWT_KID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = kid[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static EVP_PKEY *find_key(const crm_jwt_keys *k, const char *kid, size_t len)
{
    for (size_t i = 0; i < k->n; i++)
        if (strlen(k->kid[i]) == len && memcmp(k->kid[i], kid, len) == 0)
            return k->pub[i];
    return NULL;
}

static int add_key(crm_jwt_keys *k, const char *kid, EVP_PKEY *pub)
{
    if (!kid_ok(kid) || find_key(k, kid, strlen(kid)) != NULL) {
        EVP_PKEY_free(pub);
        return CRM_INVALID;
    }
    if (k->n >= CRM_JWT_KEYS_MAX) {
        EVP_PKEY_free(pub);
        return CRM_TOOBIG;
    }
    snprintf(k->kid[k->n], sizeof(k->kid[0]), "%s", kid);
    k->pub[k->n++] = pub;
    return CRM_OK;
}

int crm_jwt_keys_add_public(crm_jwt_keys *k, const char *kid, const char *pem, size_t len)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *pub = bio != NULL ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (pub == NULL || EVP_PKEY_get_id(pub) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(pub);
        return CRM_INVALID;
    }
    return add_key(k, kid, pub);
}

int crm_jwt_keys_set_private(crm_jwt_keys *k, const char *kid, const char *pem, size_t len)
{
    unsigned char raw[32];
    size_t rawlen = sizeof(raw);
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *priv = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (priv == NULL || EVP_PKEY_get_id(priv) != EVP_PKEY_ED25519 || !kid_ok(kid) ||
        EVP_PKEY_get_raw_public_key(priv, raw, &rawlen) != 1) {
        EVP_PKEY_free(priv);
        return CRM_INVALID;
    }
    EVP_PKEY *pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, rawlen);
    int rc = pub != NULL ? add_key(k, kid, pub) : CRM_INVALID;
    if (rc != CRM_OK) {
        EVP_PKEY_free(priv);
        return rc;
    }
    EVP_PKEY_free(k->priv);
    k->priv = priv;
    snprintf(k->priv_kid, sizeof(k->priv_kid), "%s", kid);
    return CRM_OK;
}

/* ---- signing ---- */

static int claim_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    return n > 0 && n <= max;
}

int crm_jwt_sign(const crm_jwt_keys *k, const crm_jwt_claims *c, crm_buf *out)
{
    crm_buf part;
    unsigned char sig[SIG_LEN];
    size_t siglen = sizeof(sig);
    unsigned char jti[16];
    char jti_hex[33];
    int rc = CRM_INVALID;

    if (k->priv == NULL || !claim_ok(c->sub, CRM_JWT_SUB_MAX) ||
        !claim_ok(c->role, CRM_JWT_ROLE_MAX))
        return CRM_INVALID;
    if (c->jti[0] != '\0') {
        snprintf(jti_hex, sizeof(jti_hex), "%.32s", c->jti);
    } else {
        if (RAND_bytes(jti, sizeof(jti)) != 1)
            return CRM_ERR;
        for (size_t i = 0; i < sizeof(jti); i++)
            snprintf(jti_hex + 2 * i, 3, "%02x", jti[i]);
    }
    size_t start = out->len;
    crm_buf_init(&part, 0);
    crm_buf_printf(&part, "{\"alg\":\"EdDSA\",\"typ\":\"JWT\",\"kid\":\"%s\"}", k->priv_kid);
    crm_jwt_b64url_encode(out, (const unsigned char *)part.data, part.len);
    crm_buf_putc(out, '.');
    crm_buf_reset(&part);
    crm_buf_puts(&part, "{\"sub\":");
    crm_buf_json_str(&part, c->sub, strlen(c->sub));
    crm_buf_puts(&part, ",\"role\":");
    crm_buf_json_str(&part, c->role, strlen(c->role));
    crm_buf_printf(&part, ",\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld,\"jti\":\"%s\"",
                   (long long)c->iat, (long long)c->nbf, (long long)c->exp, jti_hex);
    if (c->csrf[0] != '\0') {
        crm_buf_puts(&part, ",\"csrf\":");
        crm_buf_json_str(&part, c->csrf, strnlen(c->csrf, CRM_JWT_CSRF_MAX));
    }
    crm_buf_putc(&part, '}');
    crm_jwt_b64url_encode(out, (const unsigned char *)part.data, part.len);
    crm_buf_free(&part);

    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx != NULL && EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->priv) == 1 &&
        EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)out->data + start,
                       out->len - start) == 1 &&
        siglen == SIG_LEN) {
        crm_buf_putc(out, '.');
        crm_jwt_b64url_encode(out, sig, siglen);
        rc = CRM_OK;
    }
    EVP_MD_CTX_free(ctx);
    if (rc != CRM_OK)
        out->len = start;
    return rc;
}

/* ---- verification ---- */

static const crm_field *member(const crm_fields *fs, const char *name, crm_field_type t)
{
    const crm_field *f = crm_fields_get(fs, name);
    return f != NULL && f->type == t ? f : NULL;
}

/* Every member of fs is in allowed. */
static int only(const crm_fields *fs, const char *const *allowed)
{
    for (size_t i = 0; i < fs->n; i++) {
        size_t k = 0;
        while (allowed[k] != NULL && strcmp(allowed[k], fs->items[i].name) != 0)
            k++;
        if (allowed[k] == NULL)
            return 0;
    }
    return 1;
}

#define FAIL(msg)                                                                                  \
    do {                                                                                           \
        *why = (msg);                                                                              \
        goto out;                                                                                  \
    } while (0)

int crm_jwt_verify(const crm_jwt_keys *k, const char *token, size_t len, int64_t now,
                   int64_t leeway, crm_jwt_claims *out, const char **why)
{
    static const char *const header_members[] = { "alg", "typ", "kid", NULL };
    static const char *const payload_members[] = { "sub", "iat",  "nbf",  "exp",
                                                   "jti", "role", "csrf", NULL };
    unsigned char header[HEADER_MAX], payload[PAYLOAD_MAX], sig[SIG_LEN + 3];
    size_t hlen = 0, plen = 0, slen = 0;
    crm_arena *a = NULL;
    crm_fields hf, pf;
    const char *jwhy = NULL;
    int rc = CRM_INVALID;

    *why = "malformed token";
    if (token == NULL || len == 0 || len > CRM_JWT_MAX)
        return CRM_INVALID;
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 != NULL ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (d1 == NULL || d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)) != NULL)
        return CRM_INVALID;
    size_t h_n = (size_t)(d1 - token), p_n = (size_t)(d2 - d1 - 1);
    size_t s_n = len - (size_t)(d2 + 1 - token);
    if (h_n == 0 || p_n == 0 || s_n == 0 || h_n > HEADER_MAX * 4 / 3 || p_n > PAYLOAD_MAX * 4 / 3 ||
        s_n > (SIG_LEN + 3) * 4 / 3 || crm_jwt_b64url_decode(token, h_n, header, &hlen) != CRM_OK ||
        crm_jwt_b64url_decode(d1 + 1, p_n, payload, &plen) != CRM_OK ||
        crm_jwt_b64url_decode(d2 + 1, s_n, sig, &slen) != CRM_OK)
        return CRM_INVALID;

    a = crm_arena_new(4096);
    if (crm_json_parse(a, (const char *)header, hlen, &hf, &jwhy) != CRM_OK)
        FAIL("malformed header");
    const crm_field *alg = member(&hf, "alg", CRM_FIELD_STRING);
    const crm_field *kid = member(&hf, "kid", CRM_FIELD_STRING);
    const crm_field *typ = crm_fields_get(&hf, "typ");
    if (alg == NULL || strcmp(alg->str, "EdDSA") != 0)
        FAIL("algorithm is not EdDSA");
    if (!only(&hf, header_members))
        FAIL("unexpected header member");
    if (typ != NULL && (typ->type != CRM_FIELD_STRING || strcmp(typ->str, "JWT") != 0))
        FAIL("typ is not JWT");
    EVP_PKEY *key = kid != NULL ? find_key(k, kid->str, kid->len) : NULL;
    if (key == NULL)
        FAIL("unknown key id");
    if (slen != SIG_LEN)
        FAIL("bad signature");
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int good =
        ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) == 1 &&
        EVP_DigestVerify(ctx, sig, slen, (const unsigned char *)token, (size_t)(d2 - token)) == 1;
    EVP_MD_CTX_free(ctx);
    if (!good)
        FAIL("bad signature");

    if (crm_json_parse(a, (const char *)payload, plen, &pf, &jwhy) != CRM_OK)
        FAIL("malformed payload");
    const crm_field *sub = member(&pf, "sub", CRM_FIELD_STRING);
    const crm_field *role = member(&pf, "role", CRM_FIELD_STRING);
    const crm_field *exp = member(&pf, "exp", CRM_FIELD_INT);
    const crm_field *iat = member(&pf, "iat", CRM_FIELD_INT);
    const crm_field *nbf = crm_fields_get(&pf, "nbf");
    const crm_field *jti = crm_fields_get(&pf, "jti");
    const crm_field *csrf = crm_fields_get(&pf, "csrf");
    if (!only(&pf, payload_members) || sub == NULL || sub->len == 0 || sub->len > CRM_JWT_SUB_MAX ||
        role == NULL || role->len == 0 || role->len > CRM_JWT_ROLE_MAX || exp == NULL ||
        iat == NULL || (nbf != NULL && nbf->type != CRM_FIELD_INT) ||
        (jti != NULL && (jti->type != CRM_FIELD_STRING || jti->len >= sizeof(out->jti))) ||
        (csrf != NULL && (csrf->type != CRM_FIELD_STRING || csrf->len >= sizeof(out->csrf))))
        FAIL("malformed claims");
    if (now >= exp->i + leeway)
        FAIL("expired");
    if (nbf != NULL && nbf->i > now + leeway)
        FAIL("not valid yet");
    memset(out, 0, sizeof(*out));
    memcpy(out->sub, sub->str, sub->len);
    memcpy(out->role, role->str, role->len);
    if (jti != NULL)
        memcpy(out->jti, jti->str, jti->len);
    if (csrf != NULL)
        memcpy(out->csrf, csrf->str, csrf->len);
    out->iat = iat->i;
    out->nbf = nbf != NULL ? nbf->i : iat->i;
    out->exp = exp->i;
    *why = NULL;
    rc = CRM_OK;
out:
    crm_arena_free(a);
    return rc;
}
