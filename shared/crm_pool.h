/*
 * crm_pool.h - the worker pool. The supervisor binds the listening socket,
 * forks N workers that each loop on FCGX_Accept_r, replaces any that die,
 * recycles each after max_requests, serves the admin port, and drains on
 * SIGTERM/SIGINT: readiness false, the unix socket unlinked, no new
 * accepts, connections already queued and requests in hand finished,
 * exit 0 within drain_seconds (stragglers are killed, exit 1).
 * The supervisor never serves requests.
 *
 * A pool may also run one sidecar: a long-lived child that is not a
 * worker (the event relay). It is forked after the workers, holds neither
 * the FastCGI socket nor the admin port, takes no worker metrics slot and
 * is never recycled. If it exits or dies it is logged and restarted with
 * the workers' crash back-off. On drain it gets SIGTERM with the workers
 * and must be gone by the same deadline, or it is killed (exit 1).
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
    /* Optional: a child that is not a worker (e.g. the event relay). Run in its own forked
       process after fork, with the pool's config; it loops until crm_pool_stopping() is true
       (checks it at least every 100 ms) and returns its exit status. NULL: none.
       worker_init/worker_done are not run in it; it gets no metrics slot. */
    int (*sidecar)(const crm_config *conf);
    const char *sidecar_name; /* for logs, e.g. "relay"; NULL: "sidecar" */
} crm_pool_spec;

/* Run the supervisor until drained. Returns the process exit status. */
int crm_pool_run(const crm_pool_spec *spec);

/*
 * In a worker or the sidecar: 1 once the supervisor asked this process to
 * stop (SIGTERM), else 0; in a worker, even while it holds SIGTERM blocked
 * around a request. Cheap enough to call in a loop. In the sidecar the
 * SIGTERM also cuts short a poll() or sleep in progress (EINTR); reads and
 * writes are restarted. Not for the supervisor itself.
 */
int crm_pool_stopping(void);

/*
 * One request over io/ctx through the routes, with logging and metrics:
 * what each worker does per accepted request. Exposed for tests.
 */
void crm_pool_handle(const crm_pool_spec *spec, crm_arena *arena, const crm_req_io *io, void *ctx);

#endif
