/*
 * crm_auth.c - access tokens, roles, CSRF and signed service calls, as the
 * router applies them to every route (crm_auth.h).
 */
#include "crm_auth.h"

#include "crm_event.h"
#include "crm_form.h"
#include "crm_log.h"
#include "crm_problem.h"
#include "crm_router.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define CACHE_SLOTS 512 /* direct-mapped; a worker sees few distinct tokens */

typedef struct {
    uint64_t hash;
    char *token; /* heap copy; NULL: empty slot */
    size_t len;
    int64_t nbf;
    crm_identity id;
} cache_entry;

static crm_jwt_keys *keys;
static const char *event_key;
static cache_entry cache[CACHE_SLOTS];

/* The identity the router found, per request. */
typedef struct {
    crm_identity id;
} auth_state;

/* ---- keys ---- */

static int kid_of(EVP_PKEY *pkey, char out[17])
{
    unsigned char *der = NULL, md[SHA256_DIGEST_LENGTH];
    int n = i2d_PUBKEY(pkey, &der);
    crm_buf b;

    if (n <= 0)
        return CRM_INVALID;
    SHA256(der, (size_t)n, md);
    OPENSSL_free(der);
    crm_buf_init(&b, 32);
    crm_jwt_b64url_encode(&b, md, 12);
    memcpy(out, b.data, 16);
    out[16] = '\0';
    crm_buf_free(&b);
    return CRM_OK;
}

int crm_auth_kid(const char *pem, size_t len, char out[17])
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *pkey = NULL;
    int rc = CRM_INVALID;

    if (bio == NULL)
        return CRM_ERR;
    if (len > 0 && memmem(pem, len, "PRIVATE KEY", 11) != NULL)
        pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    else
        pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    if (pkey != NULL && EVP_PKEY_id(pkey) == EVP_PKEY_ED25519)
        rc = kid_of(pkey, out);
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    ERR_clear_error();
    return rc;
}

static void errf(char *err, size_t errlen, const char *msg)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s", msg);
}

static int count_blocks(const char *pem)
{
    int n = 0;
    for (const char *p = pem; (p = strstr(p, "-----BEGIN PUBLIC KEY-----")) != NULL; p++)
        n++;
    return n;
}

/* Every "PUBLIC KEY" block of pem into k. */
static int load_public(crm_jwt_keys *k, const char *pem, char *err, size_t errlen)
{
    BIO *in = BIO_new_mem_buf(pem, -1);
    int rc = CRM_OK, n = 0;
    EVP_PKEY *pkey;

    if (in == NULL)
        return CRM_ERR;
    while ((pkey = PEM_read_bio_PUBKEY(in, NULL, NULL, NULL)) != NULL) {
        char kid[17];
        BIO *out = BIO_new(BIO_s_mem());
        char *text;
        long tl;

        if (out == NULL || EVP_PKEY_id(pkey) != EVP_PKEY_ED25519 || kid_of(pkey, kid) != CRM_OK ||
            PEM_write_bio_PUBKEY(out, pkey) != 1 || (tl = BIO_get_mem_data(out, &text)) <= 0) {
            errf(err, errlen, "CRM_JWT_PUBLIC_KEYS: a key is not an Ed25519 public key");
            rc = CRM_INVALID;
        } else {
            int a = crm_jwt_keys_add_public(k, kid, text, (size_t)tl);
            if (a == CRM_TOOBIG) {
                errf(err, errlen, "CRM_JWT_PUBLIC_KEYS: too many keys");
                rc = CRM_INVALID;
            } else if (a != CRM_OK && a != CRM_INVALID) {
                rc = a;
            }
            /* CRM_INVALID here is the same key twice: harmless. */
        }
        BIO_free(out);
        EVP_PKEY_free(pkey);
        if (rc != CRM_OK)
            break;
        n++;
    }
    ERR_clear_error();
    BIO_free(in);
    if (rc == CRM_OK && n == 0) {
        errf(err, errlen, "CRM_JWT_PUBLIC_KEYS: no PEM public key found");
        rc = CRM_INVALID;
    }
    /* A block that does not parse stops the reader: refuse it rather than
       start without the keys after it. */
    if (rc == CRM_OK && n != count_blocks(pem)) {
        errf(err, errlen, "CRM_JWT_PUBLIC_KEYS: a PUBLIC KEY block does not parse");
        rc = CRM_INVALID;
    }
    return rc;
}

