/*
 * store.c - every SQL statement of the customers service. Parameters are
 * always bound. List statements are assembled once, at start, from the
 * constant fragments below (sort x filters x cursor), so each variant is
 * a fixed text prepared once per connection like any other.
 */
#include "customers.h"

#include "crm_log.h"

#include <stdlib.h>
#include <string.h>

enum {
    ST_GET,
    ST_GET_FOR_UPDATE,
    ST_INSERT,
    ST_UPDATE,
    ST_DELETE,
    ST_TAGS_CLEAR,
    ST_TAG_ADD,
    ST_LOCK_LIVE,
    ST_NOTE_INSERT,
    ST_NOTE_GET,
    ST_NOTE_LIST,
    ST_NOTE_LIST_BEFORE,
    ST_NOTE_DELETE,
    ST_GET_ANY,
    ST_COUNT_BASE = 64, /* + filter mask (16) */
    ST_LIST_BASE = 128, /* + (sort * 16 + mask) * 2 + cursor */
};

/* Times come back as "YYYY-MM-DD HH:MM:SS.ffffff" (UTC); iso() makes them ISO 8601. */
#define COLS                                                                                       \
    "c.id, c.name, c.email, c.phone, c.company, c.status, c.owner_id, c.tags, c.version,"          \
    " c.created_at, c.updated_at"

static const char SQL_GET[] =
    "SELECT " COLS " FROM customers c WHERE c.id = ? AND c.deleted_at IS NULL";
static const char SQL_GET_FOR_UPDATE[] =
    "SELECT " COLS " FROM customers c WHERE c.id = ? AND c.deleted_at IS NULL FOR UPDATE";
static const char SQL_INSERT[] =
    "INSERT INTO customers (name, email, phone, company, status, owner_id, tags, created_at,"
    " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char SQL_UPDATE[] =
    "UPDATE customers SET name = ?, email = ?, phone = ?, company = ?, status = ?, owner_id = ?,"
    " tags = ?, updated_at = ?, version = version + 1 WHERE id = ? AND deleted_at IS NULL";
static const char SQL_DELETE[] =
    "UPDATE customers SET deleted_at = CURRENT_TIMESTAMP(6), version = version + 1,"
    " updated_at = CURRENT_TIMESTAMP(6) WHERE id = ? AND deleted_at IS NULL";
/* Deleted customers too: other services' replicas learn of deletions. */
static const char SQL_GET_ANY[] =
    "SELECT " COLS ", c.deleted_at IS NOT NULL FROM customers c WHERE c.id = ?";
static const char SQL_TAGS_CLEAR[] = "DELETE FROM customer_tags WHERE customer_id = ?";
static const char SQL_TAG_ADD[] = "INSERT INTO customer_tags (customer_id, tag) VALUES (?, ?)";
static const char SQL_LOCK_LIVE[] =
    "SELECT id FROM customers WHERE id = ? AND deleted_at IS NULL LOCK IN SHARE MODE";

#define NOTE_COLS "n.id, n.customer_id, n.kind, n.body, n.author_id, n.created_at"

static const char SQL_NOTE_INSERT[] =
    "INSERT INTO customer_notes (customer_id, kind, body, author_id) VALUES (?, ?, ?, ?)";
static const char SQL_NOTE_GET[] =
    "SELECT " NOTE_COLS " FROM customer_notes n JOIN customers c ON c.id = n.customer_id"
    " WHERE n.id = ? AND n.customer_id = ? AND c.deleted_at IS NULL";
static const char SQL_NOTE_LIST[] = "SELECT " NOTE_COLS " FROM customer_notes n"
                                    " WHERE n.customer_id = ? ORDER BY n.id DESC LIMIT ?";
static const char SQL_NOTE_LIST_BEFORE[] =
    "SELECT " NOTE_COLS " FROM customer_notes n"
    " WHERE n.customer_id = ? AND n.id < ? ORDER BY n.id DESC LIMIT ?";
static const char SQL_NOTE_DELETE[] =
    "DELETE n FROM customer_notes n JOIN customers c ON c.id = n.customer_id"
    " WHERE n.id = ? AND n.customer_id = ? AND c.deleted_at IS NULL";

/* List fragments. Filters bind in this order: status, owner, tag, fts. */
enum { F_STATUS = 1, F_OWNER = 2, F_TAG = 4, F_FTS = 8, F_ALL = 16 };

