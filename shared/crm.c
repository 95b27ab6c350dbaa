/*
 * crm.c - allocation wrappers. Out of memory is not a condition a worker
 * can answer well, so it dies and the supervisor starts a fresh one.
 */
#include "crm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void crm_oom(void)
{
    static const char msg[] = "{\"level\":\"error\",\"msg\":\"out of memory\"}\n";
    /* No stdio here: it may need the memory we just failed to get. */
    ssize_t rc = write(STDERR_FILENO, msg, sizeof(msg) - 1);
    (void)rc;
    abort();
}

void *crm_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        crm_oom();
    return p;
}

void *crm_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        crm_oom();
    return p;
}

void *crm_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        crm_oom();
    return q;
}

char *crm_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = crm_xmalloc(n);
    memcpy(p, s, n);
    return p;
}
