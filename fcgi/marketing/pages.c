/*
 * pages.c - the campaign and segment pages browsers see. A page reads
 * what the API's GET reads, through the same store calls and for the same
 * roles, and its forms post to the API itself (crm_html.h): nothing here
 * writes. Writers (MK_WRITERS) are offered the forms; the API refuses
 * everyone else anyway. The dashboard is in charts.c.
 */
#include "marketing.h"

#include "crm_api.h"
#include "crm_assets.h" /* made by scripts/ui-build.sh */
#include "crm_html.h"
#include "crm_json.h"

#include <stdio.h>
#include <string.h>

#define SEGMENT_CHOICES 200 /* segments a campaign form offers, by name */

/* Labels of rule_fields and rule_ops (rules.c), in their order. */
static const char *const field_labels[] = {
    "Status",
    "Tag",
    "Orders",
    "Revenue (cents)",
    "Days since last order",
    "Recency score",
    "Frequency score",
    "Monetary score",
    NULL,
};
static const char *const op_labels[] = {
    "is",          "is not",    "is less than", "is at most", "is more than",
    "is at least", "is one of", "is none of",   NULL,
};
static const char *const action_labels[CACT_N] = { "Schedule", "Activate", "Pause", "Resume",
                                                   "Complete" };

/* ---- helpers ---- */

static int can_write(crm_req *r)
{
    return crm_html_can(r, MK_WRITERS);
}

/* "path?name=value&amp;..." for an href; pairs is name, value, ...,
   NULL; a pair whose value is NULL is left out. */
static void link_to(crm_buf *b, const char *path, const char *const *pairs)
{
    int first = 1;

    crm_html_esc(b, path);
    for (size_t i = 0; pairs[i] != NULL; i += 2) {
        if (pairs[i + 1] == NULL)
            continue;
        crm_buf_puts(b, first ? "?" : "&amp;");
        first = 0;
        crm_buf_puts(b, pairs[i]);
        crm_buf_putc(b, '=');
        crm_html_url(b, pairs[i + 1]);
    }
}

/*
 * Below a list: the way back to its first page when this is a later one,
 * and to the next page when there is one. pairs[cursor_at] is the cursor's
 * value slot, set here.
 */
static void pager(crm_buf *b, const char *path, const char **pairs, size_t cursor_at, int later,
                  const char *next)
{
    if (!later && next == NULL)
        return;
    crm_buf_puts(b, "<nav class=\"pager\" aria-label=\"Pages\">");
    if (later) {
        pairs[cursor_at] = NULL;
        crm_buf_puts(b, "<a href=\"");
        link_to(b, path, pairs);
        crm_buf_puts(b, "\">First page</a>");
    }
    if (next != NULL) {
        pairs[cursor_at] = next;
        crm_buf_puts(b, "<a rel=\"next\" href=\"");
        link_to(b, path, pairs);
        crm_buf_puts(b, "\">Next page</a>");
    }
    crm_buf_puts(b, "</nav>\n");
}

/* values and labels with a first choice ("" shown as none) in front. */
static void with_none(crm_arena *a, const char *none, const char *const *values,
                      const char *const *labels, const char ***vout, const char ***lout)
{
    size_t n = 0;
    while (values[n] != NULL)
        n++;
    const char **v = crm_arena_alloc(a, sizeof(*v) * (n + 2));
    const char **l = crm_arena_alloc(a, sizeof(*l) * (n + 2));
    v[0] = "";
    l[0] = none;
    for (size_t i = 0; i <= n; i++) {
        v[i + 1] = values[i];
        l[i + 1] = labels != NULL ? labels[i] : values[i];
    }
    *vout = v;
    *lout = l;
}

/* A stored time ("YYYY-MM-DD HH:MM:SS.ffffff") or an ISO one, as <time>. */
static void time_of(crm_buf *b, crm_arena *a, const char *t)
{
    crm_html_time(b, t != NULL && strlen(t) > 10 && t[10] == ' ' ? crm_api_iso(a, t) : t);
}

static void prop(crm_buf *b, const char *label)
{
    crm_buf_puts(b, "<dt>");
    crm_buf_puts(b, label);
    crm_buf_puts(b, "</dt><dd>");
}

static void text_or_dash(crm_buf *b, const char *s)
{
    if (s == NULL || *s == '\0')
        crm_buf_puts(b, "&ndash;");
    else
        crm_html_esc(b, s);
}

void pages_roi(crm_buf *b, const campaign_figures *f)
{
    double pct = f->roi * 100.0;
    if (!f->has_roi) {
        crm_buf_puts(b, "none (no budget)");
        return;
    }
    if (pct > -0.05 && pct < 0.05)
        pct = 0.0; /* not "-0.0 %" */
    crm_buf_printf(b, "%+.1f %%", pct);
}

/* ---- campaigns ---- */

static void campaign_filters(crm_buf *b, crm_arena *a, const char *status, const char *channel)
{
    static const char *const statuses[] = { "draft",  "scheduled", "active",
                                            "paused", "completed", NULL };
    const char **sv, **sl, **cv, **cl;

    with_none(a, "Any status", statuses, NULL, &sv, &sl);
    with_none(a, "Any channel", campaign_channels, NULL, &cv, &cl);
    crm_buf_puts(b, "<form method=\"get\" action=\"/campaigns\" class=\"filters\" role=\"search\""
                    " aria-label=\"Filter campaigns\">\n");
    crm_html_select(b, "status", "Status", sv, sl, status, NULL);
    crm_html_select(b, "channel", "Channel", cv, cl, channel, NULL);
    crm_buf_puts(b, "<div class=\"field\"><button type=\"submit\" class=\"secondary\">Filter"
                    "</button></div>\n</form>\n");
}