static const char *const filter_sql[] = {
    " AND c.status = ?",
    " AND c.owner_id = ?",
    " AND EXISTS (SELECT 1 FROM customer_tags t WHERE t.customer_id = c.id AND t.tag = ?)",
    " AND MATCH (c.name, c.email, c.company) AGAINST (? IN BOOLEAN MODE)",
};

const char *const customer_sorts[SORT_COUNT + 1] = {
    "-created_at", "created_at", "name", "-name", "updated_at", "-updated_at", NULL,
};

static const struct {
    const char *key;   /* expression the cursor value is read from */
    const char *after; /* keyset condition: value, value, id */
    const char *order;
} sort_sql[SORT_COUNT] = {
    { "DATE_FORMAT(c.created_at, '%Y-%m-%d %H:%i:%s.%f')",
      " AND (c.created_at < ? OR (c.created_at = ? AND c.id < ?))",
      " ORDER BY c.created_at DESC, c.id DESC" },
    { "DATE_FORMAT(c.created_at, '%Y-%m-%d %H:%i:%s.%f')",
      " AND (c.created_at > ? OR (c.created_at = ? AND c.id > ?))",
      " ORDER BY c.created_at, c.id" },
    { "c.name", " AND (c.name > ? OR (c.name = ? AND c.id > ?))", " ORDER BY c.name, c.id" },
    { "c.name", " AND (c.name < ? OR (c.name = ? AND c.id < ?))",
      " ORDER BY c.name DESC, c.id DESC" },
    { "DATE_FORMAT(c.updated_at, '%Y-%m-%d %H:%i:%s.%f')",
      " AND (c.updated_at > ? OR (c.updated_at = ? AND c.id > ?))",
      " ORDER BY c.updated_at, c.id" },
    { "DATE_FORMAT(c.updated_at, '%Y-%m-%d %H:%i:%s.%f')",
      " AND (c.updated_at < ? OR (c.updated_at = ? AND c.id < ?))",
      " ORDER BY c.updated_at DESC, c.id DESC" },
};

static char list_sql[SORT_COUNT][F_ALL][2][1024];
static char count_sql[F_ALL][1024];

void store_init(void)
{
    for (int mask = 0; mask < F_ALL; mask++) {
        char where[512] = " WHERE c.deleted_at IS NULL";
        for (int f = 0; f < 4; f++) {
            if (mask & (1 << f))
                crm_db_sql_append(where, sizeof(where), filter_sql[f]);
        }
        count_sql[mask][0] = '\0';
        crm_db_sql_append(count_sql[mask], sizeof(count_sql[mask]),
                          "SELECT COUNT(*) FROM customers c");
        crm_db_sql_append(count_sql[mask], sizeof(count_sql[mask]), where);
        for (int s = 0; s < SORT_COUNT; s++) {
            for (int cur = 0; cur < 2; cur++) {
                char *sql = list_sql[s][mask][cur];
                size_t size = sizeof(list_sql[s][mask][cur]);
                sql[0] = '\0';
                crm_db_sql_append(sql, size, "SELECT " COLS ", ");
                crm_db_sql_append(sql, size, sort_sql[s].key);
                crm_db_sql_append(sql, size, " FROM customers c");
                crm_db_sql_append(sql, size, where);
                if (cur)
                    crm_db_sql_append(sql, size, sort_sql[s].after);
                crm_db_sql_append(sql, size, sort_sql[s].order);
                crm_db_sql_append(sql, size, " LIMIT ?");
            }
        }
    }
}

static void read_customer(crm_stmt *st, crm_arena *a, customer *c)
{
    c->id = crm_stmt_col_int(st, 0);
    c->name = crm_stmt_col_dup(st, a, 1);
    c->email = crm_stmt_col_dup(st, a, 2);
    c->phone = crm_stmt_col_dup(st, a, 3);
    c->company = crm_stmt_col_dup(st, a, 4);
    c->status = crm_stmt_col_dup(st, a, 5);
    c->owner_id = crm_stmt_col_null(st, 6) ? 0 : crm_stmt_col_int(st, 6);
    c->tags = crm_stmt_col_dup(st, a, 7);
    c->version = crm_stmt_col_int(st, 8);
    c->created_at = crm_stmt_col_iso(st, a, 9);
    c->updated_at = crm_stmt_col_iso(st, a, 10);
    c->sort_value = NULL;
}

int store_customer_get(crm_db *db, crm_arena *a, int64_t id, int for_update, customer *out)
{
    crm_stmt *st = for_update ? crm_db_stmt(db, ST_GET_FOR_UPDATE, SQL_GET_FOR_UPDATE)
                              : crm_db_stmt(db, ST_GET, SQL_GET);
    int rc;

    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, id);
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    rc = crm_stmt_fetch(st);
    if (rc == CRM_OK)
        read_customer(st, a, out);
    crm_stmt_done(st);
    return rc;
}

