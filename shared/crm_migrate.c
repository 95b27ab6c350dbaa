/*
 * crm_migrate.c - apply sql/<service>/NNN_name.sql once each, in numeric
 * order of NNN, recorded in schema_migrations.
 *
 * Many pods may start at once: the runner takes GET_LOCK (waiting up to
 * a minute for another runner) and only then reads what is recorded, so
 * whoever waited sees the files the winner applied and applies nothing
 * twice. MySQL DDL is not transactional, so a file that fails halfway
 * stays half applied and unrecorded: the run stops there, and migrations
 * are written to be re-runnable (IF NOT EXISTS).
 *
 * The statements use keys 505 to 507 of the connection's statement cache;
 * crm_db refuses loudly if a service's own statement claims the same key.
 */
#include "crm_migrate.h"
#include "crm_log.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define KEY_EXISTS   505
#define KEY_RECORDED 506
#define KEY_RECORD   507
#define LOCK_WAIT    60          /* seconds to wait for another runner */
#define LOCK_POLL_MS 200         /* between two tries of the lock */
#define FILE_MAX     (16u << 20) /* no migration file is bigger */
#define FILES_MAX    10000       /* nor are there more files */
#define NAME_MAX_LEN 255         /* schema_migrations.name */

static const char sql_create[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INT NOT NULL PRIMARY KEY,"
    " name VARCHAR(255) NOT NULL,"
    " applied_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci";
static const char sql_exists[] = "SELECT COUNT(*) FROM information_schema.TABLES"
                                 " WHERE TABLE_SCHEMA = DATABASE()"
                                 " AND TABLE_NAME = 'schema_migrations'";
static const char sql_recorded[] = "SELECT version FROM schema_migrations ORDER BY version";
static const char sql_record[] = "INSERT INTO schema_migrations (version, name) VALUES (?, ?)";

typedef struct {
    int version;
    char *name; /* file name, e.g. "001_customers.sql" */
} mig_file;

typedef struct {
    mig_file *v;
    size_t n;
} mig_list;

static void list_free(mig_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].name);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* NNN_name.sql: digits, '_', a non-empty name, ".sql". Sets *version. */
static int parse_name(const char *name, int *version)
{
    size_t len = strlen(name);
    size_t d = 0;
    while (name[d] >= '0' && name[d] <= '9')
        d++;
    if (d == 0 || d > 9 || name[d] != '_' || len > NAME_MAX_LEN)
        return 0;
    if (len < d + 1 + 1 + 4 || strcmp(name + len - 4, ".sql") != 0)
        return 0;
    *version = (int)strtol(name, NULL, 10); /* at most 9 digits: fits */
    return 1;
}

static int by_version(const void *a, const void *b)
{
    const mig_file *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

/* The migration files of dir, sorted by number. CRM_OK or CRM_ERR (logged). */
static int list_dir(const char *dir, mig_list *out)
{
    mig_list l = { NULL, 0 };
    size_t cap = 0;
    int rc = CRM_ERR;
    DIR *d = opendir(dir);
    if (d == NULL) {
        crm_log_error("migrate: cannot open %s: %s", dir, strerror(errno));
        return CRM_ERR;
    }
    const struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int version;
        if (!parse_name(e->d_name, &version))
            continue;
        if (l.n == FILES_MAX) {
            crm_log_error("migrate: more than %d files in %s", FILES_MAX, dir);
            goto out;
        }
        if (l.n == cap) {
            cap = cap ? cap * 2 : 16;
            l.v = crm_xrealloc(l.v, cap * sizeof(*l.v));
        }
        l.v[l.n].version = version;
        l.v[l.n].name = crm_xstrdup(e->d_name);
        l.n++;
    }
    if (l.n > 0)
        qsort(l.v, l.n, sizeof(*l.v), by_version);
    for (size_t i = 1; i < l.n; i++) {
        if (l.v[i].version == l.v[i - 1].version) {
            crm_log_error("migrate: %s and %s in %s share number %d", l.v[i - 1].name, l.v[i].name,
                          dir, l.v[i].version);
            goto out;
        }
    }
    *out = l;
    l.v = NULL;
    l.n = 0;
    rc = CRM_OK;
out:
    closedir(d);
    list_free(&l);
    return rc;
}

/* Whole file as a NUL-terminated string. CRM_OK or CRM_ERR (logged). */
static int read_file(const char *path, char **text)
{
    int rc = CRM_ERR;
    char *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        crm_log_error("migrate: cannot open %s: %s", path, strerror(errno));
        return CRM_ERR;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        crm_log_error("migrate: %s is not a regular file", path);
        goto out;
    }
    if ((unsigned long long)sb.st_size > FILE_MAX) {
        crm_log_error("migrate: %s is over %u bytes", path, FILE_MAX);
        goto out;
    }
    size_t n = (size_t)sb.st_size;
    buf = crm_xmalloc(n + 1);
    if (fread(buf, 1, n, f) != n || ferror(f)) {
        crm_log_error("migrate: cannot read %s", path);
        goto out;
    }
    buf[n] = '\0';
    if (strlen(buf) != n) {
        crm_log_error("migrate: %s contains a NUL byte", path);
        goto out;
    }
    *text = buf;
    buf = NULL;
    rc = CRM_OK;
out:
    free(buf);
    fclose(f);
    return rc;
}

static int blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return 0;
    return 1;
}

typedef struct {
    int *v;
    size_t n;
} version_set;

static int has_version(const version_set *s, int version)
{
    /* s is sorted (ORDER BY version) */
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->v[mid] == version)
            return 1;
        if (s->v[mid] < version)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* Versions recorded in schema_migrations (which must exist). */
