/*
 * itest.h - the integration tests' HTTP client and helpers. Every suite
 * talks HTTPS to the real stack (NGINX + worker pool + MariaDB) at
 * CRM_BASE_URL, verifying TLS against CRM_CA_FILE, so the same suites run
 * against the local stack, the containers or anything else.
 *
 * HTTP/2 over TLS by default; ITEST_HTTP=1.1 in the environment forces
 * HTTP/1.1.
 *
 * Requests are safe from any thread: each thread has its own keep-alive
 * curl handle. Nothing here asserts except the ITEST_ASSERT_* macros and
 * itest_new_customer(), which belong on a test's own thread (Check's
 * assertions end the forked test process).
 */
#ifndef ITEST_H
#define ITEST_H

#include <check.h>
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ITEST_CUSTOMERS "/api/v1/customers"
#define ITEST_PRODUCTS  "/api/v1/products"
#define ITEST_ORDERS    "/api/v1/orders"

typedef struct {
    char *name;
    char *value;
} itest_header;

typedef struct {
    long status;     /* HTTP status; 0 when no response arrived */
    char error[512]; /* transport error ("" when a response arrived) */
    char method[16];
    char *url;
    itest_header *headers; /* of the final response, in order */
    size_t n_headers;
    char *body; /* always NUL-terminated (may hold NULs) */
    size_t body_len;
    json_object *json; /* parsed body when JSON or problem+json, else NULL */
    double started;    /* itest_now() when the request started */
    double seconds;    /* duration */
} itest_resp;

/*
 * Read the environment (CRM_BASE_URL is required: the program exits 2
 * with a message when it is missing) and initialise libcurl. Call once
 * from main before running the suites.
 */
void itest_init(void);

/* getenv with a default for unset or empty values. */
const char *itest_env(const char *name, const char *def);

/*
 * One request. path is absolute ("/api/v1/...") and goes to the origin of
 * CRM_BASE_URL; itest_request_url takes a full URL (other listeners).
 * headers: NULL-terminated "Name: value" strings, or NULL. body may be
 * NULL (no body); content_type NULL with a body sends no Content-Type.
 * Never returns NULL; the caller frees with itest_free. Transport
 * failures come back with status 0 and error set.
 */
itest_resp *itest_request(const char *method, const char *path, const char *const *headers,
                          const char *body, size_t body_len, const char *content_type);
itest_resp *itest_request_url(const char *method, const char *url, const char *const *headers,
                              const char *body, size_t body_len, const char *content_type);
/* Shorthands: GET; a NUL-terminated JSON body. */
itest_resp *itest_get(const char *path, const char *const *headers);
itest_resp *itest_json(const char *method, const char *path, const char *const *headers,
                       const char *body);
void itest_free(itest_resp *r);

/*
 * Credentials. itest_request sends, unless its headers bring an
 * Authorization or Cookie header of their own, the calling thread's
 * default: an admin token (user ITEST_ADMIN_ID) minted with the stack's
 * signing key ($CRM_STATE/secrets/jwt-signing.pem). itest_as switches the
 * thread to another role and user, or to no credentials at all with role
 * NULL.
 */
#define ITEST_ADMIN_ID 1
void itest_as(const char *role, int64_t user_id);
/* A signed access token, valid for 15 minutes from now. */
void itest_token(char *out, size_t n, const char *role, int64_t user_id);
/* The same with every time chosen: iat = nbf, exp = iat + ttl; csrf may be NULL. */
void itest_token_at(char *out, size_t n, const char *role, int64_t user_id, long long iat, long ttl,
                    const char *csrf);
/* "Authorization: Bearer <token>" for role and user. */
void itest_bearer(char *out, size_t n, const char *role, int64_t user_id);

/* The calling thread's requests come from addr (a 127.x.y.z address, so
   per-address limits of one test do not touch the others); NULL resets. */
void itest_set_source_addr(const char *addr);

/* Per-thread request timeout (default 10000 ms). */
void itest_set_timeout_ms(long ms);

/* First response header called name (any case), or NULL. */
const char *itest_header_get(const itest_resp *r, const char *name);

/* "METHOD url -> status [request id] body..." for failure messages;
   points into a per-thread buffer overwritten by the next call. */
