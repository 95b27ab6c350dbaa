/*
 * segments.c - segments: named rules over the customers marketing knows
 * (rules.c compiles them), their members page by page, and a preview that
 * counts the members of a rule not saved.
 */
#include "marketing.h"

#include "crm_api.h"
#include "crm_body.h"
#include "crm_cursor.h"
#include "crm_idem.h"
#include "crm_json.h"

#include <stdio.h>
#include <string.h>

#define SAMPLE_MAX 10

static const char *const fields[] = { "name", "description", "rule", NULL };
static const char *const readonly[] = { "id", "version", "created_at", "updated_at", NULL };

static void segment_json(crm_buf *b, const segment *s)
{
    crm_buf_printf(b, "{\"id\":%lld,\"name\":", (long long)s->id);
    crm_api_put_str(b, s->name);
    crm_buf_puts(b, ",\"description\":");
    crm_api_put_str(b, s->description);
    /* rule is the canonical JSON this service wrote itself */
    crm_buf_puts(b, ",\"rule\":");
    crm_buf_puts(b, s->rule);
    crm_buf_printf(b, ",\"version\":%lld,\"created_at\":", (long long)s->version);
    crm_api_put_str(b, s->created_at);
    crm_buf_puts(b, ",\"updated_at\":");
    crm_api_put_str(b, s->updated_at);
    crm_buf_putc(b, '}');
}

static int send_segment(crm_req *r, int status, const segment *s)
{
    crm_buf_reset(&mk_out);
    segment_json(&mk_out, s);
    crm_res_header(r, "ETag", crm_api_etag(crm_req_arena(r), s->version));
    return crm_api_send(r, status, &mk_out);
}

static int not_found(crm_req *r)
{
    return crm_problem(r, 404, "no such segment");
}

/*
 * crm_api_check_fields over the body's members but the rule builder's
 * (a form's rule.* rows: rule_form_read reads those by name).
 */
static int check_members(crm_req *r, const crm_fields *fs, const char *const *allowed,
                         const char *const *ro)
{
    crm_field *rest = crm_arena_alloc(crm_req_arena(r), sizeof(*rest) * (fs->n + 1));
    size_t n = 0;

    for (size_t i = 0; i < fs->n; i++)
        if (!fs->form || !rule_form_name(fs->items[i].name))
            rest[n++] = fs->items[i];
    return crm_api_check_fields(r, rest, n, NULL, allowed, ro);
}

/*
 * The rule: a JSON object; from a form, its JSON text or the builder's
 * rows (ruleform.c). Checked and compiled into rs; errors go to v.
 */
static void read_rule(crm_valid *v, crm_arena *a, const crm_fields *fs, const rfm_cutoffs *cut,
                      const char *now, int required, rule_sql *rs, int *present)
{
    const crm_field *f = crm_fields_get(fs, "rule");
    crm_fields parsed;
    crm_field built;
    rule_form_map map;
    const char *why = NULL;
    size_t first = v->n;

    *present = 0;
    if (rule_form_read(a, fs, v, &built, &map)) {
        if (f != NULL) {
            crm_valid_error(v, "rule", "send the rule as JSON text or as rows, not both");
            return;
        }
        if (rule_compile(a, &built, "rule", cut, now, v, rs) == CRM_OK)
            *present = 1;
        rule_form_rename(a, v, first, &map);
        return;
    }
    if (f == NULL) {
        if (required)
            crm_valid_error(v, "rule", "is required");
        return;
    }
    if (f->type == CRM_FIELD_STRING && fs->form) {
        if (crm_json_parse(a, f->str, f->len, &parsed, &why) != CRM_OK) {
            crm_valid_error(v, "rule", "must be a rule in JSON");
            return;
        }
        crm_field *obj = crm_arena_alloc(a, sizeof(*obj));
        memset(obj, 0, sizeof(*obj));
        obj->name = "rule";
        obj->type = CRM_FIELD_OBJECT;
        obj->items = parsed.items;
        obj->n = parsed.n;
        f = obj;
    }
    if (rule_compile(a, f, "rule", cut, now, v, rs) == CRM_OK)
        *present = 1;
}

