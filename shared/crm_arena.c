/*
 * crm_arena.c - a chain of blocks; allocation bumps a pointer. The first
 * block survives resets so a worker in steady state does no malloc for
 * request data at all.
 */
#include "crm_arena.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN 16

typedef struct block {
    struct block *next;
    size_t size;
    size_t used;
    /* data follows, aligned */
} block;

typedef struct cleanup {
    struct cleanup *next;
    crm_cleanup_fn fn;
    void *arg;
} cleanup;

struct crm_arena {
    block *head;  /* current block (most recent) */
    block *first; /* kept across resets */
    size_t block_size;
    size_t used;
    cleanup *cleanups;
};

#define BLOCK_HDR ((sizeof(block) + ALIGN - 1) & ~(size_t)(ALIGN - 1))

static block *block_new(size_t size)
{
    block *b = crm_xmalloc(BLOCK_HDR + size);
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

crm_arena *crm_arena_new(size_t size)
{
    crm_arena *a = crm_xcalloc(1, sizeof(*a));
    a->block_size = size < 1024 ? 1024 : size;
    a->first = a->head = block_new(a->block_size);
    return a;
}

void *crm_arena_alloc(crm_arena *a, size_t n)
{
    size_t need = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    block *b = a->head;

    if (need < n)
        crm_oom(); /* overflow */
    if (b->size - b->used < need) {
        size_t size = need > a->block_size ? need : a->block_size;
        b = block_new(size);
        b->next = a->head;
        a->head = b;
    }
    void *p = (char *)b + BLOCK_HDR + b->used;
    b->used += need;
    a->used += need;
    return p;
}

void *crm_arena_calloc(crm_arena *a, size_t n)
{
    void *p = crm_arena_alloc(a, n);
    memset(p, 0, n);
    return p;
}

char *crm_arena_strndup(crm_arena *a, const char *s, size_t n)
{
    char *p = crm_arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *crm_arena_strdup(crm_arena *a, const char *s)
{
    return crm_arena_strndup(a, s, strlen(s));
}

char *crm_arena_printf(crm_arena *a, const char *fmt, ...)
{
    va_list ap;
    char small[256];

    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return crm_arena_strdup(a, "");
    if ((size_t)n < sizeof(small))
        return crm_arena_strndup(a, small, (size_t)n);

    char *p = crm_arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void crm_arena_cleanup(crm_arena *a, crm_cleanup_fn fn, void *arg)
{
    cleanup *c = crm_arena_alloc(a, sizeof(*c));
    c->fn = fn;
    c->arg = arg;
    c->next = a->cleanups;
    a->cleanups = c;
}

static void run_cleanups(crm_arena *a)
{
    /* A cleanup may allocate; take the list first so it cannot loop. */
    while (a->cleanups != NULL) {
        cleanup *c = a->cleanups;
        a->cleanups = NULL;
        for (; c != NULL; c = c->next)
            c->fn(c->arg);
    }
}

void crm_arena_reset(crm_arena *a)
{
    run_cleanups(a);
    block *b = a->head;
    while (b != a->first) {
        block *next = b->next;
        free(b);
        b = next;
    }
    a->head = a->first;
    a->first->used = 0;
    a->used = 0;
}

void crm_arena_free(crm_arena *a)
{
    if (a == NULL)
        return;
    crm_arena_reset(a);
    free(a->first);
    free(a);
}

size_t crm_arena_used(const crm_arena *a)
{
    return a->used;
}