static void campaign_row(crm_buf *b, crm_arena *a, const campaign *c)
{
    crm_buf_printf(b, "<tr><td><a href=\"/campaigns/%lld\">", (long long)c->id);
    crm_html_esc(b, c->name);
    crm_buf_printf(
        b, "</a></td><td><span class=\"badge\">%s</span></td><td>" PAGE_CELL_LABEL("Channel"),
        campaign_status_name(c->status));
    crm_html_esc(b, c->channel);
    crm_buf_puts(b, "</td><td class=\"num\">" PAGE_CELL_LABEL("Budget"));
    crm_html_money(b, c->budget_cents, c->currency);
    crm_buf_puts(b, "</td><td>" PAGE_CELL_LABEL("Starts"));
    time_of(b, a, c->starts_at);
    crm_buf_puts(b, "</td><td>" PAGE_CELL_LABEL("Ends"));
    time_of(b, a, c->ends_at);
    crm_buf_puts(b, "</td></tr>\n");
}

int campaigns_page_list(crm_req *r)
{
    static const char *const params[] = { "status", "channel", "limit", "sort", "cursor", NULL };
    crm_arena *a = crm_req_arena(r);
    crm_field_error errs[8];
    size_t ne = 0, n = 0;
    list_filter f;
    crm_api_list l;
    crm_buf *b = &mk_out;
    int rc;

    if ((rc = crm_req_query_check(r, params)) != CRM_OK)
        return rc;
    campaigns_filter(r, 1, &f, &l, errs, &ne);
    if (ne > 0)
        return crm_api_bad_query(r, errs, ne);
    campaign *rows = crm_arena_alloc(a, sizeof(*rows) * (size_t)f.limit);
    if ((rc = store_campaign_list(mk_db, a, &f, rows, &n)) != CRM_OK)
        return mk_db_error(r, rc);
    size_t shown = n > (size_t)l.limit ? (size_t)l.limit : n;

    crm_buf_reset(b);
    crm_html_begin(b, r, "Campaigns", "campaigns");
    crm_buf_puts(b, "<h1>Campaigns</h1>\n");
    if (can_write(r))
        crm_buf_puts(b, "<p class=\"actions\"><a class=\"button\" href=\"/campaigns/new\">"
                        "New campaign</a></p>\n");
    campaign_filters(b, a, f.status, f.channel);
    crm_buf_puts(b, "<div class=\"table-wrap\"><table id=\"campaigns-table\" class=\"stack\">\n"
                    "<thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Status</th>"
                    "<th scope=\"col\">Channel</th><th scope=\"col\" class=\"num\">Budget</th>"
                    "<th scope=\"col\">Starts</th><th scope=\"col\">Ends</th></tr></thead>\n"
                    "<tbody>\n");
    for (size_t i = 0; i < shown; i++)
        campaign_row(b, a, &rows[i]);
    if (shown == 0)
        crm_buf_puts(b, "<tr><td colspan=\"6\">No campaigns here.</td></tr>\n");
    crm_buf_puts(b, "</tbody></table></div>\n");
    const char *pairs[] = { "status",  f.status,
                            "channel", f.channel,
                            "limit",   crm_req_query(r, "limit"),
                            "sort",    crm_req_query(r, "sort"),
                            "cursor",  NULL,
                            NULL };
    const campaign *last = &rows[shown > 0 ? shown - 1 : 0];
    pager(b, "/campaigns", pairs, 9, l.after,
          n > shown
              ? crm_cursor_encode(a, l.scope, last->sort_value ? last->sort_value : "", last->id)
              : NULL);
    crm_html_end(b);
    return crm_html_send(r, 200, b);
}

/*
 * The segments a campaign may target, by name (at most SEGMENT_CHOICES),
 * and always the one it targets now (cur, may be NULL): a form must not
 * drop what it did not show.
 */
static int segment_choices(crm_arena *a, const segment *cur, const char ***values,
                           const char ***labels)
{
    list_filter f;
    size_t n = 0, k = 1;
    int has_cur = cur == NULL;
    int rc;

    memset(&f, 0, sizeof(f));
    f.sort = SORT_NAME_ASC;
    f.limit = SEGMENT_CHOICES;
    segment *rows = crm_arena_alloc(a, sizeof(*rows) * SEGMENT_CHOICES);
    if ((rc = store_segment_list(mk_db, a, &f, rows, &n)) != CRM_OK)
        return rc;
    const char **v = crm_arena_alloc(a, sizeof(*v) * (n + 3));
    const char **l = crm_arena_alloc(a, sizeof(*l) * (n + 3));
    v[0] = "";
    l[0] = "No segment";
    for (size_t i = 0; i < n; i++, k++) {
        v[k] = crm_arena_printf(a, "%lld", (long long)rows[i].id);
        l[k] = rows[i].name;
        has_cur |= cur != NULL && rows[i].id == cur->id;
    }
    if (!has_cur) {
        v[k] = crm_arena_printf(a, "%lld", (long long)cur->id);
        l[k++] = cur->name;
    }
    v[k] = l[k] = NULL;
    *values = v;
    *labels = l;
    return CRM_OK;
}