int crm_auth_load(crm_jwt_keys *k, const char *public_pem, const char *private_pem, char *err,
                  size_t errlen)
{
    if (private_pem != NULL && *private_pem != '\0') {
        char kid[17];
        size_t len = strlen(private_pem);
        if (crm_auth_kid(private_pem, len, kid) != CRM_OK ||
            crm_jwt_keys_set_private(k, kid, private_pem, len) != CRM_OK) {
            errf(err, errlen, "CRM_JWT_SIGNING_KEY: not an Ed25519 private key");
            return CRM_INVALID;
        }
    }
    if (public_pem != NULL && *public_pem != '\0')
        return load_public(k, public_pem, err, errlen);
    return CRM_OK;
}

int crm_auth_init(const crm_config *c, char *err, size_t errlen)
{
    crm_auth_done();
    keys = crm_jwt_keys_new();
    if ((c->jwt_public_keys == NULL || *c->jwt_public_keys == '\0') &&
        (c->jwt_signing_key == NULL || *c->jwt_signing_key == '\0')) {
        errf(err, errlen,
             "CRM_JWT_PUBLIC_KEYS(_FILE) is required: the key access tokens are checked with");
        crm_auth_done();
        return CRM_INVALID;
    }
    if (crm_auth_load(keys, c->jwt_public_keys, c->jwt_signing_key, err, errlen) != CRM_OK) {
        crm_auth_done();
        return CRM_INVALID;
    }
    event_key = c->event_key;
    return CRM_OK;
}

void crm_auth_done(void)
{
    crm_auth_cache_clear();
    crm_jwt_keys_free(keys);
    keys = NULL;
    event_key = NULL;
}

const crm_jwt_keys *crm_auth_keys(void)
{
    return keys;
}

/* ---- roles ---- */

static const struct {
    const char *name;
    unsigned bit;
} role_names[] = {
    { "admin", CRM_ROLE_ADMIN },
    { "sales", CRM_ROLE_SALES },
    { "marketing", CRM_ROLE_MARKETING },
    { "viewer", CRM_ROLE_VIEWER },
};

unsigned crm_auth_role_bit(const char *name)
{
    for (size_t i = 0; i < CRM_NELEM(role_names); i++)
        if (strcmp(role_names[i].name, name) == 0)
            return role_names[i].bit;
    return 0;
}

const char *crm_auth_role_name(unsigned bit)
{
    for (size_t i = 0; i < CRM_NELEM(role_names); i++)
        if (role_names[i].bit == bit)
            return role_names[i].name;
    return NULL;
}

/* ---- the token cache ---- */

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

void crm_auth_cache_clear(void)
{
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        free(cache[i].token);
        memset(&cache[i], 0, sizeof(cache[i]));
    }
}

/* Positive decimal without sign or leading zero, fitting int64. */
static int parse_sub(const char *s, int64_t *out)
{
    int64_t v = 0;

    if (*s < '1' || *s > '9')
        return CRM_INVALID;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9' || v > (INT64_MAX - (*s - '0')) / 10)
            return CRM_INVALID;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return CRM_OK;
}

/*
 * The identity of token at now: from the cache while the token is within
 * its times, else verified and cached. CRM_OK or CRM_INVALID (*why set).
 */
static int identify(const char *token, size_t len, int64_t now, crm_identity *out, const char **why)
{
    uint64_t h = fnv1a(token, len);
    cache_entry *e = &cache[h % CACHE_SLOTS];
    crm_jwt_claims c;

    if (e->token != NULL && e->hash == h && e->len == len && memcmp(e->token, token, len) == 0) {
        if (now < e->id.exp + CRM_AUTH_LEEWAY && e->nbf <= now + CRM_AUTH_LEEWAY) {
            *out = e->id;
            return CRM_OK;
        }
        /* Expired (or not yet valid): verify again to say which. */
    }
    if (keys == NULL) {
        *why = "no keys";
        return CRM_INVALID;
    }
    if (crm_jwt_verify(keys, token, len, now, CRM_AUTH_LEEWAY, &c, why) != CRM_OK)
        return CRM_INVALID;

    crm_identity id;
    memset(&id, 0, sizeof(id));
    id.role = crm_auth_role_bit(c.role);
    id.role_name = crm_auth_role_name(id.role);
    if (id.role == 0 || parse_sub(c.sub, &id.user_id) != CRM_OK) {
        *why = "unknown role or subject";
        return CRM_INVALID;
    }
    id.exp = c.exp;
    memcpy(id.csrf, c.csrf, sizeof(id.csrf));

    free(e->token);
    e->token = crm_xmalloc(len);
    memcpy(e->token, token, len);
    e->len = len;
    e->hash = h;
    e->nbf = c.nbf;
    e->id = id;
    *out = id;
    return CRM_OK;
}

