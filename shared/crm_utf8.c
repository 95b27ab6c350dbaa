/*
 * crm_utf8.c - strict UTF-8 (RFC 3629). Every byte of a multi-byte
 * sequence is checked against the exact ranges of the RFC's table, so
 * overlongs, surrogates and code points past U+10FFFF fail at the byte
 * where they go wrong.
 */
#include "crm_utf8.h"

int crm_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        unsigned c = p[i];
        unsigned lo = 0x80, hi = 0xBF;
        size_t more;

        if (c < 0x80) {
            if (c == 0)
                return 0;
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            more = 1;
        } else if (c == 0xE0) {
            more = 2;
            lo = 0xA0; /* below: overlong */
        } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
            more = 2;
        } else if (c == 0xED) {
            more = 2;
            hi = 0x9F; /* above: UTF-16 surrogates */
        } else if (c == 0xF0) {
            more = 3;
            lo = 0x90; /* below: overlong */
        } else if (c >= 0xF1 && c <= 0xF3) {
            more = 3;
        } else if (c == 0xF4) {
            more = 3;
            hi = 0x8F; /* above: past U+10FFFF */
        } else {
            return 0; /* continuation byte, C0/C1 overlong lead, F5..FF */
        }
        if (n - i - 1 < more)
            return 0;
        if (p[i + 1] < lo || p[i + 1] > hi)
            return 0;
        for (size_t k = 2; k <= more; k++)
            if ((p[i + k] & 0xC0) != 0x80)
                return 0;
        i += more + 1;
    }
    return 1;
}

size_t crm_utf8_len(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t count = 0;

    for (size_t i = 0; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            count++;
    return count;
}