/* The fields of the API's campaign body, filled from c (NULL: a new one). */
static void campaign_fields(crm_buf *b, crm_arena *a, const campaign *c, const char *const *segv,
                            const char *const *segl)
{
    crm_html_input(b, "name", "Name", "text", c ? c->name : NULL, "required maxlength=\"200\"");
    crm_html_textarea(b, "description", "Description (optional)", c ? c->description : NULL,
                      "maxlength=\"2000\"");
    crm_html_select(b, "channel", "Channel", campaign_channels, NULL, c ? c->channel : "email",
                    NULL);
    crm_html_input(b, "budget_cents", "Budget, in cents", "text",
                   crm_arena_printf(a, "%lld", (long long)(c ? c->budget_cents : 0)),
                   "inputmode=\"numeric\" required");
    crm_html_input(b, "currency", "Currency (ISO code, like EUR)", "text",
                   c ? c->currency : mk_currency, "required maxlength=\"3\"");
    crm_html_input(b, "starts_at", "Starts at (UTC, like 2030-01-31T09:00:00Z; optional)", "text",
                   c && c->starts_at ? crm_api_iso(a, c->starts_at) : NULL, NULL);
    crm_html_input(b, "ends_at", "Ends at (UTC; optional)", "text",
                   c && c->ends_at ? crm_api_iso(a, c->ends_at) : NULL, NULL);
    crm_html_select(
        b, "segment_id", "Target segment", segv, segl,
        c && c->segment_id > 0 ? crm_arena_printf(a, "%lld", (long long)c->segment_id) : "", NULL);
}

int campaigns_page_new(crm_req *r)
{
    crm_arena *a = crm_req_arena(r);
    const char **segv, **segl;
    crm_buf *b = &mk_out;
    int rc;

    if ((rc = segment_choices(a, NULL, &segv, &segl)) != CRM_OK)
        return mk_db_error(r, rc);
    crm_buf_reset(b);
    crm_html_begin(b, r, "New campaign", "campaigns");
    crm_buf_puts(b, "<h1>New campaign</h1>\n");
    crm_html_form_begin(b, r, "/api/v1/campaigns", NULL, 0, NULL,
                        "data-next=\"/campaigns/{id}\" novalidate");
    campaign_fields(b, a, NULL, segv, segl);
    crm_buf_puts(b, "<div class=\"actions\"><button type=\"submit\">Create campaign</button>"
                    "<a href=\"/campaigns\">Cancel</a></div>\n");
    crm_html_form_end(b);
    crm_html_end(b);
    return crm_html_send(r, 200, b);
}

static void campaign_props(crm_buf *b, crm_arena *a, const campaign *c, const segment *seg)
{
    crm_buf_puts(b, "<dl class=\"props\" id=\"campaign-props\">\n");
    prop(b, "Status");
    crm_buf_printf(b, "<span class=\"badge\" data-status=\"%s\">%s</span></dd>\n",
                   campaign_status_name(c->status), campaign_status_name(c->status));
    prop(b, "Channel");
    crm_html_esc(b, c->channel);
    crm_buf_puts(b, "</dd>\n");
    prop(b, "Budget");
    crm_html_money(b, c->budget_cents, c->currency);
    crm_buf_puts(b, "</dd>\n");
    prop(b, "Starts");
    time_of(b, a, c->starts_at);
    crm_buf_puts(b, "</dd>\n");
    prop(b, "Ends");
    time_of(b, a, c->ends_at);
    crm_buf_puts(b, "</dd>\n");
    prop(b, "Segment");
    if (c->segment_id > 0) {
        crm_buf_printf(b, "<a href=\"/segments/%lld\">", (long long)c->segment_id);
        if (seg != NULL)
            crm_html_esc(b, seg->name);
        else
            crm_buf_printf(b, "Segment %lld", (long long)c->segment_id);
        crm_buf_puts(b, "</a>");
    } else {
        crm_buf_puts(b, "none: every customer");
    }
    crm_buf_puts(b, "</dd>\n");
    prop(b, "Description");
    text_or_dash(b, c->description);
    crm_buf_puts(b, "</dd>\n");
    prop(b, "Created");
    time_of(b, a, c->created_at);
    crm_buf_puts(b, "</dd>\n");
    prop(b, "Updated");
    time_of(b, a, c->updated_at);
    crm_buf_printf(b, "</dd>\n<dt>Version</dt><dd>%lld</dd>\n</dl>\n", (long long)c->version);
}

static void campaign_results(crm_buf *b, const campaign *c, const campaign_figures *fig)
{
    crm_buf_puts(b, "<section aria-labelledby=\"results-h\"><h2 id=\"results-h\">Results</h2>\n"
                    "<dl class=\"props\" id=\"campaign-roi\">\n");
    crm_buf_printf(b, "<dt>Orders attributed</dt><dd data-orders=\"%lld\">%lld</dd>\n",
                   (long long)fig->orders, (long long)fig->orders);
    crm_buf_printf(b, "<dt>Revenue attributed</dt><dd data-cents=\"%lld\">",
                   (long long)fig->revenue_cents);
    crm_html_money(b, fig->revenue_cents, c->currency);
    crm_buf_puts(b, "</dd>\n<dt>Cost (the budget)</dt><dd>");
    crm_html_money(b, c->budget_cents, c->currency);
    crm_buf_puts(b, "</dd>\n<dt>Return on investment</dt><dd id=\"campaign-roi-value\"");
    if (fig->has_roi)
        crm_buf_printf(b, " data-roi=\"%.4f\"", fig->roi);
    crm_buf_putc(b, '>');
    pages_roi(b, fig);
    crm_buf_puts(b, "</dd>\n</dl>\n");
    if (fig->n_other > 0) {
        crm_buf_puts(b, "<p class=\"muted\">Also attributed, in other currencies and so not in "
                        "the return on investment:");
        for (size_t i = 0; i < fig->n_other; i++) {
            crm_buf_printf(b, "%s %lld order%s, ", i > 0 ? ";" : "",
                           (long long)fig->other[i].orders, fig->other[i].orders == 1 ? "" : "s");
            crm_html_money(b, fig->other[i].revenue_cents, fig->other[i].currency);
        }
        crm_buf_puts(b, ".</p>\n");
    }
    crm_buf_puts(b, "<p class=\"muted\">Revenue of the confirmed orders that name this campaign, "
                    "against its budget.</p>\n</section>\n");
}