int segments_stored_rule(crm_req *r, const segment *s, const rfm_cutoffs *cut, rule_sql *rs)
{
    crm_arena *a = crm_req_arena(r);
    crm_fields parsed;
    crm_field obj;
    crm_valid v;
    const char *why = NULL;

    if (crm_json_parse(a, s->rule, strlen(s->rule), &parsed, &why) != CRM_OK)
        return CRM_ERR;
    memset(&obj, 0, sizeof(obj));
    obj.name = "rule";
    obj.type = CRM_FIELD_OBJECT;
    obj.items = parsed.items;
    obj.n = parsed.n;
    crm_valid_init(&v, a, &parsed);
    return rule_compile(a, &obj, "rule", cut, crm_api_now(a), &v, rs) == CRM_OK ? CRM_OK : CRM_ERR;
}

int segments_get(crm_req *r)
{
    int64_t id;
    segment s;
    crm_etags inm;
    int rc;

    if (crm_req_path_id(r, "id", &id) != CRM_OK)
        return not_found(r);
    if ((rc = crm_api_if_none_match(r, &inm)) != CRM_OK)
        return rc;
    rc = store_segment_get(mk_db, crm_req_arena(r), id, 0, &s);
    if (rc == CRM_NOTFOUND)
        return not_found(r);
    if (rc != CRM_OK)
        return mk_db_error(r, rc);
    if (crm_api_not_modified(r, &inm, s.version))
        return 304;
    return send_segment(r, 200, &s);
}

int segments_list(crm_req *r)
{
    static const char *const params[] = { "limit", "cursor", "sort", "count", NULL };
    crm_arena *a = crm_req_arena(r);
    crm_field_error errs[8];
    size_t ne = 0;
    list_filter f;
    crm_api_list l;
    int rc;

    if ((rc = crm_req_query_check(r, params)) != CRM_OK)
        return rc;
    memset(&f, 0, sizeof(f));
    crm_api_list_params(r, "segments", list_sorts, &l, errs, &ne);
    if (ne > 0)
        return crm_api_bad_query(r, errs, ne);
    list_filter_from(&f, &l);
    segment *rows = crm_arena_alloc(a, sizeof(segment) * (size_t)f.limit);
    size_t n = 0;
    int64_t count = 0;
    if ((rc = store_segment_list(mk_db, a, &f, rows, &n)) != CRM_OK)
        return mk_db_error(r, rc);
    if (l.count && (rc = store_segment_count(mk_db, &f, &count)) != CRM_OK)
        return mk_db_error(r, rc);
    size_t shown = n > (size_t)l.limit ? (size_t)l.limit : n;
    crm_buf_reset(&mk_out);
    crm_api_page_begin(&mk_out);
    for (size_t i = 0; i < shown; i++) {
        crm_api_page_sep(&mk_out, i);
        segment_json(&mk_out, &rows[i]);
    }
    const segment *last = &rows[shown > 0 ? shown - 1 : 0];
    crm_api_page_finish(&mk_out, a, &l, n, last->sort_value, last->id, count);
    return crm_api_send(r, 200, &mk_out);
}

/* Name and description; rule compiled into rs (present says whether given). */
static int read_segment_in(crm_req *r, crm_fields *fs, int create, segment *s, rule_sql *rs,
                           int *has_rule, unsigned *has)
{
    crm_arena *a = crm_req_arena(r);
    crm_valid v;
    rfm_cutoffs cut;
    const char *str = NULL;
    int rc;

    if ((rc = crm_body_fields(r, fs)) != CRM_OK)
        return rc;
    if ((rc = check_members(r, fs, fields, readonly)) != CRM_OK)
        return rc;
    memset(&cut, 0, sizeof(cut)); /* scores compile the same way with any cut-offs */
    crm_valid_init(&v, a, fs);
    if (!create && fs->n == 0)
        crm_valid_error(&v, "", "the body names no field to change");
    *has = 0;
    if (crm_valid_string(&v, "name", create, 1, 200, &str) == CRM_OK &&
        crm_fields_get(fs, "name") != NULL) {
        if (str == NULL)
            crm_valid_error(&v, "name", "must not be null");
        s->name = str;
        *has |= 1;
    }
    str = NULL;
    if (crm_valid_string(&v, "description", 0, 0, 2000, &str) == CRM_OK &&
        crm_fields_get(fs, "description") != NULL) {
        s->description = str != NULL && *str != '\0' ? str : NULL;
        *has |= 2;
    }
    read_rule(&v, a, fs, &cut, crm_api_now(a), create, rs, has_rule);
    if (!crm_valid_ok(&v))
        return crm_api_invalid(r, v.errors, v.n);
    if (*has_rule)
        s->rule = rs->json;
    return CRM_OK;
}

