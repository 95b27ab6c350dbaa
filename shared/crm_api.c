/*
 * crm_api.c - the API conventions shared by every service's handlers.
 */
#include "crm_api.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int crm_api_etags_parse(const char *h, crm_etags *e)
{
    memset(e, 0, sizeof(*e));
    if (h == NULL)
        return CRM_OK;
    e->present = 1;
    const char *p = h;
    while (*p == ' ')
        p++;
    if (p[0] == '*') {
        for (p++; *p == ' '; p++)
            ;
        e->star = 1;
        return *p == '\0' ? CRM_OK : CRM_INVALID;
    }
    for (;;) {
        int weak = p[0] == 'W' && p[1] == '/';
        if (weak)
            p += 2;
        if (*p++ != '"')
            return CRM_INVALID;
        int64_t v = 0;
        size_t digits = 0;
        for (; *p >= '0' && *p <= '9'; p++, digits++) {
            if (digits >= 18)
                return CRM_INVALID;
            v = v * 10 + (*p - '0');
        }
        if (digits == 0 || *p++ != '"' || e->n >= CRM_NELEM(e->v))
            return CRM_INVALID;
        e->weak[e->n] = weak;
        e->v[e->n++] = v;
        while (*p == ' ')
            p++;
        if (*p == '\0')
            return CRM_OK;
        if (*p++ != ',')
            return CRM_INVALID;
        while (*p == ' ')
            p++;
    }
}

int crm_api_etags_match(const crm_etags *e, int64_t version, int strong)
{
    if (e->star)
        return 1;
    for (size_t i = 0; i < e->n; i++) {
        if (e->v[i] == version && !(strong && e->weak[i]))
            return 1;
    }
    return 0;
}

static int conditional(crm_req *r, const char *name, crm_etags *e)
{
    if (crm_api_etags_parse(crm_req_header(r, name), e) == CRM_OK)
        return CRM_OK;
    return crm_api_bad_header(r, name, "must be \"*\" or a list of entity tags");
}

int crm_api_if_match(crm_req *r, crm_etags *e)
{
    return conditional(r, "If-Match", e);
}

int crm_api_if_none_match(crm_req *r, crm_etags *e)
{
    return conditional(r, "If-None-Match", e);
}

int crm_api_not_modified(crm_req *r, const crm_etags *inm, int64_t version)
{
    if (!inm->present || !crm_api_etags_match(inm, version, 0))
        return 0;
    crm_res_header(r, "ETag", crm_api_etag(crm_req_arena(r), version));
    crm_res_send(r, 304, NULL, NULL, 0);
    return 1;
}

const char *crm_api_etag(crm_arena *a, int64_t version)
{
    return crm_arena_printf(a, "\"%lld\"", (long long)version);
}

const char *crm_api_now(crm_arena *a)
{
    struct timespec ts;
    struct tm tm;
    char *s = crm_arena_alloc(a, 80);

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(s, 80, "%04d-%02d-%02d %02d:%02d:%02d.%06ld", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
    return s;
}

const char *crm_api_iso(crm_arena *a, const char *sql_time)
{
    char *s = crm_arena_printf(a, "%sZ", sql_time);
    if (strlen(s) > 10 && s[10] == ' ')
        s[10] = 'T';
    return s;
}

int crm_api_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    int64_t v = 0;
    size_t n = 0;

    if (s == NULL || *s == '\0')
        return CRM_INVALID;
    for (; s[n] != '\0'; n++) {
        if (s[n] < '0' || s[n] > '9' || n >= 18)
            return CRM_INVALID;
        v = v * 10 + (s[n] - '0');
    }
    if (v < lo || v > hi)
        return CRM_INVALID;
    *out = v;
    return CRM_OK;
}

int crm_api_in_list(const char *const *list, const char *s)
{
    for (size_t i = 0; list != NULL && list[i] != NULL; i++) {
        if (strcmp(list[i], s) == 0)
            return 1;
    }
    return 0;
}