int store_customer_get_any(crm_db *db, crm_arena *a, int64_t id, customer *out, int *deleted)
{
    crm_stmt *st = crm_db_stmt(db, ST_GET_ANY, SQL_GET_ANY);
    int rc;

    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, id);
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    rc = crm_stmt_fetch(st);
    if (rc == CRM_OK) {
        read_customer(st, a, out);
        *deleted = crm_stmt_col_int(st, 11) != 0;
    }
    crm_stmt_done(st);
    return rc;
}

static int write_tags(crm_db *db, int64_t id, const customer_in *in, int clear)
{
    int rc;

    if (clear) {
        crm_stmt *st = crm_db_stmt(db, ST_TAGS_CLEAR, SQL_TAGS_CLEAR);
        if (st == NULL)
            return crm_db_status(db);
        crm_stmt_bind_int(st, 0, id);
        if ((rc = crm_stmt_exec(st)) != CRM_OK)
            return rc;
    }
    for (size_t i = 0; i < in->n_tags; i++) {
        crm_stmt *st = crm_db_stmt(db, ST_TAG_ADD, SQL_TAG_ADD);
        if (st == NULL)
            return crm_db_status(db);
        crm_stmt_bind_int(st, 0, id);
        crm_stmt_bind_str(st, 1, in->tags[i], strlen(in->tags[i]));
        if ((rc = crm_stmt_exec(st)) != CRM_OK)
            return rc;
    }
    return CRM_OK;
}

static void bind_customer(crm_stmt *st, const customer_in *in)
{
    crm_stmt_bind_opt_str(st, 0, in->name);
    crm_stmt_bind_opt_str(st, 1, in->email);
    crm_stmt_bind_opt_str(st, 2, in->phone);
    crm_stmt_bind_opt_str(st, 3, in->company);
    crm_stmt_bind_opt_str(st, 4, in->status);
    crm_stmt_bind_opt_id(st, 5, in->owner_id);
    crm_stmt_bind_opt_str(st, 6, in->tags_json);
}

int store_customer_insert(crm_db *db, const customer_in *in, int64_t *id)
{
    crm_stmt *st = crm_db_stmt(db, ST_INSERT, SQL_INSERT);
    int rc;

    if (st == NULL)
        return crm_db_status(db);
    bind_customer(st, in);
    crm_stmt_bind_opt_str(st, 7, in->now);
    crm_stmt_bind_opt_str(st, 8, in->now);
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    *id = (int64_t)crm_stmt_insert_id(st);
    return write_tags(db, *id, in, 0);
}

int store_customer_update(crm_db *db, int64_t id, const customer_in *in)
{
    crm_stmt *st = crm_db_stmt(db, ST_UPDATE, SQL_UPDATE);
    int rc;

    if (st == NULL)
        return crm_db_status(db);
    bind_customer(st, in);
    crm_stmt_bind_opt_str(st, 7, in->now);
    crm_stmt_bind_int(st, 8, id);
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    if (crm_stmt_affected(st) == 0)
        return CRM_NOTFOUND;
    return in->set_tags ? write_tags(db, id, in, 1) : CRM_OK;
}

int store_customer_delete(crm_db *db, int64_t id)
{
    crm_stmt *st = crm_db_stmt(db, ST_DELETE, SQL_DELETE);
    int rc;

    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, id);
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    return crm_stmt_affected(st) == 0 ? CRM_NOTFOUND : CRM_OK;
}

int store_customer_lock_live(crm_db *db, int64_t id)
{
    crm_stmt *st = crm_db_stmt(db, ST_LOCK_LIVE, SQL_LOCK_LIVE);
    int rc;

    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, id);
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    rc = crm_stmt_fetch(st);
    crm_stmt_done(st);
    return rc;
}

static int filter_mask(const customer_filter *f)
{
    return (f->status ? F_STATUS : 0) | (f->owner > 0 ? F_OWNER : 0) | (f->tag ? F_TAG : 0) |
           (f->fts ? F_FTS : 0);
}

static unsigned bind_filters(crm_stmt *st, const customer_filter *f)
{
    unsigned i = 0;
    if (f->status)
        crm_stmt_bind_str(st, i++, f->status, strlen(f->status));
    if (f->owner > 0)
        crm_stmt_bind_int(st, i++, f->owner);
    if (f->tag)
        crm_stmt_bind_str(st, i++, f->tag, strlen(f->tag));
    if (f->fts)
        crm_stmt_bind_str(st, i++, f->fts, strlen(f->fts));
    return i;
}

