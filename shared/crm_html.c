/*
 * crm_html.c - the frame, forms and formats of the pages the services
 * render (crm_html.h).
 */
#include "crm_html.h"

#include "crm_assets.h" /* made by scripts/ui-build.sh */
#include "crm_auth.h"
#include "crm_body.h"

#include <stdio.h>
#include <string.h>

void crm_html_esc(crm_buf *b, const char *s)
{
    if (s == NULL)
        return;
    const char *run = s;
    for (const char *p = s; *p != '\0'; p++) {
        const char *rep;
        switch (*p) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            continue;
        }
        crm_buf_append(b, run, (size_t)(p - run));
        crm_buf_puts(b, rep);
        run = p + 1;
    }
    crm_buf_puts(b, run);
}

void crm_html_url(crm_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    if (s == NULL)
        return;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            crm_buf_putc(b, (char)*p);
        } else {
            char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };
            crm_buf_append(b, e, 3);
        }
    }
}

int crm_html_can(crm_req *r, unsigned roles)
{
    return crm_auth_has(r, roles);
}

/* ---- the frame ---- */

#define MARKETING_READERS (CRM_ROLE_ADMIN | CRM_ROLE_MARKETING | CRM_ROLE_VIEWER)

static const struct {
    const char *section;
    const char *href;
    const char *label;
    unsigned roles;
} nav[] = {
    { "customers", "/customers", "Customers", CRM_ROLES_ALL },
    { "orders", "/orders", "Orders", CRM_ROLES_ALL },
    { "products", "/products", "Products", CRM_ROLES_ALL },
    { "campaigns", "/campaigns", "Campaigns", MARKETING_READERS },
    { "segments", "/segments", "Segments", MARKETING_READERS },
    { "dashboard", "/dashboard", "Dashboard", MARKETING_READERS },
};

void crm_html_begin(crm_buf *b, crm_req *r, const char *title, const char *section)
{
    const crm_identity *who = crm_auth_identity(r);

    crm_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                    "<title>");
    crm_html_esc(b, title);
    crm_buf_puts(b, " - CRM</title>\n"
                    "<link rel=\"icon\" href=\"" CRM_ASSET_ICON_SVG "\" type=\"image/svg+xml\">\n"
                    "<link rel=\"stylesheet\" href=\"" CRM_ASSET_STYLE_CSS "\">\n"
                    "<script src=\"" CRM_ASSET_APP_JS "\" defer></script>\n"
                    "</head>\n<body>\n"
                    "<a class=\"skip\" href=\"#main\">Skip to content</a>\n"
                    "<header class=\"top\">\n<a class=\"brand\" href=\"/\">CRM</a>\n");
    if (who != NULL) {
        crm_buf_puts(b, "<nav aria-label=\"Main\"><ul>\n");
        for (size_t i = 0; i < CRM_NELEM(nav); i++) {
            if (!(who->role & nav[i].roles))
                continue;
            int here = section != NULL && strcmp(section, nav[i].section) == 0;
            crm_buf_printf(b, "<li><a href=\"%s\"%s>%s</a></li>\n", nav[i].href,
                           here ? " aria-current=\"page\"" : "", nav[i].label);
        }
        crm_buf_puts(b, "</ul></nav>\n<div class=\"who\">");
        crm_buf_printf(b, "<span>User %lld, <span data-role>", (long long)who->user_id);
        crm_html_esc(b, who->role_name);
        crm_buf_puts(b, "</span></span>\n"
                        "<form method=\"post\" action=\"/api/v1/auth/logout\" class=\"logout\">");
        crm_html_hidden(b, CRM_AUTH_CSRF_FIELD, who->csrf);
        crm_buf_puts(b, "<button type=\"submit\">Log out</button></form></div>\n");
    }
    crm_buf_puts(b, "</header>\n<main id=\"main\" tabindex=\"-1\">\n");
}

void crm_html_end(crm_buf *b)
{
    crm_buf_puts(b, "</main>\n</body>\n</html>\n");
}

int crm_html_send(crm_req *r, int status, const crm_buf *b)
{
    crm_res_header(r, "Cache-Control", "no-store");
    return crm_res_send(r, status, CRM_HTML_TYPE, b->data, b->len);
}

/* ---- forms ---- */

void crm_html_hidden(crm_buf *b, const char *name, const char *value)
{
    crm_buf_puts(b, "<input type=\"hidden\" name=\"");
    crm_html_esc(b, name);
    crm_buf_puts(b, "\" value=\"");
    crm_html_esc(b, value);
    crm_buf_puts(b, "\">");
}