static int create_tx(crm_req *r, crm_idem *idem, segment *s, const char *now, const char **loc)
{
    crm_arena *a = crm_req_arena(r);
    int64_t id = 0;
    int rc;

    if ((rc = crm_db_begin(mk_db)) != CRM_OK)
        return rc;
    if ((rc = crm_idem_claim(idem, mk_db, a)) != CRM_OK || idem->replay)
        goto out;
    if ((rc = store_segment_insert(mk_db, s, now, &id)) != CRM_OK)
        goto out;
    s->id = id;
    s->version = 1;
    s->created_at = s->updated_at = crm_api_iso(a, now);
    crm_buf_reset(&mk_out);
    segment_json(&mk_out, s);
    *loc = crm_arena_printf(a, "/api/v1/segments/%lld", (long long)id);
    rc = crm_idem_store(idem, mk_db, 201, *loc, crm_api_etag(a, 1), mk_out.data, mk_out.len);
    if (rc == CRM_OK)
        rc = crm_db_commit(mk_db);
out:
    if (rc != CRM_OK || idem->replay)
        crm_db_rollback(mk_db);
    return rc;
}

int segments_create(crm_req *r)
{
    crm_arena *a = crm_req_arena(r);
    crm_fields fs;
    crm_idem idem;
    segment s;
    rule_sql rs;
    int has_rule = 0;
    unsigned has;
    const char *loc = NULL;
    int rc;

    memset(&s, 0, sizeof(s));
    if ((rc = read_segment_in(r, &fs, 1, &s, &rs, &has_rule, &has)) != CRM_OK)
        return rc;
    if (crm_idem_init(&idem, r, "segments.create") != CRM_OK)
        return crm_api_bad_header(r, "Idempotency-Key",
                                  "must be 1 to 255 visible ASCII characters");
    const char *now = crm_api_now(a);
    for (int attempt = 0; attempt < TX_ATTEMPTS; attempt++) {
        rc = create_tx(r, &idem, &s, now, &loc);
        if (rc != CRM_CONFLICT)
            break;
    }
    if (rc == CRM_INVALID)
        return crm_api_idem_reused(r);
    if (rc != CRM_OK)
        return mk_db_error(r, rc);
    if (idem.replay) {
        const char *id = idem.location ? strrchr(idem.location, '/') : NULL;
        return crm_api_replay(r, fs.form, &idem, crm_arena_printf(a, "/segments%s", id ? id : "/"));
    }
    return crm_api_created(r, fs.form, loc, crm_arena_printf(a, "/segments/%lld", (long long)s.id),
                           crm_api_etag(a, 1), &mk_out);
}

