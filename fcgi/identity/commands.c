/*
 * commands.c - crm-identity's own subcommands, for the first admin of a
 * fresh installation and for scripts:
 *
 *   crm-identity create-admin --email E [--name N]
 *   crm-identity create-user  --email E --name N --role R
 *
 * The password never comes from the command line (other users see argv in
 * ps): from the file named by CRM_NEW_PASSWORD_FILE, else from one line of
 * standard input (not echoed when that is a terminal). The same rules as
 * the API apply (rules.c). The new user's id goes to stdout.
 *
 * Exit status: 0 created; 1 database or other failure; 2 bad arguments or
 * input; 3 a user with this email already exists (so a script can run the
 * command again without caring whether it ran before).
 */
#include "identity.h"

#include "crm_api.h"
#include "crm_log.h"
#include "crm_password.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define EXIT_EXISTS 3
#define PW_BUF      (CRM_PASSWORD_MAX + 4) /* room to tell "too long" from "just fits" */

typedef struct {
    const char *email;
    const char *name;
    const char *role;
} cmd_args;

static int usage_error(const char *cmd, const char *synopsis, const char *why)
{
    fprintf(stderr, "crm-identity %s: %s\nusage: crm-identity %s %s\n", cmd, why, cmd, synopsis);
    return 2;
}

/* --opt VALUE or --opt=VALUE for each of the options allowed. */
static int parse_args(int argc, char **argv, int allow_role, cmd_args *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    for (int i = 1; i < argc; i++) {
        static const char *const names[] = { "--email", "--name", "--role" };
        const char **slots[] = { &out->email, &out->name, &out->role };
        size_t k;
        for (k = 0; k < CRM_NELEM(names); k++) {
            size_t n = strlen(names[k]);
            if (strncmp(argv[i], names[k], n) == 0 && (argv[i][n] == '\0' || argv[i][n] == '='))
                break;
        }
        if (k == CRM_NELEM(names) || (k == 2 && !allow_role)) {
            *why = "unknown argument";
            return CRM_INVALID;
        }
        const char *eq = strchr(argv[i], '=');
        const char *value = eq != NULL ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (value == NULL) {
            *why = "an option lacks its value";
            return CRM_INVALID;
        }
        if (*slots[k] != NULL) {
            *why = "an option is given twice";
            return CRM_INVALID;
        }
        *slots[k] = value;
    }
    return CRM_OK;
}

/* One trailing "\n" or "\r\n" off buf[0..*n). */
static void chomp(char *buf, size_t *n)
{
    if (*n > 0 && buf[*n - 1] == '\n')
        buf[--*n] = '\0';
    if (*n > 0 && buf[*n - 1] == '\r')
        buf[--*n] = '\0';
}

/*
 * The new password into buf: CRM_NEW_PASSWORD_FILE's content (one
 * trailing newline stripped), else one line of stdin. CRM_OK, or
 * CRM_INVALID with *why.
 */
static int read_password(char *buf, size_t cap, size_t *len, const char **why)
{
    const char *path = getenv("CRM_NEW_PASSWORD_FILE");
    size_t n = 0;

    if (path != NULL && *path != '\0') {
        FILE *f = fopen(path, "r");
        if (f == NULL) {
            *why = "CRM_NEW_PASSWORD_FILE cannot be read";
            return CRM_INVALID;
        }
        n = fread(buf, 1, cap - 1, f);
        int bad = ferror(f);
        fclose(f);
        if (bad) {
            *why = "CRM_NEW_PASSWORD_FILE cannot be read";
            return CRM_INVALID;
        }
    } else {
        struct termios old, quiet;
        int tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
        if (tty) {
            quiet = old;
            quiet.c_lflag &= ~(tcflag_t)ECHO;
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
            fputs("password: ", stderr);
        }
        if (fgets(buf, (int)cap, stdin) != NULL)
            n = strlen(buf);
        if (tty) {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
            fputc('\n', stderr);
        }
        if (n == 0) {
            *why = "no password on standard input (or set CRM_NEW_PASSWORD_FILE)";
            return CRM_INVALID;
        }
    }
    buf[n] = '\0';
    chomp(buf, &n);
    if (strlen(buf) != n) {
        *why = "the password holds a NUL byte";
        return CRM_INVALID;
    }
    *len = n;
    return CRM_OK;
}