int crm_api_is_null(const crm_fields *fs, const char *name)
{
    const crm_field *f = crm_fields_get(fs, name);
    return f != NULL &&
           (f->type == CRM_FIELD_NULL || (fs->form && f->type == CRM_FIELD_STRING && f->len == 0));
}

int crm_api_check_fields(crm_req *r, const crm_field *items, size_t n, const char *prefix,
                         const char *const *allowed, const char *const *readonly)
{
    crm_field_error errs[16];
    size_t ne = 0;

    for (size_t i = 0; i < n && ne < CRM_NELEM(errs); i++) {
        const char *name = items[i].name;
        if (name == NULL || crm_api_in_list(allowed, name))
            continue;
        errs[ne].field =
            prefix != NULL ? crm_arena_printf(crm_req_arena(r), "%s%s", prefix, name) : name;
        errs[ne].message = crm_api_in_list(readonly, name) ? "read-only field" : "unknown field";
        ne++;
    }
    if (ne == 0)
        return CRM_OK;
    crm_problem_t p = { .status = 400,
                        .type = "unknown-fields",
                        .title = "Unknown or read-only fields",
                        .detail = "the body has fields that cannot be set",
                        .errors = errs,
                        .n_errors = ne };
    return crm_problem_send(r, &p);
}

void crm_api_put_str(crm_buf *b, const char *s)
{
    if (s == NULL)
        crm_buf_puts(b, "null");
    else
        crm_buf_json_str(b, s, strlen(s));
}

void crm_api_put_id(crm_buf *b, int64_t v)
{
    if (v > 0)
        crm_buf_printf(b, "%lld", (long long)v);
    else
        crm_buf_puts(b, "null");
}

void crm_api_page_begin(crm_buf *b)
{
    crm_buf_reset(b);
    crm_buf_puts(b, "{\"items\":[");
}

void crm_api_page_sep(crm_buf *b, size_t i)
{
    if (i > 0)
        crm_buf_putc(b, ',');
}

void crm_api_page_end(crm_buf *b, const char *next_cursor)
{
    crm_buf_puts(b, "],\"next_cursor\":");
    crm_api_put_str(b, next_cursor);
}

void crm_api_list_params(crm_req *r, const char *list, const char *const *sorts, crm_api_list *l,
                         crm_field_error *errs, size_t *ne)
{
    crm_arena *a = crm_req_arena(r);
    const char *s;
    size_t n = 0;

    memset(l, 0, sizeof(*l));
    l->limit = CRM_API_LIMIT_DEFAULT;
    if ((s = crm_req_query(r, "limit")) != NULL &&
        crm_api_parse_int(s, 1, CRM_API_LIMIT_MAX, &l->limit) != CRM_OK) {
        errs[*ne].field = "limit";
        errs[(*ne)++].message = "must be an integer between 1 and 200";
        l->limit = CRM_API_LIMIT_DEFAULT;
    }
    if ((s = crm_req_query(r, "sort")) != NULL) {
        while (sorts[n] != NULL && strcmp(sorts[n], s) != 0)
            n++;
        if (sorts[n] != NULL) {
            l->sort = (int)n;
        } else {
            crm_buf m;
            crm_buf_init(&m, 1024);
            crm_buf_puts(&m, "must be one of:");
            for (size_t i = 0; sorts[i] != NULL; i++)
                crm_buf_printf(&m, "%s %s", i > 0 ? "," : "", sorts[i]);
            errs[*ne].field = "sort";
            errs[(*ne)++].message = crm_arena_strndup(a, m.data, m.len);
            crm_buf_free(&m);
        }
    }
    if ((s = crm_req_query(r, "count")) != NULL) {
        if (strcmp(s, "true") == 0) {
            l->count = 1;
        } else if (strcmp(s, "false") != 0) {
            errs[*ne].field = "count";
            errs[(*ne)++].message = "must be true or false";
        }
    }
    l->scope = crm_arena_printf(a, "%s:%s", list, sorts[l->sort]);
    if ((s = crm_req_query(r, "cursor")) != NULL) {
        const char *scope, *value;
        int64_t id;
        if (crm_cursor_decode(a, s, &scope, &value, &id) != CRM_OK) {
            errs[*ne].field = "cursor";
            errs[(*ne)++].message = "is not a cursor this list gave out";
        } else if (strcmp(scope, l->scope) != 0) {
            errs[*ne].field = "cursor";
            errs[(*ne)++].message = "belongs to another list or sort order";
        } else {
            l->after = 1;
            l->after_value = value;
            l->after_id = id;
        }
    }
}