const char *itest_describe(const itest_resp *r);

/*
 * Checks that return NULL when they hold, else a message (per-thread
 * buffer) naming the request. Use them through ITEST_ASSERT_*, which
 * report the caller's line.
 */
const char *itest_check_status(const itest_resp *r, long status);
/* status, Content-Type application/problem+json, members type, title,
   status (= HTTP status), instance, request_id (= X-Request-Id), detail
   when present a string, errors when present [{field,message}]. */
const char *itest_check_problem(const itest_resp *r, long status);
/* X-Content-Type-Options: nosniff, Strict-Transport-Security and
   Content-Security-Policy present. */
const char *itest_check_security_headers(const itest_resp *r);
/* The first text of the body that only the server should know (SQL,
   database messages, errno text, paths, source locations), or NULL. */
const char *itest_leak(const itest_resp *r);

#define ITEST_OK_(expr)                                                                            \
    do {                                                                                           \
        const char *itest_m_ = (expr);                                                             \
        ck_assert_msg(itest_m_ == NULL, "%s", itest_m_);                                           \
    } while (0)
#define ITEST_ASSERT_STATUS(r, st)  ITEST_OK_(itest_check_status((r), (st)))
#define ITEST_ASSERT_PROBLEM(r, st) ITEST_OK_(itest_check_problem((r), (st)))
/* The same problem as a page, for a client that asked for text/html:
   status, Content-Type text/html, the problem section, the request id. */
const char *itest_check_page_problem(const itest_resp *r, long status);
#define ITEST_ASSERT_PAGE_PROBLEM(r, st) ITEST_OK_(itest_check_page_problem((r), (st)))
#define ITEST_ASSERT_SECURITY(r)         ITEST_OK_(itest_check_security_headers(r))

/* itest_check_problem, and the problem's type is type ("/problems/x") or an
   absolute URI ending in it. */
const char *itest_check_problem_type(const itest_resp *r, long status, const char *type);
#define ITEST_ASSERT_PROBLEM_TYPE(r, st, type)                                                     \
    ITEST_OK_(itest_check_problem_type((r), (st), (type)))

/*
 * Responses through itest_request without X-Request-Id (any thread) are
 * counted; itest_teardown, a checked fixture, fails the test when any was
 * seen.
 */
long itest_missing_request_ids(void);
void itest_teardown(void);

/* JSON members: NULL / INT64_MIN when absent or of another type. */
json_object *itest_jget(json_object *o, const char *key);
const char *itest_jstr(json_object *o, const char *key);
int64_t itest_jint(json_object *o, const char *key);
/* 1 when key is absent or null. */
int itest_jnull(json_object *o, const char *key);
/* Number of entries of the problem's errors array naming field. */
int itest_problem_field_count(const itest_resp *r, const char *field);

/* Percent-encode s for a query string; the caller frees. */
char *itest_urlencode(const char *s);

/* Unique per process, call and time: "it.<pid>.<n>.<time>@example.com"
   with an optional label before the '@'. */
void itest_unique_email(char *buf, size_t n, const char *label);
/* Unique lowercase letters-only word ("zq" + ...), usable as a tag and as
   a full-text word. */
void itest_unique_word(char *buf, size_t n);

/*
 * POST a customer {"name":"IT customer","email":<unique>[,extra]} where
 * extra is a JSON members fragment ("\"status\":\"lead\"") or NULL.
 * Thread-safe, asserts nothing.
 */
itest_resp *itest_create_customer(const char *extra, const char *const *headers);
/* The same, asserting 201; returns the new id. Test thread only. */
int64_t itest_new_customer_at(const char *extra, const char *file, int line);
#define itest_new_customer(extra) itest_new_customer_at((extra), __FILE__, __LINE__)

/* A unique SKU of the sales API's charset ([A-Za-z0-9._-]):
   "IT-<pid>-<n>-<ms>", at most 40 characters. */
void itest_unique_sku(char *buf, size_t n);

/*
 * POST a product {"sku":<unique>,"name":"IT product <sku>","price_cents":
 * price_cents,"currency":currency[,extra]} where extra is a JSON members
 * fragment ("\"stock\":10") or NULL. Thread-safe, asserts nothing.
 */