static void add_field(crm_field *items, size_t *n, const char *name, const char *value)
{
    if (value == NULL)
        return;
    memset(&items[*n], 0, sizeof(items[*n]));
    items[*n].name = name;
    items[*n].type = CRM_FIELD_STRING;
    items[*n].str = value;
    items[*n].len = strlen(value);
    (*n)++;
}

/* Validate like the API, hash, insert, print the id. */
static int create(const crm_config *conf, const char *cmd, const cmd_args *args,
                  const char *password, size_t pwlen)
{
    crm_arena *a = crm_arena_new(4096);
    crm_field items[4];
    crm_fields fs = { .form = 1, .items = items, .n = 0 };
    crm_valid v;
    user_in in;
    unsigned present;
    char enc[CRM_PASSWORD_ENC_MAX];
    crm_db_opts o;
    crm_db *db = NULL;
    int64_t id = 0;
    int status = 1;

    add_field(items, &fs.n, "email", args->email);
    add_field(items, &fs.n, "name", args->name);
    add_field(items, &fs.n, "role", args->role);
    items[fs.n] =
        (crm_field){ .name = "password", .type = CRM_FIELD_STRING, .str = password, .len = pwlen };
    fs.n++;
    memset(&in, 0, sizeof(in));
    crm_valid_init(&v, a, &fs);
    user_read_in(&v, USER_CREATE, &in, &present);
    for (size_t i = 0; i < v.n; i++)
        fprintf(stderr, "crm-identity %s: %s %s\n", cmd, v.errors[i].field, v.errors[i].message);
    if (!crm_valid_ok(&v)) {
        status = 2;
        goto out;
    }
    in.now = crm_api_now(a);
    if (crm_password_hash(password, pwlen, enc) != CRM_OK) {
        fprintf(stderr, "crm-identity %s: cannot hash the password\n", cmd);
        goto out;
    }
    in.password_hash = enc;

    crm_service_db_opts(conf, 0, &o);
    db = crm_db_new(&o);
    int rc = crm_db_connect(db);
    if (rc == CRM_OK) {
        store_init();
        rc = store_user_insert(db, &in, &id);
    }
    if (rc == CRM_DUP) {
        fprintf(stderr, "crm-identity %s: a user with email %s already exists\n", cmd, in.email);
        status = EXIT_EXISTS;
    } else if (rc != CRM_OK) {
        fprintf(stderr, "crm-identity %s: the user could not be stored (see the log above)\n", cmd);
    } else {
        printf("%lld\n", (long long)id);
        crm_log_info("user %lld (%s) created from the command line", (long long)id, in.role);
        status = 0;
    }
out:
    OPENSSL_cleanse(enc, sizeof(enc));
    crm_db_free(db);
    crm_arena_free(a);
    return status;
}

static int run(const crm_config *conf, int argc, char **argv, int admin)
{
    static const char admin_synopsis[] = "--email E [--name N]";
    static const char user_synopsis[] = "--email E --name N --role admin|sales|marketing|viewer";
    const char *cmd = argv[0];
    const char *synopsis = admin ? admin_synopsis : user_synopsis;
    const char *why = NULL;
    char pw[PW_BUF];
    size_t pwlen = 0;
    cmd_args args;

    if (parse_args(argc, argv, !admin, &args, &why) != CRM_OK)
        return usage_error(cmd, synopsis, why);
    if (args.email == NULL)
        return usage_error(cmd, synopsis, "--email is required");
    if (admin) {
        args.role = "admin";
        if (args.name == NULL)
            args.name = "Administrator";
    } else if (args.name == NULL || args.role == NULL) {
        return usage_error(cmd, synopsis, "--name and --role are required");
    }
    if (read_password(pw, sizeof(pw), &pwlen, &why) != CRM_OK) {
        fprintf(stderr, "crm-identity %s: %s\n", cmd, why);
        return 2;
    }
    int status = create(conf, cmd, &args, pw, pwlen);
    OPENSSL_cleanse(pw, sizeof(pw));
    return status;
}

int identity_cmd_create_admin(const crm_config *conf, int argc, char **argv)
{
    return run(conf, argc, argv, 1);
}

int identity_cmd_create_user(const crm_config *conf, int argc, char **argv)
{
    return run(conf, argc, argv, 0);
}
