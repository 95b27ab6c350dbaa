/*
 * crm_config.c - settings from the environment, driven by one table.
 *
 * For each entry the value comes from NAME, else from the file named by
 * NAME_FILE (one trailing newline stripped, at most 64 KiB), else from the
 * default. Setting both is an error: which one wins would be a guess.
 * A "%s" in a default stands for the service name given to
 * crm_config_load(), so defaults like "crm_%s" follow the service.
 *
 * Error messages name the variable and quote the offending value, except
 * for secrets, whose values never appear anywhere.
 */
#include "crm_config.h"
#include "crm_log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#define FILE_MAX (64 * 1024)

/* Service name that "%s" in defaults expands to ("" before any load). */
static char subst_service[64];

static void errf(char *err, size_t errlen, const char *fmt, ...) CRM_PRINTF(3, 4);

static void errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/*
 * A value quoted for an error message: at most 40 bytes, anything outside
 * printable ASCII shown as '?', so a message stays one readable line.
 */
static void quote_value(char *out, size_t outlen, const char *v)
{
    size_t n = 0;
    const size_t limit = 40;

    for (; *v != '\0' && n + 4 < outlen; v++) {
        if (n == limit) {
            memcpy(out + n, "...", 3);
            n += 3;
            break;
        }
        unsigned char c = (unsigned char)*v;
        out[n++] = (c >= 0x20 && c < 0x7F && c != '"') ? (char)c : '?';
    }
    out[n] = '\0';
}