itest_resp *itest_create_product(int64_t price_cents, const char *currency, const char *extra,
                                 const char *const *headers);
/* The same, asserting 201; returns the new id. Test thread only. */
int64_t itest_new_product_at(int64_t price_cents, const char *currency, const char *extra,
                             const char *file, int line);
#define itest_new_product(price, currency, extra)                                                  \
    itest_new_product_at((price), (currency), (extra), __FILE__, __LINE__)

/*
 * POST an order {"customer_id":customer_id[,"lines":lines][,extra]}: lines
 * is the text of a JSON array ("[{\"product_id\":5,\"quantity\":2}]") or
 * NULL, extra a JSON members fragment or NULL. Thread-safe, asserts nothing.
 */
itest_resp *itest_create_order(int64_t customer_id, const char *lines, const char *extra,
                               const char *const *headers);
/* The same, asserting 201; returns the new id. Test thread only. */
int64_t itest_new_order_at(int64_t customer_id, const char *lines, const char *extra,
                           const char *file, int line);
#define itest_new_order(customer_id, lines, extra)                                                 \
    itest_new_order_at((customer_id), (lines), (extra), __FILE__, __LINE__)

/* The UTC date offset_days from today as "YYYY-MM-DD". */
void itest_utc_date(char *buf, size_t n, int offset_days);

/* The id at the end of the Location header, or -1. */
int64_t itest_location_id(const itest_resp *r);
/* The version in the ETag header ("\"7\"" -> 7), or -1. */
long itest_etag_version(const itest_resp *r);

/*
 * Stack control: run $CRM_REPO/scripts/stack.sh with args (NULL-terminated)
 * and the current environment. Returns its exit status (-1 when it could
 * not run); out (may be NULL) receives its stdout and stderr, truncated.
 */
int itest_stack(char *out, size_t outlen, const char *const *args);
/* The supervisor pid of service's pool (stack.sh pool-pid), or -1. */
pid_t itest_pool_pid(const char *service);
/* Live (non-zombie) children of parent, at most max; returns the count. */
size_t itest_children(pid_t parent, pid_t *out, size_t max);
/* 1 when pid exists and is not a zombie. */
int itest_pid_alive(pid_t pid);
/* The parent of pid (its /proc/<pid>/stat), or -1 when pid does not exist. */
pid_t itest_parent_pid(pid_t pid);
/* Exit code of a zombie pid from /proc (-1 if not a zombie/unknown). */
int itest_zombie_exit_code(pid_t pid);

/*
 * Prometheus text format (an admin port's GET /metrics): the value of the
 * first sample of metric name whose labels include every pair of labels, a
 * NULL-terminated list of names and values ({ "service", "customers",
 * NULL }; NULL or empty: any labels, or none; at most 16 pairs). Comment
 * lines are skipped and label values unescaped. 1 with *value set, 0 when
 * there is no such sample.
 */
int itest_metric(const char *text, const char *name, const char *const *labels, double *value);

/* A diagnostic line on stderr, only when ITEST_VERBOSE is set. */
void itest_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A string from a format, in one of 8 rotating buffers of 4 KiB: valid
   until 8 more calls (copy it to keep it longer). */
const char *itest_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* CLOCK_MONOTONIC seconds. */
double itest_now(void);
void itest_sleep_ms(long ms);

/* ---- events: hand-made deliveries to POST /internal/v1/events ---- */

/* The event key (one line): $CRM_EVENT_KEY_FILE, else $CRM_STATE/secrets/events.key. */
void itest_event_key(char *key, size_t n);
/* "v1=" + lower-case hex HMAC-SHA256(key, "<ts>.<body>"), as crm_event signs. */
void itest_event_sign(const char *key, long long ts, const char *body, char out[68]);
/* A random UUID v4, lower case. */
void itest_uuid4(char out[37]);

/* ---- pools ---- */

/* stack.sh CMD SVC (pool-start, pool-stop ...), which must succeed. */
void itest_stack_ok(const char *cmd, const char *svc);
/* 1 once GET path answers 200, polling every 100 ms for up to secs. */
int itest_wait_serving(const char *path, double secs);
/* 1 when pid is alive and a child of parent (a pool's worker or sidecar). */
int itest_child_of(pid_t pid, pid_t parent);

#endif
