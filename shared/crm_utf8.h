/*
 * crm_utf8.h - strict UTF-8 checks (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF).
 */
#ifndef CRM_UTF8_H
#define CRM_UTF8_H

#include "crm.h"

/* 1 when s[0..n) is valid UTF-8 with no NUL byte, else 0. */
int crm_utf8_valid(const char *s, size_t n);

/* Code points in a valid UTF-8 string of n bytes. */
size_t crm_utf8_len(const char *s, size_t n);

#endif