void crm_api_page_finish(crm_buf *b, crm_arena *a, const crm_api_list *l, size_t fetched,
                         const char *last_value, int64_t last_id, int64_t count)
{
    int more = fetched > (size_t)l->limit;
    crm_api_page_end(b, more ? crm_cursor_encode(a, l->scope, last_value ? last_value : "", last_id)
                             : NULL);
    if (l->count)
        crm_buf_printf(b, ",\"count\":%lld", (long long)count);
    crm_buf_putc(b, '}');
}

int crm_api_send(crm_req *r, int status, const crm_buf *b)
{
    return crm_res_send(r, status, CRM_API_JSON, b->data, b->len);
}

int crm_api_created(crm_req *r, int form, const char *location, const char *page, const char *etag,
                    const crm_buf *b)
{
    if (form && crm_req_wants_html(r)) {
        crm_res_header(r, "Location", page);
        return crm_res_send(r, 303, NULL, NULL, 0);
    }
    crm_res_header(r, "Location", location);
    if (etag != NULL)
        crm_res_header(r, "ETag", etag);
    return crm_api_send(r, 201, b);
}

int crm_api_replay(crm_req *r, int form, crm_idem *idem, const char *page)
{
    if (form && crm_req_wants_html(r) && idem->status == 201) {
        crm_res_header(r, "Location", page);
        return crm_res_send(r, 303, NULL, NULL, 0);
    }
    return crm_idem_replay(idem, r);
}

int crm_api_bad_header(crm_req *r, const char *name, const char *why)
{
    crm_field_error err = { name, why };
    crm_problem_t p = { .status = 400,
                        .type = "bad-header",
                        .title = "Invalid request header",
                        .detail = why,
                        .errors = &err,
                        .n_errors = 1 };
    return crm_problem_send(r, &p);
}

int crm_api_bad_query(crm_req *r, const crm_field_error *errs, size_t n)
{
    crm_problem_t p = { .status = 400,
                        .type = "bad-query",
                        .title = "Invalid query string",
                        .detail = "one or more query parameters are invalid",
                        .errors = errs,
                        .n_errors = n };
    return crm_problem_send(r, &p);
}

int crm_api_invalid(crm_req *r, const crm_field_error *errs, size_t n)
{
    crm_problem_t p = { .status = 422,
                        .title = "Invalid fields",
                        .detail = "one or more fields are invalid",
                        .errors = errs,
                        .n_errors = n };
    return crm_problem_send(r, &p);
}

int crm_api_idem_reused(crm_req *r)
{
    crm_problem_t p = { .status = 422,
                        .type = "idempotency-key-reused",
                        .title = "Idempotency-Key reused",
                        .detail = "this Idempotency-Key was used for a different request" };
    return crm_problem_send(r, &p);
}

int crm_api_db_error(crm_req *r, crm_db *db, int rc)
{
    crm_db_rollback(db);
    if (rc == CRM_GONE || rc == CRM_CONFLICT) {
        crm_res_header(r, "Retry-After", "1");
        return crm_problem(r, 503, "the database is unavailable or busy; retry shortly");
    }
    return crm_problem(r, 500, "the request could not be completed");
}