/* The life cycle's next steps from c's status, each a button. */
static void campaign_actions(crm_buf *b, crm_req *r, crm_arena *a, const campaign *c,
                             const char *page)
{
    campaign_status to;
    int any = 0;

    crm_buf_puts(b, "<section aria-labelledby=\"status-h\"><h2 id=\"status-h\">Status</h2>\n"
                    "<div class=\"actions\" id=\"campaign-actions\">\n");
    for (int act = 0; act < CACT_N; act++) {
        if (campaign_transition(c->status, (campaign_action)act, &to) != CRM_OK)
            continue;
        const char *action = crm_arena_printf(a, "/api/v1/campaigns/%lld/%s", (long long)c->id,
                                              campaign_action_name((campaign_action)act));
        crm_html_form_begin(
            b, r, action, NULL, c->version, page,
            act == CACT_COMPLETE
                ? "data-confirm=\"Complete this campaign? It cannot change afterwards.\""
                : NULL);
        crm_buf_printf(b, "<button type=\"submit\">%s</button>\n", action_labels[act]);
        crm_html_form_end(b);
        any = 1;
    }
    crm_buf_puts(b, "</div>\n");
    if (!any)
        crm_buf_puts(b, "<p>A completed campaign is final.</p>\n");
    else if (c->status == CAMPAIGN_DRAFT && c->starts_at == NULL)
        crm_buf_puts(b, "<p class=\"muted\">Scheduling needs a start time: set one below "
                        "first.</p>\n");
    crm_buf_puts(b, "</section>\n");
}

int campaigns_page_show(crm_req *r)
{
    crm_arena *a = crm_req_arena(r);
    campaign_figures fig;
    campaign c;
    segment seg;
    int have_seg = 0;
    int64_t id;
    crm_buf *b = &mk_out;
    int rc;

    if (crm_req_path_id(r, "id", &id) != CRM_OK)
        return crm_problem(r, 404, "no such campaign");
    rc = store_campaign_get(mk_db, a, id, 0, &c);
    if (rc == CRM_NOTFOUND)
        return crm_problem(r, 404, "no such campaign");
    if (rc == CRM_OK)
        rc = campaign_figures_get(mk_db, a, &c, &fig);
    if (rc == CRM_OK && c.segment_id > 0) {
        rc = store_segment_get(mk_db, a, c.segment_id, 0, &seg);
        have_seg = rc == CRM_OK;
        if (rc == CRM_NOTFOUND)
            rc = CRM_OK;
    }
    if (rc != CRM_OK)
        return mk_db_error(r, rc);
    const char *page = crm_arena_printf(a, "/campaigns/%lld", (long long)id);
    const char *api = crm_arena_printf(a, "/api/v1/campaigns/%lld", (long long)id);

    crm_buf_reset(b);
    crm_html_begin(b, r, c.name, "campaigns");
    crm_buf_puts(b, "<p><a href=\"/campaigns\">All campaigns</a></p>\n<h1>");
    crm_html_esc(b, c.name);
    crm_buf_puts(b, "</h1>\n");
    campaign_props(b, a, &c, have_seg ? &seg : NULL);
    campaign_results(b, &c, &fig);
    if (can_write(r)) {
        const char **segv, **segl;
        campaign_actions(b, r, a, &c, page);
        if (c.status != CAMPAIGN_COMPLETED) {
            if ((rc = segment_choices(a, have_seg ? &seg : NULL, &segv, &segl)) != CRM_OK)
                return mk_db_error(r, rc);
            crm_buf_puts(b, "<section aria-labelledby=\"edit-h\"><h2 id=\"edit-h\">Edit</h2>\n");
            crm_html_form_begin(b, r, api, "PATCH", c.version, page, "novalidate");
            campaign_fields(b, a, &c, segv, segl);
            crm_buf_puts(b, "<div class=\"actions\"><button type=\"submit\">Save changes</button>"
                            "</div>\n");
            crm_html_form_end(b);
            crm_buf_puts(b, "</section>\n");
        }
        if (c.status == CAMPAIGN_DRAFT) {
            crm_buf_puts(b, "<section aria-labelledby=\"delete-h\"><h2 id=\"delete-h\">Delete"
                            "</h2>\n<p>Only a draft can be deleted.</p>\n");
            crm_html_form_begin(b, r, api, "DELETE", c.version, "/campaigns",
                                "data-confirm=\"Delete this campaign for good?\"");
            crm_buf_puts(b, "<button type=\"submit\" class=\"danger\">Delete campaign</button>\n");
            crm_html_form_end(b);
            crm_buf_puts(b, "</section>\n");
        }
    }
    crm_html_end(b);
    return crm_html_send(r, 200, b);
}

