/*
 * rules.c - the identity service's rules without I/O: what a user body
 * may hold, the password policy, what an admin may not do to their own
 * account, and the login-throttle decision. The handlers and the
 * create-admin command share them, and the unit tests read them directly.
 */
#include "identity.h"

#include "crm_api.h"
#include "crm_password.h"
#include "crm_utf8.h"

#include <string.h>

#define THROTTLE_KEY_MAX 254

const char *const user_roles[] = { "admin", "sales", "marketing", "viewer", NULL };
const char *const user_fields[] = { "email", "name", "role", "active", "password", NULL };
/* password_hash is named so that a client sending it learns it is not
   theirs to set (400 "read-only field", like id and version). */
const char *const user_readonly[] = {
    "id", "version", "created_at", "updated_at", "password_hash", NULL,
};

const char *user_password_problem(const char *pw, size_t len)
{
    if (len > CRM_PASSWORD_MAX)
        return "must be at most 256 bytes";
    if (!crm_utf8_valid(pw, len))
        return "must be valid UTF-8 text";
    if (crm_utf8_len(pw, len) < CRM_PASSWORD_MIN)
        return "must be at least 12 characters";
    return NULL;
}

/* The write-only password: present, a string, and good enough. */
static int read_password(crm_valid *v, int required, const char **out)
{
    const crm_field *f = crm_fields_get(v->fs, "password");

    if (f == NULL) {
        if (required)
            crm_valid_error(v, "password", "is required");
        return required ? CRM_INVALID : CRM_NOTFOUND;
    }
    if (f->type != CRM_FIELD_STRING) {
        crm_valid_error(v, "password",
                        f->type == CRM_FIELD_NULL ? "must not be null" : "must be a string");
        return CRM_INVALID;
    }
    const char *why = user_password_problem(f->str, f->len);
    if (why != NULL) {
        crm_valid_error(v, "password", why);
        return CRM_INVALID;
    }
    *out = f->str;
    return CRM_OK;
}

/* A getter's value that must not be null: record it when it is. */
static void not_null(crm_valid *v, const char *name, int rc, const void *value, unsigned bit,
                     unsigned *present)
{
    if (rc != CRM_OK)
        return;
    if (value == NULL)
        crm_valid_error(v, name, "must not be null");
    *present |= bit;
}

void user_read_in(crm_valid *v, int mode, user_in *in, unsigned *present)
{
    int req = mode != USER_PATCH;
    const char *s = NULL;
    int b = 0;
    int rc;

    *present = 0;
    rc = crm_valid_email(v, "email", req, &s);
    not_null(v, "email", rc, s, U_EMAIL, present);
    if (rc == CRM_OK)
        in->email = s;

    s = NULL;
    rc = crm_valid_string(v, "name", req, 1, USER_NAME_MAX, &s);
    not_null(v, "name", rc, s, U_NAME, present);
    if (rc == CRM_OK)
        in->name = s;

    s = NULL;
    rc = crm_valid_enum(v, "role", req, user_roles, &s);
    not_null(v, "role", rc, s, U_ROLE, present);
    if (rc == CRM_OK)
        in->role = s;

    /* A create may leave active out (true); a PUT states it. */
    if (mode == USER_CREATE)
        in->active = 1;
    if (crm_api_is_null(v->fs, "active")) {
        crm_valid_error(v, "active", "must not be null");
    } else if (crm_valid_bool(v, "active", mode == USER_PUT, &b) == CRM_OK) {
        in->active = b;
        *present |= U_ACTIVE;
    }

    s = NULL;
    if (read_password(v, mode == USER_CREATE, &s) == CRM_OK) {
        in->password = s;
        *present |= U_PASSWORD;
    }
}

const char *user_self_change_problem(int64_t caller, int64_t target, const user_in *after)
{
    if (caller != target)
        return NULL;
    if (after == NULL)
        return "you cannot delete your own account";
    if (!after->active)
        return "you cannot deactivate your own account";
    if (after->role == NULL || strcmp(after->role, "admin") != 0)
        return "you cannot take the admin role from your own account";
    return NULL;
}

long throttle_retry_after(int64_t failures, int64_t remaining_us, long limit)
{
    if (remaining_us <= 0 || failures < limit)
        return 0;
    int64_t s = (remaining_us + 999999) / 1000000;
    return s < 1 ? 1 : (long)s;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

const char *throttle_account_key(crm_arena *a, const char *email, size_t len)
{
    while (len > 0 && is_space(*email)) {
        email++;
        len--;
    }
    while (len > 0 && is_space(email[len - 1]))
        len--;
    if (len > THROTTLE_KEY_MAX)
        len = THROTTLE_KEY_MAX;
    char *k = crm_arena_strndup(a, email, len);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)k[i];
        if (c >= 'A' && c <= 'Z')
            k[i] = (char)(c - 'A' + 'a');
        else if (c < 0x21 || c > 0x7e)
            k[i] = '?'; /* the column is ASCII; such an email is no account anyway */
    }
    return k;
}

const char *throttle_address_key(const char *remote_addr)
{
    if (remote_addr == NULL || *remote_addr == '\0')
        return "unknown";
    size_t n = strlen(remote_addr);
    if (n > THROTTLE_KEY_MAX)
        return "unknown";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)remote_addr[i];
        if (c < 0x21 || c > 0x7e)
            return "unknown";
    }
    return remote_addr;
}
