/*
 * test_crm_jwt.c - Ed25519 access tokens: what crm_jwt_sign writes,
 * crm_jwt_verify reads back, and every forgery the identity issue names
 * refused: a tampered payload, "alg":"none", HS256 keyed with the public
 * key, an expired token, a future nbf, an unknown kid; plus base64url.
 */
#include "crm_jwt.h"

#include <check.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

#define NOW INT64_C(1795000000)

static char priv_pem[512], pub_pem[512], other_pub_pem[512];

/* A fresh Ed25519 key pair as PEM text (before the tests run: no ck_assert). */
static void keypair(char *priv, char *pub)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    BIO *b = BIO_new(BIO_s_mem());
    int n;
    if (k == NULL || b == NULL)
        abort();
    if (priv != NULL) {
        if (PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) != 1 ||
            (n = BIO_read(b, priv, 511)) <= 0)
            abort();
        priv[n] = '\0';
    }
    if (PEM_write_bio_PUBKEY(b, k) != 1 || (n = BIO_read(b, pub, 511)) <= 0)
        abort();
    pub[n] = '\0';
    BIO_free(b);
    EVP_PKEY_free(k);
}

static crm_jwt_keys *signer(void)
{
    crm_jwt_keys *k = crm_jwt_keys_new();
    ck_assert_int_eq(crm_jwt_keys_set_private(k, "k1", priv_pem, strlen(priv_pem)), CRM_OK);
    return k;
}

static crm_jwt_keys *verifier(void)
{
    crm_jwt_keys *k = crm_jwt_keys_new();
    ck_assert_int_eq(crm_jwt_keys_add_public(k, "k1", pub_pem, strlen(pub_pem)), CRM_OK);
    return k;
}

static void claims(crm_jwt_claims *c, int64_t nbf, int64_t exp)
{
    memset(c, 0, sizeof(*c));
    strcpy(c->sub, "42");
    strcpy(c->role, "sales");
    c->iat = nbf;
    c->nbf = nbf;
    c->exp = exp;
}

/* A token of signer()'s, NUL-terminated, owned by the caller. */
static char *token(int64_t nbf, int64_t exp)
{
    crm_jwt_keys *k = signer();
    crm_jwt_claims c;
    crm_buf b;
    claims(&c, nbf, exp);
    crm_buf_init(&b, 0);
    ck_assert_int_eq(crm_jwt_sign(k, &c, &b), CRM_OK);
    char *t = strndup(b.data, b.len);
    crm_buf_free(&b);
    crm_jwt_keys_free(k);
    return t;
}

static int verify(const char *t, const char **why)
{
    crm_jwt_keys *k = verifier();
    crm_jwt_claims c;
    int rc = crm_jwt_verify(k, t, strlen(t), NOW, 30, &c, why);
    crm_jwt_keys_free(k);
    return rc;
}

static char *b64(const char *s)
{
    crm_buf b;
    crm_buf_init(&b, 0);
    crm_jwt_b64url_encode(&b, (const unsigned char *)s, strlen(s));
    char *out = b.len > 0 ? strndup(b.data, b.len) : strdup("");
    crm_buf_free(&b);
    return out;
}

/* header.payload.sig from parts (b64 applied to the first two). */
static char *forge(const char *header, const char *payload, const char *sig_b64)
{
    char *h = b64(header), *p = b64(payload);
    size_t n = strlen(h) + strlen(p) + strlen(sig_b64) + 3;
    char *t = malloc(n);
    snprintf(t, n, "%s.%s.%s", h, p, sig_b64);
    free(h);
    free(p);
    return t;
}

START_TEST(test_round_trip)
{
    char *t = token(NOW - 60, NOW + 600);
    crm_jwt_keys *k = verifier();
    crm_jwt_claims c;
    const char *why = "unset";
    ck_assert_int_eq(crm_jwt_verify(k, t, strlen(t), NOW, 30, &c, &why), CRM_OK);
    ck_assert_ptr_null(why);
    ck_assert_str_eq(c.sub, "42");
    ck_assert_str_eq(c.role, "sales");
    ck_assert_int_eq(c.exp, NOW + 600);
    ck_assert_int_eq(c.nbf, NOW - 60);
    ck_assert_uint_eq(strlen(c.jti), 32); /* random, hex */
    /* Two tokens of the same claims differ (jti). */
    char *t2 = token(NOW - 60, NOW + 600);
    ck_assert_str_ne(t, t2);
    /* The header is exactly what an EdDSA JWT says. */
    char *dot = strchr(t, '.');
    unsigned char h[256];
    size_t hn = 0;
    ck_assert_int_eq(crm_jwt_b64url_decode(t, (size_t)(dot - t), h, &hn), CRM_OK);
    ck_assert_int_eq(memcmp(h, "{\"alg\":\"EdDSA\",\"typ\":\"JWT\",\"kid\":\"k1\"}", hn), 0);
    crm_jwt_keys_free(k);
    free(t);
    free(t2);
}
END_TEST