/* ---- rules, readable ---- */

static size_t index_in(const char *const *names, const char *s)
{
    size_t i = 0;
    while (names[i] != NULL && (s == NULL || strcmp(names[i], s) != 0))
        i++;
    return i;
}

static const crm_field *member(const crm_field *obj, const char *name)
{
    for (size_t i = 0; i < obj->n; i++)
        if (obj->items[i].name != NULL && strcmp(obj->items[i].name, name) == 0)
            return &obj->items[i];
    return NULL;
}

static const char *str_of(const crm_field *f)
{
    return f != NULL && f->type == CRM_FIELD_STRING ? f->str : NULL;
}

/* One value of a stored rule: revenue as money, anything else as is. */
static void value_html(crm_buf *b, const crm_field *v, int money)
{
    if (v->type == CRM_FIELD_INT && money)
        crm_html_money(b, v->i, mk_currency);
    else if (v->type == CRM_FIELD_INT)
        crm_buf_printf(b, "%lld", (long long)v->i);
    else
        crm_html_esc(b, str_of(v));
}

static void condition_html(crm_buf *b, const crm_field *cond)
{
    const char *field = str_of(member(cond, "field")), *op = str_of(member(cond, "op"));
    const crm_field *v = member(cond, "value");
    size_t fi = index_in(rule_fields, field), oi = index_in(rule_ops, op);
    int money = field != NULL && strcmp(field, "revenue") == 0;

    if (field == NULL || op == NULL || v == NULL || rule_fields[fi] == NULL ||
        rule_ops[oi] == NULL) {
        crm_buf_puts(b, "(a condition this page cannot show)");
        return;
    }
    crm_buf_puts(b, money ? "Revenue" : field_labels[fi]);
    crm_buf_printf(b, " %s <strong>", op_labels[oi]);
    if (v->type == CRM_FIELD_ARRAY) {
        for (size_t i = 0; i < v->n; i++) {
            if (i > 0)
                crm_buf_puts(b, ", ");
            value_html(b, &v->items[i], money);
        }
    } else {
        value_html(b, v, money);
    }
    crm_buf_puts(b, "</strong>");
}

/* {"all"|"any": [...]} as nested lists. */
static void group_html(crm_buf *b, const crm_field *group, int depth)
{
    const crm_field *list = group->n == 1 ? &group->items[0] : NULL;

    if (list == NULL || list->type != CRM_FIELD_ARRAY || depth > RULE_DEPTH_MAX) {
        crm_buf_puts(b, "(a rule this page cannot show)");
        return;
    }
    crm_buf_printf(b, "%s of these hold:\n<ul>\n", strcmp(list->name, "any") == 0 ? "Any" : "All");
    for (size_t i = 0; i < list->n; i++) {
        const crm_field *it = &list->items[i];
        crm_buf_puts(b, "<li>");
        if (it->type == CRM_FIELD_OBJECT && (member(it, "all") || member(it, "any")))
            group_html(b, it, depth + 1);
        else if (it->type == CRM_FIELD_OBJECT)
            condition_html(b, it);
        crm_buf_puts(b, "</li>\n");
    }
    crm_buf_puts(b, "</ul>\n");
}

/* A segment's stored rule (canonical JSON) as a group field, or NULL. */
static const crm_field *rule_of(crm_arena *a, const segment *s)
{
    crm_fields parsed;
    const char *why = NULL;

    if (s->rule == NULL || crm_json_parse(a, s->rule, strlen(s->rule), &parsed, &why) != CRM_OK)
        return NULL;
    crm_field *g = crm_arena_calloc(a, sizeof(*g));
    g->name = "rule";
    g->type = CRM_FIELD_OBJECT;
    g->items = parsed.items;
    g->n = parsed.n;
    return g;
}

static void rule_html(crm_buf *b, crm_arena *a, const segment *s)
{
    const crm_field *g = rule_of(a, s);
    if (g == NULL)
        crm_buf_puts(b, "(a rule this page cannot show)");
    else
        group_html(b, g, 1);
}

/* ---- the rule builder (ruleform.c reads what it sends) ---- */

/* A group of conditions only, as many as the builder's rows: the rule
   the builder can show. */
static int flat(const crm_field *g)
{
    const crm_field *list = g != NULL && g->n == 1 ? &g->items[0] : NULL;

    if (list == NULL || list->type != CRM_FIELD_ARRAY || list->n > RULE_FORM_ROWS)
        return 0;
    for (size_t i = 0; i < list->n; i++)
        if (list->items[i].type != CRM_FIELD_OBJECT || member(&list->items[i], "all") ||
            member(&list->items[i], "any"))
            return 0;
    return 1;
}

/* A condition's value as the builder's text: "5", "vip", "lead, customer". */
static const char *value_text(crm_arena *a, const crm_field *cond)
{
    const crm_field *v = cond != NULL ? member(cond, "value") : NULL;
    crm_buf t;

    if (v == NULL)
        return NULL;
    crm_buf_init(&t, 0);
    size_t n = v->type == CRM_FIELD_ARRAY ? v->n : 1;
    for (size_t i = 0; i < n; i++) {
        const crm_field *it = v->type == CRM_FIELD_ARRAY ? &v->items[i] : v;
        if (i > 0)
            crm_buf_puts(&t, ", ");
        if (it->type == CRM_FIELD_INT)
            crm_buf_printf(&t, "%lld", (long long)it->i);
        else if (it->type == CRM_FIELD_STRING)
            crm_buf_puts(&t, it->str);
    }
    const char *out = crm_arena_strndup(a, t.data != NULL ? t.data : "", t.len);
    crm_buf_free(&t);
    return out;
}

