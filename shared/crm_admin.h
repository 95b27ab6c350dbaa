/*
 * crm_admin.h - the supervisor's plain-HTTP admin port (libmicrohttpd):
 *   GET /healthz  200 while the process is alive
 *   GET /readyz   200 when the ready callback says so and not draining,
 *                 503 with a one-line reason otherwise
 *   GET /metrics  crm_metrics_render()
 * Runs inside the supervisor's own loop (no threads of its own), so the
 * supervisor can keep forking workers safely.
 */
#ifndef CRM_ADMIN_H
#define CRM_ADMIN_H

#include "crm.h"

/* Returns 1 when ready; else 0 and *why set to a static reason. */
typedef int (*crm_ready_fn)(void *ctx, const char **why);

/* Listen on addr:port. CRM_OK or CRM_ERR (logged). */
int crm_admin_start(const char *addr, int port, crm_ready_fn ready, void *ctx);
/* A file descriptor to poll for input, or -1 when not started. */
int crm_admin_fd(void);
/* Milliseconds until crm_admin_run is due anyway (-1: no deadline). */
int crm_admin_timeout_ms(void);
/* Serve whatever is pending; never blocks. */
void crm_admin_run(void);
void crm_admin_set_draining(int draining);
void crm_admin_stop(void);

#endif
