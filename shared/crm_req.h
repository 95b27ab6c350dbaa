/*
 * crm_req.h - one HTTP request as FastCGI hands it to a worker, and its
 * response. Only crm_req.c includes the FastCGI headers; handlers see this
 * opaque type and the accessors below.
 *
 * Strings returned by the accessors live in the request arena and stay
 * valid until the request is finished.
 */
#ifndef CRM_REQ_H
#define CRM_REQ_H

#include "crm.h"
#include "crm_arena.h"

typedef struct crm_req crm_req;

/*
 * The transport under a request. crm_req.c provides the FastCGI one;
 * tests provide an in-memory one. read returns bytes read (0 at end,
 * <0 on error); write returns CRM_OK or CRM_ERR; param returns the
 * CGI variable's value or NULL.
 */
typedef struct {
    long (*read)(void *ctx, char *buf, size_t n);
    int (*write)(void *ctx, const char *buf, size_t n);
    const char *(*param)(void *ctx, const char *name);
} crm_req_io;

/*
 * A request over io/ctx. The request borrows `arena` and allocates from
 * it; body_cap is the hard limit for the body (413 beyond it). Never NULL.
 * Call crm_req_finish() when done; it does not reset the arena.
 */
crm_req *crm_req_new(crm_arena *arena, const crm_req_io *io, void *ctx, size_t body_cap);
void crm_req_finish(crm_req *r);

/* FastCGI transport: a crm_req_io reading from an FCGX_Request. */
extern const crm_req_io crm_req_fcgi_io;

crm_arena *crm_req_arena(crm_req *r);

/* "GET", "POST", ... (upper case as sent) */
const char *crm_req_method(crm_req *r);
/* Path of the raw request target (REQUEST_URI without the query), not
   percent-decoded; DOCUMENT_URI only when REQUEST_URI is missing. */
const char *crm_req_path(crm_req *r);
/* Raw query string ("" when none). */
const char *crm_req_query_string(crm_req *r);

/*
 * Query parameter, percent-decoded, or NULL when absent. A parameter
 * given twice, or one that does not decode to valid UTF-8, is reported
 * by crm_req_query_check() (400), and this returns NULL for it.
 */
const char *crm_req_query(crm_req *r, const char *name);

/*
 * Validate the whole query string once: every name must be in `allowed`
 * (NULL-terminated), none repeated, every value valid percent-encoding
 * and UTF-8. On failure writes a problem response (400) and returns the
 * status sent; CRM_OK otherwise.
 */
int crm_req_query_check(crm_req *r, const char *const *allowed);

/* Request header by HTTP name ("If-Match"), or NULL. */
const char *crm_req_header(crm_req *r, const char *name);
/* Raw CGI variable ("CONTENT_TYPE", "REQUEST_ID"), or NULL. */
const char *crm_req_param(crm_req *r, const char *cgi_name);

/* Request id from NGINX ($request_id), or one made up by the worker. */
const char *crm_req_id(crm_req *r);

/*
 * What a browser's form stands in for (crm_body_form_control): the method
 * (a form can only POST), the If-Match header's value, and the page a
 * success goes to - a 2xx answer to a client that wants HTML is sent as
 * a 303 to it instead. Any may be NULL (unchanged); strings are borrowed.
 */
void crm_req_form_override(crm_req *r, const char *method, const char *if_match, const char *next);
/* True when the client prefers HTML (a browser form post). */
int crm_req_wants_html(crm_req *r);

/*
 * Read the whole body (at most body_cap bytes) into the arena.
 * Returns CRM_OK, CRM_TOOBIG (over the cap, by Content-Length or by
 * bytes received) or CRM_ERR (transport failed). *body is NUL-terminated.
 */
int crm_req_body(crm_req *r, const char **body, size_t *len);

/* Path parameters captured by the router ({id} -> value). */
void crm_req_set_path_param(crm_req *r, const char *name, const char *value);
const char *crm_req_path_param(crm_req *r, const char *name);
/* The {name} path parameter as a positive int64; CRM_INVALID otherwise. */
int crm_req_path_id(crm_req *r, const char *name, int64_t *out);

/* Route index chosen by the router, for metrics (-1: none). */
void crm_req_set_route(crm_req *r, int route);
int crm_req_route(crm_req *r);

/* Who is asking, as crm_auth.c found it (opaque here; NULL: nobody). */
void crm_req_set_auth(crm_req *r, void *auth);
void *crm_req_auth(crm_req *r);

/* Add a response header; name and value are copied. */
void crm_res_header(crm_req *r, const char *name, const char *value);

/*
 * Send status, the headers added so far, Content-Type and Content-Length
 * and the body in one write. content_type may be NULL for an empty body.
 * Returns `status` so handlers can `return crm_res_send(...)`.
 * A second send on the same request is a bug and is ignored (logged).
 */
int crm_res_send(crm_req *r, int status, const char *content_type, const char *body, size_t len);

/* Status already sent (0 when nothing was sent yet). */
int crm_res_status(crm_req *r);

/* Reason phrase for an HTTP status ("Not Found"). */
const char *crm_http_reason(int status);

#endif
