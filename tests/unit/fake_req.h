/*
 * fake_req.h - an in-memory crm_req_io for unit tests: CGI variables from a
 * table, a body delivered in chunks (optionally failing), and everything
 * written captured in one buffer, with helpers to read the response back.
 *
 * Usage: fake_req_init, fake_req_set / fake_req_body (and the tuning
 * fields below), crm_req_new(arena, &fake_req_io, &f, cap), then
 * fake_req_done. The fake borrows every string it is given.
 */
#ifndef FAKE_REQ_H
#define FAKE_REQ_H

#include "crm_req.h"

#include <json-c/json.h>
#include <stddef.h>

typedef struct {
    const char *params[32][2]; /* CGI name, value (NULL: absent) */
    size_t n_params;
    const char *body; /* delivered by read */
    size_t body_len;
    size_t pos;
    size_t chunk;    /* at most this many bytes per read (0: all) */
    long fail_after; /* read fails once pos reaches this (-1: never) */
    int reads;
    int write_fails; /* write reports CRM_ERR (after capturing) */
    size_t out_max;  /* the output must stay shorter than this (0: no limit) */
    int writes;
    char *out; /* everything written, NUL-terminated; NULL before any write */
    size_t out_len;
} fake_req;

/* The transport; its ctx is a fake_req *. */
extern const crm_req_io fake_req_io;

/* An empty request: no variables, no body, reads never fail. */
void fake_req_init(fake_req *f);

/* Add CGI variable name = value (borrowed); at most 32, else the test fails. */
void fake_req_set(fake_req *f, const char *name, const char *value);

/* The body read delivers: len bytes of body (borrowed). */
void fake_req_body(fake_req *f, const char *body, size_t len);

/* Free the captured output; f may be initialised again or dropped. */
void fake_req_done(fake_req *f);

/* Value of a response header (first match, static storage), or NULL. */
const char *fake_res_header(const fake_req *f, const char *name);

/* The response body: what follows the blank line (fails the test without one). */
const char *fake_res_body(const fake_req *f);

/* The response body parsed strictly as a JSON object; the caller puts it. */
json_object *fake_res_json(const fake_req *f);

#endif