START_TEST(test_tampered)
{
    const char *why = NULL;
    char *t = token(NOW - 60, NOW + 600);
    /* Another payload under the same header and signature. */
    char *d1 = strchr(t, '.'), *d2 = strchr(d1 + 1, '.');
    char *p = b64("{\"sub\":\"1\",\"role\":\"admin\",\"iat\":1,\"nbf\":1,\"exp\":9999999999}");
    size_t n = strlen(t) + strlen(p) + 8;
    char *forged = malloc(n);
    snprintf(forged, n, "%.*s.%s%s", (int)(d1 - t), t, p, d2);
    ck_assert_int_eq(verify(forged, &why), CRM_INVALID);
    ck_assert_str_eq(why, "bad signature");
    /* One bit of the signature flipped. */
    char *last = t + strlen(t) - 2;
    *last = *last == 'A' ? 'B' : 'A';
    ck_assert_int_eq(verify(t, &why), CRM_INVALID);
    free(p);
    free(forged);
    free(t);
}
END_TEST

START_TEST(test_alg_none_and_others)
{
    const char *why = NULL;
    const char *payload =
        "{\"sub\":\"1\",\"role\":\"admin\",\"iat\":1,\"nbf\":1,\"exp\":9999999999}";
    char *t = forge("{\"alg\":\"none\",\"typ\":\"JWT\",\"kid\":\"k1\"}", payload, "");
    ck_assert_int_eq(verify(t, &why), CRM_INVALID); /* empty signature part */
    free(t);
    t = forge("{\"alg\":\"none\",\"typ\":\"JWT\",\"kid\":\"k1\"}", payload, "AAAA");
    ck_assert_int_eq(verify(t, &why), CRM_INVALID);
    ck_assert_str_eq(why, "algorithm is not EdDSA");
    free(t);
    static const char *const algs[] = { "None", "NONE", "HS256", "RS256", "ES256", "Ed25519", "" };
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++) {
        char h[128];
        snprintf(h, sizeof h, "{\"alg\":\"%s\",\"kid\":\"k1\"}", algs[i]);
        t = forge(h, payload, "AAAA");
        ck_assert_msg(verify(t, &why) == CRM_INVALID && strcmp(why, "algorithm is not EdDSA") == 0,
                      "alg %s: %s", algs[i], why);
        free(t);
    }
    /* Header members beyond alg, typ and kid: refused (crit, jku, x5u ...). */
    t = forge("{\"alg\":\"EdDSA\",\"kid\":\"k1\",\"jku\":\"https://evil.example/keys\"}", payload,
              "AAAA");
    ck_assert_int_eq(verify(t, &why), CRM_INVALID);
    free(t);
}
END_TEST

/* HS256 with the public key as the HMAC secret: the classic confusion. */
START_TEST(test_hs256_with_public_key)
{
    const char *why = NULL;
    char *h = b64("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}");
    char *p = b64("{\"sub\":\"1\",\"role\":\"admin\",\"iat\":1,\"nbf\":1,\"exp\":9999999999}");
    char input[1024];
    snprintf(input, sizeof input, "%s.%s", h, p);
    unsigned char mac[32];
    unsigned int maclen = 0;
    ck_assert_ptr_nonnull(HMAC(EVP_sha256(), pub_pem, (int)strlen(pub_pem),
                               (const unsigned char *)input, strlen(input), mac, &maclen));
    crm_buf b;
    crm_buf_init(&b, 0);
    crm_buf_printf(&b, "%s.", input);
    crm_jwt_b64url_encode(&b, mac, maclen);
    char *t = strndup(b.data, b.len);
    ck_assert_int_eq(verify(t, &why), CRM_INVALID);
    ck_assert_str_eq(why, "algorithm is not EdDSA");
    /* Even labelled EdDSA, an HMAC is not a signature. */
    char *h2 = b64("{\"alg\":\"EdDSA\",\"typ\":\"JWT\",\"kid\":\"k1\"}");
    snprintf(input, sizeof input, "%s.%s", h2, p);
    ck_assert_ptr_nonnull(HMAC(EVP_sha256(), pub_pem, (int)strlen(pub_pem),
                               (const unsigned char *)input, strlen(input), mac, &maclen));
    crm_buf_reset(&b);
    crm_buf_printf(&b, "%s.", input);
    crm_jwt_b64url_encode(&b, mac, maclen);
    free(t);
    t = strndup(b.data, b.len);
    ck_assert_int_eq(verify(t, &why), CRM_INVALID);
    ck_assert_str_eq(why, "bad signature");
    crm_buf_free(&b);
    free(t);
    free(h);
    free(h2);
    free(p);
}
END_TEST

