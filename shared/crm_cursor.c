/*
 * crm_cursor.c - "c1\n<sort>\n<id>\n<value>" + MAC in unpadded base64url.
 */
#include "crm_cursor.h"

#include "crm_utf8.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#define MAC_LEN 12 /* 96 bits of HMAC-SHA256 */

static unsigned char key[64] = "crm-cursor-built-in-key";
static size_t key_len = 23;

void crm_cursor_set_key(const void *k, size_t len)
{
    /* Longer keys are hashed first, as HMAC itself would do. */
    if (len > sizeof(key)) {
        unsigned int n = 0;
        EVP_Digest(k, len, key, &n, EVP_sha256(), NULL);
        key_len = n;
    } else {
        memcpy(key, k, len);
        key_len = len;
    }
}

static void mac(const char *data, size_t n, unsigned char out[MAC_LEN])
{
    unsigned char full[EVP_MAX_MD_SIZE];
    unsigned int fl = 0;
    HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)data, n, full, &fl);
    memcpy(out, full, MAC_LEN);
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64_val(char c)
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

char *crm_cursor_encode(crm_arena *a, const char *sort, const char *value, int64_t id)
{
    char *text = crm_arena_printf(a, "c1\n%s\n%lld\n%s", sort, (long long)id, value);
    size_t tn = strlen(text), n = tn + MAC_LEN;
    char *raw = crm_arena_alloc(a, n);
    memcpy(raw, text, tn);
    mac(text, tn, (unsigned char *)raw + tn);
    char *out = crm_arena_alloc(a, (n + 2) / 3 * 4 + 1), *o = out;

    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)raw[i] << 16;
        if (i + 1 < n)
            v |= (unsigned char)raw[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)raw[i + 2];
        *o++ = b64[(v >> 18) & 63];
        *o++ = b64[(v >> 12) & 63];
        if (i + 1 < n)
            *o++ = b64[(v >> 6) & 63];
        if (i + 2 < n)
            *o++ = b64[v & 63];
    }
    *o = '\0';
    return out;
}

int crm_cursor_decode(crm_arena *a, const char *cursor, const char **sort, const char **value,
                      int64_t *id)
{
    size_t n = strlen(cursor);
    if (n < 24 || n > CRM_CURSOR_MAX || n % 4 == 1)
        return CRM_INVALID;

    char *raw = crm_arena_alloc(a, n + 1);
    size_t len = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_val(cursor[i]);
        if (v < 0)
            return CRM_INVALID;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            raw[len++] = (char)((acc >> bits) & 0xff);
        }
    }
    /* Leftover bits must be zero, or two strings would decode alike. */
    if ((acc & ((1u << bits) - 1)) != 0)
        return CRM_INVALID;
    if (len < MAC_LEN + 3)
        return CRM_INVALID;
    unsigned char want[MAC_LEN];
    len -= MAC_LEN;
    mac(raw, len, want);
    if (CRYPTO_memcmp(want, raw + len, MAC_LEN) != 0)
        return CRM_INVALID;
    raw[len] = '\0';
    if (!crm_utf8_valid(raw, len) || strncmp(raw, "c1\n", 3) != 0)
        return CRM_INVALID;

    char *s = raw + 3;
    char *nl1 = strchr(s, '\n');
    if (nl1 == NULL || nl1 == s)
        return CRM_INVALID;
    char *idp = nl1 + 1;
    char *nl2 = strchr(idp, '\n');
    if (nl2 == NULL || nl2 == idp)
        return CRM_INVALID;
    int64_t v = 0;
    for (char *p = idp; p < nl2; p++) {
        if (*p < '0' || *p > '9')
            return CRM_INVALID;
        int d = *p - '0';
        if (v > (INT64_MAX - d) / 10)
            return CRM_INVALID; /* past INT64_MAX: not an id we encoded */
        v = v * 10 + d;
    }
    if (v <= 0)
        return CRM_INVALID;
    *nl1 = '\0';
    *nl2 = '\0';
    *sort = s;
    *value = nl2 + 1;
    *id = v;
    return CRM_OK;
}