int store_customer_list(crm_db *db, crm_arena *a, const customer_filter *f, customer *rows,
                        size_t *n)
{
    int mask = filter_mask(f), cur = f->after ? 1 : 0, rc;
    unsigned key = ST_LIST_BASE + (unsigned)((f->sort * F_ALL + mask) * 2 + cur);
    crm_stmt *st = crm_db_stmt(db, key, list_sql[f->sort][mask][cur]);

    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_page(st, bind_filters(st, f), cur, f->after_value, f->after_id, f->limit);
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    size_t k = 0;
    while (k < (size_t)f->limit && (rc = crm_stmt_fetch(st)) == CRM_OK) {
        read_customer(st, a, &rows[k]);
        rows[k].sort_value = crm_stmt_col_dup(st, a, 11);
        k++;
    }
    crm_stmt_done(st);
    if (rc != CRM_OK && rc != CRM_NOTFOUND)
        return rc;
    *n = k;
    return CRM_OK;
}

int store_customer_count(crm_db *db, const customer_filter *f, int64_t *count)
{
    int mask = filter_mask(f);
    crm_stmt *st = crm_db_stmt(db, ST_COUNT_BASE + (unsigned)mask, count_sql[mask]);

    if (st == NULL)
        return crm_db_status(db);
    bind_filters(st, f);
    return crm_stmt_exec_int(st, count);
}

static void read_note(crm_stmt *st, crm_arena *a, note *n)
{
    n->id = crm_stmt_col_int(st, 0);
    n->customer_id = crm_stmt_col_int(st, 1);
    n->kind = crm_stmt_col_dup(st, a, 2);
    n->body = crm_stmt_col_dup(st, a, 3);
    n->author_id = crm_stmt_col_null(st, 4) ? 0 : crm_stmt_col_int(st, 4);
    n->created_at = crm_stmt_col_iso(st, a, 5);
}

int store_note_insert(crm_db *db, int64_t customer_id, const char *kind, const char *body,
                      int64_t author_id, int64_t *id)
{
    crm_stmt *st = crm_db_stmt(db, ST_NOTE_INSERT, SQL_NOTE_INSERT);
    int rc;

    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, customer_id);
    crm_stmt_bind_str(st, 1, kind, strlen(kind));
    crm_stmt_bind_str(st, 2, body, strlen(body));
    crm_stmt_bind_opt_id(st, 3, author_id);
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    *id = (int64_t)crm_stmt_insert_id(st);
    return CRM_OK;
}

int store_note_get(crm_db *db, crm_arena *a, int64_t customer_id, int64_t note_id, note *out)
{
    crm_stmt *st = crm_db_stmt(db, ST_NOTE_GET, SQL_NOTE_GET);
    int rc;

    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, note_id);
    crm_stmt_bind_int(st, 1, customer_id);
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    rc = crm_stmt_fetch(st);
    if (rc == CRM_OK)
        read_note(st, a, out);
    crm_stmt_done(st);
    return rc;
}

int store_note_list(crm_db *db, crm_arena *a, int64_t customer_id, int64_t before_id, int limit,
                    note *rows, size_t *n)
{
    crm_stmt *st = before_id > 0 ? crm_db_stmt(db, ST_NOTE_LIST_BEFORE, SQL_NOTE_LIST_BEFORE)
                                 : crm_db_stmt(db, ST_NOTE_LIST, SQL_NOTE_LIST);
    unsigned i = 0;
    int rc;

    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, i++, customer_id);
    if (before_id > 0)
        crm_stmt_bind_int(st, i++, before_id);
    crm_stmt_bind_int(st, i, limit);
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    size_t k = 0;
    while (k < (size_t)limit && (rc = crm_stmt_fetch(st)) == CRM_OK)
        read_note(st, a, &rows[k++]);
    crm_stmt_done(st);
    if (rc != CRM_OK && rc != CRM_NOTFOUND)
        return rc;
    *n = k;
    return CRM_OK;
}

int store_note_delete(crm_db *db, int64_t customer_id, int64_t note_id)
{
    crm_stmt *st = crm_db_stmt(db, ST_NOTE_DELETE, SQL_NOTE_DELETE);
    int rc;

    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, note_id);
    crm_stmt_bind_int(st, 1, customer_id);
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    return crm_stmt_affected(st) == 0 ? CRM_NOTFOUND : CRM_OK;
}