START_TEST(test_times)
{
    const char *why = NULL;
    char *t = token(NOW - 700, NOW - 100); /* expired 100 s ago, leeway 30 */
    ck_assert_int_eq(verify(t, &why), CRM_INVALID);
    ck_assert_str_eq(why, "expired");
    free(t);
    t = token(NOW - 700, NOW - 10); /* within the leeway */
    ck_assert_int_eq(verify(t, &why), CRM_OK);
    free(t);
    t = token(NOW + 100, NOW + 700); /* not valid for another 100 s */
    ck_assert_int_eq(verify(t, &why), CRM_INVALID);
    ck_assert_str_eq(why, "not valid yet");
    free(t);
    t = token(NOW + 10, NOW + 700); /* within the leeway */
    ck_assert_int_eq(verify(t, &why), CRM_OK);
    free(t);
}
END_TEST

START_TEST(test_keys)
{
    const char *why = NULL;
    char *t = token(NOW - 60, NOW + 600);
    /* Unknown kid: the verifier holds another key under another name. */
    crm_jwt_keys *k = crm_jwt_keys_new();
    ck_assert_int_eq(crm_jwt_keys_add_public(k, "k2", other_pub_pem, strlen(other_pub_pem)),
                     CRM_OK);
    crm_jwt_claims c;
    ck_assert_int_eq(crm_jwt_verify(k, t, strlen(t), NOW, 30, &c, &why), CRM_INVALID);
    ck_assert_str_eq(why, "unknown key id");
    crm_jwt_keys_free(k);
    /* The right kid with the wrong key: the signature fails. */
    k = crm_jwt_keys_new();
    ck_assert_int_eq(crm_jwt_keys_add_public(k, "k1", other_pub_pem, strlen(other_pub_pem)),
                     CRM_OK);
    ck_assert_int_eq(crm_jwt_verify(k, t, strlen(t), NOW, 30, &c, &why), CRM_INVALID);
    ck_assert_str_eq(why, "bad signature");
    /* Keys: a repeated or malformed kid, something that is not an Ed25519 key. */
    ck_assert_int_eq(crm_jwt_keys_add_public(k, "k1", pub_pem, strlen(pub_pem)), CRM_INVALID);
    ck_assert_int_eq(crm_jwt_keys_add_public(k, "bad kid", pub_pem, strlen(pub_pem)), CRM_INVALID);
    ck_assert_int_eq(crm_jwt_keys_add_public(k, "k3", "not a key", 9), CRM_INVALID);
    ck_assert_int_eq(crm_jwt_keys_add_public(k, "k3", priv_pem, strlen(priv_pem)), CRM_INVALID);
    /* Rotation: the old key and the new one side by side. */
    ck_assert_int_eq(crm_jwt_keys_add_public(k, "k0", pub_pem, strlen(pub_pem)), CRM_OK);
    crm_jwt_keys_free(k);
    /* Without a signing key nothing is signed. */
    k = verifier();
    claims(&c, NOW, NOW + 60);
    crm_buf b;
    crm_buf_init(&b, 0);
    ck_assert_int_eq(crm_jwt_sign(k, &c, &b), CRM_INVALID);
    ck_assert_uint_eq(b.len, 0);
    crm_buf_free(&b);
    crm_jwt_keys_free(k);
    free(t);
}
END_TEST