static void rule_row(crm_buf *b, crm_arena *a, size_t i, const crm_field *cond)
{
    const char **fv, **fl;

    with_none(a, "(none)", rule_fields, field_labels, &fv, &fl);
    crm_buf_puts(b, "<div class=\"rule\" data-rule-row>\n");
    crm_html_select(b, crm_arena_printf(a, "rule.conditions[%zu].field", i),
                    crm_arena_printf(a, "Condition %zu: field", i + 1), fv, fl,
                    cond ? str_of(member(cond, "field")) : "", NULL);
    crm_html_select(b, crm_arena_printf(a, "rule.conditions[%zu].op", i),
                    crm_arena_printf(a, "Condition %zu: operator", i + 1), rule_ops, op_labels,
                    cond ? str_of(member(cond, "op")) : "eq", NULL);
    crm_html_input(b, crm_arena_printf(a, "rule.conditions[%zu].value", i),
                   crm_arena_printf(a, "Condition %zu: value", i + 1), "text", value_text(a, cond),
                   NULL);
    crm_buf_puts(b, "</div>\n");
}

/*
 * The rule's inputs, from g (NULL: a new rule): rows when the builder can
 * show it, else its JSON text in a "rule" field (a rule with groups
 * inside). Then the preview segments.js keeps up to date.
 */
static void rule_inputs(crm_buf *b, crm_arena *a, const crm_field *g, const char *json)
{
    static const char *const matches[] = { "all", "any", NULL };
    static const char *const match_labels[] = { "all of the conditions", "any of the conditions",
                                                NULL };

    crm_buf_printf(b,
                   "<fieldset class=\"rules\" data-rule-builder data-rows-max=\"%d\">\n"
                   "<legend>Rule</legend>\n",
                   RULE_FORM_ROWS);
    if (g != NULL && !flat(g)) {
        crm_buf_puts(b, "<p class=\"muted\">This rule has groups inside, or more conditions "
                        "than the rows here hold: edit it as JSON (see the API "
                        "documentation).</p>\n");
        crm_html_textarea(b, "rule", "Rule (JSON)", json, "required");
    } else {
        const crm_field *list = g != NULL ? &g->items[0] : NULL;
        size_t n = list != NULL ? list->n : 0;
        size_t rows = n + 1 > RULE_FORM_SHOWN ? n + 1 : RULE_FORM_SHOWN;
        if (rows > RULE_FORM_ROWS)
            rows = RULE_FORM_ROWS;
        crm_html_select(b, "rule.match", "Customers who match", matches, match_labels,
                        list != NULL ? list->name : "all", NULL);
        crm_buf_puts(b, "<span class=\"error\" id=\"e-rule-conditions\""
                        " data-error-for=\"rule.conditions\"></span>\n");
        for (size_t i = 0; i < rows; i++)
            rule_row(b, a, i, i < n ? &list->items[i] : NULL);
        crm_buf_puts(b, "<p class=\"muted\" id=\"rule-help\">Rows without a field are left "
                        "out. For <em>is one of</em> and <em>is none of</em>, separate the "
                        "values with commas. Scores go from 1 to 5 (5 is best); revenue is in "
                        "cents of ");
        crm_html_esc(b, mk_currency);
        crm_buf_puts(b, ".</p>\n");
    }
    crm_buf_puts(b, "<p><output id=\"segment-preview\" aria-live=\"polite\"></output></p>\n"
                    "</fieldset>\n");
}

static void segments_script(crm_buf *b)
{
    crm_buf_puts(b, "<script src=\"" CRM_ASSET_SEGMENTS_JS "\" defer></script>\n");
}

/* ---- segments ---- */