/* def with every "%s" replaced by the service name; heap, caller frees. */
static char *expand_default(const char *def)
{
    size_t svc = strlen(subst_service);
    size_t n = 0;

    for (const char *p = def; *p != '\0'; p++) {
        if (p[0] == '%' && p[1] == 's') {
            n += svc;
            p++;
        } else {
            n++;
        }
    }
    char *out = crm_xmalloc(n + 1);
    char *o = out;
    for (const char *p = def; *p != '\0'; p++) {
        if (p[0] == '%' && p[1] == 's') {
            memcpy(o, subst_service, svc);
            o += svc;
            p++;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

/*
 * Read the file named by var (NAME_FILE). On success *out is a heap string
 * with one trailing newline removed. CRM_OK or CRM_INVALID with err set.
 */
static int read_value_file(const char *var, const char *path, char **out, char *err, size_t errlen)
{
    int rc = CRM_INVALID;
    char *buf = crm_xmalloc(FILE_MAX + 2);
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        errf(err, errlen, "%s: cannot open \"%s\": %s", var, path, strerror(errno));
        goto out;
    }
    for (;;) {
        ssize_t r = read(fd, buf + len, FILE_MAX + 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            errf(err, errlen, "%s: cannot read \"%s\": %s", var, path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len > FILE_MAX) {
            errf(err, errlen, "%s: \"%s\" is larger than %d bytes", var, path, FILE_MAX);
            goto out;
        }
    }
    if (memchr(buf, '\0', len) != NULL) {
        errf(err, errlen, "%s: \"%s\" contains a NUL byte", var, path);
        goto out;
    }
    if (len > 0 && buf[len - 1] == '\n') {
        len--;
        if (len > 0 && buf[len - 1] == '\r')
            len--;
    }
    buf[len] = '\0';
    *out = buf;
    buf = NULL;
    rc = CRM_OK;
out:
    if (fd >= 0)
        close(fd);
    free(buf);
    return rc;
}

/* Strict integer: optional sign, digits only, no blanks, no overflow. */
static int parse_long(const char *s, long *out)
{
    const char *p = s;

    if (*p == '+' || *p == '-')
        p++;
    if (*p == '\0')
        return CRM_INVALID;
    for (const char *q = p; *q != '\0'; q++)
        if (*q < '0' || *q > '9')
            return CRM_INVALID;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return CRM_INVALID;
    *out = v;
    return CRM_OK;
}

typedef struct {
    char *str;
    long num;
} value;

/* One entry into *v. CRM_OK or CRM_INVALID with err set. */
static int read_entry(const crm_conf_entry *e, value *v, char *err, size_t errlen)
{
    char file_var[256];
    const char *var = e->env;
    char *text = NULL; /* heap: the raw value */
    int rc = CRM_INVALID;

    snprintf(file_var, sizeof(file_var), "%s_FILE", e->env);
    const char *direct = getenv(e->env);
    const char *path = getenv(file_var);

    if (direct != NULL && path != NULL) {
        errf(err, errlen, "%s and %s are both set; set only one", e->env, file_var);
        goto out;
    }
    if (direct != NULL) {
        text = crm_xstrdup(direct);
    } else if (path != NULL) {
        var = file_var;
        if (read_value_file(file_var, path, &text, err, errlen) != CRM_OK)
            goto out;
    } else if (e->def != NULL) {
        text = expand_default(e->def);
    }

    if (e->type == CRM_CONF_STR) {
        v->str = text;
        text = NULL;
        rc = CRM_OK;
        goto out;
    }

    if (text == NULL) {
        errf(err, errlen, "%s: required (an integer between %ld and %ld)", e->env, e->min, e->max);
        goto out;
    }
    long n;
    if (parse_long(text, &n) != CRM_OK || n < e->min || n > e->max) {
        if (e->secret) {
            errf(err, errlen, "%s: must be an integer between %ld and %ld", var, e->min, e->max);
        } else {
            char q[64];
            quote_value(q, sizeof(q), text);
            errf(err, errlen, "%s: must be an integer between %ld and %ld (got \"%s\")", var,
                 e->min, e->max, q);
        }
        goto out;
    }
    v->num = n;
    rc = CRM_OK;
out:
    free(text);
    return rc;
}

int crm_config_read(const crm_conf_entry *table, size_t n, void *base, char *err, size_t errlen)
{
    value *vals = crm_xcalloc(n, sizeof(*vals));
    int rc = CRM_INVALID;
    size_t i;

    for (i = 0; i < n; i++)
        if (read_entry(&table[i], &vals[i], err, errlen) != CRM_OK)
            goto out;

    /* All good: only now touch base. */
    for (i = 0; i < n; i++) {
        void *field = (char *)base + table[i].offset;
        if (table[i].type == CRM_CONF_STR) {
            *(char **)field = vals[i].str;
            vals[i].str = NULL;
        } else {
            *(long *)field = vals[i].num;
        }
    }
    rc = CRM_OK;
out:
    for (i = 0; i < n; i++)
        free(vals[i].str);
    free(vals);
    return rc;
}

#define STR(name, field, def, help)                                                                \
    {                                                                                              \
        name, CRM_CONF_STR, def, 0, 0, offsetof(crm_config, field), 0, help                        \
    }
#define SECRET(name, field, help)                                                                  \
    {                                                                                              \
        name, CRM_CONF_STR, NULL, 0, 0, offsetof(crm_config, field), 1, help                       \
    }
#define INT(name, field, def, min, max, help)                                                      \
    {                                                                                              \
        name, CRM_CONF_INT, def, min, max, offsetof(crm_config, field), 0, help                    \
    }

const crm_conf_entry crm_config_table[] = {
    STR("CRM_LISTEN", listen, "unix:/tmp/crm-%s.sock",
        "FastCGI socket: \"unix:/path\", \"host:port\" or \":port\""),
    INT("CRM_BACKLOG", backlog, "1024", 1, 65535, "listen(2) backlog of the FastCGI socket"),
    INT("CRM_WORKERS", workers, "0", 0, 256, "worker processes; 0 = 2 x online cores"),
    INT("CRM_MAX_REQUESTS", max_requests, "100000", 0, 100000000,
        "requests before a worker is recycled; 0 = never"),
    INT("CRM_DRAIN_SECONDS", drain_seconds, "10", 1, 600,
        "seconds to finish requests after SIGTERM before workers are killed"),
    STR("CRM_ADMIN_ADDR", admin_addr, "127.0.0.1", "address of the admin HTTP port"),
    INT("CRM_ADMIN_PORT", admin_port, "9100", 0, 65535,
        "admin HTTP port (/healthz, /readyz, /metrics); 0 = off"),
    INT("CRM_BODY_MAX", body_max, "1048576", 1024, 67108864, "largest request body in bytes"),
    STR("CRM_LOG_LEVEL", log_level, "info", "debug, info, warn or error"),
    STR("CRM_DB_HOST", db_host, "127.0.0.1", "database host"),
    INT("CRM_DB_PORT", db_port, "3306", 1, 65535, "database TCP port"),
    STR("CRM_DB_SOCKET", db_socket, NULL, "database unix socket; wins over host and port"),
    STR("CRM_DB_NAME", db_name, "crm_%s", "database schema"),
    STR("CRM_DB_USER", db_user, "crm_%s", "database user of the service (DML only)"),
    SECRET("CRM_DB_PASSWORD", db_password, "password of CRM_DB_USER"),
    STR("CRM_DB_MIGRATE_USER", db_migrate_user, "crm_%s_migrate",
        "database user for migrations (DDL)"),
    SECRET("CRM_DB_MIGRATE_PASSWORD", db_migrate_password, "password of CRM_DB_MIGRATE_USER"),
    INT("CRM_DB_TIMEOUT", db_timeout, "5", 1, 300,
        "database connect, read and write timeout in seconds"),
    STR("CRM_SQL_DIR", sql_dir, "sql/%s", "folder of this service's migrations"),
    SECRET("CRM_CURSOR_KEY", cursor_key,
           "key that signs list cursors (default: derived from the database password)"),
    STR("CRM_INTERNAL_URL", internal_url, "http://127.0.0.1:8081",
        "NGINX's internal listener, for calls to other services"),
    INT("CRM_HTTP_TIMEOUT_MS", http_timeout_ms, "2000", 100, 60000,
        "longest call to another service in milliseconds, connecting included"),
    SECRET("CRM_EVENT_KEY", event_key,
           "key that signs and checks events between services (the same for every service)"),
    STR("CRM_REPORTING_CURRENCY", reporting_currency, "EUR",
        "marketing: the currency of revenue metrics, RFM and segments (no conversion)"),
    INT("CRM_RFM_REFRESH_MS", rfm_refresh_ms, "1000", 100, 3600000,
        "marketing: shortest time between two RFM refreshes, in milliseconds"),
    STR("CRM_JWT_PUBLIC_KEYS", jwt_public_keys, NULL,
        "PEM Ed25519 public keys access tokens are checked with (current and previous)"),
    SECRET("CRM_JWT_SIGNING_KEY", jwt_signing_key,
           "identity: PEM Ed25519 private key that signs access tokens"),
    INT("CRM_TOKEN_TTL", token_ttl, "900", 60, 86400, "seconds an access token is valid"),
    INT("CRM_LOGIN_MAX_ACCOUNT", login_max_account, "10", 1, 1000,
        "identity: failed logins of one account in a window before 429"),
    INT("CRM_LOGIN_MAX_ADDRESS", login_max_address, "20", 1, 100000,
        "identity: failed logins from one client address in a window before 429"),
    INT("CRM_LOGIN_WINDOW", login_window, "900", 10, 86400,
        "identity: seconds failed logins are counted for"),
};

const size_t crm_config_table_len = CRM_NELEM(crm_config_table);

void crm_config_free(crm_config *c)
{
    for (size_t i = 0; i < crm_config_table_len; i++) {
        if (crm_config_table[i].type != CRM_CONF_STR)
            continue;
        char **field = (char **)(void *)((char *)c + crm_config_table[i].offset);
        free(*field);
        *field = NULL;
    }
    free(c->service);
    c->service = NULL;
}

/* "unix:/path" (fits sockaddr_un) or "[host]:port" with port 1..65535. */
static int check_listen(const char *v, char *err, size_t errlen)
{
    char q[64];

    quote_value(q, sizeof(q), v);
    if (strncmp(v, "unix:", 5) == 0) {
        const char *path = v + 5;
        if (*path == '\0' || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
            errf(err, errlen, "CRM_LISTEN: a unix socket path must be 1 to %zu bytes (got \"%s\")",
                 sizeof(((struct sockaddr_un *)0)->sun_path) - 1, q);
            return CRM_INVALID;
        }
        return CRM_OK;
    }
    const char *colon = strrchr(v, ':');
    long port;
    if (colon == NULL || parse_long(colon + 1, &port) != CRM_OK || colon[1] == '+' ||
        colon[1] == '-' || port < 1 || port > 65535) {
        errf(err, errlen, "CRM_LISTEN: must be \"unix:/path\" or \"host:port\" (got \"%s\")", q);
        return CRM_INVALID;
    }
    return CRM_OK;
}

int crm_config_load(crm_config *c, const char *service, char *err, size_t errlen)
{
    crm_config tmp;
    int rc = CRM_INVALID;

    memset(&tmp, 0, sizeof(tmp));
    snprintf(subst_service, sizeof(subst_service), "%s", service);
    if (crm_config_read(crm_config_table, crm_config_table_len, &tmp, err, errlen) != CRM_OK)
        goto out;
    if (crm_log_level(tmp.log_level) < 0) {
        char q[64];
        quote_value(q, sizeof(q), tmp.log_level);
        errf(err, errlen, "CRM_LOG_LEVEL: must be one of debug, info, warn, error (got \"%s\")", q);
        goto out;
    }
    if (check_listen(tmp.listen, err, errlen) != CRM_OK)
        goto out;
    tmp.service = crm_xstrdup(service);
    *c = tmp;
    rc = CRM_OK;
out:
    if (rc != CRM_OK)
        crm_config_free(&tmp);
    return rc;
}
