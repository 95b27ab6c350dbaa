/*
 * crm_html.h - the pages the services render for browsers (the UI of
 * nginx/html and these pages share nginx/html/assets/style.css and
 * app.js).
 *
 * A page is a crm_buf built with the calls below and sent with
 * crm_html_send. Every text that comes from a user or the database goes
 * through crm_html_esc (or a helper that escapes); the format strings of
 * crm_buf_printf only ever carry our own markup and numbers.
 *
 * Conventions app.js relies on (see nginx/html/assets/app.js):
 *   - a form made by crm_html_form_begin posts to the API, carries the
 *     CSRF token, and may stand for PATCH/PUT/DELETE (_method), an
 *     If-Match (_if_match) and the page a success goes to (_next)
 *     (crm_body.h). Without JavaScript the browser posts it and follows
 *     the 303; with JavaScript app.js sends the same body with fetch and
 *     puts a problem's errors next to their fields;
 *   - a field's error goes in the element whose data-error-for is the
 *     field's name (problem+json "errors[].field"), the form's title and
 *     detail in its [data-form-error] element.
 */
#ifndef CRM_HTML_H
#define CRM_HTML_H

#include "crm_buf.h"
#include "crm_problem.h"
#include "crm_req.h"

#define CRM_HTML_TYPE "text/html; charset=utf-8"

/* s escaped for HTML text and attribute values (&<>"'); NULL: nothing. */
void crm_html_esc(crm_buf *b, const char *s);
/* s percent-encoded for a query string value; NULL: nothing. */
void crm_html_url(crm_buf *b, const char *s);

/*
 * The page's start: head (the stylesheet, app.js, the icon), the skip
 * link, the navigation for the caller's role (`section` marks the current
 * one: "customers", "products", "orders", "campaigns", "segments",
 * "dashboard"; NULL: none) with the logout button, and <main>. The title
 * is escaped. crm_html_end closes what begin opened.
 */
void crm_html_begin(crm_buf *b, crm_req *r, const char *title, const char *section);
void crm_html_end(crm_buf *b);

/* 200/4xx with b as the page; pages are never cached (no-store). */
int crm_html_send(crm_req *r, int status, const crm_buf *b);

/* 1 when the caller's role is in roles (crm_auth_has): what to offer. */
int crm_html_can(crm_req *r, unsigned roles);

/*
 * <form method="post" action="action" data-enhance ATTRS> with the CSRF
 * token, then _method when method is not NULL ("PATCH", "DELETE"...),
 * _if_match when version > 0, _next when next is not NULL, and the
 * form's error slot. attrs (NULL: none) is our own markup, not escaped:
 * "novalidate data-next=\"/customers/{id}\"", "data-confirm=\"...\"",
 * "class=\"inline\"". crm_html_form_end closes the form.
 */
void crm_html_form_begin(crm_buf *b, crm_req *r, const char *action, const char *method,
                         int64_t version, const char *next, const char *attrs);
void crm_html_form_end(crm_buf *b);
/* A hidden input (name and value escaped). */
void crm_html_hidden(crm_buf *b, const char *name, const char *value);

/*
 * A labelled field with its error slot:
 *   <div class="field"><label for="f-NAME">LABEL</label>
 *   <input id="f-NAME" name="NAME" type="TYPE" value="VALUE" EXTRA
 *    aria-describedby="e-NAME"><span id="e-NAME" data-error-for="NAME">
 * label and value are escaped; extra (NULL: none) is our own markup
 * ("required maxlength=\"200\""). Ids are the name with anything but
 * [A-Za-z0-9_-] turned into '-'.
 */
void crm_html_input(crm_buf *b, const char *name, const char *label, const char *type,
                    const char *value, const char *extra);
void crm_html_textarea(crm_buf *b, const char *name, const char *label, const char *value,
                       const char *extra);
/* A <select>: values[i] shown as labels[i] (labels NULL: the values);
   both lists NULL-terminated; selected may be NULL. */
void crm_html_select(crm_buf *b, const char *name, const char *label, const char *const *values,
                     const char *const *labels, const char *selected, const char *extra);
/* The field's id ("f-" + name made safe), written to b. */
void crm_html_field_id(crm_buf *b, const char *prefix, const char *name);

/* 123456 "EUR" -> "1,234.56 EUR"; amounts are minor units, as many
   digits after the point as the currency has (1440 "JPY" -> "1,440 JPY"). */
void crm_html_money(crm_buf *b, int64_t cents, const char *currency);
/* An ISO 8601 or SQL time as <time datetime="...">YYYY-MM-DD HH:MM</time>
   (UTC); NULL or empty: an en dash. */
void crm_html_time(crm_buf *b, const char *t);

/*
 * The problem p as a page, for a client that wants HTML (crm_problem_send
 * calls it): status, title, detail, each field's error, and the way back.
 * Returns p->status.
 */
int crm_html_problem(crm_req *r, const crm_problem_t *p, const char *title);

#endif