int segments_page_list(crm_req *r)
{
    static const char *const params[] = { "limit", "sort", "cursor", NULL };
    crm_arena *a = crm_req_arena(r);
    crm_field_error errs[8];
    size_t ne = 0, n = 0;
    list_filter f;
    crm_api_list l;
    crm_buf *b = &mk_out;
    int rc;

    if ((rc = crm_req_query_check(r, params)) != CRM_OK)
        return rc;
    memset(&f, 0, sizeof(f));
    crm_api_list_params(r, "segments", list_sorts, &l, errs, &ne);
    if (ne > 0)
        return crm_api_bad_query(r, errs, ne);
    list_filter_from(&f, &l);
    segment *rows = crm_arena_alloc(a, sizeof(*rows) * (size_t)f.limit);
    if ((rc = store_segment_list(mk_db, a, &f, rows, &n)) != CRM_OK)
        return mk_db_error(r, rc);
    size_t shown = n > (size_t)l.limit ? (size_t)l.limit : n;

    crm_buf_reset(b);
    crm_html_begin(b, r, "Segments", "segments");
    crm_buf_puts(b, "<h1>Segments</h1>\n");
    if (can_write(r))
        crm_buf_puts(b, "<p class=\"actions\"><a class=\"button\" href=\"/segments/new\">"
                        "New segment</a></p>\n");
    crm_buf_puts(b, "<div class=\"table-wrap\"><table id=\"segments-table\" class=\"stack\">\n"
                    "<thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Description</th>"
                    "<th scope=\"col\">Rule</th><th scope=\"col\">Updated</th></tr></thead>\n"
                    "<tbody>\n");
    for (size_t i = 0; i < shown; i++) {
        crm_buf_printf(b, "<tr><td><a href=\"/segments/%lld\">", (long long)rows[i].id);
        crm_html_esc(b, rows[i].name);
        crm_buf_puts(b, "</a></td><td>");
        text_or_dash(b, rows[i].description);
        crm_buf_puts(b, "</td><td class=\"rule-text\">");
        rule_html(b, a, &rows[i]);
        crm_buf_puts(b, "</td><td>" PAGE_CELL_LABEL("Updated"));
        time_of(b, a, rows[i].updated_at);
        crm_buf_puts(b, "</td></tr>\n");
    }
    if (shown == 0)
        crm_buf_puts(b, "<tr><td colspan=\"4\">No segments yet.</td></tr>\n");
    crm_buf_puts(b, "</tbody></table></div>\n");
    const char *pairs[] = {
        "limit", crm_req_query(r, "limit"), "sort", crm_req_query(r, "sort"), "cursor", NULL, NULL
    };
    const segment *last = &rows[shown > 0 ? shown - 1 : 0];
    pager(b, "/segments", pairs, 5, l.after,
          n > shown
              ? crm_cursor_encode(a, l.scope, last->sort_value ? last->sort_value : "", last->id)
              : NULL);
    crm_html_end(b);
    return crm_html_send(r, 200, b);
}

int segments_page_new(crm_req *r)
{
    crm_arena *a = crm_req_arena(r);
    crm_buf *b = &mk_out;

    crm_buf_reset(b);
    crm_html_begin(b, r, "New segment", "segments");
    crm_buf_puts(b, "<h1>New segment</h1>\n");
    crm_html_form_begin(b, r, "/api/v1/segments", NULL, 0, NULL,
                        "data-next=\"/segments/{id}\" novalidate");
    crm_html_input(b, "name", "Name", "text", NULL, "required maxlength=\"200\"");
    crm_html_textarea(b, "description", "Description (optional)", NULL, "maxlength=\"2000\"");
    rule_inputs(b, a, NULL, NULL);
    crm_buf_puts(b, "<div class=\"actions\"><button type=\"submit\">Create segment</button>"
                    "<a href=\"/segments\">Cancel</a></div>\n");
    crm_html_form_end(b);
    segments_script(b);
    crm_html_end(b);
    return crm_html_send(r, 200, b);
}

static void member_row(crm_buf *b, crm_arena *a, const rfm_cutoffs *cut, const mcustomer *m)
{
    crm_buf_printf(b, "<tr><td><a href=\"/customers/%lld\">", (long long)m->id);
    if (m->name != NULL)
        crm_html_esc(b, m->name);
    else
        crm_buf_printf(b, "Customer %lld", (long long)m->id);
    crm_buf_puts(b, "</a></td><td>");
    text_or_dash(b, m->email);
    crm_buf_puts(b, "</td><td>");
    text_or_dash(b, m->status);
    crm_buf_printf(b,
                   "</td><td class=\"num\">" PAGE_CELL_LABEL(
                       "Orders") "%lld</td><td class=\"num\">" PAGE_CELL_LABEL("Revenue"),
                   (long long)m->orders_count);
    crm_html_money(b, m->revenue_cents, mk_currency);
    crm_buf_puts(b, "</td><td>" PAGE_CELL_LABEL("Last order"));
    time_of(b, a, m->last_order_at);
    crm_buf_puts(b, "</td><td>" PAGE_CELL_LABEL("RFM"));
    if (cut->valid && m->orders_count > 0 && m->last_order_at != NULL)
        crm_buf_printf(b, "%d%d%d", rfm_score_time(m->last_order_at, cut->r),
                       rfm_score_int(m->orders_count, cut->f),
                       rfm_score_int(m->revenue_cents, cut->m));
    else
        crm_buf_puts(b, "&ndash;");
    crm_buf_puts(b, "</td></tr>\n");
}

/* The members: a count, then one page of them by customer id, as the
   API's members list pages them. */
