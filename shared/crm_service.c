/*
 * crm_service.c - the program around every service: subcommands, config,
 * the per-worker database connection and readiness.
 */
#include "crm_service.h"

#include "crm_auth.h"
#include "crm_cursor.h"
#include "crm_http.h"
#include "crm_log.h"
#include "crm_migrate.h"
#include "crm_relay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIGRATE_READ_TIMEOUT 3600 /* seconds one migration statement may run */

static const crm_service *service;
static const crm_config *config;
static crm_db *worker_db; /* the worker's connection */
static crm_db *ready_db;  /* the supervisor's, for /readyz only */

crm_db *crm_service_db(void)
{
    return worker_db;
}

void crm_service_db_opts(const crm_config *c, int migrate, crm_db_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->host = c->db_host;
    o->port = (unsigned)c->db_port;
    o->socket = c->db_socket;
    o->database = c->db_name;
    o->timeout = (unsigned)c->db_timeout;
    o->user = migrate ? c->db_migrate_user : c->db_user;
    o->password = migrate ? c->db_migrate_password : c->db_password;
    o->multi_statements = migrate;
    /* DDL on a big table takes long; a request's query must not. */
    o->read_timeout = migrate ? MIGRATE_READ_TIMEOUT : 0;
}

/*
 * Cursors must verify in every worker of every pod of the service. Without
 * CRM_CURSOR_KEY the key comes from what those already share: the schema
 * name and the database password.
 */
static void set_cursor_key(const crm_config *c)
{
    if (c->cursor_key != NULL && *c->cursor_key != '\0') {
        crm_cursor_set_key(c->cursor_key, strlen(c->cursor_key));
        return;
    }
    char *k =
        crm_xcalloc(1, strlen(c->db_name) + (c->db_password ? strlen(c->db_password) : 0) + 16);
    strcpy(k, "crm-cursor:");
    strcat(k, c->db_name);
    strcat(k, ":");
    if (c->db_password != NULL)
        strcat(k, c->db_password);
    crm_cursor_set_key(k, strlen(k));
    memset(k, 0, strlen(k));
    free(k);
}

static int worker_init(const crm_config *c)
{
    crm_db_opts o;

    set_cursor_key(c);

    crm_service_db_opts(c, 0, &o);
    worker_db = crm_db_new(&o);
    /* A database that is down now is not fatal: requests answer 503 and
       the connection is made again on the next one. */
    if (crm_db_connect(worker_db) != CRM_OK)
        crm_log_warn("database not reachable at worker start; will retry per request");
    return service->worker_init ? service->worker_init(c, worker_db) : CRM_OK;
}

static void worker_done(void)
{
    if (service->worker_done)
        service->worker_done();
    crm_db_free(worker_db);
    worker_db = NULL;
}

/* Ready: the database answers and every migration file is applied. */
static int ready(void *ctx, const char **why)
{
    int pending = 0;

    (void)ctx;
    if (ready_db == NULL) {
        crm_db_opts o;
        crm_service_db_opts(config, 0, &o);
        ready_db = crm_db_new(&o);
    }
    if (crm_db_connect(ready_db) != CRM_OK || crm_db_ping(ready_db) != CRM_OK) {
        *why = "database unreachable";
        return 0;
    }
    if (crm_migrate_pending(ready_db, config->sql_dir, &pending) != CRM_OK) {
        *why = "cannot read schema_migrations";
        return 0;
    }
    if (pending > 0) {
        *why = "migrations pending";
        return 0;
    }
    return 1;
}

/* The pool's sidecar: the event relay of a service that has subscribers. */
static int relay(const crm_config *c)
{
    return crm_relay_run(c, service->name, service->subscribers);
}

static int migrate(const crm_config *c)
{
    crm_db_opts o;
    char lock[96];

    crm_service_db_opts(c, 1, &o);
    crm_db *db = crm_db_new(&o);
    int rc = crm_db_connect(db);
    if (rc == CRM_OK) {
        snprintf(lock, sizeof(lock), "crm_migrate.%s", c->db_name);
        rc = crm_migrate_run(db, c->sql_dir, lock);
    }
    crm_db_free(db);
    return rc == CRM_OK ? 0 : 1;
}

/*
 * The container health check: GET /readyz (or /healthz with "live": the
 * process answers, whatever the database says) of this pool's admin port,
 * so that an image needs no curl. Exit 0 when it answers 200, 1 otherwise.
 */
static int health(const crm_config *c, const char *what)
{
    const char *path = what != NULL && strcmp(what, "live") == 0 ? "/healthz" : "/readyz";
    char base[64];
    crm_http_res res;
    int ok = 0;

    if (c->admin_port <= 0) {
        fprintf(stderr, "crm-%s health: CRM_ADMIN_PORT is 0 (no admin port)\n", c->service);
        return 1;
    }
    snprintf(base, sizeof(base), "http://127.0.0.1:%ld", c->admin_port);
    crm_http *h = crm_http_new(base, 2000, 4096);
    crm_arena *a = crm_arena_new(4096);
    if (crm_http_get(h, a, path, NULL, NULL, &res) == CRM_OK && res.status == 200)
        ok = 1;
    else
        fprintf(stderr, "crm-%s health: %s did not answer 200\n", c->service, path);
    crm_arena_free(a);
    crm_http_free(h);
    return ok ? 0 : 1;
}