void crm_html_form_begin(crm_buf *b, crm_req *r, const char *action, const char *method,
                         int64_t version, const char *next, const char *attrs)
{
    const crm_identity *who = crm_auth_identity(r);

    crm_buf_puts(b, "<form method=\"post\" action=\"");
    crm_html_esc(b, action);
    crm_buf_puts(b, "\" data-enhance");
    if (attrs != NULL && *attrs != '\0') {
        crm_buf_putc(b, ' ');
        crm_buf_puts(b, attrs);
    }
    crm_buf_puts(b, ">\n");
    if (who != NULL)
        crm_html_hidden(b, CRM_AUTH_CSRF_FIELD, who->csrf);
    if (method != NULL)
        crm_html_hidden(b, CRM_BODY_METHOD, method);
    if (version > 0) {
        char v[24];
        snprintf(v, sizeof v, "%lld", (long long)version);
        crm_html_hidden(b, CRM_BODY_IF_MATCH, v);
    }
    if (next != NULL)
        crm_html_hidden(b, CRM_BODY_NEXT, next);
    crm_buf_puts(b, "\n<div class=\"form-error\" role=\"alert\" data-form-error hidden></div>\n");
}

void crm_html_form_end(crm_buf *b)
{
    crm_buf_puts(b, "</form>\n");
}

void crm_html_field_id(crm_buf *b, const char *prefix, const char *name)
{
    crm_buf_puts(b, prefix);
    for (const char *p = name; *p != '\0'; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-';
        crm_buf_putc(b, ok ? c : '-');
    }
}

static void field_open(crm_buf *b, const char *name, const char *label)
{
    crm_buf_puts(b, "<div class=\"field\"><label for=\"");
    crm_html_field_id(b, "f-", name);
    crm_buf_puts(b, "\">");
    crm_html_esc(b, label);
    crm_buf_puts(b, "</label>");
}

/* id, name and aria-describedby of a control */
static void control_attrs(crm_buf *b, const char *name, const char *extra)
{
    crm_buf_puts(b, " id=\"");
    crm_html_field_id(b, "f-", name);
    crm_buf_puts(b, "\" name=\"");
    crm_html_esc(b, name);
    crm_buf_puts(b, "\" aria-describedby=\"");
    crm_html_field_id(b, "e-", name);
    crm_buf_putc(b, '"');
    if (extra != NULL && *extra != '\0') {
        crm_buf_putc(b, ' ');
        crm_buf_puts(b, extra);
    }
}

static void field_close(crm_buf *b, const char *name)
{
    crm_buf_puts(b, "<span class=\"error\" id=\"");
    crm_html_field_id(b, "e-", name);
    crm_buf_puts(b, "\" data-error-for=\"");
    crm_html_esc(b, name);
    crm_buf_puts(b, "\"></span></div>\n");
}

void crm_html_input(crm_buf *b, const char *name, const char *label, const char *type,
                    const char *value, const char *extra)
{
    field_open(b, name, label);
    crm_buf_puts(b, "<input type=\"");
    crm_html_esc(b, type);
    crm_buf_putc(b, '"');
    control_attrs(b, name, extra);
    if (value != NULL) {
        crm_buf_puts(b, " value=\"");
        crm_html_esc(b, value);
        crm_buf_putc(b, '"');
    }
    crm_buf_putc(b, '>');
    field_close(b, name);
}

void crm_html_textarea(crm_buf *b, const char *name, const char *label, const char *value,
                       const char *extra)
{
    field_open(b, name, label);
    crm_buf_puts(b, "<textarea");
    control_attrs(b, name, extra);
    crm_buf_putc(b, '>');
    crm_html_esc(b, value);
    crm_buf_puts(b, "</textarea>");
    field_close(b, name);
}

void crm_html_select(crm_buf *b, const char *name, const char *label, const char *const *values,
                     const char *const *labels, const char *selected, const char *extra)
{
    field_open(b, name, label);
    crm_buf_puts(b, "<select");
    control_attrs(b, name, extra);
    crm_buf_puts(b, ">");
    for (size_t i = 0; values[i] != NULL; i++) {
        crm_buf_puts(b, "<option value=\"");
        crm_html_esc(b, values[i]);
        crm_buf_putc(b, '"');
        if (selected != NULL && strcmp(selected, values[i]) == 0)
            crm_buf_puts(b, " selected");
        crm_buf_putc(b, '>');
        crm_html_esc(b, labels != NULL ? labels[i] : values[i]);
        crm_buf_puts(b, "</option>");
    }
    crm_buf_puts(b, "</select>");
    field_close(b, name);
}

