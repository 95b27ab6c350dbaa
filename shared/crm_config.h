/*
 * crm_config.h - configuration from the environment, read and checked
 * once at start from one table. A bad value stops the program with a
 * message naming the variable. Every string variable NAME also has a
 * NAME_FILE form whose file content (one trailing newline stripped) is the
 * value; secrets are only ever given that way in deployments.
 */
#ifndef CRM_CONFIG_H
#define CRM_CONFIG_H

#include "crm.h"

typedef enum { CRM_CONF_STR, CRM_CONF_INT } crm_conf_type;

typedef struct {
    const char *env; /* "CRM_WORKERS" */
    crm_conf_type type;
    const char *def; /* default as text; NULL: no default (string
                        stays NULL; an INT without default is required) */
    long min, max;   /* bounds for INT */
    size_t offset;   /* offsetof(struct, field): long or char* */
    int secret;      /* never quoted in error messages */
    const char *help;
} crm_conf_entry;

/*
 * Fill base from table. Returns CRM_OK, or CRM_INVALID with err set to a
 * message that names the variable. Strings are heap copies owned by base
 * for the life of the process.
 */
int crm_config_read(const crm_conf_entry *table, size_t n, void *base, char *err, size_t errlen);

/* The settings every service has. */
typedef struct {
    char *service;             /* set by the program, not the environment */
    char *listen;              /* CRM_LISTEN: "unix:/path" or "host:port" */
    long backlog;              /* CRM_BACKLOG */
    long workers;              /* CRM_WORKERS: 0 = 2 x cores */
    long max_requests;         /* CRM_MAX_REQUESTS: recycle a worker after this */
    long drain_seconds;        /* CRM_DRAIN_SECONDS: SIGTERM deadline */
    char *admin_addr;          /* CRM_ADMIN_ADDR */
    long admin_port;           /* CRM_ADMIN_PORT: 0 = no admin port */
    long body_max;             /* CRM_BODY_MAX: bytes */
    char *log_level;           /* CRM_LOG_LEVEL */
    char *db_host;             /* CRM_DB_HOST */
    long db_port;              /* CRM_DB_PORT */
    char *db_socket;           /* CRM_DB_SOCKET: unix socket, wins over host */
    char *db_name;             /* CRM_DB_NAME */
    char *db_user;             /* CRM_DB_USER */
    char *db_password;         /* CRM_DB_PASSWORD(_FILE) */
    char *db_migrate_user;     /* CRM_DB_MIGRATE_USER: DDL user for migrate */
    char *db_migrate_password; /* CRM_DB_MIGRATE_PASSWORD(_FILE) */
    long db_timeout;           /* CRM_DB_TIMEOUT: connect/read/write seconds */
    char *sql_dir;             /* CRM_SQL_DIR: migrations of this service */
    char *cursor_key;          /* CRM_CURSOR_KEY(_FILE): signs list cursors */
    char *internal_url;        /* CRM_INTERNAL_URL: NGINX's internal listener */
    long http_timeout_ms;      /* CRM_HTTP_TIMEOUT_MS: calls to other services */
    char *event_key;           /* CRM_EVENT_KEY(_FILE): HMAC key of events */
    char *reporting_currency;  /* CRM_REPORTING_CURRENCY: marketing's revenue */
    long rfm_refresh_ms;       /* CRM_RFM_REFRESH_MS: marketing's RFM refresher */
    char *jwt_public_keys;     /* CRM_JWT_PUBLIC_KEYS(_FILE): keys tokens verify with */
    char *jwt_signing_key;     /* CRM_JWT_SIGNING_KEY(_FILE): identity's private key */
    long token_ttl;            /* CRM_TOKEN_TTL: seconds an access token lives */
    long login_max_account;    /* CRM_LOGIN_MAX_ACCOUNT: failures per account */
    long login_max_address;    /* CRM_LOGIN_MAX_ADDRESS: failures per address */
    long login_window;         /* CRM_LOGIN_WINDOW: seconds failures count for */
} crm_config;

extern const crm_conf_entry crm_config_table[];
extern const size_t crm_config_table_len;

/* Read crm_config_table into c for service (defaults use its name). */
int crm_config_load(crm_config *c, const char *service, char *err, size_t errlen);
/* Free the strings crm_config_load gave c. */
void crm_config_free(crm_config *c);

#endif