/* ---- cookies ---- */

const char *crm_auth_cookie(crm_req *r, const char *name)
{
    const char *h = crm_req_header(r, "Cookie");
    size_t nl = strlen(name);

    if (h == NULL)
        return NULL;
    while (*h != '\0') {
        while (*h == ' ' || *h == ';')
            h++;
        size_t l = strcspn(h, ";");
        if (l > nl && strncmp(h, name, nl) == 0 && h[nl] == '=') {
            size_t vl = l - nl - 1;
            while (vl > 0 && h[nl + 1 + vl - 1] == ' ')
                vl--;
            return crm_arena_strndup(crm_req_arena(r), h + nl + 1, vl);
        }
        h += l;
    }
    return NULL;
}

void crm_auth_set_cookies(crm_req *r, const char *token, const char *csrf, long ttl)
{
    crm_arena *a = crm_req_arena(r);
    size_t n = strlen(token) + 160;
    char *v = crm_arena_alloc(a, n);

    snprintf(v, n, "%s=%s; Path=/; Max-Age=%ld; Secure; HttpOnly; SameSite=Strict", CRM_AUTH_COOKIE,
             token, ttl);
    crm_res_header(r, "Set-Cookie", v);
    n = strlen(csrf) + 128;
    v = crm_arena_alloc(a, n);
    snprintf(v, n, "%s=%s; Path=/; Max-Age=%ld; Secure; SameSite=Strict", CRM_AUTH_CSRF_COOKIE,
             csrf, ttl);
    crm_res_header(r, "Set-Cookie", v);
}

void crm_auth_clear_cookies(crm_req *r)
{
    crm_res_header(r, "Set-Cookie",
                   CRM_AUTH_COOKIE "=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict");
    crm_res_header(r, "Set-Cookie",
                   CRM_AUTH_CSRF_COOKIE "=; Path=/; Max-Age=0; Secure; SameSite=Strict");
}

/* ---- the router's check ---- */

static int unauthorized(crm_req *r, const char *detail, int bad_token)
{
    crm_res_header(r, "WWW-Authenticate", bad_token ? "Bearer error=\"invalid_token\"" : "Bearer");
    crm_problem_t p = {
        .status = 401, .type = "unauthorized", .title = "Unauthorized", .detail = detail
    };
    return crm_problem_send(r, &p);
}

static int forbidden(crm_req *r, const char *type, const char *detail)
{
    crm_problem_t p = { .status = 403, .type = type, .title = "Forbidden", .detail = detail };
    return crm_problem_send(r, &p);
}

static int is_unsafe(const char *m)
{
    return strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0 && strcmp(m, "OPTIONS") != 0;
}

/* A signed service call: the signature covers the body, or, for a request
   without one, its target (path and query). */
static int check_service(crm_req *r)
{
    const char *content, *ts, *sig;
    size_t len = 0;

    int rc = crm_req_body(r, &content, &len);
    if (rc == CRM_TOOBIG)
        return crm_problem(r, 413, "the request body is over the size limit");
    if (rc != CRM_OK)
        return crm_problem(r, 400, "the request body could not be read");
    if (len == 0) {
        const char *q = crm_req_query_string(r);
        content = *q != '\0' ? crm_arena_printf(crm_req_arena(r), "%s?%s", crm_req_path(r), q)
                             : crm_req_path(r);
        len = strlen(content);
    }
    ts = crm_req_header(r, CRM_EVENT_TS_HEADER);
    sig = crm_req_header(r, CRM_EVENT_SIG_HEADER);
    if (event_key == NULL || *event_key == '\0')
        return unauthorized(r, "service calls are not accepted here", 0);
    rc = crm_event_verify(event_key, strlen(event_key), ts, sig, content, len,
                          (long long)time(NULL), CRM_AUTH_SERVICE_SKEW);
    if (rc != CRM_OK)
        return unauthorized(r, "a signed service call is required", 0);
    return CRM_OK;
}

