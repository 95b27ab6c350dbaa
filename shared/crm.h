/*
 * crm.h - things every module of libcrm shares: status codes and the
 * allocation wrappers that abort instead of returning NULL.
 */
#ifndef CRM_H
#define CRM_H

#include <stddef.h>
#include <stdint.h>

/*
 * Status codes returned by library functions. Zero is success, so
 * `if (rc != CRM_OK)` reads naturally; every failure is negative.
 */
enum {
    CRM_OK = 0,
    CRM_ERR = -1,      /* unexpected failure, already logged */
    CRM_NOTFOUND = -2, /* no such row / key / route */
    CRM_DUP = -3,      /* unique key violation */
    CRM_GONE = -4,     /* connection to the database lost */
    CRM_INVALID = -5,  /* input rejected; details in the caller's context */
    CRM_TOOBIG = -6,   /* input over a hard cap */
    CRM_CONFLICT = -7, /* version mismatch or lock conflict */
};

#define CRM_NELEM(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define CRM_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define CRM_NORETURN     __attribute__((noreturn))
#else
#define CRM_PRINTF(f, a)
#define CRM_NORETURN
#endif

/*
 * Allocation never fails for callers: on exhaustion the process logs and
 * aborts, and the supervisor replaces the worker (STYLE.md §3).
 */
void *crm_xmalloc(size_t n);
void *crm_xcalloc(size_t n, size_t size);
void *crm_xrealloc(void *p, size_t n);
char *crm_xstrdup(const char *s);
CRM_NORETURN void crm_oom(void);

#endif
