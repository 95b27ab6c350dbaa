/*
 * crm_pool.h - the worker pool. The supervisor binds the listening socket,
 * forks N workers that each loop on FCGX_Accept_r, replaces any that die,
 * recycles each after max_requests, serves the admin port, and drains on
 * SIGTERM/SIGINT: readiness false, the unix socket unlinked, no new
 * accepts, connections already queued and requests in hand finished,
 * exit 0 within drain_seconds (stragglers are killed, exit 1).
 * The supervisor never serves requests.
 */
#ifndef CRM_POOL_H
#define CRM_POOL_H

#include "crm_admin.h"
#include "crm_config.h"
#include "crm_router.h"

typedef struct {
    const crm_config *conf;
    const crm_route *routes;
    size_t n_routes;
    /* In each worker after fork, before the first accept. CRM_OK or the
       worker exits with status 1 (and is replaced after a back-off). */
    int (*worker_init)(const crm_config *conf);
    /* In each worker before it exits. */
    void (*worker_done)(void);
    /* Readiness for /readyz, called in the supervisor. */
    crm_ready_fn ready;
    void *ready_ctx;
} crm_pool_spec;

/* Run the supervisor until drained. Returns the process exit status. */
int crm_pool_run(const crm_pool_spec *spec);

/*
 * One request over io/ctx through the routes, with logging and metrics:
 * what each worker does per accepted request. Exposed for tests.
 */
void crm_pool_handle(const crm_pool_spec *spec, crm_arena *arena, const crm_req_io *io, void *ctx);

#endif