START_TEST(test_malformed)
{
    const char *why = NULL;
    char *t = token(NOW - 60, NOW + 600);
    char buf[4096];
    static const char *const bad[] = { "", ".", "..", "a.b", "a.b.c.d", "!!!.b.c" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(verify(bad[i], &why) == CRM_INVALID, "'%s' accepted", bad[i]);
    snprintf(buf, sizeof buf, "%s.x", t); /* a fourth part */
    ck_assert_int_eq(verify(buf, &why), CRM_INVALID);
    snprintf(buf, sizeof buf, "%s=", t); /* padding */
    ck_assert_int_eq(verify(buf, &why), CRM_INVALID);
    snprintf(buf, sizeof buf, " %s", t);
    ck_assert_int_eq(verify(buf, &why), CRM_INVALID);
    ck_assert_int_eq(verify(t, &why), CRM_OK);
    /* Claims: a payload without exp, with a numeric sub, with a stray member. */
    static const char *const payloads[] = {
        "{\"sub\":\"1\",\"role\":\"admin\",\"iat\":1,\"nbf\":1}",
        "{\"sub\":1,\"role\":\"admin\",\"iat\":1,\"nbf\":1,\"exp\":9999999999}",
        "{\"sub\":\"1\",\"role\":\"admin\",\"iat\":1,\"exp\":9999999999,\"admin\":true}",
    };
    for (size_t i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
        /* Validly signed, so the claims check is what refuses them. */
        EVP_PKEY *key = NULL;
        BIO *bio = BIO_new_mem_buf(priv_pem, -1);
        key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
        BIO_free(bio);
        char *h = b64("{\"alg\":\"EdDSA\",\"typ\":\"JWT\",\"kid\":\"k1\"}"), *p = b64(payloads[i]);
        char input[1024];
        snprintf(input, sizeof input, "%s.%s", h, p);
        unsigned char sig[64];
        size_t slen = sizeof sig;
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        ck_assert_int_eq(EVP_DigestSignInit(ctx, NULL, NULL, NULL, key), 1);
        ck_assert_int_eq(
            EVP_DigestSign(ctx, sig, &slen, (const unsigned char *)input, strlen(input)), 1);
        EVP_MD_CTX_free(ctx);
        EVP_PKEY_free(key);
        crm_buf b;
        crm_buf_init(&b, 0);
        crm_buf_printf(&b, "%s.", input);
        crm_jwt_b64url_encode(&b, sig, slen);
        char *forged = strndup(b.data, b.len);
        ck_assert_msg(verify(forged, &why) == CRM_INVALID && strcmp(why, "malformed claims") == 0,
                      "payload %s: %s", payloads[i], why);
        free(forged);
        crm_buf_free(&b);
        free(h);
        free(p);
    }
    free(t);
}
END_TEST

START_TEST(test_base64url)
{
    static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
    static const char *const coded[] = { "", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy" };
    unsigned char out[16];
    size_t n;
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        char *c = b64(plain[i]);
        ck_assert_str_eq(c, coded[i]);
        free(c);
        ck_assert_int_eq(crm_jwt_b64url_decode(coded[i], strlen(coded[i]), out, &n), CRM_OK);
        ck_assert_uint_eq(n, strlen(plain[i]));
        ck_assert_int_eq(memcmp(out, plain[i], n), 0);
    }
    /* '-' and '_' for 62 and 63; '+', '/', '=' refused; a lone char; stray bits. */
    const unsigned char ff[] = { 0xfb, 0xff };
    crm_buf b;
    crm_buf_init(&b, 0);
    crm_jwt_b64url_encode(&b, ff, 2);
    ck_assert_int_eq(memcmp(b.data, "-_8", 3), 0);
    crm_buf_free(&b);
    ck_assert_int_eq(crm_jwt_b64url_decode("+/8", 3, out, &n), CRM_INVALID);
    ck_assert_int_eq(crm_jwt_b64url_decode("Zg==", 4, out, &n), CRM_INVALID);
    ck_assert_int_eq(crm_jwt_b64url_decode("Z", 1, out, &n), CRM_INVALID);
    ck_assert_int_eq(crm_jwt_b64url_decode("Zh", 2, out, &n), CRM_INVALID);
}
END_TEST

static Suite *jwt_suite(void)
{
    Suite *s = suite_create("crm_jwt");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_tampered);
    tcase_add_test(tc, test_alg_none_and_others);
    tcase_add_test(tc, test_hs256_with_public_key);
    tcase_add_test(tc, test_times);
    tcase_add_test(tc, test_keys);
    tcase_add_test(tc, test_malformed);
    tcase_add_test(tc, test_base64url);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    keypair(priv_pem, pub_pem);
    keypair(NULL, other_pub_pem);
    SRunner *sr = srunner_create(jwt_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