static void usage(const crm_service *svc)
{
    fprintf(stderr,
            "usage: crm-%s [serve|migrate|version|routes|health%s]\n"
            "  serve    run the FastCGI worker pool (default)\n"
            "  migrate  apply sql/%s migrations, then exit\n"
            "  version  print the version\n"
            "  routes   print the route table (method, path, roles, name)\n"
            "  health [live]  exit 0 when the running pool is ready (admin /readyz),\n"
            "           or with live when it answers at all (/healthz)\n",
            svc->name, svc->n_commands > 0 ? "|COMMAND ..." : "", svc->name);
    for (size_t i = 0; i < svc->n_commands; i++) {
        const crm_command *c = &svc->commands[i];
        fprintf(stderr, "  %s%s%s\n      %s\n", c->name, c->args ? " " : "", c->args ? c->args : "",
                c->help);
    }
    fprintf(stderr, "Configuration comes from CRM_* environment variables; see README.md.\n");
}

/* The route table, one route a line: METHOD PATTERN ROLES NAME, roles
   comma-separated (public, service, admin, sales, marketing, viewer).
   The access tests are generated from it. */
static void print_routes(const crm_service *svc)
{
    static const struct {
        unsigned bit;
        const char *name;
    } roles[] = {
        { CRM_ROLE_PUBLIC, "public" },       { CRM_ROLE_SERVICE, "service" },
        { CRM_ROLE_ADMIN, "admin" },         { CRM_ROLE_SALES, "sales" },
        { CRM_ROLE_MARKETING, "marketing" }, { CRM_ROLE_VIEWER, "viewer" },
    };
    for (size_t i = 0; i < svc->n_routes; i++) {
        const crm_route *rt = &svc->routes[i];
        printf("%s %s ", rt->method, rt->pattern);
        int first = 1;
        for (size_t k = 0; k < CRM_NELEM(roles); k++) {
            if (rt->roles & roles[k].bit) {
                printf("%s%s", first ? "" : ",", roles[k].name);
                first = 0;
            }
        }
        printf(" %s\n", rt->name);
    }
}

static const crm_command *find_command(const crm_service *svc, const char *name)
{
    for (size_t i = 0; i < svc->n_commands; i++) {
        if (strcmp(svc->commands[i].name, name) == 0)
            return &svc->commands[i];
    }
    return NULL;
}

int crm_service_main(int argc, char **argv, const crm_service *svc)
{
    static crm_config conf;
    char err[256];
    const char *cmd = argc > 1 ? argv[1] : "serve";
    const crm_command *own = find_command(svc, cmd);

    service = svc;
    config = &conf;
    /* Only the service's own commands and `health [live]` take arguments. */
    int args_ok = own != NULL || argc <= 2 || (argc == 3 && strcmp(cmd, "health") == 0);
    if (!args_ok || strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 ||
        strcmp(cmd, "help") == 0) {
        usage(svc);
        return args_ok ? 0 : 2;
    }
    if (strcmp(cmd, "version") == 0) {
        printf("crm-%s %s\n", svc->name, CRM_VERSION);
        return 0;
    }
    if (strcmp(cmd, "routes") == 0) {
        print_routes(svc);
        return 0;
    }
    if (own == NULL && strcmp(cmd, "serve") != 0 && strcmp(cmd, "migrate") != 0 &&
        strcmp(cmd, "health") != 0) {
        usage(svc);
        return 2;
    }
    if (crm_config_load(&conf, svc->name, err, sizeof(err)) != CRM_OK) {
        fprintf(stderr, "crm-%s: %s\n", svc->name, err);
        return 2;
    }
    crm_log_init(svc->name, crm_log_level(conf.log_level));

    if (own != NULL) {
        int status = own->run(&conf, argc - 1, argv + 1);
        crm_config_free(&conf);
        return status;
    }
    if (strcmp(cmd, "migrate") == 0)
        return migrate(&conf);
    if (strcmp(cmd, "health") == 0)
        return health(&conf, argc > 2 ? argv[2] : NULL);
    if (crm_auth_init(&conf, err, sizeof(err)) != CRM_OK) {
        fprintf(stderr, "crm-%s: %s\n", svc->name, err);
        return 2;
    }

    crm_pool_spec spec = {
        .conf = &conf,
        .routes = svc->routes,
        .n_routes = svc->n_routes,
        .worker_init = worker_init,
        .worker_done = worker_done,
        .ready = ready,
        .ready_ctx = NULL,
    };
    if (svc->subscribers != NULL && svc->subscribers[0] != NULL) {
        spec.sidecar = relay;
        spec.sidecar_name = "relay";
    } else if (svc->sidecar != NULL) {
        spec.sidecar = svc->sidecar;
        spec.sidecar_name = svc->sidecar_name;
    }
    return crm_pool_run(&spec);
}
