/*
 * crm_http.h - a small HTTP client (libcurl) for calls from one service to
 * another through NGINX's internal listener. One client per worker
 * process; it keeps its connection open between calls. A client is not
 * shared between threads, and is made in the process that uses it (after
 * fork), since its open connection must not be shared with another process.
 */
#ifndef CRM_HTTP_H
#define CRM_HTTP_H

#include "crm_arena.h"

typedef struct crm_http crm_http;

typedef struct {
    int status;               /* HTTP status of the answer */
    const char *content_type; /* NULL when none; in the arena */
    const char *body;         /* NUL-terminated, in the arena ("" when empty) */
    size_t len;
} crm_http_res;

/*
 * base_url like "http://127.0.0.1:8081" (no trailing slash needed; a
 * trailing slash is tolerated); only http and https are ever spoken and
 * redirects are not followed. timeout_ms bounds each whole call (connect
 * included; connect itself at most min(timeout_ms, 1000)); values below 1
 * count as 1. body_cap: responses larger than this are refused. Copies
 * base_url. Never NULL (aborts on OOM). Calls curl_global_init once per
 * process. Proxy variables in the environment are ignored.
 */
crm_http *crm_http_new(const char *base_url, long timeout_ms, size_t body_cap);

/* Close the connection and free the client. NULL is a no-op. */
void crm_http_free(crm_http *h);

/*
 * GET base_url + path. request_id (may be NULL) is sent as X-Request-Id;
 * headers as for crm_http_post below.
 * Returns CRM_OK when an HTTP answer arrived (whatever its status; res
 * filled, strings in arena a), CRM_GONE when no answer came (connection
 * refused, DNS, reset, timeout) - logged once with the reason, CRM_TOOBIG
 * when the body exceeds body_cap (by Content-Length or bytes received,
 * logged), CRM_ERR for anything else (logged): a path not starting with
 * '/' or holding spaces or control characters, a request id or header
 * holding CR or LF, a refused scheme. res is only set on CRM_OK. Bodies
 * are never logged.
 */
int crm_http_get(crm_http *h, crm_arena *a, const char *path, const char *request_id,
                 const char *const *headers, crm_http_res *res);

/*
 * POST body[0..len) of content_type (NULL: no Content-Type header).
 * headers: NULL or a NULL-terminated list of "Name: value" extra headers
 * (e.g. signatures). No "Expect: 100-continue" is sent. The body is not
 * copied and must stay valid during the call (NULL only when len is 0).
 * Same return contract as crm_http_get(); after CRM_GONE or CRM_TOOBIG the
 * other side may still have acted on the request.
 */
int crm_http_post(crm_http *h, crm_arena *a, const char *path, const char *request_id,
                  const char *const *headers, const char *content_type, const char *body,
                  size_t len, crm_http_res *res);

#endif