/* The origin this request was sent to: "https://" + Host. */
static int same_origin(crm_req *r)
{
    const char *origin = crm_req_header(r, "Origin");
    const char *host = crm_req_header(r, "Host");

    if (origin != NULL) {
        if (host == NULL || strncmp(origin, "https://", 8) != 0)
            return 0;
        return strcasecmp(origin + 8, host) == 0;
    }
    const char *site = crm_req_header(r, "Sec-Fetch-Site");
    return site != NULL && strcmp(site, "same-origin") == 0;
}

/* The csrf token the request repeats: header, else the form field. */
static const char *sent_csrf(crm_req *r)
{
    const char *h = crm_req_header(r, CRM_AUTH_CSRF_HEADER), *ct, *body;
    size_t len;
    crm_fields fs;
    const char *why;

    if (h != NULL)
        return h;
    ct = crm_req_header(r, "Content-Type");
    if (ct == NULL || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0)
        return NULL;
    if (crm_req_body(r, &body, &len) != CRM_OK ||
        crm_form_parse(crm_req_arena(r), body, len, 1024, &fs, &why) != CRM_OK)
        return NULL; /* the handler says why the body is wrong, if it gets that far */
    const crm_field *f = crm_fields_get(&fs, CRM_AUTH_CSRF_FIELD);
    return f != NULL && f->type == CRM_FIELD_STRING ? f->str : NULL;
}

static int csrf_ok(crm_req *r, const crm_identity *id)
{
    const char *sent;
    size_t n = strlen(id->csrf);

    if (!same_origin(r) || n == 0 || (sent = sent_csrf(r)) == NULL || strlen(sent) != n)
        return 0;
    return CRYPTO_memcmp(sent, id->csrf, n) == 0;
}

int crm_auth_route(crm_req *r, unsigned roles)
{
    const char *token = NULL, *why = NULL;
    int cookie = 0;
    crm_identity id;

    if (roles & CRM_ROLE_PUBLIC)
        return CRM_OK;
    if (roles & CRM_ROLE_SERVICE)
        return check_service(r);

    const char *authz = crm_req_header(r, "Authorization");
    if (authz != NULL) {
        if (strncasecmp(authz, "Bearer ", 7) != 0)
            return unauthorized(r, "use Authorization: Bearer <access token>", 0);
        token = authz + 7;
        while (*token == ' ')
            token++;
    } else {
        token = crm_auth_cookie(r, CRM_AUTH_COOKIE);
        cookie = 1;
    }
    if (token == NULL || *token == '\0')
        return unauthorized(r, "log in first: an access token is required", 0);
    size_t len = strlen(token);
    if (len > CRM_JWT_MAX || identify(token, len, (int64_t)time(NULL), &id, &why) != CRM_OK) {
        crm_log_info("access token refused: %s", why ? why : "too long");
        return unauthorized(r, "the access token is not valid", 1);
    }
    id.cookie = cookie;
    if ((id.role & roles) == 0)
        return forbidden(r, "forbidden", "your role may not do this");
    if (cookie && is_unsafe(crm_req_method(r)) && !csrf_ok(r, &id))
        return forbidden(r, "csrf",
                         "send the X-CSRF-Token header (or csrf_token field) from this site");

    auth_state *st = crm_arena_alloc(crm_req_arena(r), sizeof(*st));
    st->id = id;
    crm_req_set_auth(r, st);
    return CRM_OK;
}

const crm_identity *crm_auth_identity(crm_req *r)
{
    auth_state *st = crm_req_auth(r);
    return st != NULL ? &st->id : NULL;
}

int crm_auth_has(crm_req *r, unsigned roles)
{
    const crm_identity *id = crm_auth_identity(r);
    return id != NULL && (id->role & roles) != 0;
}

int64_t crm_auth_owner(crm_req *r)
{
    const crm_identity *id = crm_auth_identity(r);
    return id != NULL && id->role == CRM_ROLE_SALES ? id->user_id : 0;
}

void crm_auth_sign_path(const char *key, const char *path, char ts_line[64], char sig_line[96])
{
    char sig[68];
    long long ts = (long long)time(NULL);

    crm_event_sign(key, strlen(key), ts, path, strlen(path), sig);
    snprintf(ts_line, 64, "%s: %lld", CRM_EVENT_TS_HEADER, ts);
    snprintf(sig_line, 96, "%s: %s", CRM_EVENT_SIG_HEADER, sig);
}
