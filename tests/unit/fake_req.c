/*
 * fake_req.c - the in-memory request transport shared by the unit tests.
 */
#include "fake_req.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static long fake_read(void *ctx, char *buf, size_t n)
{
    fake_req *f = ctx;
    f->reads++;
    if (f->fail_after >= 0 && f->pos >= (size_t)f->fail_after)
        return -1;
    size_t left = f->body_len - f->pos;
    if (n > left)
        n = left;
    if (f->chunk > 0 && n > f->chunk)
        n = f->chunk;
    if (f->fail_after >= 0 && f->pos + n > (size_t)f->fail_after)
        n = (size_t)f->fail_after - f->pos;
    if (n > 0)
        memcpy(buf, f->body + f->pos, n);
    f->pos += n;
    return (long)n;
}

static int fake_write(void *ctx, const char *buf, size_t n)
{
    fake_req *f = ctx;
    if (f->out_max > 0)
        ck_assert_uint_lt(f->out_len + n, f->out_max);
    f->writes++;
    f->out = realloc(f->out, f->out_len + n + 1);
    memcpy(f->out + f->out_len, buf, n);
    f->out_len += n;
    f->out[f->out_len] = '\0';
    return f->write_fails ? CRM_ERR : CRM_OK;
}

static const char *fake_param(void *ctx, const char *name)
{
    fake_req *f = ctx;
    for (size_t i = 0; i < f->n_params; i++)
        if (strcmp(f->params[i][0], name) == 0)
            return f->params[i][1];
    return NULL;
}

const crm_req_io fake_req_io = { fake_read, fake_write, fake_param };

void fake_req_init(fake_req *f)
{
    memset(f, 0, sizeof(*f));
    f->fail_after = -1;
}

void fake_req_set(fake_req *f, const char *name, const char *value)
{
    ck_assert_uint_lt(f->n_params, CRM_NELEM(f->params));
    f->params[f->n_params][0] = name;
    f->params[f->n_params][1] = value;
    f->n_params++;
}

void fake_req_body(fake_req *f, const char *body, size_t len)
{
    f->body = body;
    f->body_len = len;
}

void fake_req_done(fake_req *f)
{
    free(f->out);
    f->out = NULL;
}

const char *fake_res_header(const fake_req *f, const char *name)
{
    static char value[512];
    size_t nl = strlen(name);
    const char *end = strstr(f->out, "\r\n\r\n");
    ck_assert_ptr_nonnull(end);
    for (const char *p = f->out; p < end;) {
        const char *eol = strstr(p, "\r\n");
        if ((size_t)(eol - p) > nl + 1 && strncasecmp(p, name, nl) == 0 && p[nl] == ':' &&
            p[nl + 1] == ' ') {
            size_t vl = (size_t)(eol - p) - nl - 2;
            ck_assert_uint_lt(vl, sizeof(value));
            memcpy(value, p + nl + 2, vl);
            value[vl] = '\0';
            return value;
        }
        p = eol + 2;
    }
    return NULL;
}

const char *fake_res_body(const fake_req *f)
{
    const char *end = strstr(f->out, "\r\n\r\n");
    ck_assert_ptr_nonnull(end);
    return end + 4;
}

json_object *fake_res_json(const fake_req *f)
{
    const char *body = fake_res_body(f);
    json_tokener *tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *o = json_tokener_parse_ex(tok, body, (int)strlen(body));
    ck_assert_msg(o != NULL, "not JSON: %s", body);
    ck_assert_int_eq(json_tokener_get_error(tok), json_tokener_success);
    json_tokener_free(tok);
    ck_assert(json_object_is_type(o, json_type_object));
    return o;
}
