/*
 * crm_service.h - the program around a service: subcommands
 *   serve (default)  run the worker pool
 *   migrate          apply sql/<service>/ migrations
 *   version          print the version
 *   routes           print the route table (the access tests read it)
 *   health           exit 0 when the running pool is ready (containers)
 * and any of the service's own (crm_command: identity's create-admin).
 * Each service's main.c fills one crm_service and calls crm_service_main.
 */
#ifndef CRM_SERVICE_H
#define CRM_SERVICE_H

#include "crm_db.h"
#include "crm_pool.h"

/*
 * A subcommand of one service, run after the configuration is loaded and
 * checked (and logging set up), instead of serving. argv[0] is the
 * command's name, argv[1..argc) what followed it. Returns the exit status.
 */
typedef struct {
    const char *name; /* "create-admin" */
    const char *args; /* synopsis of its arguments for the usage text, or NULL */
    const char *help; /* one line */
    int (*run)(const crm_config *conf, int argc, char **argv);
} crm_command;

typedef struct {
    const char *name; /* "customers": schema, lock and log name */
    const crm_route *routes;
    size_t n_routes;
    /* Services that receive this one's events (NULL-terminated), or NULL:
       a relay then runs next to the workers (crm_relay.h). */
    const char *const *subscribers;
    /* Or a background loop of the service's own (marketing's RFM
       refresher), run as the pool's sidecar; NULL: none. A service has
       a relay or a sidecar of its own, not both. */
    int (*sidecar)(const crm_config *conf);
    const char *sidecar_name;
    /* Called in each worker with its own database connection. */
    int (*worker_init)(const crm_config *conf, crm_db *db);
    void (*worker_done)(void);
    /* The service's own subcommands (NULL: none). */
    const crm_command *commands;
    size_t n_commands;
} crm_service;

int crm_service_main(int argc, char **argv, const crm_service *svc);

/* The calling worker's database connection (NULL in the supervisor). */
crm_db *crm_service_db(void);

/* Options for a database connection from the config (user/password are
   the service's, or the migration user's when migrate is set). */
void crm_service_db_opts(const crm_config *c, int migrate, crm_db_opts *o);

#ifndef CRM_VERSION
#define CRM_VERSION "0.1.0"
#endif

#endif