int segments_patch(crm_req *r)
{
    crm_arena *a = crm_req_arena(r);
    crm_fields fs;
    segment in, cur;
    rule_sql rs;
    crm_etags im;
    int has_rule = 0;
    unsigned has;
    int64_t id;
    int rc;

    if (crm_req_path_id(r, "id", &id) != CRM_OK)
        return not_found(r);
    if ((rc = crm_api_if_match(r, &im)) != CRM_OK)
        return rc;
    memset(&in, 0, sizeof(in));
    if ((rc = read_segment_in(r, &fs, 0, &in, &rs, &has_rule, &has)) != CRM_OK)
        return rc;
    const char *now = crm_api_now(a);
    for (int attempt = 0; attempt < TX_ATTEMPTS; attempt++) {
        segment w = in;
        if ((rc = crm_db_begin(mk_db)) != CRM_OK)
            break;
        rc = store_segment_get(mk_db, a, id, 1, &cur);
        if (rc == CRM_OK && im.present && !crm_api_etags_match(&im, cur.version, 1)) {
            crm_db_rollback(mk_db);
            crm_res_header(r, "ETag", crm_api_etag(a, cur.version));
            return crm_problem(r, 412, "the segment changed since you read it");
        }
        if (rc == CRM_OK) {
            w.id = id;
            if (!(has & 1))
                w.name = cur.name;
            if (!(has & 2))
                w.description = cur.description;
            if (!has_rule)
                w.rule = cur.rule;
            rc = store_segment_update(mk_db, &w, now);
        }
        if (rc == CRM_OK)
            rc = store_segment_get(mk_db, a, id, 0, &cur);
        if (rc == CRM_OK)
            rc = crm_db_commit(mk_db);
        if (rc == CRM_OK)
            return send_segment(r, 200, &cur);
        crm_db_rollback(mk_db);
        if (rc != CRM_CONFLICT)
            break;
    }
    if (rc == CRM_NOTFOUND)
        return not_found(r);
    return mk_db_error(r, rc);
}

int segments_delete(crm_req *r)
{
    segment s;
    crm_etags im;
    int64_t id;
    int rc;

    if (crm_req_path_id(r, "id", &id) != CRM_OK)
        return not_found(r);
    if ((rc = crm_api_if_match(r, &im)) != CRM_OK)
        return rc;
    if ((rc = crm_db_begin(mk_db)) == CRM_OK) {
        rc = store_segment_get(mk_db, crm_req_arena(r), id, 1, &s);
        if (rc == CRM_OK && im.present && !crm_api_etags_match(&im, s.version, 1)) {
            crm_db_rollback(mk_db);
            crm_res_header(r, "ETag", crm_api_etag(crm_req_arena(r), s.version));
            return crm_problem(r, 412, "the segment changed since you read it");
        }
        if (rc == CRM_OK)
            rc = store_segment_delete(mk_db, id);
        if (rc == CRM_OK)
            rc = crm_db_commit(mk_db);
        if (rc == CRM_OK)
            return crm_res_send(r, 204, NULL, NULL, 0);
        crm_db_rollback(mk_db);
    }
    if (rc == CRM_NOTFOUND)
        return not_found(r);
    if (rc == STORE_IN_USE) {
        crm_problem_t p = {
            .status = 409,
            .type = "segment-in-use",
            .title = "Segment in use",
            .detail = "a campaign targets this segment; point the campaign elsewhere first",
        };
        return crm_problem_send(r, &p);
    }
    return mk_db_error(r, rc);
}

static void member_json(crm_buf *b, crm_arena *a, const rfm_cutoffs *cut, const mcustomer *c)
{
    crm_buf_printf(b, "{\"customer_id\":%lld,\"name\":", (long long)c->id);
    crm_api_put_str(b, c->name);
    crm_buf_puts(b, ",\"email\":");
    crm_api_put_str(b, c->email);
    crm_buf_puts(b, ",\"status\":");
    crm_api_put_str(b, c->status);
    crm_buf_printf(b, ",\"orders_count\":%lld,\"revenue_cents\":%lld,\"last_order_at\":",
                   (long long)c->orders_count, (long long)c->revenue_cents);
    crm_api_put_str(b, c->last_order_at ? crm_api_iso(a, c->last_order_at) : NULL);
    crm_buf_puts(b, ",\"rfm\":");
    rfm_json(b, cut, c);
    crm_buf_putc(b, '}');
}