/* ---- formats ---- */

/* Digits after the point in a currency's amounts (ISO 4217 minor units):
   amounts are in minor units, so a yen is 1 and a dinar 1000. */
static int minor_digits(const char *currency)
{
    static const char zero[] =
        "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF";
    static const char three[] = "BHD IQD JOD KWD LYD OMR TND";
    if (currency == NULL || strlen(currency) != 3)
        return 2;
    for (int i = 0; i < 3; i++)
        if (currency[i] < 'A' || currency[i] > 'Z')
            return 2;
    if (strstr(zero, currency) != NULL)
        return 0;
    if (strstr(three, currency) != NULL)
        return 3;
    return 2;
}

void crm_html_money(crm_buf *b, int64_t cents, const char *currency)
{
    static const unsigned long long scale[] = { 1, 10, 100, 1000 };
    char digits[32], out[64];
    int dp = minor_digits(currency);
    unsigned long long v = cents < 0 ? 0ULL - (unsigned long long)cents : (unsigned long long)cents;
    int n = snprintf(digits, sizeof digits, "%llu", v / scale[dp]);
    size_t o = 0;

    if (cents < 0)
        out[o++] = '-';
    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = digits[i];
    }
    if (dp > 0)
        snprintf(out + o, sizeof out - o, ".%0*llu", dp, v % scale[dp]);
    else
        out[o] = '\0';
    crm_buf_puts(b, out);
    if (currency != NULL) {
        crm_buf_putc(b, ' ');
        crm_html_esc(b, currency);
    }
}

void crm_html_time(crm_buf *b, const char *t)
{
    if (t == NULL || strlen(t) < 16) {
        crm_buf_puts(b, "&ndash;");
        return;
    }
    crm_buf_puts(b, "<time datetime=\"");
    crm_html_esc(b, t);
    crm_buf_puts(b, "\">");
    /* "YYYY-MM-DDTHH:MM..." or "YYYY-MM-DD HH:MM..." */
    char shown[17];
    memcpy(shown, t, 16);
    shown[10] = ' ';
    shown[16] = '\0';
    crm_html_esc(b, shown);
    crm_buf_puts(b, "</time>");
}

/* ---- problems ---- */

int crm_html_problem(crm_req *r, const crm_problem_t *p, const char *title)
{
    crm_buf b;
    crm_buf_init(&b, 0);

    crm_html_begin(&b, r, title, NULL);
    crm_buf_printf(&b, "<section class=\"problem\" data-status=\"%d\">\n<h1>", p->status);
    crm_html_esc(&b, title);
    crm_buf_puts(&b, "</h1>\n");
    if (p->detail != NULL) {
        crm_buf_puts(&b, "<p>");
        crm_html_esc(&b, p->detail);
        crm_buf_puts(&b, "</p>\n");
    }
    if (p->n_errors > 0) {
        crm_buf_puts(&b, "<ul class=\"errors\">\n");
        for (size_t i = 0; i < p->n_errors; i++) {
            crm_buf_puts(&b, "<li><strong>");
            crm_html_esc(&b, p->errors[i].field);
            crm_buf_puts(&b, "</strong>: ");
            crm_html_esc(&b, p->errors[i].message);
            crm_buf_puts(&b, "</li>\n");
        }
        crm_buf_puts(&b, "</ul>\n");
    }
    if (p->status == 412)
        crm_buf_puts(&b, "<p>Someone changed this record after you opened the form. Nothing "
                         "was saved. Open the record again to see the current version.</p>\n");
    if (p->status == 401)
        crm_buf_puts(&b, "<p><a href=\"/login.html\">Log in</a></p>\n");
    else
        crm_buf_puts(&b, "<p>Use your browser's Back button to correct the form, or "
                         "<a href=\"/\">go to the start page</a>.</p>\n");
    crm_buf_puts(&b, "<p class=\"request-id\">Request ");
    crm_html_esc(&b, crm_req_id(r));
    crm_buf_puts(&b, "</p>\n</section>\n");
    crm_html_end(&b);

    int status = crm_html_send(r, p->status, &b);
    crm_buf_free(&b);
    return status;
}