static int read_recorded(crm_db *db, version_set *out)
{
    version_set s = { NULL, 0 };
    size_t cap = 0;
    crm_stmt *st = crm_db_stmt(db, KEY_RECORDED, sql_recorded);
    if (st == NULL)
        return crm_db_status(db);
    int rc = crm_stmt_exec(st);
    while (rc == CRM_OK && (rc = crm_stmt_fetch(st)) == CRM_OK) {
        if (s.n == cap) {
            cap = cap ? cap * 2 : 16;
            s.v = crm_xrealloc(s.v, cap * sizeof(*s.v));
        }
        s.v[s.n++] = (int)crm_stmt_col_int(st, 0);
    }
    crm_stmt_done(st);
    if (rc != CRM_NOTFOUND) {
        free(s.v);
        return rc;
    }
    *out = s;
    return CRM_OK;
}

/* *exists = 1 when schema_migrations exists in the current database. */
static int table_exists(crm_db *db, int *exists)
{
    crm_stmt *st = crm_db_stmt(db, KEY_EXISTS, sql_exists);
    if (st == NULL)
        return crm_db_status(db);
    int rc = crm_stmt_exec(st);
    if (rc == CRM_OK && (rc = crm_stmt_fetch(st)) == CRM_OK)
        *exists = crm_stmt_col_int(st, 0) > 0;
    else if (rc == CRM_NOTFOUND)
        rc = CRM_ERR;
    crm_stmt_done(st);
    return rc;
}

static int apply_file(crm_db *db, const char *dir, const mig_file *m)
{
    char *path = NULL, *text = NULL;
    int rc = CRM_ERR;
    size_t n = strlen(dir) + 1 + strlen(m->name) + 1;
    path = crm_xmalloc(n);
    snprintf(path, n, "%s/%s", dir, m->name);
    if (read_file(path, &text) != CRM_OK)
        goto out;
    if (!blank(text) && crm_db_exec_sql(db, text) != CRM_OK) {
        crm_log_error("migrate: %s failed; it and the files after it are not applied", path);
        goto out;
    }
    crm_stmt *st = crm_db_stmt(db, KEY_RECORD, sql_record);
    if (st == NULL)
        goto out;
    crm_stmt_bind_int(st, 0, m->version);
    crm_stmt_bind_str(st, 1, m->name, strlen(m->name));
    if (crm_stmt_exec(st) != CRM_OK) {
        crm_log_error("migrate: %s applied but could not be recorded", path);
        goto out;
    }
    crm_log_info("migrate: applied %s", path);
    rc = CRM_OK;
out:
    free(text);
    free(path);
    return rc;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * GET_LOCK for up to LOCK_WAIT seconds, asked without a server-side wait
 * and retried: a GET_LOCK(name, 60) would outlast the connection's read
 * timeout (opts.timeout) and come back as a lost connection.
 */
static int take_lock(crm_db *db, const char *name)
{
    double give_up = now_seconds() + LOCK_WAIT;
    int rc = crm_db_lock(db, name, 0);
    if (rc == CRM_CONFLICT)
        crm_log_info("migrate: waiting for lock %s (another runner holds it)", name);
    while (rc == CRM_CONFLICT && now_seconds() < give_up) {
        struct timespec pause = { 0, LOCK_POLL_MS * 1000000L };
        nanosleep(&pause, NULL);
        rc = crm_db_lock(db, name, 0);
    }
    return rc;
}

int crm_migrate_run(crm_db *db, const char *dir, const char *lock_name)
{
    mig_list files = { NULL, 0 };
    version_set done = { NULL, 0 };
    int locked = 0, rc = CRM_ERR, applied = 0;

    if (list_dir(dir, &files) != CRM_OK)
        goto out;
    if (crm_db_exec_sql(db, sql_create) != CRM_OK) {
        crm_log_error("migrate: cannot create schema_migrations");
        goto out;
    }
    int lrc = take_lock(db, lock_name);
    if (lrc != CRM_OK) {
        crm_log_error("migrate: cannot take lock %s%s", lock_name,
                      lrc == CRM_CONFLICT ? ": another runner held it too long" : "");
        goto out;
    }
    locked = 1;
    /* Read only now: a runner we waited for may have applied files. */
    if (read_recorded(db, &done) != CRM_OK) {
        crm_log_error("migrate: cannot read schema_migrations");
        goto out;
    }
    for (size_t i = 0; i < files.n; i++) {
        if (has_version(&done, files.v[i].version))
            continue;
        if (apply_file(db, dir, &files.v[i]) != CRM_OK)
            goto out;
        applied++;
    }
    crm_log_info("migrate: %s: %d applied, %zu known", dir, applied, files.n);
    rc = CRM_OK;
out:
    if (locked)
        crm_db_unlock(db, lock_name); /* a lost connection released it anyway */
    free(done.v);
    list_free(&files);
    return rc;
}

int crm_migrate_pending(crm_db *db, const char *dir, int *pending)
{
    mig_list files = { NULL, 0 };
    version_set done = { NULL, 0 };
    int exists = 0;
    int rc = list_dir(dir, &files);
    if (rc != CRM_OK)
        goto out;
    rc = table_exists(db, &exists);
    if (rc != CRM_OK)
        goto out;
    if (exists && (rc = read_recorded(db, &done)) != CRM_OK)
        goto out;
    int n = 0;
    for (size_t i = 0; i < files.n; i++)
        if (!has_version(&done, files.v[i].version))
            n++;
    *pending = n;
out:
    free(done.v);
    list_free(&files);
    return rc;
}
