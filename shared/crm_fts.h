/*
 * crm_fts.h - turn a user's ?q= into a MySQL FULLTEXT boolean-mode query
 * that cannot fail to parse: operators in the input are never passed on.
 */
#ifndef CRM_FTS_H
#define CRM_FTS_H

#include "crm_arena.h"

#define CRM_FTS_MAX_WORDS 8
#define CRM_FTS_MIN_WORD  3 /* innodb_ft_min_token_size default */

/*
 * Split q into words (letters and digits, any non-ASCII character counts
 * as a letter), drop words shorter than CRM_FTS_MIN_WORD characters and
 * InnoDB's default stop words, and join the first CRM_FTS_MAX_WORDS as
 * "+word* +word2*" (every word required, prefix match). CRM_OK with *out
 * in the arena, or CRM_INVALID when no word remains.
 */
int crm_fts_query(crm_arena *a, const char *q, char **out);

#endif
