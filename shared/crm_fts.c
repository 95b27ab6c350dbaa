/*
 * crm_fts.c - safe boolean-mode FULLTEXT queries from free text.
 */
#include "crm_fts.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* InnoDB's default stop word list (INNODB_FT_DEFAULT_STOPWORD). */
static const char *const stopwords[] = {
    "a",    "about", "an",  "are",  "as",   "at",    "be",  "by",   "com",  "de",  "en",   "for",
    "from", "how",   "i",   "in",   "is",   "it",    "la",  "of",   "on",   "or",  "that", "the",
    "this", "to",    "was", "what", "when", "where", "who", "will", "with", "und", "www",  NULL,
};

static int is_word_byte(unsigned char c)
{
    return c >= 0x80 || isalnum(c);
}

static int is_stopword(const char *w, size_t n)
{
    for (size_t i = 0; stopwords[i] != NULL; i++) {
        if (strlen(stopwords[i]) == n && strncasecmp(stopwords[i], w, n) == 0)
            return 1;
    }
    return 0;
}

int crm_fts_query(crm_arena *a, const char *q, char **out)
{
    size_t qn = strlen(q), words = 0, o = 0;
    char *buf = crm_arena_alloc(a, qn * 2 + 4 * CRM_FTS_MAX_WORDS + 1);

    for (size_t i = 0; i < qn && words < CRM_FTS_MAX_WORDS;) {
        while (i < qn && !is_word_byte((unsigned char)q[i]))
            i++;
        size_t start = i, chars = 0;
        while (i < qn && is_word_byte((unsigned char)q[i])) {
            if (((unsigned char)q[i] & 0xc0) != 0x80)
                chars++;
            i++;
        }
        size_t n = i - start;
        if (n == 0 || chars < CRM_FTS_MIN_WORD || is_stopword(q + start, n))
            continue;
        if (o > 0)
            buf[o++] = ' ';
        buf[o++] = '+';
        memcpy(buf + o, q + start, n);
        o += n;
        buf[o++] = '*';
        words++;
    }
    buf[o] = '\0';
    if (words == 0)
        return CRM_INVALID;
    *out = buf;
    return CRM_OK;
}