int segments_members(crm_req *r)
{
    static const char *const params[] = { "limit", "cursor", "count", NULL };
    static const char *const sorts[] = { "id", NULL };
    crm_arena *a = crm_req_arena(r);
    crm_field_error errs[8];
    size_t ne = 0;
    crm_api_list l;
    rfm_cutoffs cut;
    segment s;
    rule_sql rs;
    int64_t id, count = 0;
    int rc;

    if (crm_req_path_id(r, "id", &id) != CRM_OK)
        return not_found(r);
    if ((rc = crm_req_query_check(r, params)) != CRM_OK)
        return rc;
    crm_api_list_params(r, crm_arena_printf(a, "segments.%lld.members", (long long)id), sorts, &l,
                        errs, &ne);
    if (ne > 0)
        return crm_api_bad_query(r, errs, ne);
    rc = store_segment_get(mk_db, a, id, 0, &s);
    if (rc == CRM_NOTFOUND)
        return not_found(r);
    if (rc == CRM_OK)
        rc = store_rfm_get(mk_db, a, &cut);
    if (rc != CRM_OK)
        return mk_db_error(r, rc);
    if (segments_stored_rule(r, &s, &cut, &rs) != CRM_OK)
        return crm_problem(r, 500, "the stored rule of this segment cannot be read");
    int limit = (int)l.limit + 1;
    mcustomer *rows = crm_arena_alloc(a, sizeof(mcustomer) * (size_t)limit);
    size_t n = 0;
    if ((rc = store_members(mk_db, a, &rs, l.after ? l.after_id : 0, limit, rows, &n)) != CRM_OK)
        return mk_db_error(r, rc);
    if (l.count && (rc = store_members_count(mk_db, &rs, &count)) != CRM_OK)
        return mk_db_error(r, rc);
    size_t shown = n > (size_t)l.limit ? (size_t)l.limit : n;
    crm_buf_reset(&mk_out);
    crm_api_page_begin(&mk_out);
    for (size_t i = 0; i < shown; i++) {
        crm_api_page_sep(&mk_out, i);
        member_json(&mk_out, a, &cut, &rows[i]);
    }
    const mcustomer *last = &rows[shown > 0 ? shown - 1 : 0];
    crm_api_page_finish(&mk_out, a, &l, n, crm_arena_printf(a, "%lld", (long long)last->id),
                        last->id, count);
    return crm_api_send(r, 200, &mk_out);
}

int segments_preview(crm_req *r)
{
    static const char *const allowed[] = { "rule", NULL };
    static const char *const none[] = { NULL };
    crm_arena *a = crm_req_arena(r);
    crm_fields fs;
    crm_valid v;
    rfm_cutoffs cut;
    rule_sql rs;
    mcustomer rows[SAMPLE_MAX];
    size_t n = 0;
    int64_t count = 0;
    int present = 0, rc;

    if ((rc = crm_body_fields(r, &fs)) != CRM_OK)
        return rc;
    if ((rc = check_members(r, &fs, allowed, none)) != CRM_OK)
        return rc;
    if ((rc = store_rfm_get(mk_db, a, &cut)) != CRM_OK)
        return mk_db_error(r, rc);
    crm_valid_init(&v, a, &fs);
    read_rule(&v, a, &fs, &cut, crm_api_now(a), 1, &rs, &present);
    if (!crm_valid_ok(&v))
        return crm_api_invalid(r, v.errors, v.n);
    if ((rc = store_members_count(mk_db, &rs, &count)) != CRM_OK)
        return mk_db_error(r, rc);
    if ((rc = store_members(mk_db, a, &rs, 0, SAMPLE_MAX, rows, &n)) != CRM_OK)
        return mk_db_error(r, rc);
    crm_buf_reset(&mk_out);
    crm_buf_printf(&mk_out, "{\"count\":%lld,\"sample\":[", (long long)count);
    for (size_t i = 0; i < n; i++)
        crm_buf_printf(&mk_out, "%s%lld", i > 0 ? "," : "", (long long)rows[i].id);
    crm_buf_puts(&mk_out, "],\"rule\":");
    crm_buf_puts(&mk_out, rs.json);
    crm_buf_putc(&mk_out, '}');
    return crm_api_send(r, 200, &mk_out);
}
