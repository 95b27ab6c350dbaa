/*
 * main.c - crm-identity: users, their passwords and roles, and the access
 * tokens every other service checks with identity's public key.
 * The route table below is the whole public surface of the service.
 */
#include "identity.h"

#include "crm_service.h"

#define ANY   CRM_ROLES_ALL
#define ADMIN CRM_ROLE_ADMIN

static const crm_route routes[] = {
    { "POST", "/api/v1/auth/login", identity_login, CRM_ROLE_PUBLIC, "auth.login" },
    { "POST", "/api/v1/auth/logout", identity_logout, CRM_ROLE_PUBLIC, "auth.logout" },
    { "GET", "/api/v1/auth/me", identity_me, ANY, "auth.me" },
    { "POST", "/api/v1/auth/token", identity_token, ANY, "auth.token" },
    { "GET", "/api/v1/users", users_list, ADMIN, "users.list" },
    { "POST", "/api/v1/users", users_create, ADMIN, "users.create" },
    { "GET", "/api/v1/users/{id}", users_get, ADMIN, "users.get" },
    { "PATCH", "/api/v1/users/{id}", users_patch, ADMIN, "users.patch" },
    { "PUT", "/api/v1/users/{id}", users_put, ADMIN, "users.put" },
    { "DELETE", "/api/v1/users/{id}", users_delete, ADMIN, "users.delete" },
};

static const crm_command commands[] = {
    { "create-admin", "--email E [--name N]",
      "create an active admin, password from $CRM_NEW_PASSWORD_FILE or one line of stdin;\n"
      "      prints its id; exit status 3 when the email is taken",
      identity_cmd_create_admin },
    { "create-user", "--email E --name N --role admin|sales|marketing|viewer",
      "create an active user, password as for create-admin; prints its id; exit 3 when\n"
      "      the email is taken",
      identity_cmd_create_user },
};

static const crm_service service = {
    .name = "identity",
    .routes = routes,
    .n_routes = CRM_NELEM(routes),
    .worker_init = identity_worker_init,
    .worker_done = identity_worker_done,
    .commands = commands,
    .n_commands = CRM_NELEM(commands),
};

int main(int argc, char **argv)
{
    return crm_service_main(argc, argv, &service);
}