static int segment_members(crm_req *r, crm_buf *b, const segment *s)
{
    static const char *const sorts[] = { "id", NULL };
    crm_arena *a = crm_req_arena(r);
    crm_field_error errs[8];
    size_t ne = 0, n = 0;
    crm_api_list l;
    rfm_cutoffs cut;
    rule_sql rs;
    int64_t count = 0;
    int rc;

    crm_api_list_params(r, crm_arena_printf(a, "segments.%lld.members", (long long)s->id), sorts,
                        &l, errs, &ne);
    if (ne > 0)
        return crm_api_bad_query(r, errs, ne);
    if ((rc = store_rfm_get(mk_db, a, &cut)) != CRM_OK)
        return mk_db_error(r, rc);
    if (segments_stored_rule(r, s, &cut, &rs) != CRM_OK)
        return crm_problem(r, 500, "the stored rule of this segment cannot be read");
    int limit = (int)l.limit + 1;
    mcustomer *rows = crm_arena_alloc(a, sizeof(*rows) * (size_t)limit);
    if ((rc = store_members_count(mk_db, &rs, &count)) != CRM_OK ||
        (rc = store_members(mk_db, a, &rs, l.after ? l.after_id : 0, limit, rows, &n)) != CRM_OK)
        return mk_db_error(r, rc);
    size_t shown = n > (size_t)l.limit ? (size_t)l.limit : n;

    crm_buf_printf(b,
                   "<section aria-labelledby=\"members-h\"><h2 id=\"members-h\">Members</h2>\n"
                   "<p id=\"segment-count\" data-count=\"%lld\"><strong>%lld</strong> %s "
                   "match%s now.</p>\n",
                   (long long)count, (long long)count, count == 1 ? "customer" : "customers",
                   count == 1 ? "es" : "");
    crm_buf_puts(b, "<div class=\"table-wrap\"><table id=\"members-table\" class=\"stack\">\n"
                    "<thead><tr><th scope=\"col\">Customer</th><th scope=\"col\">Email</th>"
                    "<th scope=\"col\">Status</th><th scope=\"col\" class=\"num\">Orders</th>"
                    "<th scope=\"col\" class=\"num\">Revenue</th><th scope=\"col\">Last order"
                    "</th><th scope=\"col\"><abbr title=\"Recency, frequency, monetary scores"
                    "\">RFM</abbr></th></tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < shown; i++)
        member_row(b, a, &cut, &rows[i]);
    if (shown == 0)
        crm_buf_puts(b, "<tr><td colspan=\"7\">No customer matches.</td></tr>\n");
    crm_buf_puts(b, "</tbody></table></div>\n");
    const char *pairs[] = { "limit", crm_req_query(r, "limit"), "cursor", NULL, NULL };
    const mcustomer *last = &rows[shown > 0 ? shown - 1 : 0];
    pager(b, crm_arena_printf(a, "/segments/%lld", (long long)s->id), pairs, 3, l.after,
          n > shown ? crm_cursor_encode(a, l.scope,
                                        crm_arena_printf(a, "%lld", (long long)last->id), last->id)
                    : NULL);
    crm_buf_puts(b, "</section>\n");
    return CRM_OK;
}

int segments_page_show(crm_req *r)
{
    static const char *const params[] = { "limit", "cursor", NULL };
    crm_arena *a = crm_req_arena(r);
    segment s;
    int64_t id;
    crm_buf *b = &mk_out;
    int rc;

    if (crm_req_path_id(r, "id", &id) != CRM_OK)
        return crm_problem(r, 404, "no such segment");
    if ((rc = crm_req_query_check(r, params)) != CRM_OK)
        return rc;
    rc = store_segment_get(mk_db, a, id, 0, &s);
    if (rc == CRM_NOTFOUND)
        return crm_problem(r, 404, "no such segment");
    if (rc != CRM_OK)
        return mk_db_error(r, rc);
    const char *page = crm_arena_printf(a, "/segments/%lld", (long long)id);
    const char *api = crm_arena_printf(a, "/api/v1/segments/%lld", (long long)id);

    crm_buf_reset(b);
    crm_html_begin(b, r, s.name, "segments");
    crm_buf_puts(b, "<p><a href=\"/segments\">All segments</a></p>\n<h1>");
    crm_html_esc(b, s.name);
    crm_buf_puts(b, "</h1>\n<dl class=\"props\" id=\"segment-props\">\n");
    prop(b, "Description");
    text_or_dash(b, s.description);
    crm_buf_puts(b, "</dd>\n");
    prop(b, "Created");
    time_of(b, a, s.created_at);
    crm_buf_puts(b, "</dd>\n");
    prop(b, "Updated");
    time_of(b, a, s.updated_at);
    crm_buf_printf(b, "</dd>\n<dt>Version</dt><dd>%lld</dd>\n</dl>\n", (long long)s.version);
    crm_buf_puts(b, "<section aria-labelledby=\"rule-h\"><h2 id=\"rule-h\">Rule</h2>\n"
                    "<div id=\"segment-rule\" class=\"rule-text\">\n");
    rule_html(b, a, &s);
    crm_buf_puts(b, "</div>\n</section>\n");
    if ((rc = segment_members(r, b, &s)) != CRM_OK)
        return rc;
    if (can_write(r)) {
        crm_buf_puts(b, "<section aria-labelledby=\"edit-h\"><h2 id=\"edit-h\">Edit</h2>\n");
        crm_html_form_begin(b, r, api, "PATCH", s.version, page, "novalidate");
        crm_html_input(b, "name", "Name", "text", s.name, "required maxlength=\"200\"");
        crm_html_textarea(b, "description", "Description (optional)", s.description,
                          "maxlength=\"2000\"");
        rule_inputs(b, a, rule_of(a, &s), s.rule);
        crm_buf_puts(b, "<div class=\"actions\"><button type=\"submit\">Save changes</button>"
                        "</div>\n");
        crm_html_form_end(b);
        crm_buf_puts(b, "</section>\n<section aria-labelledby=\"delete-h\">"
                        "<h2 id=\"delete-h\">Delete</h2>\n"
                        "<p>A segment a campaign targets cannot be deleted.</p>\n");
        crm_html_form_begin(b, r, api, "DELETE", s.version, "/segments",
                            "data-confirm=\"Delete this segment for good?\"");
        crm_buf_puts(b, "<button type=\"submit\" class=\"danger\">Delete segment</button>\n");
        crm_html_form_end(b);
        crm_buf_puts(b, "</section>\n");
        segments_script(b);
    }
    crm_html_end(b);
    return crm_html_send(r, 200, b);
}
